/* replay-loader: finds complete bundles and exports under the input directory and
 * queues each once (upstream-behaviour.md §4, with the fixes of decisions.md §11).
 * One thread, "File loader":
 *   scan.c  the loop: a pass of common/fswatch, queueing what settled (and again
 *           what stayed queued for requeue_after), the state file, the waits;
 *   sync.c  every sync_check_interval: has the target loaded any bundle?
 *   audit.c loader.manifest: files waiting for their manifest queued again when
 *           due, warnings of manifests and files that never arrived. */
#ifndef REPLAY_LOADER_H
#define REPLAY_LOADER_H

#include <stdint.h>

#include "replay/alclient.h"
#include "replay/config.h"
#include "replay/isotime.h"
#include "replay/lifecycle.h"
#include "replay/queue.h"

/* File name of the state in loader.working_directory. */
#define LOADER_STATE_FILE "loader_state.jsonl"

/* The thread body (replay_thread_fn); arg is the configuration. */
int loader_thread(void *arg, const struct replay_cancel *cancel);

/* The sync check's clock and client. */
struct loader_sync {
    uint64_t interval_ms;        /* sync_check_interval */
    uint64_t next_ms;            /* replay_now_ms() of the next check */
    struct replay_isotime since; /* lower bound of the next query (wall clock) */
    struct replay_alclient *client;
};

/* Opens the client (bounded retries: the check must not hold up the scans) and
 * sets the first check one interval from now, as upstream. */
REPLAY_MUST_CHECK int loader_sync_open(struct loader_sync *s, const struct replay_config *cfg,
                                       const struct replay_cancel *cancel,
                                       struct replay_err *err);
/* Runs the check when it is due: asks the target's alert and submission indices
 * for bundles loaded since the last successful check, and logs upstream's warning
 * when there were none. Failures are logged, never returned. */
void loader_sync_check(struct loader_sync *s);
void loader_sync_close(struct loader_sync *s);

/* A gap in a source's manifests, and when this loader first saw it. */
struct loader_audit_gap {
    char source[REPLAY_QUEUE_MANIFEST_SOURCE_MAX + 1];
    long long sequence;
    uint64_t seen_ms;
    bool live; /* seen by the current check */
};

struct loader_audit {
    bool on;                 /* loader.manifest is on */
    struct replay_queue *db; /* the persistent Redis */
    long long wait_s, grace_s;
    uint64_t check_every_ms, next_check_ms;
    struct loader_audit_gap *gaps;
    size_t n_gaps, cap_gaps;
};

/* Opens the audit's Redis when loader.manifest is on (else nothing to do). */
REPLAY_MUST_CHECK int loader_audit_open(struct loader_audit *a, const struct replay_config *cfg,
                                        const struct replay_cancel *cancel,
                                        struct replay_err *err);
/* After each pass: queues (on q) the waiting files that are due; reads the audit
 * and warns when a check is due. Failures are logged, never returned. */
void loader_audit_pass(struct loader_audit *a, struct replay_queue *q);
void loader_audit_close(struct loader_audit *a);

#endif
