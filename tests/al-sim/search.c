/* search: POST|GET /api/v4/search/<index>/ with deep paging (al-rest-api.md §5.1,
 * §5.2, §6), plus the query helpers other handlers share. */
#include "alsim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docpath.h"
#include "fields.h"
#include "sort.h"
#include "simtime.h"
#include "simutil.h"

#define MAX_SNAPSHOTS 256
#define SNAPSHOT_TTL_MS (5 * 60 * 1000)
#define RESULT_WINDOW 10000
#define TOTAL_CAP 10000

/* ---------- field types and defaults ---------- */

bool alsim_is_date_field(enum alsim_coll c, const char *field)
{
    return alsim_field_type(c, field, NULL) == ALSIM_F_DATE;
}

static bool is_date_cb(const char *field, void *ud)
{
    return alsim_is_date_field((enum alsim_coll)(intptr_t)ud, field);
}

struct alsim_query *alsim_parse_for(struct alsim_req *r, enum alsim_coll c, const char *q,
                                    char err[512])
{
    struct alsim_query_opts o = {.now_ms = r->now_ms, .is_date = is_date_cb,
                                 .ud = (void *)(intptr_t)c};
    struct alsim_query *pq = NULL;
    char e[ALSIM_QUERY_ERR_LEN];
    if (alsim_query_parse(q, &o, &pq, e) != 0)
        snprintf(err, 512, "%s", e);
    return pq;
}

/* ---------- deep paging snapshots ---------- */

struct snapshot {
    char id[33];
    int64_t expires_ms;
    struct alsim_item *items;
    size_t n;
};

struct alsim_snapshots {
    pthread_mutex_t mu;
    struct snapshot v[MAX_SNAPSHOTS];
};

int alsim_snapshots_new(struct alsim_snapshots **out)
{
    struct alsim_snapshots *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -1;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return 0;
}

static void snap_drop(struct snapshot *sn)
{
    alsim_items_free(sn->items, sn->n);
    memset(sn, 0, sizeof(*sn));
}

void alsim_snapshots_free(struct alsim_snapshots *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < MAX_SNAPSHOTS; i++)
        snap_drop(&s->v[i]);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

size_t alsim_snapshots_count(struct alsim_snapshots *s)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < MAX_SNAPSHOTS; i++)
        n += s->v[i].id[0] != '\0';
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Keeps items (takes them) as a new snapshot; writes its id. -1 when full. */
static int snap_open(struct alsim_snapshots *s, struct alsim_item *items, size_t n,
                     int64_t now, char id[33])
{
    int slot = -1;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < MAX_SNAPSHOTS; i++) {
        if (s->v[i].id[0] != '\0' && s->v[i].expires_ms <= now)
            snap_drop(&s->v[i]);
        if (slot < 0 && s->v[i].id[0] == '\0')
            slot = i;
    }
    if (slot >= 0) {
        alsim_random_hex(s->v[slot].id, 16);
        s->v[slot].expires_ms = now + SNAPSHOT_TTL_MS;
        s->v[slot].items = items;
        s->v[slot].n = n;
        memcpy(id, s->v[slot].id, 33);
    }
    pthread_mutex_unlock(&s->mu);
    return slot >= 0 ? 0 : -1;
}

/* Copies (increfs) items [pos, pos+rows) of a snapshot; closes it when the page
 * is short. Returns -1 if the snapshot does not exist (or expired). */
static int snap_page(struct alsim_snapshots *s, const char *id, size_t pos, size_t rows,
                     int64_t now, struct alsim_item **page, size_t *n, bool *more)
{
    int rc = -1;
    *page = NULL;
    *n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < MAX_SNAPSHOTS; i++) {
        struct snapshot *sn = &s->v[i];
        if (sn->id[0] == '\0' || strcmp(sn->id, id) != 0 || sn->expires_ms <= now)
            continue;
        size_t end = pos + rows < sn->n ? pos + rows : sn->n, k = end > pos ? end - pos : 0;
        *page = calloc(k ? k : 1, sizeof(**page));
        if (*page == NULL)
            break;
        for (size_t j = 0; j < k; j++) {
            (*page)[j].id = strdup(sn->items[pos + j].id);
            (*page)[j].doc = json_incref(sn->items[pos + j].doc);
        }
        *n = k;
        *more = k == rows && k > 0;
        if (*more)
            sn->expires_ms = now + SNAPSHOT_TTL_MS;
        else
            snap_drop(sn);
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---------- the search itself ---------- */

struct search {
    enum alsim_coll coll;
    const char *query;
    json_t *filters;       /* array of strings */
    long long offset, rows;
    struct alsim_sort sort;
    const char *fl;
    const char *deep;      /* deep_paging_id */
    int track;             /* -1 absent, 0 false, 1 true, 2 integer */
    long long track_n;
    struct alsim_query *qs[65];
    size_t nq;
};

static bool all_match(const json_t *doc, const char *id, void *ud)
{
    const struct search *s = ud;
    for (size_t i = 0; i < s->nq; i++)
        if (!alsim_query_match(s->qs[i], doc, id))
            return false;
    return true;
}

/* Parses the query and every filter; 400 SearchException on failure. */
static bool compile(struct alsim_req *r, struct search *s, char err[512])
{
    size_t i;
    json_t *f;
    if ((s->qs[s->nq++] = alsim_parse_for(r, s->coll, s->query, err)) == NULL)
        return false;
    json_array_foreach(s->filters, i, f) {
        if (s->nq >= sizeof(s->qs) / sizeof(s->qs[0])) {
            snprintf(err, 512, "too many filters (at most 64)");
            return false;
        }
        if (!json_is_string(f)) {
            snprintf(err, 512, "filters must be strings");
            return false;
        }
        if ((s->qs[s->nq++] = alsim_parse_for(r, s->coll, json_string_value(f), err)) == NULL)
            return false;
    }
    return true;
}

static json_t *project(const struct search *s, const struct alsim_item *it, bool upstream)
{
    json_t *out = json_object();
    if (out == NULL)
        return NULL;
    bool want_id = false;
    if (s->fl == NULL) { /* the model's stored fields */
        for (const char *const *f = ALSIM_STORED_FIELDS[s->coll]; *f != NULL; f++)
            alsim_path_project(it->doc, out, *f);
        want_id = true;
    } else {
        const char *p = s->fl;
        while (*p != '\0') {
            size_t n = strcspn(p, ",");
            char f[512];
            snprintf(f, sizeof(f), "%.*s", (int)(n < 511 ? n : 511), p);
            char *t = f; /* fl.split(','): parts are not stripped */
            size_t tl = strlen(t);
            if (tl > 2 && strcmp(t + tl - 2, ".*") == 0)
                t[tl - 2] = '\0';
            if (strcmp(t, "*") == 0)
                json_object_update(out, it->doc);
            else if (strcmp(t, "id") == 0)
                want_id = true;
            else if (*t != '\0')
                alsim_path_project(it->doc, out, t);
            p += n + (p[n] == ',');
        }
    }
    if (want_id)
        json_object_set_new(out, "id", json_string(it->id));
    if (upstream && (s->coll == ALSIM_SUBMISSION || s->coll == ALSIM_FILE ||
                     s->coll == ALSIM_RESULT))
        json_object_set_new(out, "from_archive", json_false()); /* B8 */
    return out;
}

static json_t *items_json(const struct search *s, const struct alsim_item *items, size_t n,
                          bool upstream)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr, project(s, &items[i], upstream));
    return arr;
}

/* next_deep_paging_id: "<snapshot>,<base64 of [position]>", like upstream's pit id
 * and search_after pair. */
static void next_id(const char *snap, size_t pos, char *out, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char raw[32], enc[64];
    int n = snprintf(raw, sizeof(raw), "[%zu]", pos), k = 0;
    for (int i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)raw[i] << 16 |
                     (i + 1 < n ? (unsigned char)raw[i + 1] << 8 : 0) |
                     (i + 2 < n ? (unsigned char)raw[i + 2] : 0);
        enc[k++] = b64[(v >> 18) & 63];
        enc[k++] = b64[(v >> 12) & 63];
        enc[k++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        enc[k++] = i + 2 < n ? b64[v & 63] : '=';
    }
    enc[k] = '\0';
    snprintf(out, len, "%s,%s", snap, enc);
}

enum deep_id { DEEP_START, DEEP_CONTINUE, DEEP_UNKNOWN, DEEP_CRASH };

/* Reads a deep_paging_id as the datastore does: without a comma it starts a new
 * deep paging (any text, not just "*"); otherwise "<pit>,<base64 of JSON>", where
 * a second comma, bad base64 or bad JSON raise (500). A well-formed id that is
 * not one of ours names no snapshot (400). */
static enum deep_id parse_deep_id(const char *id, char snap[33], size_t *pos)
{
    const char *comma = strchr(id, ',');
    if (comma == NULL)
        return DEEP_START;
    const char *b64 = comma + 1;
    if (strchr(b64, ',') != NULL)
        return DEEP_CRASH; /* pit_id, search_after = id.split(',') */
    size_t len = strlen(b64);
    unsigned char *raw = malloc(len + 1);
    if (raw == NULL)
        return DEEP_CRASH;
    struct alsim_b64 d = {0};
    size_t n = alsim_b64_feed(&d, (const unsigned char *)b64, len, raw);
    json_error_t e;
    json_t *after = alsim_b64_complete(&d) ? json_loadb((char *)raw, n, JSON_DECODE_ANY, &e)
                                           : NULL;
    free(raw);
    if (after == NULL)
        return DEEP_CRASH;
    json_t *p = json_array_get(after, 0);
    bool ours = comma - id == 32 && json_array_size(after) == 1 && json_is_integer(p) &&
                json_integer_value(p) >= 0;
    if (ours) {
        memcpy(snap, id, 32);
        snap[32] = '\0';
        *pos = (size_t)json_integer_value(p);
    }
    json_decref(after);
    return ours ? DEEP_CONTINUE : DEEP_UNKNOWN;
}

static json_t *result_envelope(const struct search *s, json_t *items, json_t *total)
{
    return json_pack("{s:I,s:I,s:o,s:o}", "offset", (json_int_t)s->offset, "rows",
                     (json_int_t)s->rows, "total", total, "items", items);
}

static void run_deep(struct alsim_req *r, struct search *s, struct alsim_resp *out)
{
    char snap[33], err[512];
    size_t pos = 0, n = 0;
    struct alsim_item *page = NULL;
    bool more = false;
    enum deep_id kind = parse_deep_id(s->deep, snap, &pos);
    if (kind == DEEP_CRASH) {
        alsim_reply_500(out);
        return;
    }
    if (kind == DEEP_START) {
        struct alsim_item *all = NULL;
        size_t total = 0;
        if (alsim_store_items(r->sim->store, s->coll, all_match, s, &all, &total) != 0 ||
            alsim_sort_items(all, total, s->coll, &s->sort, err) != 0) {
            alsim_items_free(all, total);
            alsim_reply(out, 400, NULL, "SearchException: %s", err);
            return;
        }
        if (snap_open(r->sim->snaps, all, total, r->now_ms, snap) != 0) {
            alsim_items_free(all, total);
            alsim_reply(out, 400, NULL, "SearchException: Trying to create too many "
                        "point-in-time contexts (at most %d)", MAX_SNAPSHOTS);
            return;
        }
    }
    if (kind == DEEP_UNKNOWN ||
        snap_page(r->sim->snaps, snap, pos, (size_t)s->rows, r->now_ms, &page, &n, &more) != 0) {
        alsim_reply(out, 400, NULL, "SearchException: No search context found for id [%s]",
                    s->deep);
        return;
    }
    json_t *res = result_envelope(s, items_json(s, page, n, r->sim->cfg.mode == ALSIM_UPSTREAM),
                                  json_null());
    if (more) {
        char nid[128];
        next_id(snap, pos + n, nid, sizeof(nid));
        json_object_set_new(res, "next_deep_paging_id", json_string(nid));
    }
    alsim_items_free(page, n);
    alsim_reply(out, 200, res, NULL);
}

static void run_plain(struct alsim_req *r, struct search *s, struct alsim_resp *out)
{
    char err[512];
    struct alsim_item *all = NULL;
    size_t total = 0;
    if (s->offset + s->rows > RESULT_WINDOW) {
        alsim_reply(out, 400, NULL, "SearchException: Result window is too large, from + size "
                    "must be less than or equal to: [%d] but was [%lld]. See the scroll api for "
                    "a more efficient way to request large data sets.", RESULT_WINDOW,
                    s->offset + s->rows);
        return;
    }
    if (alsim_store_items(r->sim->store, s->coll, all_match, s, &all, &total) != 0 ||
        alsim_sort_items(all, total, s->coll, &s->sort, err) != 0) {
        alsim_items_free(all, total);
        alsim_reply(out, 400, NULL, "SearchException: %s", err);
        return;
    }
    size_t from = (size_t)s->offset < total ? (size_t)s->offset : total;
    size_t n = total - from < (size_t)s->rows ? total - from : (size_t)s->rows;
    json_t *jt = json_null();
    if (s->track == 1)
        jt = json_integer((json_int_t)total);
    else if (s->track == 2)
        jt = json_integer((json_int_t)(total < (size_t)s->track_n ? total : (size_t)s->track_n));
    else if (s->track == -1)
        jt = json_integer((json_int_t)(total < TOTAL_CAP ? total : TOTAL_CAP));
    json_t *res = result_envelope(s, items_json(s, all + from, n,
                                                r->sim->cfg.mode == ALSIM_UPSTREAM), jt);
    alsim_items_free(all, total);
    alsim_reply(out, 200, res, NULL);
}

/* ---------- parameters ---------- */

/* An integer from a JSON int or numeric string (ES accepts both). */
static bool int_param(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    char *end = NULL;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return false;
    *out = x;
    return true;
}

static void collect_filter(const char *value, void *ud)
{
    json_array_append_new(ud, json_string(value));
}

/* Request parameters into one JSON object (POST body or GET query string). */
static json_t *params_of(struct alsim_req *r, struct alsim_resp *out)
{
    if (strcmp(r->method, "POST") == 0) {
        json_t *body = alsim_req_json(r, out);
        if (body != NULL && !json_is_object(body)) {
            json_decref(body);
            alsim_reply_500(out); /* req_data.get() on a non-dict */
            return NULL;
        }
        return body;
    }
    json_t *p = json_object();
    const char *names[] = {"query", "offset", "rows", "sort", "fl", "timeout", "deep_paging_id",
                           "track_total_hits", "use_archive", "archive_only"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = alsim_req_arg(r, names[i]);
        if (v != NULL)
            json_object_set_new(p, names[i], json_string(v));
    }
    json_t *filters = json_array();
    alsim_req_args_each(r, "filters", collect_filter, filters);
    if (json_array_size(filters) > 0)
        json_object_set_new(p, "filters", filters);
    else
        json_decref(filters);
    return p;
}

static bool track_param(const json_t *v, struct search *s)
{
    s->track = -1;
    if (v == NULL || json_is_null(v))
        return true;
    if (json_is_boolean(v)) {
        s->track = json_is_true(v);
        return true;
    }
    if (json_is_string(v) && (strcasecmp(json_string_value(v), "true") == 0 ||
                              strcasecmp(json_string_value(v), "false") == 0)) {
        s->track = strcasecmp(json_string_value(v), "true") == 0;
        return true;
    }
    if (int_param(v, &s->track_n) && s->track_n >= 0) {
        s->track = 2;
        return true;
    }
    return false;
}

/* The sort parameter as the datastore takes it: absent means the index's default;
 * a string or a list of strings is parsed; a number or a boolean makes the
 * datastore raise (500). False after an error answer. */
static bool sort_param(const json_t *v, struct search *s, struct alsim_resp *out)
{
    char err[ALSIM_SORT_ERR_LEN];
    int rc = 0;
    if (v == NULL || json_is_null(v)) {
        rc = alsim_sort_parse(alsim_default_sort(s->coll), &s->sort, err);
    } else if (json_is_string(v)) {
        rc = alsim_sort_parse(json_string_value(v), &s->sort, err);
    } else if (json_is_array(v)) {
        const char *parts[ALSIM_SORT_MAX_KEYS];
        size_t n = json_array_size(v);
        bool strings = n <= ALSIM_SORT_MAX_KEYS;
        for (size_t i = 0; strings && i < n; i++)
            strings = (parts[i] = json_string_value(json_array_get(v, i))) != NULL;
        if (strings) {
            rc = alsim_sort_parse_list(parts, n, &s->sort, err);
        } else {
            snprintf(err, sizeof(err), "al-sim takes a sort as a string or a list of at most "
                     "%d strings", ALSIM_SORT_MAX_KEYS);
            rc = -1;
        }
    } else if (!json_is_object(v)) {
        alsim_reply_500(out); /* "," in <int> raises a TypeError */
        return false;
    } else {
        snprintf(err, sizeof(err), "al-sim does not take a sort given as an object");
        rc = -1;
    }
    if (rc != 0)
        alsim_reply(out, 400, NULL, "SearchException: %s", err);
    return rc == 0;
}

/* fl and deep_paging_id as the datastore uses them; false (after a 500) where it
 * raises: fl.split(',') on a truthy non-string, `"," in deep_paging_id` on a
 * number or a boolean. An empty or falsy fl means the default fields. A list or
 * an object as deep_paging_id (without a "," in it) starts a new deep paging. */
static bool fl_and_deep(json_t *p, struct search *s, struct alsim_resp *out)
{
    json_t *fl = json_object_get(p, "fl"), *dp = json_object_get(p, "deep_paging_id");
    bool crash = alsim_py_truthy(fl) && !json_is_string(fl);
    if (json_is_array(dp) || json_is_object(dp)) {
        size_t i;
        json_t *v;
        json_array_foreach(dp, i, v)
            crash |= json_is_string(v) && strcmp(json_string_value(v), ",") == 0;
        crash |= json_object_get(dp, ",") != NULL; /* "," in ... is true: .split() raises */
        s->deep = "";
    } else if (dp != NULL && !json_is_null(dp)) {
        crash |= !json_is_string(dp);
        s->deep = json_string_value(dp);
    }
    s->fl = alsim_py_truthy(fl) ? json_string_value(fl) : NULL;
    if (crash)
        alsim_reply_500(out);
    return !crash;
}

/* Fills s from the parameters; false after an error answer. */
static bool read_params(struct alsim_req *r, json_t *p, struct search *s, struct alsim_resp *out)
{
    json_t *q = json_object_get(p, "query"), *f = json_object_get(p, "filters");
    json_t *off = json_object_get(p, "offset"), *rows = json_object_get(p, "rows");
    char qbuf[64];
    if (q == NULL || json_is_null(q) || json_is_false(q) ||
        (json_is_string(q) && json_string_length(q) == 0) ||
        (json_is_integer(q) && json_integer_value(q) == 0)) {
        alsim_reply(out, 400, NULL, "There was no search query.");
        return false;
    }
    if (json_is_integer(q)) {
        snprintf(qbuf, sizeof(qbuf), "%lld", (long long)json_integer_value(q));
        json_object_set_new(p, "query", json_string(qbuf));
        q = json_object_get(p, "query");
    }
    s->query = json_string_value(q);
    s->filters = json_is_string(f) ? json_pack("[O]", f) : json_is_array(f) ? json_incref(f)
                                                                            : json_array();
    s->offset = 0;
    s->rows = 25;
    if (!sort_param(json_object_get(p, "sort"), s, out) || !fl_and_deep(p, s, out))
        return false;
    const char *bad = NULL;
    if (s->query == NULL)
        bad = "[query] must be a string";
    else if (f != NULL && !json_is_null(f) && !json_is_string(f) && !json_is_array(f))
        bad = "[filters] must be a list of queries";
    else if (off != NULL && !json_is_null(off) && (!int_param(off, &s->offset) || s->offset < 0))
        bad = "[from] parameter must be a non-negative integer";
    else if (rows != NULL && !json_is_null(rows) && (!int_param(rows, &s->rows) || s->rows < 0))
        bad = "[size] parameter must be a non-negative integer";
    else if (!track_param(json_object_get(p, "track_total_hits"), s))
        bad = "[track_total_hits] must be a boolean or an integer";
    if (bad != NULL) {
        alsim_reply(out, 400, NULL, "SearchException: %s", bad);
        return false;
    }
    (void)r;
    return true;
}

static const char *index_role(const char *index)
{
    static const char *const map[][2] = {
        {"alert", "alert_view"}, {"badlist", "badlist_view"}, {"file", "submission_view"},
        {"heuristic", "heuristic_view"}, {"result", "submission_view"},
        {"submission", "submission_view"}, {"signature", "signature_view"},
        {"safelist", "safelist_view"}, {"workflow", "workflow_view"},
        {"retrohunt", "retrohunt_view"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(index, map[i][0]) == 0)
            return map[i][1];
    return "administration";
}

static bool archive_flag(const json_t *p, const char *name)
{
    const json_t *v = json_object_get(p, name);
    if (v == NULL || json_is_null(v))
        return false;
    if (json_is_boolean(v))
        return json_is_true(v);
    return json_is_string(v) && alsim_flag_true(json_string_value(v));
}

void alsim_h_search(struct alsim_req *r, struct alsim_resp *out)
{
    const char *index = r->params[0];
    const char *role = index_role(index);
    if (!(r->roles & alsim_roles_mask(role))) {
        alsim_reply_denied(r, out, "API %s requires the role '%s' for request on index '%s'",
                           r->path, role, index);
        return;
    }
    int coll = alsim_coll_from_name(index);
    if (coll < 0) {
        alsim_reply(out, 400, NULL, "Not a valid index to search in: %s", index);
        return;
    }
    json_t *p = params_of(r, out);
    if (p == NULL)
        return;
    struct search s = {.coll = (enum alsim_coll)coll};
    char err[512];
    bool archive = archive_flag(p, "use_archive") || archive_flag(p, "archive_only");
    if (archive && !(r->roles & ROLE(R_ARCHIVE_VIEW)))
        alsim_reply(out, 403, json_object(), "User is not allowed to view the archive");
    else if (read_params(r, p, &s, out) &&
             (!compile(r, &s, err) || alsim_sort_check(&s.sort, s.coll, err) != 0))
        alsim_reply(out, 400, NULL, "SearchException: %s", err);
    else if (out->status == 0 && s.deep != NULL)
        run_deep(r, &s, out);
    else if (out->status == 0)
        run_plain(r, &s, out);
    for (size_t i = 0; i < s.nq; i++)
        alsim_query_free(s.qs[i]);
    alsim_sort_free(&s.sort);
    json_decref(s.filters);
    json_decref(p);
}
