/* replay_api: /api/v4/replay/ endpoints: queues, checkpoints, bulk pending,
 * request and complete (al-rest-api.md §5.3–§5.7, upstream defects B2/B3 in
 * upstream mode). */
#include "alsim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simutil.h"

static void upper(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] != '\0' && i + 1 < len; i++)
        out[i] = (char)toupper((unsigned char)in[i]);
    out[i] = '\0';
}

static bool upstream(const struct alsim_req *r)
{
    return r->sim->cfg.mode == ALSIM_UPSTREAM;
}

static void bad_type(struct alsim_resp *out, const char *type)
{
    char up[256];
    upper(type, up, sizeof(up));
    alsim_reply(out, 400, NULL, "%s is not a valid message type for this API.", up);
}

static void bad_index(struct alsim_resp *out, const char *index)
{
    char up[256];
    upper(index, up, sizeof(up));
    alsim_reply(out, 400, NULL, "%s is not a valid index for this API.", up);
}

/* ---------- queues ---------- */

static bool queue_allowed(const struct alsim_req *r, int t)
{
    if (t < 0)
        return false;
    return !upstream(r) || t == ALSIM_Q_ALERT || t == ALSIM_Q_SUBMISSION || t == ALSIM_Q_FILE;
}

/* True when the object's keys are exactly a and b. */
static bool exact_keys(const json_t *m, const char *a, const char *b)
{
    return json_object_size(m) == 2 && json_object_get(m, a) != NULL &&
           json_object_get(m, b) != NULL;
}

/* put_message's check: 1 valid, 0 invalid (400), -1 crash upstream (500). */
static int message_ok(int t, const json_t *m)
{
    switch (t) {
    case ALSIM_Q_ALERT:
        return !json_is_object(m) ? -1 : exact_keys(m, "alert_id", "reporting_ts");
    case ALSIM_Q_SUBMISSION:
        return !json_is_object(m) ? -1 : exact_keys(m, "sid", "times");
    case ALSIM_Q_FILE:
        return json_is_string(m);
    default:
        return json_is_object(m); /* list documents (intended mode) */
    }
}

static void queue_put(struct alsim_req *r, struct alsim_resp *out, int t)
{
    json_t *m = alsim_req_json(r, out);
    if (m == NULL)
        return;
    int ok = message_ok(t, m);
    char err[ALSIM_ERRLEN], up[64];
    if (ok < 0) {
        alsim_reply_500(out);
    } else if (ok == 0) {
        char *text = alsim_pyrepr(m, 2048);
        upper(alsim_qtype_name((enum alsim_qtype)t), up, sizeof(up));
        alsim_reply(out, 400, NULL, "Invalid message for type %s: %s", up, text ? text : "");
        free(text);
    } else {
        char *text = json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
        if (text == NULL || alsim_queue_push(r->sim->queues, (enum alsim_qtype)t, text, err) != 0)
            alsim_reply_500(out);
        else
            alsim_reply(out, 200, json_pack("{s:b}", "success", 1), NULL);
        free(text);
    }
    json_decref(m);
}

void alsim_h_queue(struct alsim_req *r, struct alsim_resp *out)
{
    int t = alsim_qtype_from_name(r->params[0]);
    if (!queue_allowed(r, t)) {
        bad_type(out, r->params[0]);
        return;
    }
    if (strcmp(r->method, "PUT") == 0) {
        queue_put(r, out, t);
        return;
    }
    char *text = alsim_queue_pop(r->sim->queues, (enum alsim_qtype)t, r->sim->cfg.long_poll_ms);
    json_error_t e;
    json_t *m = text != NULL ? json_loads(text, JSON_DECODE_ANY, &e) : json_null();
    free(text);
    alsim_reply(out, 200, m != NULL ? m : json_null(), NULL);
}

/* ---------- checkpoints ---------- */

static bool checkpoint_type_ok(const struct alsim_req *r, const char *type)
{
    const char *ok[] = {"badlist", "safelist", "workflow", "signature"};
    for (size_t i = 0; i < (upstream(r) ? 3u : 4u); i++)
        if (strcmp(type, ok[i]) == 0)
            return true;
    return false;
}

/* The "store" code: {"checkpoint": X} from the body. */
static void checkpoint_store(struct alsim_req *r, struct alsim_resp *out, bool type_first)
{
    const char *type = r->params[0];
    if (type_first && !checkpoint_type_ok(r, type)) {
        bad_type(out, type);
        return;
    }
    json_t *body = alsim_req_json(r, out);
    if (body == NULL)
        return;
    char err[ALSIM_ERRLEN];
    json_t *cp = json_is_object(body) ? json_object_get(body, "checkpoint") : NULL;
    if (!type_first && !checkpoint_type_ok(r, type))
        bad_type(out, type);
    else if (cp == NULL) /* message['checkpoint'] raises upstream */
        alsim_reply_500(out);
    else if (alsim_checkpoint_set(r->sim->queues, type, cp, err) != 0)
        alsim_reply_500(out);
    else
        alsim_reply(out, 200, json_pack("{s:b}", "success", 1), NULL);
    json_decref(body);
}

/* The "read" code: {"checkpoint": stored or "*"}. */
static void checkpoint_read(struct alsim_req *r, struct alsim_resp *out)
{
    const char *type = r->params[0];
    if (!checkpoint_type_ok(r, type)) {
        bad_type(out, type);
        return;
    }
    json_t *v = alsim_checkpoint_get(r->sim->queues, type);
    if (!alsim_py_truthy(v)) { /* hash.get(type) or "*" */
        json_decref(v);
        v = json_string("*");
    }
    alsim_reply(out, 200, json_pack("{s:o}", "checkpoint", v), NULL);
}

void alsim_h_checkpoint(struct alsim_req *r, struct alsim_resp *out)
{
    bool get = strcmp(r->method, "GET") == 0;
    if (upstream(r)) /* B2: GET stores (body parsed first), PUT reads */
        get ? checkpoint_store(r, out, false) : checkpoint_read(r, out);
    else
        get ? checkpoint_read(r, out) : checkpoint_store(r, out, true);
}

/* ---------- bulk pending ---------- */

struct pending {
    struct alsim_query *qs[65];
    size_t nq;
};

static bool pending_match(const json_t *doc, const char *id, void *ud)
{
    const struct pending *p = ud;
    for (size_t i = 0; i < p->nq; i++)
        if (!alsim_query_match(p->qs[i], doc, id))
            return false;
    return true;
}

struct set_state {
    const char *state;
    const struct pending *recheck; /* NULL: no re-check */
    const char *id;
};

static bool set_replay_state(json_t *doc, void *ud)
{
    const struct set_state *s = ud;
    if (s->recheck != NULL && !pending_match(doc, s->id, (void *)s->recheck))
        return false;
    json_t *md = json_object_get(doc, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(doc, "metadata", md);
    }
    json_object_set_new(md, "replay", json_string(s->state));
    return true;
}

/* update_by_query: the number of documents changed, or -1 where upstream's
 * count is `false` (bad query or arguments). */
static long long bulk_pending(struct alsim_req *r, enum alsim_coll c, const char *query,
                              const json_t *fqs, long long max_docs)
{
    struct pending p = {0};
    char err[512];
    long long count = -1;
    size_t i;
    const json_t *f;
    struct alsim_item *items = NULL;
    size_t n = 0;
    if (query == NULL || max_docs <= 0 || (p.qs[p.nq++] = alsim_parse_for(r, c, query, err)) == NULL)
        goto out;
    json_array_foreach(fqs, i, f) {
        if (!json_is_string(f) || p.nq >= 65 ||
            (p.qs[p.nq++] = alsim_parse_for(r, c, json_string_value(f), err)) == NULL)
            goto out;
    }
    if (alsim_store_items(r->sim->store, c, pending_match, &p, &items, &n) != 0 ||
        alsim_sort_items(items, n, c, NULL, err) != 0)
        goto out;
    count = 0;
    for (i = 0; i < n && count < max_docs; i++) {
        struct set_state st = {"pending", &p, items[i].id};
        char werr[ALSIM_ERRLEN];
        if (alsim_store_update(r->sim->store, c, items[i].id, set_replay_state, &st, werr) == 1)
            count++;
    }
out:
    alsim_items_free(items, n);
    for (i = 0; i < p.nq; i++)
        alsim_query_free(p.qs[i]);
    return count;
}

void alsim_h_pending(struct alsim_req *r, struct alsim_resp *out)
{
    json_t *body = alsim_req_json(r, out);
    if (body == NULL)
        return;
    json_t *index = json_object_get(body, "index"), *query = json_object_get(body, "query");
    json_t *fqs = json_object_get(body, "filter_queries"), *max = json_object_get(body, "max_docs");
    if (!json_is_object(body)) {
        alsim_reply_500(out);
    } else if (index == NULL || json_is_null(index) || query == NULL || json_is_null(query) ||
               fqs == NULL || json_is_null(fqs) || max == NULL || json_is_null(max)) {
        alsim_reply(out, 400, NULL, "Invalid data block.");
    } else if (!json_is_string(index) || !json_is_array(fqs)) {
        alsim_reply_500(out); /* index.upper() / filters.append() raise upstream */
    } else {
        const char *ix = json_string_value(index);
        int c = strcmp(ix, "alert") == 0 ? ALSIM_ALERT
                : strcmp(ix, "submission") == 0 ? ALSIM_SUBMISSION : -1;
        if (c < 0) {
            bad_index(out, ix);
        } else {
            long long n = bulk_pending(r, (enum alsim_coll)c, json_string_value(query), fqs,
                                       json_is_integer(max) ? json_integer_value(max) : -1);
            alsim_reply(out, 200, json_pack("{s:b,s:o}", "success", 1, "count",
                                            n < 0 ? json_false() : json_integer(n)), NULL);
        }
    }
    json_decref(body);
}

/* ---------- single document state ---------- */

static void set_one(struct alsim_req *r, struct alsim_resp *out, const char *state)
{
    const char *index = r->params[0], *id = r->params[1];
    int c = strcmp(index, "alert") == 0 ? ALSIM_ALERT
            : strcmp(index, "submission") == 0 ? ALSIM_SUBMISSION : -1;
    if (c < 0) {
        bad_index(out, index);
        return;
    }
    struct set_state st = {state, NULL, id};
    char err[ALSIM_ERRLEN];
    int rc = alsim_store_update(r->sim->store, (enum alsim_coll)c, id, set_replay_state, &st, err);
    if (rc == 0)
        alsim_reply(out, 403, NULL, "You are not allowed to modify the %s with the following "
                    "ID: %s", index, id);
    else if (rc < 0)
        alsim_reply_500(out);
    else
        alsim_reply(out, 200, json_pack("{s:b}", "success", 1), NULL);
}

void alsim_h_replay_request(struct alsim_req *r, struct alsim_resp *out)
{
    set_one(r, out, "requested");
}

void alsim_h_replay_complete(struct alsim_req *r, struct alsim_resp *out)
{
    set_one(r, out, "done");
}
