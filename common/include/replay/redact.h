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
 * Every byte covered by an occurrence of a registered secret is masked, so two
 * overlapping secrets are hidden whole. A message that was cut to a buffer
 * (replay_redact_vformat) also has a tail that begins a secret masked: a cut never
 * leaves part of one.
 *
 * The registry grows up to REPLAY_REDACT_MAX_SECRETS distinct secrets. It fails
 * closed: once a secret could not be registered (past the cap, or out of memory),
 * replay_redact() and replay_redact_vformat() write REPLAY_REDACT_WITHHELD instead
 * of any text: nothing can print the secret that was not registered, and every
 * line the program prints from then on says why.
 *
 * Thread-safe: the registry is guarded by a mutex. Secrets are copied; they stay
 * registered until replay_redact_reset() (tests) or process exit.
 */
#ifndef REPLAY_REDACT_H
#define REPLAY_REDACT_H

#include <stdarg.h>
#include <stddef.h>

#include "replay/error.h"

#define REPLAY_REDACT_MASK "***"
#define REPLAY_REDACT_MAX_SECRETS 4096
#define REPLAY_REDACT_WITHHELD "*** (text withheld: a secret could not be registered for " \
                               "masking: more secrets than the registry holds, or out of memory)"
/* Secrets shorter than this are not matched by value (they would mask ordinary
 * words); structural masking still hides them in URLs. */
#define REPLAY_REDACT_MIN_SECRET 3

/* Registers a secret (copied). NULL, empty or too short values are ignored. */
void replay_redact_add_secret(const char *secret);
/* Registers the secrets of a URL: the password of its userinfo (raw and
 * percent-decoded) and the values of secret query options. */
void replay_redact_add_url_secrets(const char *url);
/* Forgets every registered secret and a past failure (tests only). */
void replay_redact_reset(void);

/* Copies `in` to `out` (size `outsz`, always NUL-terminated, truncated if needed)
 * with every registered secret replaced by "***". `out` may be `in`. Returns the
 * length written. */
size_t replay_redact(const char *in, char *out, size_t outsz);

/* Formats into `out` (size `outsz`, NUL-terminated) with registered secrets masked.
 * When the text does not fit it is cut, and a tail that begins a secret is masked
 * too. Returns the length written. */
size_t replay_redact_vformat(char *out, size_t outsz, const char *fmt, va_list ap)
    REPLAY_PRINTF(3, 0);

/* Copies `url` to `out` with its userinfo password and secret query values
 * replaced by "***". A string that is not a URL is copied unchanged. Returns out. */
char *replay_redact_url(const char *url, char *out, size_t outsz);

/* True when a query option of a filestore or Redis URL holds a secret. */
int replay_redact_is_secret_option(const char *name, size_t len);

#endif
