/* simutil: small helpers for al-sim (see simutil.h). */
#include "simutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pyjson_int.h"

static void random_bytes(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (errno != EINTR)
            break;
    }
    for (; got < n; got++) /* getrandom cannot fail on Linux ≥ 3.17; belt and braces */
        buf[got] = (unsigned char)rand();
}

void alsim_random_id(char out[23])
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char r[22];
    random_bytes(r, sizeof(r));
    for (int i = 0; i < 22; i++)
        out[i] = b62[r[i] % 62];
    out[22] = '\0';
}

void alsim_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void alsim_random_hex(char *out, size_t n)
{
    unsigned char buf[64];
    while (n > 0) {
        size_t k = n > sizeof(buf) ? sizeof(buf) : n;
        random_bytes(buf, k);
        alsim_hex(buf, k, out);
        out += 2 * k;
        n -= k;
    }
}

void alsim_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    alsim_hex(md, 32, out);
}

/* ---- Python repr ---- */

struct sbuf {
    char *p;
    size_t len, cap, limit;
    bool oom, cut;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom || b->cut)
        return;
    if (b->len + n > b->limit) {
        n = b->limit > b->len ? b->limit - b->len : 0;
        b->cut = true;
    }
    if (b->len + n + 4 > b->cap) {
        size_t cap = (b->len + n + 4) * 2;
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Decodes one UTF-8 code point (jansson strings are valid UTF-8). */
static uint32_t utf8_next(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t c = *p++;
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    c &= extra == 3 ? 0x07 : extra == 2 ? 0x0F : extra == 1 ? 0x1F : 0x7F;
    while (extra-- > 0 && (*p & 0xC0) == 0x80)
        c = (c << 6) | (*p++ & 0x3F);
    *s = p;
    return c;
}

/* Python repr of a str: single quotes unless the text has ' and no ". */
static void repr_string(struct sbuf *b, const char *s, size_t n)
{
    bool sq = memchr(s, '\'', n) != NULL, dq = memchr(s, '"', n) != NULL;
    char q = sq && !dq ? '"' : '\'';
    sb_put(b, &q, 1);
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        const unsigned char *start = p;
        uint32_t c = utf8_next(&p);
        char esc[16];
        if (c == (uint32_t)q || c == '\\') {
            snprintf(esc, sizeof(esc), "\\%c", (char)c);
            sb_str(b, esc);
        } else if (c == '\n' || c == '\r' || c == '\t') {
            sb_str(b, c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t");
        } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)) {
            snprintf(esc, sizeof(esc), "\\x%02x", c);
            sb_str(b, esc);
        } else {
            sb_put(b, (const char *)start, (size_t)(p - start));
        }
    }
    sb_put(b, &q, 1);
}

/* Python prints numbers in a dict as repr() does, the same text as json.dumps. */
static void repr_number(struct sbuf *b, const json_t *v)
{
    char *num = replay__pyjson_dumps(v, 0, NULL);
    sb_str(b, num != NULL ? num : "?");
    free(num);
}

static void repr(struct sbuf *b, const json_t *v, int depth)
{
    if (depth > 64) {
        sb_str(b, "...");
        return;
    }
    if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        bool first = true;
        sb_str(b, "{");
        json_object_foreach((json_t *)v, k, e) {
            sb_str(b, first ? "" : ", ");
            first = false;
            repr_string(b, k, strlen(k));
            sb_str(b, ": ");
            repr(b, e, depth + 1);
        }
        sb_str(b, "}");
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        sb_str(b, "[");
        json_array_foreach(v, i, e) {
            sb_str(b, i ? ", " : "");
            repr(b, e, depth + 1);
        }
        sb_str(b, "]");
    } else if (json_is_string(v)) {
        repr_string(b, json_string_value(v), json_string_length(v));
    } else if (json_is_number(v)) {
        repr_number(b, v);
    } else {
        sb_str(b, json_is_true(v) ? "True" : json_is_false(v) ? "False" : "None");
    }
}

char *alsim_pyrepr(const json_t *v, size_t cap)
{
    struct sbuf b = {.limit = cap};
    repr(&b, v, 0);
    if (b.cut) {
        b.cut = false;
        b.limit = b.len + 3;
        sb_str(&b, "...");
    }
    sb_put(&b, "", 0);
    if (b.oom || b.p == NULL) {
        free(b.p);
        return b.oom ? NULL : strdup("");
    }
    b.p[b.len] = '\0';
    return b.p;
}

/* ---- files ---- */

int alsim_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

ssize_t alsim_read_full(int fd, void *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, (char *)buf + got, cap - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int alsim_mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

static void rm_rec(const char *path, int depth)
{
    DIR *d = depth < 8 ? opendir(path) : NULL;
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[4096];
            if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= (int)sizeof(sub))
                continue;
            struct stat st;
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
                rm_rec(sub, depth + 1);
                rmdir(sub);
            } else {
                unlink(sub);
            }
        }
        closedir(d);
    }
}

void alsim_rm_tree(const char *path)
{
    rm_rec(path, 0);
}

bool alsim_py_truthy(const json_t *v)
{
    if (v == NULL || json_is_null(v) || json_is_false(v))
        return false;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (json_is_number(v))
        return json_number_value(v) != 0;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    return !json_is_object(v) || json_object_size(v) > 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

size_t alsim_b64_feed(struct alsim_b64 *d, const unsigned char *in, size_t n, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n && !d->done; i++) {
        if (in[i] == '=') {
            if (d->quad >= 2 && d->quad + ++d->pads >= 4)
                d->done = true;
            continue;
        }
        int v = b64_value(in[i]);
        if (v < 0)
            continue;
        d->pads = 0;
        d->acc = (d->acc << 6) | (unsigned)v;
        if (++d->quad == 1)
            continue;
        out[o++] = (unsigned char)(d->acc >> (2 * (4 - d->quad)));
        d->acc &= (1u << (2 * (4 - d->quad))) - 1;
        d->quad %= 4;
    }
    return o;
}

bool alsim_b64_complete(const struct alsim_b64 *d)
{
    return d->done || d->quad == 0;
}

bool alsim_flag_true(const char *v)
{
    return v != NULL && (v[0] == '\0' || strcasecmp(v, "true") == 0);
}
