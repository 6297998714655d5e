/*
 * cart (internal): the building blocks of the CaRT codec that are not about the
 * container layout: RC4 (also as a keystream made ahead), and the digest pipeline
 * (md5, sha1, sha256 and the length of the original data), both on helper threads
 * when wanted.
 *
 * Not thread-safe: one object per stream, used by one thread (each synchronises
 * with its own helper threads internally).
 */
#ifndef REPLAY_CART_INT_H
#define REPLAY_CART_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/cart.h"
#include "replay/error.h"

/* RC4 (KSA over the whole key, PRGA, no bytes dropped). Words rather than bytes
 * in the state: faster on x86-64. */
struct replay__rc4 {
    uint32_t s[256];
    uint32_t i, j;
};

/* key_len must be 1..256 (callers check). */
void replay__rc4_init(struct replay__rc4 *r, const uint8_t *key, size_t key_len);
/* dst[k] = src[k] ^ keystream; dst may equal src. */
void replay__rc4_xor(struct replay__rc4 *r, const uint8_t *src, uint8_t *dst, size_t len);

/* RC4 keystream for the data part, generated ahead on a helper thread when
 * `threaded` (else inline); the caller's thread only XORs. */
struct replay__keystream;

REPLAY_MUST_CHECK int replay__keystream_new(const uint8_t *key, size_t key_len, bool threaded,
                                            struct replay__keystream **out,
                                            struct replay_err *err);
/* dst[k] = src[k] ^ next keystream bytes; dst may equal src. */
void replay__keystream_xor(struct replay__keystream *k, const uint8_t *src, uint8_t *dst,
                           size_t len);
/* Stops the helper and frees. NULL is a no-op. */
void replay__keystream_free(struct replay__keystream *k);

/* Digest pipeline: update() copies the bytes into a fixed ring of slots that the
 * helper threads hash in order (or hashes them inline when not threaded); memory
 * is bounded by the ring whatever the data size. */
struct replay__digest;

REPLAY_MUST_CHECK int replay__digest_new(bool threaded, struct replay__digest **out,
                                         struct replay_err *err);
/* Bytes are borrowed for the call only. */
REPLAY_MUST_CHECK int replay__digest_update(struct replay__digest *d, const void *data,
                                            size_t len, struct replay_err *err);
/* Waits for the helpers, fills out (hex digests and length; cart_size untouched).
 * Call once; then only _free. */
REPLAY_MUST_CHECK int replay__digest_final(struct replay__digest *d,
                                           struct replay_cart_digests *out,
                                           struct replay_err *err);
/* Stops the helpers (also mid-stream) and frees. NULL is a no-op. */
void replay__digest_free(struct replay__digest *d);

/* True when helper threads pay: more than one CPU online. */
bool replay__digest_threads_pay(void);

#endif
