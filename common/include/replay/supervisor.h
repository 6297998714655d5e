/*
 * supervisor: runs a component's named worker threads, restarts the ones that
 * end, keeps the liveness heartbeat, and turns SIGTERM/SIGINT into a drain.
 *
 * - A thread function runs until the shared cancel token is requested, then
 *   returns 0. A thread that returns early (or with an error) is logged and
 *   restarted, after a back-off that doubles while it keeps failing quickly
 *   (1 s up to 60 s) and resets once it has run for a minute.
 * - Heartbeat (decisions.md §12): the file (default /tmp/heartbeat) is touched
 *   every few seconds only while every thread is either idle-waiting or has
 *   reported progress within the stall timeout (see lifecycle.h). A hung thread
 *   therefore stops the heartbeat, and the Helm liveness probe
 *   `find /tmp/heartbeat -newermt '-30 seconds'` fails.
 * - First SIGTERM/SIGINT: no new work (the cancel token is requested), threads
 *   finish what they hold, up to the drain deadline. Second signal: exit at once.
 *
 * The heartbeat path comes from the configuration (config.h: logging.heartbeat_file,
 * which REPLAY_HEARTBEAT_FILE overrides). Tuning from the environment (read by
 * replay_supervisor_options_default()):
 *   REPLAY_STALL_SECONDS    stall timeout (default 60)
 *   REPLAY_DRAIN_SECONDS    drain deadline after the first signal (default 30)
 * Test builds (CMake -DREPLAY_TEST_HOOKS=ON, as scripts/test configures them; off
 * by default and in the image) also honour REPLAY_TEST_FAULT:
 *   "hang-after:<s>"   adds a thread "Test fault hook" that makes progress, then
 *                      after <s> seconds hangs without progress (liveness tests);
 *   "crash-loop"       adds a thread "Test fault hook" that fails at once, always;
 *   "slow-drain:<s>"   the hook thread keeps working <s> seconds after the first
 *                      signal before it returns (drain deadline tests).
 * Several may be combined with commas ("hang-after:5,slow-drain:2").
 *
 * One supervisor per process; replay_supervisor_run() is called from the main
 * thread and owns the signal handlers while it runs.
 */
#ifndef REPLAY_SUPERVISOR_H
#define REPLAY_SUPERVISOR_H

#include <stdint.h>

#include "replay/error.h"
#include "replay/lifecycle.h"

struct replay_supervisor;

/* Body of a worker thread. Returns 0 after the cancel token was requested; any
 * return while not canceled is a failure and the thread is restarted. */
typedef int (*replay_thread_fn)(void *arg, const struct replay_cancel *cancel);

struct replay_supervisor_options {
    const char *heartbeat_file;     /* borrowed; NULL or "" = no heartbeat */
    uint64_t heartbeat_interval_ms; /* 3000 */
    uint64_t stall_timeout_ms;      /* 60000 */
    uint64_t drain_deadline_ms;     /* 30000 */
    uint64_t restart_backoff_min_ms; /* 1000 */
    uint64_t restart_backoff_max_ms; /* 60000 */
};

/* Defaults, then the environment variables above. `heartbeat_file` (borrowed) is
 * the configured path. */
void replay_supervisor_options_default(struct replay_supervisor_options *o,
                                       const char *heartbeat_file);

/* Caller frees with replay_supervisor_free(). */
REPLAY_MUST_CHECK int replay_supervisor_new(const struct replay_supervisor_options *o,
                                            struct replay_supervisor **out,
                                            struct replay_err *err);
/* Adds a thread (name copied, arg borrowed until the supervisor is freed). Threads
 * start when replay_supervisor_run() starts. */
REPLAY_MUST_CHECK int replay_supervisor_add(struct replay_supervisor *s, const char *name,
                                            replay_thread_fn fn, void *arg,
                                            struct replay_err *err);
/* Runs until a signal or replay_supervisor_stop(), then drains. Returns 0 after a
 * clean drain, REPLAY_ETIMEDOUT if threads were still busy at the deadline,
 * REPLAY_ECANCELED after a second signal, REPLAY_EIO when libuv cannot set up its
 * loop (e.g. no file descriptor left); then no thread was started. */
REPLAY_MUST_CHECK int replay_supervisor_run(struct replay_supervisor *s, struct replay_err *err);
/* Asks a running supervisor to stop as if signalled (thread-safe). */
void replay_supervisor_stop(struct replay_supervisor *s);
/* The token every thread receives. Borrowed for the supervisor's lifetime. */
const struct replay_cancel *replay_supervisor_cancel(const struct replay_supervisor *s);
void replay_supervisor_free(struct replay_supervisor *s);

#endif
