/* url: splitting, percent-decoding and percent-encoding shared by every URL user. */
#include "replay/url.h"

#include <string.h>

static bool scheme_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '-' || c == '.';
}

static struct replay_url_range range(const char *from, const char *to)
{
    return (struct replay_url_range){from, (size_t)(to - from)};
}

/* userinfo@hostport: the userinfo ends at the last '@', the user at its first ':'. */
static void split_authority(const char *a, const char *end, struct replay_url_parts *out)
{
    const char *at = NULL;
    for (const char *c = a; c < end; c++) {
        if (*c == '@')
            at = c;
    }
    if (at == NULL) {
        out->hostport = range(a, end);
        return;
    }
    out->userinfo = range(a, at);
    const char *colon = memchr(a, ':', (size_t)(at - a));
    out->user = range(a, colon != NULL ? colon : at);
    if (colon != NULL)
        out->password = range(colon + 1, at);
    out->hostport = range(at + 1, end);
}

bool replay_url_split(const char *url, struct replay_url_parts *out)
{
    memset(out, 0, sizeof(*out));
    const char *sep = url != NULL ? strstr(url, "://") : NULL;
    if (sep == NULL || sep == url)
        return false;
    for (const char *p = url; p < sep; p++) {
        if (!scheme_char(*p))
            return false;
    }
    out->scheme = range(url, sep);
    const char *a = sep + 3;
    const char *a_end = a + strcspn(a, "/?#");
    split_authority(a, a_end, out);
    const char *p = a_end;
    const char *p_end = p + strcspn(p, "?#");
    if (p_end > p)
        out->path = range(p, p_end);
    if (*p_end == '?') {
        const char *q = p_end + 1;
        const char *q_end = q + strcspn(q, "#");
        out->query = range(q, q_end);
        p_end = q_end;
    }
    if (*p_end == '#')
        out->fragment = range(p_end + 1, p_end + 1 + strlen(p_end + 1));
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t replay_url_decode(const char *s, size_t len, bool plus_is_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (plus_is_space && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return o;
}

static bool always_safe(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-' || c == '~';
}

size_t replay_url_quote(const char *s, const char *safe, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool keep = always_safe(*p) || (safe != NULL && strchr(safe, *p) != NULL);
        char enc[3] = {(char)*p, hex[*p >> 4], hex[*p & 15]};
        if (!keep)
            enc[0] = '%';
        for (size_t i = 0; i < (keep ? 1u : 3u); i++, n++) {
            if (n + 1 < outsz)
                out[n] = enc[i];
        }
    }
    if (outsz > 0)
        out[n < outsz ? n : outsz - 1] = '\0';
    return n;
}
