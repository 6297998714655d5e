/*
 * replay-ctl: the operator's command line. main.c dispatches on the first word to
 * one command per file (config.c, cart.c, queues.c, status.c, failed.c,
 * request.c, verify.c, keygen.c, audit.c). A command gets the words after its name and
 * the global options, and returns the process exit code (0 ok, 1 failure, 2 bad usage or
 * configuration; decisions.md §14). Every command prints a table for people by
 * default and one JSON document with --json; output.c holds what they share.
 */
#ifndef REPLAY_CTL_H
#define REPLAY_CTL_H

#include <jansson.h>

#include "replay/config.h"
#include "replay/error.h"

struct ctl_globals {
    const char *config_path; /* --config, or NULL for the default lookup */
};

struct ctl_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv, const struct ctl_globals *g);
};

int ctl_config(int argc, char **argv, const struct ctl_globals *g);
int ctl_queues(int argc, char **argv, const struct ctl_globals *g);
int ctl_cart(int argc, char **argv, const struct ctl_globals *g);
int ctl_status(int argc, char **argv, const struct ctl_globals *g);
int ctl_failed(int argc, char **argv, const struct ctl_globals *g);
int ctl_request(int argc, char **argv, const struct ctl_globals *g);
int ctl_verify(int argc, char **argv, const struct ctl_globals *g);
int ctl_keygen(int argc, char **argv, const struct ctl_globals *g);
int ctl_audit(int argc, char **argv, const struct ctl_globals *g);

/* ---- output.c ---- */

/* Prints "replay-ctl <cmd>: <message>" to stderr (secrets masked) and returns code. */
int ctl_fail(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The exit code of a failed REPLAY_E* code: 2 for configuration (a bad URL, a TLS
 * URL this build cannot use), 1 otherwise. */
int ctl_fail_code(int rc);
/* Prints `o` (borrowed) indented, one document, on stdout. */
void ctl_print_json(const json_t *o);
/* The string or integer at `key` of object `o`; "" / -1 when missing. */
const char *ctl_str(const json_t *o, const char *key);
long long ctl_int(const json_t *o, const char *key);
/* A number of seconds from 1 to 86400 (a --timeout, a --stale): 0, or 2 (bad usage). */
int ctl_seconds_arg(const char *text, long *out);
/* Loads the configuration; on failure prints why and returns 2 (*cfg NULL). */
int ctl_load_config(const char *cmd, const struct ctl_globals *g, struct replay_config **cfg);

/* ---- queues.c, shared with status and audit ---- */

struct replay_queue;
/* Opens a Redis for a command: connect within 3 s, give up on a Redis silent for
 * timeout_s. */
int ctl_open_redis(const char *url, const char *role, long timeout_s, struct replay_queue **q,
                   struct replay_err *err);

/* The overview of Replay's Redis into `out` (an object, borrowed): "redis",
 * "persistent_redis" (passwords masked) and where they came from, "queues" (one
 * object per type: queued, processing, bad, consumers) and "checkpoints". Gives
 * up on a Redis silent for timeout_s. */
int ctl_queues_collect(const struct replay_config *cfg, long timeout_s, json_t *out,
                       struct replay_err *err);
/* Prints what ctl_queues_collect gathered, as `replay-ctl queues` does. */
void ctl_queues_print(json_t *o);

/* ---- failed.c, shared with status ---- */

/* The files of the failed directory, newest failure first, into `out` (an array,
 * borrowed): per file "name", "size", "time" and "reason" from its sidecar (or
 * "sidecar_error" when it has none or cannot be read). REPLAY_EIO when the
 * directory cannot be read (the message says why). */
int ctl_failed_collect(const char *dir, json_t *out, struct replay_err *err);

#endif
