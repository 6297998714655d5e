/*
 * redact: keeps secrets out of every line the program prints.
 *
 * Two mechanisms, both needed:
 *  - structural: replay_redact_url() masks the password of a URL's userinfo
 *    (split at the last '@' of the authority and the first ':' of the userinfo,
 *    as Python's urlparse does) and the values of query options that carry
 *    secrets (access_key, client_secret, private_key_pass, sig, ...);
 *  - by value: secrets registered with replay_redact_add_secret() (API keys,
 *    passwords taken from URLs) are replaced by "***" wherever they appear in a
 *    log message. The logger applies replay_redact() to every message, so even a
 *    careless format string cannot print them.
 *
 * Thread-safe: the registry is guarded by a mutex. Secrets are copied; they stay
 * registered until replay_redact_reset() (tests) or process exit.
 */
#ifndef REPLAY_REDACT_H
#define REPLAY_REDACT_H

#include <stddef.h>

#define REPLAY_REDACT_MASK "***"
/* Secrets shorter than this are not matched by value (they would mask ordinary
 * words); structural masking still hides them in URLs. */
#define REPLAY_REDACT_MIN_SECRET 3

/* Registers a secret (copied). NULL, empty or too short values are ignored. */
void replay_redact_add_secret(const char *secret);
/* Registers the secrets of a URL: the password of its userinfo (raw and
 * percent-decoded) and the values of secret query options. */
void replay_redact_add_url_secrets(const char *url);
/* Forgets every registered secret (tests only). */
void replay_redact_reset(void);

/* Copies `in` to `out` (size `outsz`, always NUL-terminated, truncated if needed)
 * with every registered secret replaced by "***". Returns the length written. */
size_t replay_redact(const char *in, char *out, size_t outsz);

/* Copies `url` to `out` with its userinfo password and secret query values
 * replaced by "***". A string that is not a URL is copied unchanged. Returns out. */
char *replay_redact_url(const char *url, char *out, size_t outsz);

/* True when a query option of a filestore or Redis URL holds a secret. */
int replay_redact_is_secret_option(const char *name, size_t len);

#endif
