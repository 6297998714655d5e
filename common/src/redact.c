/* redact: structural URL masking and a registry of secret values. */
#include "replay/redact.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/url.h"

/* The registry grows as secrets are registered, up to REPLAY_REDACT_MAX_SECRETS.
 * A secret that cannot be registered (past the cap, or out of memory) must not be
 * printed either, so from then on replay_redact() fails closed: it writes
 * REPLAY_REDACT_WITHHELD instead of its input. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t n_secrets, cap_secrets;
static bool registry_failed;

static const char *const secret_options[] = {
    "access_key", "client_secret", "private_key_pass", "sig", "password",
    "passwd", "secret", "token", "sas_token", "apikey", "api_key", "key",
};

int replay_redact_is_secret_option(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(secret_options) / sizeof(secret_options[0]); i++) {
        if (strlen(secret_options[i]) == len && strncmp(secret_options[i], name, len) == 0)
            return 1;
    }
    return 0;
}

/* Makes room for one more secret; false when the cap or memory says no. Locked. */
static bool registry_reserve(void)
{
    if (n_secrets < cap_secrets)
        return true;
    if (cap_secrets >= REPLAY_REDACT_MAX_SECRETS)
        return false;
    size_t cap = cap_secrets ? cap_secrets * 2 : 16;
    if (cap > REPLAY_REDACT_MAX_SECRETS)
        cap = REPLAY_REDACT_MAX_SECRETS;
    char **grown = realloc(secrets, cap * sizeof(*grown));
    if (grown == NULL)
        return false;
    secrets = grown;
    cap_secrets = cap;
    return true;
}

static void add_secret_n(const char *s, size_t len)
{
    if (s == NULL || len < REPLAY_REDACT_MIN_SECRET)
        return;
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < n_secrets; i++) {
        if (strlen(secrets[i]) == len && memcmp(secrets[i], s, len) == 0)
            goto out;
    }
    char *copy = registry_reserve() ? strndup(s, len) : NULL;
    if (copy != NULL)
        secrets[n_secrets++] = copy;
    else
        registry_failed = true;
out:
    pthread_mutex_unlock(&registry_lock);
}

void replay_redact_add_secret(const char *secret)
{
    if (secret != NULL)
        add_secret_n(secret, strlen(secret));
}

void replay_redact_reset(void)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < n_secrets; i++)
        free(secrets[i]);
    free(secrets);
    secrets = NULL;
    n_secrets = cap_secrets = 0;
    registry_failed = false;
    pthread_mutex_unlock(&registry_lock);
}

/* Registers the percent-decoded form of s[0..len) too. */
static void add_decoded_secret(const char *s, size_t len, int plus_is_space)
{
    char *dec = malloc(len + 1);
    if (dec == NULL) {
        pthread_mutex_lock(&registry_lock);
        registry_failed = true;
        pthread_mutex_unlock(&registry_lock);
        return;
    }
    add_secret_n(dec, replay_url_decode(s, len, plus_is_space, dec));
    free(dec);
}

/* The userinfo password of `url` as replay_url_split() cuts it: [*p, *p_end).
 * Returns 1 when there is one, 0 when not, -1 when `url` is not scheme://... */
static int url_password(const char *url, const char **p, const char **p_end)
{
    struct replay_url_parts parts;
    if (!replay_url_split(url, &parts))
        return -1;
    if (parts.password.ptr == NULL)
        return 0;
    *p = parts.password.ptr;
    *p_end = parts.password.ptr + parts.password.len;
    return 1;
}

/* Calls fn(value, len) for every secret query option value of url. */
static void each_secret_option(const char *url,
                               void (*fn)(const char *v, size_t len, void *ctx), void *ctx)
{
    const char *q = strchr(url, '?');
    while (q != NULL && *q != '\0') {
        q++;
        size_t pair_len = strcspn(q, "&#");
        const char *eq = memchr(q, '=', pair_len);
        if (eq != NULL && replay_redact_is_secret_option(q, (size_t)(eq - q)))
            fn(eq + 1, pair_len - (size_t)(eq + 1 - q), ctx);
        q += pair_len;
        if (*q != '&')
            break;
    }
}

static void register_option_value(const char *v, size_t len, void *ctx)
{
    (void)ctx;
    add_secret_n(v, len);
    add_decoded_secret(v, len, 1);
}

void replay_redact_add_url_secrets(const char *url)
{
    const char *p, *p_end;
    int has = url_password(url, &p, &p_end);
    if (has < 0)
        return;
    if (has > 0) {
        add_secret_n(p, (size_t)(p_end - p));
        add_decoded_secret(p, (size_t)(p_end - p), 0);
    }
    each_secret_option(url, register_option_value, NULL);
}

/* Appends [s, s+len) to out, keeping room for the terminator, which the caller
 * writes at the end (writing it here would overwrite input when out is in). */
static void put(char *out, size_t outsz, size_t *o, const char *s, size_t len)
{
    if (*o + 1 >= outsz)
        return;
    size_t room = outsz - 1 - *o;
    if (len > room)
        len = room;
    memmove(out + *o, s, len);
    *o += len;
}

char *replay_redact_url(const char *url, char *out, size_t outsz)
{
    const char *p, *p_end;
    size_t o = 0;
    if (out == NULL || outsz == 0)
        return out;
    out[0] = '\0';
    if (url == NULL)
        return out;
    const char *rest = url;
    if (url_password(url, &p, &p_end) > 0) {
        put(out, outsz, &o, url, (size_t)(p - url));
        put(out, outsz, &o, REPLAY_REDACT_MASK, strlen(REPLAY_REDACT_MASK));
        rest = p_end;
    }
    /* Copy the rest pair by pair, masking secret option values. */
    const char *q = strchr(rest, '?');
    if (q == NULL) {
        put(out, outsz, &o, rest, strlen(rest));
        out[o] = '\0';
        return out;
    }
    put(out, outsz, &o, rest, (size_t)(q - rest) + 1);
    q++;
    for (;;) {
        size_t pair_len = strcspn(q, "&#");
        const char *eq = memchr(q, '=', pair_len);
        if (eq != NULL && replay_redact_is_secret_option(q, (size_t)(eq - q))) {
            put(out, outsz, &o, q, (size_t)(eq - q) + 1);
            put(out, outsz, &o, REPLAY_REDACT_MASK, strlen(REPLAY_REDACT_MASK));
        } else {
            put(out, outsz, &o, q, pair_len);
        }
        q += pair_len;
        if (*q != '&') {
            put(out, outsz, &o, q, strlen(q));
            break;
        }
        put(out, outsz, &o, "&", 1);
        q++;
    }
    out[o] = '\0';
    return out;
}

/* Length of the longest registered secret starting at `c`. `rest` is 0, or the
 * length left of a text that was cut short: when all that is left is the start of
 * a secret, it counts as a secret too, since the cut may have split one. Locked. */
static size_t secret_at(const char *c, size_t rest)
{
    size_t hit = 0;
    for (size_t i = 0; i < n_secrets; i++) {
        size_t len = strlen(secrets[i]);
        if (len > hit && strncmp(c, secrets[i], len) == 0)
            hit = len;
        else if (rest > hit && rest < len && strncmp(c, secrets[i], rest) == 0)
            hit = rest;
    }
    return hit;
}

/* The masking sweep. Every byte covered by an occurrence of a secret is hidden, so
 * overlapping secrets hide their union; one mask per run of overlapping
 * occurrences. A mask is written only when its run ends, after the run's bytes
 * were read, and a run is at least REPLAY_REDACT_MIN_SECRET bytes long, so the
 * output never overtakes the input: `out` may be `in`. */
static size_t redact_sweep(const char *in, char *out, size_t outsz, bool cut)
{
    size_t o = 0, end = 0, n = cut ? strlen(in) : 0;
    bool masking = false;
    pthread_mutex_lock(&registry_lock);
    if (registry_failed) {
        pthread_mutex_unlock(&registry_lock);
        put(out, outsz, &o, REPLAY_REDACT_WITHHELD, strlen(REPLAY_REDACT_WITHHELD));
        out[o] = '\0';
        return o;
    }
    for (size_t i = 0; in[i] != '\0'; i++) {
        if (masking && i >= end) {
            put(out, outsz, &o, REPLAY_REDACT_MASK, strlen(REPLAY_REDACT_MASK));
            masking = false;
        }
        size_t len = secret_at(in + i, cut ? n - i : 0);
        if (len > 0 && i + len > end) {
            masking = true; /* a new run, or a longer overlap of the current one */
            end = i + len;
        }
        if (!masking)
            put(out, outsz, &o, in + i, 1);
    }
    if (masking)
        put(out, outsz, &o, REPLAY_REDACT_MASK, strlen(REPLAY_REDACT_MASK));
    pthread_mutex_unlock(&registry_lock);
    out[o] = '\0';
    return o;
}

size_t replay_redact(const char *in, char *out, size_t outsz)
{
    if (out == NULL || outsz == 0)
        return 0;
    if (in == NULL) {
        out[0] = '\0';
        return 0;
    }
    return redact_sweep(in, out, outsz, false);
}

size_t replay_redact_vformat(char *out, size_t outsz, const char *fmt, va_list ap)
{
    if (out == NULL || outsz == 0)
        return 0;
    int n = vsnprintf(out, outsz, fmt, ap);
    if (n < 0) {
        out[0] = '\0';
        return 0;
    }
    return redact_sweep(out, out, outsz, (size_t)n >= outsz);
}
