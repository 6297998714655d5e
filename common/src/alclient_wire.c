/* alclient_wire: URL encoding, envelope parsing and failure classification of the
 * REST client; no I/O (alclient_int.h). */
#include "alclient_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyjson_int.h"
#include "replay/url.h"

/* Characters requests leaves in a path argument besides quote()'s: the
 * sub-delimiters, ':' and '@', and the brackets. */
#define SEGMENT_SAFE "!$&'()*+,:;=@[]"

/* Appends replay_url_quote(s, safe). */
static int add_quoted(struct replay__http_buf *b, const char *s, const char *safe)
{
    size_t n = replay_url_quote(s, safe, NULL, 0);
    char *enc = malloc(n + 1);
    if (enc == NULL)
        return REPLAY_ENOMEM;
    replay_url_quote(s, safe, enc, n + 1);
    int rc = replay__http_buf_add(b, enc, n);
    free(enc);
    return rc;
}

int replay__alclient_quote(struct replay__http_buf *b, const char *s)
{
    return add_quoted(b, s, "/");
}

bool replay__alclient_segment_unsafe(const char *s)
{
    return s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
           strpbrk(s, "/?#%") != NULL;
}

int replay__alclient_segment(struct replay__http_buf *b, const char *s)
{
    return replay__alclient_segment_unsafe(s) ? REPLAY_EUNSAFE : add_quoted(b, s, SEGMENT_SAFE);
}

static int add_params(struct replay__http_buf *b, const struct replay__alclient_param *params,
                      size_t n_params)
{
    bool first = true;
    for (size_t i = 0; i < n_params; i++) {
        if (params[i].value == NULL)
            continue;
        int rc = replay__http_buf_str(b, first ? "?" : "&");
        if (rc == 0)
            rc = replay__http_buf_str(b, params[i].key);
        if (rc == 0 && params[i].value[0] != '\0') {
            rc = replay__http_buf_str(b, "=");
            if (rc == 0)
                rc = replay__alclient_quote(b, params[i].value);
        }
        if (rc != 0)
            return rc;
        first = false;
    }
    return 0;
}

int replay__alclient_url(struct replay__http_buf *b, const char *host, bool root,
                         const char *const *segments, size_t n_segments,
                         const struct replay__alclient_param *params, size_t n_params)
{
    size_t hlen = strlen(host);
    while (hlen > 0 && host[hlen - 1] == '/')
        hlen--;
    int rc = replay__http_buf_add(b, host, hlen);
    if (rc == 0)
        rc = replay__http_buf_str(b, root ? "/api/" : "/api/v4/");
    for (size_t i = 0; rc == 0 && !root && i < n_segments; i++) {
        rc = replay__alclient_segment(b, segments[i]);
        if (rc == 0)
            rc = replay__http_buf_str(b, "/");
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

/* The generic 404 of a route the server does not have (al-rest-api.md §3, §10). */
#define API_MISSING "Api does not exist"

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
        *code = strncmp(message, API_MISSING, strlen(API_MISSING)) == 0 ? REPLAY_ENOAPI
                                                                       : REPLAY_ENOTFOUND;
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
    while (i < len) {
        const unsigned char *p = (const unsigned char *)body + i;
        if (p[0] < 0x20 || p[0] == 0x7f) { /* control characters fold into one space */
            gap = o > 0;
            i++;
            continue;
        }
        /* UTF-8 is kept whole; a byte that is not (a broken transfer) shows as '?'. */
        size_t n = replay__pyjson_utf8_len((const char *)p, len - i);
        if (o + (gap ? 1 : 0) + (n > 0 ? n : 1) > room)
            break;
        if (gap)
            out[o++] = ' ';
        gap = false;
        if (n == 0)
            out[o++] = '?';
        else
            memcpy(out + o, p, n), o += n;
        i += n > 0 ? n : 1;
    }
    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}
