/*
 * filestore URL parsing, as Assemblyline does it with Python's urlparse and
 * parse_qs (formats.md §5.1). The quirks users' URLs rely on are kept:
 *  - leading spaces/control characters are dropped, tabs and newlines removed;
 *  - userinfo ends at the LAST '@' of the authority; the user is up to the FIRST
 *    ':' and is not decoded; the password is the rest, percent-decoded (the
 *    split is replay_url_split()'s, shared with redact and the Redis URLs);
 *  - the host is lower-cased, IPv6 brackets removed; host "." makes the path
 *    relative ("file://./x" → "./x");
 *  - for ftp, sftp, http and https a ";params" suffix of the last path segment is
 *    cut off (urlparse's params);
 *  - query pairs split on '&'; keys and values are percent-decoded with '+' as a
 *    space; pairs without '=' or with an empty value are dropped; the first
 *    value of a key wins.
 * We are stricter in one place: a port must be ASCII digits (urlparse also takes
 * "+80" or " 80").
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filestore_int.h"
#include "replay/redact.h"
#include "replay/url.h"

static const char *const known_schemes[] = {
    "file", "ftp", "ftps", "sftp", "s3", "azure", "http", "https",
};

char *replay__fs_pct_decode(const char *s, size_t len, bool plus_is_space)
{
    char *out = malloc(len + 1);
    if (out != NULL)
        replay_url_decode(s, len, plus_is_space, out);
    return out;
}

static char *dup_range(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out != NULL) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

void replay__fs_url_clear(struct replay__fs_url *u)
{
    if (u == NULL)
        return;
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->base);
    for (size_t i = 0; i < u->n_query; i++) {
        free(u->query[i].key);
        free(u->query[i].value);
    }
    memset(u, 0, sizeof(*u));
}

/* Python's urlsplit preprocessing: lstrip C0 controls and space, drop \t \r \n. */
static char *clean_url(const char *url)
{
    while (*url != '\0' && (unsigned char)*url <= 0x20)
        url++;
    size_t n = strlen(url);
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (url[i] != '\t' && url[i] != '\r' && url[i] != '\n')
            out[o++] = url[i];
    }
    out[o] = '\0';
    return out;
}

/* Splits "scheme:" off; *rest points after the ':' (or at s when no scheme). */
static void split_scheme(const char *s, char *scheme, size_t scheme_sz, const char **rest)
{
    scheme[0] = '\0';
    *rest = s;
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s || !isalpha((unsigned char)s[0]))
        return;
    for (const char *p = s; p < colon; p++) {
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return;
    }
    size_t n = (size_t)(colon - s);
    if (n >= scheme_sz) {
        /* Longer than any known scheme: keep a truncated copy for the message. */
        n = scheme_sz - 1;
    }
    for (size_t i = 0; i < n; i++)
        scheme[i] = (char)tolower((unsigned char)s[i]);
    scheme[n] = '\0';
    *rest = colon + 1;
}

static bool scheme_uses_params(const char *scheme)
{
    return strcmp(scheme, "ftp") == 0 || strcmp(scheme, "sftp") == 0 ||
           strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0;
}

static int parse_port(const char *p, size_t len, int *port, const char *shown,
                      struct replay_err *err)
{
    long v = 0;
    if (len == 0) {
        *port = 0;
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)p[i]))
            return replay_err_set(err, REPLAY_ECONFIG,
                                  "filestore URL %s: port is not a number", shown);
        v = v * 10 + (p[i] - '0');
        if (v > 65535)
            return replay_err_set(err, REPLAY_ECONFIG,
                                  "filestore URL %s: port out of range 0-65535", shown);
    }
    *port = (int)v;
    return 0;
}

/* Host and port from the part of the authority after the userinfo. */
static int parse_hostport(const char *h, size_t len, struct replay__fs_url *u, const char *shown,
                          struct replay_err *err)
{
    const char *host = h, *port = NULL;
    size_t host_len = len, port_len = 0;
    const char *open = memchr(h, '[', len);
    if (open != NULL) {
        const char *close = memchr(open, ']', len - (size_t)(open - h));
        if (close == NULL)
            return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: invalid IPv6 host",
                                  shown);
        host = open + 1;
        host_len = (size_t)(close - host);
        const char *colon = memchr(close, ':', len - (size_t)(close - h));
        if (colon != NULL) {
            port = colon + 1;
            port_len = len - (size_t)(port - h);
        }
    } else {
        const char *colon = memchr(h, ':', len);
        if (colon != NULL) {
            host_len = (size_t)(colon - h);
            port = colon + 1;
            port_len = len - (size_t)(port - h);
        }
    }
    u->host = dup_range(host, host_len);
    if (u->host == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore URL: out of memory");
    for (char *c = u->host; *c != '\0'; c++)
        *c = (char)tolower((unsigned char)*c);
    return parse_port(port, port_len, &u->port, shown, err);
}

/* The authority of "scheme://...": userinfo as replay_url_split() cuts it (last
 * '@', then first ':'), host and port. *rest gets what follows the authority. */
static int parse_authority(const char *s, const char **rest, struct replay__fs_url *u,
                           const char *shown, struct replay_err *err)
{
    struct replay_url_parts p;
    if (!replay_url_split(s, &p))
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: not a URL", shown);
    const char *a = p.userinfo.ptr != NULL ? p.userinfo.ptr : p.hostport.ptr;
    size_t len = (size_t)(p.hostport.ptr + p.hostport.len - a);
    bool open = memchr(a, '[', len) != NULL, close = memchr(a, ']', len) != NULL;
    if (open != close)
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: invalid IPv6 host", shown);
    if (p.userinfo.ptr != NULL) {
        u->user = dup_range(p.user.ptr, p.user.len);
        u->password = p.password.ptr != NULL
                          ? replay__fs_pct_decode(p.password.ptr, p.password.len, false)
                          : dup_range("", 0);
        if (u->user == NULL || u->password == NULL)
            return replay_err_set(err, REPLAY_ENOMEM, "filestore URL: out of memory");
    }
    *rest = p.hostport.ptr + p.hostport.len;
    return parse_hostport(p.hostport.ptr, p.hostport.len, u, shown, err);
}

static int add_query_pair(struct replay__fs_url *u, const char *p, size_t len, const char *shown,
                          struct replay_err *err)
{
    const char *eq = memchr(p, '=', len);
    if (eq == NULL || eq + 1 == p + len)
        return 0; /* no '=' or empty value: dropped, as parse_qs does */
    if (u->n_query == REPLAY__FS_MAX_QUERY)
        return replay_err_set(err, REPLAY_ETOOBIG,
                              "filestore URL %s: more than %d query options", shown,
                              REPLAY__FS_MAX_QUERY);
    struct replay__fs_query *q = &u->query[u->n_query];
    q->key = replay__fs_pct_decode(p, (size_t)(eq - p), true);
    q->value = replay__fs_pct_decode(eq + 1, len - (size_t)(eq + 1 - p), true);
    u->n_query++;
    if (q->key == NULL || q->value == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore URL: out of memory");
    return 0;
}

static int parse_query(const char *q, size_t len, struct replay__fs_url *u, const char *shown,
                       struct replay_err *err)
{
    const char *end = q + len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        size_t n = amp != NULL ? (size_t)(amp - q) : (size_t)(end - q);
        int rc = add_query_pair(u, q, n, shown, err);
        if (rc != 0)
            return rc;
        q += n + (amp != NULL ? 1 : 0);
    }
    return 0;
}

static bool known_scheme(const char *scheme)
{
    for (size_t i = 0; i < sizeof(known_schemes) / sizeof(known_schemes[0]); i++) {
        if (strcmp(scheme, known_schemes[i]) == 0)
            return true;
    }
    return false;
}

/* Path (minus urlparse params) → u->base. */
static int set_base(const char *path, size_t len, struct replay__fs_url *u)
{
    if (scheme_uses_params(u->scheme)) {
        const char *last_slash = NULL;
        for (size_t i = 0; i < len; i++) {
            if (path[i] == '/')
                last_slash = path + i;
        }
        const char *from = last_slash != NULL ? last_slash : path;
        const char *semi = memchr(from, ';', len - (size_t)(from - path));
        if (semi != NULL)
            len = (size_t)(semi - path);
    }
    bool dot = strcmp(u->host, ".") == 0;
    size_t n = (dot ? 1 : 0) + (len == 0 ? 1 : len);
    u->base = malloc(n + 1);
    if (u->base == NULL)
        return REPLAY_ENOMEM;
    snprintf(u->base, n + 1, "%s%.*s", dot ? "." : "", (int)(len == 0 ? 1 : len),
             len == 0 ? "/" : path);
    return 0;
}

static int parse_clean(const char *s, struct replay__fs_url *u, const char *shown,
                       struct replay_err *err)
{
    const char *rest;
    split_scheme(s, u->scheme, sizeof(u->scheme), &rest);
    if (!known_scheme(u->scheme))
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: Unknown transport: %s",
                              shown, u->scheme);
    /* "scheme:path" has no authority, and so no host, user or password. */
    int rc = strncmp(rest, "//", 2) == 0 ? parse_authority(s, &rest, u, shown, err)
                                         : parse_hostport(rest, 0, u, shown, err);
    if (rc != 0)
        return rc;
    if (u->user == NULL && (u->user = dup_range("", 0)) == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore URL: out of memory");
    if (u->password == NULL && (u->password = dup_range("", 0)) == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore URL: out of memory");
    size_t frag = strcspn(rest, "#");
    size_t path_len = strcspn(rest, "?#");
    if (set_base(rest, path_len, u) != 0)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore URL: out of memory");
    if (path_len < frag && rest[path_len] == '?')
        return parse_query(rest + path_len + 1, frag - path_len - 1, u, shown, err);
    return 0;
}

int replay__fs_url_parse(const char *url, struct replay__fs_url *u, struct replay_err *err)
{
    memset(u, 0, sizeof(*u));
    if (url == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "filestore URL: none given");
    char shown[REPLAY__FS_SHOWN_MAX];
    replay_redact_url(url, shown, sizeof(shown));
    if (strlen(url) > REPLAY__FS_MAX_URL)
        return replay_err_set(err, REPLAY_ETOOBIG, "filestore URL %.80s...: longer than %d bytes",
                              shown, REPLAY__FS_MAX_URL);
    char *s = clean_url(url);
    if (s == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore URL: out of memory");
    int rc = parse_clean(s, u, shown, err);
    free(s);
    if (rc != 0)
        replay__fs_url_clear(u);
    return rc;
}

const char *replay__fs_url_opt(const struct replay__fs_url *u, const char *key)
{
    for (size_t i = 0; i < u->n_query; i++) {
        if (strcmp(u->query[i].key, key) == 0)
            return u->query[i].value;
    }
    return NULL;
}

bool replay__fs_url_bool(const struct replay__fs_url *u, const char *key, bool dflt)
{
    const char *v = replay__fs_url_opt(u, key);
    if (v == NULL)
        return dflt;
    return strcasecmp(v, "true") == 0;
}

int replay__fs_url_encode(const char *s, bool keep_slash, char *out, size_t outsz,
                          struct replay_err *err)
{
    if (replay_url_quote(s, keep_slash ? "/" : "", out, outsz) >= outsz)
        return replay_err_set(err, REPLAY_ETOOBIG, "URL path of '%.60s' is too long", s);
    return 0;
}
