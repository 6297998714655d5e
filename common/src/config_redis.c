/* config_redis: Redis URLs. The configuration load checks the two it resolved
 * (so a bad one stops a service at start, exit 2), and the queue module parses
 * them the same way to connect. redis:// is cut by the shared splitter (url.h:
 * userinfo up to the last '@', user up to its first ':'); unix:// keeps its own
 * rule (userinfo up to the first "@/"), as a socket path holds '/'. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "replay/config.h"
#include "replay/redact.h"
#include "replay/url.h"

#define UNIX_PATH_MAX 107 /* sun_path is 108 bytes with the terminator */

/* Percent-decodes s[0..len) into out (size outsz). An invalid escape is kept as
 * it is (as Python's unquote). Returns false when it does not fit or decodes to a
 * NUL byte (C strings all the way to hiredis). */
static bool decode_into(const char *s, size_t len, char *out, size_t outsz)
{
    char *dec = malloc(len + 1);
    if (dec == NULL)
        return false;
    size_t n = replay_url_decode(s, len, false, dec);
    bool ok = n + 1 <= outsz && memchr(dec, '\0', n) == NULL;
    if (ok)
        memcpy(out, dec, n + 1);
    free(dec);
    return ok;
}

/* Parses a non-negative decimal in [s, s+len) no larger than max. */
static bool parse_uint(const char *s, size_t len, long max, int *out)
{
    long v = 0;
    if (len == 0 || len > 10)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = (int)v;
    return true;
}

static int url_fail(struct replay_err *err, int code, const char *url, const char *why)
{
    char safe[512];
    replay_redact_url(url, safe, sizeof(safe));
    return replay_err_set(err, code, "Redis URL %s: %s", safe, why);
}

/* The user (up to the first ':') and the password (the rest) of a userinfo. */
static int url_userinfo(struct replay_url_range user, struct replay_url_range password,
                        struct replay_redis_url *out, const char *url, struct replay_err *err)
{
    if (!decode_into(user.ptr, user.len, out->user, sizeof(out->user)))
        return url_fail(err, REPLAY_ECONFIG, url, "user name too long or with %00");
    if (password.ptr != NULL &&
        !decode_into(password.ptr, password.len, out->password, sizeof(out->password)))
        return url_fail(err, REPLAY_ECONFIG, url, "password too long or with %00");
    return 0;
}

/* host[:port] or [v6][:port] in [h, h+len). */
static int url_hostport(const char *h, size_t len, struct replay_redis_url *out, const char *url,
                        struct replay_err *err)
{
    const char *host = h, *port = NULL;
    size_t hlen = len;
    if (len > 0 && h[0] == '[') {
        const char *close = memchr(h, ']', len);
        if (close == NULL)
            return url_fail(err, REPLAY_ECONFIG, url, "unterminated [IPv6] address");
        host = h + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < h + len) {
            if (close[1] != ':')
                return url_fail(err, REPLAY_ECONFIG, url, "junk after the [IPv6] address");
            port = close + 2;
        }
    } else {
        const char *colon = memchr(h, ':', len);
        if (colon != NULL) {
            hlen = (size_t)(colon - h);
            port = colon + 1;
        }
    }
    if (port != NULL && (!parse_uint(port, (size_t)(h + len - port), 65535, &out->port) ||
                         out->port == 0))
        return url_fail(err, REPLAY_ECONFIG, url, "the port is not a number from 1 to 65535");
    if (hlen == 0) {
        strcpy(out->host, "localhost"); /* as redis-py */
        return 0;
    }
    if (!decode_into(host, hlen, out->host, sizeof(out->host)))
        return url_fail(err, REPLAY_ECONFIG, url, "host name too long or with %00");
    return 0;
}

/* The query [q, q+len): "db=N" only. */
static int url_query(const char *q, size_t len, struct replay_redis_url *out, const char *url,
                     struct replay_err *err)
{
    const char *end = q + len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        size_t n = amp != NULL ? (size_t)(amp - q) : (size_t)(end - q);
        if (n > 3 && strncmp(q, "db=", 3) == 0) {
            if (!parse_uint(q + 3, n - 3, INT_MAX, &out->db))
                return url_fail(err, REPLAY_ECONFIG, url, "db is not a non-negative number");
        } else if (n > 0) {
            return url_fail(err, REPLAY_ECONFIG, url,
                            "unsupported query option (only db=N is understood)");
        }
        q += n + (amp != NULL ? 1 : 0);
    }
    return 0;
}

/* redis://[[user]:password@]host[:port][/db][?db=N] */
static int url_parse_tcp(const char *url, const struct replay_url_parts *p,
                         struct replay_redis_url *out, struct replay_err *err)
{
    int rc = 0;
    if (p->userinfo.ptr != NULL && (rc = url_userinfo(p->user, p->password, out, url, err)) < 0)
        return rc;
    if ((rc = url_hostport(p->hostport.ptr, p->hostport.len, out, url, err)) < 0)
        return rc;
    if (p->path.len > 1 && !parse_uint(p->path.ptr + 1, p->path.len - 1, INT_MAX, &out->db))
        return url_fail(err, REPLAY_ECONFIG, url,
                        "the path must be /N, a non-negative database number");
    if (p->fragment.ptr != NULL)
        return url_fail(err, REPLAY_ECONFIG, url, "a fragment (#...) is not allowed");
    return p->query.ptr != NULL ? url_query(p->query.ptr, p->query.len, out, url, err) : 0;
}

/* unix://[[user]:password@]/path[?db=N]: `rest` follows "unix://". */
static int url_parse_unix(const char *url, const char *rest, struct replay_redis_url *out,
                          struct replay_err *err)
{
    int rc;
    if (rest[0] != '/') { /* the userinfo ends at the first "@/" */
        const char *at = strstr(rest, "@/");
        if (at == NULL)
            return url_fail(err, REPLAY_ECONFIG, url,
                            "expected unix://[[user]:password@]/absolute/path");
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        struct replay_url_range user = {rest, colon != NULL ? (size_t)(colon - rest)
                                                            : (size_t)(at - rest)};
        struct replay_url_range password = {colon != NULL ? colon + 1 : NULL,
                                            colon != NULL ? (size_t)(at - colon - 1) : 0};
        if ((rc = url_userinfo(user, password, out, url, err)) < 0)
            return rc;
        rest = at + 1;
    }
    size_t plen = strcspn(rest, "?#");
    if (plen > UNIX_PATH_MAX)
        return url_fail(err, REPLAY_ECONFIG, url, "socket path longer than 107 bytes");
    if (!decode_into(rest, plen, out->host, sizeof(out->host)) || strlen(out->host) < 2)
        return url_fail(err, REPLAY_ECONFIG, url, "no socket path, or one with %00");
    out->is_unix = true;
    out->port = 0;
    if (rest[plen] == '#')
        return url_fail(err, REPLAY_ECONFIG, url, "a fragment (#...) is not allowed");
    const char *q = rest + plen + (rest[plen] == '?' ? 1 : 0);
    return url_query(q, strlen(q), out, url, err);
}

static bool scheme_is(const struct replay_url_parts *p, const char *name)
{
    return p->scheme.len == strlen(name) && strncasecmp(p->scheme.ptr, name, p->scheme.len) == 0;
}

int replay_config_redis_url_parse(const char *url, struct replay_redis_url *out,
                                  struct replay_err *err)
{
    struct replay_url_parts p;
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "Redis URL: no output");
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (url == NULL || url[0] == '\0')
        return replay_err_set(err, REPLAY_ECONFIG, "Redis URL: empty");
    bool split = replay_url_split(url, &p);
    if (split && scheme_is(&p, "redis"))
        return url_parse_tcp(url, &p, out, err);
    if (split && scheme_is(&p, "unix"))
        return url_parse_unix(url, p.scheme.ptr + p.scheme.len + 3, out, err);
    if (split && scheme_is(&p, "rediss"))
        return url_fail(err, REPLAY_EUNSUPPORTED, url,
                        "TLS (rediss://) is not supported by this build: Debian 12's hiredis "
                        "0.14 has no TLS support; reach a TLS Redis through a local TLS tunnel "
                        "(see docs/queues.md) and use redis://");
    return url_fail(err, REPLAY_ECONFIG, url,
                    "not a Redis URL (expected redis://host[:port][/db], rediss:// or "
                    "unix:///path)");
}

int replay_config_check_redis_urls(const struct replay_config *cfg, struct replay_err *err)
{
    const char *const urls[2] = {cfg->redis.url, cfg->redis.persistent_url};
    const char *const keys[2] = {"redis.url", "redis.persistent_url"};
    for (int i = 0; i < 2; i++) {
        struct replay_redis_url parsed;
        if (urls[i] != NULL && replay_config_redis_url_parse(urls[i], &parsed, err) != 0) {
            replay_err_prefix(err, "%s", keys[i]);
            if (err != NULL)
                err->code = REPLAY_ECONFIG; /* rediss:// too: this configuration cannot run */
            return REPLAY_ECONFIG;
        }
    }
    return 0;
}
