/* alclient_calls: the REST calls Replay makes (al-rest-api.md §9): request bodies
 * built in upstream's key order, answers checked and handed back as JSON text.
 * The transport (retries, timeouts, streaming) is in alclient.c. */
#include "replay/alclient.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alclient_int.h"
#include "pyjson_int.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- small helpers ---- */

static int bad_arg(struct replay_err *err, const char *call, const char *what)
{
    return replay_err_set(err, REPLAY_EINVAL, "%s: %s", call, what);
}

/* Sets key to a new value; a NULL value (e.g. json_string of invalid UTF-8)
 * counts as a failure. */
static int put(json_t *obj, const char *key, json_t *value)
{
    return json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

static json_t *string_array(const char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++) {
        if (items[i] == NULL || json_array_append_new(a, json_string(items[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static int body_failed(json_t *body, const char *call, struct replay_err *err)
{
    json_decref(body);
    return replay_err_set(err, REPLAY_EINVAL,
                          "%s: cannot build the request (a string is not valid UTF-8, or out "
                          "of memory)", call);
}

/* JSON text of `v` as json.dumps writes it; caller frees. */
static int dump(const json_t *v, char **out, size_t *len, const char *call,
                struct replay_err *err)
{
    *out = replay__pyjson_dumps(v, 0, len);
    if (*out == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "%s: cannot encode the answer", call);
    return 0;
}

static int proto_error(struct replay_err *err, const char *call, const char *what)
{
    return replay_err_set(err, REPLAY_EPROTO, "%s: unexpected answer: %s", call, what);
}

static int parse_doc(const char *text, bool object_only, json_t **out, const char *call,
                     struct replay_err *err)
{
    *out = NULL;
    if (text == NULL)
        return bad_arg(err, call, "no document given");
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "%s: the document is not JSON: %s (line %d)",
                              call, jerr.text, jerr.line);
    if (object_only && !json_is_object(v)) {
        json_decref(v);
        return bad_arg(err, call, "the document is not a JSON object");
    }
    *out = v;
    return 0;
}

/* api_response as text to *answer (when the caller wants it). */
static int give_answer(const struct replay__alclient_envelope *env, char **answer,
                       const char *call, struct replay_err *err)
{
    if (answer == NULL)
        return 0;
    return dump(env->response, answer, NULL, call, err);
}

/* ---- check ---- */

int replay_alclient_check_api(struct replay_alclient *c, struct replay_err *err)
{
    if (c == NULL)
        return bad_arg(err, "check api", "no client");
    struct replay__alclient_req r = {.method = "GET", .root = true};
    struct replay__alclient_envelope env;
    int rc = replay__alclient_request(c, &r, &env, err);
    if (rc == 0) {
        bool v4 = false;
        size_t i;
        json_t *v;
        json_array_foreach(env.response, i, v)
            v4 = v4 || (json_is_string(v) && strcmp(json_string_value(v), "v4") == 0);
        if (!v4)
            rc = proto_error(err, "check api", "the server does not offer API v4");
    }
    replay__alclient_envelope_free(&env);
    return rc;
}

/* ---- search ---- */

static json_t *search_body(const struct replay_alclient_search *s)
{
    json_t *b = json_object();
    int bad = b == NULL;
    if (!bad && s->fl != NULL)
        bad |= put(b, "fl", json_string(s->fl));
    if (!bad)
        bad |= put(b, "offset", json_integer(s->offset));
    if (!bad && s->rows != REPLAY_ALCLIENT_ROWS_OMIT)
        bad |= put(b, "rows", json_integer(s->rows));
    if (!bad && s->sort != NULL)
        bad |= put(b, "sort", json_string(s->sort));
    if (!bad && s->filters != NULL)
        bad |= put(b, "filters", string_array(s->filters, s->n_filters));
    if (!bad)
        bad |= put(b, "query", json_string(s->query));
    if (!bad && s->track_total_hits)
        bad |= put(b, "track_total_hits", json_true());
    if (bad) {
        json_decref(b);
        return NULL;
    }
    return b;
}

static long long int_field(const json_t *obj, const char *key, long long dflt)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v)) {
        char *end = NULL;
        errno = 0;
        long long n = strtoll(json_string_value(v), &end, 10);
        if (errno == 0 && end != json_string_value(v) && *end == '\0')
            return n;
    }
    return dflt;
}

static int search_request(struct replay_alclient *c, const char *index, json_t *body,
                          struct replay__alclient_envelope *env, json_t **items,
                          struct replay_err *err)
{
    const char *segs[] = {"search", index};
    struct replay__alclient_req r = {.method = "POST", .segments = segs, .n_segments = 2,
                                     .body = body};
    int rc = replay__alclient_request(c, &r, env, err);
    if (rc != 0)
        return rc;
    *items = json_object_get(env->response, "items");
    if (!json_is_array(*items))
        return proto_error(err, "search", "no items list in the search result");
    return 0;
}

static int fill_page(const json_t *resp, const json_t *items, struct replay_alclient_page *page,
                     struct replay_err *err)
{
    page->offset = int_field(resp, "offset", 0);
    page->rows = int_field(resp, "rows", 0);
    page->total = int_field(resp, "total", -1);
    json_t *next = json_object_get(resp, "next_deep_paging_id");
    if (json_is_string(next) && (page->next_deep_paging_id = strdup(json_string_value(next))) == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "search: out of memory");
    size_t n = json_array_size(items);
    if (n == 0)
        return 0;
    page->items = calloc(n, sizeof(*page->items));
    if (page->items == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "search: out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = dump(json_array_get(items, i), &page->items[i], NULL, "search", err);
        if (rc != 0)
            return rc;
        page->n_items++;
    }
    return 0;
}

int replay_alclient_search(struct replay_alclient *c, const char *index,
                           const struct replay_alclient_search *s,
                           struct replay_alclient_page *page, struct replay_err *err)
{
    if (page == NULL)
        return bad_arg(err, "search", "no page given");
    memset(page, 0, sizeof(*page));
    page->total = -1;
    if (c == NULL || s == NULL || !replay__alclient_is_search_index(index))
        return bad_arg(err, "search", "unknown index (alert, submission, badlist, safelist, "
                                      "signature or workflow)");
    if (s->query == NULL || s->query[0] == '\0')
        return bad_arg(err, "search", "empty query");
    json_t *body = search_body(s);
    if (body == NULL)
        return body_failed(NULL, "search", err);
    struct replay__alclient_envelope env;
    json_t *items = NULL;
    int rc = search_request(c, index, body, &env, &items, err);
    if (rc == 0)
        rc = fill_page(env.response, items, page, err);
    replay__alclient_envelope_free(&env);
    json_decref(body);
    return rc;
}

void replay_alclient_page_clear(struct replay_alclient_page *page)
{
    if (page == NULL)
        return;
    for (size_t i = 0; i < page->n_items; i++)
        free(page->items[i]);
    free(page->items);
    free(page->next_deep_paging_id);
    memset(page, 0, sizeof(*page));
    page->total = -1;
}

/* ---- stream (deep paging) ---- */

static json_t *stream_body(const char *query, const char *const *filters, size_t n_filters,
                           const char *fl, const char *paging_id)
{
    json_t *b = json_object();
    int bad = b == NULL;
    if (!bad && fl != NULL)
        bad |= put(b, "fl", json_string(fl));
    if (!bad)
        bad |= put(b, "rows", json_string("100"));
    if (!bad)
        bad |= put(b, "deep_paging_id", json_string(paging_id));
    if (!bad && filters != NULL)
        bad |= put(b, "filters", string_array(filters, n_filters));
    if (!bad)
        bad |= put(b, "query", json_string(query));
    if (bad) {
        json_decref(b);
        return NULL;
    }
    return b;
}

/* FNV-1a, to recognise a paging id or a page seen before without keeping it. */
static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

#define FNV_START 14695981039346656037ULL

/* A server that repeats itself would keep a stream going forever (upstream's
 * client loops). Paging ids are checked with Brent's cycle finding over their
 * hashes (constant memory, finds a cycle of any length within two of its
 * turns); a full page whose items are those of the page before (a server that
 * ignores deep_paging_id) is caught directly. */
struct stream_guard {
    uint64_t tortoise; /* hash of an earlier paging id */
    uint64_t power, lam;
    uint64_t last_page; /* digest of the previous full page (0: none) */
};

static void guard_init(struct stream_guard *g)
{
    g->tortoise = fnv1a(FNV_START, "*", 1);
    g->power = 1;
    g->lam = 0;
    g->last_page = 0;
}

/* Records the next paging id and the digest of the full page that came with it;
 * REPLAY_EPROTO when the stream goes round. */
static int guard_check(struct stream_guard *g, const char *next, uint64_t page,
                       struct replay_err *err)
{
    if (page == g->last_page)
        return proto_error(err, "stream", "the same full page came twice (the server "
                                          "ignores deep_paging_id)");
    g->last_page = page;
    uint64_t h = fnv1a(FNV_START, next, strlen(next));
    if (h == g->tortoise) {
        char shown[80];
        replay__alclient_excerpt(next, strlen(next), shown, sizeof(shown));
        return replay_err_set(err, REPLAY_EPROTO, "stream: unexpected answer: "
                              "next_deep_paging_id \"%s\" came again (the stream would "
                              "never end)", shown);
    }
    if (++g->lam == g->power) {
        g->tortoise = h;
        g->power *= 2;
        g->lam = 0;
    }
    return 0;
}

/* Hands every item to fn; *digest gets the digest of the page's items. */
static int deliver(const json_t *items, replay_alclient_item_fn fn, void *ctx, uint64_t *count,
                   uint64_t *digest, struct replay_err *err)
{
    size_t i;
    json_t *item;
    *digest = FNV_START;
    json_array_foreach(items, i, item) {
        char *text = NULL;
        size_t len = 0;
        int rc = dump(item, &text, &len, "stream", err);
        if (rc == 0) {
            *digest = fnv1a(*digest, text, len + 1); /* with the NUL: items stay apart */
            rc = fn(ctx, text, len);
            if (rc > 0)
                rc = REPLAY_EINVAL;
            if (rc != 0)
                replay_err_set(err, rc, "stream: the item handler stopped the stream: %s",
                               replay_strerror(rc));
        }
        free(text);
        if (rc != 0)
            return rc;
        (*count)++;
    }
    return 0;
}

/* After a full page: 1 with the next paging id in *paging_id, or an error. */
static int next_page(const json_t *resp, struct stream_guard *g, uint64_t digest,
                     char **paging_id, struct replay_err *err)
{
    json_t *next = json_object_get(resp, "next_deep_paging_id");
    if (!json_is_string(next))
        return proto_error(err, "stream", "a full page came without next_deep_paging_id");
    int rc = guard_check(g, json_string_value(next), digest, err);
    if (rc != 0)
        return rc;
    if ((*paging_id = strdup(json_string_value(next))) == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "stream: out of memory");
    return 1;
}

/* One page: returns 1 when another page follows (its ID in *paging_id). */
static int stream_page(struct replay_alclient *c, const char *index, json_t *body,
                       replay_alclient_item_fn fn, void *ctx, uint64_t *count,
                       struct stream_guard *g, char **paging_id, struct replay_err *err)
{
    struct replay__alclient_envelope env;
    json_t *items = NULL;
    uint64_t digest = 0;
    int rc = search_request(c, index, body, &env, &items, err);
    if (rc == 0)
        rc = deliver(items, fn, ctx, count, &digest, err);
    if (rc == 0 && json_array_size(items) == REPLAY_ALCLIENT_STREAM_PAGE)
        rc = next_page(env.response, g, digest, paging_id, err);
    replay__alclient_envelope_free(&env);
    return rc;
}

int replay_alclient_stream(struct replay_alclient *c, const char *index, const char *query,
                           const char *const *filters, size_t n_filters, const char *fl,
                           replay_alclient_item_fn fn, void *ctx, uint64_t *count,
                           struct replay_err *err)
{
    uint64_t delivered = 0;
    if (count != NULL)
        *count = 0;
    if (c == NULL || fn == NULL || !replay__alclient_is_search_index(index))
        return bad_arg(err, "stream", "no client, no item handler, or an unknown index");
    if (query == NULL || query[0] == '\0')
        return bad_arg(err, "stream", "empty query");
    struct stream_guard guard;
    guard_init(&guard);
    char *paging_id = strdup("*");
    int rc = paging_id == NULL ? replay_err_set(err, REPLAY_ENOMEM, "stream: out of memory") : 1;
    while (rc == 1) {
        json_t *body = stream_body(query, filters, n_filters, fl, paging_id);
        free(paging_id);
        paging_id = NULL;
        if (body == NULL)
            return body_failed(NULL, "stream", err);
        rc = stream_page(c, index, body, fn, ctx, &delivered, &guard, &paging_id, err);
        json_decref(body);
        if (count != NULL)
            *count = delivered;
    }
    free(paging_id);
    return rc;
}

/* ---- replay state ---- */

int replay_alclient_set_bulk_pending(struct replay_alclient *c, const char *index,
                                     const char *query, const char *const *filters,
                                     size_t n_filters, long long max_docs, long long *count,
                                     struct replay_err *err)
{
    if (count != NULL)
        *count = -1;
    if (c == NULL || !replay__alclient_is_state_index(index))
        return bad_arg(err, "set bulk pending", "index must be alert or submission");
    if (query == NULL || query[0] == '\0' || max_docs < 0)
        return bad_arg(err, "set bulk pending", "empty query or negative max_docs");
    json_t *b = json_object();
    int bad = b == NULL;
    if (!bad)
        bad |= put(b, "index", json_string(index));
    if (!bad)
        bad |= put(b, "query", json_string(query));
    if (!bad)
        bad |= put(b, "filter_queries", string_array(filters, filters ? n_filters : 0));
    if (!bad)
        bad |= put(b, "max_docs", json_integer(max_docs));
    if (bad)
        return body_failed(b, "set bulk pending", err);
    const char *segs[] = {"replay", "pending"};
    struct replay__alclient_req r = {.method = "POST", .segments = segs, .n_segments = 2,
                                     .body = b};
    struct replay__alclient_envelope env;
    int rc = replay__alclient_request(c, &r, &env, err);
    json_t *n = json_object_get(env.response, "count");
    if (rc == 0 && count != NULL && json_is_integer(n))
        *count = json_integer_value(n);
    replay__alclient_envelope_free(&env);
    json_decref(b);
    return rc;
}

static int state_call(struct replay_alclient *c, const char *method, const char *index,
                      const char *id, bool *success, const char *call, struct replay_err *err)
{
    if (success != NULL)
        *success = false;
    if (c == NULL || !replay__alclient_is_state_index(index) || id == NULL)
        return bad_arg(err, call, "index must be alert or submission, with an ID");
    const char *segs[] = {"replay", index, id};
    struct replay__alclient_req r = {.method = method, .segments = segs, .n_segments = 3,
                                     .missing_403 = true};
    struct replay__alclient_envelope env;
    int rc = replay__alclient_request(c, &r, &env, err);
    if (rc == 0 && success != NULL)
        *success = json_is_true(json_object_get(env.response, "success"));
    replay__alclient_envelope_free(&env);
    return rc;
}

int replay_alclient_set_complete(struct replay_alclient *c, const char *index, const char *id,
                                 bool *success, struct replay_err *err)
{
    return state_call(c, "POST", index, id, success, "set complete", err);
}

int replay_alclient_request_replay(struct replay_alclient *c, const char *index,
                                   const char *id, struct replay_err *err)
{
    return state_call(c, "GET", index, id, NULL, "request replay", err);
}

/* ---- queues and checkpoints ---- */

int replay_alclient_get_message(struct replay_alclient *c, const char *type, char **message,
                                struct replay_err *err)
{
    if (message == NULL)
        return bad_arg(err, "get message", "no output given");
    *message = NULL;
    if (c == NULL || !replay__alclient_is_queue_type(type))
        return bad_arg(err, "get message", "unknown message type");
    const char *segs[] = {"replay", "queue", type};
    struct replay__alclient_req r = {.method = "GET", .segments = segs, .n_segments = 3,
};
    struct replay__alclient_envelope env;
    int rc = replay__alclient_request(c, &r, &env, err);
    if (rc == 0 && !json_is_null(env.response))
        rc = dump(env.response, message, NULL, "get message", err);
    replay__alclient_envelope_free(&env);
    return rc;
}

int replay_alclient_put_message(struct replay_alclient *c, const char *type,
                                const char *message, struct replay_err *err)
{
    if (c == NULL || !replay__alclient_is_queue_type(type))
        return bad_arg(err, "put message", "unknown message type");
    json_t *m = NULL;
    int rc = parse_doc(message, false, &m, "put message", err);
    if (rc != 0)
        return rc;
    const char *segs[] = {"replay", "queue", type};
    struct replay__alclient_req r = {.method = "PUT", .segments = segs, .n_segments = 3,
                                     .body = m};
    struct replay__alclient_envelope env;
    rc = replay__alclient_request(c, &r, &env, err);
    replay__alclient_envelope_free(&env);
    json_decref(m);
    return rc;
}

int replay_alclient_get_checkpoint(struct replay_alclient *c, const char *type,
                                   char **checkpoint, struct replay_err *err)
{
    if (checkpoint == NULL)
        return bad_arg(err, "get checkpoint", "no output given");
    *checkpoint = NULL;
    if (c == NULL || !replay__alclient_is_list(type))
        return bad_arg(err, "get checkpoint", "type must be badlist, safelist, signature or "
                                              "workflow");
    const char *segs[] = {"replay", "checkpoint", type};
    struct replay__alclient_req r = {.method = "GET", .segments = segs, .n_segments = 3};
    struct replay__alclient_envelope env;
    int rc = replay__alclient_request(c, &r, &env, err);
    json_t *cp = json_object_get(env.response, "checkpoint");
    if (rc == 0 && !json_is_string(cp))
        rc = proto_error(err, "get checkpoint", "api_response has no checkpoint string");
    if (rc == 0 && (*checkpoint = strdup(json_string_value(cp))) == NULL)
        rc = replay_err_set(err, REPLAY_ENOMEM, "get checkpoint: out of memory");
    replay__alclient_envelope_free(&env);
    return rc;
}

int replay_alclient_put_checkpoint(struct replay_alclient *c, const char *type,
                                   const char *checkpoint, struct replay_err *err)
{
    if (c == NULL || !replay__alclient_is_list(type) || checkpoint == NULL)
        return bad_arg(err, "put checkpoint", "type must be badlist, safelist, signature or "
                                              "workflow, with a checkpoint");
    json_t *b = json_object();
    if (b == NULL || put(b, "checkpoint", json_string(checkpoint)) != 0)
        return body_failed(b, "put checkpoint", err);
    const char *segs[] = {"replay", "checkpoint", type};
    struct replay__alclient_req r = {.method = "PUT", .segments = segs, .n_segments = 3,
                                     .body = b};
    struct replay__alclient_envelope env;
    int rc = replay__alclient_request(c, &r, &env, err);
    if (rc == 0 && !json_is_true(json_object_get(env.response, "success"))) {
        if (json_object_get(env.response, "checkpoint") != NULL)
            rc = replay_err_set(err, REPLAY_EUNSUPPORTED,
                                "put checkpoint %s: the server answered with a checkpoint read "
                                "and stored nothing (upstream defect B2: its checkpoint routes "
                                "are swapped)", type);
        else
            rc = proto_error(err, "put checkpoint", "the server did not report success");
    }
    replay__alclient_envelope_free(&env);
    json_decref(b);
    return rc;
}

/* ---- bundles ---- */

int replay_alclient_bundle_download(struct replay_alclient *c, const char *id, bool use_alert,
                                    int fd, uint64_t *bytes, struct replay_err *err)
{
    uint64_t written = 0;
    if (bytes != NULL)
        *bytes = 0;
    if (c == NULL || id == NULL || fd < 0)
        return bad_arg(err, "bundle download", "no client, ID or output");
    const char *segs[] = {"bundle", id};
    struct replay__alclient_param params[] = {{"use_alert", use_alert ? "" : NULL}};
    struct replay__alclient_req r = {.method = "GET", .segments = segs, .n_segments = 2,
                                     .params = params, .n_params = 1, .download = true,
                                     .download_fd = fd, .downloaded = &written,
                                     .missing_403 = true};
    struct replay__alclient_envelope env;
    int rc = replay__alclient_request(c, &r, &env, err);
    replay__alclient_envelope_free(&env);
    if (bytes != NULL)
        *bytes = written;
    return rc;
}

static char *join_services(const char *const *names, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += (names[i] ? strlen(names[i]) : 0) + 1;
    char *s = malloc(len);
    if (s == NULL)
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(s, ",");
        strcat(s, names[i] ? names[i] : "");
    }
    return s;
}

static const char *non_empty(const char *s)
{
    return (s != NULL && s[0] != '\0') ? s : NULL;
}

static int import_size(int fd, uint64_t *size, struct replay_err *err)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return replay_err_sys(err, REPLAY_EINVAL, fd < 0 ? EBADF : errno,
                              "bundle import: cannot stat the bundle");
    if (!S_ISREG(st.st_mode))
        return bad_arg(err, "bundle import", "the bundle is not a regular file");
    *size = (uint64_t)st.st_size;
    return 0;
}

int replay_alclient_bundle_import(struct replay_alclient *c, int fd,
                                  const struct replay_alclient_import *o,
                                  struct replay_err *err)
{
    static const struct replay_alclient_import none;
    if (c == NULL)
        return bad_arg(err, "bundle import", "no client");
    if (o == NULL)
        o = &none;
    uint64_t size = 0;
    int rc = import_size(fd, &size, err);
    if (rc != 0)
        return rc;
    char *rescan = o->n_rescan > 0 ? join_services(o->rescan_services, o->n_rescan) : NULL;
    if (o->n_rescan > 0 && rescan == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "bundle import: out of memory");
    struct replay__alclient_param params[] = {
        {"exist_ok", o->exist_ok ? "" : NULL},
        {"min_classification", non_empty(o->min_classification)},
        {"rescan_services", rescan},
        {"allow_incomplete", o->allow_incomplete ? "" : NULL},
        {"reclassification", non_empty(o->reclassification)},
        {"to_ingest", o->to_ingest ? "True" : NULL},
    };
    const char *segs[] = {"bundle"};
    struct replay__alclient_req r = {.method = "POST", .segments = segs, .n_segments = 1,
                                     .params = params, .n_params = ARRAY_LEN(params),
                                     .upload = true, .upload_fd = fd, .upload_size = size};
    struct replay__alclient_envelope env;
    rc = replay__alclient_request(c, &r, &env, err);
    replay__alclient_envelope_free(&env);
    free(rescan);
    return rc;
}

/* ---- badlist, safelist, signature, workflow ---- */

int replay_alclient_list_get(struct replay_alclient *c, const char *list, const char *id,
                             char **doc, struct replay_err *err)
{
    if (doc == NULL)
        return bad_arg(err, "list get", "no output given");
    *doc = NULL;
    if (c == NULL || !replay__alclient_is_list(list) || id == NULL)
        return bad_arg(err, "list get", "list must be badlist, safelist, signature or "
                                        "workflow, with an ID");
    const char *segs[] = {list, id};
    struct replay__alclient_req r = {.method = "GET", .segments = segs, .n_segments = 2};
    struct replay__alclient_envelope env;
    int rc = replay__alclient_request(c, &r, &env, err);
    if (rc == 0)
        rc = dump(env.response, doc, NULL, "list get", err);
    replay__alclient_envelope_free(&env);
    return rc;
}

static int doc_call(struct replay_alclient *c, const char *method, const char *const *segs,
                    size_t n_segs, const struct replay__alclient_param *params,
                    size_t n_params, const char *doc, char **answer, const char *call,
                    struct replay_err *err)
{
    if (answer != NULL)
        *answer = NULL;
    json_t *d = NULL;
    int rc = parse_doc(doc, true, &d, call, err);
    if (rc != 0)
        return rc;
    struct replay__alclient_req r = {.method = method, .segments = segs, .n_segments = n_segs,
                                     .params = params, .n_params = n_params, .body = d};
    struct replay__alclient_envelope env;
    rc = replay__alclient_request(c, &r, &env, err);
    if (rc == 0)
        rc = give_answer(&env, answer, call, err);
    replay__alclient_envelope_free(&env);
    json_decref(d);
    return rc;
}

int replay_alclient_list_add_update(struct replay_alclient *c, const char *list,
                                    const char *doc, char **answer, struct replay_err *err)
{
    if (answer != NULL)
        *answer = NULL;
    if (c == NULL || list == NULL)
        return bad_arg(err, "list add_update", "no client or list");
    if (strcmp(list, "signature") == 0) {
        const char *segs[] = {"signature", "add_update"};
        static const struct replay__alclient_param p[] = {{"dedup_name", "true"}};
        return doc_call(c, "POST", segs, 2, p, 1, doc, answer, "signature add_update", err);
    }
    if (strcmp(list, "badlist") != 0 && strcmp(list, "safelist") != 0)
        return bad_arg(err, "list add_update", "list must be badlist, safelist or signature "
                                               "(workflows: add or update)");
    const char *segs[] = {list};
    return doc_call(c, "PUT", segs, 1, NULL, 0, doc, answer, "list add_update", err);
}

int replay_alclient_workflow_add(struct replay_alclient *c, const char *doc, char **answer,
                                 struct replay_err *err)
{
    if (c == NULL)
        return bad_arg(err, "workflow add", "no client");
    const char *segs[] = {"workflow"};
    return doc_call(c, "PUT", segs, 1, NULL, 0, doc, answer, "workflow add", err);
}

int replay_alclient_workflow_update(struct replay_alclient *c, const char *id, const char *doc,
                                    char **answer, struct replay_err *err)
{
    if (c == NULL || id == NULL)
        return bad_arg(err, "workflow update", "no client or ID");
    const char *segs[] = {"workflow", id};
    return doc_call(c, "POST", segs, 2, NULL, 0, doc, answer, "workflow update", err);
}
