/*
 * replay-ctl verify: the loader-worker's pre-import check of bundles and list
 * exports, run by hand, importing nothing (common/archive). A bundle: the CaRT's
 * digests, every tar member safe, the caps, a results.json that is a JSON object,
 * and a summary of that results.json (what the bundle holds). An export
 * (`<collection>_<time>.al_json[.cart]`): the CaRT's digests and a JSON array,
 * its documents counted as they stream. A manifest (`replay_manifest_*.json`,
 * docs/trust.md): parsed as strictly as the loader-worker does, summarized (source,
 * sequence, files, signing key); its signature is the loader's to check with the
 * trusted keys (or OpenSSL's command line). What the loader-worker would refuse,
 * verify refuses with the same reason. Exit codes: 0 every file passed, 1 one
 * did not (or cannot be read), 2 bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "replay/archive.h"
#include "replay/names.h"
#include "replay/trust.h"

#define CMD "verify"
/* results.json is summarized when at most this large (parsed whole with jansson,
 * which takes several times the text's size); a larger one is checked only. */
#define RESULTS_SUMMARY_MAX (32u << 20)

static void verify_usage(FILE *f)
{
    fprintf(f,
        "usage: replay-ctl verify [--json] FILE...\n"
        "\n"
        "  Checks each bundle (*.al_bundle, or any other name) or list export\n"
        "  (<collection>_<time>.al_json[.cart]) as the loader-worker does before an\n"
        "  import, without sending anything: the CaRT's length and digests, every tar\n"
        "  member a safe regular file or directory, the size caps, results.json a JSON\n"
        "  object (summarized: submission, alert, files, results, errors) or the export\n"
        "  a JSON array (its documents counted). A manifest (replay_manifest_*.json) is\n"
        "  parsed as strictly as the loader-worker does and summarized.\n"
        "  --json  one JSON array, an object per FILE\n"
        "\n"
        "Exit codes: 0 every FILE passed; 1 one did not or cannot be read; 2 bad usage.\n");
}

/* ---- results.json, kept for the summary while the check streams it ---- */

struct results_buf {
    char *p;
    size_t len;
    bool too_big;
};

static int keep_results(void *ctx, const void *buf, size_t len, struct replay_err *err)
{
    struct results_buf *r = ctx;
    if (r->too_big || r->len + len > RESULTS_SUMMARY_MAX) {
        r->too_big = true;
        return 0;
    }
    char *p = realloc(r->p, r->len + len);
    if (p == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    memcpy(p + r->len, buf, len);
    r->p = p;
    r->len += len;
    return 0;
}

/* How many entries o[a][b] has, an array or an object (0 when neither). */
static json_int_t size_at(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(json_object_get(o, a), b);
    return (json_int_t)(json_is_array(v) ? json_array_size(v) : json_object_size(v));
}

/* What a bundle's results.json holds (formats.md §2.3). */
static json_t *results_summary(const struct results_buf *r)
{
    if (r->too_big)
        return json_pack("{s:s}", "note", "larger than the summary cap: checked, not summarized");
    json_t *j = json_loadb(r->p, r->len, 0, NULL), *sub = json_object_get(j, "submission");
    json_t *alert = json_object_get(j, "alert"), *meta = json_object_get(sub, "metadata");
    json_t *s = json_pack(
        "{s:O?, s:O?, s:O?, s:O?, s:I, s:I, s:I, s:I, s:I, s:O?, s:O?}", "sid",
        json_object_get(sub, "sid"), "alert_id", json_object_get(alert, "alert_id"),
        "classification", json_object_get(sub, "classification"), "max_score",
        json_object_get(sub, "max_score"), "files", size_at(j, "files", "list"), "results",
        size_at(j, "results", "results"), "missing_results",
        size_at(j, "results", "missing_result_keys"), "errors", size_at(j, "errors", "errors"),
        "missing_errors", size_at(j, "errors", "missing_error_keys"), "bundle_source",
        json_object_get(meta, "bundle.source"), "bundle_created",
        json_object_get(meta, "bundle.created"));
    json_decref(j);
    return s;
}

static json_t *digests_json(const struct replay_cart_digests *d)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I}", "md5", d->md5, "sha1", d->sha1, "sha256",
                     d->sha256, "length", (json_int_t)d->length, "cart_size",
                     (json_int_t)d->cart_size);
}

/* ---- one file ---- */

static int check_bundle(int fd, json_t *row, struct replay_err *err)
{
    struct replay_archive_summary sum = {0};
    struct results_buf r = {0};
    int rc = replay_archive_inspect_fd(fd, NULL, keep_results, &r, NULL, &sum, err);
    json_object_set_new(row, "kind", json_string("bundle"));
    if (rc == 0) {
        json_object_set_new(row, "carted", json_boolean(sum.carted));
        if (sum.carted)
            json_object_set_new(row, "digests", digests_json(&sum.digests));
        json_object_set_new(row, "members", json_integer((json_int_t)sum.members));
        json_object_set_new(row, "bytes", json_integer((json_int_t)sum.bytes));
        json_object_set_new(row, "results_json_bytes", json_integer((json_int_t)sum.results_json));
        json_object_set_new(row, "results", results_summary(&r));
    }
    free(r.p);
    return rc;
}

static int check_export(int fd, bool carted, const char *base, json_t *row,
                        struct replay_err *err)
{
    enum replay_input_type t;
    struct replay_cart_digests d = {0};
    size_t items = 0;
    int rc = replay_names_collection(base, &t, err);
    json_object_set_new(row, "kind", json_string("export"));
    if (rc == 0)
        rc = replay_archive_export_fd(fd, carted, NULL, NULL, NULL, &items, &d, err);
    if (rc == 0) {
        json_object_set_new(row, "collection", json_string(replay_input_name(t)));
        json_object_set_new(row, "carted", json_boolean(carted));
        if (carted)
            json_object_set_new(row, "digests", digests_json(&d));
        json_object_set_new(row, "documents", json_integer((json_int_t)items));
    }
    return rc;
}

static int check_manifest(const char *path, json_t *row, struct replay_err *err)
{
    char *bytes = NULL;
    size_t len = 0;
    struct replay_manifest *m = NULL;
    json_object_set_new(row, "kind", json_string("manifest"));
    int rc = replay_trust_read_small(AT_FDCWD, path, REPLAY_MANIFEST_MAX_BYTES, &bytes, &len, err);
    if (rc == 0)
        rc = replay_manifest_parse(bytes, len, &m, err);
    if (rc == 0) {
        json_object_set_new(row, "source", json_string(m->source));
        json_object_set_new(row, "sequence", json_integer(m->sequence));
        json_object_set_new(row, "files", json_integer((json_int_t)m->n_files));
        json_object_set_new(row, "key", m->key[0] ? json_string(m->key) : json_null());
    }
    replay_manifest_free(m);
    free(bytes);
    return rc;
}

/* Sets the row's outcome: "ok", and "error" with the reason when it failed. */
static json_t *finish_row(json_t *row, int rc, const struct replay_err *err)
{
    json_object_set_new(row, "ok", json_boolean(rc == 0));
    if (rc != 0)
        json_object_set_new(row, "error", json_string(err->msg));
    return row;
}

static json_t *verify_one(const char *path)
{
    struct replay_err err = {0};
    const char *base = replay_names_basename(path);
    enum replay_names_kind kind = replay_names_classify(base);
    json_t *row = json_pack("{s:s}", "file", path);
    if (kind == REPLAY_NAMES_MANIFEST)
        return finish_row(row, check_manifest(path, row, &err), &err);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    int rc = fd >= 0 ? 0 : replay_err_sys(&err, REPLAY_EIO, errno, "cannot open %s", path);
    if (rc == 0 && (kind == REPLAY_NAMES_JSON || kind == REPLAY_NAMES_JSON_CART))
        rc = check_export(fd, kind == REPLAY_NAMES_JSON_CART, base, row, &err);
    else if (rc == 0)
        rc = check_bundle(fd, row, &err);
    if (fd >= 0)
        close(fd);
    return finish_row(row, rc, &err);
}

static void print_row(json_t *row)
{
    json_t *res = json_object_get(row, "results"), *dg = json_object_get(row, "digests");
    if (!json_is_true(json_object_get(row, "ok"))) {
        printf("%s: FAILED: %s\n", ctl_str(row, "file"), ctl_str(row, "error"));
        return;
    }
    printf("%s: ok (%s%s)\n", ctl_str(row, "file"), ctl_str(row, "kind"),
           json_is_true(json_object_get(row, "carted")) ? ", CaRT" : "");
    if (dg != NULL)
        printf("  sha256 %s  %lld bytes inside\n", ctl_str(dg, "sha256"), ctl_int(dg, "length"));
    if (json_object_get(row, "documents") != NULL)
        printf("  %lld %s document(s)\n", ctl_int(row, "documents"), ctl_str(row, "collection"));
    if (json_object_get(row, "sequence") != NULL)
        printf("  source %s, sequence %lld, %lld file(s), %s%s\n", ctl_str(row, "source"),
               ctl_int(row, "sequence"), ctl_int(row, "files"),
               ctl_str(row, "key")[0] ? "signed by " : "not signed", ctl_str(row, "key"));
    if (json_object_get(row, "members") != NULL)
        printf("  %lld member(s), %lld bytes; results.json %lld bytes\n", ctl_int(row, "members"),
               ctl_int(row, "bytes"), ctl_int(row, "results_json_bytes"));
    if (json_object_get(res, "note") != NULL)
        printf("  results.json %s\n", ctl_str(res, "note"));
    else if (res != NULL)
        printf("  %s%s%s%s: %lld file(s), %lld result(s) (%lld missing), %lld error(s)\n",
               ctl_str(res, "sid")[0] ? "submission " : "", ctl_str(res, "sid"),
               ctl_str(res, "alert_id")[0] ? " alert " : "", ctl_str(res, "alert_id"),
               ctl_int(res, "files"), ctl_int(res, "results"), ctl_int(res, "missing_results"),
               ctl_int(res, "errors"));
}

int ctl_verify(int argc, char **argv, const struct ctl_globals *g)
{
    static const struct option longs[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    bool json = false;
    int c;
    (void)g; /* files only: no configuration needed */
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (c == 'h') {
            verify_usage(stdout);
            return 0;
        }
        if (c != 'j') {
            verify_usage(stderr);
            return 2;
        }
        json = true;
    }
    if (optind >= argc) {
        verify_usage(stderr);
        return 2;
    }
    json_t *rows = json_array();
    int code = 0;
    for (int i = optind; i < argc; i++) {
        json_t *row = verify_one(argv[i]);
        code = json_is_true(json_object_get(row, "ok")) ? code : 1;
        if (!json)
            print_row(row);
        json_array_append_new(rows, row);
    }
    if (json)
        ctl_print_json(rows);
    json_decref(rows);
    return code;
}
