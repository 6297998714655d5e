/* seed: deterministic test data for al-sim (see seed.h). */
#include "seed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "alsim.h"
#include "simtime.h"
#include "simutil.h"

#define BLOCK (64 * 1024)

static const char *const SERVICES[] = {"Extract", "Characterize", "YARA", "PE", "AntiVirus",
                                       "Frankenstrings", "TagCheck", "Safelist"};
#define N_SERVICES (sizeof(SERVICES) / sizeof(SERVICES[0]))

struct rng {
    uint64_t s;
};

static uint64_t next(struct rng *r) /* splitmix64 */
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void rng_id(struct rng *r, char out[23])
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int i = 0; i < 22; i++)
        out[i] = b62[next(r) % 62];
    out[22] = '\0';
}

static void rng_hex(struct rng *r, char *out, size_t nbytes)
{
    unsigned char b[64];
    for (size_t i = 0; i < nbytes && i < sizeof(b); i++)
        b[i] = (unsigned char)next(r);
    alsim_hex(b, nbytes < sizeof(b) ? nbytes : sizeof(b), out);
}

void alsim_seed_defaults(struct alsim_seed_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->submissions = 3;
    o->files_per_submission = 2;
    o->file_size = 4096;
    o->results_per_file = 2;
    o->errors_per_submission = 1;
    o->alerts = 2;
    o->badlist = o->safelist = o->signatures = o->workflows = 2;
    o->classification = ALSIM_UNRESTRICTED;
    o->spacing_ms = 1000;
}

static bool state_ok(const char *s)
{
    return s == NULL || strcmp(s, "requested") == 0 || strcmp(s, "pending") == 0 ||
           strcmp(s, "done") == 0;
}

struct num_opt {
    const char *name;
    long *lp;
    int64_t *ip;
};

int alsim_seed_opts_from_json(const json_t *j, struct alsim_seed_opts *o, char err[ALSIM_ERRLEN])
{
    struct num_opt nums[] = {
        {"submissions", &o->submissions, NULL}, {"files", &o->files_per_submission, NULL},
        {"file_size", NULL, &o->file_size}, {"large_file", NULL, &o->large_file},
        {"results", &o->results_per_file, NULL}, {"errors", &o->errors_per_submission, NULL},
        {"alerts", &o->alerts, NULL}, {"badlist", &o->badlist, NULL},
        {"safelist", &o->safelist, NULL}, {"signatures", &o->signatures, NULL},
        {"workflows", &o->workflows, NULL}, {"spacing_ms", NULL, &o->spacing_ms},
    };
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
        bool done = false;
        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]) && !done; i++) {
            if (strcmp(k, nums[i].name) != 0)
                continue;
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                snprintf(err, ALSIM_ERRLEN, "seed option %s must be a non-negative integer", k);
                return -1;
            }
            if (nums[i].lp != NULL)
                *nums[i].lp = (long)json_integer_value(v);
            else
                *nums[i].ip = json_integer_value(v);
            done = true;
        }
        if (done)
            continue;
        if (strcmp(k, "rng_seed") == 0 && json_is_integer(v)) {
            o->rng_seed = (uint64_t)json_integer_value(v);
        } else if (strcmp(k, "start") == 0 && json_is_string(v)) {
            int64_t ms;
            if (alsim_parse_date(json_string_value(v), json_string_length(v), &ms) != 0) {
                snprintf(err, ALSIM_ERRLEN, "seed option start is not a date");
                return -1;
            }
            o->start_us = ms * 1000;
        } else if ((strcmp(k, "submission_state") == 0 || strcmp(k, "alert_state") == 0 ||
                    strcmp(k, "classification") == 0) && (json_is_string(v) || json_is_null(v))) {
            const char *s = json_string_value(v);
            if (strcmp(k, "classification") == 0)
                o->classification = s != NULL ? s : ALSIM_UNRESTRICTED;
            else if (k[0] == 's')
                o->submission_state = s;
            else
                o->alert_state = s;
        } else {
            snprintf(err, ALSIM_ERRLEN, "unknown or badly typed seed option '%s'", k);
            return -1;
        }
    }
    if (!state_ok(o->submission_state) || !state_ok(o->alert_state)) {
        snprintf(err, ALSIM_ERRLEN, "states are requested, pending or done");
        return -1;
    }
    return 0;
}

/* ---------- files ---------- */

struct seeded_file {
    char sha256[65], sha1[41], md5[33];
    int64_t size;
    char name[64];
};

struct ctx {
    struct alsim_store *s;
    const struct alsim_seed_opts *o;
    struct rng rng;
    int64_t t_us;           /* time of the next item */
    json_t *summary;
    char *err;
    int64_t bytes;
    long nfiles, nresults, nerrors;
};

static void tick(struct ctx *c, char iso[ALSIM_ISO_LEN])
{
    alsim_iso_from_us(c->t_us, iso);
    c->t_us += c->o->spacing_ms * 1000;
}

static void digest_hex(EVP_MD_CTX *m, char *out)
{
    unsigned char md[64];
    unsigned int n = 0;
    EVP_DigestFinal_ex(m, md, &n);
    alsim_hex(md, n, out);
}

/* Writes `size` pseudo-random bytes to the filestore; fills f's digests. */
static int write_blob(struct ctx *c, int64_t size, struct seeded_file *f)
{
    char path[4200];
    int fd = alsim_store_tmpfile(c->s, "seed", path, sizeof(path));
    if (fd < 0) {
        snprintf(c->err, ALSIM_ERRLEN, "create temp file: %s", strerror(errno));
        return -1;
    }
    EVP_MD_CTX *m[3] = {EVP_MD_CTX_new(), EVP_MD_CTX_new(), EVP_MD_CTX_new()};
    const EVP_MD *md[3] = {EVP_sha256(), EVP_sha1(), EVP_md5()};
    unsigned char *buf = malloc(BLOCK);
    int rc = buf != NULL && m[0] && m[1] && m[2] ? 0 : -1;
    for (int i = 0; i < 3 && rc == 0; i++)
        EVP_DigestInit_ex(m[i], md[i], NULL);
    for (int64_t left = size; left > 0 && rc == 0;) {
        size_t n = left < BLOCK ? (size_t)left : BLOCK;
        for (size_t i = 0; i < n; i += 8) {
            uint64_t v = next(&c->rng);
            memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
        }
        for (int i = 0; i < 3; i++)
            EVP_DigestUpdate(m[i], buf, n);
        rc = alsim_write_all(fd, buf, n);
        left -= (int64_t)n;
    }
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0) {
        digest_hex(m[0], f->sha256);
        digest_hex(m[1], f->sha1);
        digest_hex(m[2], f->md5);
        f->size = size;
        rc = alsim_blob_adopt(c->s, path, f->sha256, c->err);
    } else {
        snprintf(c->err, ALSIM_ERRLEN, "write seeded file: %s", strerror(errno));
        unlink(path);
    }
    for (int i = 0; i < 3; i++)
        EVP_MD_CTX_free(m[i]);
    free(buf);
    c->bytes += rc == 0 ? size : 0;
    return rc;
}

static int seed_file(struct ctx *c, int64_t size, const char *name, struct seeded_file *f)
{
    char iso[ALSIM_ISO_LEN];
    snprintf(f->name, sizeof(f->name), "%s", name);
    if (write_blob(c, size, f) != 0)
        return -1;
    alsim_iso_from_us(c->t_us, iso);
    json_t *doc = json_pack(
        "{s:s,s:s,s:n,s:s,s:f,s:s,s:s,s:s,s:{s:i,s:s,s:s},s:s,s:s,s:I,s:s,s:b,s:b}",
        "ascii", "................", "classification", c->o->classification, "expiry_ts",
        "hex", "00000000000000000000", "entropy", 7.99, "magic", "data", "md5", f->md5, "mime",
        "application/octet-stream", "seen", "count", 1, "first", iso, "last", iso, "sha1",
        f->sha1, "sha256", f->sha256, "size", (json_int_t)size, "type", "unknown",
        "is_section_image", 0, "from_archive", 0);
    c->nfiles++;
    return alsim_store_put(c->s, ALSIM_FILE, f->sha256, doc, c->err);
}

/* ---------- results, errors ---------- */

static json_t *result_doc(struct ctx *c, const struct seeded_file *f, const char *service,
                          json_t *extracted, int score, const char *iso)
{
    return json_pack(
        "{s:s,s:s,s:n,s:{s:s,s:s,s:s,s:o,s:[],s:{s:s,s:s}},"
        "s:{s:i,s:[{s:s,s:s,s:s,s:s,s:i,s:n,s:{}}]},s:s,s:s,s:I,s:b,s:b,s:b}",
        "archive_ts", iso, "classification", c->o->classification, "expiry_ts",
        "response", "service_name", service, "service_version", "4.5.0.stable1",
        "service_tool_version", "1", "extracted", extracted, "supplementary", "milestones",
        "service_started", iso, "service_completed", iso,
        "result", "score", score, "sections", "title_text", "Seeded section", "body",
        "Generated by al-sim seed", "body_format", "TEXT", "classification",
        c->o->classification, "depth", 0, "heuristic", "tags",
        "sha256", f->sha256, "type", "unknown", "size", (json_int_t)f->size,
        "drop_file", 0, "partial", 0, "from_archive", 0);
}

/* Results of one file; the first one lists `children` as extracted. */
static int seed_results(struct ctx *c, const struct seeded_file *f,
                        const struct seeded_file *children, long nchildren, json_t *keys)
{
    char iso[ALSIM_ISO_LEN], key[256], conf[17];
    alsim_iso_from_us(c->t_us, iso);
    for (long i = 0; i < c->o->results_per_file; i++) {
        const char *svc = SERVICES[i % N_SERVICES];
        json_t *ex = json_array();
        for (long k = 0; i == 0 && k < nchildren; k++)
            json_array_append_new(ex, json_pack("{s:s,s:s,s:s,s:s}", "name", children[k].name,
                                                "sha256", children[k].sha256, "description",
                                                "extracted by seed", "classification",
                                                c->o->classification));
        rng_hex(&c->rng, conf, 8);
        snprintf(key, sizeof(key), "%s.%s.v4_5_0_stable1.c%s", f->sha256, svc, conf);
        json_t *doc = result_doc(c, f, svc, ex, (int)(next(&c->rng) % 1001), iso);
        if (alsim_store_put(c->s, ALSIM_RESULT, key, doc, c->err) != 0)
            return -1;
        json_array_append_new(keys, json_string(key));
        c->nresults++;
    }
    return 0;
}

static int seed_errors(struct ctx *c, const struct seeded_file *f, json_t *keys)
{
    char iso[ALSIM_ISO_LEN], key[256], conf[17];
    alsim_iso_from_us(c->t_us, iso);
    for (long i = 0; i < c->o->errors_per_submission; i++) {
        const char *svc = SERVICES[(i + 3) % N_SERVICES];
        rng_hex(&c->rng, conf, 8);
        snprintf(key, sizeof(key), "%s.%s.v4_5_0_stable1.c%s.e%ld", f->sha256, svc, conf,
                 1 + i % 5);
        json_t *doc = json_pack("{s:s,s:s,s:n,s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s}", "archive_ts",
                                iso, "created", iso, "expiry_ts", "response", "message",
                                "Seeded service failure", "service_name", svc,
                                "service_version", "4.5.0.stable1", "service_tool_version", "1",
                                "status", "FAIL_NONRECOVERABLE", "sha256", f->sha256, "type",
                                "EXCEPTION");
        if (alsim_store_put(c->s, ALSIM_ERROR, key, doc, c->err) != 0)
            return -1;
        json_array_append_new(keys, json_string(key));
        c->nerrors++;
    }
    return 0;
}

/* ---------- submissions and alerts ---------- */

static json_t *metadata(const char *state)
{
    json_t *m = json_pack("{s:s}", "source", "al-sim seed");
    if (state != NULL)
        json_object_set_new(m, "replay", json_string(state));
    return m;
}

static int seed_alert(struct ctx *c, const char *sid, const struct seeded_file *root,
                      const char *submitted, const char *completed)
{
    char id[23], reported[ALSIM_ISO_LEN];
    rng_id(&c->rng, id);
    tick(c, reported);
    json_t *doc = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:o,s:n,s:n,s:n,s:[s],s:[],s:n,"
        "s:{s:s,s:s,s:s,s:I,s:s,s:s},s:{s:i,s:[],s:[],s:[]},s:s,s:b}",
        "alert_id", id, "sid", sid, "ts", submitted, "reporting_ts", reported, "classification",
        c->o->classification, "extended_scan", "completed", "type", "seed", "workflows_completed",
        1, "filtered", 0, "metadata", metadata(c->o->alert_state), "owner", "priority", "status",
        "label", "SEED", "events", "expiry_ts", "file", "md5", root->md5, "sha1", root->sha1,
        "sha256", root->sha256, "size", (json_int_t)root->size, "type", "unknown", "name",
        root->name, "al", "score", 500, "attrib", "av", "behavior", "submission_completed",
        completed, "from_archive", 0);
    if (alsim_store_put(c->s, ALSIM_ALERT, id, doc, c->err) != 0)
        return -1;
    json_array_append_new(json_object_get(c->summary, "alerts"), json_string(id));
    return 0;
}

/* Files of submission i: a root, children extracted from it, maybe the big one. */
static int seed_files(struct ctx *c, long i, struct seeded_file *files, long nfiles,
                      json_t *results, json_t *errors)
{
    char name[64];
    for (long k = 0; k < nfiles; k++) {
        bool large = i == 0 && c->o->large_file > 0 && k == nfiles - 1;
        snprintf(name, sizeof(name), k == 0 ? "sample_%ld.bin" : "extracted_%ld_%ld.bin", i, k);
        if (seed_file(c, large ? c->o->large_file : c->o->file_size, name, &files[k]) != 0)
            return -1;
        if (large)
            json_object_set_new(c->summary, "large_file", json_string(files[k].sha256));
    }
    for (long k = 0; k < nfiles; k++)
        if (seed_results(c, &files[k], files + 1, k == 0 ? nfiles - 1 : 0, results) != 0)
            return -1;
    return seed_errors(c, &files[0], errors);
}

static int seed_submission(struct ctx *c, long i)
{
    long nfiles = (c->o->files_per_submission > 0 ? c->o->files_per_submission : 1) +
                  (i == 0 && c->o->large_file > 0);
    struct seeded_file *files = calloc((size_t)nfiles, sizeof(*files));
    json_t *results = json_array(), *errors = json_array();
    char sid[23], submitted[ALSIM_ISO_LEN], completed[ALSIM_ISO_LEN];
    int rc = files != NULL ? 0 : -1;
    rng_id(&c->rng, sid);
    tick(c, submitted);
    if (rc == 0)
        rc = seed_files(c, i, files, nfiles, results, errors);
    tick(c, completed);
    json_t *doc = rc == 0 ? json_pack(
        "{s:s,s:s,s:i,s:o,s:n,s:i,s:[{s:s,s:s,s:I}],s:i,s:o,s:{s:s,s:b,s:i,s:{s:[s]}},"
        "s:o,s:s,s:{s:s,s:s},s:{s:[],s:[]},s:b,s:b}",
        "sid", sid, "classification", c->o->classification, "error_count",
        (int)json_array_size(errors), "errors", json_incref(errors), "expiry_ts", "file_count",
        (int)nfiles, "files", "name", files[0].name, "sha256", files[0].sha256, "size",
        (json_int_t)files[0].size, "max_score", 500, "metadata", metadata(c->o->submission_state),
        "params", "submitter", "admin", "deep_scan", 0, "priority", 1000, "services",
        "selected", "Extract", "results", json_incref(results), "state", "completed", "times",
        "submitted", submitted, "completed", completed, "verdict", "malicious", "non_malicious",
        "archived", 0, "to_be_deleted", 0) : NULL;
    if (rc == 0)
        rc = alsim_store_put(c->s, ALSIM_SUBMISSION, sid, doc, c->err);
    if (rc == 0)
        json_array_append_new(json_object_get(c->summary, "submissions"), json_string(sid));
    if (rc == 0 && i < c->o->alerts)
        rc = seed_alert(c, sid, &files[0], submitted, completed);
    json_decref(results);
    json_decref(errors);
    free(files);
    return rc;
}

/* ---------- list collections ---------- */

/* The accounts whose user sources the list items carry, as on an instance where
 * several analysts list hashes: add_update on a target accepts a user source only
 * from that user (al-rest-api.md §5.10). Item 0 is the first one's. */
static const char *const LIST_USERS[] = {"admin", "alice", "bob"};
#define N_LIST_USERS (sizeof(LIST_USERS) / sizeof(LIST_USERS[0]))

static json_t *source(const char *cl, const char *name, const char *type, const char *reason)
{
    return json_pack("{s:s,s:s,s:[s],s:s}", "classification", cl, "name", name, "reason", reason,
                     "type", type);
}

/* Sources of list item k: every fourth from an external feed only (needs
 * signature_import to replay); the others from one of LIST_USERS in turn, every
 * second of them with the feed too. */
static json_t *item_sources(struct ctx *c, enum alsim_coll coll, long k)
{
    const char *cl = c->o->classification;
    const char *feed = coll == ALSIM_BADLIST ? "threat-feed" : "NSRL";
    json_t *srcs = json_array();
    if (k % 4 != 3)
        json_array_append_new(srcs, source(cl, LIST_USERS[(size_t)k % N_LIST_USERS], "user",
                                           "seeded by al-sim"));
    if (k % 2 == 1)
        json_array_append_new(srcs, source(cl, feed, "external", "listed by the feed"));
    return srcs;
}

/* Badlist or safelist item k: a file (hashes) or, every third, a tag. */
static int seed_hashlist(struct ctx *c, enum alsim_coll coll, long k)
{
    char iso[ALSIM_ISO_LEN], md5[33], sha1[41], sha256[65], text[128];
    tick(c, iso);
    json_t *doc = json_pack("{s:s,s:s,s:s,s:b,s:n,s:o}", "added", iso, "updated", iso,
                            "classification", c->o->classification, "enabled", 1, "expiry_ts",
                            "sources", item_sources(c, coll, k));
    if (coll == ALSIM_BADLIST)
        json_object_set_new(doc, "attribution", json_null());
    if (k % 3 == 2) {
        snprintf(text, sizeof(text), "network.static.domain: %s%ld.example.com",
                 coll == ALSIM_BADLIST ? "bad" : "good", k);
        alsim_sha256_hex(text, strlen(text), sha256);
        json_object_set_new(doc, "type", json_string("tag"));
        json_object_set_new(doc, "tag", json_pack("{s:s,s:s}", "type", "network.static.domain",
                                                  "value", strchr(text, ' ') + 1));
        json_object_set_new(doc, "hashes", json_pack("{s:s}", "sha256", sha256));
    } else {
        rng_hex(&c->rng, md5, 16);
        rng_hex(&c->rng, sha1, 20);
        rng_hex(&c->rng, sha256, 32);
        snprintf(text, sizeof(text), "seeded_%ld.exe", k);
        json_object_set_new(doc, "type", json_string("file"));
        json_object_set_new(doc, "hashes", json_pack("{s:s,s:s,s:s}", "md5", md5, "sha1", sha1,
                                                     "sha256", sha256));
        json_object_set_new(doc, "file", json_pack("{s:[s],s:i,s:s}", "name", text, "size",
                                                   1024 + (int)k, "type", "executable/windows"));
    }
    if (alsim_store_put(c->s, coll, sha256, doc, c->err) != 0)
        return -1;
    json_array_append_new(json_object_get(c->summary, alsim_coll_name(coll)), json_string(sha256));
    return 0;
}

static int seed_signature(struct ctx *c, long k)
{
    char iso[ALSIM_ISO_LEN], name[64], data[160], id[128];
    tick(c, iso);
    snprintf(name, sizeof(name), "seed_rule_%ld", k);
    snprintf(data, sizeof(data), "rule %s { strings: $a = \"seed%ld\" condition: $a }", name, k);
    snprintf(id, sizeof(id), "yara_al-sim_%s", name);
    json_t *doc = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:n,s:n,s:{s:i,s:i,s:i,s:i,s:i,s:n,s:n}}",
        "classification", c->o->classification, "data", data, "last_modified", iso, "name", name,
        "revision", "1", "signature_id", name, "source", "al-sim", "status", "DEPLOYED", "order",
        1, "type", "yara", "state_change_date", "state_change_user", "stats", "count", 0, "min",
        0, "max", 0, "avg", 0, "sum", 0, "first_hit", "last_hit");
    if (alsim_store_put(c->s, ALSIM_SIGNATURE, id, doc, c->err) != 0)
        return -1;
    json_array_append_new(json_object_get(c->summary, "signature"), json_string(id));
    return 0;
}

static int seed_workflow(struct ctx *c, long k)
{
    char iso[ALSIM_ISO_LEN], id[23], name[64];
    rng_id(&c->rng, id);
    tick(c, iso);
    snprintf(name, sizeof(name), "Seeded workflow %ld", k);
    json_t *doc = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:i,s:[s],s:s,s:s,s:n,s:n,s:s,s:s,s:s}",
        "workflow_id", id, "name", name, "query", "label:SEED AND NOT status:FALSE-POSITIVE",
        "classification", c->o->classification, "creator", "admin", "edited_by", "admin",
        "creation_date", iso, "enabled", 1, "hit_count", 0, "labels", "SEED", "last_edit", iso,
        "priority", "LOW", "first_seen", "last_seen", "status", "MALICIOUS", "origin",
        "localhost", "description", "");
    if (alsim_store_put(c->s, ALSIM_WORKFLOW, id, doc, c->err) != 0)
        return -1;
    json_array_append_new(json_object_get(c->summary, "workflow"), json_string(id));
    return 0;
}

static int seed_lists(struct ctx *c)
{
    for (long k = 0; k < c->o->badlist; k++)
        if (seed_hashlist(c, ALSIM_BADLIST, k) != 0)
            return -1;
    for (long k = 0; k < c->o->safelist; k++)
        if (seed_hashlist(c, ALSIM_SAFELIST, k) != 0)
            return -1;
    for (long k = 0; k < c->o->signatures; k++)
        if (seed_signature(c, k) != 0)
            return -1;
    for (long k = 0; k < c->o->workflows; k++)
        if (seed_workflow(c, k) != 0)
            return -1;
    return 0;
}

int alsim_seed_run(struct alsim_store *s, const struct alsim_seed_opts *o, json_t **summary,
                   char err[ALSIM_ERRLEN])
{
    long items = o->submissions * 3 + o->badlist + o->safelist + o->signatures + o->workflows;
    struct ctx c = {.s = s, .o = o, .err = err};
    c.rng.s = o->rng_seed != 0 ? o->rng_seed : (uint64_t)alsim_now_us();
    c.t_us = o->start_us != 0 ? o->start_us
                              : alsim_now_us() - (int64_t)(items + 1) * o->spacing_ms * 1000;
    c.t_us += (int64_t)(next(&c.rng) % 1000000) - c.t_us % 1000000; /* random microseconds */
    c.summary = json_pack("{s:[],s:[],s:n,s:[],s:[],s:[],s:[]}", "submissions", "alerts",
                          "large_file", "badlist", "safelist", "signature", "workflow");
    *summary = NULL;
    int rc = c.summary != NULL ? 0 : -1;
    for (long i = 0; rc == 0 && i < o->submissions; i++)
        rc = seed_submission(&c, i);
    if (rc == 0)
        rc = seed_lists(&c);
    if (rc != 0) {
        json_decref(c.summary);
        return -1;
    }
    json_object_set_new(c.summary, "files", json_integer(c.nfiles));
    json_object_set_new(c.summary, "results", json_integer(c.nresults));
    json_object_set_new(c.summary, "errors", json_integer(c.nerrors));
    json_object_set_new(c.summary, "bytes", json_integer(c.bytes));
    *summary = c.summary;
    return 0;
}
