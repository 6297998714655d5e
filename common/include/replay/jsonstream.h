/*
 * jsonstream: a JSON text checked as it streams by, with flat memory, and
 * optionally the elements of its top-level array handed out one at a time (the
 * JSON-array splitter of the loader-worker).
 *
 * What it is for. Two inputs of the target side are JSON texts of any size: a
 * list export (`<collection>_<time>.al_json[.cart]`, a JSON array of documents,
 * formats.md §3.4) and a bundle's `results.json` (an object, formats.md §2.3).
 * Neither may be held whole in memory. The checker takes the text in pieces of
 * any size (a byte at a time gives the same result as all at once) and:
 *  - validates it as the server's json.loads would accept it: strict UTF-8 (no
 *    overlong forms, no encoded surrogates, nothing above U+10FFFF), no control
 *    characters inside strings, valid escapes, JSON numbers, true/false/null and
 *    also NaN, Infinity and -Infinity (Python reads and writes them); exactly one
 *    value with only whitespace around it;
 *  - with `on_item` set, requires the value to be an array and calls on_item once
 *    per element, in order, with the element's exact text. An element larger than
 *    `max_item` is not buffered: on_item gets it with `json` NULL and the reason,
 *    and the rest of the array goes on (one oversized document does not stop the
 *    others).
 *
 * Limits: containers nest at most `max_depth` levels (the callers parse elements
 * with jansson, whose recursion this bounds); one element is buffered up to
 * `max_item` bytes. Memory: the depth stack and one element's buffer.
 *
 * Errors: REPLAY_EFORMAT names the byte offset and what was expected ("invalid
 * JSON at byte 17: expected ',' or ']' after an array element"), REPLAY_ETOOBIG
 * for the depth cap, REPLAY_ENOMEM, or whatever on_item returns (it stops the
 * stream). Once an error was returned the stream accepts only _free.
 *
 * Parsers do no I/O: the caller feeds bytes. One stream is used by one thread;
 * streams are independent. The object from _new is freed with _free (NULL: no-op).
 */
#ifndef REPLAY_JSONSTREAM_H
#define REPLAY_JSONSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/error.h"

#define REPLAY_JSONSTREAM_MAX_DEPTH 512u
/* A list document is a queue message: the same cap (queue.h). */
#define REPLAY_JSONSTREAM_MAX_ITEM (16u << 20)

enum replay_jsonstream_expect {
    REPLAY_JSONSTREAM_ANY,    /* any JSON value */
    REPLAY_JSONSTREAM_OBJECT, /* the value must be an object */
    REPLAY_JSONSTREAM_ARRAY,  /* the value must be an array (always so with on_item) */
};

/* One element of the top-level array. Borrowed for the call of on_item only. */
struct replay_jsonstream_item {
    size_t index;        /* 0 for the first element */
    uint64_t offset;     /* byte offset of its first byte in the text */
    const char *json;    /* its text, NUL-terminated; NULL when it was not buffered */
    size_t len;          /* its length in bytes (also when not buffered) */
    const char *skipped; /* why it was not buffered ("larger than ... bytes"), or NULL */
};

/* Returns 0 to go on, or a negative REPLAY_E* code (err set) to stop the stream. */
typedef int (*replay_jsonstream_item_fn)(void *ctx, const struct replay_jsonstream_item *item,
                                         struct replay_err *err);

struct replay_jsonstream_opts {
    enum replay_jsonstream_expect expect;
    replay_jsonstream_item_fn on_item; /* NULL: check only */
    void *ctx;                         /* given to on_item */
    size_t max_item;                   /* 0: REPLAY_JSONSTREAM_MAX_ITEM */
    unsigned max_depth;                /* 0: REPLAY_JSONSTREAM_MAX_DEPTH */
};

struct replay_jsonstream;

/* A new stream. REPLAY_EINVAL when on_item is set with an expectation other than
 * ARRAY or ANY (it is then ARRAY). Caller frees *out with replay_jsonstream_free(). */
REPLAY_MUST_CHECK int replay_jsonstream_new(const struct replay_jsonstream_opts *opts,
                                            struct replay_jsonstream **out,
                                            struct replay_err *err);
/* Checks the next `len` bytes (borrowed for the call), calling on_item for every
 * element they complete. */
REPLAY_MUST_CHECK int replay_jsonstream_feed(struct replay_jsonstream *s, const void *buf,
                                             size_t len, struct replay_err *err);
/* The text has ended: 0 when it held exactly one complete value, else
 * REPLAY_EFORMAT ("the JSON text ends inside a string", "empty JSON text"). */
REPLAY_MUST_CHECK int replay_jsonstream_finish(struct replay_jsonstream *s,
                                               struct replay_err *err);
/* Elements of the top-level array seen so far (0 when the value is not an array). */
size_t replay_jsonstream_items(const struct replay_jsonstream *s);
/* Bytes fed so far. */
uint64_t replay_jsonstream_offset(const struct replay_jsonstream *s);
void replay_jsonstream_free(struct replay_jsonstream *s);

#endif
