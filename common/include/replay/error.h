/*
 * error: the one error convention of libreplay.
 *
 * Every fallible function returns 0 on success or a negative REPLAY_E* code, and
 * writes the detail into a caller-supplied `struct replay_err *err` (its last
 * argument; NULL is allowed when the caller does not want the text).
 *
 * The message says what failed, on what, and why, on one line. The first message
 * wins: once an error is set, later replay_err_set() calls keep it, so a generic
 * failure higher up cannot hide the root cause. replay_err_clear() resets it (a retry
 * that succeeded). Messages never contain secrets: callers pass URLs through
 * replay_redact_url() and never format API keys or passwords into them.
 *
 * Codes are only ever appended to REPLAY_ERRORS, never renumbered or removed.
 */
#ifndef REPLAY_ERROR_H
#define REPLAY_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define REPLAY_MUST_CHECK __attribute__((warn_unused_result))
#define REPLAY_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define REPLAY_MUST_CHECK
#define REPLAY_PRINTF(f, a)
#endif

/* X(name, value, text): the one list from which the enum and the texts are made. */
#define REPLAY_ERRORS(X)                                                  \
    X(OK, 0, "success")                                                   \
    X(EINVAL, -1, "invalid argument")                                     \
    X(ENOMEM, -2, "out of memory")                                        \
    X(ECONFIG, -3, "bad configuration")                                   \
    X(EIO, -4, "input/output error")                                      \
    X(EFORMAT, -5, "malformed data")                                      \
    X(ETOOBIG, -6, "size limit exceeded")                                 \
    X(ENOTFOUND, -7, "not found")                                         \
    X(EEXIST, -8, "already exists")                                       \
    X(ETIMEDOUT, -9, "timed out")                                         \
    X(ECONN, -10, "connection failed")                                    \
    X(EAUTH, -11, "authentication or permission refused")                 \
    X(EHTTP, -12, "HTTP error")                                           \
    X(ECANCELED, -13, "canceled by shutdown")                             \
    X(EINTEGRITY, -14, "integrity check failed")                          \
    X(EUNSUPPORTED, -15, "not supported")                                 \
    X(EAGAIN, -16, "temporary failure, try again")                        \
    X(EBADKEY, -17, "wrong key")                                          \
    X(EPROTO, -18, "protocol error")                                      \
    X(EBUSY, -19, "resource busy")                                        \
    X(EUNSAFE, -20, "unsafe name or path")                                \
    X(ENOAPI, -21, "the server does not offer this API")

enum replay_code {
#define REPLAY_ERR_ENUM(name, value, text) REPLAY_##name = (value),
    REPLAY_ERRORS(REPLAY_ERR_ENUM)
#undef REPLAY_ERR_ENUM
};

#define REPLAY_ERR_MSG_LEN 512

struct replay_err {
    int code;      /* 0 or a REPLAY_E* code */
    int sys_errno; /* errno saved at the failure, or 0 */
    char msg[REPLAY_ERR_MSG_LEN];
};

/* Static text of a code ("unknown error" for a value not in the list). */
const char *replay_strerror(int code);
/* Symbolic name of a code, e.g. "REPLAY_EIO". */
const char *replay_err_name(int code);

/* Sets err (if it holds no error yet) and returns `code`, so callers can write
 * `return replay_err_set(err, REPLAY_EIO, "open %s: %s", path, strerror(e));`. */
int replay_err_set(struct replay_err *err, int code, const char *fmt, ...)
    REPLAY_PRINTF(3, 4);
/* Like replay_err_set, and appends ": <strerror(sys_errno)>" and saves it. */
int replay_err_sys(struct replay_err *err, int code, int sys_errno, const char *fmt, ...)
    REPLAY_PRINTF(4, 5);
/* Prefixes an existing message with context ("upload x: " + old message). */
void replay_err_prefix(struct replay_err *err, const char *fmt, ...) REPLAY_PRINTF(2, 3);
void replay_err_clear(struct replay_err *err);

#endif
