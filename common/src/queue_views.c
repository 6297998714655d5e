/* queue_views: what replay-ctl queues shows and repairs: depths, processing lists
 * and liveness records, :bad entries (previewed on the server), and requeueing
 * them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_int.h"

#define REQUEUE_BATCH "100" /* :bad entries moved per script call (keeps Redis responsive) */
#define SCAN_COUNT "500"

static int q_llen(struct replay_queue *q, const char *key, long long *n, struct replay_err *err)
{
    struct replay__q_cmd cmd;
    replay__q_cmd_init(&cmd, "LLEN", -1);
    replay__q_arg(&cmd, "LLEN");
    replay__q_arg(&cmd, key);
    return replay__q_exec_int(q, &cmd, n, err);
}

/* Server time in ms (TIME), for ages of liveness records. */
static int q_time_ms(struct replay_queue *q, long long *ms, struct replay_err *err)
{
    struct replay__q_cmd cmd;
    redisReply *r = NULL;
    replay__q_cmd_init(&cmd, "TIME", -1);
    replay__q_arg(&cmd, "TIME");
    int rc = replay__q_exec_shape(q, &cmd, "[ss]", &r, err); /* seconds, microseconds */
    if (rc == 0)
        *ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
    freeReplyObject(r);
    return rc;
}

/* The liveness records of a queue: HGETALL. */
static int q_records(struct replay_queue *q, enum replay_queue_type t, redisReply **out,
                     struct replay_err *err)
{
    struct replay__q_cmd cmd;
    char key[REPLAY__Q_KEY_MAX];
    snprintf(key, sizeof(key), "%s:consumers", replay_queue_key(t));
    replay__q_cmd_init(&cmd, "HGETALL", -1);
    replay__q_arg(&cmd, "HGETALL");
    replay__q_arg(&cmd, key);
    return replay__q_exec_shape(q, &cmd, "[*s]", out, err); /* field, value, ... */
}

static long long record_unseen(const redisReply *records, const char *id, long long now)
{
    for (size_t i = 0; i + 1 < records->elements; i += 2) {
        if (strcmp(records->element[i]->str, id) == 0)
            return now - atoll(records->element[i + 1]->str);
    }
    return -1;
}

/* One SCAN page: reports each processing list; remembers its consumer in ids. */
static int scan_page(struct replay_queue *q, const char *prefix, char *cursor,
                     const redisReply *records, long long now, replay_queue_processing_cb cb,
                     void *ud, struct replay_err *err)
{
    struct replay__q_cmd cmd;
    char pattern[REPLAY__Q_KEY_MAX + 2];
    redisReply *r = NULL;
    snprintf(pattern, sizeof(pattern), "%s*", prefix);
    replay__q_cmd_init(&cmd, "SCAN", -1);
    replay__q_arg(&cmd, "SCAN");
    replay__q_arg(&cmd, cursor);
    replay__q_arg(&cmd, "MATCH");
    replay__q_arg(&cmd, pattern);
    replay__q_arg(&cmd, "COUNT");
    replay__q_arg(&cmd, SCAN_COUNT);
    int rc = replay__q_exec_shape(q, &cmd, "[s[*s]]", &r, err); /* cursor, keys */
    if (rc < 0)
        return rc;
    const redisReply *next = r->element[0], *keys = r->element[1];
    bool ok = next->len > 0 && next->len < 32 && strspn(next->str, "0123456789") == next->len;
    for (size_t i = 0; ok && i < keys->elements; i++)
        ok = strncmp(keys->element[i]->str, prefix, strlen(prefix)) == 0;
    if (!ok) {
        rc = replay__q_unexpected(q, cmd.what, r, err);
        freeReplyObject(r);
        return rc;
    }
    memcpy(cursor, next->str, next->len + 1);
    for (size_t i = 0; i < keys->elements && rc == 0; i++) {
        const char *key = keys->element[i]->str, *id = key + strlen(prefix);
        long long depth = 0;
        if ((rc = q_llen(q, key, &depth, err)) == 0)
            cb(id, depth, record_unseen(records, id, now), ud);
    }
    freeReplyObject(r);
    return rc;
}

int replay_queue_each_processing(struct replay_queue *q, enum replay_queue_type t,
                                 replay_queue_processing_cb cb, void *ud, struct replay_err *err)
{
    char prefix[REPLAY__Q_KEY_MAX], cursor[32] = "0";
    redisReply *records = NULL;
    long long now = 0;
    if (q == NULL || cb == NULL || replay_queue_key(t) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "processing lists: bad arguments");
    snprintf(prefix, sizeof(prefix), "%s:processing:", replay_queue_key(t));
    int rc = q_time_ms(q, &now, err);
    if (rc == 0)
        rc = q_records(q, t, &records, err);
    /* Lists first (SCAN may repeat a key: harmless for a view), then records without one. */
    do {
        if (rc == 0)
            rc = scan_page(q, prefix, cursor, records, now, cb, ud, err);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    for (size_t i = 0; rc == 0 && i + 1 < records->elements; i += 2) {
        const char *id = records->element[i]->str;
        long long depth = 0;
        char key[REPLAY__Q_KEY_MAX * 2];
        snprintf(key, sizeof(key), "%s%s", prefix, id);
        if ((rc = q_llen(q, key, &depth, err)) == 0 && depth == 0)
            cb(id, 0, now - atoll(records->element[i + 1]->str), ud);
    }
    freeReplyObject(records);
    return rc;
}

struct sum {
    long long depth, records;
};

static void add_depth(const char *consumer, long long depth, long long unseen_ms, void *ud)
{
    struct sum *s = ud;
    (void)consumer;
    s->depth += depth;
    s->records += unseen_ms >= 0 ? 1 : 0;
}

int replay_queue_counts(struct replay_queue *q, enum replay_queue_type t,
                        struct replay_queue_counts *out, struct replay_err *err)
{
    char bad[REPLAY__Q_KEY_MAX];
    struct sum s = {0, 0};
    if (q == NULL || out == NULL || replay_queue_key(t) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "queue counts: bad arguments");
    memset(out, 0, sizeof(*out));
    snprintf(bad, sizeof(bad), "%s:bad", replay_queue_key(t));
    int rc = q_llen(q, replay_queue_key(t), &out->queued, err);
    if (rc == 0)
        rc = q_llen(q, bad, &out->bad, err);
    if (rc == 0)
        rc = replay_queue_each_processing(q, t, add_depth, &s, err);
    out->processing = s.depth;
    out->consumers = s.records;
    return rc;
}

int replay_queue_each_bad(struct replay_queue *q, enum replay_queue_type t, size_t limit,
                          size_t preview, replay_queue_bad_cb cb, void *ud, struct replay_err *err)
{
    char bad[REPLAY__Q_KEY_MAX], index[24], pbuf[24];
    if (q == NULL || cb == NULL || replay_queue_key(t) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "bad list: bad arguments");
    snprintf(bad, sizeof(bad), "%s:bad", replay_queue_key(t));
    snprintf(pbuf, sizeof(pbuf), "%zu", preview);
    for (size_t i = 0; i < limit; i++) {
        struct replay__q_cmd cmd;
        redisReply *r = NULL;
        snprintf(index, sizeof(index), "%zu", i);
        replay__q_cmd_init(&cmd, "read a :bad entry", REPLAY__QS_BAD_PREVIEW);
        replay__q_arg(&cmd, "1");
        replay__q_arg(&cmd, bad);
        replay__q_arg(&cmd, index);
        replay__q_arg(&cmd, pbuf);
        /* {header, first bytes, full length}, or nil past the end */
        int rc = replay__q_exec_shape(q, &cmd, "n|[ssi]", &r, err);
        if (rc < 0)
            return rc;
        bool end = r->type == REDIS_REPLY_NIL;
        if (!end)
            cb(r->element[0]->str, r->element[1]->str, r->element[1]->len,
               r->element[2]->integer, ud);
        freeReplyObject(r);
        if (end)
            break;
    }
    return 0;
}

int replay_queue_requeue_bad(struct replay_queue *q, enum replay_queue_type t, long long *moved,
                             struct replay_err *err)
{
    char bad[REPLAY__Q_KEY_MAX];
    long long total = 0, n = 0;
    if (moved != NULL)
        *moved = 0;
    if (q == NULL || replay_queue_key(t) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "requeue bad: bad arguments");
    snprintf(bad, sizeof(bad), "%s:bad", replay_queue_key(t));
    do {
        struct replay__q_cmd cmd;
        replay__q_cmd_init(&cmd, "requeue :bad entries", REPLAY__QS_REQUEUE_BAD);
        replay__q_arg(&cmd, "2");
        replay__q_arg(&cmd, bad);
        replay__q_arg(&cmd, replay_queue_key(t));
        replay__q_arg(&cmd, REQUEUE_BATCH);
        int rc = replay__q_exec_int(q, &cmd, &n, err);
        if (rc < 0)
            return rc;
        total += n;
        if (moved != NULL)
            *moved = total;
    } while (n > 0);
    return 0;
}

/* ---- in flight ---- */

struct replay_queue_idset {
    size_t n;
    char **ids; /* sorted */
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void replay_queue_idset_free(struct replay_queue_idset *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->ids[i]);
    free(s->ids);
    free(s);
}

size_t replay_queue_idset_size(const struct replay_queue_idset *s)
{
    return s != NULL ? s->n : 0;
}

bool replay_queue_idset_has(const struct replay_queue_idset *s, const char *id)
{
    return s != NULL && id != NULL && s->n > 0 &&
           bsearch(&id, s->ids, s->n, sizeof(*s->ids), cmp_str) != NULL;
}

/* The set of the ids in the script's reply {1, messages, id...}. */
static int idset_from(const redisReply *r, struct replay_queue_idset **out, struct replay_err *err)
{
    struct replay_queue_idset *s = calloc(1, sizeof(*s));
    size_t n = r->elements - 2;
    if (s == NULL || (n > 0 && (s->ids = calloc(n, sizeof(*s->ids))) == NULL)) {
        free(s);
        return replay_err_set(err, REPLAY_ENOMEM, "messages in flight: out of memory");
    }
    for (; s->n < n; s->n++) {
        const redisReply *e = r->element[s->n + 2];
        if ((s->ids[s->n] = strndup(e->str, e->len)) == NULL) {
            replay_queue_idset_free(s);
            return replay_err_set(err, REPLAY_ENOMEM, "messages in flight: out of memory");
        }
    }
    if (s->n > 1) /* qsort must not get the NULL of an empty set */
        qsort(s->ids, s->n, sizeof(*s->ids), cmp_str);
    *out = s;
    return 0;
}

int replay_queue_in_flight(struct replay_queue *q, enum replay_queue_type t, size_t max,
                           struct replay_queue_idset **out, struct replay_err *err)
{
    char prefix[REPLAY__Q_KEY_MAX], maxs[24];
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "messages in flight: no output");
    *out = NULL;
    if (q == NULL || replay__queue_id_field(t) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "messages in flight: bad arguments");
    snprintf(prefix, sizeof(prefix), "%s:processing:", replay_queue_key(t));
    snprintf(maxs, sizeof(maxs), "%zu", max);
    struct replay__q_cmd cmd;
    redisReply *r = NULL;
    replay__q_cmd_init(&cmd, "read the messages in flight", REPLAY__QS_IN_FLIGHT);
    replay__q_arg(&cmd, "1");
    replay__q_arg(&cmd, replay_queue_key(t));
    replay__q_arg(&cmd, prefix);
    replay__q_arg(&cmd, replay__queue_id_field(t));
    replay__q_arg(&cmd, maxs);
    int rc = replay__q_exec_shape(q, &cmd, "[ii*s]", &r, err);
    if (rc == 0 && r->element[0]->integer == 0)
        rc = replay_err_set(err, REPLAY_ETOOBIG, "%lld messages in %s and its processing lists, "
                            "more than the %zu read at once", r->element[1]->integer,
                            replay_queue_key(t), max);
    if (rc == 0)
        rc = idset_from(r, out, err);
    freeReplyObject(r);
    return rc;
}
