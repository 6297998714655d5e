/*
 * url: percent-decoding of URL parts, as Python's urllib.parse.unquote (and
 * unquote_plus for query values) does it, so every URL parser of the project
 * (filestore URLs, Redis URLs) and the secret masking decode the same way.
 *
 * A '%' not followed by two hex digits is kept as written. Decoding never makes
 * the text longer. The result may hold NUL bytes ("%00"); callers that build C
 * strings from it must check (memchr) and refuse such input.
 *
 * No state; thread-safe.
 */
#ifndef REPLAY_URL_H
#define REPLAY_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes s[0..len) into `out`, which must hold len + 1 bytes; with
 * `plus_is_space` a '+' becomes a space. NUL-terminates and returns the decoded
 * length. */
size_t replay_url_decode(const char *s, size_t len, bool plus_is_space, char *out);

#endif
