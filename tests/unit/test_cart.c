/*
 * Unit tests of cart: the worked examples of formats.md §1.10 byte for byte, round
 * trips at the block boundaries and at 100 MiB in both modes, and every bad input
 * the decoder must refuse (with its code and message).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "cart_int.h"
#include "replay/cart.h"
#include "replay/lifecycle.h"

/* ---- buffers and callbacks ---- */

struct mem {
    uint8_t *buf;
    size_t len, cap;
    size_t pos;      /* read position */
    size_t max_read; /* 0: as much as asked; else at most this per read call */
    unsigned seed;   /* non-zero: random read sizes 1..max_read */
    int fail_at;     /* >0: the n-th callback call fails with REPLAY_EIO */
    int calls;
};

static void mem_put(struct mem *m, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2 + 64;
        m->buf = realloc(m->buf, m->cap);
        assert_non_null(m->buf);
    }
    memcpy(m->buf + m->len, p, n);
    m->len += n;
}

static int mem_write(void *ctx, const void *buf, size_t len, struct replay_err *err)
{
    struct mem *m = ctx;
    if (m->fail_at > 0 && ++m->calls == m->fail_at)
        return replay_err_set(err, REPLAY_EIO, "test sink refuses");
    mem_put(m, buf, len);
    return 0;
}

static int mem_read(void *ctx, void *buf, size_t cap, size_t *got, struct replay_err *err)
{
    struct mem *m = ctx;
    if (m->fail_at > 0 && ++m->calls == m->fail_at)
        return replay_err_set(err, REPLAY_EIO, "test source refuses");
    size_t n = m->len - m->pos;
    size_t lim = m->max_read;
    if (lim > 0 && m->seed != 0)
        lim = 1 + (size_t)rand_r(&m->seed) % lim;
    if (lim > 0 && n > lim)
        n = lim;
    if (n > cap)
        n = cap;
    if (n > 0)
        memcpy(buf, m->buf + m->pos, n);
    m->pos += n;
    *got = n;
    return 0;
}

static void mem_free(struct mem *m)
{
    free(m->buf);
    memset(m, 0, sizeof(*m));
}

/* Packs data (fed in pieces of `piece` bytes) into *out. */
static int pack(const struct replay_cart_enc_opts *o, const void *data, size_t len,
                size_t piece, struct mem *out, struct replay_err *err)
{
    struct replay_cart_enc *e = NULL;
    int rc = replay_cart_enc_new(o, mem_write, out, &e, err);
    const uint8_t *p = data;
    while (rc == 0 && len > 0) {
        size_t n = len < piece ? len : piece;
        rc = replay_cart_enc_write(e, p, n, err);
        p += n;
        len -= n;
    }
    if (rc == 0)
        rc = replay_cart_enc_finish(e, err);
    replay_cart_enc_free(e);
    return rc;
}

/* Unpacks in (reading with in->max_read) into *out, reading `piece` at a time. */
static int unpack(const struct replay_cart_dec_opts *o, struct mem *in, size_t piece,
                  struct mem *out, char **header, char **footer, struct replay_err *err)
{
    struct replay_cart_dec *d = NULL;
    uint8_t *buf = malloc(piece);
    assert_non_null(buf);
    int rc = replay_cart_dec_new(o, mem_read, in, &d, err);
    size_t got = 1;
    while (rc == 0 && got > 0) {
        rc = replay_cart_dec_read(d, buf, piece, &got, err);
        if (rc == 0 && out != NULL)
            mem_put(out, buf, got);
    }
    if (rc == 0 && header != NULL)
        *header = strdup(replay_cart_dec_header_json(d));
    if (rc == 0 && footer != NULL)
        *footer = strdup(replay_cart_dec_footer_json(d));
    replay_cart_dec_free(d);
    free(buf);
    return rc;
}

/* Decodes `len` bytes of a CaRT; returns the code, message in err. */
static int decode_bytes(const uint8_t *cart, size_t len, const struct replay_cart_dec_opts *o,
                        struct replay_err *err)
{
    struct mem in = {0};
    if (len > 0)
        mem_put(&in, cart, len);
    struct mem out = {0};
    int rc = unpack(o, &in, 4096, &out, NULL, NULL, err);
    mem_free(&in);
    mem_free(&out);
    return rc;
}

static void expect_decode_error(const uint8_t *cart, size_t len, int code, const char *needle)
{
    struct replay_err err = {0};
    int rc = decode_bytes(cart, len, NULL, &err);
    if (rc != code || strstr(err.msg, needle) == NULL)
        fail_msg("expected %s with '%s', got %s: %s", replay_err_name(code), needle,
                 replay_err_name(rc), err.msg);
}

/* ---- the worked examples (formats.md §1.10) ---- */

static const char hello_footer[] =
    "{\"length\":\"13\",\"md5\":\"6cd3556deb0da54bca060b4c39479839\",\"sha1\":"
    "\"943a702d06f34599aee1f8da8ef9f7296031d699\",\"sha256\":"
    "\"315f5bdb76d078c43b8ac0064e4a0164612b1fce77c869345bfc94c75894edd3\"}";
static const char empty_footer[] =
    "{\"length\":\"0\",\"md5\":\"d41d8cd98f00b204e9800998ecf8427e\",\"sha1\":"
    "\"da39a3ee5e6b4b0d3255bfef95601890afd80709\",\"sha256\":"
    "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}";
static const uint8_t std_header[38] = {'C', 'A', 'R', 'T', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       3, 1, 4, 1, 5, 9, 2, 6, 3, 1, 4, 1, 5, 9, 2, 6};
static const uint8_t hello_data[21] = {0xc1, 0x87, 0x38, 0x75, 0xf3, 0x79, 0xa8, 0x1a, 0x0a,
                                       0x3d, 0x99, 0x8b, 0xcb, 0x7a, 0xb1, 0xa1, 0xbf, 0xc6,
                                       0xf7, 0x39, 0x18};
static const uint8_t empty_data[8] = {0xc1, 0x87, 0xc8, 0x3d, 0x3e, 0xb0, 0x61, 0xcc};

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Builds a CaRT from plaintext parts: [header JSON], zlib bytes, [footer JSON];
 * footer_pos/footer_len of the trailer are overridden when not UINT64_MAX. */
struct craft {
    const uint8_t *key;
    size_t key_len;
    bool zero_key_field;
    const char *header;
    const uint8_t *zdata;
    size_t zlen;
    const char *footer;
    uint64_t trailer_pos, trailer_len, header_len;
};

static void craft(const struct craft *c, struct mem *out)
{
    const uint8_t *key = c->key != NULL ? c->key : replay_cart_default_key;
    size_t key_len = c->key != NULL ? c->key_len : 16;
    uint8_t h[38];
    memcpy(h, std_header, 38);
    if (c->zero_key_field)
        memset(h + 14, 0, 16);
    size_t hlen = c->header != NULL ? strlen(c->header) : 0;
    put64(h + 30, c->header_len != 0 ? c->header_len : hlen);
    mem_put(out, h, 38);
    struct replay__rc4 rc4;
    uint8_t *tmp = malloc(hlen + c->zlen + 2 * 1024 * 1024);
    replay__rc4_init(&rc4, key, key_len);
    replay__rc4_xor(&rc4, (const uint8_t *)(c->header ? c->header : ""), tmp, hlen);
    mem_put(out, tmp, hlen);
    replay__rc4_init(&rc4, key, key_len);
    replay__rc4_xor(&rc4, c->zdata, tmp, c->zlen);
    mem_put(out, tmp, c->zlen);
    uint64_t pos = out->len;
    size_t flen = c->footer != NULL ? strlen(c->footer) : 0;
    replay__rc4_init(&rc4, key, key_len);
    replay__rc4_xor(&rc4, (const uint8_t *)(c->footer ? c->footer : ""), tmp, flen);
    mem_put(out, tmp, flen);
    uint8_t t[28] = {'T', 'R', 'A', 'C'};
    put64(t + 4, 0);
    put64(t + 12, c->trailer_pos != UINT64_MAX ? c->trailer_pos : pos);
    put64(t + 20, c->trailer_len != UINT64_MAX ? c->trailer_len : flen);
    mem_put(out, t, 28);
    free(tmp);
}

static const uint8_t hello_zlib[21] = {0x78, 0x01, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0x28, 0xcf,
                                       0x2f, 0xca, 0x49, 0x51, 0x04, 0x00, 0x20, 0x5e, 0x04, 0x8a};

static struct craft hello_craft(const char *footer)
{
    struct craft c = {.zdata = hello_zlib, .zlen = sizeof(hello_zlib), .footer = footer,
                      .trailer_pos = UINT64_MAX, .trailer_len = UINT64_MAX};
    return c;
}

static void test_cart_rc4_matches_the_keystream_vectors(void **state)
{
    (void)state;
    static const uint8_t want_default[16] = {0xb9, 0x86, 0xcb, 0x3d, 0x3e, 0xb0, 0x61, 0xcd,
                                             0x5b, 0x15, 0x56, 0xa4, 0x01, 0x33, 0xe0, 0xa5};
    static const uint8_t want_custom[16] = {0x57, 0x2d, 0x14, 0xe0, 0x1b, 0x2a, 0x8b, 0x96,
                                            0xed, 0x63, 0x8f, 0x8d, 0x30, 0x7d, 0x94, 0x2a};
    uint8_t zero[16] = {0}, ks[16];
    struct replay__rc4 rc4;
    replay__rc4_init(&rc4, replay_cart_default_key, 16);
    replay__rc4_xor(&rc4, zero, ks, 16);
    assert_memory_equal(ks, want_default, 16);
    replay__rc4_init(&rc4, (const uint8_t *)"Test Da Key !", 13);
    replay__rc4_xor(&rc4, zero, ks, 7);
    replay__rc4_xor(&rc4, zero, ks + 7, 9); /* the keystream continues across calls */
    assert_memory_equal(ks, want_custom, 16);
}

static void expect_vector(const char *data, size_t len, const uint8_t *zcipher, size_t zlen,
                          const char *footer, size_t total)
{
    for (int mode = 0; mode < 2; mode++) {
        struct replay_cart_enc_opts o = {.threads = (unsigned)mode + 1};
        struct mem out = {0};
        struct replay_err err = {0};
        assert_int_equal(pack(&o, data, len, 1, &out, &err), 0);
        assert_int_equal(out.len, total);
        assert_memory_equal(out.buf, std_header, 38);
        assert_memory_equal(out.buf + 38, zcipher, zlen);
        size_t flen = strlen(footer);
        uint8_t *plain = malloc(flen);
        struct replay__rc4 rc4;
        replay__rc4_init(&rc4, replay_cart_default_key, 16);
        replay__rc4_xor(&rc4, out.buf + 38 + zlen, plain, flen);
        assert_memory_equal(plain, footer, flen);
        free(plain);
        assert_memory_equal(out.buf + 38 + zlen, "\xc2\xa4", 2);
        uint8_t trailer[28] = {'T', 'R', 'A', 'C'};
        put64(trailer + 12, 38 + zlen);
        put64(trailer + 20, flen);
        assert_memory_equal(out.buf + total - 28, trailer, 28);
        mem_free(&out);
    }
}

static void test_cart_pack_hello_world_is_byte_identical_to_upstream(void **state)
{
    (void)state;
    expect_vector("Hello, world!", 13, hello_data, sizeof(hello_data), hello_footer, 269);
    static const uint8_t footer_start[8] = {0xc2, 0xa4, 0xa7, 0x58, 0x50, 0xd7, 0x15, 0xa5};
    struct mem out = {0};
    struct replay_err err = {0};
    assert_int_equal(pack(NULL, "Hello, world!", 13, 13, &out, &err), 0);
    assert_memory_equal(out.buf + 59, footer_start, 8);
    mem_free(&out);
}

static void test_cart_pack_empty_input_is_byte_identical_to_upstream(void **state)
{
    (void)state;
    expect_vector("", 0, empty_data, sizeof(empty_data), empty_footer, 255);
}

static void test_cart_unpack_worked_examples_gives_data_and_metadata(void **state)
{
    (void)state;
    struct mem in = {0}, out = {0};
    struct craft c = hello_craft(hello_footer);
    craft(&c, &in);
    assert_int_equal(in.len, 269);
    in.max_read = 1; /* one byte per read: every split point */
    char *header = NULL, *footer = NULL;
    struct replay_err err = {0};
    assert_int_equal(unpack(NULL, &in, 1, &out, &header, &footer, &err), 0);
    assert_int_equal(out.len, 13);
    assert_memory_equal(out.buf, "Hello, world!", 13);
    assert_string_equal(header, "{}");
    assert_string_equal(footer, hello_footer);
    free(header);
    free(footer);
    mem_free(&in);
    mem_free(&out);
    static const uint8_t empty_zlib[8] = {0x78, 0x01, 0x03, 0, 0, 0, 0, 0x01};
    struct craft e = {.zdata = empty_zlib, .zlen = 8, .footer = empty_footer,
                      .trailer_pos = UINT64_MAX, .trailer_len = UINT64_MAX};
    craft(&e, &in);
    assert_int_equal(in.len, 255);
    assert_int_equal(unpack(NULL, &in, 7, &out, NULL, NULL, &err), 0);
    assert_int_equal(out.len, 0);
    mem_free(&in);
}

/* ---- round trips ---- */

/* Mixed data: runs of pseudo-random bytes and of repetitive text. */
static void fill_mixed(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    static const char text[] = "{\"sha256\": \"0123abcd\", \"type\": \"archive/bundle/al\"}, ";
    for (size_t i = 0; i < len; i++) {
        if ((i / 5000) % 3 == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        } else {
            buf[i] = (uint8_t)text[i % (sizeof(text) - 1)];
        }
    }
}

static void round_trip(size_t len, enum replay_cart_mode mode, size_t piece, size_t max_read)
{
    uint8_t *data = malloc(len + 1);
    fill_mixed(data, len, len);
    struct replay_cart_enc_opts eo = {.mode = mode};
    struct mem cart = {0}, out = {0};
    struct replay_err err = {0};
    assert_int_equal(pack(&eo, data, len, piece, &cart, &err), 0);
    cart.max_read = max_read;
    cart.seed = 7;
    char *footer = NULL;
    int rc = unpack(NULL, &cart, piece, &out, NULL, &footer, &err);
    if (rc != 0)
        fail_msg("round trip of %zu bytes (mode %d): %s", len, mode, err.msg);
    assert_int_equal(out.len, len);
    assert_true(len == 0 || memcmp(out.buf, data, len) == 0);
    char want[32];
    snprintf(want, sizeof(want), "\"length\":\"%zu\"", len);
    assert_non_null(strstr(footer, want));
    free(footer);
    mem_free(&cart);
    mem_free(&out);
    free(data);
}

static void test_cart_round_trips_at_block_boundaries(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 65535, 65536, 65537, 131071, 131072, 131073,
                                   262143, 262144, 262145, 1048575, 1048576, 1048577};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        round_trip(sizes[i], REPLAY_CART_COMPAT, 65536, 0);
        round_trip(sizes[i], REPLAY_CART_FAST, 65536, 0);
        round_trip(sizes[i], REPLAY_CART_FAST, 1000, 3000); /* odd pieces, random reads */
    }
    round_trip(70000, REPLAY_CART_COMPAT, 1, 1); /* byte by byte both ways */
}

/* Streams 100 MiB through encoder and decoder via a temp file, comparing on the fly. */
struct gen {
    uint64_t done;
};

static int file_write(void *ctx, const void *buf, size_t len, struct replay_err *err)
{
    (void)err;
    return fwrite(buf, 1, len, ctx) == len ? 0 : REPLAY_EIO;
}

static int file_read(void *ctx, void *buf, size_t cap, size_t *got, struct replay_err *err)
{
    (void)err;
    *got = fread(buf, 1, cap, ctx);
    return ferror((FILE *)ctx) ? REPLAY_EIO : 0;
}

static void big_round_trip(enum replay_cart_mode mode, uint64_t total)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    enum { BLK = 1 << 20 };
    uint8_t *blk = malloc(BLK), *back = malloc(BLK);
    struct replay_err err = {0};
    struct replay_cart_enc_opts eo = {.mode = mode};
    struct replay_cart_enc *e = NULL;
    assert_int_equal(replay_cart_enc_new(&eo, file_write, f, &e, &err), 0);
    for (uint64_t off = 0; off < total; off += BLK) {
        fill_mixed(blk, BLK, off / BLK);
        assert_int_equal(replay_cart_enc_write(e, blk, BLK, &err), 0);
    }
    assert_int_equal(replay_cart_enc_finish(e, &err), 0);
    struct replay_cart_digests de;
    assert_int_equal(replay_cart_enc_digests(e, &de, &err), 0);
    replay_cart_enc_free(e);
    assert_int_equal(de.length, total);
    assert_int_equal(fflush(f), 0);
    rewind(f);
    struct replay_cart_dec *d = NULL;
    assert_int_equal(replay_cart_dec_new(NULL, file_read, f, &d, &err), 0);
    for (uint64_t off = 0; off < total; off += BLK) {
        fill_mixed(blk, BLK, off / BLK);
        size_t have = 0, got = 0;
        while (have < BLK) {
            assert_int_equal(replay_cart_dec_read(d, back + have, BLK - have, &got, &err), 0);
            assert_true(got > 0);
            have += got;
        }
        assert_memory_equal(back, blk, BLK);
    }
    assert_int_equal(replay_cart_dec_finish(d, &err), 0);
    struct replay_cart_digests dd;
    assert_int_equal(replay_cart_dec_digests(d, &dd, &err), 0);
    assert_string_equal(dd.sha256, de.sha256);
    assert_int_equal(dd.cart_size, de.cart_size);
    assert_int_equal(dd.cart_size, (uint64_t)ftello(f));
    replay_cart_dec_free(d);
    fclose(f);
    free(blk);
    free(back);
}

static void test_cart_round_trips_100_mib_in_both_modes(void **state)
{
    (void)state;
    big_round_trip(REPLAY_CART_FAST, 100ull << 20);
    big_round_trip(REPLAY_CART_COMPAT, 100ull << 20);
}

/* The byte-identical mode equals one-shot zlib level 1 (what upstream's chunked
 * compressobj gives); the fast mode is a valid zlib stream for plain zlib. */
static void test_cart_data_part_is_a_plain_zlib_stream_in_both_modes(void **state)
{
    (void)state;
    size_t len = 3 * 1024 * 1024 + 17;
    uint8_t *data = malloc(len), *back = malloc(len);
    fill_mixed(data, len, 42);
    uLongf zcap = compressBound(len);
    uint8_t *want = malloc(zcap);
    assert_int_equal(compress2(want, &zcap, data, len, 1), Z_OK);
    for (int mode = 0; mode < 2; mode++) {
        struct replay_cart_enc_opts o = {.mode = mode};
        struct mem cart = {0};
        struct replay_err err = {0};
        assert_int_equal(pack(&o, data, len, 100000, &cart, &err), 0);
        uint64_t pos = 0;
        for (int i = 7; i >= 0; i--)
            pos = (pos << 8) | cart.buf[cart.len - 16 + i];
        size_t zlen = (size_t)pos - 38;
        uint8_t *z = malloc(zlen);
        struct replay__rc4 rc4;
        replay__rc4_init(&rc4, replay_cart_default_key, 16);
        replay__rc4_xor(&rc4, cart.buf + 38, z, zlen);
        if (mode == REPLAY_CART_COMPAT) {
            assert_int_equal(zlen, zcap);
            assert_memory_equal(z, want, zlen);
        }
        uLongf blen = len;
        assert_int_equal(uncompress(back, &blen, z, zlen), Z_OK);
        assert_int_equal(blen, len);
        assert_memory_equal(back, data, len);
        free(z);
        mem_free(&cart);
    }
    free(data);
    free(back);
    free(want);
}

/* ---- options, metadata, keys ---- */

static void test_cart_header_metadata_is_reserialised_sorted_compact_ascii(void **state)
{
    (void)state;
    struct replay_cart_enc_opts o = {
        .header_json = "{ \"name\" : \"caf\xc3\xa9.tgz\",\n \"al\": {\"type\": \"archive/bundle/al\"} }",
        .footer_json = "{\"md5\": \"overwritten\", \"zz\": [1, 2]}",
    };
    struct mem cart = {0}, out = {0};
    struct replay_err err = {0};
    assert_int_equal(pack(&o, "x", 1, 1, &cart, &err), 0);
    char *header = NULL, *footer = NULL;
    assert_int_equal(unpack(NULL, &cart, 10, &out, &header, &footer, &err), 0);
    assert_string_equal(header, "{\"al\":{\"type\":\"archive/bundle/al\"},\"name\":\"caf\\u00e9.tgz\"}");
    assert_non_null(strstr(footer, "\"md5\":\"9dd4e461268c8034f5c8564e155c67a6\""));
    assert_non_null(strstr(footer, ",\"zz\":[1,2]}"));
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | cart.buf[30 + i];
    assert_int_equal(hlen, strlen(header));
    free(header);
    free(footer);
    mem_free(&cart);
    mem_free(&out);
    /* "{}" and "" mean no optional header, as upstream's empty dict */
    o.header_json = "{}";
    o.footer_json = "";
    assert_int_equal(pack(&o, "x", 1, 1, &cart, &err), 0);
    assert_int_equal(cart.buf[30], 0);
    mem_free(&cart);
}

static void test_cart_bundle_header_for_al_sim_matches_upstream_bytes(void **state)
{
    (void)state;
    struct replay_cart_enc_opts o = {
        .header_json = "{\"al\":{\"type\":\"archive/bundle/al\"},\"name\":\"4Lz7FA.tgz\"}"};
    struct mem cart = {0};
    struct replay_err err = {0};
    assert_int_equal(pack(&o, "\x1f\x8b\x08", 3, 3, &cart, &err), 0);
    static const char want[] = "{\"al\":{\"type\":\"archive/bundle/al\"},\"name\":\"4Lz7FA.tgz\"}";
    size_t n = strlen(want);
    assert_int_equal(cart.buf[30], n);
    uint8_t *plain = malloc(n);
    struct replay__rc4 rc4;
    replay__rc4_init(&rc4, replay_cart_default_key, 16);
    replay__rc4_xor(&rc4, cart.buf + 38, plain, n);
    assert_memory_equal(plain, want, n);
    free(plain);
    mem_free(&cart);
}

static void test_cart_custom_key_zeroes_the_header_field_and_is_needed_to_read(void **state)
{
    (void)state;
    const uint8_t *key = (const uint8_t *)"Test Da Key !";
    for (int with_header = 0; with_header < 2; with_header++) {
        struct replay_cart_enc_opts o = {.key = key, .key_len = 13,
                                         .header_json = with_header ? "{\"name\":\"a\"}" : NULL};
        struct mem cart = {0}, out = {0};
        struct replay_err err = {0};
        assert_int_equal(pack(&o, "secret data", 11, 4, &cart, &err), 0);
        static const uint8_t zeros[16] = {0};
        assert_memory_equal(cart.buf + 14, zeros, 16);
        struct replay_cart_dec_opts good = {.key = key, .key_len = 13};
        assert_int_equal(unpack(&good, &cart, 64, &out, NULL, NULL, &err), 0);
        assert_memory_equal(out.buf, "secret data", 11);
        cart.pos = 0;
        struct replay_err e2 = {0};
        assert_int_equal(unpack(NULL, &cart, 64, NULL, NULL, NULL, &e2), REPLAY_EBADKEY);
        assert_non_null(strstr(e2.msg, "custom key"));
        cart.pos = 0;
        struct replay_err e3 = {0};
        struct replay_cart_dec_opts bad = {.key = (const uint8_t *)"Wrong Key !!!", .key_len = 13};
        assert_int_equal(unpack(&bad, &cart, 64, NULL, NULL, NULL, &e3), REPLAY_EBADKEY);
        assert_non_null(strstr(e3.msg, "wrong key"));
        mem_free(&cart);
        mem_free(&out);
    }
}

static void test_cart_bad_options_are_refused(void **state)
{
    (void)state;
    struct replay_cart_enc *e = NULL;
    struct mem sink = {0};
    static const struct { struct replay_cart_enc_opts o; int code; const char *needle; } cases[] = {
        {{.key = (const uint8_t *)"abcd", .key_len = 4}, REPLAY_EINVAL, "5 to 256"},
        {{.key = (const uint8_t *)"abcd", .key_len = 257}, REPLAY_EINVAL, "5 to 256"},
        {{.header_json = "{\"a\":"}, REPLAY_EINVAL, "not valid JSON"},
        {{.header_json = "[1]"}, REPLAY_EINVAL, "must be a JSON object"},
        {{.footer_json = "\"x\""}, REPLAY_EINVAL, "not valid JSON"},
        {{.mode = (enum replay_cart_mode)7}, REPLAY_EINVAL, "bad mode"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct replay_err err = {0};
        assert_int_equal(replay_cart_enc_new(&cases[i].o, mem_write, &sink, &e, &err), cases[i].code);
        assert_null(e);
        assert_non_null(strstr(err.msg, cases[i].needle));
    }
    struct replay_err err = {0};
    assert_int_equal(replay_cart_enc_new(NULL, NULL, &sink, &e, &err), REPLAY_EINVAL);
    /* metadata over the cap */
    size_t big = REPLAY_CART_META_MAX + 10;
    char *json = malloc(big + 16);
    snprintf(json, big + 16, "{\"a\":\"%0*d\"}", (int)big, 0);
    for (int footer = 0; footer < 2; footer++) {
        struct replay_cart_enc_opts o = {.header_json = footer ? NULL : json,
                                         .footer_json = footer ? json : NULL};
        struct replay_err e2 = {0};
        assert_int_equal(replay_cart_enc_new(&o, mem_write, &sink, &e, &e2), REPLAY_ETOOBIG);
        assert_non_null(strstr(e2.msg, "limit"));
    }
    free(json);
    struct replay_cart_dec *d = NULL;
    struct replay_cart_dec_opts dk = {.key = (const uint8_t *)"ab", .key_len = 2};
    struct mem in = {0};
    struct craft c = hello_craft(hello_footer);
    craft(&c, &in);
    struct replay_err e3 = {0};
    assert_int_equal(replay_cart_dec_new(&dk, mem_read, &in, &d, &e3), REPLAY_EINVAL);
    assert_null(d);
    mem_free(&in);
}

static void test_cart_free_null_and_misuse_are_harmless(void **state)
{
    (void)state;
    replay_cart_enc_free(NULL);
    replay_cart_dec_free(NULL);
    struct mem sink = {0};
    struct replay_cart_enc *e = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_cart_enc_new(NULL, mem_write, &sink, &e, &err), 0);
    struct replay_cart_digests dg;
    assert_int_equal(replay_cart_enc_digests(e, &dg, &err), REPLAY_EINVAL);
    assert_int_equal(replay_cart_enc_finish(e, &err), 0);
    assert_int_equal(replay_cart_enc_digests(e, &dg, &err), 0);
    assert_string_equal(dg.md5, "d41d8cd98f00b204e9800998ecf8427e");
    assert_int_equal(dg.cart_size, 255);
    struct replay_err e2 = {0};
    assert_int_equal(replay_cart_enc_write(e, "x", 1, &e2), REPLAY_EINVAL);
    assert_int_equal(replay_cart_enc_finish(e, &e2), REPLAY_EINVAL);
    replay_cart_enc_free(e);
    mem_free(&sink);
    assert_null(replay_cart_dec_header_json(NULL));
    assert_null(replay_cart_dec_footer_json(NULL));
}

static void test_cart_is_cart_follows_upstream(void **state)
{
    (void)state;
    uint8_t h[64];
    memcpy(h, std_header, 38);
    assert_true(replay_cart_is_cart(h, 38));
    assert_false(replay_cart_is_cart(h, 37));
    assert_false(replay_cart_is_cart(NULL, 64));
    h[4] = 2;
    assert_false(replay_cart_is_cart(h, 38));
    h[4] = 1;
    h[13] = 1;
    assert_false(replay_cart_is_cart(h, 38));
    h[13] = 0;
    h[0] = 'c';
    assert_false(replay_cart_is_cart(h, 38));
}

/* ---- bad input ---- */

static void test_cart_truncation_at_every_byte_is_an_error(void **state)
{
    (void)state;
    struct mem in = {0};
    struct craft c = hello_craft(hello_footer);
    c.header = "{\"name\":\"hello.txt\"}";
    craft(&c, &in);
    for (size_t cut = 0; cut < in.len; cut++) {
        struct replay_err err = {0};
        int rc = decode_bytes(in.buf, cut, NULL, &err);
        if (rc != REPLAY_EFORMAT && rc != REPLAY_EBADKEY)
            fail_msg("cut at %zu: %s %s", cut, replay_err_name(rc), err.msg);
        assert_true(strlen(err.msg) > 0);
    }
    struct replay_err err = {0};
    assert_int_equal(decode_bytes(in.buf, in.len, NULL, &err), 0);
    size_t h = 38 + strlen(c.header);
    expect_decode_error(in.buf, 0, REPLAY_EFORMAT, "empty input");
    expect_decode_error(in.buf, 37, REPLAY_EFORMAT, "37 of the 38 header bytes");
    expect_decode_error(in.buf, 38, REPLAY_EFORMAT, "0 of the 20 optional header bytes");
    expect_decode_error(in.buf, h, REPLAY_EFORMAT, "ends inside the compressed data");
    expect_decode_error(in.buf, h + 21, REPLAY_EFORMAT, "0 of the 28 trailer bytes");
    expect_decode_error(in.buf, h + 21 + 10, REPLAY_EFORMAT, "10 of the 28 trailer bytes");
    expect_decode_error(in.buf, in.len - 28, REPLAY_EFORMAT, "no TRAC trailer");
    expect_decode_error(in.buf, in.len - 1, REPLAY_EFORMAT, "no TRAC trailer");
    mem_free(&in);
}

static void test_cart_wrong_magic_version_or_reserved_is_refused(void **state)
{
    (void)state;
    struct mem in = {0};
    struct craft c = hello_craft(hello_footer);
    craft(&c, &in);
    in.buf[0] = 'X';
    expect_decode_error(in.buf, in.len, REPLAY_EFORMAT, "not a CaRT file");
    in.buf[0] = 'C';
    in.buf[4] = 2;
    expect_decode_error(in.buf, in.len, REPLAY_EFORMAT, "unsupported CaRT version 2");
    in.buf[4] = 0xff;
    in.buf[5] = 0xff;
    expect_decode_error(in.buf, in.len, REPLAY_EFORMAT, "version -1");
    in.buf[4] = 1;
    in.buf[5] = 0;
    in.buf[9] = 1;
    expect_decode_error(in.buf, in.len, REPLAY_EFORMAT, "reserved field");
    in.buf[9] = 0;
    in.buf[in.len - 20] = 1; /* trailer reserved */
    expect_decode_error(in.buf, in.len, REPLAY_EFORMAT, "trailer reserved field");
    mem_free(&in);
}

static void test_cart_footer_offsets_that_do_not_fit_are_refused(void **state)
{
    (void)state;
    static const struct { uint64_t pos, len; const char *needle; } cases[] = {
        {1ull << 40, UINT64_MAX, "trailer puts the footer at offset 1099511627776"},
        {0, UINT64_MAX, "trailer puts the footer at offset 0"},
        {58, UINT64_MAX, "the compressed data ends at 59"},
        {UINT64_MAX - 1, UINT64_MAX, "at offset 18446744073709551614"},
        {UINT64_MAX, 181, "footer of 181 bytes, the file has 182"},
        {UINT64_MAX, 1ull << 62, "footer of 4611686018427387904 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mem in = {0};
        struct craft c = hello_craft(hello_footer);
        c.trailer_pos = cases[i].pos;
        c.trailer_len = cases[i].len;
        craft(&c, &in);
        expect_decode_error(in.buf, in.len, REPLAY_EFORMAT, cases[i].needle);
        mem_free(&in);
    }
}

static void test_cart_corrupt_deflate_is_refused(void **state)
{
    (void)state;
    uint8_t z[sizeof(hello_zlib)];
    static const struct { size_t at; uint8_t xor; const char *needle; } cases[] = {
        {2, 0x04, "(invalid block)"},        /* block type 3: invalid */
        {17, 0x01, "Adler-32"},              /* checksum */
        {1, 0x01, "does not decrypt"},       /* zlib header check fails: wrong key? */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(z, hello_zlib, sizeof(z));
        z[cases[i].at] ^= cases[i].xor;
        struct mem in = {0};
        struct craft c = hello_craft(hello_footer);
        c.zdata = z;
        craft(&c, &in);
        expect_decode_error(in.buf, in.len, i == 2 ? REPLAY_EBADKEY : REPLAY_EFORMAT,
                            cases[i].needle);
        mem_free(&in);
    }
    /* extra bytes between the zlib stream and the footer */
    uint8_t longer[sizeof(hello_zlib) + 3];
    memcpy(longer, hello_zlib, sizeof(hello_zlib));
    memcpy(longer + sizeof(hello_zlib), "abc", 3);
    struct mem in = {0};
    struct craft c = hello_craft(hello_footer);
    c.zdata = longer;
    c.zlen = sizeof(longer);
    craft(&c, &in);
    expect_decode_error(in.buf, in.len, REPLAY_EFORMAT, "the compressed data ends at 59");
    mem_free(&in);
}

static void test_cart_lying_length_and_digest_mismatch_are_integrity_errors(void **state)
{
    (void)state;
    static const struct { const char *footer; int code; const char *needle; } cases[] = {
        {"{\"length\":\"14\"}", REPLAY_EINTEGRITY, "length mismatch: footer says 14 bytes, data has 13"},
        {"{\"length\":12}", REPLAY_EINTEGRITY, "footer says 12 bytes"},
        {"{\"length\":\"-1\"}", REPLAY_EFORMAT, "not a decimal number"},
        {"{\"length\":\"99999999999999999999999\"}", REPLAY_EFORMAT, "not a decimal number"},
        {"{\"length\":[13]}", REPLAY_EFORMAT, "not a decimal number"},
        {"{\"md5\":\"6cd3556deb0da54bca060b4c39479830\"}", REPLAY_EINTEGRITY, "md5 mismatch"},
        {"{\"sha1\":\"943a702d06f34599aee1f8da8ef9f7296031d690\"}", REPLAY_EINTEGRITY, "sha1 mismatch"},
        {"{\"sha256\":\"315f5bdb76d078c43b8ac0064e4a0164612b1fce77c869345bfc94c75894edd4\"}",
         REPLAY_EINTEGRITY, "sha256 mismatch"},
        {"{\"sha256\":7}", REPLAY_EFORMAT, "sha256 is not a string"},
        {"{\"md5\":\"a\\nb\"}", REPLAY_EINTEGRITY, "md5 mismatch: footer says (not a digest)"},
        {"[\"not an object\"]", REPLAY_EFORMAT, "footer is not a JSON object"},
        {"{\"length\":\"13\"", REPLAY_EFORMAT, "footer is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mem in = {0};
        struct craft c = hello_craft(cases[i].footer);
        craft(&c, &in);
        expect_decode_error(in.buf, in.len, cases[i].code, cases[i].needle);
        mem_free(&in);
    }
}

static void test_cart_footer_variants_upstream_allows_are_accepted(void **state)
{
    (void)state;
    static const char *const footers[] = {
        NULL, /* no footer at all (a caller without digesters) */
        "{}",
        "{\"sha256\":\"315F5BDB76D078C43B8AC0064E4A0164612B1FCE77C869345BFC94C75894EDD3\","
        "\"length\":13,\"extra\":{\"x\":[1]}}",
    };
    for (size_t i = 0; i < 3; i++) {
        struct mem in = {0};
        struct craft c = hello_craft(footers[i]);
        craft(&c, &in);
        struct replay_err err = {0};
        assert_int_equal(decode_bytes(in.buf, in.len, NULL, &err), 0);
        struct replay_cart_dec_opts strict = {.require_digests = true};
        struct replay_err e2 = {0};
        assert_int_equal(decode_bytes(in.buf, in.len, &strict, &e2), REPLAY_EINTEGRITY);
        assert_non_null(strstr(e2.msg, "CaRT footer has no"));
        mem_free(&in);
    }
}

static void test_cart_header_length_of_4_gib_is_refused(void **state)
{
    (void)state;
    struct mem in = {0};
    struct craft c = hello_craft(hello_footer);
    c.header_len = 1ull << 32;
    craft(&c, &in);
    expect_decode_error(in.buf, in.len, REPLAY_ETOOBIG,
                        "optional header length 4294967296 is over the 1048576-byte limit");
    mem_free(&in);
    c.header_len = 1000; /* longer than the file */
    craft(&c, &in);
    expect_decode_error(in.buf, in.len, REPLAY_EFORMAT, "of the 1000 optional header bytes");
    mem_free(&in);
}

static void test_cart_header_that_is_not_json_is_a_key_error(void **state)
{
    (void)state;
    struct mem in = {0};
    struct craft c = hello_craft(hello_footer);
    c.header = "{\"name\": oops}";
    craft(&c, &in);
    expect_decode_error(in.buf, in.len, REPLAY_EBADKEY, "optional header does not decrypt");
    mem_free(&in);
    c.header = "[1, 2]";
    craft(&c, &in);
    expect_decode_error(in.buf, in.len, REPLAY_EBADKEY, "optional header");
    mem_free(&in);
}

static void test_cart_trailing_bytes_after_the_trailer_are_refused(void **state)
{
    (void)state;
    struct mem in = {0};
    struct craft c = hello_craft(hello_footer);
    craft(&c, &in);
    mem_put(&in, "junk", 4);
    expect_decode_error(in.buf, in.len, REPLAY_EFORMAT, "no TRAC trailer");
    /* a tail longer than footer cap + trailer */
    size_t big = REPLAY_CART_META_MAX + 100;
    uint8_t *junk = calloc(1, big);
    mem_put(&in, junk, big);
    free(junk);
    expect_decode_error(in.buf, in.len, REPLAY_EFORMAT, "follow the compressed data");
    mem_free(&in);
}

static void test_cart_callback_errors_and_cancel_stop_the_stream(void **state)
{
    (void)state;
    struct mem sink = {.fail_at = 2};
    struct replay_err err = {0};
    assert_int_equal(pack(NULL, "abc", 3, 3, &sink, &err), REPLAY_EIO);
    assert_string_equal(err.msg, "test sink refuses");
    mem_free(&sink);
    struct mem in = {0};
    struct craft c = hello_craft(hello_footer);
    craft(&c, &in);
    in.fail_at = 2;
    struct replay_err e2 = {0};
    assert_int_equal(unpack(NULL, &in, 64, NULL, NULL, NULL, &e2), REPLAY_EIO);
    assert_string_equal(e2.msg, "test source refuses");
    struct replay_cancel *cancel = replay_cancel_new();
    replay_cancel_request(cancel);
    struct replay_cart_enc_opts eo = {.cancel = cancel};
    struct replay_err e3 = {0};
    assert_int_equal(pack(&eo, "abc", 3, 3, &sink, &e3), REPLAY_ECANCELED);
    mem_free(&sink);
    in.fail_at = 0;
    in.pos = 0;
    struct replay_cart_dec_opts dopts = {.cancel = cancel};
    struct replay_err e4 = {0};
    assert_int_equal(unpack(&dopts, &in, 64, NULL, NULL, NULL, &e4), REPLAY_ECANCELED);
    replay_cancel_free(cancel);
    mem_free(&in);
}

/* ---- fd helpers ---- */

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cart.XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int count_entries(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int open_bytes(const void *buf, size_t len)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/in.XXXXXX", tmpdir);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static void test_cart_files_appear_only_when_complete(void **state)
{
    (void)state;
    char packed[128], unpacked[128];
    snprintf(packed, sizeof(packed), "%s/out.cart", tmpdir);
    snprintf(unpacked, sizeof(unpacked), "%s/out", tmpdir);
    int in = open_bytes("Hello, world!", 13);
    struct replay_cart_digests dg;
    struct replay_err err = {0};
    assert_int_equal(replay_cart_pack_file(in, packed, NULL, REPLAY_CART_F_FSYNC, &dg, &err), 0);
    assert_int_equal(dg.cart_size, 269);
    assert_string_equal(dg.sha1, "943a702d06f34599aee1f8da8ef9f7296031d699");
    lseek(in, 0, SEEK_SET);
    assert_int_equal(replay_cart_pack_file(in, packed, NULL, 0, NULL, &err), REPLAY_EEXIST);
    assert_non_null(strstr(err.msg, "already exists"));
    assert_int_equal(count_entries(), 1);
    close(in);
    in = open(packed, O_RDONLY);
    struct replay_err e2 = {0};
    assert_int_equal(replay_cart_unpack_file(in, unpacked, NULL, 0, &dg, &e2), 0);
    assert_int_equal(dg.length, 13);
    close(in);
    /* a corrupt CaRT leaves nothing behind */
    struct mem bad = {0};
    struct craft c = hello_craft("{\"length\":\"14\"}");
    craft(&c, &bad);
    in = open_bytes(bad.buf, bad.len);
    struct replay_err e3 = {0};
    assert_int_equal(replay_cart_unpack_file(in, unpacked, NULL, REPLAY_CART_F_OVERWRITE, NULL, &e3),
                     REPLAY_EINTEGRITY);
    assert_int_equal(count_entries(), 2);
    struct stat st;
    assert_int_equal(stat(unpacked, &st), 0);
    assert_int_equal(st.st_size, 13); /* the old output is untouched */
    close(in);
    mem_free(&bad);
    char nowhere[128];
    snprintf(nowhere, sizeof(nowhere), "%s/missing/out", tmpdir);
    in = open_bytes("x", 1);
    struct replay_err e4 = {0};
    assert_int_equal(replay_cart_pack_file(in, nowhere, NULL, 0, NULL, &e4), REPLAY_EIO);
    assert_non_null(strstr(e4.msg, "temporary file beside"));
    close(in);
    unlink(packed);
    unlink(unpacked);
}

static void test_cart_nested_carts_are_refused_when_asked(void **state)
{
    (void)state;
    struct mem cart = {0};
    struct craft c = hello_craft(hello_footer);
    craft(&c, &cart);
    int in = open_bytes(cart.buf, cart.len);
    char path[128];
    snprintf(path, sizeof(path), "%s/nested.cart", tmpdir);
    struct replay_err err = {0};
    assert_int_equal(replay_cart_pack_file(in, path, NULL, REPLAY_CART_F_NO_NESTED, NULL, &err),
                     REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "already is a CaRT"));
    assert_int_equal(count_entries(), 0);
    lseek(in, 0, SEEK_SET);
    assert_int_equal(replay_cart_pack_file(in, path, NULL, 0, NULL, &err), 0);
    close(in);
    in = open(path, O_RDONLY);
    char out[128];
    snprintf(out, sizeof(out), "%s/inner", tmpdir);
    struct replay_err e2 = {0};
    assert_int_equal(replay_cart_unpack_file(in, out, NULL, REPLAY_CART_F_NO_NESTED, NULL, &e2),
                     REPLAY_EFORMAT);
    assert_non_null(strstr(e2.msg, "holds another CaRT"));
    assert_int_equal(count_entries(), 1);
    close(in);
    unlink(path);
    mem_free(&cart);
}

static void test_cart_info_and_verify_read_metadata(void **state)
{
    (void)state;
    struct mem cart = {0};
    struct craft c = hello_craft(hello_footer);
    c.header = "{\"name\":\"hello.txt\"}";
    craft(&c, &cart);
    int fd = open_bytes(cart.buf, cart.len);
    char *h = NULL, *f = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_cart_info_fd(fd, NULL, &h, &f, &err), 0);
    assert_string_equal(h, "{\"name\":\"hello.txt\"}");
    assert_string_equal(f, hello_footer);
    free(h);
    free(f);
    struct replay_cart_digests dg;
    assert_int_equal(replay_cart_verify_fd(fd, NULL, &dg, &h, &f, &err), 0);
    assert_string_equal(dg.md5, "6cd3556deb0da54bca060b4c39479839");
    assert_string_equal(h, "{\"name\":\"hello.txt\"}");
    free(h);
    free(f);
    close(fd);
    /* info checks the trailer against the size */
    cart.buf[cart.len - 16] ^= 0x40;
    fd = open_bytes(cart.buf, cart.len);
    struct replay_err e2 = {0};
    assert_int_equal(replay_cart_info_fd(fd, NULL, &h, &f, &e2), REPLAY_EFORMAT);
    assert_null(h);
    assert_non_null(strstr(e2.msg, "do not fit a file of"));
    close(fd);
    fd = open_bytes(cart.buf, 40);
    struct replay_err e3 = {0};
    assert_int_equal(replay_cart_info_fd(fd, NULL, &h, &f, &e3), REPLAY_EFORMAT);
    assert_non_null(strstr(e3.msg, "too short"));
    close(fd);
    fd = open_bytes("", 0);
    struct replay_err e4 = {0};
    assert_int_equal(replay_cart_info_fd(fd, NULL, &h, &f, &e4), REPLAY_EFORMAT);
    assert_non_null(strstr(e4.msg, "empty input"));
    close(fd);
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct replay_err e5 = {0};
    assert_int_equal(replay_cart_info_fd(p[0], NULL, &h, &f, &e5), REPLAY_EINVAL);
    close(p[0]);
    close(p[1]);
    /* verify: a digest mismatch returns nothing */
    mem_free(&cart);
    struct craft bad = hello_craft("{\"md5\":\"00\"}");
    craft(&bad, &cart);
    fd = open_bytes(cart.buf, cart.len);
    struct replay_err e6 = {0};
    assert_int_equal(replay_cart_verify_fd(fd, NULL, NULL, &h, &f, &e6), REPLAY_EINTEGRITY);
    assert_null(h);
    assert_null(f);
    close(fd);
    mem_free(&cart);
}

static void test_cart_pipes_work_for_pack_and_unpack(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/pipe.cart", tmpdir);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open_bytes("Hello, world!", 13);
    struct replay_err err = {0};
    assert_int_equal(replay_cart_pack_fd(in, out, NULL, 0, NULL, &err), 0);
    close(in);
    close(out);
    in = open(path, O_RDONLY);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(replay_cart_unpack_fd(in, p[1], NULL, 0, NULL, &err), 0);
    close(p[1]);
    char buf[32] = {0};
    assert_int_equal(read(p[0], buf, sizeof(buf)), 13);
    assert_string_equal(buf, "Hello, world!");
    close(p[0]);
    close(in);
    unlink(path);
}

/* Random data (stored deflate blocks): a container over 4 GiB, so the footer
 * offset, the length and pread() offsets all pass 2^32. Run by the `slow` ctest
 * cart_over_4gib (REPLAY_CART_OVER_4GIB=1), not by unit.cart. */
static void fill_random(uint8_t *buf, size_t len, uint64_t *x)
{
    for (size_t i = 0; i + 8 <= len; i += 8) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        memcpy(buf + i, x, 8);
    }
}

static void test_cart_over_4_gib_round_trips_with_64_bit_offsets(void **state)
{
    (void)state;
    const uint64_t total = (4ull << 30) + (1u << 20) + 8;
    enum { BLK = 1 << 20 };
    FILE *f = tmpfile();
    uint8_t *blk = malloc(BLK), *back = malloc(BLK);
    struct replay_err err = {0};
    struct replay_cart_enc_opts eo = {.mode = REPLAY_CART_FAST};
    struct replay_cart_enc *e = NULL;
    assert_int_equal(replay_cart_enc_new(&eo, file_write, f, &e, &err), 0);
    uint64_t x = 88172645463325252ull;
    for (uint64_t off = 0; off < total; off += BLK) {
        size_t n = total - off < BLK ? (size_t)(total - off) : BLK;
        fill_random(blk, n, &x);
        assert_int_equal(replay_cart_enc_write(e, blk, n, &err), 0);
    }
    assert_int_equal(replay_cart_enc_finish(e, &err), 0);
    replay_cart_enc_free(e);
    assert_int_equal(fflush(f), 0);
    assert_true((uint64_t)ftello(f) > (4ull << 30) + (1u << 20));
    char *h = NULL, *foot = NULL;
    assert_int_equal(replay_cart_info_fd(fileno(f), NULL, &h, &foot, &err), 0);
    assert_non_null(strstr(foot, "\"length\":\"4296015880\""));
    free(h);
    free(foot);
    rewind(f);
    struct replay_cart_dec *d = NULL;
    assert_int_equal(replay_cart_dec_new(NULL, file_read, f, &d, &err), 0);
    x = 88172645463325252ull;
    for (uint64_t off = 0; off < total; off += BLK) {
        size_t n = total - off < BLK ? (size_t)(total - off) : BLK, have = 0, got = 0;
        fill_random(blk, n, &x);
        while (have < n) {
            assert_int_equal(replay_cart_dec_read(d, back + have, n - have, &got, &err), 0);
            have += got;
        }
        assert_memory_equal(back, blk, n);
    }
    assert_int_equal(replay_cart_dec_finish(d, &err), 0);
    struct replay_cart_digests dg;
    assert_int_equal(replay_cart_dec_digests(d, &dg, &err), 0);
    assert_int_equal(dg.length, total);
    replay_cart_dec_free(d);
    fclose(f);
    free(blk);
    free(back);
}

int main(void)
{
    if (getenv("REPLAY_CART_OVER_4GIB") != NULL) {
        const struct CMUnitTest slow[] = {
            cmocka_unit_test(test_cart_over_4_gib_round_trips_with_64_bit_offsets),
        };
        return cmocka_run_group_tests(slow, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cart_rc4_matches_the_keystream_vectors),
        cmocka_unit_test(test_cart_pack_hello_world_is_byte_identical_to_upstream),
        cmocka_unit_test(test_cart_pack_empty_input_is_byte_identical_to_upstream),
        cmocka_unit_test(test_cart_unpack_worked_examples_gives_data_and_metadata),
        cmocka_unit_test(test_cart_round_trips_at_block_boundaries),
        cmocka_unit_test(test_cart_round_trips_100_mib_in_both_modes),
        cmocka_unit_test(test_cart_data_part_is_a_plain_zlib_stream_in_both_modes),
        cmocka_unit_test(test_cart_header_metadata_is_reserialised_sorted_compact_ascii),
        cmocka_unit_test(test_cart_bundle_header_for_al_sim_matches_upstream_bytes),
        cmocka_unit_test(test_cart_custom_key_zeroes_the_header_field_and_is_needed_to_read),
        cmocka_unit_test(test_cart_bad_options_are_refused),
        cmocka_unit_test(test_cart_free_null_and_misuse_are_harmless),
        cmocka_unit_test(test_cart_is_cart_follows_upstream),
        cmocka_unit_test(test_cart_truncation_at_every_byte_is_an_error),
        cmocka_unit_test(test_cart_wrong_magic_version_or_reserved_is_refused),
        cmocka_unit_test(test_cart_footer_offsets_that_do_not_fit_are_refused),
        cmocka_unit_test(test_cart_corrupt_deflate_is_refused),
        cmocka_unit_test(test_cart_lying_length_and_digest_mismatch_are_integrity_errors),
        cmocka_unit_test(test_cart_footer_variants_upstream_allows_are_accepted),
        cmocka_unit_test(test_cart_header_length_of_4_gib_is_refused),
        cmocka_unit_test(test_cart_header_that_is_not_json_is_a_key_error),
        cmocka_unit_test(test_cart_trailing_bytes_after_the_trailer_are_refused),
        cmocka_unit_test(test_cart_callback_errors_and_cancel_stop_the_stream),
        cmocka_unit_test_setup_teardown(test_cart_files_appear_only_when_complete, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_cart_nested_carts_are_refused_when_asked, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_cart_info_and_verify_read_metadata, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_cart_pipes_work_for_pack_and_unpack, setup_dir,
                                        teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
