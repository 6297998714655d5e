/*
 * lifecycle: cancellation and liveness signals for long-running work.
 *
 * Modules that block (a Redis wait, an HTTP transfer, a retry back-off, a file
 * copy) take a `const struct replay_cancel *` and stop early with
 * REPLAY_ECANCELED once it is requested. They do not depend on the supervisor.
 *
 * The same modules report liveness of the calling thread:
 *  - replay_progress() after each unit of work done (a block copied, a message
 *    handled), so a long transfer still counts as alive;
 *  - replay_idle_begin()/replay_idle_end() around a wait for new work, so a
 *    thread blocked on an empty queue counts as healthy.
 * These are no-ops on a thread the supervisor does not run; on a supervised
 * thread they feed its heartbeat (decisions.md §12): a thread that neither
 * progresses nor idles for the stall timeout stops the heartbeat.
 *
 * Thread-safe. A cancel token is created by its owner (the supervisor, or a test)
 * and must outlive every operation given it; NULL means "never canceled".
 */
#ifndef REPLAY_LIFECYCLE_H
#define REPLAY_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "replay/error.h"

struct replay_cancel;

/* New token, not requested. Caller frees with replay_cancel_free(). NULL on ENOMEM. */
struct replay_cancel *replay_cancel_new(void);
void replay_cancel_free(struct replay_cancel *c);

/* Requests cancellation and wakes every replay_cancel_sleep_ms() sleeper. */
void replay_cancel_request(struct replay_cancel *c);
/* True once requested. NULL gives false. */
bool replay_cancel_requested(const struct replay_cancel *c);
/* Sleeps up to `ms` milliseconds. Returns REPLAY_ECANCELED at once if cancellation
 * is (or becomes) requested, else 0. Counts as idle when `idle` is true. */
int replay_cancel_sleep_ms(const struct replay_cancel *c, uint64_t ms, bool idle);

/* Liveness of the calling thread (no-ops on unsupervised threads). */
void replay_progress(void);
void replay_idle_begin(void);
void replay_idle_end(void);

/* Monotonic clock in milliseconds. */
uint64_t replay_now_ms(void);

/* Per-thread liveness record, written by the thread and read by the supervisor.
 * Public only so that the supervisor (and its tests) can bind one to a thread. */
struct replay_liveness {
    _Atomic uint64_t last_progress_ms; /* replay_now_ms() of the last progress */
    _Atomic int idle_depth;            /* > 0 while waiting for work */
};
/* Binds (or with NULL unbinds) the calling thread's liveness record. */
void replay_liveness_bind(struct replay_liveness *l);

#endif
