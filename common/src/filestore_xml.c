/*
 * filestore_xml: just enough XML reading for the answers of S3 and Azure Blob
 * (listings, upload ids, error codes): find an element by name, copy its text
 * with the five predefined entities and numeric character references decoded.
 * It works on a bounded buffer, allocates at most one text buffer, and treats
 * anything unexpected as "absent" rather than guessing.
 */
#include <stdlib.h>
#include <string.h>

#include "filestore_int.h"

/* Finds "<tag" followed by '>', '/' or white space in [p, end). */
static const char *find_open(const char *p, const char *end, const char *tag)
{
    size_t tlen = strlen(tag);
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (lt == NULL || (size_t)(end - lt) < tlen + 2)
            return NULL;
        const char *after = lt + 1 + tlen;
        if (memcmp(lt + 1, tag, tlen) == 0 &&
            (*after == '>' || *after == '/' || *after == ' ' || *after == '\t' ||
             *after == '\r' || *after == '\n'))
            return lt;
        p = lt + 1;
    }
    return NULL;
}

/* Finds "</tag>" in [p, end). */
static const char *find_close(const char *p, const char *end, const char *tag)
{
    size_t tlen = strlen(tag);
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (lt == NULL || (size_t)(end - lt) < tlen + 3)
            return NULL;
        if (lt[1] == '/' && memcmp(lt + 2, tag, tlen) == 0 && lt[2 + tlen] == '>')
            return lt;
        p = lt + 1;
    }
    return NULL;
}

static size_t utf8_put(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decodes the entity at p (just after '&', up to ';'). Returns the bytes
 * written to out (at most 4) and sets *used; 0 when malformed. */
static size_t entity(const char *p, const char *end, char *out, size_t *used)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);
    if (semi == NULL)
        return 0;
    size_t n = (size_t)(semi - p);
    *used = n + 1;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        if (strlen(named[i].name) == n && memcmp(p, named[i].name, n) == 0) {
            out[0] = named[i].c;
            return 1;
        }
    }
    if (n < 2 || p[0] != '#')
        return 0;
    bool hex = p[1] == 'x' || p[1] == 'X';
    unsigned long cp = 0;
    for (const char *c = p + (hex ? 2 : 1); c < semi; c++) {
        int d = (*c >= '0' && *c <= '9')             ? *c - '0'
                : hex && (*c >= 'a' && *c <= 'f')   ? *c - 'a' + 10
                : hex && (*c >= 'A' && *c <= 'F')   ? *c - 'A' + 10
                                                    : -1;
        if (d < 0 || cp > 0x10ffff)
            return 0;
        cp = cp * (hex ? 16u : 10u) + (unsigned long)d;
    }
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
        p + (hex ? 2 : 1) == semi)
        return 0;
    return utf8_put(cp, out);
}

/* Copies [p, end) to out decoding entities. false when malformed or too long. */
static bool copy_text(const char *p, const char *end, char *out, size_t outsz)
{
    size_t o = 0;
    while (p < end) {
        char tmp[4];
        size_t n = 1, used = 1;
        if (*p == '&') {
            n = entity(p + 1, end, tmp, &used);
            if (n == 0)
                return false;
            used += 1;
        } else if (*p == '<' || *p == '\0') {
            return false; /* nested element or NUL: not a text node */
        } else {
            tmp[0] = *p;
        }
        if (o + n >= outsz)
            return false;
        memcpy(out + o, tmp, n);
        o += n;
        p += used;
    }
    if (outsz == 0)
        return false;
    out[o] = '\0';
    return true;
}

const char *replay__xml_text(const char *xml, size_t len, const char *tag, char *out,
                             size_t outsz)
{
    if (outsz == 0)
        return NULL;
    out[0] = '\0';
    const char *end = xml + len;
    const char *open = find_open(xml, end, tag);
    const char *gt = open != NULL ? memchr(open, '>', (size_t)(end - open)) : NULL;
    if (gt == NULL)
        return NULL;
    if (gt[-1] == '/') /* <tag/> */
        return gt + 1;
    const char *close = find_close(gt + 1, end, tag);
    if (close == NULL || !copy_text(gt + 1, close, out, outsz)) {
        out[0] = '\0'; /* a text cut half-way is no text */
        return NULL;
    }
    return close + strlen(tag) + 3;
}

int replay__xml_each(const char *xml, size_t len, const char *outer, const char *inner,
                     size_t maxlen, int (*fn)(const char *text, void *ctx), void *ctx)
{
    const char *p = xml, *end = xml + len;
    char *text = malloc(maxlen + 1);
    if (text == NULL)
        return REPLAY_ENOMEM;
    int rc = 0;
    while (rc == 0) {
        const char *open = find_open(p, end, outer);
        if (open == NULL)
            break;
        const char *close = find_close(open + 1, end, outer);
        if (close == NULL)
            break;
        if (replay__xml_text(open, (size_t)(close - open), inner, text, maxlen + 1) != NULL)
            rc = fn(text, ctx);
        p = close + 1;
    }
    free(text);
    return rc;
}
