/* bundle_create: GET /api/v4/bundle/<id>/[?use_alert] builds a real bundle
 * (formats.md §2.4) into an unlinked temp file and serves it from the fd, so
 * memory stays flat whatever the size of the submission. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alsim.h"
#include "bundle.h"
#include "pyjson_int.h"
#include "replay/cart.h"
#include "simtime.h"
#include "simutil.h"

struct build {
    struct alsim_req *r;
    json_t *sub, *alert;        /* copies, safe to change */
    json_t *list, *infos;       /* files.list, files.infos */
    json_t *supplementary;      /* sha256 of supplementary files */
    char err[600];
};

/* ---------- results.json ---------- */

static void add_meta(struct build *b, json_t *doc)
{
    char iso[ALSIM_ISO_LEN];
    json_t *md = json_object_get(doc, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(doc, "metadata", md);
    }
    if (json_object_get(md, "bundle.source") == NULL)
        json_object_set_new(md, "bundle.source", json_string(b->r->sim->cfg.fqdn));
    alsim_iso_now(iso);
    if (json_object_get(md, "bundle.created") == NULL)
        json_object_set_new(md, "bundle.created", json_string(iso));
    if (b->r->sim->cfg.enforce_classification && json_object_get(md, "bundle.classification") == NULL)
        json_object_set(md, "bundle.classification", json_object_get(doc, "classification"));
}

static bool list_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    return false;
}

static void list_add(json_t *arr, const char *s)
{
    if (!list_has(arr, s))
        json_array_append_new(arr, json_string(s));
}

/* Children of a file: what its results of this submission extracted. */
static json_t *tree_node(struct build *b, const char *sha, json_t *names, int depth);

static json_t *children_of(struct build *b, const char *sha, int depth, int *score)
{
    json_t *children = json_object(), *keys = json_object_get(b->sub, "results"), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        if (key == NULL || strncmp(key, sha, 64) != 0 || key[64] != '.')
            continue;
        json_t *res = alsim_store_get(b->r->sim->store, ALSIM_RESULT, key);
        json_t *sc = json_object_get(json_object_get(res, "result"), "score"), *e;
        if (json_is_integer(sc) && json_integer_value(sc) > *score)
            *score = (int)json_integer_value(sc);
        size_t j;
        json_array_foreach(json_object_get(json_object_get(res, "response"), "extracted"), j, e) {
            const char *csha = json_string_value(json_object_get(e, "sha256"));
            if (csha == NULL || !alsim_sha256_valid(csha))
                continue;
            json_t *node = json_object_get(children, csha);
            if (node != NULL)
                list_add(json_object_get(node, "name"), json_string_value(json_object_get(e, "name")));
            else
                json_object_set_new(children, csha,
                                    tree_node(b, csha, json_pack("[s?]", json_string_value(json_object_get(e, "name"))), depth + 1));
        }
        json_decref(res);
    }
    return children;
}

static json_t *tree_node(struct build *b, const char *sha, json_t *names, int depth)
{
    json_t *info = alsim_store_get(b->r->sim->store, ALSIM_FILE, sha);
    int score = 0;
    bool truncated = depth >= ALSIM_MAX_EXTRACTION_DEPTH;
    json_t *children = truncated ? json_object() : children_of(b, sha, depth, &score);
    list_add(b->list, sha);
    json_t *node = json_pack("{s:o,s:O?,s:s,s:O?,s:o,s:b,s:i}", "name", names, "type",
                             json_object_get(info, "type"), "sha256", sha, "size",
                             json_object_get(info, "size"), "children", children, "truncated",
                             truncated, "score", score);
    json_decref(info);
    return node;
}

static json_t *file_tree(struct build *b)
{
    json_t *tree = json_object(), *f;
    size_t i;
    json_array_foreach(json_object_get(b->sub, "files"), i, f) {
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        const char *name = json_string_value(json_object_get(f, "name"));
        if (sha == NULL || !alsim_sha256_valid(sha))
            continue;
        json_t *node = json_object_get(tree, sha);
        if (node != NULL)
            list_add(json_object_get(node, "name"), name != NULL ? name : sha);
        else
            json_object_set_new(tree, sha, tree_node(b, sha, json_pack("[s]", name ? name : sha), 0));
    }
    return tree;
}

/* An empty result (key ending in .e) is made up from its key, as upstream does. */
static json_t *empty_result(const char *key)
{
    char sha[65], svc[128] = "", ver[128] = "";
    snprintf(sha, sizeof(sha), "%.64s", key);
    sscanf(key + (strlen(key) > 65 ? 65 : strlen(key)), "%127[^.].v%127[^.]", svc, ver);
    for (char *p = ver; *p != '\0'; p++)
        if (*p == '_')
            *p = '.';
    return json_pack("{s:n,s:s,s:n,s:{s:s,s:s,s:[],s:[]},s:{s:i,s:[]},s:s,s:b}",
                     "archive_ts", "classification", ALSIM_UNRESTRICTED, "expiry_ts", "response",
                     "service_name", svc, "service_version", ver, "extracted", "supplementary",
                     "result", "score", 0, "sections", "sha256", sha, "drop_file", 0);
}

static json_t *results_part(struct build *b)
{
    json_t *results = json_object(), *missing = json_array(), *k;
    size_t i;
    json_array_foreach(json_object_get(b->sub, "results"), i, k) {
        const char *key = json_string_value(k);
        if (key == NULL)
            continue;
        size_t n = strlen(key);
        json_t *res = n > 2 && strcmp(key + n - 2, ".e") == 0
                          ? empty_result(key) : alsim_store_get(b->r->sim->store, ALSIM_RESULT, key);
        char sha[65];
        snprintf(sha, sizeof(sha), "%.64s", key);
        if (res == NULL) {
            json_array_append(missing, k);
        } else if (json_object_get(b->infos, sha) != NULL) { /* no file document: dropped */
            json_t *s;
            size_t j;
            json_array_foreach(json_object_get(json_object_get(res, "response"), "supplementary"), j, s)
                if (json_is_string(json_object_get(s, "sha256")))
                    list_add(b->supplementary, json_string_value(json_object_get(s, "sha256")));
            json_object_set(results, key, res);
        }
        json_decref(res);
    }
    return json_pack("{s:o,s:o}", "results", results, "missing_result_keys", missing);
}

static json_t *errors_part(struct build *b)
{
    json_t *errors = json_object(), *missing = json_array(), *k;
    size_t i;
    json_array_foreach(json_object_get(b->sub, "errors"), i, k) {
        json_t *e = alsim_store_get(b->r->sim->store, ALSIM_ERROR, json_string_value(k));
        if (e != NULL)
            json_object_set_new(errors, json_string_value(k), e);
        else
            json_array_append(missing, k);
    }
    return json_pack("{s:o,s:o}", "errors", errors, "missing_error_keys", missing);
}

static void add_infos(struct build *b, const json_t *shas)
{
    size_t i;
    json_t *s;
    json_array_foreach(shas, i, s) {
        json_t *info = alsim_store_get(b->r->sim->store, ALSIM_FILE, json_string_value(s));
        if (info != NULL)
            json_object_set_new(b->infos, json_string_value(s), info);
    }
}

/* The whole results.json document, in upstream's key order. */
static json_t *results_json(struct build *b)
{
    json_t *data = json_object();
    if (b->sub != NULL) {
        json_t *tree = file_tree(b), *k;
        size_t i;
        json_array_foreach(json_object_get(b->sub, "results"), i, k)
            if (json_is_string(k) && json_string_length(k) >= 64) {
                char sha[65];
                snprintf(sha, sizeof(sha), "%.64s", json_string_value(k));
                list_add(b->list, sha);
            }
        add_infos(b, b->list);
        add_meta(b, b->sub);
        json_t *results = results_part(b);
        add_infos(b, b->supplementary);
        json_object_set(data, "submission", b->sub);
        json_object_set_new(data, "files", json_pack("{s:O,s:o,s:O}", "list", b->list, "tree",
                                                     tree, "infos", b->infos));
        json_object_set_new(data, "results", results);
        json_object_set_new(data, "errors", errors_part(b));
    }
    if (b->alert != NULL) {
        add_meta(b, b->alert);
        json_object_set(data, "alert", b->alert);
    }
    return data;
}

/* ---------- tar.gz into CaRT into a file ---------- */

struct sink {
    int fd;
    struct replay_cart_enc *enc;
    struct replay_err err;
};

static int sink_write(void *ctx, const void *buf, size_t len, struct replay_err *err)
{
    struct sink *s = ctx;
    if (alsim_write_all(s->fd, buf, len) != 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "write bundle");
    return 0;
}

static la_ssize_t tar_write(struct archive *a, void *ud, const void *buf, size_t len)
{
    struct sink *s = ud;
    if (replay_cart_enc_write(s->enc, buf, len, &s->err) != 0) {
        archive_set_error(a, EIO, "%s", s->err.msg);
        return -1;
    }
    return (la_ssize_t)len;
}

static int tar_member(struct archive *a, const char *name, int64_t size)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, (time_t)(alsim_now_ms() / 1000), 0);
    int rc = archive_write_header(a, e);
    archive_entry_free(e);
    return rc == ARCHIVE_OK ? 0 : -1;
}

static int tar_file(struct archive *a, struct build *b, const char *sha)
{
    char path[4200];
    struct stat st;
    if (alsim_blob_path(b->r->sim->store, sha, path, sizeof(path)) != 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) { /* a file the filestore lacks is left out */
        if (fd >= 0)
            close(fd);
        return 0;
    }
    char *buf = malloc(ALSIM_BUNDLE_BLOCK);
    int rc = buf != NULL && tar_member(a, sha, st.st_size) == 0 ? 0 : -1;
    for (int64_t left = st.st_size; rc == 0 && left > 0;) {
        ssize_t n = read(fd, buf, ALSIM_BUNDLE_BLOCK);
        if (n <= 0 || archive_write_data(a, buf, (size_t)n) != n)
            rc = -1;
        left -= n > 0 ? n : 0;
    }
    free(buf);
    close(fd);
    if (rc != 0)
        snprintf(b->err, sizeof(b->err), "OSError: %s", archive_error_string(a) != NULL
                                                           ? archive_error_string(a) : "read error");
    return rc;
}

static int write_tar(struct build *b, struct sink *s, const char *rjson, size_t rlen)
{
    struct archive *a = archive_write_new();
    char level[4];
    snprintf(level, sizeof(level), "%d", b->r->sim->cfg.gzip_level);
    int rc = a != NULL && archive_write_add_filter_gzip(a) == ARCHIVE_OK &&
             archive_write_set_filter_option(a, "gzip", "compression-level", level) == ARCHIVE_OK &&
             archive_write_set_format_gnutar(a) == ARCHIVE_OK &&
             archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK && /* no zeros after gzip */
             archive_write_open(a, s, NULL, tar_write, NULL) == ARCHIVE_OK ? 0 : -1;
    if (rc == 0 && (tar_member(a, "results.json", (int64_t)rlen) != 0 ||
                    archive_write_data(a, rjson, rlen) != (la_ssize_t)rlen))
        rc = -1;
    json_t *all = json_array(), *v;
    size_t i;
    json_array_extend(all, b->list);
    json_array_foreach(b->supplementary, i, v)
        list_add(all, json_string_value(v));
    json_array_foreach(all, i, v)
        if (rc == 0)
            rc = tar_file(a, b, json_string_value(v));
    json_decref(all);
    if (rc == 0 && archive_write_close(a) != ARCHIVE_OK)
        rc = -1;
    if (rc != 0 && b->err[0] == '\0')
        snprintf(b->err, sizeof(b->err), "OSError: %s", a != NULL && archive_error_string(a)
                                                            ? archive_error_string(a) : "tar failed");
    archive_write_free(a);
    return rc;
}

/* Builds the CaRT file; returns its fd (unlinked, at offset 0) or -1. */
static int build_file(struct build *b, const char *sid, uint64_t *size)
{
    char path[4200], header[400];
    json_t *data = results_json(b);
    char *rjson = replay__pyjson_dumps(data, 0, NULL);
    json_decref(data);
    struct sink s = {.fd = alsim_store_tmpfile(b->r->sim->store, "bundle", path, sizeof(path))};
    if (s.fd >= 0)
        unlink(path);
    snprintf(header, sizeof(header), "{\"al\":{\"type\":\"%s\"},\"name\":\"%s.tgz\"}",
             ALSIM_BUNDLE_TYPE, sid);
    struct replay_cart_enc_opts opts = {.header_json = header};
    int rc = rjson != NULL && s.fd >= 0 ? 0 : -1;
    if (rc == 0 && replay_cart_enc_new(&opts, sink_write, &s, &s.enc, &s.err) != 0)
        rc = -1;
    if (rc == 0 && write_tar(b, &s, rjson, strlen(rjson)) != 0)
        rc = -1;
    if (rc == 0 && replay_cart_enc_finish(s.enc, &s.err) != 0)
        rc = -1;
    struct stat st;
    if (rc == 0 && (fstat(s.fd, &st) != 0 || lseek(s.fd, 0, SEEK_SET) != 0))
        rc = -1;
    if (rc != 0 && b->err[0] == '\0')
        snprintf(b->err, sizeof(b->err), "OSError: %s", s.err.msg[0] ? s.err.msg
                                                        : rjson == NULL ? "JSON encoding failed"
                                                                        : strerror(errno));
    replay_cart_enc_free(s.enc);
    free(rjson);
    if (rc != 0) {
        if (s.fd >= 0)
            close(s.fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return s.fd;
}

/* Bundle id (the alert's sid for an alert bundle) and the documents to bundle. */
static const char *load_docs(struct build *b, json_t *doc, bool use_alert)
{
    json_t *sub = doc;
    if (use_alert) {
        b->alert = json_deep_copy(doc);
        sub = alsim_store_get(b->r->sim->store, ALSIM_SUBMISSION,
                              json_string_value(json_object_get(doc, "sid")));
        b->sub = sub != NULL ? json_deep_copy(sub) : NULL;
        json_decref(sub);
        return json_string_value(json_object_get(doc, "sid"));
    }
    b->sub = json_deep_copy(sub);
    return json_string_value(json_object_get(doc, "sid"));
}

void alsim_h_bundle_create(struct alsim_req *r, struct alsim_resp *out)
{
    const char *id = r->params[0];
    bool use_alert = alsim_flag_true(alsim_req_arg(r, "use_alert"));
    json_t *doc = alsim_store_get(r->sim->store, use_alert ? ALSIM_ALERT : ALSIM_SUBMISSION, id);
    if (doc == NULL) {
        alsim_reply(out, 403, NULL, "You are not allowed create a bundle for this %s...",
                    use_alert ? "alert" : "submission");
        return;
    }
    struct build b = {.r = r, .list = json_array(), .infos = json_object(),
                      .supplementary = json_array()};
    const char *sid = load_docs(&b, doc, use_alert);
    char name[300], disp[400];
    snprintf(name, sizeof(name), "%s", sid != NULL ? sid : id);
    uint64_t size = 0;
    int fd = build_file(&b, name, &size);
    if (fd < 0) {
        alsim_reply(out, 404, NULL, "An error occured while bundling submission %s. [Could not "
                    "bundle submission '%s'. [%s]]", id, name, b.err);
    } else {
        out->status = 200;
        out->ctype = "application/octet-stream";
        out->fd = fd;
        out->fd_size = size;
        snprintf(disp, sizeof(disp), "attachment; filename=file.bin; filename*=UTF-8''%s.al_bundle",
                 id);
        alsim_resp_header(out, "Content-Disposition", disp);
    }
    json_decref(b.sub);
    json_decref(b.alert);
    json_decref(b.list);
    json_decref(b.infos);
    json_decref(b.supplementary);
    json_decref(doc);
}
