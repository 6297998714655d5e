/* queue_conn: one Redis connection that waits out outages. Commands go out
 * pipelined, scripts are loaded once per connection (EVALSHA), every reply is
 * sorted (transient, final, NOSCRIPT) and checked against the shape its command
 * gives, and an outage is logged once per Redis however many connections wait. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "queue_int.h"
#include "replay/backoff.h"
#include "replay/backoff.h"
#include "replay/lifecycle.h"
#include "replay/log.h"
#include "replay/redact.h"

#define RELOAD_TRIES 3 /* NOSCRIPT (SCRIPT FLUSH by hand): reload, then an outage */

/* ---- process-wide outage log: one warning per Redis, however many connections ---- */

#define OUTAGE_SLOTS 16
static pthread_mutex_t outage_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char url[256];
    int connections;
} outages[OUTAGE_SLOTS];

/* Counts one more connection in an outage of url; true when it is the first. */
static bool outage_enter(const char *url)
{
    bool first = true;
    int free_slot = -1;
    pthread_mutex_lock(&outage_lock);
    for (int i = 0; i < OUTAGE_SLOTS; i++) {
        if (outages[i].connections > 0 && strcmp(outages[i].url, url) == 0) {
            first = outages[i].connections++ == 0;
            free_slot = -2;
            break;
        }
        if (outages[i].connections == 0 && free_slot == -1)
            free_slot = i;
    }
    if (free_slot >= 0) {
        snprintf(outages[free_slot].url, sizeof(outages[free_slot].url), "%s", url);
        outages[free_slot].connections = 1;
    }
    pthread_mutex_unlock(&outage_lock);
    return first;
}

/* One connection fewer in the outage of url; true when it was the last. */
static bool outage_leave(const char *url)
{
    bool last = true;
    pthread_mutex_lock(&outage_lock);
    for (int i = 0; i < OUTAGE_SLOTS; i++) {
        if (outages[i].connections > 0 && strcmp(outages[i].url, url) == 0) {
            last = --outages[i].connections == 0;
            break;
        }
    }
    pthread_mutex_unlock(&outage_lock);
    return last;
}

/* ---- commands ---- */

void replay__q_cmd_init(struct replay__q_cmd *c, const char *what, int script)
{
    memset(c, 0, sizeof(*c));
    c->what = what;
    c->script = script;
    if (script >= 0)
        c->argc = 2; /* EVALSHA <sha>, filled at send time; numkeys comes first */
}

void replay__q_argn(struct replay__q_cmd *c, const char *s, size_t len)
{
    c->argv[c->argc] = s;
    c->len[c->argc] = len;
    c->argc++;
}

void replay__q_arg(struct replay__q_cmd *c, const char *s)
{
    replay__q_argn(c, s, strlen(s));
}

static struct timeval ms_tv(unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)(ms % 1000u) * 1000};
    return tv;
}

static void q_drop(struct replay_queue *q)
{
    if (q->ctx != NULL)
        redisFree(q->ctx);
    q->ctx = NULL;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Errors that mean "Redis is not ready yet": wait and try again. */
static bool transient_error(const char *msg)
{
    static const char *const prefixes[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
                                           "READONLY", "CLUSTERDOWN", "OOM"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (starts_with(msg, prefixes[i]))
            return true;
    }
    return false;
}

/* Sorts a reply: 0 (kept in *out), REPLAY_EAGAIN (why: Redis not ready),
 * REPLAY_ENOTFOUND (NOSCRIPT) or a final error in err. Frees it unless 0. */
static int q_classify(struct replay_queue *q, redisReply *r, const char *what, redisReply **out,
                      char *why, size_t whysz, struct replay_err *err)
{
    *out = NULL;
    if (r->type != REDIS_REPLY_ERROR) {
        *out = r;
        return 0;
    }
    int rc = REPLAY_EAGAIN;
    if (transient_error(r->str))
        snprintf(why, whysz, "%s", r->str);
    else if (starts_with(r->str, "NOAUTH") || starts_with(r->str, "WRONGPASS"))
        rc = replay_err_set(err, REPLAY_EAUTH, "%s on Redis at %s: credentials refused: %s",
                            what, q->safe_url, r->str);
    else if (starts_with(r->str, "NOSCRIPT"))
        rc = REPLAY_ENOTFOUND; /* the caller loads the script again */
    else
        rc = replay_err_set(err, REPLAY_EPROTO, "%s on Redis at %s: %s", what, q->safe_url,
                            r->str);
    freeReplyObject(r);
    return rc;
}

/* ---- reply shapes: every reply is checked before a field of it is read ---- */

/* The shape language is stated at replay__q_reply_is (queue_int.h). A shape is
 * always consumed whole, whether it matches or not. */
static bool shape_match(const redisReply *r, const char **p);

static bool array_match(const redisReply *r, const char **p)
{
    bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY;
    size_t n = ok ? r->elements : 0, i = 0;
    while (**p != ']' && **p != '\0') {
        if (**p == '*') { /* the rest of the elements, each of the next shape */
            const char *each = ++*p;
            for (; i < n; i++) {
                const char *again = each;
                ok = shape_match(r->element[i], &again) && ok;
            }
            (void)shape_match(NULL, p); /* consumes it */
            continue;
        }
        ok = shape_match(i < n ? r->element[i] : NULL, p) && ok;
        i++;
    }
    if (**p == ']')
        (*p)++;
    return ok && i == n;
}

static bool shape_match(const redisReply *r, const char **p)
{
    int t = r != NULL ? r->type : -1;
    char c = **p;
    if (c != '\0')
        (*p)++;
    switch (c) {
    case 'i': return t == REDIS_REPLY_INTEGER;
    case 's': return t == REDIS_REPLY_STRING;
    case 'S': return t == REDIS_REPLY_STRING || t == REDIS_REPLY_NIL;
    case 'n': return t == REDIS_REPLY_NIL;
    case 't': return t == REDIS_REPLY_STATUS;
    case '?': return t == REDIS_REPLY_STRING || t == REDIS_REPLY_NIL || t == REDIS_REPLY_INTEGER;
    case '[': return array_match(r, p);
    default: return false;
    }
}

bool replay__q_reply_is(const redisReply *r, const char *shape)
{
    for (const char *alt = shape; alt != NULL; alt = strchr(alt, '|')) {
        alt += *alt == '|';
        const char *p = alt;
        if (shape_match(r, &p) && (*p == '\0' || *p == '|'))
            return true;
    }
    return false;
}

__attribute__((format(printf, 3, 4))) static void put(char *buf, size_t size, const char *fmt,
                                                      ...)
{
    size_t n = strnlen(buf, size);
    va_list ap;
    va_start(ap, fmt);
    if (n + 1 < size)
        vsnprintf(buf + n, size - n, fmt, ap);
    va_end(ap);
}

/* Appends to buf a short account of a reply (what came, for messages): its type,
 * the first bytes of a text (non-printable bytes as '?'), the first elements of
 * an array. */
static void describe(const redisReply *r, int depth, char *buf, size_t size)
{
    static const size_t text_max = 32, elements_max = 4;
    char text[33];
    size_t k = 0;
    switch (r->type) {
    case REDIS_REPLY_INTEGER: put(buf, size, "integer %lld", r->integer); return;
    case REDIS_REPLY_NIL: put(buf, size, "nil"); return;
    case REDIS_REPLY_ARRAY:
        put(buf, size, "array of %zu", r->elements);
        for (size_t i = 0; depth == 0 && i < r->elements && i < elements_max; i++) {
            put(buf, size, i == 0 ? " [" : ", ");
            describe(r->element[i], depth + 1, buf, size);
        }
        if (depth == 0 && r->elements > 0)
            put(buf, size, r->elements > elements_max ? ", ...]" : "]");
        return;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        for (; k < r->len && k < text_max; k++)
            text[k] = r->str[k] >= 0x20 && r->str[k] < 0x7f ? r->str[k] : '?';
        text[k] = '\0';
        put(buf, size, "%s \"%s%s\"", r->type == REDIS_REPLY_STRING   ? "string"
                                     : r->type == REDIS_REPLY_STATUS ? "status"
                                                                     : "error",
            text, r->len > text_max ? "..." : "");
        return;
    default: put(buf, size, "reply of type %d", r->type); return;
    }
}

/* A reply of another shape than the command gives: REPLAY_EPROTO naming what came. */
int replay__q_unexpected(const struct replay_queue *q, const char *what, const redisReply *r,
                         struct replay_err *err)
{
    char got[192] = "";
    describe(r, 0, got, sizeof(got));
    return replay_err_set(err, REPLAY_EPROTO, "%s on Redis at %s: unexpected reply: %s", what,
                          q->safe_url, got);
}

/* 0 when r has the shape, else q_unexpected (r is not freed). */
int replay__q_expect(const struct replay_queue *q, const char *what, const redisReply *r,
                     const char *shape, struct replay_err *err)
{
    return replay__q_reply_is(r, shape) ? 0 : replay__q_unexpected(q, what, r, err);
}

/* A lost connection: the reason in why, the context dropped. */
static int q_lost(struct replay_queue *q, char *why, size_t whysz)
{
    snprintf(why, whysz, "%s", q->ctx->errstr[0] != '\0' ? q->ctx->errstr : "connection lost");
    q_drop(q);
    return REPLAY_EAGAIN;
}

/* Sends one command on the live connection and sorts its reply (q_classify). */
static int q_send(struct replay_queue *q, int argc, const char **argv, const size_t *len,
                  const char *what, redisReply **out, char *why, size_t whysz,
                  struct replay_err *err)
{
    redisReply *r = redisCommandArgv(q->ctx, argc, argv, len);
    *out = NULL;
    return r == NULL ? q_lost(q, why, whysz) : q_classify(q, r, what, out, why, whysz, err);
}

static void err_copy(struct replay_err *err, const struct replay_err *from, int code)
{
    if (err != NULL && err->code == 0) {
        *err = *from;
        err->code = code;
    }
}

/* AUTH (with the user when the URL names one) and SELECT (when db is not 0). */
static int q_auth_select(struct replay_queue *q, char *why, size_t whysz, struct replay_err *err)
{
    const struct replay_redis_url *t = &q->target;
    struct replay_err e = {0};
    redisReply *r = NULL;
    int rc = 0;
    if (t->password[0] != '\0') {
        const char *argv[3] = {"AUTH", t->user, t->password};
        size_t len[3] = {4, strlen(t->user), strlen(t->password)};
        int skip = t->user[0] == '\0' ? 1 : 0; /* AUTH <password> without a user */
        argv[skip] = "AUTH";
        len[skip] = 4;
        rc = q_send(q, 3 - skip, argv + skip, len + skip, "AUTH", &r, why, whysz, &e);
        if (rc == REPLAY_EPROTO || rc == REPLAY_EAUTH)
            rc = REPLAY_EAUTH; /* the server's own words are in e */
        else if (rc == 0)
            rc = replay__q_expect(q, "AUTH", r, "t", &e);
        freeReplyObject(r);
        if (rc < 0 && rc != REPLAY_EAGAIN)
            err_copy(err, &e, rc);
        if (rc < 0)
            return rc;
    }
    if (t->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", t->db);
        const char *argv[2] = {"SELECT", db};
        size_t len[2] = {6, strlen(db)};
        rc = q_send(q, 2, argv, len, "SELECT", &r, why, whysz, &e);
        if (rc == REPLAY_EPROTO)
            rc = REPLAY_ECONFIG; /* a database the server does not have */
        else if (rc == 0)
            rc = replay__q_expect(q, "SELECT", r, "t", &e);
        freeReplyObject(r);
        if (rc < 0 && rc != REPLAY_EAGAIN)
            err_copy(err, &e, rc);
    }
    return rc;
}

static int q_connect(struct replay_queue *q, char *why, size_t whysz, struct replay_err *err)
{
    struct timeval ct = ms_tv(q->opt.connect_timeout_ms);
    q->ctx = q->target.is_unix ? redisConnectUnixWithTimeout(q->target.host, ct)
                               : redisConnectWithTimeout(q->target.host, q->target.port, ct);
    if (q->ctx == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "connect to Redis: out of memory");
    if (q->ctx->err != 0) {
        snprintf(why, whysz, "%s", q->ctx->errstr);
        q_drop(q);
        return REPLAY_EAGAIN;
    }
    if (!q->target.is_unix)
        redisEnableKeepAlive(q->ctx);
    redisSetTimeout(q->ctx, ms_tv(q->opt.command_timeout_ms));
    int rc = q_auth_select(q, why, whysz, err);
    if (rc < 0 && q->ctx != NULL)
        q_drop(q);
    if (rc == 0)
        q->generation++;
    return rc;
}

/* Loads script s on this connection (once per connection). */
static int q_load_script(struct replay_queue *q, int s, char *why, size_t whysz,
                         struct replay_err *err)
{
    const char *argv[3] = {"SCRIPT", "LOAD", replay__q_scripts[s]};
    size_t len[3] = {6, 4, strlen(replay__q_scripts[s])};
    redisReply *r = NULL;
    int rc = q_send(q, 3, argv, len, "SCRIPT LOAD", &r, why, whysz, err);
    if (rc < 0)
        return rc;
    if (r->type != REDIS_REPLY_STRING || r->len != 40) {
        rc = replay__q_unexpected(q, "SCRIPT LOAD", r, err);
        freeReplyObject(r);
        return rc;
    }
    memcpy(q->sha[s], r->str, 40);
    q->sha[s][40] = '\0';
    q->loaded[s] = q->generation;
    freeReplyObject(r);
    return 0;
}

/* Loads the scripts the commands need on this connection; fills EVALSHA <sha>. */
static int q_prepare(struct replay_queue *q, struct replay__q_cmd *cmds, size_t n, char *why,
                     size_t whysz, struct replay_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int s = cmds[i].script, rc = 0;
        if (s < 0)
            continue;
        if (q->loaded[s] != q->generation && (rc = q_load_script(q, s, why, whysz, err)) < 0)
            return rc;
        cmds[i].argv[0] = "EVALSHA";
        cmds[i].len[0] = 7;
        cmds[i].argv[1] = q->sha[s];
        cmds[i].len[1] = 40;
    }
    return 0;
}

/* Sends the commands in one write and reads every reply (pipelining). 0 with all
 * replies in out[], else none: the first final error, else REPLAY_EAGAIN, else
 * REPLAY_ENOTFOUND when only scripts were missing (they are marked for loading). */
static int q_roundtrip(struct replay_queue *q, struct replay__q_cmd *cmds, size_t n,
                       redisReply **out, char *why, size_t whysz, struct replay_err *err)
{
    int rc = 0;
    bool noscript = false;
    for (size_t i = 0; i < n; i++) {
        if (redisAppendCommandArgv(q->ctx, cmds[i].argc, cmds[i].argv, cmds[i].len) != REDIS_OK)
            return replay_err_set(err, REPLAY_ENOMEM, "%s: out of memory", cmds[i].what);
    }
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(q->ctx, &r) != REDIS_OK) {
            for (size_t k = 0; k < i; k++)
                freeReplyObject(out[k]);
            return q_lost(q, why, whysz);
        }
        int c = q_classify(q, r, cmds[i].what, &out[i], why, whysz, err);
        if (c == REPLAY_ENOTFOUND) {
            noscript = true;
            q->loaded[cmds[i].script] = 0;
        } else if (c != 0 && (rc == 0 || rc == REPLAY_EAGAIN)) {
            rc = c;
        }
    }
    if (rc == 0 && noscript)
        rc = REPLAY_ENOTFOUND;
    for (size_t i = 0; rc != 0 && i < n; i++) {
        freeReplyObject(out[i]);
        out[i] = NULL;
    }
    return rc;
}

/* One attempt: connect if needed, load scripts if needed, send, read. */
static int q_attempt(struct replay_queue *q, struct replay__q_cmd *cmds, size_t n, redisReply **out,
                     char *why, size_t whysz, struct replay_err *err)
{
    int rc = 0;
    if (q->ctx == NULL && (rc = q_connect(q, why, whysz, err)) < 0)
        return rc;
    for (int tries = 0; tries < RELOAD_TRIES; tries++) {
        if ((rc = q_prepare(q, cmds, n, why, whysz, err)) < 0)
            return rc;
        if ((rc = q_roundtrip(q, cmds, n, out, why, whysz, err)) != REPLAY_ENOTFOUND)
            return rc;
    }
    snprintf(why, whysz, "scripts keep disappearing (SCRIPT FLUSH?)");
    q_drop(q);
    return REPLAY_EAGAIN;
}

static void q_outage_begin(struct replay_queue *q, const char *why)
{
    q->outage_tries++;
    if (q->outage_since != 0)
        return;
    q->outage_since = replay_now_ms();
    if (outage_enter(q->safe_url))
        replay_warn("No connection to Redis at %s (%s), retrying with backoff up to %u ms: %s",
                    q->safe_url, q->role, q->opt.backoff_max_ms, why);
}

static void q_outage_end(struct replay_queue *q)
{
    if (q->outage_since == 0)
        return;
    uint64_t ms = replay_now_ms() - q->outage_since;
    if (outage_leave(q->safe_url))
        replay_info("Reconnected to Redis at %s (%s) after %" PRIu64 ".%01" PRIu64
                    " s (%u attempts)",
                    q->safe_url, q->role, ms / 1000u, (ms % 1000u) / 100u, q->outage_tries);
    q->outage_since = 0;
    q->outage_tries = 0;
}

/* Runs the n commands (one round trip) until they succeed, fail for good, are
 * canceled, or give up; the replies in out[0..n). */
int replay__q_exec_n(struct replay_queue *q, struct replay__q_cmd *cmds, size_t n, unsigned flags,
                     redisReply **out, struct replay_err *err)
{
    struct replay_backoff b;
    char why[256] = "";
    const struct replay__q_cmd *c = &cmds[n - 1];
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    replay_backoff_init(&b, q->opt.backoff_min_ms, q->opt.backoff_max_ms);
    for (;;) {
        if (!(flags & REPLAY__Q_ONCE) && replay_cancel_requested(q->opt.cancel))
            return replay_err_set(err, REPLAY_ECANCELED, "%s on Redis at %s: canceled by "
                                  "shutdown", c->what, q->safe_url);
        int rc = q_attempt(q, cmds, n, out, why, sizeof(why), err);
        if (rc != REPLAY_EAGAIN) {
            if (q->ctx != NULL) /* Redis answered: whatever it said, it is back */
                q_outage_end(q);
            return rc;
        }
        q_outage_begin(q, why);
        uint64_t down = replay_now_ms() - q->outage_since;
        if ((flags & REPLAY__Q_ONCE) || (q->opt.give_up_ms != 0 && down >= q->opt.give_up_ms))
            return replay_err_set(err, REPLAY_ECONN, "%s: no connection to Redis at %s for "
                                  "%" PRIu64 " ms: %s", c->what, q->safe_url, down, why);
        if (replay_backoff_wait(&b, q->opt.cancel) != 0)
            continue; /* canceled: the check at the top of the loop ends it */
    }
}

int replay__q_exec(struct replay_queue *q, struct replay__q_cmd *c, unsigned flags,
                   redisReply **out, struct replay_err *err)
{
    return replay__q_exec_n(q, c, 1, flags, out, err);
}

/* q_exec for a reply of the given shape (see shape_match). */
int replay__q_exec_shape(struct replay_queue *q, struct replay__q_cmd *c, const char *shape,
                         redisReply **out, struct replay_err *err)
{
    int rc = replay__q_exec(q, c, REPLAY__Q_WAIT, out, err);
    if (rc == 0 && (rc = replay__q_expect(q, c->what, *out, shape, err)) < 0) {
        freeReplyObject(*out);
        *out = NULL;
    }
    return rc;
}

int replay__q_command_v(struct replay_queue *q, const char *what, const char *shape,
                        redisReply **out, struct replay_err *err, va_list ap)
{
    struct replay__q_cmd cmd;
    replay__q_cmd_init(&cmd, what, -1);
    for (const char *a = va_arg(ap, const char *); a != NULL; a = va_arg(ap, const char *))
        replay__q_arg(&cmd, a);
    return replay__q_exec_shape(q, &cmd, shape, out, err);
}

int replay__q_command(struct replay_queue *q, const char *what, const char *shape,
                      redisReply **out, struct replay_err *err, ...)
{
    va_list ap;
    va_start(ap, err);
    int rc = replay__q_command_v(q, what, shape, out, err, ap);
    va_end(ap);
    return rc;
}

int replay__q_exec_int(struct replay_queue *q, struct replay__q_cmd *c, long long *value,
                       struct replay_err *err)
{
    redisReply *r = NULL;
    int rc = replay__q_exec_shape(q, c, "i", &r, err);
    if (rc == 0 && value != NULL)
        *value = r->integer;
    freeReplyObject(r);
    return rc;
}

static void apply_defaults(struct replay_queue_options *o)
{
    if (o->connect_timeout_ms == 0)
        o->connect_timeout_ms = 5000;
    if (o->command_timeout_ms == 0)
        o->command_timeout_ms = 15000;
    if (o->wait_slice_ms == 0)
        o->wait_slice_ms = 500;
    if (o->command_timeout_ms < o->wait_slice_ms + 1000)
        o->command_timeout_ms = o->wait_slice_ms + 1000; /* a blocking wait is not an outage */
    if (o->backoff_min_ms == 0)
        o->backoff_min_ms = 50;
    if (o->backoff_max_ms < o->backoff_min_ms)
        o->backoff_max_ms = o->backoff_min_ms > 5000 ? o->backoff_min_ms : 5000;
    if (o->max_message == 0)
        o->max_message = REPLAY_QUEUE_MAX_MESSAGE;
    if (o->dead_after_ms == 0)
        o->dead_after_ms = 900000;
    if (o->recover_interval_ms == 0)
        o->recover_interval_ms = 60000;
}

int replay_queue_open(const struct replay_queue_options *opt, struct replay_queue **out,
                      struct replay_err *err)
{
    if (out == NULL || opt == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "open Redis: no options or output");
    *out = NULL;
    struct replay_queue *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "open Redis: out of memory");
    int rc = replay_config_redis_url_parse(opt->url, &q->target, err);
    if (rc < 0) {
        free(q);
        return rc;
    }
    replay_redact_add_url_secrets(opt->url);
    replay_redact_add_secret(q->target.password);
    replay_redact_url(opt->url, q->safe_url, sizeof(q->safe_url));
    snprintf(q->role, sizeof(q->role), "%s", opt->role != NULL ? opt->role : "redis");
    q->opt = *opt;
    q->opt.url = NULL;
    q->opt.role = NULL;
    apply_defaults(&q->opt);
    struct replay__q_cmd c;
    replay__q_cmd_init(&c, "PING", -1);
    replay__q_arg(&c, "PING");
    redisReply *r = NULL;
    if ((rc = replay__q_exec_shape(q, &c, "t", &r, err)) < 0) {
        replay_queue_close(q);
        return rc;
    }
    freeReplyObject(r);
    *out = q;
    return 0;
}

void replay_queue_close(struct replay_queue *q)
{
    if (q == NULL)
        return;
    if (q->outage_since != 0)
        (void)outage_leave(q->safe_url);
    q_drop(q);
    free(q);
}

int replay_queue_epoch(struct replay_queue *q, char out[REPLAY_QUEUE_EPOCH_LEN], bool *created,
                       struct replay_err *err)
{
    char token[REPLAY_QUEUE_EPOCH_LEN];
    snprintf(token, sizeof(token), "%016llx%016llx", (unsigned long long)replay_random_u64(),
             (unsigned long long)replay_random_u64());
    struct replay__q_cmd cmds[2];
    redisReply *r[2] = {NULL, NULL};
    replay__q_cmd_init(&cmds[0], "set the epoch", -1);
    replay__q_arg(&cmds[0], "SET");
    replay__q_arg(&cmds[0], REPLAY_QUEUE_EPOCH_KEY);
    replay__q_arg(&cmds[0], token);
    replay__q_arg(&cmds[0], "NX");
    replay__q_cmd_init(&cmds[1], "read the epoch", -1);
    replay__q_arg(&cmds[1], "GET");
    replay__q_arg(&cmds[1], REPLAY_QUEUE_EPOCH_KEY);
    int rc = replay__q_exec_n(q, cmds, 2, REPLAY__Q_WAIT, r, err);
    if (rc == 0 && (rc = replay__q_expect(q, "set the epoch", r[0], "t|n", err)) == 0 &&
        (rc = replay__q_expect(q, "read the epoch", r[1], "s", err)) == 0) {
        snprintf(out, REPLAY_QUEUE_EPOCH_LEN, "%.*s", (int)r[1]->len, r[1]->str);
        if (created != NULL)
            *created = r[0]->type != REDIS_REPLY_NIL;
    }
    for (int i = 0; i < 2; i++)
        if (r[i] != NULL)
            freeReplyObject(r[i]);
    return rc;
}

int replay_queue_epoch_check(struct replay_queue *q, char seen[REPLAY_QUEUE_EPOCH_LEN], bool *lost,
                             struct replay_err *err)
{
    char now[REPLAY_QUEUE_EPOCH_LEN];
    *lost = false;
    int rc = replay_queue_epoch(q, now, NULL, err);
    if (rc == 0) {
        *lost = seen[0] != '\0' && strcmp(seen, now) != 0;
        memcpy(seen, now, sizeof(now));
    }
    return rc;
}
