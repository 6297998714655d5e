/*
 * cart: the CaRT container (formats.md §1). Encoder: zlib (byte-identical mode) or
 * ISA-L (fast mode) deflate, RC4, digests on a helper thread. Decoder: ISA-L
 * inflate (reads any valid zlib stream), strict offsets, footer digests checked.
 * The fd helpers at the end do the only I/O of the module.
 */
#include "replay/cart.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isa-l/igzip_lib.h>
#include <jansson.h>
#include <zlib.h>

#include "cart_int.h"
#include "pyjson_int.h"
#include "replay/atomicfile.h"

#define OBUF_SIZE (64 * 1024)        /* encoder: compressed bytes per write */
#define IBUF_SIZE (64 * 1024)        /* decoder: container bytes per read */
#define CHUNK_SIZE (1024 * 1024)     /* encoder: data bytes between cancel checks */
#define TAIL_MAX (REPLAY_CART_META_MAX + REPLAY_CART_TRAILER_LEN)
#define PREV_KEEP 16                 /* raw bytes kept from the previous input block */

const uint8_t replay_cart_default_key[16] = {3, 1, 4, 1, 5, 9, 2, 6, 3, 1, 4, 1, 5, 9, 2, 6};

/* ---- little-endian fields and the two fixed parts ---- */

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

struct cart_header {
    uint8_t key[16];
    uint64_t opt_header_len;
};

struct cart_trailer {
    uint64_t footer_pos;
    uint64_t footer_len;
};

bool replay_cart_is_cart(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    if (buf == NULL || len < REPLAY_CART_HEADER_LEN)
        return false;
    return memcmp(p, "CART", 4) == 0 && p[4] == 1 && p[5] == 0 && get_le64(p + 6) == 0;
}

static int parse_header(const uint8_t *p, struct cart_header *h, struct replay_err *err)
{
    if (memcmp(p, "CART", 4) != 0)
        return replay_err_set(err, REPLAY_EFORMAT, "not a CaRT file (no CART magic)");
    int version = (int16_t)(p[4] | (p[5] << 8));
    if (version != 1)
        return replay_err_set(err, REPLAY_EFORMAT, "unsupported CaRT version %d (only 1 exists)",
                              version);
    if (get_le64(p + 6) != 0)
        return replay_err_set(err, REPLAY_EFORMAT, "CaRT header reserved field is not zero");
    memcpy(h->key, p + 14, 16);
    h->opt_header_len = get_le64(p + 30);
    if (h->opt_header_len > REPLAY_CART_META_MAX)
        return replay_err_set(err, REPLAY_ETOOBIG,
                              "optional header length %" PRIu64 " is over the %d-byte limit",
                              h->opt_header_len, REPLAY_CART_META_MAX);
    return 0;
}

static int parse_trailer(const uint8_t *p, struct cart_trailer *t, struct replay_err *err)
{
    if (memcmp(p, "TRAC", 4) != 0)
        return replay_err_set(err, REPLAY_EFORMAT,
                              "no TRAC trailer at the end (truncated or corrupt CaRT)");
    if (get_le64(p + 4) != 0)
        return replay_err_set(err, REPLAY_EFORMAT, "CaRT trailer reserved field is not zero");
    t->footer_pos = get_le64(p + 12);
    t->footer_len = get_le64(p + 20);
    return 0;
}

/* ---- keys and metadata JSON ---- */

static int check_key(const uint8_t *key, size_t len, struct replay_err *err)
{
    if (key != NULL && (len < REPLAY_CART_KEY_MIN || len > REPLAY_CART_KEY_MAX))
        return replay_err_set(err, REPLAY_EINVAL, "CaRT key of %zu bytes: it must have %d to %d",
                              len, REPLAY_CART_KEY_MIN, REPLAY_CART_KEY_MAX);
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

/* Parses caller JSON text that must be an object. *out is a new reference. */
static int parse_object_text(const char *text, const char *what, json_t **out,
                             struct replay_err *err)
{
    json_error_t jerr;
    *out = NULL;
    if (text == NULL || text[0] == '\0') {
        *out = json_object();
        return *out != NULL ? 0 : replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    }
    json_t *v = json_loads(text, 0, &jerr);
    if (v == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "%s is not valid JSON: %s (line %d column %d)",
                              what, jerr.text, jerr.line, jerr.column);
    if (!json_is_object(v)) {
        json_decref(v);
        return replay_err_set(err, REPLAY_EINVAL, "%s must be a JSON object", what);
    }
    *out = v;
    return 0;
}

/* Serialises an object as upstream does (sorted keys, compact, ASCII). */
static int serialise_meta(const json_t *obj, const char *what, char **out, size_t *len,
                          struct replay_err *err)
{
    *out = replay__pyjson_dumps(obj, REPLAY__PYJSON_SORT_KEYS | REPLAY__PYJSON_COMPACT, len);
    if (*out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "%s cannot be serialised (invalid UTF-8, "
                              "too deep, or out of memory)", what);
    if (*len > REPLAY_CART_META_MAX) {
        free(*out);
        *out = NULL;
        return replay_err_set(err, REPLAY_ETOOBIG, "%s of %zu bytes is over the %d-byte limit",
                              what, *len, REPLAY_CART_META_MAX);
    }
    return 0;
}

/* Decrypts `len` bytes of part 2 or 4 in place (fresh keystream) and checks they
 * are a JSON object. Returns a malloc'd NUL-terminated copy of the text in *text
 * ("{}" when len is 0) and the parsed object in *obj (if obj is not NULL). */
/* Why decrypted metadata is not a JSON object, in words that quote none of it. */
static const char *meta_problem(const json_t *v, const json_error_t *jerr)
{
    if (v != NULL)
        return "not a JSON object";
    switch (json_error_code(jerr)) {
    case json_error_invalid_utf8:
        return "not valid UTF-8";
    case json_error_stack_overflow:
        return "nested too deep";
    case json_error_out_of_memory:
        return "out of memory";
    default:
        return "not JSON";
    }
}

/* Decrypts metadata in place and checks it is a JSON object: its text into *text
 * (and the object into *obj when not NULL). REPLAY_EFORMAT with the reason in
 * *why (static) when it is not. */
static int decrypt_meta(const uint8_t *key, size_t key_len, uint8_t *buf, size_t len,
                        char **text, json_t **obj, const char **why)
{
    json_error_t jerr;
    *text = NULL;
    *why = NULL;
    if (obj != NULL)
        *obj = NULL;
    struct replay__rc4 rc4;
    replay__rc4_init(&rc4, key, key_len);
    replay__rc4_xor(&rc4, buf, buf, len);
    json_t *v = len == 0 ? json_object() : json_loadb((const char *)buf, len, 0, &jerr);
    if (v == NULL || !json_is_object(v)) {
        *why = meta_problem(v, &jerr);
        json_decref(v);
        return REPLAY_EFORMAT;
    }
    *text = len == 0 ? strdup("{}") : strndup((const char *)buf, len);
    if (*text == NULL) {
        json_decref(v);
        return REPLAY_ENOMEM;
    }
    if (obj != NULL)
        *obj = v;
    else
        json_decref(v);
    return 0;
}

/* ---- encoder ---- */

enum enc_state { ENC_NEW, ENC_DATA, ENC_DONE, ENC_FAILED };

struct replay_cart_enc {
    replay_cart_write_fn write;
    void *ctx;
    uint8_t key[REPLAY_CART_KEY_MAX];
    size_t key_len;
    bool custom_key;
    char *header; /* serialised optional header, NULL when there is none */
    size_t header_len;
    json_t *footer; /* caller's extra footer entries */
    enum replay_cart_mode mode;
    const struct replay_cancel *cancel;
    enum enc_state state;
    bool threaded;
    struct replay__keystream *ks; /* data part */
    z_stream z;
    bool z_ready;
    struct isal_zstream *isal;
    uint8_t *isal_level_buf;
    struct replay__digest *digest;
    uint8_t *obuf;
    uint64_t pos; /* container bytes written */
    struct replay_cart_digests sums;
};

static int enc_emit(struct replay_cart_enc *e, const void *buf, size_t len,
                    struct replay_err *err)
{
    if (len == 0)
        return 0;
    int rc = e->write(e->ctx, buf, len, err);
    if (rc != 0)
        return rc < 0 ? rc : replay_err_set(err, REPLAY_EIO, "CaRT output: write failed");
    e->pos += len;
    return 0;
}

/* Data part: the keystream runs on across calls. */
static int enc_emit_crypt(struct replay_cart_enc *e, uint8_t *buf, size_t len,
                          struct replay_err *err)
{
    replay__keystream_xor(e->ks, buf, buf, len);
    return enc_emit(e, buf, len, err);
}

/* Header and footer: each with a fresh keystream. */
static int enc_emit_meta(struct replay_cart_enc *e, uint8_t *buf, size_t len,
                         struct replay_err *err)
{
    struct replay__rc4 rc4;
    replay__rc4_init(&rc4, e->key, e->key_len);
    replay__rc4_xor(&rc4, buf, buf, len);
    return enc_emit(e, buf, len, err);
}

static int enc_setup_deflate(struct replay_cart_enc *e, struct replay_err *err)
{
    if (e->mode == REPLAY_CART_COMPAT) {
        /* Python's compressobj(Z_BEST_SPEED): wbits 15, memLevel 8, default strategy. */
        if (deflateInit2(&e->z, Z_BEST_SPEED, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return replay_err_set(err, REPLAY_ENOMEM, "CaRT encoder: deflateInit2 failed");
        e->z_ready = true;
        return 0;
    }
    e->isal = calloc(1, sizeof(*e->isal));
    e->isal_level_buf = malloc(ISAL_DEF_LVL1_DEFAULT);
    if (e->isal == NULL || e->isal_level_buf == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "CaRT encoder: out of memory");
    isal_deflate_init(e->isal);
    e->isal->level = 1;
    e->isal->level_buf = e->isal_level_buf;
    e->isal->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    e->isal->gzip_flag = IGZIP_ZLIB;
    e->isal->flush = NO_FLUSH;
    return 0;
}

static int enc_set_key(struct replay_cart_enc *e, const struct replay_cart_enc_opts *o,
                       struct replay_err *err)
{
    int rc = check_key(o->key, o->key_len, err);
    if (rc != 0)
        return rc;
    e->custom_key = o->key != NULL;
    e->key_len = e->custom_key ? o->key_len : sizeof(replay_cart_default_key);
    memcpy(e->key, e->custom_key ? o->key : replay_cart_default_key, e->key_len);
    return 0;
}

static int enc_set_meta(struct replay_cart_enc *e, const struct replay_cart_enc_opts *o,
                        struct replay_err *err)
{
    json_t *hdr = NULL;
    int rc = parse_object_text(o->header_json, "CaRT header metadata", &hdr, err);
    if (rc == 0 && json_object_size(hdr) > 0)
        rc = serialise_meta(hdr, "CaRT header metadata", &e->header, &e->header_len, err);
    json_decref(hdr);
    if (rc == 0)
        rc = parse_object_text(o->footer_json, "CaRT footer metadata", &e->footer, err);
    if (rc == 0) {
        /* Fail now rather than at the end of a long stream. */
        char *probe = NULL;
        size_t len = 0;
        rc = serialise_meta(e->footer, "CaRT footer metadata", &probe, &len, err);
        free(probe);
        if (rc == 0 && len + 256 > REPLAY_CART_META_MAX)
            rc = replay_err_set(err, REPLAY_ETOOBIG, "CaRT footer metadata of %zu bytes leaves "
                                "no room for the digests", len);
    }
    return rc;
}

int replay_cart_enc_new(const struct replay_cart_enc_opts *opts, replay_cart_write_fn write,
                        void *ctx, struct replay_cart_enc **out, struct replay_err *err)
{
    static const struct replay_cart_enc_opts defaults = {0};
    const struct replay_cart_enc_opts *o = opts != NULL ? opts : &defaults;
    *out = NULL;
    if (write == NULL || (o->mode != REPLAY_CART_COMPAT && o->mode != REPLAY_CART_FAST))
        return replay_err_set(err, REPLAY_EINVAL, "CaRT encoder: no write callback or bad mode");
    struct replay_cart_enc *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "CaRT encoder: out of memory");
    e->write = write;
    e->ctx = ctx;
    e->mode = o->mode;
    e->cancel = o->cancel;
    e->threaded = o->threads != 1 && replay__digest_threads_pay();
    int rc = enc_set_key(e, o, err);
    if (rc == 0)
        rc = enc_set_meta(e, o, err);
    if (rc == 0)
        rc = enc_setup_deflate(e, err);
    if (rc == 0 && (e->obuf = malloc(OBUF_SIZE)) == NULL)
        rc = replay_err_set(err, REPLAY_ENOMEM, "CaRT encoder: out of memory");
    if (rc == 0)
        rc = replay__digest_new(e->threaded, &e->digest, err);
    if (rc != 0) {
        replay_cart_enc_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

/* Mandatory header and optional header; then the data keystream starts. */
static int enc_start(struct replay_cart_enc *e, struct replay_err *err)
{
    uint8_t h[REPLAY_CART_HEADER_LEN] = {'C', 'A', 'R', 'T', 1, 0};
    if (!e->custom_key)
        memcpy(h + 14, replay_cart_default_key, 16);
    put_le64(h + 30, e->header_len);
    int rc = enc_emit(e, h, sizeof(h), err);
    if (rc == 0 && e->header_len > 0)
        rc = enc_emit_meta(e, (uint8_t *)e->header, e->header_len, err);
    if (rc == 0)
        rc = replay__keystream_new(e->key, e->key_len, e->threaded, &e->ks, err);
    e->state = ENC_DATA;
    return rc;
}

static int zlib_run(struct replay_cart_enc *e, const uint8_t *data, size_t len, bool last,
                    struct replay_err *err)
{
    e->z.next_in = (Bytef *)data;
    e->z.avail_in = (uInt)len;
    for (;;) {
        e->z.next_out = e->obuf;
        e->z.avail_out = OBUF_SIZE;
        int zr = deflate(&e->z, last ? Z_FINISH : Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            return replay_err_set(err, REPLAY_EIO, "CaRT encoder: deflate failed (%d)", zr);
        int rc = enc_emit_crypt(e, e->obuf, OBUF_SIZE - e->z.avail_out, err);
        if (rc != 0)
            return rc;
        if (last ? zr == Z_STREAM_END : e->z.avail_in == 0 && e->z.avail_out > 0)
            return 0;
    }
}

static int isal_run(struct replay_cart_enc *e, const uint8_t *data, size_t len, bool last,
                    struct replay_err *err)
{
    struct isal_zstream *s = e->isal;
    s->next_in = (uint8_t *)data;
    s->avail_in = (uint32_t)len;
    s->end_of_stream = last;
    for (;;) {
        s->next_out = e->obuf;
        s->avail_out = OBUF_SIZE;
        int ir = isal_deflate(s);
        if (ir != COMP_OK)
            return replay_err_set(err, REPLAY_EIO, "CaRT encoder: ISA-L deflate failed (%d)", ir);
        int rc = enc_emit_crypt(e, e->obuf, OBUF_SIZE - s->avail_out, err);
        if (rc != 0)
            return rc;
        bool drained = s->avail_in == 0 && s->avail_out > 0;
        if (drained && (!last || s->internal_state.state == ZSTATE_END))
            return 0;
    }
}

static int enc_compress(struct replay_cart_enc *e, const uint8_t *data, size_t len, bool last,
                        struct replay_err *err)
{
    return e->mode == REPLAY_CART_COMPAT ? zlib_run(e, data, len, last, err)
                                         : isal_run(e, data, len, last, err);
}

static int enc_ready(struct replay_cart_enc *e, struct replay_err *err)
{
    if (e == NULL || e->state == ENC_DONE || e->state == ENC_FAILED)
        return replay_err_set(err, REPLAY_EINVAL, "CaRT encoder: used after finish or failure");
    return e->state == ENC_NEW ? enc_start(e, err) : 0;
}

int replay_cart_enc_write(struct replay_cart_enc *e, const void *data, size_t len,
                          struct replay_err *err)
{
    if (data == NULL && len > 0)
        return replay_err_set(err, REPLAY_EINVAL, "CaRT encoder: NULL data");
    int rc = enc_ready(e, err);
    const uint8_t *p = data;
    while (rc == 0 && len > 0) {
        size_t n = len < CHUNK_SIZE ? len : CHUNK_SIZE;
        if (replay_cancel_requested(e->cancel))
            rc = replay_err_set(err, REPLAY_ECANCELED, "CaRT encoder: canceled");
        if (rc == 0)
            rc = replay__digest_update(e->digest, p, n, err);
        if (rc == 0)
            rc = enc_compress(e, p, n, false, err);
        p += n;
        len -= n;
        replay_progress();
    }
    if (rc != 0 && e != NULL)
        e->state = ENC_FAILED;
    return rc;
}

/* Footer = caller's entries + digests, sorted compact JSON, fresh keystream. */
static int enc_footer(struct replay_cart_enc *e, struct replay_err *err)
{
    char length[24];
    snprintf(length, sizeof(length), "%" PRIu64, e->sums.length);
    const char *names[4] = {"md5", "sha1", "sha256", "length"};
    const char *values[4] = {e->sums.md5, e->sums.sha1, e->sums.sha256, length};
    for (int i = 0; i < 4; i++) {
        if (json_object_set_new(e->footer, names[i], json_string(values[i])) != 0)
            return replay_err_set(err, REPLAY_ENOMEM, "CaRT encoder: out of memory");
    }
    char *text = NULL;
    size_t len = 0;
    int rc = serialise_meta(e->footer, "CaRT footer metadata", &text, &len, err);
    uint64_t footer_pos = e->pos;
    if (rc == 0)
        rc = enc_emit_meta(e, (uint8_t *)text, len, err);
    free(text);
    uint8_t t[REPLAY_CART_TRAILER_LEN] = {'T', 'R', 'A', 'C'};
    put_le64(t + 12, footer_pos);
    put_le64(t + 20, len);
    return rc != 0 ? rc : enc_emit(e, t, sizeof(t), err);
}

int replay_cart_enc_finish(struct replay_cart_enc *e, struct replay_err *err)
{
    int rc = enc_ready(e, err);
    if (rc == 0)
        rc = enc_compress(e, NULL, 0, true, err);
    if (rc == 0)
        rc = replay__digest_final(e->digest, &e->sums, err);
    if (rc == 0)
        rc = enc_footer(e, err);
    if (e != NULL) {
        e->sums.cart_size = e->pos;
        e->state = rc == 0 ? ENC_DONE : ENC_FAILED;
    }
    return rc;
}

int replay_cart_enc_digests(const struct replay_cart_enc *e, struct replay_cart_digests *out,
                            struct replay_err *err)
{
    if (e == NULL || out == NULL || e->state != ENC_DONE)
        return replay_err_set(err, REPLAY_EINVAL, "CaRT encoder: digests before a finished stream");
    *out = e->sums;
    return 0;
}

void replay_cart_enc_free(struct replay_cart_enc *e)
{
    if (e == NULL)
        return;
    if (e->z_ready)
        deflateEnd(&e->z);
    free(e->isal);
    free(e->isal_level_buf);
    replay__digest_free(e->digest);
    replay__keystream_free(e->ks);
    json_decref(e->footer);
    free(e->header);
    free(e->obuf);
    free(e);
}

/* ---- decoder ---- */

enum dec_state { DEC_DATA, DEC_DONE, DEC_FAILED };

struct replay_cart_dec {
    replay_cart_read_fn read;
    void *ctx;
    uint8_t key[REPLAY_CART_KEY_MAX];
    size_t key_len;
    bool key_unknown;   /* header key field zero and no key given: a custom-key file */
    bool have_header;   /* an optional header decrypted fine: the key is right */
    bool require_digests;
    const struct replay_cancel *cancel;
    enum dec_state state;
    char *header_json;
    char *footer_json;
    uint64_t data_start; /* container offset of part 3 */
    struct replay__keystream *ks; /* data part */
    struct inflate_state *inf;
    uint8_t *raw;        /* container bytes as read */
    uint8_t *plain;      /* the same, decrypted with the data keystream */
    size_t raw_len;
    uint64_t raw_start;  /* container offset of raw[0] */
    uint8_t prev[PREV_KEEP];
    size_t prev_len;
    uint8_t zhdr[2];     /* first two bytes of the zlib stream, checked by us */
    size_t zhdr_len;
    bool src_eof;
    uint64_t out_len;
    struct replay__digest *digest;
    struct replay_cart_digests sums;
};

static int dec_source(struct replay_cart_dec *d, void *buf, size_t cap, size_t *got,
                      struct replay_err *err)
{
    *got = 0;
    int rc = d->read(d->ctx, buf, cap, got, err);
    if (rc != 0)
        return rc < 0 ? rc : replay_err_set(err, REPLAY_EIO, "CaRT input: read failed");
    if (*got > cap)
        return replay_err_set(err, REPLAY_EINVAL, "CaRT input: read callback overran its buffer");
    return 0;
}

/* Reads up to n bytes, fewer only at end of input. */
static int dec_source_full(struct replay_cart_dec *d, uint8_t *buf, size_t n, size_t *got,
                           struct replay_err *err)
{
    *got = 0;
    while (*got < n) {
        size_t k = 0;
        int rc = dec_source(d, buf + *got, n - *got, &k, err);
        if (rc != 0)
            return rc;
        if (k == 0)
            break;
        *got += k;
    }
    return 0;
}

static int dec_key(struct replay_cart_dec *d, const struct replay_cart_dec_opts *o,
                   const struct cart_header *h, struct replay_err *err)
{
    int rc = check_key(o->key, o->key_len, err);
    if (rc != 0)
        return rc;
    if (o->key != NULL) {
        d->key_len = o->key_len;
        memcpy(d->key, o->key, o->key_len);
    } else {
        /* As upstream: the header's 16 bytes, even all zero. */
        d->key_len = 16;
        memcpy(d->key, h->key, 16);
        d->key_unknown = all_zero(h->key, 16);
    }
    return 0;
}

/* `why` (may be NULL): what the decrypted bytes are, for metadata. */
static int bad_key(const struct replay_cart_dec *d, const char *what, const char *why,
                   struct replay_err *err)
{
    return replay_err_set(err, REPLAY_EBADKEY, "%s does not decrypt with this key%s%s%s", what,
                          d->key_unknown ? " (the file was packed with a custom key: give it)"
                                         : " (wrong key or corrupt file)",
                          why != NULL ? ": it decrypts to what is " : "", why != NULL ? why : "");
}

static int dec_headers(struct replay_cart_dec *d, const struct replay_cart_dec_opts *o,
                       struct replay_err *err)
{
    uint8_t h[REPLAY_CART_HEADER_LEN];
    size_t got = 0;
    int rc = dec_source_full(d, h, sizeof(h), &got, err);
    if (rc != 0)
        return rc;
    if (got < sizeof(h))
        return replay_err_set(err, REPLAY_EFORMAT, got == 0 ? "empty input: not a CaRT file"
                              : "truncated CaRT: %zu of the 38 header bytes", got);
    struct cart_header hdr;
    rc = parse_header(h, &hdr, err);
    if (rc == 0)
        rc = dec_key(d, o, &hdr, err);
    if (rc != 0)
        return rc;
    uint8_t *buf = malloc(hdr.opt_header_len + 1);
    if (buf == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "CaRT decoder: out of memory");
    rc = dec_source_full(d, buf, hdr.opt_header_len, &got, err);
    if (rc == 0 && got < hdr.opt_header_len)
        rc = replay_err_set(err, REPLAY_EFORMAT, "truncated CaRT: %zu of the %" PRIu64
                            " optional header bytes", got, hdr.opt_header_len);
    if (rc == 0) {
        const char *why = NULL;
        rc = decrypt_meta(d->key, d->key_len, buf, hdr.opt_header_len, &d->header_json, NULL,
                          &why);
        if (rc == REPLAY_ENOMEM)
            rc = replay_err_set(err, rc, "CaRT decoder: out of memory");
        else if (rc != 0)
            rc = bad_key(d, "optional header", why, err);
    }
    free(buf);
    d->have_header = hdr.opt_header_len > 0;
    d->data_start = REPLAY_CART_HEADER_LEN + hdr.opt_header_len;
    d->raw_start = d->data_start;
    return rc;
}

static int dec_setup_data(struct replay_cart_dec *d, bool threaded, struct replay_err *err)
{
    d->inf = malloc(sizeof(*d->inf));
    d->raw = malloc(IBUF_SIZE);
    d->plain = malloc(IBUF_SIZE);
    if (d->inf == NULL || d->raw == NULL || d->plain == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "CaRT decoder: out of memory");
    isal_inflate_init(d->inf);
    d->inf->crc_flag = ISAL_ZLIB; /* zlib wrapper: header checked, Adler-32 verified */
    int rc = replay__keystream_new(d->key, d->key_len, threaded, &d->ks, err);
    return rc != 0 ? rc : replay__digest_new(threaded, &d->digest, err);
}

int replay_cart_dec_new(const struct replay_cart_dec_opts *opts, replay_cart_read_fn read,
                        void *ctx, struct replay_cart_dec **out, struct replay_err *err)
{
    static const struct replay_cart_dec_opts defaults = {0};
    const struct replay_cart_dec_opts *o = opts != NULL ? opts : &defaults;
    *out = NULL;
    if (read == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "CaRT decoder: no read callback");
    struct replay_cart_dec *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "CaRT decoder: out of memory");
    d->read = read;
    d->ctx = ctx;
    d->require_digests = o->require_digests;
    d->cancel = o->cancel;
    int rc = dec_headers(d, o, err);
    if (rc == 0)
        rc = dec_setup_data(d, o->threads != 1 && replay__digest_threads_pay(), err);
    if (rc != 0) {
        replay_cart_dec_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

const char *replay_cart_dec_header_json(const struct replay_cart_dec *d)
{
    return d != NULL ? d->header_json : NULL;
}

const char *replay_cart_dec_footer_json(const struct replay_cart_dec *d)
{
    return d != NULL && d->state == DEC_DONE ? d->footer_json : NULL;
}

/* RFC 1950 header: deflate, window up to 32 KiB, no preset dictionary, FCHECK
 * (ISA-L does not check FCHECK; zlib, and so upstream, does). */
static int dec_check_zlib_header(struct replay_cart_dec *d, struct replay_err *err)
{
    if (d->zhdr_len == 2)
        return 0;
    for (size_t i = 0; i < d->raw_len && d->zhdr_len < 2; i++)
        d->zhdr[d->zhdr_len++] = d->plain[i];
    if (d->zhdr_len < 2)
        return 0;
    unsigned cmf = d->zhdr[0], flg = d->zhdr[1];
    if ((cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0 && !(flg & 0x20))
        return 0;
    if (!d->have_header)
        return bad_key(d, "compressed data", NULL, err);
    return replay_err_set(err, REPLAY_EFORMAT, "corrupt CaRT: the data does not start with a "
                          "zlib header");
}

/* Next block of container bytes; keeps the tail of the previous one, because
 * the inflater may hold up to 8 bytes past the end of the zlib stream. */
static int dec_refill(struct replay_cart_dec *d, size_t *got, struct replay_err *err)
{
    size_t keep = d->raw_len < PREV_KEEP ? d->raw_len : PREV_KEEP;
    if (keep > 0) {
        size_t old = d->prev_len + keep > PREV_KEEP ? PREV_KEEP - keep : d->prev_len;
        memmove(d->prev, d->prev + d->prev_len - old, old);
        memcpy(d->prev + old, d->raw + d->raw_len - keep, keep);
        d->prev_len = old + keep;
    }
    d->raw_start += d->raw_len;
    d->raw_len = 0;
    int rc = dec_source(d, d->raw, IBUF_SIZE, got, err);
    if (rc != 0)
        return rc;
    d->raw_len = *got;
    replay__keystream_xor(d->ks, d->raw, d->plain, *got);
    d->inf->next_in = d->plain;
    d->inf->avail_in = (uint32_t)*got;
    replay_progress();
    return dec_check_zlib_header(d, err);
}

static int inflate_error(struct replay_cart_dec *d, int ir, struct replay_err *err)
{
    uint64_t at = d->raw_start + d->raw_len - d->inf->avail_in;
    if ((ir == ISAL_INVALID_WRAPPER || ir == ISAL_UNSUPPORTED_METHOD || ir == ISAL_NEED_DICT) &&
        d->out_len == 0 && !d->have_header)
        return bad_key(d, "compressed data", NULL, err);
    const char *why = ir == ISAL_INCORRECT_CHECKSUM ? "Adler-32 checksum mismatch"
                      : ir == ISAL_INVALID_LOOKBACK ? "distance too far back"
                      : ir == ISAL_INVALID_SYMBOL   ? "invalid code"
                      : ir == ISAL_INVALID_BLOCK    ? "invalid block"
                                                    : "bad zlib header";
    return replay_err_set(err, REPLAY_EFORMAT,
                          "corrupt CaRT: cannot decompress the data near offset %" PRIu64 " (%s)",
                          at, why);
}

/* Bytes of the container from `from` (at most PREV_KEEP before raw_start) to the
 * end of the current block, copied into dst. */
static size_t dec_leftover(const struct replay_cart_dec *d, uint64_t from, uint8_t *dst)
{
    size_t n = 0;
    if (from < d->raw_start) {
        size_t back = (size_t)(d->raw_start - from);
        memcpy(dst, d->prev + d->prev_len - back, back);
        n = back;
        from = d->raw_start;
    }
    size_t off = (size_t)(from - d->raw_start);
    memcpy(dst + n, d->raw + off, d->raw_len - off);
    return n + d->raw_len - off;
}

/* Reads the rest of the input (footer and trailer) into tail; at most TAIL_MAX. */
static int dec_read_tail(struct replay_cart_dec *d, uint64_t end, uint8_t *tail, size_t *len,
                         struct replay_err *err)
{
    *len = dec_leftover(d, end, tail);
    for (;;) {
        size_t got = 0;
        uint8_t extra[1];
        uint8_t *dst = *len < TAIL_MAX ? tail + *len : extra;
        int rc = dec_source(d, dst, *len < TAIL_MAX ? TAIL_MAX - *len : 1, &got, err);
        if (rc != 0)
            return rc;
        if (got == 0)
            return 0;
        if (dst == extra)
            return replay_err_set(err, REPLAY_EFORMAT, "corrupt CaRT: more than %d bytes follow "
                                  "the compressed data", TAIL_MAX);
        *len += got;
    }
}

static int parse_length(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0' || strlen(s) > 20)
        return -1;
    uint64_t n = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *out = n;
    return 0;
}

/* True for at most 64 hex digits: safe to quote in a one-line message. */
static bool is_hex(const char *s)
{
    size_t n = strspn(s, "0123456789abcdefABCDEF");
    return s[n] == '\0' && n <= 64;
}

/* Compares the footer's md5, sha1, sha256 and length with what the data gave. */
static int verify_footer(const struct replay_cart_dec *d, const json_t *footer,
                         struct replay_err *err)
{
    const char *names[3] = {"md5", "sha1", "sha256"};
    const char *have[3] = {d->sums.md5, d->sums.sha1, d->sums.sha256};
    for (int i = 0; i < 3; i++) {
        const json_t *v = json_object_get(footer, names[i]);
        if (v == NULL && d->require_digests)
            return replay_err_set(err, REPLAY_EINTEGRITY, "CaRT footer has no %s", names[i]);
        if (v != NULL && !json_is_string(v))
            return replay_err_set(err, REPLAY_EFORMAT, "CaRT footer %s is not a string", names[i]);
        const char *said = v != NULL ? json_string_value(v) : NULL;
        if (said != NULL && strcasecmp(said, have[i]) != 0)
            return replay_err_set(err, REPLAY_EINTEGRITY, "%s mismatch: footer says %s, data "
                                  "has %s", names[i], is_hex(said) ? said : "(not a digest)",
                                  have[i]);
    }
    const json_t *v = json_object_get(footer, "length");
    uint64_t length = 0;
    if (v == NULL && d->require_digests)
        return replay_err_set(err, REPLAY_EINTEGRITY, "CaRT footer has no length");
    if (v != NULL && parse_length(v, &length) != 0)
        return replay_err_set(err, REPLAY_EFORMAT, "CaRT footer length is not a decimal number");
    if (v != NULL && length != d->sums.length)
        return replay_err_set(err, REPLAY_EINTEGRITY, "length mismatch: footer says %" PRIu64
                              " bytes, data has %" PRIu64, length, d->sums.length);
    return 0;
}

static int check_tail(struct replay_cart_dec *d, uint64_t end, uint8_t *tail, size_t len,
                      struct replay_err *err)
{
    if (len < REPLAY_CART_TRAILER_LEN)
        return replay_err_set(err, REPLAY_EFORMAT, "truncated CaRT: %zu of the 28 trailer bytes "
                              "after the compressed data", len);
    struct cart_trailer t;
    int rc = parse_trailer(tail + len - REPLAY_CART_TRAILER_LEN, &t, err);
    if (rc != 0)
        return rc;
    size_t footer_len = len - REPLAY_CART_TRAILER_LEN;
    if (t.footer_pos != end)
        return replay_err_set(err, REPLAY_EFORMAT, "corrupt CaRT: trailer puts the footer at "
                              "offset %" PRIu64 ", the compressed data ends at %" PRIu64,
                              t.footer_pos, end);
    if (t.footer_len != footer_len)
        return replay_err_set(err, REPLAY_EFORMAT, "corrupt CaRT: trailer gives a footer of %"
                              PRIu64 " bytes, the file has %zu", t.footer_len, footer_len);
    json_t *footer = NULL;
    const char *why = NULL;
    rc = decrypt_meta(d->key, d->key_len, tail, footer_len, &d->footer_json, &footer, &why);
    if (rc == REPLAY_ENOMEM)
        return replay_err_set(err, rc, "CaRT decoder: out of memory");
    if (rc != 0)
        return replay_err_set(err, REPLAY_EFORMAT, "corrupt CaRT: the optional footer is not a "
                              "JSON object (%s)", why);
    rc = replay__digest_final(d->digest, &d->sums, err);
    d->sums.cart_size = end + len;
    if (rc == 0)
        rc = verify_footer(d, footer, err);
    json_decref(footer);
    return rc;
}

/* The zlib stream ended: locate its end exactly, then footer, trailer, digests. */
static int dec_end(struct replay_cart_dec *d, struct replay_err *err)
{
    struct inflate_state *s = d->inf;
    /* Whole bytes still in the bit buffer were read past the end (fewer than 8
     * bits are the final byte's padding). */
    if (s->read_in_length < 0 || s->read_in_length > 64)
        return replay_err_set(err, REPLAY_EFORMAT, "corrupt CaRT: cannot locate the end of the "
                              "compressed data");
    uint64_t end = d->raw_start + d->raw_len - s->avail_in - (uint64_t)s->read_in_length / 8;
    if (end < d->raw_start && d->raw_start - end > d->prev_len)
        return replay_err_set(err, REPLAY_EFORMAT, "corrupt CaRT: cannot locate the end of the "
                              "compressed data");
    uint8_t *tail = malloc(TAIL_MAX);
    if (tail == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "CaRT decoder: out of memory");
    size_t len = 0;
    int rc = dec_read_tail(d, end, tail, &len, err);
    if (rc == 0)
        rc = check_tail(d, end, tail, len, err);
    free(tail);
    return rc;
}

static int dec_inflate_some(struct replay_cart_dec *d, uint8_t *out, size_t cap, size_t *got,
                            struct replay_err *err)
{
    struct inflate_state *s = d->inf;
    if (s->avail_in == 0 && !d->src_eof) {
        size_t n = 0;
        int rc = dec_refill(d, &n, err);
        if (rc != 0)
            return rc;
        d->src_eof = n == 0;
    }
    uint32_t in_before = s->avail_in;
    s->next_out = out;
    s->avail_out = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
    int ir = isal_inflate(s);
    *got = (size_t)(s->next_out - out);
    if (ir != ISAL_DECOMP_OK)
        return inflate_error(d, ir, err);
    if (*got == 0 && s->avail_in == in_before && s->block_state != ISAL_BLOCK_FINISH)
        return replay_err_set(err, REPLAY_EFORMAT, d->src_eof
                              ? "truncated CaRT: the input ends inside the compressed data"
                              : "corrupt CaRT: the decompressor is stuck near offset %" PRIu64,
                              d->raw_start + d->raw_len - s->avail_in);
    d->out_len += *got;
    return *got > 0 ? replay__digest_update(d->digest, out, *got, err) : 0;
}

int replay_cart_dec_read(struct replay_cart_dec *d, void *out, size_t cap, size_t *got,
                         struct replay_err *err)
{
    *got = 0;
    if (d == NULL || out == NULL || cap == 0 || d->state == DEC_FAILED)
        return replay_err_set(err, REPLAY_EINVAL, "CaRT decoder: bad buffer, or used after a "
                              "failure");
    int rc = 0;
    while (rc == 0 && *got == 0 && d->state == DEC_DATA) {
        if (replay_cancel_requested(d->cancel))
            rc = replay_err_set(err, REPLAY_ECANCELED, "CaRT decoder: canceled");
        if (rc == 0)
            rc = dec_inflate_some(d, out, cap, got, err);
        if (rc == 0 && d->inf->block_state == ISAL_BLOCK_FINISH) {
            rc = dec_end(d, err);
            if (rc == 0)
                d->state = DEC_DONE;
        }
    }
    if (rc != 0) {
        d->state = DEC_FAILED;
        *got = 0;
    }
    return rc;
}

int replay_cart_dec_finish(struct replay_cart_dec *d, struct replay_err *err)
{
    if (d == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "CaRT decoder: NULL");
    uint8_t *scratch = d->state == DEC_DATA ? malloc(IBUF_SIZE) : NULL;
    if (d->state == DEC_DATA && scratch == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "CaRT decoder: out of memory");
    int rc = 0;
    size_t got = 0;
    while (rc == 0 && d->state == DEC_DATA)
        rc = replay_cart_dec_read(d, scratch, IBUF_SIZE, &got, err);
    free(scratch);
    if (rc == 0 && d->state != DEC_DONE)
        rc = replay_err_set(err, REPLAY_EINVAL, "CaRT decoder: used after a failure");
    return rc;
}

int replay_cart_dec_digests(const struct replay_cart_dec *d, struct replay_cart_digests *out,
                            struct replay_err *err)
{
    if (d == NULL || out == NULL || d->state != DEC_DONE)
        return replay_err_set(err, REPLAY_EINVAL, "CaRT decoder: digests before the end checks");
    *out = d->sums;
    return 0;
}

void replay_cart_dec_free(struct replay_cart_dec *d)
{
    if (d == NULL)
        return;
    replay__digest_free(d->digest);
    replay__keystream_free(d->ks);
    free(d->inf);
    free(d->raw);
    free(d->plain);
    free(d->header_json);
    free(d->footer_json);
    free(d);
}

/* ---- helpers on file descriptors ---- */

#define IO_SIZE (256 * 1024)

struct fd_io {
    int fd;
    const char *name; /* for messages */
};

static int fd_read(void *ctx, void *buf, size_t cap, size_t *got, struct replay_err *err)
{
    const struct fd_io *io = ctx;
    for (;;) {
        ssize_t n = read(io->fd, buf, cap);
        if (n >= 0) {
            *got = (size_t)n;
            return 0;
        }
        if (errno != EINTR)
            return replay_err_sys(err, REPLAY_EIO, errno, "read %s", io->name);
    }
}

static int fd_write(void *ctx, const void *buf, size_t len, struct replay_err *err)
{
    const struct fd_io *io = ctx;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(io->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return replay_err_sys(err, REPLAY_EIO, n < 0 ? errno : EIO, "write %s", io->name);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Fills buf from the fd: fewer than cap bytes only at end of input. */
static int fd_read_full(struct fd_io *io, uint8_t *buf, size_t cap, size_t *got,
                        struct replay_err *err)
{
    *got = 0;
    while (*got < cap) {
        size_t n = 0;
        int rc = fd_read(io, buf + *got, cap - *got, &n, err);
        if (rc != 0 || n == 0)
            return rc;
        *got += n;
    }
    return 0;
}

static int pack_loop(struct replay_cart_enc *e, struct fd_io *in, uint8_t *buf, unsigned flags,
                     struct replay_err *err)
{
    bool first = true;
    for (;;) {
        size_t n = 0;
        int rc = fd_read_full(in, buf, IO_SIZE, &n, err);
        if (rc != 0)
            return rc;
        if (first && (flags & REPLAY_CART_F_NO_NESTED) && replay_cart_is_cart(buf, n))
            return replay_err_set(err, REPLAY_EFORMAT, "the input already is a CaRT file "
                                  "(refusing to nest)");
        first = false;
        if (n == 0)
            return replay_cart_enc_finish(e, err);
        rc = replay_cart_enc_write(e, buf, n, err);
        if (rc != 0)
            return rc;
    }
}

static int pack_fd_named(int in_fd, int out_fd, const char *out_name,
                         const struct replay_cart_enc_opts *opts, unsigned flags,
                         struct replay_cart_digests *digests, struct replay_err *err)
{
    struct fd_io in = {in_fd, "input"}, out = {out_fd, out_name};
    struct replay_cart_enc *e = NULL;
    uint8_t *buf = malloc(IO_SIZE);
    int rc = buf != NULL ? 0 : replay_err_set(err, REPLAY_ENOMEM, "CaRT pack: out of memory");
    if (rc == 0)
        rc = replay_cart_enc_new(opts, fd_write, &out, &e, err);
    if (rc == 0)
        rc = pack_loop(e, &in, buf, flags, err);
    if (rc == 0 && digests != NULL)
        rc = replay_cart_enc_digests(e, digests, err);
    replay_cart_enc_free(e);
    free(buf);
    return rc;
}

int replay_cart_pack_fd(int in_fd, int out_fd, const struct replay_cart_enc_opts *opts,
                        unsigned flags, struct replay_cart_digests *digests,
                        struct replay_err *err)
{
    return pack_fd_named(in_fd, out_fd, "output", opts, flags, digests, err);
}

/* Fills buf with decoded data: fewer than cap bytes only at the (verified) end. */
static int dec_read_full(struct replay_cart_dec *d, uint8_t *buf, size_t cap, size_t *got,
                         struct replay_err *err)
{
    *got = 0;
    while (*got < cap) {
        size_t n = 0;
        int rc = replay_cart_dec_read(d, buf + *got, cap - *got, &n, err);
        if (rc != 0 || n == 0)
            return rc;
        *got += n;
    }
    return 0;
}

static int unpack_loop(struct replay_cart_dec *d, struct fd_io *out, uint8_t *buf,
                       unsigned flags, struct replay_err *err)
{
    bool first = true;
    for (;;) {
        size_t n = 0;
        int rc = dec_read_full(d, buf, IO_SIZE, &n, err);
        if (rc != 0)
            return rc;
        if (first && (flags & REPLAY_CART_F_NO_NESTED) && replay_cart_is_cart(buf, n))
            return replay_err_set(err, REPLAY_EFORMAT, "the CaRT holds another CaRT file "
                                  "(refusing to unpack a nested CaRT)");
        first = false;
        if (n == 0)
            return 0;
        rc = fd_write(out, buf, n, err);
        if (rc != 0)
            return rc;
    }
}

static int unpack_fd_named(int in_fd, int out_fd, const char *out_name,
                           const struct replay_cart_dec_opts *opts, unsigned flags,
                           struct replay_cart_digests *digests, struct replay_err *err)
{
    struct fd_io in = {in_fd, "input"}, out = {out_fd, out_name};
    struct replay_cart_dec *d = NULL;
    uint8_t *buf = malloc(IO_SIZE);
    int rc = buf != NULL ? 0 : replay_err_set(err, REPLAY_ENOMEM, "CaRT unpack: out of memory");
    if (rc == 0)
        rc = replay_cart_dec_new(opts, fd_read, &in, &d, err);
    if (rc == 0)
        rc = unpack_loop(d, &out, buf, flags, err);
    if (rc == 0 && digests != NULL)
        rc = replay_cart_dec_digests(d, digests, err);
    replay_cart_dec_free(d);
    free(buf);
    return rc;
}

int replay_cart_unpack_fd(int in_fd, int out_fd, const struct replay_cart_dec_opts *opts,
                          unsigned flags, struct replay_cart_digests *digests,
                          struct replay_err *err)
{
    return unpack_fd_named(in_fd, out_fd, "output", opts, flags, digests, err);
}

enum file_op { OP_PACK, OP_UNPACK };

/* Runs a pack or unpack into a temporary beside out_path (replay/atomicfile.h);
 * it is put in place only on success, and never over an existing file unless
 * REPLAY_CART_F_OVERWRITE. */
static int to_file(enum file_op op, int in_fd, const char *out_path, const void *opts,
                   unsigned flags, struct replay_cart_digests *digests, struct replay_err *err)
{
    struct stat st;
    if (out_path == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "no output path");
    if (!(flags & REPLAY_CART_F_OVERWRITE) && lstat(out_path, &st) == 0)
        return replay_err_set(err, REPLAY_EEXIST, "%s already exists", out_path);
    struct replay_atomicfile_opts ao = {.mode = 0666, .no_fsync = !(flags & REPLAY_CART_F_FSYNC)};
    struct replay_atomicfile *f = NULL;
    int rc = replay_atomicfile_open(out_path, &ao, &f, err);
    if (rc != 0)
        return rc;
    int fd = replay_atomicfile_fd(f);
    rc = op == OP_PACK ? pack_fd_named(in_fd, fd, out_path, opts, flags, digests, err)
                       : unpack_fd_named(in_fd, fd, out_path, opts, flags, digests, err);
    if (rc == 0)
        rc = replay_atomicfile_commit(f, (flags & REPLAY_CART_F_OVERWRITE)
                                             ? REPLAY_ATOMICFILE_REPLACE
                                             : REPLAY_ATOMICFILE_NO_REPLACE,
                                      err);
    replay_atomicfile_close(f);
    return rc;
}

int replay_cart_pack_file(int in_fd, const char *out_path, const struct replay_cart_enc_opts *opts,
                          unsigned flags, struct replay_cart_digests *digests,
                          struct replay_err *err)
{
    return to_file(OP_PACK, in_fd, out_path, opts, flags, digests, err);
}

int replay_cart_unpack_file(int in_fd, const char *out_path,
                            const struct replay_cart_dec_opts *opts, unsigned flags,
                            struct replay_cart_digests *digests, struct replay_err *err)
{
    return to_file(OP_UNPACK, in_fd, out_path, opts, flags, digests, err);
}

static int dup_or_null(const char *s, char **out, struct replay_err *err)
{
    if (out == NULL)
        return 0;
    *out = strdup(s);
    return *out != NULL ? 0 : replay_err_set(err, REPLAY_ENOMEM, "out of memory");
}

int replay_cart_verify_fd(int in_fd, const struct replay_cart_dec_opts *opts,
                          struct replay_cart_digests *digests, char **header_json,
                          char **footer_json, struct replay_err *err)
{
    struct fd_io in = {in_fd, "input"};
    struct replay_cart_dec *d = NULL;
    if (header_json != NULL)
        *header_json = NULL;
    if (footer_json != NULL)
        *footer_json = NULL;
    int rc = replay_cart_dec_new(opts, fd_read, &in, &d, err);
    if (rc == 0)
        rc = replay_cart_dec_finish(d, err);
    if (rc == 0 && digests != NULL)
        rc = replay_cart_dec_digests(d, digests, err);
    if (rc == 0)
        rc = dup_or_null(d->header_json, header_json, err);
    if (rc == 0)
        rc = dup_or_null(d->footer_json, footer_json, err);
    if (rc != 0 && header_json != NULL) {
        free(*header_json);
        *header_json = NULL;
    }
    replay_cart_dec_free(d);
    return rc;
}

static int pread_full(int fd, uint8_t *buf, size_t n, uint64_t off, const char *what,
                      struct replay_err *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return replay_err_sys(err, REPLAY_EIO, errno, "read the CaRT %s", what);
        if (k == 0)
            return replay_err_set(err, REPLAY_EFORMAT, "truncated CaRT: the file ends inside "
                                  "the %s", what);
        got += (size_t)k;
    }
    return 0;
}

/* Reads, decrypts and checks one metadata part with pread. */
static int info_meta(int fd, const struct replay_cart_dec *d, uint64_t off, uint64_t len,
                     const char *what, char **text, struct replay_err *err)
{
    uint8_t *buf = malloc(len + 1);
    if (buf == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    int rc = pread_full(fd, buf, len, off, what, err);
    if (rc == 0) {
        const char *why = NULL;
        rc = decrypt_meta(d->key, d->key_len, buf, len, text, NULL, &why);
        if (rc == REPLAY_ENOMEM)
            rc = replay_err_set(err, rc, "out of memory");
        else if (rc != 0)
            rc = bad_key(d, what, why, err);
    }
    free(buf);
    return rc;
}

static int info_trailer(int fd, uint64_t size, uint64_t data_start, struct cart_trailer *t,
                        struct replay_err *err)
{
    uint8_t raw[REPLAY_CART_TRAILER_LEN];
    if (size < data_start + REPLAY_CART_TRAILER_LEN)
        return replay_err_set(err, REPLAY_EFORMAT, "truncated CaRT: %" PRIu64 " bytes is too "
                              "short for its header and trailer", size);
    int rc = pread_full(fd, raw, sizeof(raw), size - sizeof(raw), "trailer", err);
    if (rc == 0)
        rc = parse_trailer(raw, t, err);
    if (rc != 0)
        return rc;
    uint64_t room = size - REPLAY_CART_TRAILER_LEN;
    if (t->footer_len > REPLAY_CART_META_MAX || t->footer_pos < data_start ||
        t->footer_pos > room || room - t->footer_pos != t->footer_len)
        return replay_err_set(err, REPLAY_EFORMAT, "corrupt CaRT: the trailer's footer offset %"
                              PRIu64 " and length %" PRIu64 " do not fit a file of %" PRIu64
                              " bytes", t->footer_pos, t->footer_len, size);
    return 0;
}

int replay_cart_info_fd(int fd, const struct replay_cart_dec_opts *opts, char **header_json,
                        char **footer_json, struct replay_err *err)
{
    static const struct replay_cart_dec_opts defaults = {0};
    const struct replay_cart_dec_opts *o = opts != NULL ? opts : &defaults;
    struct replay_cart_dec d = {0};
    struct cart_header h;
    struct cart_trailer t;
    struct stat st;
    uint8_t raw[REPLAY_CART_HEADER_LEN];
    *header_json = NULL;
    *footer_json = NULL;
    if (fstat(fd, &st) != 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "stat the CaRT file");
    if (!S_ISREG(st.st_mode))
        return replay_err_set(err, REPLAY_EINVAL, "CaRT info needs a regular file");
    if (st.st_size == 0)
        return replay_err_set(err, REPLAY_EFORMAT, "empty input: not a CaRT file");
    int rc = pread_full(fd, raw, sizeof(raw), 0, "header", err);
    if (rc == 0)
        rc = parse_header(raw, &h, err);
    if (rc == 0)
        rc = dec_key(&d, o, &h, err);
    if (rc == 0)
        rc = info_trailer(fd, (uint64_t)st.st_size, REPLAY_CART_HEADER_LEN + h.opt_header_len,
                          &t, err);
    if (rc == 0)
        rc = info_meta(fd, &d, REPLAY_CART_HEADER_LEN, h.opt_header_len, "optional header",
                       header_json, err);
    if (rc == 0)
        rc = info_meta(fd, &d, t.footer_pos, t.footer_len, "optional footer", footer_json, err);
    if (rc != 0) {
        free(*header_json);
        *header_json = NULL;
    }
    return rc;
}
