/* replay-loader: its part of loader.manifest (docs/trust.md).
 *
 * Each pass queues again the files that wait for their manifest and are due (the
 * loader-worker set them aside; a recorded manifest makes them all due), and only
 * then sets when each is due next: a crash queues one twice, never zero times, and
 * a worker's own decision (the wait over, or a new due time) is never undone.
 * Once a minute it reads the audit and warns, once each (the set of warnings
 * lives in the audit, so a restart does not repeat them), of a manifest that never
 * arrived (a gap in a source's sequence, still there `wait` seconds after this
 * loader first saw it: manifests may arrive out of order) and of a file promised
 * and not arrived `grace` seconds after its manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "loader.h"
#include "replay/log.h"
#include "replay/service.h"

/* The audit is read once a minute, or sooner when wait or grace are shorter. */
#define CHECK_EVERY_MAX_MS 60000
/* Gaps whose age this loader tracks at most (beyond, they wait for a later check). */
#define GAPS_TRACKED 1000

int loader_audit_open(struct loader_audit *a, const struct replay_config *cfg,
                      const struct replay_cancel *cancel, struct replay_err *err)
{
    const struct replay_loader_manifest_config *m = &cfg->loader.manifest;
    memset(a, 0, sizeof(*a));
    if (!replay_loader_manifest_on(m))
        return 0;
    a->on = true;
    a->wait_s = m->wait;
    a->grace_s = m->grace;
    long long shortest = m->wait < m->grace ? m->wait : m->grace;
    a->check_every_ms = (uint64_t)shortest * 1000u < CHECK_EVERY_MAX_MS ? (uint64_t)shortest * 1000u
                                                                       : CHECK_EVERY_MAX_MS;
    a->next_check_ms = replay_now_ms() + a->check_every_ms;
    return replay_service_redis(cfg, true, "audit", cancel, &a->db, err);
}

void loader_audit_close(struct loader_audit *a)
{
    replay_queue_close(a->db);
    free(a->gaps);
    memset(a, 0, sizeof(*a));
}

/* ---- waiting files ---- */

static void release_due(struct loader_audit *a, struct replay_queue *q)
{
    char **paths = NULL;
    size_t n = 0;
    struct replay_err err = {0};
    if (replay_queue_audit_due(a->db, (long long)time(NULL), &paths, &n, &err) != 0) {
        if (err.code != REPLAY_ECANCELED)
            replay_warn("Cannot read the files waiting for their manifest: %s", err.msg);
        return;
    }
    long long due = (long long)time(NULL) + replay_queue_audit_recheck_s(a->wait_s);
    for (size_t i = 0; i < n; i++) {
        int rc = replay_queue_push_file(q, paths[i], &err);
        if (rc == 0)
            rc = replay_queue_audit_postpone(a->db, paths[i], due, &err);
        if (rc != 0) {
            if (rc != REPLAY_ECANCELED)
                replay_warn("Cannot queue again %s (it waits on): %s", paths[i], err.msg);
            break;
        }
        replay_debug("Queueing again %s: its wait for a manifest is due", paths[i]);
    }
    replay_queue_audit_paths_free(paths, n);
}

/* ---- warnings ---- */

static bool first_time(struct loader_audit *a, const char *what)
{
    bool first = false;
    struct replay_err err = {0};
    if (replay_queue_audit_warn_once(a->db, what, &first, &err) != 0 &&
        err.code != REPLAY_ECANCELED)
        replay_warn("Cannot remember a warning of the audit: %s", err.msg);
    return first;
}

/* When this loader first saw the gap (now when new; 0 when no room to track it). */
static uint64_t gap_seen_ms(struct loader_audit *a, const char *source, long long seq,
                            uint64_t now)
{
    for (size_t i = 0; i < a->n_gaps; i++) {
        if (a->gaps[i].sequence == seq && strcmp(a->gaps[i].source, source) == 0) {
            a->gaps[i].live = true;
            return a->gaps[i].seen_ms;
        }
    }
    if (a->n_gaps == GAPS_TRACKED)
        return 0;
    if (a->n_gaps == a->cap_gaps) {
        size_t cap = a->cap_gaps ? a->cap_gaps * 2 : 16;
        void *more = realloc(a->gaps, cap * sizeof(*a->gaps));
        if (more == NULL)
            return 0;
        a->gaps = more;
        a->cap_gaps = cap;
    }
    struct loader_audit_gap *g = &a->gaps[a->n_gaps++];
    snprintf(g->source, sizeof(g->source), "%s", source);
    g->sequence = seq;
    g->seen_ms = now;
    g->live = true;
    return now;
}

/* Forgets the gaps the last check did not see (their manifest arrived). */
static void forget_filled_gaps(struct loader_audit *a)
{
    size_t kept = 0;
    for (size_t i = 0; i < a->n_gaps; i++) {
        if (a->gaps[i].live) {
            a->gaps[kept] = a->gaps[i];
            a->gaps[kept++].live = false;
        }
    }
    a->n_gaps = kept;
}

static void warn_gaps(struct loader_audit *a, const char *source, json_t *s, uint64_t now)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(s, "gaps"), i, v) {
        char what[128];
        long long seq = json_integer_value(v);
        uint64_t seen = gap_seen_ms(a, source, seq, now);
        if (seen == 0 || now - seen < (uint64_t)a->wait_s * 1000u)
            continue;
        snprintf(what, sizeof(what), "gap %s %lld", source, seq);
        if (first_time(a, what))
            replay_warn("Manifest %lld of source %s never arrived: a gap in its sequence "
                        "(%lld to %lld seen)",
                        seq, source, (long long)json_integer_value(json_object_get(s, "first")),
                        (long long)json_integer_value(json_object_get(s, "last")));
    }
}

static void warn_missing(struct loader_audit *a, const char *source, json_t *s)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(s, "missing"), i, f) {
        char what[640]; /* a name (255 bytes at most), its sha256 */
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        if (name == NULL || sha == NULL)
            continue;
        snprintf(what, sizeof(what), "missing %s/%s", name, sha);
        if (first_time(a, what))
            replay_warn("%s, listed by manifest %lld of source %s, has not arrived %lld s "
                        "after that manifest",
                        name, (long long)json_integer_value(json_object_get(f, "sequence")),
                        source, a->grace_s);
    }
}

static void check(struct loader_audit *a, uint64_t now)
{
    char *text = NULL;
    struct replay_err err = {0};
    if (replay_queue_audit_report(a->db, (long long)time(NULL), a->grace_s, &text, &err) != 0) {
        if (err.code != REPLAY_ECANCELED)
            replay_warn("Cannot read the audit: %s", err.msg);
        return;
    }
    json_t *report = json_loads(text, 0, NULL);
    const char *source;
    json_t *s;
    replay_debug("Audit checked: %zu source(s), %lld file(s) missing",
                 json_object_size(json_object_get(report, "sources")),
                 (long long)json_integer_value(json_object_get(report, "missing_count")));
    json_object_foreach(json_object_get(report, "sources"), source, s) {
        warn_gaps(a, source, s, now);
        warn_missing(a, source, s);
    }
    forget_filled_gaps(a);
    json_decref(report);
    free(text);
}

void loader_audit_pass(struct loader_audit *a, struct replay_queue *q)
{
    if (!a->on)
        return;
    release_due(a, q);
    uint64_t now = replay_now_ms();
    if (now < a->next_check_ms)
        return;
    a->next_check_ms = now + a->check_every_ms;
    check(a, now);
}
