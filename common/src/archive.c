/* archive: the check of a bundle before import (archive.h). */
#include "replay/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/jsonstream.h"

#define BLOCK (64u * 1024u)
#define PEEK 64u         /* enough to recognise a CaRT header (38 bytes) */
#define SHOWN_NAME 96u   /* characters of a member name shown in a reason */

/* The file's bytes, the first PEEK of them read ahead to tell a CaRT from a tar. */
struct source {
    replay_cart_read_fn read;
    void *ctx;
    uint8_t peek[PEEK];
    size_t peek_len, peek_pos;
};

struct check {
    struct source src;
    struct replay_cart_dec *dec; /* NULL: the file is the tar itself */
    const struct replay_cancel *cancel;
    struct replay_archive_limits lim;
    uint64_t data_bytes;         /* bytes handed to libarchive */
    uint8_t *buf;                /* BLOCK bytes: what la_read hands libarchive */
    uint8_t *data;               /* BLOCK bytes: member data libarchive copies out; never
                                  * buf, which an uncompressed tar's data is copied from */
    int code;                    /* an error of la_read, with its message in err */
    struct replay_err err;
    struct replay_archive_summary sum;
    bool have_results;
    replay_archive_results_fn on_results; /* NULL: none */
    void *results_ctx;
};

static int source_read(void *ctx, void *buf, size_t cap, size_t *got, struct replay_err *err)
{
    struct source *s = ctx;
    if (s->peek_pos < s->peek_len) {
        size_t n = s->peek_len - s->peek_pos < cap ? s->peek_len - s->peek_pos : cap;
        memcpy(buf, s->peek + s->peek_pos, n);
        s->peek_pos += n;
        *got = n;
        return 0;
    }
    return s->read(s->ctx, buf, cap, got, err);
}

static int source_peek(struct source *s, struct replay_err *err)
{
    while (s->peek_len < PEEK) {
        size_t got = 0;
        int code = s->read(s->ctx, s->peek + s->peek_len, PEEK - s->peek_len, &got, err);
        if (code != 0)
            return code;
        if (got == 0)
            break;
        s->peek_len += got;
    }
    return 0;
}

/* The next block of tar data (CaRT-decoded or raw), capped and cancelable. */
static int next_block(struct check *k, size_t *got, struct replay_err *err)
{
    if (replay_cancel_requested(k->cancel))
        return replay_err_set(err, REPLAY_ECANCELED, "bundle check canceled by shutdown");
    int code = k->dec != NULL ? replay_cart_dec_read(k->dec, k->buf, BLOCK, got, err)
                              : source_read(&k->src, k->buf, BLOCK, got, err);
    if (code != 0)
        return code;
    k->data_bytes += k->dec != NULL ? *got : 0; /* a bare file is as large as it is */
    if (k->data_bytes > k->lim.max_bytes)
        return replay_err_set(err, REPLAY_ETOOBIG,
                              "the bundle holds more than %llu bytes once decoded (a "
                              "decompression bomb?)",
                              (unsigned long long)k->lim.max_bytes);
    replay_progress();
    return 0;
}

static la_ssize_t la_read(struct archive *a, void *ctx, const void **out)
{
    struct check *k = ctx;
    size_t got = 0;
    k->code = next_block(k, &got, &k->err);
    if (k->code != 0) {
        archive_set_error(a, EIO, "%s", k->err.msg);
        return -1;
    }
    *out = k->buf;
    return (la_ssize_t)got;
}

/* Reads the CaRT's data to its end, so its length and digests are checked. */
static int drain(struct check *k, struct replay_err *err)
{
    size_t got = 1;
    while (got > 0) {
        int code = next_block(k, &got, err);
        if (code != 0)
            return code;
    }
    return 0;
}

/* ---- reasons ---- */

/* A member name fit for a one-line message: cut, non-printable bytes as '?'. */
static void shown(const char *name, char *out, size_t size)
{
    size_t n = 0;
    for (; name[n] != '\0' && n < SHOWN_NAME && n + 1 < size; n++) {
        unsigned char c = (unsigned char)name[n];
        out[n] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
    }
    out[n] = '\0';
    if (name[n] != '\0' && n + 4 < size)
        strcpy(out + n, "...");
}

/* Why a member may not be extracted, or NULL. */
static const char *type_problem(struct archive_entry *e)
{
    if (archive_entry_hardlink(e) != NULL)
        return "a hard link";
    switch (archive_entry_filetype(e)) {
    case AE_IFREG:
    case AE_IFDIR:
        return NULL;
    case AE_IFLNK:
        return "a symbolic link";
    case AE_IFCHR:
        return "a character device";
    case AE_IFBLK:
        return "a block device";
    case AE_IFIFO:
        return "a FIFO";
    case AE_IFSOCK:
        return "a socket";
    default:
        return "a member of unknown type";
    }
}

static const char *name_problem(const char *name)
{
    if (name[0] == '\0')
        return "an empty name";
    if (name[0] == '/')
        return "an absolute path";
    for (const char *p = name; p != NULL; p = strchr(p, '/')) {
        p += *p == '/';
        if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
            return "a \"..\" component";
    }
    return NULL;
}

static bool is_results_json(const char *name)
{
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    return strcmp(name, "results.json") == 0;
}

/* ---- members ---- */

/* The libarchive failure as an error: a read error of ours wins over its text. */
static int la_error(struct check *k, struct archive *a, const char *what,
                    struct replay_err *err)
{
    if (k->code != 0) {
        replay_err_set(err, k->code, "%s", k->err.msg);
        if (err != NULL)
            err->sys_errno = k->err.sys_errno;
        return k->code;
    }
    const char *why = archive_error_string(a);
    return replay_err_set(err, REPLAY_EFORMAT, "%s: %s", what,
                          why != NULL ? why : "unknown libarchive error");
}

static int results_json(struct check *k, struct archive *a, struct replay_err *err)
{
    struct replay_jsonstream_opts o = {.expect = REPLAY_JSONSTREAM_OBJECT};
    struct replay_jsonstream *js = NULL;
    uint64_t size = 0;
    int code = replay_jsonstream_new(&o, &js, err);
    while (code == 0) {
        la_ssize_t n = archive_read_data(a, k->data, BLOCK);
        if (n < 0)
            code = la_error(k, a, "the bundle's tar cannot be read", err);
        else if (n == 0)
            break;
        else if ((size += (uint64_t)n) > k->lim.max_results_json)
            code = replay_err_set(err, REPLAY_ETOOBIG, "results.json is larger than %llu bytes",
                                  (unsigned long long)k->lim.max_results_json);
        else
            code = replay_jsonstream_feed(js, k->data, (size_t)n, err);
        if (code == 0 && n > 0 && k->on_results != NULL)
            code = k->on_results(k->results_ctx, k->data, (size_t)n, err);
    }
    if (code == 0)
        code = replay_jsonstream_finish(js, err);
    replay_jsonstream_free(js);
    if (code == REPLAY_EFORMAT)
        replay_err_prefix(err, "results.json is not a JSON object");
    k->sum.results_json = size;
    k->have_results = k->have_results || code == 0;
    return code;
}

static int member(struct check *k, struct archive *a, struct archive_entry *e,
                  struct replay_err *err)
{
    const char *name = archive_entry_pathname(e);
    char what[SHOWN_NAME + 8];
    if (name == NULL)
        return replay_err_set(err, REPLAY_EUNSAFE, "the bundle has a member without a name");
    shown(name, what, sizeof(what));
    const char *why = name_problem(name);
    if (why == NULL)
        why = type_problem(e);
    if (why != NULL)
        return replay_err_set(err, REPLAY_EUNSAFE, "unsafe member \"%s\" in the bundle: %s",
                              what, why);
    if (++k->sum.members > k->lim.max_members)
        return replay_err_set(err, REPLAY_ETOOBIG, "the bundle has more than %llu members",
                              (unsigned long long)k->lim.max_members);
    int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (size < 0 || (uint64_t)size > k->lim.max_bytes - k->sum.bytes)
        return replay_err_set(err, REPLAY_ETOOBIG,
                              "member \"%s\" would take the bundle past %llu bytes (a "
                              "decompression bomb?)",
                              what, (unsigned long long)k->lim.max_bytes);
    k->sum.bytes += (uint64_t)size;
    if (archive_entry_filetype(e) == AE_IFREG && is_results_json(name))
        return results_json(k, a, err);
    if (archive_read_data_skip(a) != ARCHIVE_OK)
        return la_error(k, a, "the bundle's tar cannot be read", err);
    return 0;
}

static int walk_tar(struct check *k, struct replay_err *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e = NULL;
    if (a == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory for libarchive");
    /* The compressions Python's tarfile opens, all built into Debian's libarchive. */
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_bzip2(a);
    archive_read_support_filter_xz(a);
    archive_read_support_format_tar(a);
    int code = 0;
    if (archive_read_open(a, k, NULL, la_read, NULL) != ARCHIVE_OK)
        code = la_error(k, a, "not a bundle: not a CaRT file and not readable as a tar archive", err);
    while (code == 0) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            code = la_error(k, a, "the bundle's tar cannot be read", err);
        else
            code = member(k, a, e, err);
    }
    archive_read_free(a);
    if (code == 0 && !k->have_results)
        code = replay_err_set(err, REPLAY_EFORMAT, "the bundle has no results.json");
    return code;
}

/* ---- the outer layer ---- */

static int check_cart_type(const struct replay_cart_dec *d, struct replay_err *err)
{
    json_t *h = json_loads(replay_cart_dec_header_json(d), 0, NULL);
    const char *type = json_string_value(json_object_get(json_object_get(h, "al"), "type"));
    int code = 0;
    if (type == NULL || strcmp(type, REPLAY_ARCHIVE_BUNDLE_TYPE) != 0) {
        char what[SHOWN_NAME + 8];
        shown(type != NULL ? type : "(none)", what, sizeof(what));
        code = replay_err_set(err, REPLAY_EFORMAT,
                              "not a bundle: the CaRT header's al.type is \"%s\", not %s", what,
                              REPLAY_ARCHIVE_BUNDLE_TYPE);
    }
    json_decref(h);
    return code;
}

static int open_cart(struct check *k, struct replay_err *err)
{
    struct replay_cart_dec_opts o = {.require_digests = true, .threads = 1,
                                     .cancel = k->cancel};
    int code = replay_cart_dec_new(&o, source_read, &k->src, &k->dec, err);
    if (code == 0)
        code = check_cart_type(k->dec, err);
    k->sum.carted = true;
    return code;
}

/* After a failure inside a CaRT: a broken outer layer is the better reason. */
static int outer_reason(struct check *k, int code, struct replay_err *err)
{
    struct replay_err derr = {0};
    if (k->code != 0 || code == REPLAY_ECANCELED || code == REPLAY_ENOMEM)
        return code; /* the CaRT itself failed, or the check was stopped */
    int dcode = drain(k, &derr);
    if (dcode == REPLAY_EINTEGRITY || dcode == REPLAY_EFORMAT || dcode == REPLAY_EBADKEY ||
        dcode == REPLAY_ETOOBIG) {
        replay_err_clear(err);
        replay_err_set(err, dcode, "%s", derr.msg);
        return dcode;
    }
    return code;
}

static int check_all(struct check *k, const struct replay_archive_limits *limits,
                     struct replay_archive_summary *out, struct replay_err *err)
{
    if (limits != NULL)
        k->lim = *limits;
    k->lim.max_members = k->lim.max_members ? k->lim.max_members : REPLAY_ARCHIVE_MAX_MEMBERS;
    k->lim.max_bytes = k->lim.max_bytes ? k->lim.max_bytes : REPLAY_ARCHIVE_MAX_BYTES;
    k->lim.max_results_json =
        k->lim.max_results_json ? k->lim.max_results_json : REPLAY_ARCHIVE_MAX_RESULTS_JSON;
    k->buf = malloc(BLOCK);
    k->data = malloc(BLOCK);
    int code = k->buf != NULL && k->data != NULL ? source_peek(&k->src, err)
                              : replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    if (code == 0 && k->src.peek_len == 0)
        code = replay_err_set(err, REPLAY_EFORMAT, "not a bundle: the file is empty");
    if (code == 0 && replay_cart_is_cart(k->src.peek, k->src.peek_len))
        code = open_cart(k, err);
    if (code == 0)
        code = walk_tar(k, err);
    if (code == 0 && k->dec != NULL)
        code = drain(k, err);
    else if (code != 0 && k->dec != NULL)
        code = outer_reason(k, code, err);
    if (code == 0 && k->dec != NULL)
        code = replay_cart_dec_digests(k->dec, &k->sum.digests, err);
    if (code == 0 && out != NULL)
        *out = k->sum;
    replay_cart_dec_free(k->dec);
    free(k->buf);
    free(k->data);
    return code;
}

int replay_archive_check(replay_cart_read_fn read, void *ctx,
                         const struct replay_archive_limits *limits,
                         const struct replay_cancel *cancel, struct replay_archive_summary *out,
                         struct replay_err *err)
{
    struct check k = {.src = {.read = read, .ctx = ctx}, .cancel = cancel};
    return check_all(&k, limits, out, err);
}

struct fd_src {
    int fd;
    off_t off;
};

static int fd_read(void *ctx, void *buf, size_t cap, size_t *got, struct replay_err *err)
{
    struct fd_src *s = ctx;
    for (;;) {
        ssize_t n = pread(s->fd, buf, cap, s->off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return replay_err_sys(err, REPLAY_EIO, errno, "read the file at offset %lld",
                                  (long long)s->off);
        s->off += n;
        *got = (size_t)n;
        return 0;
    }
}

int replay_archive_check_fd(int fd, const struct replay_archive_limits *limits,
                            const struct replay_cancel *cancel,
                            struct replay_archive_summary *out, struct replay_err *err)
{
    return replay_archive_inspect_fd(fd, limits, NULL, NULL, cancel, out, err);
}

int replay_archive_inspect_fd(int fd, const struct replay_archive_limits *limits,
                              replay_archive_results_fn on_results, void *ctx,
                              const struct replay_cancel *cancel,
                              struct replay_archive_summary *out, struct replay_err *err)
{
    struct fd_src s = {fd, 0};
    struct check k = {.src = {.read = fd_read, .ctx = &s}, .cancel = cancel,
                      .on_results = on_results, .results_ctx = ctx};
    return check_all(&k, limits, out, err);
}

/* ---- list exports ---- */

/* Feeds the export's text (un-CaRTed by `dec` unless NULL) to js. */
static int feed_export(struct fd_src *s, struct replay_cart_dec *dec, struct replay_jsonstream *js,
                       uint8_t *buf, const struct replay_cancel *cancel, struct replay_err *err)
{
    for (size_t got = 1; got > 0;) {
        if (replay_cancel_requested(cancel))
            return replay_err_set(err, REPLAY_ECANCELED, "export check canceled by shutdown");
        int code = dec != NULL ? replay_cart_dec_read(dec, buf, BLOCK, &got, err)
                               : fd_read(s, buf, BLOCK, &got, err);
        if (code == 0 && got > 0)
            code = replay_jsonstream_feed(js, buf, got, err);
        if (code != 0)
            return code;
        replay_progress();
    }
    return replay_jsonstream_finish(js, err);
}

int replay_archive_export_fd(int fd, bool carted, replay_jsonstream_item_fn on_item, void *ctx,
                             const struct replay_cancel *cancel, size_t *items,
                             struct replay_cart_digests *digests, struct replay_err *err)
{
    struct fd_src s = {fd, 0};
    struct replay_jsonstream_opts jo = {.expect = REPLAY_JSONSTREAM_ARRAY, .on_item = on_item,
                                        .ctx = ctx};
    struct replay_cart_dec_opts co = {.require_digests = true, .threads = 1, .cancel = cancel};
    struct replay_jsonstream *js = NULL;
    struct replay_cart_dec *dec = NULL;
    uint8_t *buf = malloc(BLOCK);
    int code = buf != NULL ? replay_jsonstream_new(&jo, &js, err)
                           : replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    if (code == 0 && carted)
        code = replay_cart_dec_new(&co, fd_read, &s, &dec, err);
    if (code == 0)
        code = feed_export(&s, dec, js, buf, cancel, err);
    if (code == 0 && dec != NULL && digests != NULL)
        code = replay_cart_dec_digests(dec, digests, err);
    if (items != NULL)
        *items = js != NULL ? replay_jsonstream_items(js) : 0;
    replay_cart_dec_free(dec);
    replay_jsonstream_free(js);
    free(buf);
    return code;
}
