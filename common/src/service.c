/* service: connections, error verdicts and environment settings for the services. */
#include "replay/service.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum replay_verdict replay_service_verdict(int code, int http_status)
{
    switch (code) {
    case REPLAY_ECANCELED:
        return REPLAY_VERDICT_STOP;
    case REPLAY_ECONN:
    case REPLAY_ETIMEDOUT:
    case REPLAY_EAGAIN:
    case REPLAY_ENOMEM:
    case REPLAY_EBUSY:
    case REPLAY_EIO: /* local disk (full, NFS hiccup) or a cut transfer */
        return REPLAY_VERDICT_TRANSIENT;
    case REPLAY_EAUTH:
    case REPLAY_ENOAPI: /* the server has this API switched off (ui.allow_replay) */
    case REPLAY_ECONFIG:
    case REPLAY_EUNSUPPORTED:
        return REPLAY_VERDICT_SETUP;
    case REPLAY_EHTTP:
        return http_status >= 500 ? REPLAY_VERDICT_TRANSIENT : REPLAY_VERDICT_PERMANENT;
    default:
        return REPLAY_VERDICT_PERMANENT;
    }
}

const char *replay_service_verdict_name(enum replay_verdict v)
{
    switch (v) {
    case REPLAY_VERDICT_STOP:
        return "stop";
    case REPLAY_VERDICT_TRANSIENT:
        return "transient";
    case REPLAY_VERDICT_SETUP:
        return "setup";
    case REPLAY_VERDICT_PERMANENT:
        return "permanent";
    }
    return "unknown";
}

int replay_service_pause(struct replay_backoff *b, enum replay_log_level level,
                         const struct replay_cancel *cancel, const char *fmt, ...)
{
    char msg[REPLAY_ERR_MSG_LEN * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    uint64_t ms = replay_backoff_next_ms(b);
    replay_log(level, "%s; trying again in %.1f s", msg, (double)ms / 1000.0);
    return replay_cancel_sleep_ms(cancel, ms, true);
}

int replay_service_retry(struct replay_backoff *b, const struct replay_cancel *cancel,
                         replay_service_step_fn step, void *ctx, const char *what,
                         struct replay_err *err)
{
    unsigned n500 = 0;
    for (;;) {
        int status = 0;
        replay_err_clear(err);
        int code = step(ctx, &status, err);
        if (code == 0) {
            replay_backoff_reset(b);
            return 0;
        }
        enum replay_verdict v = replay_service_verdict(code, status);
        if (v == REPLAY_VERDICT_STOP || v == REPLAY_VERDICT_PERMANENT)
            return code;
        if (status == 500 && ++n500 >= REPLAY_SERVICE_MAX_500)
            return code; /* the server keeps failing on this item: give up on it */
        const char *advice = v == REPLAY_VERDICT_SETUP
                                 ? " (the server or the configuration refuses it: an operator "
                                   "must act; the work is kept)"
                                 : "";
        if (replay_service_pause(b, v == REPLAY_VERDICT_SETUP ? REPLAY_LOG_ERROR
                                                              : REPLAY_LOG_WARNING,
                                 cancel, "%s failed: %s%s", what, err != NULL ? err->msg : "",
                                 advice) != 0)
            return REPLAY_ECANCELED;
    }
}

int replay_service_client(const struct replay_client_config *cc,
                          const struct replay_cancel *cancel, struct replay_alclient **out,
                          struct replay_err *err)
{
    struct replay_alclient_options o;
    replay_alclient_options_from_config(&o, cc);
    o.cancel = cancel;
    o.retry.max_attempts = 0; /* for ever, until shutdown */
    return replay_alclient_open(&o, out, err);
}

int replay_service_redis(const struct replay_config *cfg, bool persistent, const char *role,
                         const struct replay_cancel *cancel, struct replay_queue **out,
                         struct replay_err *err)
{
    struct replay_queue_options o = {
        .url = persistent ? cfg->redis.persistent_url : cfg->redis.url,
        .role = role,
        .cancel = cancel,
    };
    return replay_queue_open(&o, out, err);
}

int replay_service_env_uint(const char *name, unsigned dflt, unsigned min, unsigned max,
                            unsigned *out, struct replay_err *err)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0') {
        *out = dflt;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || n < min || n > max)
        return replay_err_set(err, REPLAY_ECONFIG,
                              "environment variable %s: expected a whole number from %u to %u, "
                              "got \"%.32s\"",
                              name, min, max, v);
    *out = (unsigned)n;
    return 0;
}

/* mkdir -p: every missing level of path (absolute), each at most once. */
static int make_levels(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int rc = mkdir(path, 0750) == 0 || errno == EEXIST ? 0 : -1;
        *p = c;
        if (rc != 0 || c == '\0')
            return rc;
    }
}

int replay_service_directory(const char *key, const char *path, unsigned need,
                             struct replay_err *err)
{
    char buf[4096];
    struct stat st;
    if (path == NULL || path[0] != '/')
        return replay_err_set(err, REPLAY_ECONFIG, "%s: \"%s\" is not an absolute path", key,
                              path != NULL ? path : "");
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return replay_err_set(err, REPLAY_ECONFIG, "%s: the path is too long", key);
    if (need == 0)
        return 0;
    if (make_levels(buf) != 0)
        return replay_err_sys(err, REPLAY_ECONFIG, errno, "%s: cannot create %s", key, path);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return replay_err_set(err, REPLAY_ECONFIG, "%s: %s is not a directory", key, path);
    int mode = X_OK | ((need & REPLAY_SERVICE_DIR_READ) ? R_OK : 0) |
               ((need & REPLAY_SERVICE_DIR_WRITE) ? W_OK : 0);
    if (access(path, mode) != 0)
        return replay_err_sys(err, REPLAY_ECONFIG, errno, "%s: this process may not %s %s", key,
                              (need & REPLAY_SERVICE_DIR_WRITE) ? "write in" : "read", path);
    return 0;
}

int replay_service_check_directories(const struct replay_service_dir *dirs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct replay_err err = {0};
        if (replay_service_directory(dirs[i].key, dirs[i].path, dirs[i].need, &err) != 0) {
            replay_log(REPLAY_LOG_CRITICAL, "Bad configuration: %s", err.msg);
            return REPLAY_ECONFIG;
        }
    }
    return 0;
}

int replay_service_consume(struct replay_queue_consumer *c, unsigned wait_ms,
                           const struct replay_cancel *cancel, replay_service_item_fn handle,
                           void *ctx, const char *what)
{
    int code = 0;
    while (code == 0 && !replay_cancel_requested(cancel)) {
        struct replay_queue_item *item = NULL;
        struct replay_err err = {0};
        code = replay_queue_pop(c, wait_ms, &item, &err);
        if (code == 0 && item != NULL) {
            code = handle(ctx, item);
            replay_queue_item_free(item);
            replay_progress();
        } else if (code != 0 && code != REPLAY_ECANCELED) {
            replay_error("Cannot take the next %s from the queue: %s", what, err.msg);
        }
    }
    return code;
}
