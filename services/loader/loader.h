/* replay-loader: finds complete bundles and exports under the input directory and
 * queues each once (upstream-behaviour.md §4, with the fixes of decisions.md §11).
 * One thread, "File loader":
 *   scan.c  the loop: a pass of common/fswatch, queueing what settled (and again
 *           what stayed queued for requeue_after), the state file, the waits;
 *   sync.c  every sync_check_interval: has the target loaded any bundle? */
#ifndef REPLAY_LOADER_H
#define REPLAY_LOADER_H

#include <stdint.h>

#include "replay/alclient.h"
#include "replay/config.h"
#include "replay/isotime.h"
#include "replay/lifecycle.h"

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

#endif
