/* bundle_import: POST /api/v4/bundle/ (al-rest-api.md §5.9, formats.md §2.5). The
 * body arrives in a temp file; it is decoded (base64, CaRT) and unpacked as a
 * stream, members go to a scratch directory, then the documents are stored with
 * upstream's checks and changes. Every attempt is journaled for /_sim/imports. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alsim.h"
#include "bundle.h"
#include "replay/cart.h"
#include "simtime.h"
#include "simutil.h"

struct imp {
    struct alsim_req *r;
    bool exist_ok, allow_incomplete;
    const char *min_cl, *reclass, *to_ingest;
    json_t *rescan;              /* array of service names, or NULL */
    char work[4200];             /* scratch directory of the members */
    char *rjson;                 /* results.json text */
    size_t rjson_len;
    const char *format;
    int status;                  /* answer */
    json_t *resp;
    char msg[1024];
    char sid[256], alert_id[256];
};

static void fail(struct imp *m, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct imp *m, int status, const char *fmt, ...)
{
    if (m->status != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->msg, sizeof(m->msg), fmt, ap);
    va_end(ap);
    m->status = status;
    json_decref(m->resp);
    m->resp = status == 500 ? NULL : json_pack("{s:b}", "success", 0);
}

static void fail500(struct imp *m)
{
    fail(m, 500, "Internal Server Error");
}

/* ---------- input decoding ---------- */

/* Python's lenient b64decode of a file into out_fd; -1 when Python would raise
 * binascii.Error. */
static int b64_decode_fd(int in_fd, int out_fd)
{
    unsigned char in[ALSIM_BUNDLE_BLOCK], outb[ALSIM_BUNDLE_BLOCK];
    struct alsim_b64 d = {0};
    ssize_t n;
    while (!d.done && (n = read(in_fd, in, sizeof(in))) > 0)
        if (alsim_write_all(out_fd, outb, alsim_b64_feed(&d, in, (size_t)n, outb)) != 0)
            return -1;
    return alsim_b64_complete(&d) ? 0 : -1;
}

/* Reads the head of a file without moving its offset. */
static size_t peek(int fd, unsigned char *buf, size_t cap)
{
    ssize_t n = pread(fd, buf, cap, 0);
    return n > 0 ? (size_t)n : 0;
}

/* The file to unpack: the body itself, or its base64 decoding (new temp file). */
static int choose_input(struct imp *m, int body_fd, char *dec_path, size_t dec_len)
{
    unsigned char head[256];
    size_t n = peek(body_fd, head, sizeof(head));
    bool gz = n >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 0x08;
    if (gz || replay_cart_is_cart(head, n)) {
        m->format = gz ? "gzip" : "cart";
        return dup(body_fd);
    }
    int out = alsim_store_tmpfile(m->r->sim->store, "b64", dec_path, dec_len);
    if (out < 0 || lseek(body_fd, 0, SEEK_SET) != 0) {
        if (out >= 0)
            close(out);
        return -1;
    }
    if (b64_decode_fd(body_fd, out) != 0) { /* binascii.Error: keep the raw body */
        close(out);
        unlink(dec_path);
        dec_path[0] = '\0';
        m->format = "raw";
        return dup(body_fd);
    }
    n = peek(out, head, sizeof(head));
    m->format = replay_cart_is_cart(head, n) ? "base64+cart" : "base64";
    return out;
}

/* ---------- unpacking ---------- */

struct src {
    int fd;
    struct replay_cart_dec *dec;
    struct replay_err err;
    unsigned char buf[ALSIM_BUNDLE_BLOCK];
};

static int fd_read(void *ctx, void *buf, size_t cap, size_t *got, struct replay_err *err)
{
    ssize_t n = read(*(int *)ctx, buf, cap);
    if (n < 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "read bundle");
    *got = (size_t)n;
    return 0;
}

static la_ssize_t src_read(struct archive *a, void *ud, const void **buf)
{
    struct src *s = ud;
    size_t got = 0;
    *buf = s->buf;
    if (s->dec != NULL) {
        if (replay_cart_dec_read(s->dec, s->buf, sizeof(s->buf), &got, &s->err) != 0) {
            archive_set_error(a, EIO, "%s", s->err.msg);
            return -1;
        }
        return (la_ssize_t)got;
    }
    ssize_t n = read(s->fd, s->buf, sizeof(s->buf));
    if (n < 0)
        archive_set_error(a, errno, "read bundle: %s", strerror(errno));
    return n;
}

/* Member name after resolving "." and ".."; -1 if it leaves the directory. */
static int clean_name(const char *name, char *out, size_t len)
{
    size_t o = 0;
    int depth = 0;
    for (const char *p = name; *p != '\0';) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return -1;
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o > 0 && o + 1 < len)
                out[o++] = '/';
            if (o + n >= len)
                return -1;
            memcpy(out + o, p, n);
            o += n;
            depth++;
        }
        p += n + (p[n] == '/');
    }
    out[o] = '\0';
    return 0;
}

/* Python's tarfile "data" filter checks; the reason, or NULL if the member is safe. */
static const char *unsafe(struct archive_entry *e, char *why, size_t len, char *clean,
                          size_t clen)
{
    const char *name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    mode_t type = archive_entry_filetype(e);
    const char *link = archive_entry_symlink(e) ? archive_entry_symlink(e) : archive_entry_hardlink(e);
    if (name[0] == '/')
        snprintf(why, len, "member '%s' has an absolute path", name);
    else if (clean_name(name, clean, clen) != 0)
        snprintf(why, len, "'%s' would be extracted outside the destination", name);
    else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO || type == AE_IFSOCK)
        snprintf(why, len, "'%s' is a special file", name);
    else if (link != NULL && link[0] == '/')
        snprintf(why, len, "'%s' is a link to an absolute path", name);
    else if (link != NULL) {
        char target[4200], tmp[4200];
        const char *slash = strrchr(clean, '/');
        if (archive_entry_symlink(e) != NULL && slash != NULL)
            snprintf(tmp, sizeof(tmp), "%.*s/%s", (int)(slash - clean), clean, link);
        else
            snprintf(tmp, sizeof(tmp), "%s", link);
        if (clean_name(tmp, target, sizeof(target)) != 0)
            snprintf(why, len, "'%s' would link outside the destination", name);
        else
            return NULL;
    } else {
        return NULL;
    }
    return why;
}

static bool is_sha_name(const char *s)
{
    return alsim_sha256_valid(s);
}

/* Copies the current member to the scratch directory (or results.json to memory). */
static int extract(struct imp *m, struct archive *a, const char *name)
{
    bool rj = strcmp(name, "results.json") == 0;
    char path[4300];
    int fd = -1;
    if (rj) {
        free(m->rjson);
        m->rjson = NULL;
        m->rjson_len = 0;
    } else {
        int len = snprintf(path, sizeof(path), "%s/%s", m->work, name);
        if (len < 0 || (size_t)len >= sizeof(path))
            return -1; /* a truncated path would name another file */
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            return -1;
    }
    const void *buf;
    size_t n;
    la_int64_t off;
    int rc;
    while ((rc = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
        if (rj) {
            if (m->rjson_len + n > ALSIM_RESULTS_JSON_MAX)
                return fail(m, 400, "Bundle decompression failed. Not a valid bundle: "
                            "results.json is larger than %d bytes", ALSIM_RESULTS_JSON_MAX), -1;
            char *p = realloc(m->rjson, m->rjson_len + n + 1);
            if (p == NULL)
                return -1;
            m->rjson = p;
            memcpy(p + m->rjson_len, buf, n);
            m->rjson_len += n;
            p[m->rjson_len] = '\0';
        } else if (pwrite(fd, buf, n, off) != (ssize_t)n) {
            rc = ARCHIVE_FATAL;
            break;
        }
    }
    if (fd >= 0)
        close(fd);
    if (rj && m->rjson == NULL && rc == ARCHIVE_EOF)
        m->rjson = strdup("");
    return rc == ARCHIVE_EOF ? 0 : -1;
}

static int read_members(struct imp *m, struct archive *a)
{
    struct archive_entry *e;
    int rc;
    char why[600], clean[4200];
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        if (unsafe(e, why, sizeof(why), clean, sizeof(clean)) != NULL) {
            fail(m, 400, "Bundle decompression failed. Not a valid bundle: %s", why);
            return -1;
        }
        if (archive_entry_filetype(e) != AE_IFREG || strchr(clean, '/') != NULL ||
            (strcmp(clean, "results.json") != 0 && !is_sha_name(clean)))
            continue; /* extracted upstream too, but never read */
        if (extract(m, a, clean) != 0) {
            fail(m, 400, "Bundle decompression failed. Not a valid bundle: %s",
                 archive_error_string(a) ? archive_error_string(a) : "read error");
            return -1;
        }
    }
    if (rc != ARCHIVE_EOF) {
        fail(m, 400, "Bundle decompression failed. Not a valid bundle: %s",
             archive_error_string(a) ? archive_error_string(a) : "not a tar archive");
        return -1;
    }
    return 0;
}

/* CaRT header type check (BundlingException when not a bundle). */
static int check_cart_type(struct imp *m, struct replay_cart_dec *dec)
{
    json_error_t je;
    json_t *h = json_loads(replay_cart_dec_header_json(dec), 0, &je);
    const char *type = json_string_value(json_object_get(json_object_get(h, "al"), "type"));
    int rc = type != NULL && strcmp(type, ALSIM_BUNDLE_TYPE) == 0 ? 0 : -1;
    json_decref(h);
    if (rc != 0)
        fail(m, 400, "Not a valid CaRTed bundle, should be of type: %s", ALSIM_BUNDLE_TYPE);
    return rc;
}

static int unpack(struct imp *m, int in_fd)
{
    unsigned char head[256];
    size_t hn = peek(in_fd, head, sizeof(head));
    struct src *s = calloc(1, sizeof(*s));
    struct archive *a = archive_read_new();
    int rc = s != NULL && a != NULL ? 0 : -1;
    if (rc == 0) {
        s->fd = in_fd;
        if (replay_cart_is_cart(head, hn)) {
            struct replay_cart_dec_opts o = {0};
            if (replay_cart_dec_new(&o, fd_read, &s->fd, &s->dec, &s->err) != 0) {
                fail500(m); /* InvalidCARTException is not caught upstream */
                rc = -1;
            } else if (check_cart_type(m, s->dec) != 0) {
                rc = -1;
            }
        } else if (hn == 0) {
            fail(m, 400, "Bundle decompression failed. Not a valid bundle: empty file");
            rc = -1;
        }
    }
    if (rc == 0) {
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        if (archive_read_open(a, s, NULL, src_read, NULL) != ARCHIVE_OK) {
            fail(m, 400, "Bundle decompression failed. Not a valid bundle: %s",
                 archive_error_string(a) ? archive_error_string(a) : "not a tar archive");
            rc = -1;
        } else {
            rc = read_members(m, a);
        }
        if (rc != 0 && s->dec != NULL && s->err.code != 0) {
            m->status = 0; /* the CaRT itself is corrupt: InvalidCARTException, a 500 */
            fail500(m);
        }
    }
    if (rc == 0 && s->dec != NULL && replay_cart_dec_finish(s->dec, &s->err) != 0) {
        fail500(m); /* a corrupt CaRT */
        rc = -1;
    }
    if (a != NULL)
        archive_read_free(a);
    if (s != NULL)
        replay_cart_dec_free(s->dec);
    free(s);
    return rc;
}

/* ---------- storing ---------- */

/* check_classification: normalise, raise to the minimum, or reclassify. */
static int check_cl(struct imp *m, json_t *doc)
{
    json_t *cl = json_object_get(doc, "classification");
    char norm[300], err[512];
    if (cl == NULL) {
        fail500(m); /* KeyError */
        return -1;
    }
    const char *text = json_string_value(cl) ? json_string_value(cl) : "";
    if (alsim_classification_normalize(text, norm, sizeof(norm), err) == 0 &&
        alsim_classification_max(norm, m->min_cl, norm, sizeof(norm), err) == 0) {
        json_object_set_new(doc, "classification", json_string(norm));
        return 0;
    }
    if (m->reclass != NULL && *m->reclass != '\0') {
        json_object_set_new(doc, "classification", json_string(m->reclass));
        return 0;
    }
    fail(m, 400, "%s", err);
    return -1;
}

static void loaded_meta(json_t *doc, json_t *original_cl)
{
    char iso[ALSIM_ISO_LEN];
    json_t *md = json_object_get(doc, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(doc, "metadata", md);
    }
    alsim_iso_now(iso);
    json_object_set_new(md, "bundle.loaded", json_string(iso));
    json_object_set(md, "bundle.classification", original_cl);
    json_object_del(md, "replay");
}

static int put(struct imp *m, enum alsim_coll c, const char *id, json_t *doc)
{
    char err[ALSIM_ERRLEN];
    if (alsim_store_put(m->r->sim->store, c, id, json_incref(doc), err) != 0) {
        fail500(m);
        return -1;
    }
    return 0;
}

/* IncompleteBundle checks; a missing section is an error even with allow_incomplete. */
static int check_complete(struct imp *m, json_t *sub, json_t *data)
{
    json_t *results = json_object_get(data, "results"), *files = json_object_get(data, "files");
    json_t *errors = json_object_get(data, "errors"), *k;
    json_t *sres = json_object_get(sub, "results"), *serr = json_object_get(sub, "errors");
    size_t i;
    if (!json_is_array(sres) || !json_is_array(serr))
        return fail500(m), -1; /* KeyError / not iterable */
    json_array_foreach(sres, i, k)
        if (results == NULL || (json_object_get(json_object_get(results, "results"),
                                                json_string_value(k) ? json_string_value(k) : "") == NULL &&
                                !m->allow_incomplete))
            return fail(m, 400, "Incomplete results in bundle. Skipping %s...", m->sid), -1;
    json_array_foreach(sres, i, k) {
        char sha[65];
        snprintf(sha, sizeof(sha), "%.64s", json_string_value(k) ? json_string_value(k) : "");
        if (files == NULL || (json_object_get(json_object_get(files, "infos"), sha) == NULL &&
                              !m->allow_incomplete))
            return fail(m, 400, "Incomplete files in bundle. Skipping %s...", m->sid), -1;
    }
    json_array_foreach(serr, i, k)
        if (errors == NULL || (json_object_get(json_object_get(errors, "errors"),
                                               json_string_value(k) ? json_string_value(k) : "") == NULL &&
                               !m->allow_incomplete))
            return fail(m, 400, "Incomplete errors in bundle. Skipping %s...", m->sid), -1;
    return 0;
}

static int save_files(struct imp *m, json_t *infos)
{
    const char *sha;
    json_t *info;
    char path[4300], err[ALSIM_ERRLEN];
    json_object_foreach(infos, sha, info) {
        if (!is_sha_name(sha))
            return fail(m, 400, "Invalid file key in bundle: '%s'", sha), -1;
        if (!json_is_object(info))
            return fail500(m), -1;
        if (check_cl(m, info) != 0)
            return -1;
        if (!alsim_store_exists(m->r->sim->store, ALSIM_FILE, sha) && put(m, ALSIM_FILE, sha, info) != 0)
            return -1;
        snprintf(path, sizeof(path), "%s/%s", m->work, sha);
        if (access(path, F_OK) == 0 && alsim_blob_adopt(m->r->sim->store, path, sha, err) != 0)
            return fail500(m), -1; /* a missing member is ignored, as an IOError is upstream */
    }
    return 0;
}

static int save_results_errors(struct imp *m, json_t *data)
{
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(data, "results"), "results"), key, v) {
        size_t n = strlen(key);
        if (n > 2 && strcmp(key + n - 2, ".e") == 0) {
            json_t *e = json_pack("{s:o}", "expiry_ts", json_string(""));
            char iso[ALSIM_ISO_LEN];
            alsim_iso_from_us(alsim_now_us() + 5LL * 86400 * 1000000, iso);
            json_object_set_new(e, "expiry_ts", json_string(iso));
            int rc = put(m, ALSIM_EMPTYRESULT, key, e);
            json_decref(e);
            if (rc != 0)
                return -1;
        } else if (!json_is_object(v) || check_cl(m, v) != 0 || put(m, ALSIM_RESULT, key, v) != 0) {
            return fail500(m), -1;
        }
    }
    json_object_foreach(json_object_get(json_object_get(data, "errors"), "errors"), key, v)
        if (!json_is_object(v) || put(m, ALSIM_ERROR, key, v) != 0)
            return fail500(m), -1;
    return 0;
}

/* Resubmission for the rescan services (through ingestion with to_ingest). */
static int rescan(struct imp *m, json_t *sub)
{
    if (json_array_size(json_object_get(sub, "files")) == 0)
        return fail(m, 409, "Submission %s has no files to rescan.", m->sid), -1;
    json_t *times = json_object_get(sub, "times");
    if (json_is_object(times))
        json_object_del(times, "completed");
    json_object_set_new(sub, "state", json_string("submitted"));
    json_t *params = json_object_get(sub, "params");
    if (!json_is_object(params)) {
        params = json_object();
        json_object_set_new(sub, "params", params);
    }
    json_t *svc = json_object_get(params, "services");
    if (!json_is_object(svc)) {
        svc = json_object();
        json_object_set_new(params, "services", svc);
    }
    json_object_set(svc, "rescan", m->rescan);
    if (put(m, ALSIM_SUBMISSION, m->sid, sub) != 0)
        return -1;
    char iso[ALSIM_ISO_LEN];
    alsim_iso_now(iso);
    bool ingest = m->to_ingest != NULL && *m->to_ingest != '\0';
    json_t *rec = json_pack("{s:s,s:s,s:O,s:b,s:s}", "time", iso, "sid", m->sid, "services",
                            m->rescan, "to_ingest", ingest, "via", ingest ? "m-ingest" : "dispatcher");
    alsim_journal_append(m->r->sim->store, "rescans", rec);
    json_decref(rec);
    return 0;
}

static int import_submission(struct imp *m, json_t *sub, json_t *data)
{
    const char *sid = json_string_value(json_object_get(sub, "sid"));
    if (sid == NULL)
        return fail500(m), -1;
    snprintf(m->sid, sizeof(m->sid), "%s", sid);
    if (check_complete(m, sub, data) != 0)
        return -1;
    if (alsim_store_exists(m->r->sim->store, ALSIM_SUBMISSION, sid)) {
        if (!m->exist_ok)
            return fail(m, 409, "Submission %s already exists.", sid), -1;
        return 0;
    }
    json_t *orig = json_incref(json_object_get(sub, "classification"));
    int rc = check_cl(m, sub);
    if (rc == 0) {
        loaded_meta(sub, orig);
        if (m->rescan == NULL)
            rc = put(m, ALSIM_SUBMISSION, sid, sub);
    }
    json_decref(orig);
    json_t *infos = json_object_get(json_object_get(data, "files"), "infos");
    if (rc == 0 && !json_is_object(infos))
        rc = (fail500(m), -1);
    if (rc == 0)
        rc = save_files(m, infos);
    if (rc == 0)
        rc = save_results_errors(m, data);
    if (rc == 0 && m->rescan != NULL)
        rc = rescan(m, sub);
    return rc;
}

static int import_alert(struct imp *m, json_t *alert)
{
    const char *id = json_string_value(json_object_get(alert, "alert_id"));
    if (id == NULL)
        return fail500(m), -1;
    snprintf(m->alert_id, sizeof(m->alert_id), "%s", id);
    if (alsim_store_exists(m->r->sim->store, ALSIM_ALERT, id))
        return 0;
    json_t *orig = json_incref(json_object_get(alert, "classification"));
    int rc = check_cl(m, alert);
    if (rc == 0) {
        loaded_meta(alert, orig);
        json_object_set_new(alert, "workflows_completed", json_false());
        rc = put(m, ALSIM_ALERT, id, alert);
    }
    json_decref(orig);
    return rc;
}

static void store_all(struct imp *m)
{
    json_error_t je;
    json_t *data = m->rjson != NULL ? json_loads(m->rjson, 0, &je) : NULL;
    if (m->rjson == NULL || !json_is_object(data)) { /* FileNotFoundError / JSON error */
        fail500(m);
        json_decref(data);
        return;
    }
    json_t *sub = json_object_get(data, "submission"), *alert = json_object_get(data, "alert");
    bool ok = true;
    if (json_is_object(sub) && json_object_size(sub) > 0)
        ok = import_submission(m, sub, data) == 0;
    else if (alsim_py_truthy(sub)) /* submission['sid'] on a non-dict */
        ok = (fail500(m), false);
    if (ok && json_is_object(alert) && json_object_size(alert) > 0)
        import_alert(m, alert);
    else if (ok && alsim_py_truthy(alert))
        fail500(m);
    json_decref(data);
}

/* ---------- the handler ---------- */

static void read_flags(struct imp *m)
{
    struct alsim_req *r = m->r;
    m->exist_ok = alsim_flag_true(alsim_req_arg(r, "exist_ok"));
    m->allow_incomplete = alsim_flag_true(alsim_req_arg(r, "allow_incomplete"));
    m->min_cl = alsim_req_arg(r, "min_classification");
    if (m->min_cl == NULL)
        m->min_cl = ALSIM_UNRESTRICTED;
    m->to_ingest = alsim_req_arg(r, "to_ingest");
    m->reclass = r->sim->cfg.mode == ALSIM_UPSTREAM ? NULL : alsim_req_arg(r, "reclassification");
    const char *rs = alsim_req_arg(r, "rescan_services");
    if (rs != NULL) {
        m->rescan = json_array();
        char *copy = strdup(rs), *save = NULL;
        for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t != NULL; t = strtok_r(NULL, ",", &save))
            json_array_append_new(m->rescan, json_string(t));
        free(copy);
        if (strchr(rs, ',') == NULL && *rs == '\0')
            json_array_append_new(m->rescan, json_string("")); /* "".split(",") == [""] */
    }
}

static void journal(struct imp *m)
{
    char iso[ALSIM_ISO_LEN];
    alsim_iso_now(iso);
    struct alsim_req *r = m->r;
    const char *q = strchr(r->raw_uri != NULL ? r->raw_uri : "", '?');
    const char *rc = alsim_req_arg(r, "reclassification");
    json_t *rec = json_pack(
        "{s:s,s:s,s:{s:b,s:b,s:s,s:O?,s:s?,s:s?},s:s?,s:s?,s:i,s:s,s:s,s:I,s:s?}",
        "time", iso, "query", q != NULL ? q + 1 : "", "flags", "exist_ok", m->exist_ok,
        "allow_incomplete", m->allow_incomplete, "min_classification", m->min_cl,
        "rescan_services", m->rescan, "reclassification", rc, "to_ingest", m->to_ingest,
        "sid", m->sid[0] ? m->sid : NULL, "alert_id", m->alert_id[0] ? m->alert_id : NULL,
        "status", m->status, "message", m->msg, "user", r->user ? r->user->name : "",
        "bytes", (json_int_t)r->body_size, "format", m->format);
    if (rec != NULL)
        alsim_journal_append(r->sim->store, "imports", rec);
    json_decref(rec);
}

/* Werkzeug parses a form body into request.form: request.data is then empty. */
static bool form_body(struct alsim_req *r)
{
    const char *ct = alsim_req_header(r, "Content-Type");
    size_t n = ct != NULL ? strcspn(ct, "; \t") : 0;
    return (n == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", n) == 0) ||
           (n == 19 && strncasecmp(ct, "multipart/form-data", n) == 0);
}

static void run_import(struct imp *m)
{
    char dec_path[4200] = "";
    bool form = form_body(m->r);
    if (form && ftruncate(m->r->body_fd, 0) != 0) {
        fail500(m);
        return;
    }
    int in = choose_input(m, m->r->body_fd, dec_path, sizeof(dec_path));
    if (form)
        m->format = "form";
    if (in < 0 || lseek(in, 0, SEEK_SET) != 0) {
        fail500(m);
    } else if (unpack(m, in) == 0) {
        pthread_mutex_lock(&m->r->sim->import_mu);
        store_all(m);
        pthread_mutex_unlock(&m->r->sim->import_mu);
    }
    if (in >= 0)
        close(in);
    if (dec_path[0] != '\0')
        unlink(dec_path);
}

void alsim_h_bundle_import(struct alsim_req *r, struct alsim_resp *out)
{
    struct imp m = {.r = r, .format = "unknown"};
    read_flags(&m);
    snprintf(m.work, sizeof(m.work), "%s/tmp/import-XXXXXX", alsim_store_dir(r->sim->store));
    if (mkdtemp(m.work) == NULL)
        fail500(&m);
    else
        run_import(&m);
    if (m.status == 0) {
        m.status = 200;
        m.resp = json_pack("{s:b}", "success", 1);
    }
    journal(&m);
    if (m.status == 500)
        alsim_reply_500(out);
    else if (m.status == 200)
        alsim_reply(out, 200, m.resp, NULL);
    else
        alsim_reply(out, m.status, m.resp, "%s", m.msg);
    m.resp = NULL;
    if (m.work[0] != '\0' && strstr(m.work, "XXXXXX") == NULL) {
        alsim_rm_tree(m.work);
        rmdir(m.work);
    }
    free(m.rjson);
    json_decref(m.rescan);
}
