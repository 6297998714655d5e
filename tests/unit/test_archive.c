/* Unit tests of common/archive: the check of a bundle before import. Tars are
 * written in memory with libarchive (and a few headers by hand), then CaRTed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "replay/archive.h"
#include "replay/cart.h"

#define CAP (4u << 20)
#define SHA_A "0000000000000000000000000000000000000000000000000000000000000001"

struct buf {
    uint8_t *p;
    size_t len;
};

enum member_kind { M_FILE, M_DIR, M_SYMLINK, M_HARDLINK, M_CHR, M_BLK, M_FIFO };

struct member {
    const char *name;
    enum member_kind kind;
    const char *data; /* files only */
};

static const struct member results_ok = {"results.json", M_FILE,
                                         "{\"submission\": {\"sid\": \"x\"}, \"files\": {}}"};

enum compress { TAR_PLAIN, TAR_GZIP, TAR_XZ };

static struct buf make_tar(const struct member *m, size_t n, enum compress c)
{
    struct buf b = {malloc(CAP), 0};
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (c == TAR_GZIP)
        archive_write_add_filter_gzip(a);
    else if (c == TAR_XZ)
        archive_write_add_filter_xz(a);
    assert_int_equal(archive_write_open_memory(a, b.p, CAP, &b.len), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_perm(e, 0644);
        static const unsigned types[] = {AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFREG,
                                         AE_IFCHR, AE_IFBLK, AE_IFIFO};
        archive_entry_set_filetype(e, types[m[i].kind]);
        if (m[i].kind == M_SYMLINK)
            archive_entry_set_symlink(e, "/etc/passwd");
        if (m[i].kind == M_HARDLINK)
            archive_entry_set_hardlink(e, "results.json");
        size_t len = m[i].kind == M_FILE && m[i].data != NULL ? strlen(m[i].data) : 0;
        archive_entry_set_size(e, (la_int64_t)len);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (len > 0)
            assert_int_equal(archive_write_data(a, m[i].data, len), (la_ssize_t)len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return b;
}

static int to_buf(void *ctx, const void *p, size_t len, struct replay_err *err)
{
    (void)err;
    struct buf *b = ctx;
    assert_true(b->len + len <= CAP);
    memcpy(b->p + b->len, p, len);
    b->len += len;
    return 0;
}

static struct buf cart_of(struct buf in, const char *header)
{
    struct buf out = {malloc(CAP), 0};
    struct replay_cart_enc_opts o = {.header_json = header, .threads = 1};
    struct replay_cart_enc *e = NULL;
    assert_int_equal(replay_cart_enc_new(&o, to_buf, &out, &e, NULL), 0);
    assert_int_equal(replay_cart_enc_write(e, in.p, in.len, NULL), 0);
    assert_int_equal(replay_cart_enc_finish(e, NULL), 0);
    replay_cart_enc_free(e);
    free(in.p);
    return out;
}

#define BUNDLE_HEADER "{\"al\": {\"type\": \"archive/bundle/al\"}, \"name\": \"x.tgz\"}"

struct mem {
    const struct buf *b;
    size_t pos, step;
    int fail_at; /* return REPLAY_EIO once this many bytes were read (-1: never) */
};

static int mem_read(void *ctx, void *out, size_t cap, size_t *got, struct replay_err *err)
{
    struct mem *m = ctx;
    if (m->fail_at >= 0 && m->pos >= (size_t)m->fail_at)
        return replay_err_set(err, REPLAY_EIO, "disk on fire");
    size_t n = m->b->len - m->pos;
    n = n < cap ? n : cap;
    n = n < m->step ? n : m->step;
    memcpy(out, m->b->p + m->pos, n);
    m->pos += n;
    *got = n;
    return 0;
}

static int check(const struct buf *b, const struct replay_archive_limits *lim,
                 struct replay_archive_summary *sum, struct replay_err *err)
{
    struct mem m = {b, 0, 4099, -1};
    return replay_archive_check(mem_read, &m, lim, NULL, sum, err);
}

/* Checks a tar of these members (gzip'd and CaRTed as a bundle) and expects `code`
 * with `why` in the message; the plain tar.gz must give the same. */
static void expect(const struct member *m, size_t n, int code, const char *why)
{
    struct buf tgz = make_tar(m, n, TAR_GZIP);
    struct buf copy = {malloc(tgz.len), tgz.len};
    memcpy(copy.p, tgz.p, tgz.len);
    struct buf carted = cart_of(tgz, BUNDLE_HEADER);
    const struct buf *both[] = {&copy, &carted};
    for (int i = 0; i < 2; i++) {
        struct replay_err err = {0};
        assert_int_equal(check(both[i], NULL, NULL, &err), code);
        if (why != NULL && strstr(err.msg, why) == NULL)
            fail_msg("%s: expected \"%s\"", err.msg, why);
        assert_null(strchr(err.msg, '\n'));
    }
    free(copy.p);
    free(carted.p);
}

static void test_archive_accepts_a_carted_bundle_and_a_bare_one(void **state)
{
    (void)state;
    const struct member m[] = {results_ok, {SHA_A, M_FILE, "file one"}, {"./d", M_DIR, NULL}};
    for (enum compress c = TAR_PLAIN; c <= TAR_XZ; c++) {
        struct buf tar = make_tar(m, 3, c);
        struct replay_archive_summary sum;
        assert_int_equal(check(&tar, NULL, &sum, NULL), 0);
        assert_false(sum.carted);
        assert_int_equal(sum.members, 3);
        assert_int_equal(sum.bytes, strlen(results_ok.data) + 8);
        assert_int_equal(sum.results_json, strlen(results_ok.data));
        struct buf carted = cart_of(tar, BUNDLE_HEADER);
        assert_int_equal(check(&carted, NULL, &sum, NULL), 0);
        assert_true(sum.carted);
        assert_int_equal(sum.members, 3);
        free(carted.p);
    }
}

static void test_archive_refuses_members_that_must_not_be_extracted(void **state)
{
    (void)state;
    struct {
        struct member m;
        const char *why;
    } bad[] = {
        {{"../evil", M_FILE, "x"}, "unsafe member \"../evil\" in the bundle: a \"..\" component"},
        {{"a/../../evil", M_FILE, "x"}, "a \"..\" component"},
        {{"a/..", M_DIR, NULL}, "a \"..\" component"},
        {{"/etc/cron.d/evil", M_FILE, "x"}, "an absolute path"},
        {{"link", M_SYMLINK, NULL}, "a symbolic link"},
        {{"hard", M_HARDLINK, NULL}, "a hard link"},
        {{"tty", M_CHR, NULL}, "a character device"},
        {{"disk", M_BLK, NULL}, "a block device"},
        {{"pipe", M_FIFO, NULL}, "a FIFO"},
        {{"new\nline/../../x", M_FILE, "x"}, "\"new?line/../../x\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct member m[] = {results_ok, bad[i].m};
        expect(m, 2, REPLAY_EUNSAFE, bad[i].why);
    }
    const struct member fine[] = {{"..results.json", M_FILE, "x"}, {"a..b", M_FILE, "x"},
                                  results_ok};
    expect(fine, 3, 0, NULL);
}

static void test_archive_needs_a_results_json_object(void **state)
{
    (void)state;
    const struct member none[] = {{SHA_A, M_FILE, "x"}};
    expect(none, 1, REPLAY_EFORMAT, "the bundle has no results.json");
    const struct member broken[] = {{"results.json", M_FILE, "{\"submission\": "}};
    expect(broken, 1, REPLAY_EFORMAT, "results.json is not a JSON object: invalid JSON");
    const struct member array[] = {{"results.json", M_FILE, "[]"}};
    expect(array, 1, REPLAY_EFORMAT, "expected a JSON object");
    const struct member latin1[] = {{"results.json", M_FILE, "{\"a\": \"caf\xe9\"}"}};
    expect(latin1, 1, REPLAY_EFORMAT, "invalid UTF-8");
    const struct member dir[] = {{"results.json", M_DIR, NULL}};
    expect(dir, 1, REPLAY_EFORMAT, "no results.json");
    const struct member dotted[] = {{"./results.json", M_FILE, "{}"}};
    expect(dotted, 1, 0, NULL);
    struct buf tar = make_tar(&results_ok, 1, TAR_PLAIN);
    struct replay_archive_limits lim = {.max_results_json = 8};
    struct replay_err err = {0};
    assert_int_equal(check(&tar, &lim, NULL, &err), REPLAY_ETOOBIG);
    assert_string_equal(err.msg, "results.json is larger than 8 bytes");
    free(tar.p);
}

static void test_archive_caps_members_and_bytes(void **state)
{
    (void)state;
    const struct member m[] = {results_ok, {"a", M_FILE, "0123456789"}, {"b", M_FILE, "x"},
                               {"c", M_FILE, "x"}};
    struct buf tar = make_tar(m, 4, TAR_GZIP);
    struct replay_archive_limits lim = {.max_members = 3};
    struct replay_err err = {0};
    assert_int_equal(check(&tar, &lim, NULL, &err), REPLAY_ETOOBIG);
    assert_string_equal(err.msg, "the bundle has more than 3 members");
    lim = (struct replay_archive_limits){.max_bytes = 1000000};
    assert_int_equal(check(&tar, &lim, NULL, NULL), 0);
    /* Member data past the cap: refused from its header, before it is read. */
    lim.max_bytes = strlen(results_ok.data) + 5;
    memset(&err, 0, sizeof(err));
    assert_int_equal(check(&tar, &lim, NULL, &err), REPLAY_ETOOBIG);
    char want[128];
    snprintf(want, sizeof(want), "member \"a\" would take the bundle past %zu bytes (a "
             "decompression bomb?)", strlen(results_ok.data) + 5);
    assert_string_equal(err.msg, want);
    free(tar.p);
}

/* A ustar header declaring a member of 2^50 bytes (base-256 size field). */
static struct buf huge_member_tar(void)
{
    struct buf b = {calloc(1, 3 * 512), 3 * 512};
    char *h = (char *)b.p;
    strcpy(h, "bomb");
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    h[124] = (char)0x80; /* base-256: the remaining 11 bytes, big-endian */
    h[124 + 5] = 0x04;   /* 0x04 << 48 = 2^50 */
    memcpy(h + 136, "00000000000", 12);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    return b;
}

static void test_archive_refuses_a_huge_declared_size_before_reading_it(void **state)
{
    (void)state;
    struct buf tar = huge_member_tar();
    struct replay_err err = {0};
    assert_int_equal(check(&tar, NULL, NULL, &err), REPLAY_ETOOBIG);
    assert_non_null(strstr(err.msg, "member \"bomb\" would take the bundle past"));
    free(tar.p);
}

static void test_archive_caps_the_data_inside_the_cart(void **state)
{
    (void)state;
    struct buf big = {calloc(1, 1 << 20), 1 << 20};
    struct buf carted = cart_of(big, BUNDLE_HEADER);
    struct replay_archive_limits lim = {.max_bytes = 100000};
    struct replay_err err = {0};
    assert_int_equal(check(&carted, &lim, NULL, &err), REPLAY_ETOOBIG);
    assert_non_null(strstr(err.msg, "more than 100000 bytes once decoded"));
    free(carted.p);
}

static void test_archive_refuses_a_cart_that_is_not_a_bundle(void **state)
{
    (void)state;
    const char *headers[] = {NULL, "{\"al\": {\"type\": \"archive/zip\"}}", "{\"al\": 5}"};
    const char *why[] = {"al.type is \"(none)\"", "al.type is \"archive/zip\"", "(none)"};
    for (int i = 0; i < 3; i++) {
        struct buf carted = cart_of(make_tar(&results_ok, 1, TAR_GZIP), headers[i]);
        struct replay_err err = {0};
        assert_int_equal(check(&carted, NULL, NULL, &err), REPLAY_EFORMAT);
        assert_non_null(strstr(err.msg, why[i]));
        assert_non_null(strstr(err.msg, "not a bundle"));
        free(carted.p);
    }
}

/* The footer of a CaRT: (position, length) from its trailer. */
static void footer_of(const struct buf *c, size_t *pos, size_t *len)
{
    const uint8_t *t = c->p + c->len - 28;
    uint64_t p = 0, l = 0;
    for (int i = 7; i >= 0; i--) {
        p = p << 8 | t[12 + i];
        l = l << 8 | t[20 + i];
    }
    *pos = (size_t)p;
    *len = (size_t)l;
}

static void test_archive_reports_a_digest_mismatch_before_anything_else(void **state)
{
    (void)state;
    /* Two bundles of the same length: the footer of one on the other. */
    const struct member a[] = {{"results.json", M_FILE, "{\"a\": 1}"}};
    const struct member b[] = {{"results.json", M_FILE, "{\"b\": 2}"}};
    struct buf ca = cart_of(make_tar(a, 1, TAR_PLAIN), BUNDLE_HEADER);
    struct buf cb = cart_of(make_tar(b, 1, TAR_PLAIN), BUNDLE_HEADER);
    size_t pa, la, pb, lb;
    footer_of(&ca, &pa, &la);
    footer_of(&cb, &pb, &lb);
    assert_int_equal(la, lb);
    memcpy(ca.p + pa, cb.p + pb, la);
    struct replay_err err = {0};
    assert_int_equal(check(&ca, NULL, NULL, &err), REPLAY_EINTEGRITY);
    /* Unsafe member and bad digests: the digests win (the file is corrupt). */
    const struct member ua[] = {{"../a", M_FILE, "1"}, results_ok};
    const struct member ub[] = {{"../b", M_FILE, "2"}, results_ok};
    struct buf cua = cart_of(make_tar(ua, 2, TAR_PLAIN), BUNDLE_HEADER);
    struct buf cub = cart_of(make_tar(ub, 2, TAR_PLAIN), BUNDLE_HEADER);
    footer_of(&cua, &pa, &la);
    footer_of(&cub, &pb, &lb);
    memcpy(cua.p + pa, cub.p + pb, la);
    memset(&err, 0, sizeof(err));
    assert_int_equal(check(&cua, NULL, NULL, &err), REPLAY_EINTEGRITY);
    free(ca.p);
    free(cb.p);
    free(cua.p);
    free(cub.p);
}

static void test_archive_refuses_truncated_corrupt_empty_and_foreign_files(void **state)
{
    (void)state;
    struct buf carted = cart_of(make_tar(&results_ok, 1, TAR_GZIP), BUNDLE_HEADER);
    struct replay_err err = {0};
    struct buf cut = {carted.p, carted.len - 40};
    assert_int_equal(check(&cut, NULL, NULL, &err), REPLAY_EFORMAT);
    cut.len = 100;
    assert_int_equal(check(&cut, NULL, NULL, NULL), REPLAY_EFORMAT);
    carted.p[carted.len / 2] ^= 0x55;
    int code = check(&carted, NULL, NULL, NULL);
    assert_true(code == REPLAY_EFORMAT || code == REPLAY_EINTEGRITY);
    free(carted.p);
    struct buf tgz = make_tar(&results_ok, 1, TAR_GZIP);
    tgz.len /= 2;
    memset(&err, 0, sizeof(err));
    assert_int_equal(check(&tgz, NULL, NULL, &err), REPLAY_EFORMAT);
    assert_string_equal(err.msg, "not a bundle: not a CaRT file and not readable as a tar "
                                 "archive: truncated gzip input");
    free(tgz.p);
    struct buf empty = {(uint8_t *)"", 0};
    memset(&err, 0, sizeof(err));
    assert_int_equal(check(&empty, NULL, NULL, &err), REPLAY_EFORMAT);
    assert_string_equal(err.msg, "not a bundle: the file is empty");
    struct buf text = {(uint8_t *)"[{\"id\": \"x\"}]", 13};
    memset(&err, 0, sizeof(err));
    assert_int_equal(check(&text, NULL, NULL, &err), REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "not a bundle: not a CaRT file and not readable as a tar"));
}

static void test_archive_passes_read_errors_and_shutdown_through(void **state)
{
    (void)state;
    struct buf carted = cart_of(make_tar(&results_ok, 1, TAR_GZIP), BUNDLE_HEADER);
    for (int fail_at = 0; fail_at <= 100; fail_at += 50) {
        struct mem m = {&carted, 0, 10, fail_at};
        struct replay_err err = {0};
        assert_int_equal(replay_archive_check(mem_read, &m, NULL, NULL, NULL, &err), REPLAY_EIO);
        assert_string_equal(err.msg, "disk on fire");
    }
    struct replay_cancel *c = replay_cancel_new();
    replay_cancel_request(c);
    struct mem m = {&carted, 0, 4096, -1};
    assert_int_equal(replay_archive_check(mem_read, &m, NULL, c, NULL, NULL), REPLAY_ECANCELED);
    replay_cancel_free(c);
    free(carted.p);
}

static void test_archive_check_fd_reads_from_the_start_and_keeps_the_offset(void **state)
{
    (void)state;
    struct buf carted = cart_of(make_tar(&results_ok, 1, TAR_GZIP), BUNDLE_HEADER);
    int fd = memfd_create("bundle", 0);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, carted.p, carted.len), (ssize_t)carted.len);
    assert_int_equal(lseek(fd, 7, SEEK_SET), 7);
    struct replay_archive_summary sum;
    assert_int_equal(replay_archive_check_fd(fd, NULL, NULL, &sum, NULL), 0);
    assert_true(sum.carted);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 7);
    close(fd);
    struct replay_err err = {0};
    assert_int_equal(replay_archive_check_fd(-1, NULL, NULL, NULL, &err), REPLAY_EIO);
    assert_non_null(strstr(err.msg, "read the file at offset 0"));
    free(carted.p);
}

static int fd_of(const struct buf *b)
{
    int fd = memfd_create("file", 0);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b->p, b->len), (ssize_t)b->len);
    return fd;
}

static void test_archive_inspect_fd_hands_over_results_json_and_the_digests(void **state)
{
    (void)state;
    struct buf carted = cart_of(make_tar(&results_ok, 1, TAR_GZIP), BUNDLE_HEADER);
    struct buf got = {malloc(CAP), 0};
    int fd = fd_of(&carted);
    struct replay_archive_summary sum;
    assert_int_equal(replay_archive_inspect_fd(fd, NULL, to_buf, &got, NULL, &sum, NULL), 0);
    assert_int_equal(got.len, strlen(results_ok.data));
    assert_memory_equal(got.p, results_ok.data, got.len);
    assert_int_equal(strlen(sum.digests.sha256), 64);
    assert_true(sum.digests.length > 0);
    assert_int_equal(sum.digests.cart_size, carted.len);
    close(fd);
    free(carted.p);
    free(got.p);
}

static int count_items(void *ctx, const struct replay_jsonstream_item *it, struct replay_err *err)
{
    (void)err;
    assert_non_null(it->json);
    (*(size_t *)ctx)++;
    return 0;
}

static void test_archive_export_fd_checks_and_counts_plain_and_carted_exports(void **state)
{
    (void)state;
    const char *text = "[{\"id\": \"a\"}, {\"id\": \"b\"}, {\"id\": \"c\"}]";
    struct buf plain = {(uint8_t *)strdup(text), strlen(text)};
    struct buf copy = {malloc(plain.len), plain.len};
    memcpy(copy.p, plain.p, plain.len);
    struct buf carted = cart_of(copy, NULL);
    size_t items = 0, seen = 0;
    struct replay_cart_digests d = {0};
    int fd = fd_of(&plain);
    assert_int_equal(replay_archive_export_fd(fd, false, count_items, &seen, NULL, &items, &d,
                                              NULL), 0);
    assert_int_equal(items, 3);
    assert_int_equal(seen, 3);
    assert_string_equal(d.sha256, ""); /* not a CaRT: no digests */
    close(fd);
    fd = fd_of(&carted);
    assert_int_equal(replay_archive_export_fd(fd, true, NULL, NULL, NULL, &items, &d, NULL), 0);
    assert_int_equal(items, 3);
    assert_int_equal(d.length, strlen(text));
    assert_int_equal(strlen(d.sha256), 64);
    close(fd);
    free(plain.p);
    free(carted.p);
}

static void test_archive_export_fd_refuses_corrupt_exports(void **state)
{
    (void)state;
    static const char *texts[] = {"[{\"id\": \"a\"},", "{\"id\": \"a\"}", ""};
    for (size_t i = 0; i < 3; i++) {
        struct buf b = {(uint8_t *)strdup(texts[i]), strlen(texts[i])};
        struct replay_err err = {0};
        int fd = fd_of(&b);
        assert_int_equal(replay_archive_export_fd(fd, false, NULL, NULL, NULL, NULL, NULL, &err),
                         REPLAY_EFORMAT);
        close(fd);
        free(b.p);
    }
    /* A CaRT with the footer of another one of the same length. */
    struct buf a = {(uint8_t *)strdup("[1, 2]"), 6}, b = {(uint8_t *)strdup("[3, 4]"), 6};
    struct buf ca = cart_of(a, NULL), cb = cart_of(b, NULL);
    size_t pa, la, pb, lb;
    footer_of(&ca, &pa, &la);
    footer_of(&cb, &pb, &lb);
    memcpy(ca.p + pa, cb.p + pb, la);
    int fd = fd_of(&ca);
    struct replay_err err = {0};
    assert_int_equal(replay_archive_export_fd(fd, true, NULL, NULL, NULL, NULL, NULL, &err),
                     REPLAY_EINTEGRITY);
    close(fd);
    struct replay_cancel *c = replay_cancel_new();
    replay_cancel_request(c);
    fd = fd_of(&cb);
    assert_int_equal(replay_archive_export_fd(fd, true, NULL, NULL, c, NULL, NULL, NULL),
                     REPLAY_ECANCELED);
    close(fd);
    replay_cancel_free(c);
    assert_int_equal(replay_archive_export_fd(-1, false, NULL, NULL, NULL, NULL, NULL, NULL),
                     REPLAY_EIO);
    free(ca.p);
    free(cb.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archive_accepts_a_carted_bundle_and_a_bare_one),
        cmocka_unit_test(test_archive_refuses_members_that_must_not_be_extracted),
        cmocka_unit_test(test_archive_needs_a_results_json_object),
        cmocka_unit_test(test_archive_caps_members_and_bytes),
        cmocka_unit_test(test_archive_refuses_a_huge_declared_size_before_reading_it),
        cmocka_unit_test(test_archive_caps_the_data_inside_the_cart),
        cmocka_unit_test(test_archive_refuses_a_cart_that_is_not_a_bundle),
        cmocka_unit_test(test_archive_reports_a_digest_mismatch_before_anything_else),
        cmocka_unit_test(test_archive_refuses_truncated_corrupt_empty_and_foreign_files),
        cmocka_unit_test(test_archive_passes_read_errors_and_shutdown_through),
        cmocka_unit_test(test_archive_check_fd_reads_from_the_start_and_keeps_the_offset),
        cmocka_unit_test(test_archive_inspect_fd_hands_over_results_json_and_the_digests),
        cmocka_unit_test(test_archive_export_fd_checks_and_counts_plain_and_carted_exports),
        cmocka_unit_test(test_archive_export_fd_refuses_corrupt_exports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
