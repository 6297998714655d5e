/*
 * alclient: Replay's client of the Assemblyline REST API v4 (client type `api`).
 *
 * What it is for: every call Replay makes on an Assemblyline server
 * (al-rest-api.md §1 and §9): searches and deep-paging streams, the replay state
 * (bulk pending, complete), the replay queues and checkpoints, bundle download
 * and import, and the badlist/safelist/signature/workflow documents. Requests are
 * the bytes upstream's Python client sends (paths with a trailing '/', Python
 * quote() percent-encoding, bare-key flags, json.dumps bodies,
 * "Content-Type: application/json" on every request), authenticated on every
 * request with X-USER / X-APIKEY (decisions.md §4; `apikey` is "name:secret" and
 * is sent whole). Where upstream is broken (§11) it does what was intended:
 * streams work and report their errors, a checkpoint is read from
 * api_response.checkpoint.
 *
 * What it owns: one handle of the http module (one libcurl easy handle, and so
 * one connection pool) per client, and a response buffer. The libcurl layer
 * (global init once per process, timeouts, TLS, progress, cancel, retries) is
 * shared with the filestore, so a client and a store live in one thread.
 *
 * Errors: 0 or a negative REPLAY_E* code, detail in `err`; the message names the
 * method and URL (credentials masked) and the HTTP status with the server's
 * api_error_message. The codes: 401 and role refusals -> REPLAY_EAUTH, 404 ->
 * REPLAY_ENOTFOUND (so is a 403 on bundle download and set complete, which is
 * how upstream says "no such document", §11 B12, unless it is an "Access
 * Denied" role refusal), a 404 "Api does not exist (...)" -> REPLAY_ENOAPI (the
 * route is missing: ui.allow_replay is off on the server, or the host's path is
 * wrong; the document may well exist, so a caller must not drop its work as if
 * it were gone), 409 -> REPLAY_EEXIST, other statuses -> REPLAY_EHTTP,
 * a 2xx carrying an api_error_message (upstream's 415 answered as 200) or a body
 * that is not what the call expects -> REPLAY_EPROTO, a JSON answer over
 * max_json_bytes -> REPLAY_ETOOBIG, refused/reset/truncated connections ->
 * REPLAY_ECONN, stalls -> REPLAY_ETIMEDOUT, a server certificate that fails
 * verification -> REPLAY_EAUTH, a failed TLS handshake -> REPLAY_EPROTO,
 * shutdown -> REPLAY_ECANCELED.
 * replay_alclient_http_status() and replay_alclient_api_error() give the status
 * and message of the last answer, so callers can act on them.
 *
 * Retries (decisions.md §7): connection failures, stalls, 502, 503 (except the
 * daily quota) and 504 are retried with capped exponential back-off and jitter,
 * for `retry.max_attempts` attempts (0 = forever, what the services use); a
 * cancel token ends the wait at once. Other statuses (every 4xx, 500) are never
 * retried. Every request has a connect timeout and a low-speed timeout; the
 * default low-speed time (120 s) is far above the server's 30 s queue long poll;
 * bundle calls allow 30 minutes of silence. Time spent waiting on the server
 * counts as idle for the heartbeat (the timeouts bound it), bytes moved count as
 * progress (replay_progress()). Redirects are not followed (they would carry the API key elsewhere).
 *
 * Memory: JSON answers are held in memory up to `max_json_bytes`; bundles never
 * are (download writes to a file descriptor as bytes arrive, import reads the
 * file as curl sends it).
 *
 * Secrets: the API key is registered with redact at open and never appears in a
 * message or log line; so is a password in the host URL.
 *
 * Thread-safety: a client is used by one thread at a time (one client per
 * thread). Different clients may run concurrently.
 *
 * Ownership: strings returned through `char **` out-parameters are malloc'd and
 * freed by the caller with free(); they are NULL on failure.
 */
#ifndef REPLAY_ALCLIENT_H
#define REPLAY_ALCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/config.h"
#include "replay/error.h"
#include "replay/lifecycle.h"

struct replay_alclient;

#define REPLAY_ALCLIENT_CONNECT_TIMEOUT_MS 10000u
#define REPLAY_ALCLIENT_LOW_SPEED_TIME_S 120u
#define REPLAY_ALCLIENT_LOW_SPEED_LIMIT 1u
#define REPLAY_ALCLIENT_BUNDLE_LOW_SPEED_TIME_S 1800u
#define REPLAY_ALCLIENT_BACKOFF_BASE_MS 250u
#define REPLAY_ALCLIENT_BACKOFF_CAP_MS 8000u
#define REPLAY_ALCLIENT_MAX_JSON_BYTES (64u << 20)
/* A stream page holds exactly this many items when more may follow (§5.2). */
#define REPLAY_ALCLIENT_STREAM_PAGE 100

/* Zero fields take the defaults above. */
struct replay_alclient_retry {
    unsigned max_attempts; /* attempts per call including the first; 0 = forever */
    unsigned base_ms;      /* delay before the first retry (before jitter) */
    unsigned cap_ms;       /* longest delay */
};

/* Plain data filled by the caller; every zero field means "the default", so a
 * zeroed struct plus host/user/apikey is a working configuration. Borrowed for
 * the duration of replay_alclient_open() only, except `cancel`, which must
 * outlive the client. */
struct replay_alclient_options {
    const char *host;   /* "https://al.example:443"; trailing '/' dropped */
    const char *user;   /* X-USER */
    const char *apikey; /* X-APIKEY, "name:secret" */
    bool tls_insecure;  /* true = do not verify the server's certificate (verify: false) */
    const char *ca_file;         /* PEM bundle to verify with; NULL = $REQUESTS_CA_BUNDLE,
                                    then $CURL_CA_BUNDLE (as upstream's requests), then
                                    the system's default */
    unsigned connect_timeout_ms; /* per connection attempt */
    unsigned low_speed_time_s;   /* abort a transfer slower than low_speed_limit ... */
    unsigned low_speed_limit;    /* ... bytes/s for this long */
    unsigned bundle_low_speed_time_s; /* the same for bundle download/import: the
                                         server may build or unpack a large bundle
                                         for minutes before it answers */
    struct replay_alclient_retry retry;
    const struct replay_cancel *cancel; /* NULL = never canceled */
    size_t max_json_bytes;              /* cap on one JSON answer */
    const char *user_agent;             /* NULL = "assemblyline-replay/<version>" */
};

/* Zeroes *o and fills host, user, apikey and tls_insecure from a config section.
 * The strings stay borrowed from `cc`. */
void replay_alclient_options_from_config(struct replay_alclient_options *o,
                                         const struct replay_client_config *cc);

/* Checks the options and prepares the client; no request is sent. Logs one
 * warning when TLS verification is off. Caller closes *out with
 * replay_alclient_close(); *out is NULL on failure (REPLAY_EINVAL for a missing
 * or malformed host/user/apikey, REPLAY_ENOMEM, REPLAY_EIO if curl cannot start). */
REPLAY_MUST_CHECK int replay_alclient_open(const struct replay_alclient_options *o,
                                           struct replay_alclient **out,
                                           struct replay_err *err);
/* Closes the connections and frees the client. NULL does nothing. */
void replay_alclient_close(struct replay_alclient *c);

/* HTTP status of the last answer of the last call (0 when none came back). */
int replay_alclient_http_status(const struct replay_alclient *c);
/* api_error_message of the last answer ("" when none). Borrowed until the next call. */
const char *replay_alclient_api_error(const struct replay_alclient *c);

/* GET /api/: checks the server answers, accepts the credentials and offers v4. */
REPLAY_MUST_CHECK int replay_alclient_check_api(struct replay_alclient *c,
                                                struct replay_err *err);

/* ---- search (§5.1) ---- */

#define REPLAY_ALCLIENT_ROWS_OMIT (-1)

/* One search. Keys are sent in upstream's order: fl, offset, rows, sort, filters,
 * query, track_total_hits. */
struct replay_alclient_search {
    const char *query;            /* required, non-empty */
    const char *const *filters;   /* NULL = key left out; else n_filters strings (0 sends []) */
    size_t n_filters;
    const char *fl;               /* NULL = left out */
    const char *sort;             /* NULL = left out */
    long long offset;             /* always sent */
    long long rows;               /* REPLAY_ALCLIENT_ROWS_OMIT = left out */
    bool track_total_hits;        /* sent (true) only when set */
};

/* A page of results. Items are JSON text in Python json.dumps form (", " and
 * ": " separators, ASCII escapes, the server's key order): the bytes a queue
 * message carries. */
struct replay_alclient_page {
    long long offset;
    long long rows;
    long long total;            /* -1 when the server answered null */
    char **items;               /* n_items strings */
    size_t n_items;
    char *next_deep_paging_id;  /* NULL when absent */
};

/* POST /api/v4/search/<index>/ (index: alert, submission, badlist, safelist,
 * signature, workflow). Fills *page (zeroed first); release it with
 * replay_alclient_page_clear(), also after a failure. */
REPLAY_MUST_CHECK int replay_alclient_search(struct replay_alclient *c, const char *index,
                                             const struct replay_alclient_search *s,
                                             struct replay_alclient_page *page,
                                             struct replay_err *err);
void replay_alclient_page_clear(struct replay_alclient_page *page);

/* Called for each streamed item; `item` (JSON text as in a page, `len` bytes) is
 * borrowed for the call only. Returns 0 to go on, or a negative REPLAY_E* code
 * to stop the stream, which then returns that code (a positive value counts as
 * REPLAY_EINVAL). */
typedef int (*replay_alclient_item_fn)(void *ctx, const char *item, size_t len);

/* Deep-paging stream (§5.2, intended behaviour): pages of rows "100" from
 * deep_paging_id "*", following next_deep_paging_id until a page is not full.
 * Every item goes to `fn` in server order. Errors end the stream and are
 * returned (never silent). A full page without next_deep_paging_id is
 * REPLAY_EPROTO (upstream would restart and loop forever); so is a server that
 * goes round: a next_deep_paging_id it sent before (found with constant memory,
 * within two turns of the cycle), or a full page whose items are exactly those
 * of the page before (a server that ignores deep_paging_id). Items of the pages
 * before the error have been delivered. An `fl` without an identifying field
 * could make two pages alike: Replay's always hold the ID. *count (optional)
 * gets the number of items delivered, also on failure. */
REPLAY_MUST_CHECK int replay_alclient_stream(struct replay_alclient *c, const char *index,
                                             const char *query,
                                             const char *const *filters, size_t n_filters,
                                             const char *fl, replay_alclient_item_fn fn,
                                             void *ctx, uint64_t *count,
                                             struct replay_err *err);

/* ---- replay state (§5.5-§5.7); index: alert or submission ---- */

/* POST /api/v4/replay/pending/. *count (optional) gets the documents changed,
 * or -1 when the server reports the update failed. */
REPLAY_MUST_CHECK int replay_alclient_set_bulk_pending(struct replay_alclient *c,
                                                       const char *index, const char *query,
                                                       const char *const *filters,
                                                       size_t n_filters, long long max_docs,
                                                       long long *count,
                                                       struct replay_err *err);
/* POST /api/v4/replay/<index>/<id>/. A missing document is REPLAY_ENOTFOUND (the
 * server's 403, §11 B12). *success (optional) is the server's answer. */
REPLAY_MUST_CHECK int replay_alclient_set_complete(struct replay_alclient *c,
                                                   const char *index, const char *id,
                                                   bool *success, struct replay_err *err);
/* GET /api/v4/replay/<index>/<id>/: marks the document `requested` (a user's
 * action, §5.7; Replay itself never calls it). */
REPLAY_MUST_CHECK int replay_alclient_request_replay(struct replay_alclient *c,
                                                     const char *index, const char *id,
                                                     struct replay_err *err);

/* ---- replay queues and checkpoints over REST (§5.3, §5.4) ---- */

/* GET /api/v4/replay/queue/<type>/ (type: alert, submission, badlist, safelist,
 * signature, workflow, file). Long poll (up to 30 s upstream). *message gets the
 * message as JSON text (json.dumps form), or NULL when the server answered null. */
REPLAY_MUST_CHECK int replay_alclient_get_message(struct replay_alclient *c, const char *type,
                                                  char **message, struct replay_err *err);
/* PUT /api/v4/replay/queue/<type>/ with `message` (JSON text: object or string),
 * re-encoded as json.dumps would. */
REPLAY_MUST_CHECK int replay_alclient_put_message(struct replay_alclient *c, const char *type,
                                                  const char *message,
                                                  struct replay_err *err);
/* GET /api/v4/replay/checkpoint/<type>/ (badlist, safelist, signature,
 * workflow): *checkpoint gets api_response.checkpoint ("*" when none is stored).
 * Upstream servers answer 400 here (§11 B2): REPLAY_EHTTP with status 400. */
REPLAY_MUST_CHECK int replay_alclient_get_checkpoint(struct replay_alclient *c,
                                                     const char *type, char **checkpoint,
                                                     struct replay_err *err);
/* PUT /api/v4/replay/checkpoint/<type>/ with {"checkpoint": value}. A server that
 * answers with a checkpoint instead of {"success": true} did not store it
 * (upstream §11 B2): REPLAY_EUNSUPPORTED. */
REPLAY_MUST_CHECK int replay_alclient_put_checkpoint(struct replay_alclient *c,
                                                     const char *type, const char *checkpoint,
                                                     struct replay_err *err);

/* ---- bundles (§5.8, §5.9) ---- */

/* GET /api/v4/bundle/<id>/[?use_alert]: streams the CaRT bytes to `fd` (borrowed)
 * from its current offset. Nothing is written unless the server answers 2xx
 * with a body that starts like a CaRT file; an error answer is REPLAY_ENOTFOUND
 * (403/404: no such document) or another code as above. A retried or failed
 * download rewinds and truncates `fd` to where it started (an fd that cannot
 * seek cannot be retried once bytes were written: REPLAY_EIO, and keeps what was
 * written). *bytes (optional) gets the size written. */
REPLAY_MUST_CHECK int replay_alclient_bundle_download(struct replay_alclient *c, const char *id,
                                                      bool use_alert, int fd, uint64_t *bytes,
                                                      struct replay_err *err);

/* Query options of an import, written in upstream's order. */
struct replay_alclient_import {
    bool exist_ok;                        /* bare "exist_ok" (Replay always sets it) */
    const char *min_classification;       /* NULL or "" = left out */
    const char *const *rescan_services;   /* n_rescan names, comma-joined; 0 = left out */
    size_t n_rescan;
    bool allow_incomplete;                /* bare "allow_incomplete" */
    const char *reclassification;         /* NULL or "" = left out (upstream ignores it) */
    bool to_ingest;                       /* "to_ingest=True" (Replay always sets it) */
};

/* POST /api/v4/bundle/?<options> with the whole regular file `fd` (borrowed; read
 * with pread from offset 0, so retries resend it) as the raw body. 409 (exists,
 * no exist_ok) is REPLAY_EEXIST; a refused bundle is REPLAY_EHTTP with status 400. */
REPLAY_MUST_CHECK int replay_alclient_bundle_import(struct replay_alclient *c, int fd,
                                                    const struct replay_alclient_import *o,
                                                    struct replay_err *err);

/* ---- badlist, safelist, signature, workflow (§5.10-§5.13) ---- */

/* GET /api/v4/<list>/<id>/ (list: badlist, safelist, signature, workflow).
 * *doc gets the document as JSON text. Not found is REPLAY_ENOTFOUND (404); a
 * safelist ID of the wrong length is REPLAY_EHTTP with status 400. */
REPLAY_MUST_CHECK int replay_alclient_list_get(struct replay_alclient *c, const char *list,
                                               const char *id, char **doc,
                                               struct replay_err *err);
/* Adds or updates `doc` (JSON object text, sent as json.dumps would):
 * badlist and safelist PUT /api/v4/<list>/, signature POST
 * /api/v4/signature/add_update/?dedup_name=true. *answer (optional) gets
 * api_response as JSON text. */
REPLAY_MUST_CHECK int replay_alclient_list_add_update(struct replay_alclient *c,
                                                      const char *list, const char *doc,
                                                      char **answer, struct replay_err *err);
/* PUT /api/v4/workflow/ (the server picks a new ID, §5.13). */
REPLAY_MUST_CHECK int replay_alclient_workflow_add(struct replay_alclient *c, const char *doc,
                                                   char **answer, struct replay_err *err);
/* POST /api/v4/workflow/<id>/. */
REPLAY_MUST_CHECK int replay_alclient_workflow_update(struct replay_alclient *c,
                                                      const char *id, const char *doc,
                                                      char **answer, struct replay_err *err);

#endif
