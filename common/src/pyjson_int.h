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

/* Serialises `value` as Python's json.dumps would. Returns a malloc'd NUL-terminated
 * string (caller frees) and its length in *len (if len is not NULL); NULL on ENOMEM
 * or on a string that is not valid UTF-8. Nesting deeper than 1000 levels (Python's
 * own recursion limit is about that) also gives NULL. */
char *replay__pyjson_dumps(const json_t *value, unsigned flags, size_t *len);

#endif
