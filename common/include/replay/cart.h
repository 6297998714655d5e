/*
 * cart: the CaRT container (Compressed and RC4 Transport) that Assemblyline uses for
 * bundles and JSON exports, as a streaming encoder and decoder (formats.md §1).
 *
 * Layout: 38-byte header "CART" | RC4(optional header JSON) | RC4(zlib stream) |
 * RC4(optional footer JSON) | 28-byte trailer "TRAC". Each RC4 part restarts the
 * keystream with the same key. The footer carries md5, sha1, sha256 (lowercase hex)
 * and length (decimal string) of the original data.
 *
 * What it owns: the RC4 and deflate/inflate state and the digest contexts of one
 * stream, and fixed-size buffers: about 3 MiB per stream at most (1 MiB rings for
 * the keystream and the digest threads, codec state, and on decode a buffer for the
 * footer, whose JSON is capped at REPLAY_CART_META_MAX). Memory does not grow with
 * the data: lengths and offsets are 64-bit, files over 4 GiB work.
 *
 * Encoder. Default mode (REPLAY_CART_COMPAT) writes the same bytes as upstream's
 * `cart` library with the same zlib (Debian 12's 1.2.13): one zlib stream at level 1,
 * header and footer JSON serialised as Python's json.dumps(sort_keys=True,
 * separators=(",", ":")). REPLAY_CART_FAST deflates with ISA-L (level 1, several
 * times faster than zlib) and still writes one valid zlib stream: different bytes,
 * read by upstream and by us. In both modes the RC4 keystream is made ahead on one
 * helper thread and the digests run on two more (unless threads = 1).
 *
 * Decoder. Parsers do no I/O: bytes come from the caller's read callback, so input
 * may be a pipe or an HTTP download. It checks magic, version, reserved fields and
 * sizes, decrypts and inflates block by block, requires the zlib stream to end
 * exactly where the trailer says the footer starts, and then verifies the footer's
 * length and digests (upstream never does): a mismatch is REPLAY_EINTEGRITY.
 * Data handed out before that final check is not yet trusted: a caller keeps it
 * provisional (temp file, open transaction) until replay_cart_dec_read() returned
 * its end (got == 0) or replay_cart_dec_finish() returned 0.
 *
 * Errors: REPLAY_EFORMAT (not a CaRT, truncated, corrupt), REPLAY_EBADKEY (the key
 * does not decrypt it), REPLAY_EINTEGRITY (length or digest mismatch), REPLAY_ETOOBIG
 * (JSON over the cap), REPLAY_EINVAL (bad options), REPLAY_ECANCELED, REPLAY_EIO and
 * whatever a callback returns. Messages never contain the key.
 *
 * Thread-safety: one encoder or decoder is used by one thread at a time (it may
 * run three helper threads of its own). Different objects are independent.
 * replay_cart_is_cart() and the constants are safe everywhere.
 *
 * Ownership: objects from _new are freed with _free (NULL is a no-op), also after
 * a failure; a failed object accepts only _free. Option strings and keys are
 * copied by _new. Returned JSON texts are borrowed, valid until _free.
 */
#ifndef REPLAY_CART_H
#define REPLAY_CART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/error.h"
#include "replay/lifecycle.h"

#define REPLAY_CART_HEADER_LEN 38    /* mandatory header */
#define REPLAY_CART_TRAILER_LEN 28   /* mandatory footer */
#define REPLAY_CART_BLOCK_SIZE 65536 /* upstream's block size */
#define REPLAY_CART_KEY_MIN 5        /* RC4 key lengths upstream accepts */
#define REPLAY_CART_KEY_MAX 256
#define REPLAY_CART_META_MAX (1024 * 1024) /* cap on optional header / footer JSON */

/* The default key: 03 01 04 01 05 09 02 06, twice. */
extern const uint8_t replay_cart_default_key[16];

/* Encoder output sink: takes `len` bytes (borrowed for the call only), in order.
 * Returns 0, or a negative REPLAY_E* code (with err set) to abort the stream. */
typedef int (*replay_cart_write_fn)(void *ctx, const void *buf, size_t len,
                                    struct replay_err *err);
/* Decoder input source: puts up to `cap` bytes into buf and their count in *got;
 * *got == 0 means end of input. Returns 0 or a negative REPLAY_E* code (err set). */
typedef int (*replay_cart_read_fn)(void *ctx, void *buf, size_t cap, size_t *got,
                                   struct replay_err *err);

enum replay_cart_mode {
    REPLAY_CART_COMPAT = 0, /* byte-identical to upstream (one thread) */
    REPLAY_CART_FAST = 1,   /* parallel deflate, one valid zlib stream */
};

struct replay_cart_enc_opts {
    const uint8_t *key;      /* NULL: default key; else a custom RC4 key (header key
                                field is then 16 zero bytes, as upstream writes) */
    size_t key_len;          /* REPLAY_CART_KEY_MIN..MAX when key is set */
    const char *header_json; /* NULL, or a JSON object: optional header ("{}" = none) */
    const char *footer_json; /* NULL, or a JSON object: extra footer entries; md5,
                                sha1, sha256 and length always overwrite them */
    enum replay_cart_mode mode;
    unsigned threads;        /* 0: keystream and digests on helper threads when more
                                than one CPU is online; 1: all on the caller's thread */
    const struct replay_cancel *cancel; /* NULL = never canceled */
};

struct replay_cart_dec_opts {
    const uint8_t *key;      /* NULL: the key stored in the header (as upstream) */
    size_t key_len;
    bool require_digests;    /* fail if the footer lacks md5, sha1, sha256 or length */
    unsigned threads;        /* as in replay_cart_enc_opts */
    const struct replay_cancel *cancel;
};

/* Digests and sizes of one stream. Hex strings are lowercase, NUL-terminated. */
struct replay_cart_digests {
    char md5[33];
    char sha1[41];
    char sha256[65];
    uint64_t length;    /* bytes of original data */
    uint64_t cart_size; /* bytes of the CaRT container */
};

/* True iff buf holds a CaRT mandatory header (upstream's is_cart: at least 38 bytes,
 * magic "CART", version 1, reserved 0). Give it the first bytes of a file. */
bool replay_cart_is_cart(const void *buf, size_t len);

/* ---- streaming encoder ---- */
struct replay_cart_enc;

/* Validates opts (key length, JSON objects, sizes) and makes an encoder that writes
 * through `write(ctx, ...)`. Nothing is written before the first _write or _finish.
 * On success *out is freed by the caller with replay_cart_enc_free(); NULL on failure. */
REPLAY_MUST_CHECK int replay_cart_enc_new(const struct replay_cart_enc_opts *opts,
                                          replay_cart_write_fn write, void *ctx,
                                          struct replay_cart_enc **out,
                                          struct replay_err *err);
/* Adds `len` bytes of data (borrowed for the call). */
REPLAY_MUST_CHECK int replay_cart_enc_write(struct replay_cart_enc *e, const void *data,
                                            size_t len, struct replay_err *err);
/* Ends the zlib stream, writes footer and trailer. Call once; then only _digests/_free. */
REPLAY_MUST_CHECK int replay_cart_enc_finish(struct replay_cart_enc *e,
                                             struct replay_err *err);
/* Digests of the data and the container size, after a successful _finish. */
REPLAY_MUST_CHECK int replay_cart_enc_digests(const struct replay_cart_enc *e,
                                              struct replay_cart_digests *out,
                                              struct replay_err *err);
void replay_cart_enc_free(struct replay_cart_enc *e);

/* ---- streaming decoder ---- */
struct replay_cart_dec;

/* Reads and checks the mandatory header and decrypts the optional header through
 * `read(ctx, ...)`. On success *out is freed with replay_cart_dec_free(); NULL on
 * failure. A header that does not parse as a JSON object is REPLAY_EBADKEY. */
REPLAY_MUST_CHECK int replay_cart_dec_new(const struct replay_cart_dec_opts *opts,
                                          replay_cart_read_fn read, void *ctx,
                                          struct replay_cart_dec **out,
                                          struct replay_err *err);
/* Optional header as the JSON text found in the file ("{}" when there is none).
 * Borrowed, valid until replay_cart_dec_free(). */
const char *replay_cart_dec_header_json(const struct replay_cart_dec *d);
/* Reads up to `cap` bytes of original data into out; *got == 0 only at the end,
 * and only once footer, trailer, length and digests have been checked. */
REPLAY_MUST_CHECK int replay_cart_dec_read(struct replay_cart_dec *d, void *out,
                                           size_t cap, size_t *got,
                                           struct replay_err *err);
/* Reads (and discards) whatever data is left, then does the end checks. 0 means
 * the whole CaRT is valid and its digests match. */
REPLAY_MUST_CHECK int replay_cart_dec_finish(struct replay_cart_dec *d,
                                             struct replay_err *err);
/* Optional footer as found in the file ("{}" if none); NULL before the end checks
 * passed. Borrowed, valid until replay_cart_dec_free(). */
const char *replay_cart_dec_footer_json(const struct replay_cart_dec *d);
/* Digests computed from the data, after the end checks passed. */
REPLAY_MUST_CHECK int replay_cart_dec_digests(const struct replay_cart_dec *d,
                                              struct replay_cart_digests *out,
                                              struct replay_err *err);
void replay_cart_dec_free(struct replay_cart_dec *d);

/* ---- helpers on file descriptors (they do the I/O; fds stay the caller's) ---- */

#define REPLAY_CART_F_OVERWRITE 0x1u /* replace an existing output file */
#define REPLAY_CART_F_FSYNC 0x2u     /* fsync the output before renaming it */
#define REPLAY_CART_F_NO_NESTED 0x4u /* pack: refuse input that already is a CaRT;
                                        unpack: refuse a CaRT whose data is a CaRT */

/* Packs everything readable from in_fd into out_path. The output is written to a
 * hidden temporary (".<name>.replay-tmp-<random>", replay/atomicfile.h) in the same directory and renamed to
 * out_path only when complete; on any failure nothing is left. An existing
 * out_path is REPLAY_EEXIST unless REPLAY_CART_F_OVERWRITE. `digests` may be NULL. */
REPLAY_MUST_CHECK int replay_cart_pack_file(int in_fd, const char *out_path,
                                            const struct replay_cart_enc_opts *opts,
                                            unsigned flags,
                                            struct replay_cart_digests *digests,
                                            struct replay_err *err);
/* Unpacks the CaRT read from in_fd into out_path, same temp/rename rules: the
 * output appears only once the digests matched. `digests` may be NULL. */
REPLAY_MUST_CHECK int replay_cart_unpack_file(int in_fd, const char *out_path,
                                              const struct replay_cart_dec_opts *opts,
                                              unsigned flags,
                                              struct replay_cart_digests *digests,
                                              struct replay_err *err);
/* Same as the two above onto an already open out_fd (a pipe, stdout): no temp
 * file, so a failure may leave partial output there. Only REPLAY_CART_F_NO_NESTED
 * is meaningful in flags. */
REPLAY_MUST_CHECK int replay_cart_pack_fd(int in_fd, int out_fd,
                                          const struct replay_cart_enc_opts *opts,
                                          unsigned flags,
                                          struct replay_cart_digests *digests,
                                          struct replay_err *err);
REPLAY_MUST_CHECK int replay_cart_unpack_fd(int in_fd, int out_fd,
                                            const struct replay_cart_dec_opts *opts,
                                            unsigned flags,
                                            struct replay_cart_digests *digests,
                                            struct replay_err *err);
/* Decodes in_fd completely, writing nothing, and checks length and digests. On
 * success header/footer JSON may be returned (malloc'd, caller frees; pass NULL to
 * skip); on failure they are NULL. */
REPLAY_MUST_CHECK int replay_cart_verify_fd(int in_fd,
                                            const struct replay_cart_dec_opts *opts,
                                            struct replay_cart_digests *digests,
                                            char **header_json, char **footer_json,
                                            struct replay_err *err);
/* Metadata only, for a seekable fd: reads header, trailer and footer with pread()
 * and checks the offsets against the file size; the data is not decoded or
 * verified. *header_json and *footer_json are malloc'd (caller frees), NULL on
 * failure. */
REPLAY_MUST_CHECK int replay_cart_info_fd(int fd, const struct replay_cart_dec_opts *opts,
                                          char **header_json, char **footer_json,
                                          struct replay_err *err);

#endif
