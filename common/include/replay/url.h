/*
 * url: the pieces every URL parser of the project shares (filestore URLs, Redis
 * URLs, the secret masking), so they split and decode a URL the same way:
 *
 *  - replay_url_split() cuts "scheme://[userinfo@]hostport[/path][?query][#frag]"
 *    into ranges of the original text, as Python's urlsplit does for these
 *    schemes: the authority ends at the first '/', '?' or '#' after "://"; the
 *    userinfo ends at the LAST '@' of the authority; the user is up to the FIRST
 *    ':' of the userinfo and the password is the rest (it may hold ':' and '@').
 *    Nothing is decoded or validated beyond that: each parser checks its parts.
 *  - replay_url_decode() percent-decodes as urllib.parse.unquote (and
 *    unquote_plus for query values).
 *  - replay_url_quote() percent-encodes as urllib.parse.quote(s, safe): the one
 *    encoder of the project (REST query values and path arguments, S3 keys,
 *    Azure blob names, FTP/SFTP/HTTP paths). Those rules differ only in which
 *    characters stay, which is its `safe` argument.
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

/* Ranges into the text given to replay_url_split(); a part that is absent has
 * ptr NULL and len 0 (an empty part that is present, "x://@h", has ptr set). */
struct replay_url_range {
    const char *ptr;
    size_t len;
};

struct replay_url_parts {
    struct replay_url_range scheme;   /* before "://", not lower-cased */
    struct replay_url_range userinfo; /* before the last '@' of the authority */
    struct replay_url_range user;     /* userinfo up to its first ':' */
    struct replay_url_range password; /* after that ':' (raw, not decoded) */
    struct replay_url_range hostport; /* after the userinfo's '@' */
    struct replay_url_range path;     /* from the '/' that ends the authority */
    struct replay_url_range query;    /* after '?', up to '#' */
    struct replay_url_range fragment; /* after '#' */
};

/* Splits `url` (NUL-terminated). Returns false, with *out zeroed, when it is not
 * "<scheme>://..." with a scheme of [A-Za-z0-9+.-] characters. */
bool replay_url_split(const char *url, struct replay_url_parts *out);

/* Decodes s[0..len) into `out`, which must hold len + 1 bytes; with
 * `plus_is_space` a '+' becomes a space. NUL-terminates and returns the decoded
 * length. */
size_t replay_url_decode(const char *s, size_t len, bool plus_is_space, char *out);

/* Percent-encodes the NUL-terminated `s` as Python's quote(s, safe=safe): ASCII
 * letters, digits, "_.-~" and the characters of `safe` stay, every other byte
 * becomes %XX (upper-case hex; UTF-8 text is encoded byte by byte). Writes at
 * most outsz - 1 characters and a NUL (nothing when outsz is 0) and returns the
 * length of the whole encoding, as snprintf does: a result >= outsz means `out`
 * was too small. `out` may be NULL when outsz is 0. */
size_t replay_url_quote(const char *s, const char *safe, char *out, size_t outsz);

#endif
