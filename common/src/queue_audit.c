/* queue_audit: the target's audit of manifests in the persistent Redis
 * (replay/queue.h has the keys; docs/trust.md what they mean to an operator). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "queue_int.h"

int replay__queue_audit_key(const char *source, const char *what, char *buf, size_t size,
                     struct replay_err *err)
{
    if (source != NULL && !replay_queue_manifest_source_ok(source))
        return replay_err_set(err, REPLAY_EINVAL, "audit: bad source name (1 to %d of A-Z a-z "
                              "0-9 . _ -)", REPLAY_QUEUE_MANIFEST_SOURCE_MAX);
    if (source != NULL)
        snprintf(buf, size, REPLAY_QUEUE_AUDIT_PREFIX "%s:%s", source, what);
    else
        snprintf(buf, size, REPLAY_QUEUE_AUDIT_PREFIX "%s", what);
    return 0;
}

#define KEY(name, source, what)                                                    \
    char name[REPLAY__Q_KEY_MAX];                                                  \
    do {                                                                           \
        int krc_ = replay__queue_audit_key(source, what, name, sizeof(name), err);               \
        if (krc_ != 0)                                                             \
            return krc_;                                                           \
    } while (0)

/* A command from a NULL-terminated list of string arguments whose reply nobody
 * reads (it must have the given shape). */
static int run(struct replay_queue *q, const char *what, const char *shape,
               struct replay_err *err, ...)
{
    redisReply *r = NULL;
    va_list ap;
    va_start(ap, err);
    int rc = replay__q_command_v(q, what, shape, &r, err, ap);
    va_end(ap);
    freeReplyObject(r);
    return rc;
}

static void format_ll(char *buf, size_t size, long long v)
{
    snprintf(buf, size, "%lld", v);
}

/* "<name>/<sha256>": a file's field in the promised, pending, arrived, unlisted keys. */
static int file_field(const char *name, const char *sha256, char *buf, size_t size,
                      struct replay_err *err)
{
    int n = snprintf(buf, size, "%s/%s", name, sha256);
    if (n < 0 || (size_t)n >= size)
        return replay_err_set(err, REPLAY_EINVAL, "audit: file name too long");
    return 0;
}

/* ---- recording ---- */

int replay_queue_audit_accept(struct replay_queue *q, const struct replay_queue_audit_manifest *m,
                              enum replay_queue_audit_verdict *verdict, struct replay_err *err)
{
    KEY(sources, NULL, "sources");
    KEY(manifests, m->source, "manifests");
    KEY(summary, m->source, "summary");
    KEY(promised, NULL, "promised");
    KEY(names, NULL, "names");
    KEY(pending, NULL, "pending");
    KEY(arrived, NULL, "arrived");
    KEY(unlisted, NULL, "unlisted");
    char seq[24], now[24];
    long long v = 0;
    format_ll(seq, sizeof(seq), m->sequence);
    format_ll(now, sizeof(now), m->now);
    struct replay__q_cmd cmd;
    replay__q_cmd_init(&cmd, "record a manifest", REPLAY__QS_AUDIT_ACCEPT);
    const char *args[] = {"8", sources, manifests, summary, promised, names, pending, arrived,
                          unlisted, m->source, seq, m->sha256, m->previous_sha256, m->info};
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
        replay__q_arg(&cmd, args[i]);
    replay__q_argn(&cmd, m->files, m->files_len);
    replay__q_arg(&cmd, now);
    replay__q_arg(&cmd, m->verified ? "1" : "0");
    int rc = replay__q_exec_int(q, &cmd, &v, err);
    if (rc != 0)
        return rc;
    if (v != 1 && v != 2 && v != -1 && v != -2)
        return replay_err_set(err, REPLAY_EPROTO, "record a manifest: unexpected answer %lld", v);
    *verdict = (enum replay_queue_audit_verdict)v;
    return 0;
}

int replay_queue_audit_done(struct replay_queue *q, const char *source, long long sequence,
                            struct replay_err *err)
{
    KEY(manifests, source, "manifests");
    char field[40];
    snprintf(field, sizeof(field), "done:%lld", sequence);
    return run(q, "mark a manifest done", "i", err, "HSET", manifests, field, "1", (const char *)NULL);
}

int replay__queue_audit_entry(const char *json, struct replay_queue_audit_promise *out,
                      struct replay_err *err)
{
    json_error_t jerr;
    json_t *e = json_loads(json, 0, &jerr);
    const char *source = NULL;
    json_int_t seq = 0, size = 0;
    int ok = e != NULL && json_unpack(e, "{s:s, s:I, s:I}", "source", &source, "sequence", &seq,
                                      "size", &size) == 0 &&
             replay_queue_manifest_source_ok(source);
    if (ok) {
        snprintf(out->source, sizeof(out->source), "%s", source);
        out->sequence = seq;
        out->size = size;
    }
    json_decref(e);
    return ok ? 0 : replay_err_set(err, REPLAY_EFORMAT, "audit: a promised entry holds what "
                                   "Replay never writes");
}

/* The entry of the first bytes promised under `name` (when other bytes arrived):
 * which source and manifest promised it. */
static int first_promise(struct replay_queue *q, const char *promised, const char *names,
                         const char *name, struct replay_queue_audit_promise *out,
                         struct replay_err *err)
{
    char field[REPLAY__Q_KEY_MAX];
    redisReply *shas = NULL, *e = NULL;
    int rc = replay__q_command(q, "look a name up", "S", &shas, err, "HGET", names, name,
                               (const char *)NULL);
    if (rc != 0 || shas->type != REDIS_REPLY_STRING) {
        freeReplyObject(shas);
        return rc;
    }
    size_t n = strcspn(shas->str, " ");
    snprintf(field, sizeof(field), "%s/%.*s", name, (int)n, shas->str);
    freeReplyObject(shas);
    rc = replay__q_command(q, "look a file up", "S", &e, err, "HGET", promised, field,
                           (const char *)NULL);
    if (rc == 0 && e->type == REDIS_REPLY_STRING)
        rc = replay__queue_audit_entry(e->str, out, err);
    freeReplyObject(e);
    return rc;
}

int replay_queue_audit_lookup(struct replay_queue *q, const char *name, const char *sha256,
                              struct replay_queue_audit_promise *out, struct replay_err *err)
{
    KEY(promised, NULL, "promised");
    KEY(names, NULL, "names");
    char field[REPLAY__Q_KEY_MAX];
    redisReply *r = NULL;
    memset(out, 0, sizeof(*out));
    int rc = file_field(name, sha256, field, sizeof(field), err);
    if (rc == 0)
        rc = replay__q_command(q, "look a file up", "S", &r, err, "HGET", promised, field,
                               (const char *)NULL);
    if (rc != 0)
        return rc;
    if (r->type == REDIS_REPLY_STRING) {
        out->listing = REPLAY_QUEUE_AUDIT_LISTED;
        rc = replay__queue_audit_entry(r->str, out, err);
    } else {
        rc = first_promise(q, promised, names, name, out, err);
        out->listing = out->source[0] != '\0' ? REPLAY_QUEUE_AUDIT_OTHER
                                               : REPLAY_QUEUE_AUDIT_UNLISTED;
    }
    freeReplyObject(r);
    return rc;
}

int replay_queue_audit_arrived(struct replay_queue *q, const char *name, const char *sha256,
                               const char *path, long long now, struct replay_err *err)
{
    KEY(promised, NULL, "promised");
    KEY(pending, NULL, "pending");
    KEY(arrived, NULL, "arrived");
    KEY(unlisted, NULL, "unlisted");
    KEY(waiting, NULL, "waiting");
    KEY(waiting_since, NULL, "waiting_since");
    char field[REPLAY__Q_KEY_MAX], when[24];
    int rc = file_field(name, sha256, field, sizeof(field), err);
    if (rc != 0)
        return rc;
    format_ll(when, sizeof(when), now);
    struct replay__q_cmd cmd;
    replay__q_cmd_init(&cmd, "record an arrival", REPLAY__QS_AUDIT_ARRIVE);
    const char *args[] = {"6",   promised, pending, arrived, unlisted, waiting, waiting_since,
                          field, when,     path};
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
        replay__q_arg(&cmd, args[i]);
    return replay__q_exec_int(q, &cmd, NULL, err);
}

int replay_queue_audit_failure(struct replay_queue *q, const char *reason, const char *source,
                               struct replay_err *err)
{
    KEY(failures, NULL, "failures");
    char field[REPLAY__Q_KEY_MAX];
    snprintf(field, sizeof(field), "%s\t%s", reason, source != NULL ? source : "");
    return run(q, "count a failure", "i", err, "HINCRBY", failures, field, "1", (const char *)NULL);
}

/* ---- waiting files ---- */

int replay_queue_audit_wait(struct replay_queue *q, const char *path, long long now,
                            long long due, long long *since, struct replay_err *err)
{
    KEY(waiting, NULL, "waiting");
    KEY(waiting_since, NULL, "waiting_since");
    char n[24], d[24];
    format_ll(n, sizeof(n), now);
    format_ll(d, sizeof(d), due);
    struct replay__q_cmd cmds[3];
    redisReply *r[3] = {NULL, NULL, NULL};
    replay__q_cmd_init(&cmds[0], "start a wait", -1);
    replay__q_cmd_init(&cmds[1], "schedule a wait", -1);
    replay__q_cmd_init(&cmds[2], "read a wait", -1);
    const char *a0[] = {"HSETNX", waiting_since, path, n};
    const char *a1[] = {"ZADD", waiting, d, path};
    const char *a2[] = {"HGET", waiting_since, path};
    for (int i = 0; i < 4; i++) {
        replay__q_arg(&cmds[0], a0[i]);
        replay__q_arg(&cmds[1], a1[i]);
        if (i < 3)
            replay__q_arg(&cmds[2], a2[i]);
    }
    int rc = replay__q_exec_n(q, cmds, 3, REPLAY__Q_WAIT, r, err);
    if (rc == 0)
        rc = replay__q_expect(q, "HGET", r[2], "s", err);
    if (rc == 0) {
        char *end = NULL;
        *since = strtoll(r[2]->str, &end, 10);
        if (end == r[2]->str || *end != '\0')
            rc = replay_err_set(err, REPLAY_EFORMAT, "audit: a wait's start is not a number");
    }
    for (int i = 0; i < 3; i++)
        freeReplyObject(r[i]);
    return rc;
}

int replay_queue_audit_unwait(struct replay_queue *q, const char *path, struct replay_err *err)
{
    KEY(waiting, NULL, "waiting");
    KEY(waiting_since, NULL, "waiting_since");
    struct replay__q_cmd cmds[2];
    redisReply *r[2] = {NULL, NULL};
    replay__q_cmd_init(&cmds[0], "end a wait", -1);
    replay__q_arg(&cmds[0], "ZREM");
    replay__q_arg(&cmds[0], waiting);
    replay__q_arg(&cmds[0], path);
    replay__q_cmd_init(&cmds[1], "end a wait", -1);
    replay__q_arg(&cmds[1], "HDEL");
    replay__q_arg(&cmds[1], waiting_since);
    replay__q_arg(&cmds[1], path);
    int rc = replay__q_exec_n(q, cmds, 2, REPLAY__Q_WAIT, r, err);
    for (int i = 0; rc == 0 && i < 2; i++)
        rc = replay__q_expect(q, "end a wait", r[i], "i", err);
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    return rc;
}

int replay_queue_audit_wake(struct replay_queue *q, struct replay_err *err)
{
    KEY(waiting, NULL, "waiting");
    struct replay__q_cmd cmd;
    replay__q_cmd_init(&cmd, "wake the waiting files", REPLAY__QS_AUDIT_WAKE);
    replay__q_arg(&cmd, "1");
    replay__q_arg(&cmd, waiting);
    return replay__q_exec_int(q, &cmd, NULL, err);
}

void replay_queue_audit_paths_free(char **paths, size_t n)
{
    for (size_t i = 0; paths != NULL && i < n; i++)
        free(paths[i]);
    free(paths);
}

int replay_queue_audit_due(struct replay_queue *q, long long now, char ***paths, size_t *n,
                           struct replay_err *err)
{
    KEY(waiting, NULL, "waiting");
    char max[24], limit[24];
    redisReply *r = NULL;
    *paths = NULL;
    *n = 0;
    format_ll(max, sizeof(max), now);
    format_ll(limit, sizeof(limit), REPLAY_QUEUE_AUDIT_BATCH);
    int rc = replay__q_command(q, "read the waiting files", "[*s]", &r, err, "ZRANGEBYSCORE", waiting,
                     "-inf", max, "LIMIT", "0", limit, (const char *)NULL);
    if (rc != 0)
        return rc;
    *paths = calloc(r->elements + 1, sizeof(**paths));
    for (size_t i = 0; *paths != NULL && i < r->elements; i++) {
        if (((*paths)[i] = strdup(r->element[i]->str)) == NULL)
            break;
        *n = i + 1;
    }
    if (*paths == NULL || *n < r->elements) {
        replay_queue_audit_paths_free(*paths, *n);
        *paths = NULL;
        *n = 0;
        rc = replay_err_set(err, REPLAY_ENOMEM, "audit: out of memory");
    }
    freeReplyObject(r);
    return rc;
}

int replay_queue_audit_postpone(struct replay_queue *q, const char *path, long long due,
                                struct replay_err *err)
{
    KEY(waiting, NULL, "waiting");
    char d[24];
    format_ll(d, sizeof(d), due);
    return run(q, "postpone a waiting file", "i", err, "ZADD", waiting, "XX", d, path,
               (const char *)NULL);
}

long long replay_queue_audit_recheck_s(long long wait_s)
{
    long long s = wait_s / 10;
    return s < 1 ? 1 : s > 60 ? 60 : s;
}

int replay_queue_audit_warn_once(struct replay_queue *q, const char *what, bool *first,
                                 struct replay_err *err)
{
    KEY(warned, NULL, "warned");
    redisReply *r = NULL;
    int rc = replay__q_command(q, "remember a warning", "i", &r, err, "SADD", warned, what,
                     (const char *)NULL);
    *first = rc == 0 && r->integer == 1;
    freeReplyObject(r);
    return rc;
}

int replay_queue_audit_forget(struct replay_queue *q, long long cutoff, long long *forgotten,
                              struct replay_err *err)
{
    KEY(arrived, NULL, "arrived");
    KEY(promised, NULL, "promised");
    KEY(names, NULL, "names");
    KEY(unlisted, NULL, "unlisted");
    char cursor[32] = "0", when[24], count[24];
    int rc = 0;
    *forgotten = 0;
    format_ll(when, sizeof(when), cutoff);
    format_ll(count, sizeof(count), REPLAY_QUEUE_AUDIT_BATCH);
    do {
        struct replay__q_cmd cmd;
        redisReply *r = NULL;
        replay__q_cmd_init(&cmd, "forget arrived files", REPLAY__QS_AUDIT_FORGET);
        const char *args[] = {"4", arrived, promised, names, unlisted, cursor, when, count};
        for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
            replay__q_arg(&cmd, args[i]);
        rc = replay__q_exec_shape(q, &cmd, "[si]", &r, err);
        if (rc == 0 && (r->element[0]->len == 0 || r->element[0]->len >= sizeof(cursor) ||
                        strspn(r->element[0]->str, "0123456789") != r->element[0]->len))
            rc = replay__q_unexpected(q, "forget arrived files", r, err);
        if (rc == 0) {
            snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
            *forgotten += r->element[1]->integer;
        }
        freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    return rc;
}
