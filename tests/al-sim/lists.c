/* lists: badlist, safelist, signature and workflow endpoints as Assemblyline's UI
 * and its badlist/safelist/signature clients process them (al-rest-api.md
 * §5.10–§5.13). Upstream's behaviours are kept in both modes: add_update stamps
 * added/updated with the server's time, workflow add makes a new id (B10). */
#include "alsim.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simtime.h"
#include "simutil.h"

/* str() of a value as an f-string prints it. Malloc'd. */
static char *pystr(const json_t *v)
{
    return json_is_string(v) ? strdup(json_string_value(v)) : alsim_pyrepr(v, 1024);
}

static json_t *iso_now_json(int64_t plus_s)
{
    char iso[ALSIM_ISO_LEN];
    alsim_iso_from_us(alsim_now_us() + plus_s * 1000000, iso);
    return json_string(iso);
}

/* ---------- badlist / safelist ---------- */

struct hashlist {
    enum alsim_coll coll;
    const char *name;          /* "badlist" / "safelist" */
    char err[600];
    int status;                /* 400, 403 or 500 on failure */
};

static int hl_fail(struct hashlist *h, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int hl_fail(struct hashlist *h, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->err, sizeof(h->err), fmt, ap);
    va_end(ap);
    h->status = status;
    return -1;
}

/* normalize_hashlist_item: domains lower-cased, URI host names lower-cased. */
static int normalize_tag(json_t *tag)
{
    const char *type = json_string_value(json_object_get(tag, "type"));
    const char *value = json_string_value(json_object_get(tag, "value"));
    if (type == NULL || value == NULL)
        return 0;
    size_t tl = strlen(type);
    char *v = strdup(value);
    if (v == NULL)
        return -1;
    if (tl >= 7 && strcmp(type + tl - 7, ".domain") == 0) {
        for (char *p = v; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
    } else if (tl >= 4 && strcmp(type + tl - 4, ".uri") == 0) {
        char *host = strstr(v, "//");
        if (host == NULL) {
            free(v);
            return -1; /* IndexError upstream */
        }
        for (char *p = host + 2; *p != '\0' && *p != '/'; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    json_object_set_new(tag, "value", json_string(v));
    free(v);
    return 0;
}

/* The hashes of a tag or safelisted signature: sha256 of "<kind>: <value>". */
static void set_text_hash(json_t *data, const char *text)
{
    char hex[65];
    alsim_sha256_hex(text, strlen(text), hex);
    json_object_set_new(data, "hashes", json_pack("{s:s}", "sha256", hex));
}

static int prep_tag(struct hashlist *h, json_t *data)
{
    json_object_del(data, "file");
    json_object_del(data, "hashes");
    json_object_del(data, "signature");
    json_t *tag = json_object_get(data, "tag");
    if (!json_is_object(tag) || json_object_get(tag, "type") == NULL ||
        json_object_get(tag, "value") == NULL)
        return hl_fail(h, 400, "Tag data not found");
    if (normalize_tag(tag) != 0)
        return hl_fail(h, 500, "Internal Server Error");
    char *type = pystr(json_object_get(tag, "type")), *value = pystr(json_object_get(tag, "value"));
    char *text = malloc(strlen(type) + strlen(value) + 3);
    if (text != NULL) {
        sprintf(text, "%s: %s", type, value);
        set_text_hash(data, text);
    }
    free(type);
    free(value);
    free(text);
    return 0;
}

static int prep_signature(struct hashlist *h, json_t *data)
{
    json_object_del(data, "file");
    json_object_del(data, "hashes");
    json_object_del(data, "tag");
    json_t *sig = json_object_get(data, "signature");
    if (!json_is_object(sig) || json_object_get(sig, "name") == NULL)
        return hl_fail(h, 400, "Signature data not found");
    char *name = pystr(json_object_get(sig, "name"));
    char *text = malloc(strlen(name) + 13);
    if (text != NULL) {
        sprintf(text, "signature: %s", name);
        set_text_hash(data, text);
    }
    free(name);
    free(text);
    return 0;
}

/* _preprocess_object: defaults, type-specific fields, dtl, timestamps, key. */
static int preprocess(struct hashlist *h, json_t *data, char qhash[256])
{
    json_t *cl = json_object_get(data, "classification");
    if (cl != NULL && !alsim_py_truthy(cl))
        json_object_del(data, "classification");
    if (json_object_get(data, "classification") == NULL)
        json_object_set_new(data, "classification", json_string(ALSIM_UNRESTRICTED));
    if (json_object_get(data, "hashes") == NULL)
        json_object_set_new(data, "hashes", json_object());
    if (json_object_get(data, "expiry_ts") == NULL)
        json_object_set_new(data, "expiry_ts", json_null());
    const char *type = json_string_value(json_object_get(data, "type"));
    if (json_object_get(data, "type") == NULL)
        return hl_fail(h, 500, "Internal Server Error"); /* KeyError */
    if (type != NULL && strcmp(type, "tag") == 0) {
        if (prep_tag(h, data) != 0)
            return -1;
    } else if (type != NULL && strcmp(type, "signature") == 0 && h->coll == ALSIM_SAFELIST) {
        if (prep_signature(h, data) != 0)
            return -1;
    } else if (type != NULL && strcmp(type, "file") == 0) {
        json_object_del(data, "tag");
        json_object_del(data, "signature");
        if (json_object_get(data, "file") == NULL)
            json_object_set_new(data, "file", json_object());
    }
    json_t *dtl = json_object_get(data, "dtl");
    if (alsim_py_truthy(dtl) && json_is_integer(dtl))
        json_object_set_new(data, "expiry_ts", iso_now_json(json_integer_value(dtl) * 86400));
    json_object_del(data, "dtl");
    json_t *now = iso_now_json(0);
    json_object_set(data, "added", now);
    json_object_set_new(data, "updated", now);
    json_t *hashes = json_object_get(data, "hashes");
    if (!json_is_object(hashes))
        return hl_fail(h, 500, "Internal Server Error"); /* .get on a non-dict */
    const char *order[] = {"sha256", "sha1", "md5", "tlsh", "ssdeep"};
    for (int i = 0; i < 5; i++) {
        json_t *v = json_object_get(hashes, order[i]);
        if (alsim_py_truthy(v) && json_is_string(v) && json_string_length(v) < 256) {
            snprintf(qhash, 256, "%s", json_string_value(v));
            return 0;
        }
    }
    return hl_fail(h, 400, "No valid hash found");
}

/* Source checks and the classification from the sources. */
static int check_sources(struct hashlist *h, struct alsim_req *r, json_t *data)
{
    json_t *srcs = json_object_get(data, "sources"), *src;
    size_t i;
    if (!json_is_array(srcs))
        return hl_fail(h, 500, "Internal Server Error");
    json_array_foreach(srcs, i, src) {
        const char *type = json_string_value(json_object_get(src, "type"));
        char *name = pystr(json_object_get(src, "name"));
        if (!json_is_object(src) || type == NULL || name == NULL) {
            free(name);
            return hl_fail(h, 500, "Internal Server Error");
        }
        int rc = 0;
        if (strcmp(type, "user") == 0 && strcmp(name, r->user->name) != 0)
            rc = hl_fail(h, 400, "You cannot add a source for another user. %s != %s", name,
                         r->user->name);
        else if (strcmp(type, "user") != 0 && !(r->roles & ROLE(R_SIGNATURE_IMPORT)))
            rc = hl_fail(h, 403, "You do not have sufficient priviledges to add an external "
                         "source.");
        free(name);
        if (rc != 0)
            return rc;
        const char *sc = json_string_value(json_object_get(src, "classification"));
        char cl[256], cerr[512];
        if (sc != NULL && alsim_classification_max(
                              json_string_value(json_object_get(data, "classification")), sc, cl,
                              sizeof(cl), cerr) == 0)
            json_object_set_new(data, "classification", json_string(cl));
    }
    return 0;
}

/* Union of two string arrays (order: old then new). */
static json_t *union_list(const json_t *a, const json_t *b)
{
    json_t *out = json_array();
    const json_t *lists[2] = {a, b};
    for (int l = 0; l < 2; l++) {
        size_t i, j;
        json_t *v, *w;
        json_array_foreach(lists[l], i, v) {
            bool dup = false;
            json_array_foreach(out, j, w)
                dup |= json_equal(v, w);
            if (!dup)
                json_array_append(out, v);
        }
    }
    return out;
}

static void merge_attribution(json_t *old, const json_t *new_)
{
    json_t *oa = json_object_get(old, "attribution");
    const json_t *na = json_object_get(new_, "attribution");
    if (!alsim_py_truthy(oa)) {
        json_object_set(old, "attribution", na != NULL ? (json_t *)na : json_null());
    } else if (json_is_object(oa) && alsim_py_truthy(na) && json_is_object(na)) {
        const char *keys[] = {"actor", "campaign", "category", "exploit", "implant", "family",
                              "network"};
        json_t *merged = json_object();
        json_object_update(merged, oa);
        for (int i = 0; i < 7; i++) {
            json_t *u = union_list(json_object_get(oa, keys[i]), json_object_get(na, keys[i]));
            json_object_set_new(merged, keys[i], json_array_size(u) ? u : json_null());
            if (!json_array_size(u))
                json_decref(u);
        }
        json_object_set_new(old, "attribution", merged);
    }
    oa = json_object_get(old, "attribution");
    if (json_is_object(oa)) { /* drop empty keys */
        json_t *clean = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(oa, k, v)
            if (alsim_py_truthy(v))
                json_object_set(clean, k, v);
        json_object_set_new(old, "attribution", clean);
    }
}

static void merge_file(json_t *old, const json_t *new_)
{
    json_t *of = json_object_get(old, "file");
    if (!json_is_object(of)) {
        of = json_object();
        json_object_set_new(old, "file", of);
    }
    const json_t *nf = json_object_get(new_, "file");
    json_t *names = union_list(json_object_get(of, "name"), json_object_get(nf, "name"));
    if (json_array_size(names) > 0 || json_object_get(of, "name") != NULL)
        json_object_set(of, "name", names);
    json_decref(names);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)nf, k, v)
        if (strcmp(k, "name") != 0 && alsim_py_truthy(v))
            json_object_set(of, k, v);
}

static int merge_sources(struct hashlist *h, json_t *old, const json_t *new_)
{
    json_t *ns = json_object_get(new_, "sources"), *os = json_object_get(old, "sources");
    if (!json_is_array(ns) || json_array_size(ns) == 0)
        return hl_fail(h, 400, "Invalid data provided: No valid source found");
    json_t *merged = json_array();
    size_t i, j;
    json_t *s, *o;
    json_array_foreach(os, i, o)
        json_array_append_new(merged, json_deep_copy(o));
    json_array_foreach(ns, i, s) {
        json_t *found = NULL;
        json_array_foreach(merged, j, o)
            if (json_equal(json_object_get(o, "name"), json_object_get(s, "name")))
                found = o;
        if (found == NULL) {
            json_array_append(merged, s);
            continue;
        }
        if (!json_equal(json_object_get(found, "type"), json_object_get(s, "type"))) {
            char *n = pystr(json_object_get(s, "name")), *a = pystr(json_object_get(found, "type")),
                 *b = pystr(json_object_get(s, "type"));
            hl_fail(h, 400, "Invalid data provided: Source %s has a type conflict: %s != %s", n, a, b);
            free(n), free(a), free(b);
            json_decref(merged);
            return -1;
        }
        json_t *reasons = union_list(json_object_get(found, "reason"), json_object_get(s, "reason"));
        json_object_set_new(found, "reason", reasons);
        if (json_object_get(s, "classification") != NULL)
            json_object_set(found, "classification", json_object_get(s, "classification"));
    }
    json_object_set_new(old, "sources", merged);
    return 0;
}

/* _merge_hashes(new, old) into old; "update" path of add_update. */
static int merge_into(struct hashlist *h, json_t *old, const json_t *new_)
{
    const json_t *nt = json_object_get(new_, "type"), *ot = json_object_get(old, "type");
    if (!json_equal(nt, ot)) {
        char *a = pystr(nt), *b = pystr(ot);
        hl_fail(h, 400, "Invalid data provided: %s hash type mismatch: %s != %s",
                h->coll == ALSIM_BADLIST ? "Bad" : "Safe", a, b);
        free(a), free(b);
        return -1;
    }
    json_object_set(old, "classification", json_object_get(new_, "classification"));
    json_object_set(old, "updated", json_object_get(new_, "updated"));
    json_t *oh = json_object_get(old, "hashes");
    if (!json_is_object(oh)) {
        oh = json_object();
        json_object_set_new(old, "hashes", oh);
    }
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(new_, "hashes"), k, v)
        if (alsim_py_truthy(v))
            json_object_set(oh, k, v);
    if (h->coll == ALSIM_BADLIST)
        merge_attribution(old, new_);
    const char *type = json_string_value(ot);
    if (type != NULL && strcmp(type, "file") == 0)
        merge_file(old, new_);
    else if (type != NULL && strcmp(type, "tag") == 0)
        json_object_set(old, "tag", json_object_get(new_, "tag"));
    if (merge_sources(h, old, new_) != 0)
        return -1;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(old, "sources"), i, s) {
        char cl[256], cerr[512];
        const char *sc = json_string_value(json_object_get(s, "classification"));
        if (sc != NULL && alsim_classification_max(json_string_value(json_object_get(old, "classification")),
                                                   sc, cl, sizeof(cl), cerr) == 0)
            json_object_set_new(old, "classification", json_string(cl));
    }
    json_t *exp = json_object_get(new_, "expiry_ts");
    json_object_set(old, "expiry_ts", exp != NULL ? exp : json_null());
    return 0;
}

static void hashlist_add(struct alsim_req *r, struct alsim_resp *out, struct hashlist *h,
                         json_t *data)
{
    char qhash[256], err[ALSIM_ERRLEN];
    if (preprocess(h, data, qhash) != 0 || check_sources(h, r, data) != 0)
        goto fail;
    pthread_mutex_lock(&r->sim->import_mu); /* the upstream Lock around get + save */
    json_t *old = alsim_store_get(r->sim->store, h->coll, qhash);
    json_t *save = old != NULL ? json_deep_copy(old) : json_incref(data);
    int rc = old != NULL ? merge_into(h, save, data) : 0;
    if (rc == 0 && json_object_get(save, "enabled") == NULL)
        json_object_set_new(save, "enabled", json_true()); /* model default */
    if (rc == 0)
        rc = alsim_store_put(r->sim->store, h->coll, qhash, json_incref(save), err) == 0 ? 0
             : hl_fail(h, 500, "Internal Server Error");
    pthread_mutex_unlock(&r->sim->import_mu);
    json_decref(save);
    json_decref(old);
    if (rc != 0)
        goto fail;
    alsim_reply(out, 200, json_pack("{s:b,s:s,s:s}", "success", 1, "op",
                                    old != NULL ? "update" : "add", "hash", qhash), NULL);
    return;
fail:
    if (h->status == 500)
        alsim_reply_500(out);
    else
        alsim_reply(out, h->status, json_null(), "%s", h->err);
}

void alsim_h_hashlist_add(struct alsim_req *r, struct alsim_resp *out)
{
    bool bad = strncmp(r->path, "/api/v4/badlist/", 16) == 0;
    struct hashlist h = {.coll = bad ? ALSIM_BADLIST : ALSIM_SAFELIST,
                         .name = bad ? "badlist" : "safelist"};
    json_t *data = alsim_req_json(r, out);
    if (data == NULL)
        return;
    if (!json_is_object(data))
        alsim_reply_500(out);
    else
        hashlist_add(r, out, &h, data);
    json_decref(data);
}

static void hashlist_get(struct alsim_req *r, struct alsim_resp *out, enum alsim_coll c,
                         const char *name)
{
    json_t *doc = alsim_store_get(r->sim->store, c, r->params[0]);
    if (doc == NULL)
        alsim_reply(out, 404, json_null(), "The hash was not found in the %s.", name);
    else
        alsim_reply(out, 200, doc, NULL);
}

void alsim_h_badlist_get(struct alsim_req *r, struct alsim_resp *out)
{
    hashlist_get(r, out, ALSIM_BADLIST, "badlist");
}

void alsim_h_safelist_get(struct alsim_req *r, struct alsim_resp *out)
{
    size_t n = strlen(r->params[0]);
    if (n != 32 && n != 40 && n != 64)
        alsim_reply(out, 400, json_null(), "Invalid hash length");
    else
        hashlist_get(r, out, ALSIM_SAFELIST, "safelist");
}

/* ---------- signatures ---------- */

static json_t *zero_stats(void)
{
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:n,s:n}", "count", 0, "min", 0, "max", 0, "avg", 0,
                     "sum", 0, "first_hit", "last_hit");
}

void alsim_h_signature_get(struct alsim_req *r, struct alsim_resp *out)
{
    json_t *doc = alsim_store_get(r->sim->store, ALSIM_SIGNATURE, r->params[0]);
    if (doc == NULL) {
        alsim_reply(out, 404, NULL, "Signature not found. (%s)", r->params[0]);
        return;
    }
    json_t *copy = json_deep_copy(doc);
    json_decref(doc);
    json_object_set_new(copy, "stats", zero_stats()); /* stats are recomputed on every get */
    alsim_reply(out, 200, copy, NULL);
}

struct sig_dedup {
    const json_t *name, *type, *source;
    const char *key;
};

static bool same_name_other_id(const json_t *doc, const char *id, void *ud)
{
    const struct sig_dedup *d = ud;
    return strcmp(id, d->key) != 0 && json_equal(json_object_get(doc, "name"), d->name) &&
           json_equal(json_object_get(doc, "type"), d->type) &&
           json_equal(json_object_get(doc, "source"), d->source);
}

/* Keeps the state fields and stats of the stored signature (SignatureClient). */
static void keep_old_state(json_t *data, const json_t *old)
{
    json_t *user = json_object_get(old, "state_change_user");
    const char *u = json_string_value(user);
    bool user_changed = u != NULL && strcmp(u, "update_service_account") != 0;
    json_t *st = json_object_get(data, "status");
    if (user_changed && json_is_string(st) && strcmp(json_string_value(st), "DEPLOYED") == 0 &&
        !json_equal(st, json_object_get(old, "status")))
        json_object_set(data, "status", json_object_get(old, "status"));
    const char *keep[] = {"state_change_date", "state_change_user", "stats"};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(old, keep[i]);
        json_object_set(data, keep[i], v != NULL ? v : json_null());
    }
}

static void signature_save(struct alsim_req *r, struct alsim_resp *out, json_t *data,
                           const char *key)
{
    char err[ALSIM_ERRLEN];
    json_t *old = alsim_store_get(r->sim->store, ALSIM_SIGNATURE, key);
    if (old != NULL && json_equal(json_object_get(old, "data"), json_object_get(data, "data"))) {
        json_decref(old);
        alsim_reply(out, 200, json_pack("{s:b,s:s}", "success", 1, "id", key), NULL);
        return;
    }
    if (old != NULL)
        keep_old_state(data, old);
    json_decref(old);
    const char *defaults[][2] = {{"status", "TESTING"}, {"classification", ALSIM_UNRESTRICTED}};
    for (int i = 0; i < 2; i++)
        if (json_object_get(data, defaults[i][0]) == NULL)
            json_object_set_new(data, defaults[i][0], json_string(defaults[i][1]));
    if (json_object_get(data, "last_modified") == NULL)
        json_object_set_new(data, "last_modified", iso_now_json(0));
    if (json_object_get(data, "stats") == NULL)
        json_object_set_new(data, "stats", zero_stats());
    if (alsim_store_put(r->sim->store, ALSIM_SIGNATURE, key, json_incref(data), err) != 0)
        alsim_reply_500(out);
    else
        alsim_reply(out, 200, json_pack("{s:b,s:s}", "success", 1, "id", key), NULL);
}

static void signature_add(struct alsim_req *r, struct alsim_resp *out, json_t *data)
{
    const char *dd = alsim_req_arg(r, "dedup_name");
    bool dedup = dd == NULL || strcasecmp(dd, "true") == 0;
    json_t *type = json_object_get(data, "type"), *name = json_object_get(data, "name");
    json_t *source = json_object_get(data, "source");
    if (name == NULL || json_object_get(data, "data") == NULL || source == NULL) {
        alsim_reply_500(out); /* KeyError */
        return;
    }
    if (type == NULL || json_is_null(type) || json_is_null(name) ||
        json_is_null(json_object_get(data, "data"))) {
        alsim_reply(out, 400, NULL, "Signature id, name, type and data are mandatory fields.");
        return;
    }
    if (json_object_get(data, "signature_id") == NULL)
        json_object_set(data, "signature_id", name);
    char *t = pystr(type), *s = pystr(source), *sid = pystr(json_object_get(data, "signature_id"));
    char *key = malloc(strlen(t) + strlen(s) + strlen(sid) + 3);
    if (key != NULL)
        sprintf(key, "%s_%s_%s", t, s, sid);
    free(t), free(s), free(sid);
    if (key == NULL) {
        alsim_reply_500(out);
        return;
    }
    struct sig_dedup d = {name, type, source, key};
    struct alsim_item *items = NULL;
    size_t n = 0;
    if (dedup && alsim_store_items(r->sim->store, ALSIM_SIGNATURE, same_name_other_id, &d,
                                   &items, &n) == 0 && n > 0)
        alsim_reply(out, 400, json_pack("{s:b}", "success", 0),
                    "A signature with that name already exists");
    else
        signature_save(r, out, data, key);
    alsim_items_free(items, n);
    free(key);
}

void alsim_h_signature_add(struct alsim_req *r, struct alsim_resp *out)
{
    json_t *data = alsim_req_json(r, out);
    if (data == NULL)
        return;
    if (!json_is_object(data))
        alsim_reply_500(out);
    else
        signature_add(r, out, data);
    json_decref(data);
}

/* ---------- workflows ---------- */

void alsim_h_workflow_get(struct alsim_req *r, struct alsim_resp *out)
{
    json_t *doc = alsim_store_get(r->sim->store, ALSIM_WORKFLOW, r->params[0]);
    if (doc == NULL) {
        alsim_reply(out, 404, json_object(), "Workflow ID %s does not exist", r->params[0]);
        return;
    }
    json_t *copy = json_deep_copy(doc);
    json_decref(doc);
    if (json_object_get(copy, "origin") == NULL)
        json_object_set_new(copy, "origin", json_string(r->sim->cfg.fqdn));
    alsim_reply(out, 200, copy, NULL);
}

/* Name, query and a query that parses against alerts: false after a 400. */
static bool workflow_checks(struct alsim_req *r, struct alsim_resp *out, const json_t *data)
{
    const json_t *name = json_object_get(data, "name"), *query = json_object_get(data, "query");
    char err[512];
    struct alsim_query *q = NULL;
    if (!alsim_py_truthy(name))
        alsim_reply(out, 400, json_pack("{s:b}", "success", 0), "Name field is required");
    else if (!alsim_py_truthy(query))
        alsim_reply(out, 400, json_pack("{s:b}", "success", 0), "Query field is required");
    else if (!json_is_string(query) ||
             (q = alsim_parse_for(r, ALSIM_ALERT, json_string_value(query), err)) == NULL)
        alsim_reply(out, 400, json_pack("{s:b}", "success", 0), "Query contains an error");
    alsim_query_free(q);
    return out->status == 0;
}

static void workflow_defaults(json_t *wf)
{
    struct { const char *k; json_t *v; } d[] = {
        {"creation_date", iso_now_json(0)}, {"last_edit", iso_now_json(0)},
        {"hit_count", json_integer(0)}, {"enabled", json_true()}, {"labels", json_array()},
        {"classification", json_string(ALSIM_UNRESTRICTED)}, {"first_seen", json_null()},
        {"last_seen", json_null()},
    };
    for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        if (json_object_get(wf, d[i].k) == NULL)
            json_object_set(wf, d[i].k, d[i].v);
        json_decref(d[i].v);
    }
}

static void workflow_add(struct alsim_req *r, struct alsim_resp *out, json_t *data)
{
    char id[23], err[ALSIM_ERRLEN];
    if (!workflow_checks(r, out, data))
        return;
    json_t *prio = json_object_get(data, "priority"), *status = json_object_get(data, "status");
    if (prio == NULL || status == NULL) {
        alsim_reply_500(out); /* data['priority'] / data['status'] raise upstream */
        return;
    }
    alsim_random_id(id); /* B10: any id in the body is ignored */
    json_object_set_new(data, "workflow_id", json_string(id));
    json_object_set_new(data, "creator", json_string(r->user->name));
    json_object_set_new(data, "edited_by", json_string(r->user->name));
    json_object_set(data, "priority", alsim_py_truthy(prio) ? prio : json_null());
    json_object_set(data, "status", alsim_py_truthy(status) ? status : json_null());
    json_t *origin = json_object_get(data, "origin");
    json_object_set_new(data, "origin", alsim_py_truthy(origin) ? json_incref(origin)
                                                       : json_string(r->sim->cfg.fqdn));
    workflow_defaults(data);
    if (alsim_store_put(r->sim->store, ALSIM_WORKFLOW, id, json_incref(data), err) != 0)
        alsim_reply_500(out);
    else
        alsim_reply(out, 200, json_pack("{s:b,s:s}", "success", 1, "workflow_id", id), NULL);
}

struct wf_update {
    const json_t *data;
    const char *user, *id;
};

static bool apply_workflow_update(json_t *wf, void *ud)
{
    const struct wf_update *u = ud;
    json_object_update(wf, (json_t *)u->data);
    json_object_set_new(wf, "edited_by", json_string(u->user));
    json_object_set_new(wf, "last_edit", iso_now_json(0));
    json_object_set_new(wf, "workflow_id", json_string(u->id));
    return true;
}

void alsim_h_workflow_add(struct alsim_req *r, struct alsim_resp *out)
{
    json_t *data = alsim_req_json(r, out);
    if (data == NULL)
        return;
    if (!json_is_object(data))
        alsim_reply_500(out);
    else
        workflow_add(r, out, data);
    json_decref(data);
}

void alsim_h_workflow_update(struct alsim_req *r, struct alsim_resp *out)
{
    json_t *data = alsim_req_json(r, out);
    char err[ALSIM_ERRLEN];
    if (data == NULL)
        return;
    if (!json_is_object(data)) {
        alsim_reply_500(out);
    } else if (workflow_checks(r, out, data)) {
        struct wf_update u = {data, r->user->name, r->params[0]};
        int rc = alsim_store_update(r->sim->store, ALSIM_WORKFLOW, r->params[0],
                                    apply_workflow_update, &u, err);
        if (rc == 1)
            alsim_reply(out, 200, json_pack("{s:b}", "success", 1), NULL);
        else
            alsim_reply_500(out); /* saving "nothing" raises upstream (unknown id) */
    }
    json_decref(data);
}
