/*
 * pyjson (internal): JSON text byte-identical to Python's json.dumps, for the
 * bytes other Assemblyline components compare or hash: CaRT header/footer
 * (sort_keys, compact separators), queue messages and JSON exports (default
 * separators ", " and ": ", insertion order).
 *
 * Python's rules reproduced: ensure_ascii (every character outside 0x20..0x7e is
 * escaped, lowercase hex, surrogate pairs above the BMP; \" \\ \n \r \t \b \f have
 * short forms; '/' is not escaped), keys in insertion order or sorted by code point,
 * integers in decimal, floats as Python repr (shortest round trip; exponent form
 * below 1e-4 and from 1e16; "Infinity", "-Infinity", "NaN").
 *
 * Internal to libreplay (jansson types); other modules and test tools include it
 * from common/src. Thread-safe (no state).
 */
#ifndef REPLAY_PYJSON_INT_H
#define REPLAY_PYJSON_INT_H

#include <stddef.h>

#include <jansson.h>

#define REPLAY__PYJSON_SORT_KEYS 0x1u /* sort_keys=True */
#define REPLAY__PYJSON_COMPACT 0x2u   /* separators=(",", ":") */
#define REPLAY__PYJSON_REPLACE 0x4u   /* escape: invalid UTF-8 becomes U+FFFD */

/* Serialises `value` as Python's json.dumps would. Returns a malloc'd NUL-terminated
 * string (caller frees) and its length in *len (if len is not NULL); NULL on ENOMEM
 * or on a string that is not valid UTF-8. Nesting deeper than 1000 levels (Python's
 * own recursion limit is about that) also gives NULL. */
char *replay__pyjson_dumps(const json_t *value, unsigned flags, size_t *len);

/* Receives the pieces of an escaped string literal, in order. */
typedef void (*replay__pyjson_sink)(void *ctx, const char *s, size_t n);

/* Writes s[0..n) as a JSON string literal, quotes included, as json.dumps writes a
 * str: the one JSON string escaper of libreplay (the logger uses it too). UTF-8 is
 * decoded strictly (no overlong forms, surrogates or values past U+10FFFF). On
 * invalid UTF-8 it returns -1 at once, unless `flags` has REPLAY__PYJSON_REPLACE:
 * then each maximal invalid subpart becomes one \ufffd, as Python's
 * bytes.decode("utf-8", errors="replace") does, and it returns 0. */
/* Bytes of the one valid UTF-8 sequence at s (n bytes available), with the same
 * strictness as the escaper (no overlong forms, surrogates, nothing past
 * U+10FFFF); 0 when s does not start one. */
size_t replay__pyjson_utf8_len(const char *s, size_t n);
int replay__pyjson_escape(const char *s, size_t n, unsigned flags, replay__pyjson_sink put,
                          void *ctx);

#endif
