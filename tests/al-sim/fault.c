/* fault: injected failures for client tests: HTTP errors, dropped connections,
 * stalls, truncated and slow bodies (see alsim.h and README.md). */
#include "alsim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAULTS 64

struct alsim_faults {
    pthread_mutex_t mu;
    struct alsim_fault v[MAX_FAULTS];
    size_t n;
};

int alsim_faults_new(struct alsim_faults **out)
{
    struct alsim_faults *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    *out = f;
    return 0;
}

void alsim_faults_free(struct alsim_faults *f)
{
    if (f == NULL)
        return;
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static const char *const KIND_NAMES[] = {"http", "drop", "stall", "stall-body", "truncate",
                                         "slow"};

static bool parse_long(const char *v, long min, long *out)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || x < min)
        return false;
    *out = x;
    return true;
}

static int set_kind(struct alsim_fault *ft, const char *v)
{
    long status = 0;
    if (parse_long(v, 100, &status) && status <= 599) {
        ft->kind = FAULT_HTTP;
        ft->status = (int)status;
        return 0;
    }
    for (size_t i = 0; i < sizeof(KIND_NAMES) / sizeof(KIND_NAMES[0]); i++)
        if (strcmp(v, KIND_NAMES[i]) == 0) {
            ft->kind = (enum alsim_fault_kind)i;
            return 0;
        }
    return -1;
}

static int set_key(struct alsim_fault *ft, const char *k, const char *v)
{
    if (strcmp(k, "kind") == 0)
        return set_kind(ft, v);
    if (strcmp(k, "status") == 0) {
        long s = 0;
        if (!parse_long(v, 100, &s) || s > 599)
            return -1;
        ft->status = (int)s;
        return 0;
    }
    if (strcmp(k, "body") == 0) {
        ft->body = strcmp(v, "html") == 0 ? FBODY_HTML : strcmp(v, "text") == 0 ? FBODY_TEXT
                                                                               : FBODY_JSON;
        return strcmp(v, "html") == 0 || strcmp(v, "text") == 0 || strcmp(v, "json") == 0 ? 0 : -1;
    }
    if (strcmp(k, "message") == 0)
        return snprintf(ft->message, sizeof(ft->message), "%s", v) < (int)sizeof(ft->message) ? 0 : -1;
    if (strcmp(k, "path") == 0)
        return snprintf(ft->path, sizeof(ft->path), "%s", v) < (int)sizeof(ft->path) ? 0 : -1;
    if (strcmp(k, "method") == 0)
        return snprintf(ft->method, sizeof(ft->method), "%s", v) < (int)sizeof(ft->method) ? 0 : -1;
    if (strcmp(k, "skip") == 0)
        return parse_long(v, 0, &ft->skip) ? 0 : -1;
    if (strcmp(k, "count") == 0)
        return parse_long(v, 0, &ft->count) ? 0 : -1;
    if (strcmp(k, "ms") == 0)
        return parse_long(v, 0, &ft->ms) ? 0 : -1;
    if (strcmp(k, "rate") == 0)
        return parse_long(v, 1, &ft->rate) ? 0 : -1;
    return -1;
}

/* Defaults that depend on the kind and status once the spec is read. */
static void finish(struct alsim_fault *ft, bool body_set)
{
    if (ft->count == 0)
        ft->count = -1; /* count=0: forever */
    if (ft->kind == FAULT_HTTP && ft->status == 0)
        ft->status = 503;
    if (ft->kind == FAULT_HTTP && !body_set)
        ft->body = ft->status == 502 || ft->status == 504 ? FBODY_HTML : FBODY_JSON;
    if (ft->message[0] == '\0' && ft->kind == FAULT_HTTP)
        snprintf(ft->message, sizeof(ft->message), "%s",
                 ft->status == 503 ? "You've exceeded your maximum concurrent API calls quota of 10"
                 : ft->status == 500 ? "Internal Server Error" : "injected fault");
}

int alsim_faults_add(struct alsim_faults *f, const char *spec, char err[ALSIM_ERRLEN])
{
    struct alsim_fault ft = {.count = 1, .ms = 2000, .rate = 1024};
    snprintf(ft.path, sizeof(ft.path), "/api/");
    char *copy = strdup(spec != NULL ? spec : ""), *save = NULL;
    bool body_set = false, any = false;
    int rc = copy != NULL ? 0 : -1;
    for (char *tok = copy != NULL ? strtok_r(copy, ",", &save) : NULL; tok != NULL && rc == 0;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            rc = -1;
            break;
        }
        *eq = '\0';
        body_set |= strcmp(tok, "body") == 0;
        any |= strcmp(tok, "kind") == 0;
        rc = set_key(&ft, tok, eq + 1);
    }
    free(copy);
    if (rc != 0 || !any) {
        snprintf(err, ALSIM_ERRLEN, "bad fault spec '%s' (expected kind=<status>|http|drop|"
                 "stall|stall-body|truncate|slow[,status=N][,body=json|html|text][,message=M]"
                 "[,path=P][,method=M][,skip=N][,count=N][,ms=N][,rate=N])", spec ? spec : "");
        return -1;
    }
    finish(&ft, body_set);
    pthread_mutex_lock(&f->mu);
    rc = f->n < MAX_FAULTS ? 0 : -1;
    if (rc == 0)
        f->v[f->n++] = ft;
    pthread_mutex_unlock(&f->mu);
    if (rc != 0)
        snprintf(err, ALSIM_ERRLEN, "too many faults (at most %d)", MAX_FAULTS);
    return rc;
}

void alsim_faults_clear(struct alsim_faults *f)
{
    pthread_mutex_lock(&f->mu);
    f->n = 0;
    pthread_mutex_unlock(&f->mu);
}

struct alsim_fault *alsim_faults_take(struct alsim_faults *f, const char *method,
                                      const char *path)
{
    struct alsim_fault *hit = NULL;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n && hit == NULL; i++) {
        struct alsim_fault *ft = &f->v[i];
        if (ft->count == 0 || strncmp(path, ft->path, strlen(ft->path)) != 0 ||
            (ft->method[0] != '\0' && strcmp(ft->method, method) != 0))
            continue;
        if (ft->skip > 0) {
            ft->skip--;
            continue;
        }
        if (ft->count > 0)
            ft->count--;
        ft->hits++;
        hit = malloc(sizeof(*hit));
        if (hit != NULL)
            *hit = *ft;
    }
    pthread_mutex_unlock(&f->mu);
    return hit;
}

json_t *alsim_faults_json(struct alsim_faults *f)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->n; i++) {
        const struct alsim_fault *ft = &f->v[i];
        json_array_append_new(arr, json_pack("{s:s,s:i,s:s,s:s,s:I,s:I,s:I,s:I}",
                                             "kind", KIND_NAMES[ft->kind], "status", ft->status,
                                             "path", ft->path, "method", ft->method,
                                             "skip", (json_int_t)ft->skip,
                                             "remaining", (json_int_t)ft->count,
                                             "ms", (json_int_t)ft->ms,
                                             "hits", (json_int_t)ft->hits));
    }
    pthread_mutex_unlock(&f->mu);
    return arr;
}

static const char *reason(int status)
{
    switch (status) {
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Time-out";
    case 429: return "Too Many Requests";
    default: return "Error";
    }
}

void alsim_fault_reply(const struct alsim_fault *ft, struct alsim_resp *out)
{
    char *text = malloc(1024);
    if (text == NULL || ft->body == FBODY_JSON) {
        free(text);
        alsim_reply(out, ft->status, NULL, "%s", ft->message);
        return;
    }
    if (ft->body == FBODY_HTML)
        snprintf(text, 1024, "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center>"
                 "<h1>%d %s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
                 ft->status, reason(ft->status), ft->status, reason(ft->status));
    else
        snprintf(text, 1024, "%s", ft->message);
    alsim_reply_raw(out, ft->status, ft->body == FBODY_HTML ? "text/html" : "text/plain", text,
                    strlen(text));
}
