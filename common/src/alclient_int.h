/*
 * alclient (internal): the parts of the REST client that do no I/O, so the unit
 * tests and the curl side share them: URL building with upstream's encoding
 * (al-rest-api.md §2.1), the response envelope (§3), and how an HTTP status is
 * classified (§2.4, decisions.md §7). Transport failures, their classification
 * and the back-off are the http module's (http_int.h).
 *
 * Nothing here talks to the network or keeps state; every function is
 * thread-safe. Strings built into a `struct replay__http_buf` are owned by it.
 */
#ifndef REPLAY_ALCLIENT_INT_H
#define REPLAY_ALCLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http_int.h"
#include "replay/error.h"

/* Python urllib.parse.quote(s) (safe='/') appended to b: letters, digits,
 * "_.-~" and "/" stay, every other byte becomes %XX (upper-case hex). */
REPLAY_MUST_CHECK int replay__alclient_quote(struct replay__http_buf *b, const char *s);

/* A path argument (an ID, a collection name) as it reaches the wire. Upstream
 * puts it in verbatim and requests then re-quotes what a URL cannot hold; this
 * does the same (bytes outside `A-Za-z0-9 -._~!$&'()*+,:;=@[]` become %XX). An
 * argument that would change the URL's structure is refused with REPLAY_EUNSAFE:
 * empty, ".", "..", or containing '/', '?', '#' or '%'. */
REPLAY_MUST_CHECK int replay__alclient_segment(struct replay__http_buf *b, const char *s);
/* True when replay__alclient_segment() would refuse s. */
bool replay__alclient_segment_unsafe(const char *s);

/* One query parameter: `value` NULL leaves it out, "" writes the bare key. */
struct replay__alclient_param {
    const char *key;
    const char *value;
};

/* host + "/api/v4/" + segments joined by "/" + "/" [+ "?" + params]. Trailing '/'
 * of `host` are dropped. `root` true builds "<host>/api/" (segments ignored).
 * Returns 0, REPLAY_EUNSAFE (bad segment) or REPLAY_ETOOBIG. */
REPLAY_MUST_CHECK int replay__alclient_url(struct replay__http_buf *b, const char *host, bool root,
                                           const char *const *segments, size_t n_segments,
                                           const struct replay__alclient_param *params,
                                           size_t n_params);

/* The parsed response envelope. `root` owns everything; `response` and
 * `message` borrow from it. `valid` is false when the body is not a JSON object
 * holding "api_response" or "api_error_message". */
struct replay__alclient_envelope {
    json_t *root;
    json_t *response;    /* api_response, NULL when absent */
    const char *message; /* api_error_message, "" when absent or not a string */
    long long status;    /* api_status_code, -1 when absent */
    bool valid;
};

/* Never fails: a body that is not an envelope gives valid == false. */
void replay__alclient_envelope_parse(const char *body, size_t len,
                                     struct replay__alclient_envelope *env);
void replay__alclient_envelope_free(struct replay__alclient_envelope *env);

/* What one HTTP exchange that got a status line means. */
enum replay__alclient_verdict {
    REPLAY__AL_OK,    /* success: use the body */
    REPLAY__AL_RETRY, /* transient: back off and send again */
    REPLAY__AL_FAIL,  /* permanent: report `code` */
};

/* Classifies an HTTP answer. `envelope_valid`/`message` describe the body (a
 * non-envelope body passes false/""). `missing_403` marks the calls where
 * upstream answers 403 for a missing document (bundle download, set complete:
 * §11 B12); there a 403 that is not a role refusal ("Access Denied (...") maps to
 * REPLAY_ENOTFOUND. A 404 whose message starts "Api does not exist" is not a
 * missing document but a missing route (ui.allow_replay off, a wrong host
 * path): REPLAY_ENOAPI. On FAIL and RETRY *code gets the REPLAY_E* to report. */
enum replay__alclient_verdict replay__alclient_classify_status(long status, bool envelope_valid,
                                                               const char *message,
                                                               bool missing_403, int *code);

/* True for the collections the search endpoint serves for Replay, the queue
 * types, the checkpoint types, the replay-state indices, the list collections. */
bool replay__alclient_is_search_index(const char *s);
bool replay__alclient_is_queue_type(const char *s);
bool replay__alclient_is_state_index(const char *s);
bool replay__alclient_is_list(const char *s);

/* One request, as the call functions describe it to the transport (alclient.c). */
struct replay__alclient_req {
    const char *method;                          /* "GET", "POST" or "PUT" */
    bool root;                                   /* "/api/" instead of "/api/v4/..." */
    const char *const *segments;                 /* path arguments after /api/v4/ */
    size_t n_segments;
    const struct replay__alclient_param *params; /* query string */
    size_t n_params;
    const json_t *body;     /* sent as json.dumps would; NULL = no body (POST: empty) */
    bool upload;            /* raw body read from upload_fd (upload_size bytes) */
    int upload_fd;
    uint64_t upload_size;
    bool download;          /* a 2xx body goes to download_fd, not to memory */
    int download_fd;
    uint64_t *downloaded;   /* bytes written (download) */
    bool missing_403;       /* 403 means "no such document" (B12) */
};

struct replay_alclient;

/* Sends `r` with retries. For JSON calls (not `download`), *env holds the parsed
 * envelope on success, where api_response is present; the caller frees it with
 * replay__alclient_envelope_free() (also after a failure). */
REPLAY_MUST_CHECK int replay__alclient_request(struct replay_alclient *c,
                                               const struct replay__alclient_req *r,
                                               struct replay__alclient_envelope *env,
                                               struct replay_err *err);

/* A printable, one-line excerpt of an arbitrary body (or a server's message) for an
 * error message: control characters fold into a space, bytes that are not UTF-8
 * become '?', a cut ends with "...". */
void replay__alclient_excerpt(const char *body, size_t len, char *out, size_t outsz);

#endif
