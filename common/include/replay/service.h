/*
 * service: what the worker threads of the four services share, so each service's
 * own files hold only its own loop.
 *
 * - Connections made from the configuration: an Assemblyline client for a client
 *   section (one per thread; it retries transient failures for ever and stops on
 *   shutdown, decisions.md §7), and the queue or checkpoint Redis (waiting
 *   through outages until shutdown).
 * - What an error code means for the work in hand (replay_service_verdict): stop,
 *   try again after a back-off, wait for an operator (the server or the
 *   configuration refuses), or give up on this item with the reason.
 * - Directories from the configuration, checked (and created) at start, so a
 *   service that cannot work there stops with one clear line instead of failing
 *   item after item.
 * - Integer settings read from the environment, as upstream reads
 *   EMPTY_WAIT_TIME and REPLAY_BATCH_SIZE, checked at start (a bad value is a
 *   configuration error naming the variable, not a crash).
 *
 * Thread-safe: nothing here keeps state; what it opens belongs to the caller.
 */
#ifndef REPLAY_SERVICE_H
#define REPLAY_SERVICE_H

#include <stdbool.h>

#include "replay/alclient.h"
#include "replay/backoff.h"
#include "replay/config.h"
#include "replay/error.h"
#include "replay/lifecycle.h"
#include "replay/log.h"
#include "replay/queue.h"

/* How many times a server error 500 is tried before the item fails with the
 * server's message (decisions.md §7: a broken item or a passing fault). */
#define REPLAY_SERVICE_MAX_500 5

enum replay_verdict {
    REPLAY_VERDICT_STOP,      /* shutting down: keep the item for the next start */
    REPLAY_VERDICT_TRANSIENT, /* a passing failure: back off, then try it again */
    REPLAY_VERDICT_SETUP,     /* the server or configuration refuses (credentials, role,
                                 API switched off, unusable option): log it loudly, back
                                 off long, keep the item; an operator must act */
    REPLAY_VERDICT_PERMANENT, /* the item itself is bad: give up on it, with the reason */
};

/* The verdict for `code`, returned by a call whose last HTTP status (0 when there
 * was none) is `http_status`. A 500 is TRANSIENT: the caller counts its tries
 * against REPLAY_SERVICE_MAX_500. REPLAY_ENOTFOUND is PERMANENT: callers that
 * know better (a document gone) handle it before asking. */
enum replay_verdict replay_service_verdict(int code, int http_status);

/* "stop", "transient", "setup", "permanent". */
const char *replay_service_verdict_name(enum replay_verdict v);

/* Logs the message at `level`, adding the wait that follows ("; trying again in
 * 4.2 s"), then waits that step of `b` (idle). REPLAY_ECANCELED on shutdown. */
REPLAY_MUST_CHECK int replay_service_pause(struct replay_backoff *b, enum replay_log_level level,
                                           const struct replay_cancel *cancel, const char *fmt,
                                           ...) REPLAY_PRINTF(4, 5);

/* One step of work that may fail: returns 0 or a REPLAY_E* code (detail in err)
 * and, when it made HTTP requests, the status of the last answer in *http_status
 * (left 0 otherwise). */
typedef int (*replay_service_step_fn)(void *ctx, int *http_status, struct replay_err *err);

/* Runs `step` until it succeeds, fails for good, or shutdown comes: TRANSIENT
 * failures are retried after a back-off (a 500 at most REPLAY_SERVICE_MAX_500
 * times), SETUP failures too, logged as errors (an operator must act; the item is
 * kept). Returns 0, REPLAY_ECANCELED, or the code of a PERMANENT failure (err
 * holds its message). `what` names the step in logs ("upload alert_x.al_bundle").
 * Resets `b` after a success. */
REPLAY_MUST_CHECK int replay_service_retry(struct replay_backoff *b,
                                           const struct replay_cancel *cancel,
                                           replay_service_step_fn step, void *ctx,
                                           const char *what, struct replay_err *err);

/* Opens an Assemblyline client for the section `cc`, retrying for ever on
 * transient failures and stopping on `cancel` (borrowed, must outlive the
 * client). No request is sent. Caller closes *out with replay_alclient_close(). */
REPLAY_MUST_CHECK int replay_service_client(const struct replay_client_config *cc,
                                            const struct replay_cancel *cancel,
                                            struct replay_alclient **out,
                                            struct replay_err *err);

/* Opens the queue Redis (persistent false) or the checkpoint Redis (true) of
 * `cfg`, waiting through outages until `cancel`. `role` names the connection in
 * logs. Caller closes *out with replay_queue_close(). */
REPLAY_MUST_CHECK int replay_service_redis(const struct replay_config *cfg, bool persistent,
                                           const char *role, const struct replay_cancel *cancel,
                                           struct replay_queue **out, struct replay_err *err);

/* Handles one item popped from a consumer (settles it: ack, reject or keep);
 * 0 to go on, else the loop ends with that code. */
typedef int (*replay_service_item_fn)(void *ctx, struct replay_queue_item *item);
/* The loop of a consumer thread: pops an item (waiting up to wait_ms), hands it
 * to handle and frees it, until handle fails, the queue fails or cancel is
 * requested; reports progress after each item. A pop failure other than a cancel
 * is logged ("Cannot take the next <what> from the queue: ...") and returned. */
REPLAY_MUST_CHECK int replay_service_consume(struct replay_queue_consumer *c, unsigned wait_ms,
                                             const struct replay_cancel *cancel,
                                             replay_service_item_fn handle, void *ctx,
                                             const char *what);

/* Reads the environment variable `name` as a whole number in [min, max]; unset
 * or empty gives `dflt`. REPLAY_ECONFIG names the variable and the bounds. */
REPLAY_MUST_CHECK int replay_service_env_uint(const char *name, unsigned dflt, unsigned min,
                                              unsigned max, unsigned *out,
                                              struct replay_err *err);

/* What a service needs of a directory (replay_service_directory). */
#define REPLAY_SERVICE_DIR_READ 0x1u  /* list it and read what is in it */
#define REPLAY_SERVICE_DIR_WRITE 0x2u /* create, rename and remove files in it */

/* Makes sure `path`, the value of the configuration key `key` (e.g.
 * "loader.failed_directory"), is an absolute path naming a directory, creating
 * the missing levels (mode 0750 less the umask), and that this process may do
 * there what `need` says. With `need` 0 only the path is checked (absolute),
 * nothing is created. REPLAY_ECONFIG names the key, the path and why. */
REPLAY_MUST_CHECK int replay_service_directory(const char *key, const char *path, unsigned need,
                                               struct replay_err *err);

/* A directory a service is configured with, and what it needs there. */
struct replay_service_dir {
    const char *key;  /* "loader.input_directory" */
    const char *path;
    unsigned need;    /* REPLAY_SERVICE_DIR_* flags; 0: an absolute path, not created */
};

/* replay_service_directory() on each, in order, at a service's start: the first
 * failure is logged at CRITICAL ("Bad configuration: ...", one line) and
 * returned as REPLAY_ECONFIG. */
REPLAY_MUST_CHECK int replay_service_check_directories(const struct replay_service_dir *dirs,
                                                       size_t n);

#endif
