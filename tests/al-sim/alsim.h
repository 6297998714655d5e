/*
 * alsim: the server side of al-sim, a test Assemblyline REST API v4
 * (shared/spec/al-rest-api.md §12). Internal to tests/al-sim.
 *
 * One `struct alsim` per process: configuration, storage (store.h, queue.h),
 * sessions, fault injection, deep-paging snapshots and a request log. HTTP is
 * libmicrohttpd with one thread per connection, so long polls and slow
 * transfers run side by side; `stopping` plus the stop condition variable make
 * every wait end promptly at shutdown.
 *
 * A request (struct alsim_req) is routed and authenticated when its headers
 * arrive, its body is collected (in memory up to max_json_body, or streamed to a
 * temp file for bundle imports), then its handler fills a struct alsim_resp.
 * Every JSON answer goes through alsim_reply(): the Assemblyline envelope with
 * api_status_code equal to the HTTP status.
 *
 * Ownership: handlers own what they allocate; alsim_reply() takes the reference
 * to api_response. Responses own their body (malloc'd) or file descriptor.
 */
#ifndef ALSIM_ALSIM_H
#define ALSIM_ALSIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "query.h"
#include "queue.h"
#include "sort.h"
#include "store.h"

#define ALSIM_VERSION_DEFAULT "4.6.0.dev0"
/* api_server_version of every envelope (set once at start). */
extern const char *alsim_server_version;
#define ALSIM_MAX_HEADERS 8
#define ALSIM_MAX_PARAMS 3

/* ---- roles (al-rest-api.md §4.4) ---- */
enum alsim_role {
    R_ALERT_VIEW, R_BADLIST_VIEW, R_BUNDLE_DOWNLOAD, R_SAFELIST_VIEW, R_SIGNATURE_VIEW,
    R_SUBMISSION_VIEW, R_WORKFLOW_VIEW, R_HEURISTIC_VIEW, R_RETROHUNT_VIEW, R_ARCHIVE_VIEW,
    R_ALERT_MANAGE, R_BADLIST_MANAGE, R_SAFELIST_MANAGE, R_SUBMISSION_CREATE,
    R_REPLAY_TRIGGER, R_SIGNATURE_MANAGE, R_REPLAY_SYSTEM, R_SIGNATURE_IMPORT,
    R_WORKFLOW_MANAGE, R_ADMINISTRATION, R_APIKEY_ACCESS, R_COUNT
};
#define ROLE(r) (1u << (r))

const char *alsim_role_name(enum alsim_role r);
/* Mask of a comma-separated role list; unknown names are ignored. */
uint32_t alsim_roles_mask(const char *list);

struct alsim_user {
    char *name, *key_name, *secret;
    char *acl;          /* API key ACL letters (R, W, E) */
    bool admin;         /* account type admin (else user) */
    uint32_t roles;     /* effective roles: account roles ∩ key roles */
    int64_t *quota_ts;  /* start times (monotonic ms) of the quota slots held,
                           api_quota of them at most; under sim->mu */
    int quota_n;
};

enum alsim_mode { ALSIM_INTENDED, ALSIM_UPSTREAM };

struct alsim_config {
    const char *data_dir;
    const char *bind;
    int port;
    enum alsim_mode mode;
    struct alsim_user *users;
    size_t n_users;
    int64_t long_poll_ms;
    int64_t session_duration_s;
    const char *fqdn;
    const char *server_version;
    bool enforce_classification;
    int gzip_level;           /* of created bundles' tar.gz (GNU tar's gzip: 6) */
    int api_quota;            /* concurrent calls per user (upstream: 10), 0 = unlimited */
    bool read_only;
    bool allow_replay;
    bool validate_session_ip;
    bool validate_session_ua;
    size_t max_json_body;
    uint64_t max_import_body;
    const char *ready_file;
    const char *tls_cert;     /* PEM files: serve HTTPS when both are set */
    const char *tls_key;
    char **faults;
    size_t n_faults;
};

struct alsim_faults;
struct alsim_sessions;
struct alsim_snapshots;
struct alsim_reqlog;

struct alsim {
    struct alsim_config cfg;
    struct alsim_store *store;
    struct alsim_queues *queues;
    struct alsim_sessions *sessions;
    struct alsim_faults *faults;
    struct alsim_snapshots *snaps;
    struct alsim_reqlog *reqlog;
    pthread_mutex_t mu;       /* quota slots, stop waits, live requests */
    pthread_cond_t stop_cv;
    pthread_mutex_t import_mu;
    atomic_bool stopping;
    atomic_int inflight;      /* requests being handled (for /_sim/stats) */
    int live;                 /* requests not completed yet (answer unsent), under mu */
    int port;
};

/* ---- requests and responses ---- */
enum alsim_sink { SINK_MEM, SINK_FILE, SINK_DISCARD };

struct alsim_route;
struct alsim_fault;

struct alsim_resp {
    int status;
    char *body;          /* malloc'd */
    size_t len;
    const char *ctype;
    int fd;              /* >= 0: send this file (owned) instead of body */
    uint64_t fd_size;
    char *hdr_name[ALSIM_MAX_HEADERS], *hdr_value[ALSIM_MAX_HEADERS];
    int nhdr;
    bool drop;           /* close the connection without an answer */
};

struct alsim_req {
    struct alsim *sim;
    void *conn;                      /* struct MHD_Connection */
    char method[16];
    char *path;
    char *raw_uri;
    const struct alsim_route *route;
    char *params[ALSIM_MAX_PARAMS];  /* path parameters, decoded */
    struct alsim_user *user;
    uint32_t roles;
    int64_t now_ms;
    enum alsim_sink sink;
    char *body;
    size_t body_len, body_cap;
    bool body_too_big, body_error;
    int body_fd;
    char body_path[4200];
    uint64_t body_size;
    struct alsim_resp early;         /* answer decided at header time */
    bool has_early;
    struct alsim_fault *fault;       /* copy of the fault to apply, or NULL */
    bool quota_held;
    bool started;
};

typedef void (*alsim_handler)(struct alsim_req *r, struct alsim_resp *out);

/* Envelope answer. api_response: taken (NULL means ""); fmt NULL means "". */
void alsim_reply(struct alsim_resp *out, int status, json_t *api_response, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 403 as Assemblyline's 403 handler words it: "Access Denied (<path>) [<why>]". */
void alsim_reply_denied(struct alsim_req *r, struct alsim_resp *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 500 "Internal Server Error" (what an unhandled exception gives upstream). */
void alsim_reply_500(struct alsim_resp *out);
/* A raw (non-envelope) body; takes `body` (malloc'd). */
void alsim_reply_raw(struct alsim_resp *out, int status, const char *ctype, char *body, size_t len);
void alsim_resp_header(struct alsim_resp *out, const char *name, const char *value);
void alsim_resp_clear(struct alsim_resp *r);

/* The request body as JSON, as Flask's request.json: NULL after filling `out` with
 * the 415-as-200 envelope (no JSON content type) or the generic 400. */
json_t *alsim_req_json(struct alsim_req *r, struct alsim_resp *out);
/* Query-string argument: NULL if absent, "" for a bare key. */
const char *alsim_req_arg(struct alsim_req *r, const char *name);
/* Request header value or NULL. */
const char *alsim_req_header(struct alsim_req *r, const char *name);
/* Calls fn for each value of a (repeatable) query argument. */
void alsim_req_args_each(struct alsim_req *r, const char *name,
                         void (*fn)(const char *value, void *ud), void *ud);
/* Sleeps up to ms, returning early (false) when the server stops. */
bool alsim_sleep_ms(struct alsim *sim, int64_t ms);
/* JSON text of a value (compact, ASCII, sorted keys: Flask's jsonify). */
char *alsim_json_text(const json_t *v);

/* ---- routing and authentication (router.c, auth.c) ---- */
#define ROUTE_AUTH 0x1u     /* api_login */
#define ROUTE_WRITE 0x2u    /* refused in read-only mode */
#define ROUTE_REPLAY 0x4u   /* only when ui.allow_replay */
#define ROUTE_SIM 0x8u      /* /_sim/ test hooks: no auth, no faults */
#define ROUTE_FILE 0x10u    /* stream the body to a temp file */

struct alsim_route {
    const char *methods;   /* "GET,POST" */
    const char *pattern;   /* "/api/v4/search/ * /" with '*' for one segment */
    alsim_handler fn;
    const char *roles;     /* any of these (comma list), or NULL */
    unsigned flags;
};

/* Finds the route for method + path. Returns 0 (found, params set, malloc'd),
 * 404, 405 (allowed methods in allow[]) or 308 (the path lacks its '/'). */
int alsim_route_find(struct alsim *sim, const char *method, const char *path,
                     const struct alsim_route **route, char *params[ALSIM_MAX_PARAMS],
                     char *allow, size_t allow_len);

int alsim_sessions_new(struct alsim_sessions **out);
void alsim_sessions_free(struct alsim_sessions *s);
/* Forgets every login session (their cookies then answer 401 "Session expired"). */
void alsim_sessions_clear(struct alsim_sessions *s);
/* Authenticates a request of an api_login route; on failure fills r->early. */
bool alsim_auth_request(struct alsim_req *r);
/* Concurrent-call quota, as Assemblyline's UserQuotaTracker keeps it: a call
 * takes a slot stamped with its start unless the user already holds api_quota
 * slots (slots older than 120 s are dropped first); then it answers 503. Ending
 * a call frees the oldest slot, and so does a refused call (upstream ends the
 * quota in every answer it makes, the 503 included). False (and r->early = the
 * 503) when refused. */
bool alsim_quota_enter(struct alsim_req *r);
/* Ends the call's slot once (its answer is made); later calls do nothing. */
void alsim_quota_leave(struct alsim_req *r);
/* Slots a user holds now (for /_sim/stats). */
int alsim_quota_slots(struct alsim *sim, struct alsim_user *u);

/* ---- faults (fault.c) ---- */
enum alsim_fault_kind { FAULT_HTTP, FAULT_DROP, FAULT_STALL, FAULT_STALL_BODY,
                        FAULT_TRUNCATE, FAULT_SLOW };
enum alsim_fault_body { FBODY_JSON, FBODY_HTML, FBODY_TEXT };

struct alsim_fault {
    enum alsim_fault_kind kind;
    int status;
    enum alsim_fault_body body;
    char message[256];
    char path[256];
    char method[16];
    long skip, count;      /* count < 0: forever */
    long ms;
    long rate;             /* bytes per second for FAULT_SLOW */
    long hits;
};

int alsim_faults_new(struct alsim_faults **out);
void alsim_faults_free(struct alsim_faults *f);
/* Parses "kind=503,count=3,path=/api/v4/search/" and adds it. 0 or -1 with err. */
int alsim_faults_add(struct alsim_faults *f, const char *spec, char err[ALSIM_ERRLEN]);
void alsim_faults_clear(struct alsim_faults *f);
/* If a fault applies to this request, returns a malloc'd copy (and counts it). */
struct alsim_fault *alsim_faults_take(struct alsim_faults *f, const char *method,
                                      const char *path);
json_t *alsim_faults_json(struct alsim_faults *f);
/* Fills `out` with the answer of an HTTP fault. */
void alsim_fault_reply(const struct alsim_fault *ft, struct alsim_resp *out);

/* ---- request log (inspect.c) ---- */
int alsim_reqlog_new(struct alsim_reqlog **out);
void alsim_reqlog_free(struct alsim_reqlog *l);
void alsim_reqlog_add(struct alsim_req *r, int status);

/* ---- deep paging snapshots (search.c) ---- */
int alsim_snapshots_new(struct alsim_snapshots **out);
void alsim_snapshots_free(struct alsim_snapshots *s);
size_t alsim_snapshots_count(struct alsim_snapshots *s);

/* ---- shared helpers for handlers ---- */
/* True if `field` of collection `c` is an Elasticsearch date field. */
bool alsim_is_date_field(enum alsim_coll c, const char *field);
/* Parses a query for collection c at r->now_ms. NULL with err on failure. */
struct alsim_query *alsim_parse_for(struct alsim_req *r, enum alsim_coll c, const char *q,
                                    char err[512]);

/* Classification (classification.c): Assemblyline's default TLP levels. */
/* Normalises `text` into out (long form); -1 if unknown (err set as upstream). */
int alsim_classification_normalize(const char *text, char *out, size_t len, char err[512]);
/* The higher of two valid classifications, normalised. */
int alsim_classification_max(const char *a, const char *b, char *out, size_t len,
                             char err[512]);
#define ALSIM_UNRESTRICTED "TLP:CLEAR"

/* ---- handlers ---- */
void alsim_h_versions(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_login(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_logout(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_search(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_queue(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_checkpoint(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_pending(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_replay_request(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_replay_complete(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_bundle_create(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_bundle_import(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_badlist_get(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_safelist_get(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_hashlist_add(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_signature_get(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_signature_add(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_workflow_get(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_workflow_add(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_workflow_update(struct alsim_req *r, struct alsim_resp *out);
void alsim_h_sim(struct alsim_req *r, struct alsim_resp *out);

/* ---- server lifecycle (http.c) ---- */
int alsim_server_start(struct alsim *sim, char err[ALSIM_ERRLEN]);
void alsim_server_stop(struct alsim *sim);

#endif
