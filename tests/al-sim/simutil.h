/*
 * simutil: small helpers shared by al-sim's files: random identifiers, digests,
 * Python-style text of JSON values, and whole-file I/O on descriptors.
 * Thread-safe (no state).
 */
#ifndef ALSIM_SIMUTIL_H
#define ALSIM_SIMUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* Assemblyline-like random id: 22 base62 characters (out needs 23 bytes). */
void alsim_random_id(char out[23]);
/* `n` random bytes as 2n lowercase hex characters (out needs 2n + 1 bytes). */
void alsim_random_hex(char *out, size_t n);
/* Lowercase hex SHA-256 of a buffer (out needs 65 bytes). */
void alsim_sha256_hex(const void *data, size_t len, char out[65]);
void alsim_hex(const unsigned char *in, size_t n, char *out);

/* Python's str() of a JSON value as Flask would print the parsed body:
 * {'a': 1, 'b': [True, None]}. Malloc'd; NULL on ENOMEM. At most `cap` bytes
 * (then cut with "..."). */
char *alsim_pyrepr(const json_t *v, size_t cap);

/* write(2) all of buf; 0 or -1 (errno set). */
int alsim_write_all(int fd, const void *buf, size_t len);
/* pread-free sequential read of up to cap bytes; returns bytes read or -1. */
ssize_t alsim_read_full(int fd, void *buf, size_t cap);

/* Makes a directory and its parents (mode 0755); 0 or -1. */
int alsim_mkdirs(const char *path);
/* Removes the files directly inside dir (not recursive into subdirs' contents
 * beyond one level); used to empty tmp/. */
void alsim_rm_tree(const char *path);

/* Python truthiness of a JSON value (`if x:`): null, false, 0, 0.0, "", [] and {}
 * are false; NULL (absent) too. */
bool alsim_py_truthy(const json_t *v);

/* Python's lenient base64 decoding (base64.b64decode without validate): bytes
 * outside the alphabet are skipped, decoding stops after the padding. Feed the
 * input in chunks; each call writes at most n bytes to out and returns how many. */
struct alsim_b64 {
    unsigned acc;
    int quad, pads;
    bool done;
};
size_t alsim_b64_feed(struct alsim_b64 *d, const unsigned char *in, size_t n, unsigned char *out);
/* After the last chunk: false where Python raises binascii.Error (bad padding). */
bool alsim_b64_complete(const struct alsim_b64 *d);

/* Case-insensitive ASCII "true"/"" test of a query flag, as Assemblyline reads
 * exist_ok, use_alert and allow_incomplete. NULL (absent) is false. */
bool alsim_flag_true(const char *v);

#endif
