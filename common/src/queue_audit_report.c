/* queue_audit_report: the audit read whole, as JSON, for replay-ctl audit and the
 * loader's warnings (replay/queue.h; the shape in docs/trust.md). The report is
 * built from counters and capped ranges, so it stays cheap however long Replay
 * has run: the manifests of a source are read one by one only when its counters
 * show a gap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "queue_int.h"

/* Keys of names this file writes itself: they cannot fail the check. */
static void key_of(const char *source, const char *what, char *buf, size_t size)
{
    struct replay_err ignored = {0};
    if (replay__queue_audit_key(source, what, buf, size, &ignored) != 0)
        buf[0] = '\0';
}

static long long as_ll(const char *s)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    return end != s && *end == '\0' ? v : 0;
}

static int oom(struct replay_err *err)
{
    return replay_err_set(err, REPLAY_ENOMEM, "audit report: out of memory");
}

/* An integer answer (ZCARD, ZCOUNT). */
static int count(struct replay_queue *q, const char *what, long long *n, struct replay_err *err,
                 const char *cmd, const char *key, const char *a, const char *b)
{
    redisReply *r = NULL;
    int rc = replay__q_command(q, what, "i", &r, err, cmd, key, a, b, (const char *)NULL);
    *n = rc == 0 ? r->integer : 0;
    freeReplyObject(r);
    return rc;
}

/* ---- per source ---- */

/* The gaps of a source whose counters say it has some: the sequences between
 * first and last with no manifest (at most REPLAY_QUEUE_AUDIT_BATCH listed). */
static int find_gaps(struct replay_queue *q, const char *source, long long first, long long last,
                     json_t *gaps, struct replay_err *err)
{
    char key[REPLAY__Q_KEY_MAX];
    redisReply *r = NULL;
    key_of(source, "manifests", key, sizeof(key));
    int rc = replay__q_command(q, "read a source's manifests", "[*s]", &r, err, "HKEYS", key,
                               (const char *)NULL);
    if (rc != 0)
        return rc;
    size_t span = (size_t)(last - first + 1);
    unsigned char *seen = calloc(span, 1);
    if (seen == NULL) {
        freeReplyObject(r);
        return oom(err);
    }
    for (size_t i = 0; i < r->elements; i++) {
        const char *f = r->element[i]->str;
        long long s = strncmp(f, "sha:", 4) == 0 ? as_ll(f + 4) : 0;
        if (s >= first && s <= last)
            seen[s - first] = 1;
    }
    for (size_t i = 0; i < span && json_array_size(gaps) < REPLAY_QUEUE_AUDIT_BATCH; i++) {
        if (!seen[i])
            json_array_append_new(gaps, json_integer(first + (long long)i));
    }
    free(seen);
    freeReplyObject(r);
    return 0;
}

/* The span of sequences a report reads one by one at most; a wider one (a chain
 * restarted far away) reports its gap count without the list. */
#define GAP_SPAN_MAX (1LL << 22)

static int source_summary(struct replay_queue *q, const char *source, json_t **out,
                          struct replay_err *err)
{
    char key[REPLAY__Q_KEY_MAX];
    redisReply *r = NULL;
    long long first = 0, last = 0, n = 0, unverified = 0, last_at = 0;
    key_of(source, "summary", key, sizeof(key));
    int rc = replay__q_command(q, "read a source's summary", "[*s]", &r, err, "HGETALL", key,
                               (const char *)NULL);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        long long v = as_ll(r->element[i + 1]->str);
        first = strcmp(f, "first") == 0 ? v : first;
        last = strcmp(f, "last") == 0 ? v : last;
        n = strcmp(f, "count") == 0 ? v : n;
        unverified = strcmp(f, "unverified") == 0 ? v : unverified;
        last_at = strcmp(f, "last_at") == 0 ? v : last_at;
    }
    freeReplyObject(r);
    long long gap_count = n > 0 && last >= first ? (last - first + 1) - n : 0;
    json_t *gaps = json_array();
    *out = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:[], s:{}}", "manifests",
                     (json_int_t)n, "first", (json_int_t)first, "last", (json_int_t)last,
                     "last_at", (json_int_t)last_at, "unverified", (json_int_t)unverified,
                     "gap_count", (json_int_t)(gap_count > 0 ? gap_count : 0), "gaps", gaps,
                     "missing", "failures");
    if (*out == NULL)
        return oom(err);
    if (gap_count > 0 && last - first < GAP_SPAN_MAX)
        return find_gaps(q, source, first, last, gaps, err);
    return 0;
}

static int read_sources(struct replay_queue *q, json_t *sources, struct replay_err *err)
{
    char key[REPLAY__Q_KEY_MAX];
    redisReply *r = NULL;
    key_of(NULL, "sources", key, sizeof(key));
    int rc = replay__q_command(q, "read the sources", "[*s]", &r, err, "SMEMBERS", key,
                               (const char *)NULL);
    for (size_t i = 0; rc == 0 && i < r->elements; i++) {
        const char *name = r->element[i]->str;
        json_t *one = NULL;
        if (!replay_queue_manifest_source_ok(name))
            continue; /* never written by Replay: not ours to report */
        rc = source_summary(q, name, &one, err);
        if (rc == 0)
            json_object_set_new(sources, name, one);
        else
            json_decref(one);
    }
    freeReplyObject(r);
    return rc;
}

/* The source's entry in the report, made when a file names a source no manifest
 * summary has (a state written by hand): under "sources" all the same. */
static json_t *source_entry(json_t *sources, const char *name)
{
    json_t *s = json_object_get(sources, name);
    if (s == NULL) {
        s = json_pack("{s:i, s:[], s:i, s:[], s:{}}", "manifests", 0, "gaps", "gap_count", 0,
                      "missing", "failures");
        json_object_set_new(sources, name, s);
    }
    return s;
}

/* ---- files ---- */

/* "<name>/<sha256>" split into the report's two fields. */
static json_t *file_row(const char *field, const char *when_key, long long when)
{
    const char *slash = strrchr(field, '/');
    if (slash == NULL)
        return NULL;
    return json_pack("{s:s%, s:s, s:I}", "name", field, (size_t)(slash - field), "sha256",
                     slash + 1, when_key, (json_int_t)when);
}

/* Files promised more than grace ago and not arrived, each under its source. */
static int read_missing(struct replay_queue *q, long long now, long long grace, json_t *report,
                        json_t *sources, struct replay_err *err)
{
    char pending[REPLAY__Q_KEY_MAX], promised[REPLAY__Q_KEY_MAX], max[24], limit[24];
    redisReply *r = NULL;
    long long missing = 0, total = 0;
    key_of(NULL, "pending", pending, sizeof(pending));
    key_of(NULL, "promised", promised, sizeof(promised));
    snprintf(max, sizeof(max), "%lld", now - grace);
    snprintf(limit, sizeof(limit), "%d", REPLAY_QUEUE_AUDIT_BATCH);
    int rc = count(q, "count the missing files", &missing, err, "ZCOUNT", pending, "-inf", max);
    if (rc == 0)
        rc = count(q, "count the promised files", &total, err, "ZCOUNT", pending, "-inf", "+inf");
    if (rc == 0)
        rc = replay__q_command(q, "read the missing files", "[*s]", &r, err, "ZRANGEBYSCORE",
                               pending, "-inf", max, "WITHSCORES", "LIMIT", "0", limit,
                               (const char *)NULL);
    for (size_t i = 0; rc == 0 && i + 1 < r->elements; i += 2) {
        const char *field = r->element[i]->str;
        redisReply *e = NULL;
        rc = replay__q_command(q, "read a promise", "S", &e, err, "HGET", promised, field,
                               (const char *)NULL);
        struct replay_queue_audit_promise p = {0};
        struct replay_err perr = {0};
        json_t *row = file_row(field, "promised", as_ll(r->element[i + 1]->str));
        if (rc == 0 && row != NULL && e->type == REDIS_REPLY_STRING &&
            replay__queue_audit_entry(e->str, &p, &perr) == 0) {
            json_object_set_new(row, "sequence", json_integer(p.sequence));
            json_object_set_new(row, "size", json_integer(p.size));
            json_array_append(json_object_get(source_entry(sources, p.source), "missing"), row);
        }
        json_decref(row);
        freeReplyObject(e);
    }
    freeReplyObject(r);
    if (rc == 0) {
        json_object_set_new(report, "missing_count", json_integer(missing));
        json_object_set_new(report, "awaiting_count", json_integer(total - missing));
    }
    return rc;
}

static int read_unlisted(struct replay_queue *q, json_t *report, struct replay_err *err)
{
    char unlisted[REPLAY__Q_KEY_MAX], last[24];
    redisReply *r = NULL;
    long long n = 0;
    key_of(NULL, "unlisted", unlisted, sizeof(unlisted));
    snprintf(last, sizeof(last), "%d", REPLAY_QUEUE_AUDIT_BATCH - 1);
    int rc = count(q, "count the unlisted files", &n, err, "ZCOUNT", unlisted, "-inf", "+inf");
    if (rc == 0)
        rc = replay__q_command(q, "read the unlisted files", "[*s]", &r, err, "ZRANGE", unlisted,
                               "0", last, "WITHSCORES", (const char *)NULL);
    json_t *rows = json_array();
    for (size_t i = 0; rc == 0 && i + 1 < r->elements; i += 2) {
        json_t *row = file_row(r->element[i]->str, "arrived", as_ll(r->element[i + 1]->str));
        if (row != NULL)
            json_array_append_new(rows, row);
    }
    freeReplyObject(r);
    json_object_set_new(report, "unlisted", rows);
    json_object_set_new(report, "unlisted_count", json_integer(n));
    return rc;
}

/* Failures by reason, under their source, or at the top for those without one. */
static int read_failures(struct replay_queue *q, json_t *report, json_t *sources,
                         struct replay_err *err)
{
    char key[REPLAY__Q_KEY_MAX];
    redisReply *r = NULL;
    key_of(NULL, "failures", key, sizeof(key));
    int rc = replay__q_command(q, "read the failures", "[*s]", &r, err, "HGETALL", key,
                               (const char *)NULL);
    json_t *top = json_object();
    for (size_t i = 0; rc == 0 && i + 1 < r->elements; i += 2) {
        char reason[64];
        const char *f = r->element[i]->str, *tab = strchr(f, '\t');
        if (tab == NULL || (size_t)(tab - f) >= sizeof(reason))
            continue;
        snprintf(reason, sizeof(reason), "%.*s", (int)(tab - f), f);
        json_t *into = top;
        if (replay_queue_manifest_source_ok(tab + 1))
            into = json_object_get(source_entry(sources, tab + 1), "failures");
        json_object_set_new(into, reason, json_integer(as_ll(r->element[i + 1]->str)));
    }
    freeReplyObject(r);
    json_object_set_new(report, "failures", top);
    return rc;
}

int replay_queue_audit_report(struct replay_queue *q, long long now, long long grace,
                              char **json, struct replay_err *err)
{
    json_t *sources = json_object();
    json_t *report = json_pack("{s:I, s:I, s:o}", "time", (json_int_t)now, "grace",
                               (json_int_t)grace, "sources", sources);
    *json = NULL;
    if (report == NULL)
        return oom(err);
    int rc = read_sources(q, sources, err);
    if (rc == 0)
        rc = read_missing(q, now, grace, report, sources, err);
    if (rc == 0)
        rc = read_unlisted(q, report, err);
    if (rc == 0)
        rc = read_failures(q, report, sources, err);
    if (rc == 0 && (*json = json_dumps(report, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        rc = oom(err);
    json_decref(report);
    return rc;
}
