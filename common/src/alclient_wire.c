/* alclient_wire: URL encoding, envelope parsing and failure classification of the
 * REST client; no I/O (alclient_int.h). */
#include "alclient_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ABUF_FIRST 1024

void replay__abuf_init(struct replay__abuf *b, size_t max)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void replay__abuf_free(struct replay__abuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void replay__abuf_reset(struct replay__abuf *b, size_t keep)
{
    if (b->cap > keep) {
        replay__abuf_free(b);
        return;
    }
    b->len = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

int replay__abuf_add(struct replay__abuf *b, const void *data, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return REPLAY_ETOOBIG;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : ABUF_FIRST;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        char *np = realloc(b->p, cap);
        if (np == NULL)
            return REPLAY_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int replay__abuf_str(struct replay__abuf *b, const char *s)
{
    return replay__abuf_add(b, s, strlen(s));
}

static int add_pct(struct replay__abuf *b, unsigned char ch)
{
    static const char hex[] = "0123456789ABCDEF";
    char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
    return replay__abuf_add(b, e, 3);
}

static bool is_unreserved(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-' || ch == '~';
}

int replay__alclient_quote(struct replay__abuf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc = (is_unreserved(*p) || *p == '/') ? replay__abuf_add(b, p, 1) : add_pct(b, *p);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int replay__alclient_segment(struct replay__abuf *b, const char *s)
{
    if (s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
        strpbrk(s, "/?#%") != NULL)
        return REPLAY_EUNSAFE;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool keep = is_unreserved(*p) || (*p != 0 && strchr("!$&'()*+,:;=@[]", *p) != NULL);
        int rc = keep ? replay__abuf_add(b, p, 1) : add_pct(b, *p);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int add_params(struct replay__abuf *b, const struct replay__alclient_param *params,
                      size_t n_params)
{
    bool first = true;
    for (size_t i = 0; i < n_params; i++) {
        if (params[i].value == NULL)
            continue;
        int rc = replay__abuf_str(b, first ? "?" : "&");
        if (rc == 0)
            rc = replay__abuf_str(b, params[i].key);
        if (rc == 0 && params[i].value[0] != '\0') {
            rc = replay__abuf_str(b, "=");
            if (rc == 0)
                rc = replay__alclient_quote(b, params[i].value);
        }
        if (rc != 0)
            return rc;
        first = false;
    }
    return 0;
}

int replay__alclient_url(struct replay__abuf *b, const char *host, bool root,
                         const char *const *segments, size_t n_segments,
                         const struct replay__alclient_param *params, size_t n_params)
{
    size_t hlen = strlen(host);
    while (hlen > 0 && host[hlen - 1] == '/')
        hlen--;
    int rc = replay__abuf_add(b, host, hlen);
    if (rc == 0)
        rc = replay__abuf_str(b, root ? "/api/" : "/api/v4/");
    for (size_t i = 0; rc == 0 && !root && i < n_segments; i++) {
        rc = replay__alclient_segment(b, segments[i]);
        if (rc == 0)
            rc = replay__abuf_str(b, "/");
    }
    if (rc == 0)
        rc = add_params(b, params, n_params);
    return rc;
}

void replay__alclient_envelope_parse(const char *body, size_t len,
                                     struct replay__alclient_envelope *env)
{
    memset(env, 0, sizeof(*env));
    env->message = "";
    env->status = -1;
    if (body == NULL || len == 0)
        return;
    json_error_t jerr;
    env->root = json_loadb(body, len, 0, &jerr);
    if (env->root == NULL)
        return;
    if (!json_is_object(env->root)) {
        json_decref(env->root);
        env->root = NULL;
        return;
    }
    env->response = json_object_get(env->root, "api_response");
    json_t *msg = json_object_get(env->root, "api_error_message");
    if (json_is_string(msg))
        env->message = json_string_value(msg);
    json_t *st = json_object_get(env->root, "api_status_code");
    if (json_is_integer(st))
        env->status = json_integer_value(st);
    env->valid = env->response != NULL || msg != NULL;
}

void replay__alclient_envelope_free(struct replay__alclient_envelope *env)
{
    if (env->root != NULL)
        json_decref(env->root);
    memset(env, 0, sizeof(*env));
    env->message = "";
    env->status = -1;
}

/* The daily quota is final until tomorrow; the concurrent-call quota clears as
 * soon as other calls end (upstream's client makes the same split). */
static bool is_daily_quota(const char *message)
{
    return strstr(message, "quota") != NULL && strstr(message, "daily") != NULL;
}

enum replay__alclient_verdict replay__alclient_classify_status(long status, bool envelope_valid,
                                                               const char *message,
                                                               bool missing_403, int *code)
{
    *code = REPLAY_EHTTP;
    if (status >= 200 && status < 300) {
        if (envelope_valid && message[0] != '\0') {
            /* A 2xx with an error message: upstream's 415 handler answers 200. */
            *code = REPLAY_EPROTO;
            return REPLAY__AL_FAIL;
        }
        *code = 0;
        return REPLAY__AL_OK;
    }
    switch (status) {
    case 401:
        *code = REPLAY_EAUTH;
        return REPLAY__AL_FAIL;
    case 403:
        *code = (missing_403 && strncmp(message, "Access Denied", 13) != 0) ? REPLAY_ENOTFOUND
                                                                             : REPLAY_EAUTH;
        return REPLAY__AL_FAIL;
    case 404:
        *code = REPLAY_ENOTFOUND;
        return REPLAY__AL_FAIL;
    case 409:
        *code = REPLAY_EEXIST;
        return REPLAY__AL_FAIL;
    case 502:
    case 504:
        return REPLAY__AL_RETRY;
    case 503:
        return is_daily_quota(message) ? REPLAY__AL_FAIL : REPLAY__AL_RETRY;
    default:
        return REPLAY__AL_FAIL; /* 1xx/3xx (no redirects followed), other 4xx, 5xx */
    }
}

enum replay__alclient_verdict replay__alclient_classify_transport(
    enum replay__alclient_transport t, int *code)
{
    switch (t) {
    case REPLAY__AL_T_CONNECT:
    case REPLAY__AL_T_BROKEN:
        *code = REPLAY_ECONN;
        return REPLAY__AL_RETRY;
    case REPLAY__AL_T_TIMEOUT:
        *code = REPLAY_ETIMEDOUT;
        return REPLAY__AL_RETRY;
    case REPLAY__AL_T_TLS:
        *code = REPLAY_ECONN;
        return REPLAY__AL_FAIL;
    case REPLAY__AL_T_PROTOCOL:
        *code = REPLAY_EPROTO;
        return REPLAY__AL_FAIL;
    case REPLAY__AL_T_CANCELED:
        *code = REPLAY_ECANCELED;
        return REPLAY__AL_FAIL;
    case REPLAY__AL_T_LOCAL:
        *code = REPLAY_EIO;
        return REPLAY__AL_FAIL;
    case REPLAY__AL_T_OTHER:
        *code = REPLAY_EIO;
        return REPLAY__AL_FAIL;
    }
    *code = REPLAY_EIO;
    return REPLAY__AL_FAIL;
}

uint64_t replay__alclient_backoff_ms(unsigned retry, unsigned base_ms, unsigned cap_ms,
                                     uint64_t rnd)
{
    uint64_t d = base_ms;
    for (unsigned i = 1; i < retry && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    uint64_t half = d / 2;
    return half + rnd % (d - half + 1);
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list != NULL; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

bool replay__alclient_is_search_index(const char *s)
{
    static const char *const l[] = {"alert",     "submission", "badlist", "safelist",
                                    "signature", "workflow",   NULL};
    return s != NULL && in_list(s, l);
}

bool replay__alclient_is_queue_type(const char *s)
{
    return s != NULL && (replay__alclient_is_search_index(s) || strcmp(s, "file") == 0);
}

bool replay__alclient_is_state_index(const char *s)
{
    return s != NULL && (strcmp(s, "alert") == 0 || strcmp(s, "submission") == 0);
}

bool replay__alclient_is_list(const char *s)
{
    static const char *const l[] = {"badlist", "safelist", "signature", "workflow", NULL};
    return s != NULL && in_list(s, l);
}

void replay__alclient_excerpt(const char *body, size_t len, char *out, size_t outsz)
{
    if (outsz < 4) {
        if (outsz > 0)
            out[0] = '\0';
        return;
    }
    size_t o = 0, i = 0, room = outsz - 4; /* keep space for "..." and the NUL */
    bool gap = false;
    for (; i < len; i++) {
        unsigned char ch = (unsigned char)body[i];
        if (ch < 0x20 || ch == 0x7f) { /* control characters fold into one space */
            gap = o > 0;
            continue;
        }
        if (o + (gap ? 2 : 1) > room)
            break;
        if (gap)
            out[o++] = ' ';
        gap = false;
        out[o++] = (char)ch;
    }
    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}
