/*
 * trust: signed manifests across the air gap (issue 16; docs/trust.md).
 *
 * Keys. Ed25519 through OpenSSL 3's EVP (EVP_PKEY_ED25519), in PEM: PKCS#8 for a
 * private key, SubjectPublicKeyInfo for a public one, the forms `openssl genpkey
 * -algorithm ed25519` and `openssl pkey -pubout` write. A key's fingerprint is
 * "SHA256:" + the lowercase hex of the sha256 of its raw 32-byte public key.
 * Loading checks what an operator can get wrong (a missing file, a private key
 * that group or others may read, another algorithm, a key with a passphrase,
 * which is never asked for) and says so on one line that never holds key
 * material: a caller turns it into a configuration error (exit 2). The bytes of a
 * private key file are wiped from memory once parsed.
 *
 * Signatures. A signature is the raw 64 bytes of Ed25519 (no digest: EVP_DigestSign
 * with a NULL md) over a message's exact bytes, so `openssl pkeyutl -verify -pubin
 * -inkey pub.pem -rawin -in M -sigfile M.sig` checks what replay_trust_sign made,
 * and the other way round.
 *
 * Manifests (trust_manifest.c). `replay_manifest_<iso time>_<sequence>.json`: one
 * JSON object {"format": "assemblyline-replay-manifest", "version": 1, "source",
 * "sequence", "created", "previous_sha256" (hex or null), "key" (fingerprint or
 * null), "files": [{"name", "size", "sha256", "type", "ids": [...]}, ...]}. The
 * parser takes bytes (no I/O) and is strict: exactly these keys, these types,
 * the caps below, file names that are plain names (no '/', not "." or "..", no
 * control characters, not a temporary name), sizes from 0 to
 * REPLAY_MANIFEST_MAX_FILE_SIZE, sha256 as 64 lowercase hex digits. A manifest
 * that fails any of it is refused whole (REPLAY_EFORMAT or REPLAY_ETOOBIG with
 * the reason), so nothing is imported on its word.
 *
 * Errors: REPLAY_ECONFIG for a key file that cannot be used, REPLAY_EINTEGRITY
 * for a signature that does not verify, REPLAY_EFORMAT / REPLAY_ETOOBIG for bad
 * input, REPLAY_EEXIST when keygen would overwrite a file, REPLAY_EIO otherwise.
 *
 * Thread-safety: a loaded key is immutable and may be used from any thread;
 * a manifest is used by one thread at a time.
 */
#ifndef REPLAY_TRUST_H
#define REPLAY_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/error.h"
#include "replay/names.h"

#define REPLAY_TRUST_SIG_LEN 64
/* "SHA256:" + 64 hex digits + NUL. */
#define REPLAY_TRUST_FINGERPRINT_LEN 72
/* Room for a sha256 in hex, NUL included. */
#define REPLAY_TRUST_SHA256_HEX_LEN 65
/* A PEM key file is far smaller; a bigger file is not a key. */
#define REPLAY_TRUST_KEY_FILE_MAX (16u << 10)

struct replay_trust_key;

/* Loads an Ed25519 private key from a PEM file that only its owner may read
 * (mode & 077 == 0). Caller frees *out with replay_trust_key_free; NULL on
 * failure, with REPLAY_ECONFIG and a message naming `path` and the reason. */
REPLAY_MUST_CHECK int replay_trust_key_load_private(const char *path,
                                                    struct replay_trust_key **out,
                                                    struct replay_err *err);
/* Loads an Ed25519 public key from a PEM file. As above. */
REPLAY_MUST_CHECK int replay_trust_key_load_public(const char *path,
                                                   struct replay_trust_key **out,
                                                   struct replay_err *err);
/* The key's fingerprint, "SHA256:<hex>" (borrowed until the key is freed). */
const char *replay_trust_key_fingerprint(const struct replay_trust_key *k);
/* True for a key loaded with its private half (one that can sign). */
bool replay_trust_key_is_private(const struct replay_trust_key *k);
/* NULL does nothing. Private key material is wiped by OpenSSL. */
void replay_trust_key_free(struct replay_trust_key *k);

/* Makes a key pair: `path` (the private key, mode 0600) and `path`.pub (the
 * public key, 0644 less the umask), each written atomically and never over an
 * existing file (REPLAY_EEXIST names it, and nothing is written). `fingerprint`
 * (REPLAY_TRUST_FINGERPRINT_LEN bytes) gets the new key's fingerprint. */
REPLAY_MUST_CHECK int replay_trust_keygen(const char *path, char *fingerprint,
                                          struct replay_err *err);

/* Signs len bytes of msg with a private key into sig (REPLAY_TRUST_SIG_LEN bytes). */
REPLAY_MUST_CHECK int replay_trust_sign(const struct replay_trust_key *k, const void *msg,
                                        size_t len, unsigned char *sig, struct replay_err *err);
/* 0 when sig (sig_len bytes) is k's signature of msg; REPLAY_EINTEGRITY when it is
 * not, REPLAY_EFORMAT when sig_len is not REPLAY_TRUST_SIG_LEN. */
REPLAY_MUST_CHECK int replay_trust_verify(const struct replay_trust_key *k, const void *msg,
                                          size_t len, const unsigned char *sig, size_t sig_len,
                                          struct replay_err *err);

/* Reads the whole of dirfd/name (dirfd may be AT_FDCWD), a regular file of at most
 * max bytes opened without following a link or blocking, into *out (caller frees;
 * a NUL follows the bytes) and *len. REPLAY_ENOTFOUND when it is not there,
 * REPLAY_EUNSAFE for a link or not a regular file, REPLAY_ETOOBIG past max,
 * REPLAY_EIO otherwise. For manifests and signatures. */
REPLAY_MUST_CHECK int replay_trust_read_small(int dirfd, const char *name, size_t max,
                                              char **out, size_t *len, struct replay_err *err);

/* The lowercase hex sha256 of len bytes of buf into hex (REPLAY_TRUST_SHA256_HEX_LEN). */
void replay_trust_sha256_hex(const void *buf, size_t len, char *hex);

/* ---- sha256 of streams (trust_hash.c) ---- */

/* Writes a stream's bytes into fd (borrowed); 0 or a REPLAY_E* code with err
 * set. The shape of replay_filestore_produce_fn. */
typedef int (*replay_trust_produce_fn)(void *ctx, int fd, struct replay_err *err);

/* Runs produce(ctx, pipe, err) with the write end of a pipe whose bytes a helper
 * thread hashes and writes on to out_fd (borrowed), so a stream is hashed as it
 * passes, without a copy. hex (REPLAY_TRUST_SHA256_HEX_LEN) and *size get the
 * sha256 and length of what passed. The producer's error wins; else a failed
 * write to out_fd is REPLAY_EIO with its errno (the helper then reads on, so the
 * producer never blocks or gets SIGPIPE). out_fd sees the bytes in order, so it
 * may be a pipe; the producer cannot seek (a retry must run the whole call). */
REPLAY_MUST_CHECK int replay_trust_hash_relay(int out_fd, replay_trust_produce_fn produce,
                                              void *ctx, char *hex, uint64_t *size,
                                              struct replay_err *err);
/* The sha256 (hex) and length of what fd (borrowed) holds from its offset to its
 * end. REPLAY_EIO when it cannot be read. */
REPLAY_MUST_CHECK int replay_trust_sha256_fd(int fd, char *hex, uint64_t *size,
                                             struct replay_err *err);

/* ---- manifests (trust_manifest.c) ---- */

#define REPLAY_MANIFEST_FORMAT "assemblyline-replay-manifest"
#define REPLAY_MANIFEST_VERSION 1
#define REPLAY_MANIFEST_PREFIX REPLAY_NAMES_MANIFEST_PREFIX
#define REPLAY_MANIFEST_SUFFIX REPLAY_NAMES_MANIFEST_SUFFIX
#define REPLAY_MANIFEST_SIG_SUFFIX ".sig"
/* Caps: a writer starts a new manifest when a cap would be passed; a reader
 * refuses a manifest that passes one. */
#define REPLAY_MANIFEST_MAX_BYTES (8u << 20)
#define REPLAY_MANIFEST_MAX_FILES 10000
#define REPLAY_MANIFEST_MAX_IDS 100000 /* source ids, summed over the files */
#define REPLAY_MANIFEST_MAX_NAME 255   /* bytes of a file name, of the source name */
#define REPLAY_MANIFEST_MAX_STRING 512 /* bytes of an id, a type, a time */
#define REPLAY_MANIFEST_MAX_FILE_SIZE (INT64_C(1) << 50)
#define REPLAY_MANIFEST_MAX_SEQUENCE (INT64_C(1) << 53)
/* Room for a manifest's file name (NUL included). */
#define REPLAY_MANIFEST_NAME_LEN 96

struct replay_manifest_file {
    char *name;
    int64_t size;
    char sha256[REPLAY_TRUST_SHA256_HEX_LEN];
    char *type;
    char **ids;
    size_t n_ids;
};

/* Plain data, owned by the manifest: read it, change it only through the
 * functions below. */
struct replay_manifest {
    char *source;
    int64_t sequence;
    char *created;
    char previous_sha256[REPLAY_TRUST_SHA256_HEX_LEN]; /* "" = null (the first) */
    char key[REPLAY_TRUST_FINGERPRINT_LEN];           /* "" = null (unsigned) */
    struct replay_manifest_file *files;
    size_t n_files;
    size_t files_cap;    /* room in files */
    size_t n_ids;        /* summed over the files */
    size_t approx_bytes; /* what the files add to the serialized form, about */
};

/* A new empty manifest. `source` (1..REPLAY_MANIFEST_MAX_NAME bytes, no control
 * characters), `created` (an ISO time); `previous_sha256` NULL for the first;
 * `key` a fingerprint or NULL. Caller frees *out with replay_manifest_free. */
REPLAY_MUST_CHECK int replay_manifest_new(const char *source, int64_t sequence,
                                          const char *created, const char *previous_sha256,
                                          const char *key, struct replay_manifest **out,
                                          struct replay_err *err);
/* Appends a file (strings are copied). REPLAY_ETOOBIG when a cap would be passed
 * (the manifest is unchanged: write it and start a new one), REPLAY_EFORMAT/
 * REPLAY_EUNSAFE for a value the parser would refuse. */
REPLAY_MUST_CHECK int replay_manifest_add(struct replay_manifest *m, const char *name,
                                          int64_t size, const char *sha256, const char *type,
                                          const char *const *ids, size_t n_ids,
                                          struct replay_err *err);
/* The manifest's bytes (compact JSON and a newline) into *out (caller frees) and
 * *len. */
REPLAY_MUST_CHECK int replay_manifest_serialize(const struct replay_manifest *m, char **out,
                                                size_t *len, struct replay_err *err);
/* Parses len bytes as a manifest, strictly (the header comment). *out NULL on
 * failure. */
REPLAY_MUST_CHECK int replay_manifest_parse(const void *buf, size_t len,
                                            struct replay_manifest **out,
                                            struct replay_err *err);
/* NULL does nothing. */
void replay_manifest_free(struct replay_manifest *m);

/* One file as a manifest lists it ({"name", "size", "sha256", "type", "ids"}),
 * compact JSON, into *out (caller frees) and *len: what a writer records until
 * its next manifest. The checks of replay_manifest_add, on an empty manifest. */
REPLAY_MUST_CHECK int replay_manifest_entry_encode(const char *name, int64_t size,
                                                   const char *sha256, const char *type,
                                                   const char *const *ids, size_t n_ids,
                                                   char **out, size_t *len,
                                                   struct replay_err *err);
/* Parses one entry (len bytes) and adds it to m as replay_manifest_add does
 * (REPLAY_ETOOBIG: m is full, unchanged). */
REPLAY_MUST_CHECK int replay_manifest_add_entry(struct replay_manifest *m, const char *entry,
                                                size_t len, struct replay_err *err);

/* `replay_manifest_<created>_<sequence>.json` into out (REPLAY_MANIFEST_NAME_LEN). */
REPLAY_MUST_CHECK int replay_manifest_name(const char *created, int64_t sequence, char *out,
                                           size_t outsz, struct replay_err *err);
/* True when `name` is a plain file name a manifest may list. */
bool replay_manifest_file_name_is_safe(const char *name);

#endif
