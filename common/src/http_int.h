/*
 * http (internal to libreplay): the one libcurl layer, shared by the REST client
 * (alclient) and every curl-based filestore scheme (ftp, ftps, sftp, s3, azure,
 * http). Nothing here is public API: libcurl types stay out of
 * common/include/replay/.
 *
 * What it owns:
 *  - libcurl's global initialisation, done once per process (pthread_once), so
 *    any number of clients and stores can live in one process and one thread;
 *  - a handle (struct replay__http): one curl easy handle, hence one connection
 *    cache, with the settings every request of its owner shares: connect and
 *    low-speed timeouts, TLS verification and CA file, allowed protocols, user
 *    agent, bandwidth caps, and the cancel token. Proxies come from the usual
 *    environment variables (libcurl reads http_proxy, https_proxy, no_proxy).
 *    Redirects are not followed unless a caller turns them on for a request;
 *  - one transfer at a time on a handle (struct replay__http_xfer): the request
 *    body from memory or from a file (pread, so a rewind re-reads it), or from
 *    a source callback of unknown length (a stream, read once), the
 *    answer to a file descriptor (replay_atomicfile_write_fd(): EINTR and short
 *    writes), to a
 *    capped memory buffer or to a callback, the status line and one wanted
 *    header, progress (replay_progress()) and cancellation (REPLAY_ECANCELED
 *    within a second of the request), and the time spent waiting counted as idle
 *    for the heartbeat (the timeouts bound it);
 *  - the classification of libcurl's failures into REPLAY_E* codes, one table:
 *    refused/reset/truncated connections and DNS failures are REPLAY_ECONN,
 *    stalls REPLAY_ETIMEDOUT (both worth a retry: replay__http_transient()); a
 *    certificate the client refuses, or a login the server refuses,
 *    REPLAY_EAUTH; a failed TLS handshake or an answer that is not the protocol
 *    REPLAY_EPROTO; a missing remote file REPLAY_ENOTFOUND; local failures
 *    REPLAY_EIO; none of those is retried;
 *  - the retry loop (replay__http_retry()): capped exponential back-off with
 *    jitter from one per-thread generator, logged, interruptible by the cancel
 *    token. Callers decide what is worth another attempt.
 * Each user keeps what is its own: the REST client its envelope and status
 * verdicts (al-rest-api.md §2.4), the filestore its per-scheme requests, signing
 * and FTP/SFTP commands.
 *
 * Thread-safety: a handle and its transfers are used by one thread at a time;
 * different handles are independent. Ownership: replay__http_open() returns a
 * handle closed with replay__http_close(); a transfer borrows everything it
 * points to for the duration of replay__http_perform().
 */
#ifndef REPLAY_HTTP_INT_H
#define REPLAY_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "replay/error.h"
#include "replay/lifecycle.h"

/* Bytes of an error answer kept (for its message) when the body is not wanted. */
#define REPLAY__HTTP_ERROR_BODY_KEEP (64u << 10)

/* ---- a growing buffer with a hard cap ------------------------------------- */

/* Appending past `max` fails with REPLAY_ETOOBIG and leaves the buffer as it
 * was. Always NUL-terminated when `p` is not NULL. */
struct replay__http_buf {
    char *p;
    size_t len, cap, max;
    bool overflow; /* replay__http_buf_add_some() dropped bytes past the cap */
};

void replay__http_buf_init(struct replay__http_buf *b, size_t max);
void replay__http_buf_free(struct replay__http_buf *b);
/* Empties the buffer; storage above `keep` bytes is released. */
void replay__http_buf_reset(struct replay__http_buf *b, size_t keep);
/* 0, REPLAY_ETOOBIG (past max) or REPLAY_ENOMEM. */
REPLAY_MUST_CHECK int replay__http_buf_add(struct replay__http_buf *b, const void *data,
                                           size_t n);
REPLAY_MUST_CHECK int replay__http_buf_str(struct replay__http_buf *b, const char *s);
/* Appends what fits below `limit` (and max) and sets `overflow` for the rest: for
 * excerpts, where losing the tail is no error. 0 or REPLAY_ENOMEM. */
int replay__http_buf_add_some(struct replay__http_buf *b, const void *data, size_t n,
                              size_t limit);

/* ---- handles ------------------------------------------------------------------ */

/* Zero fields take the defaults in brackets. Strings are copied. */
struct replay__http_opts {
    const struct replay_cancel *cancel; /* borrowed; must outlive the handle [none] */
    long connect_timeout_ms;            /* per connection attempt [30000] */
    long low_speed_time_s;              /* abort a transfer slower than low_speed_limit */
    long low_speed_limit;               /*   bytes/s for this long [60 s, 1 B/s] */
    bool tls_insecure;                  /* do not verify the peer's certificate */
    const char *ca_file;                /* PEM bundle to verify with [libcurl's store] */
    const char *protocols;              /* libcurl's CURLOPT_PROTOCOLS_STR [http,https] */
    const char *user_agent;             /* ["assemblyline-replay/<version>"] */
    const char *accept_encoding;        /* Accept-Encoding to send and decode [none] */
    uint64_t max_send_speed, max_recv_speed; /* bytes/s [no cap] */
};

struct replay__http;

/* Initialises libcurl once (thread-safe) and makes a handle; *out is NULL on
 * failure (REPLAY_EIO when libcurl cannot start, REPLAY_ENOMEM). */
REPLAY_MUST_CHECK int replay__http_open(const struct replay__http_opts *o,
                                        struct replay__http **out, struct replay_err *err);
/* Closes the connections and frees the handle. NULL does nothing. */
void replay__http_close(struct replay__http *h);
/* The handle's curl easy handle, reset (the connection cache stays) and given
 * the handle's settings: call it before setting up each request. */
CURL *replay__http_easy(struct replay__http *h);
/* The handle's cancel token (may be NULL). */
const struct replay_cancel *replay__http_cancel(const struct replay__http *h);

/* Appends "name: value" to a curl list, or the line `name` as it is when value is
 * NULL (a quote command, "Expect:"). False on ENOMEM, the list unchanged. */
bool replay__http_header_add(struct curl_slist **list, const char *name, const char *value);

/* ---- transfers ------------------------------------------------------------------ */

/* Receives answer bytes; returns 0 to go on or a negative REPLAY_E* code to stop
 * the transfer (replay__http_perform() then returns it, with the reason given
 * to replay__http_xfer_fail(), if any). */
typedef int (*replay__http_sink_fn)(void *ctx, const char *p, size_t n);

/* Gives the next request body bytes: up to n into p, *got set to how many; 0
 * bytes at the end of the body. Returns 0, or a negative REPLAY_E* code to stop
 * the transfer (replay__http_perform() then returns it, with the reason given
 * to replay__http_xfer_fail(), if any). */
typedef int (*replay__http_source_fn)(void *ctx, char *p, size_t n, size_t *got);

/* One request. replay__http_xfer_init() first, then set what applies. */
struct replay__http_xfer {
    const char *url;    /* NULL: set by the caller on the easy handle */
    const char *method; /* NULL: set by the caller; else as replay__http_set_method() */
    struct curl_slist *headers; /* borrowed */
    /* Request body: in_mem (wins) or in_fd, from in_off, in_len bytes; or
     * in_source (wins over both): a stream of unknown length read once, which
     * cannot be rewound (a request that needs a rewind fails), sent with
     * INFILESIZE -1 (chunked on HTTP). */
    const char *in_mem;
    int in_fd;
    uint64_t in_off, in_len;
    replay__http_source_fn in_source;
    void *in_source_ctx;
    /* Answer body. On HTTP only a 2xx body goes to `sink`, else to `out_fd`;
     * other protocols have no status and always use them. What goes to neither
     * goes to `body` (may be NULL: dropped): an HTTP error answer keeps its first
     * REPLAY__HTTP_ERROR_BODY_KEEP bytes, any other answer past body->max fails
     * with REPLAY_ETOOBIG unless body_truncate. */
    replay__http_sink_fn sink;
    void *sink_ctx;
    int out_fd;
    struct replay__http_buf *body;
    bool body_truncate;
    long low_speed_time_s;   /* this request's low-speed time [the handle's] */
    long timeout_ms;         /* the whole request at most this long [no limit] */
    /* Runs even once the handle's cancel token is requested: the clean-up of
     * what a canceled transfer left (bound it with timeout_ms). */
    bool ignore_cancel;
    const char *want_header; /* answer header to capture (any case, no ':') */
    /* What came back. */
    char header_value[256];
    char content_type[128];
    char reason[64]; /* reason phrase of the last HTTP status line */
    long status;     /* the last HTTP status, or FTP/SFTP response code */
    bool http_status; /* an HTTP status line arrived: `status` is HTTP's */
    uint64_t in_sent, out_written;
    /* Internal state of replay__http_perform(). */
    struct replay__http *h;
    uint64_t moved;
    bool canceled;
    int fail_code, fail_errno;
    char fail_why[160];
};

void replay__http_xfer_init(struct replay__http_xfer *x);
/* Records why a sink (or read) stopped the transfer: the first reason wins. */
void replay__http_xfer_fail(struct replay__http_xfer *x, int code, int sys_errno,
                            const char *why);
/* Sets the method on h: GET, HEAD (no body), a body-less other method, or a
 * method with x's request body (sent with its length, or of unknown length from
 * in_source; PUT as libcurl's upload, others with that method's name). */
void replay__http_set_method(CURL *c, const char *method, struct replay__http_xfer *x);
/* Runs the request on the handle's easy handle (replay__http_easy() first). 0
 * when an answer came back, whatever its status; else a REPLAY_E* code with
 * "<what>: <cause>" in err, the cause redacted. */
REPLAY_MUST_CHECK int replay__http_perform(struct replay__http *h, struct replay__http_xfer *x,
                                           const char *what, struct replay_err *err);

/* REPLAY_E* code of a libcurl failure (the table in the comment on top). */
int replay__http_classify(CURLcode rc);
/* True for the transport failures worth another attempt: ECONN, ETIMEDOUT. */
bool replay__http_transient(int code);

/* ---- retries ---------------------------------------------------------------------- */

struct replay__http_retry {
    unsigned max_attempts; /* attempts including the first; 0 = until success or cancel */
    unsigned base_ms;      /* delay before the first retry, before jitter */
    unsigned cap_ms;       /* longest delay */
    const struct replay_cancel *cancel;
};

/* One attempt (`attempt` counts from 1): 0, or a REPLAY_E* code with its message
 * in err and *again set when another attempt may succeed. */
typedef int (*replay__http_attempt_fn)(void *ctx, unsigned attempt, bool *again,
                                       struct replay_err *err);

/* Runs fn until it succeeds, fails for good, uses up max_attempts or is canceled.
 * Before each retry it waits the next step of a replay_backoff from base_ms to
 * cap_ms (backoff.h: doubling, the upper half jitter; idle for the heartbeat,
 * cut short by the cancel token: REPLAY_ECANCELED "...; canceled while waiting
 * to retry") and logs a warning "<message> (<CODE>); retry n in <ms> ms" for the
 * first three retries and every tenth. A success after retries is logged at
 * info level with `what`; giving up adds "(gave up after n attempts)". */
REPLAY_MUST_CHECK int replay__http_retry(const struct replay__http_retry *p, const char *what,
                                         replay__http_attempt_fn fn, void *ctx,
                                         struct replay_err *err);


#endif
