/* pyjson: json.dumps-compatible serialisation of jansson values. */
#include "pyjson_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 1000

struct out {
    char *buf;
    size_t len, cap;
    int failed;
};

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *nb = realloc(o->buf, cap);
        if (nb == NULL) {
            o->failed = 1;
            return;
        }
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void out_str(struct out *o, const char *s)
{
    out_put(o, s, strlen(s));
}

/* Decodes one UTF-8 sequence at s[*i..n), strictly: no overlong forms, no
 * surrogates, nothing past U+10FFFF. Returns the code point, or -1 after moving *i
 * past the maximal invalid subpart (the lead byte and the continuation bytes that
 * could still have completed it), which is the unit Python's decoder replaces by
 * one U+FFFD with errors="replace". */
static long utf8_decode(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i], lo = 0x80, hi = 0xbf;
    size_t need;
    long cp;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if (c >= 0xc2 && c <= 0xdf) {
        need = 1; cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2; cp = c & 0x0f;
        lo = c == 0xe0 ? 0xa0 : 0x80; /* overlong below U+0800 */
        hi = c == 0xed ? 0x9f : 0xbf; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3; cp = c & 0x07;
        lo = c == 0xf0 ? 0x90 : 0x80; /* overlong below U+10000 */
        hi = c == 0xf4 ? 0x8f : 0xbf; /* past U+10FFFF */
    } else {
        (*i)++;
        return -1;
    }
    size_t k = 1;
    for (; k <= need && *i + k < n; k++) {
        unsigned char cc = s[*i + k];
        if (cc < lo || cc > hi)
            break;
        cp = (cp << 6) | (cc & 0x3f);
        lo = 0x80;
        hi = 0xbf;
    }
    *i += k;
    return k == need + 1 ? cp : -1;
}

size_t replay__pyjson_utf8_len(const char *s, size_t n)
{
    size_t i = 0;
    return n > 0 && utf8_decode((const unsigned char *)s, n, &i) >= 0 ? i : 0;
}

static void put_u16(replay__pyjson_sink put, void *ctx, unsigned v)
{
    char esc[8];
    snprintf(esc, sizeof(esc), "\\u%04x", v & 0xffffu);
    put(ctx, esc, 6);
}

static void put_code_point(replay__pyjson_sink put, void *ctx, long cp)
{
    if (cp >= 0x10000) {
        cp -= 0x10000;
        put_u16(put, ctx, 0xd800u | (unsigned)(cp >> 10));
        put_u16(put, ctx, 0xdc00u | (unsigned)(cp & 0x3ff));
    } else {
        put_u16(put, ctx, (unsigned)cp);
    }
}

static const char *short_escape(unsigned char c)
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: return NULL;
    }
}

int replay__pyjson_escape(const char *s, size_t n, unsigned flags, replay__pyjson_sink put,
                          void *ctx)
{
    const unsigned char *u = (const unsigned char *)s;
    put(ctx, "\"", 1);
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && u[run] >= 0x20 && u[run] <= 0x7e && short_escape(u[run]) == NULL)
            run++;
        if (run > i) { /* printable ASCII goes out as it is, a run at a time */
            put(ctx, s + i, run - i);
            i = run;
            continue;
        }
        const char *sf = short_escape(u[i]);
        if (sf != NULL) {
            put(ctx, sf, 2);
            i++;
            continue;
        }
        long cp = utf8_decode(u, n, &i);
        if (cp < 0 && !(flags & REPLAY__PYJSON_REPLACE))
            return -1;
        put_code_point(put, ctx, cp < 0 ? 0xfffd : cp);
    }
    put(ctx, "\"", 1);
    return 0;
}

static void out_sink(void *ctx, const char *s, size_t n)
{
    out_put(ctx, s, n);
}

static void dump_string(struct out *o, const char *s, size_t n)
{
    if (replay__pyjson_escape(s, n, 0, out_sink, o) != 0)
        o->failed = 1;
}

/* Python repr of a float: shortest digits that round-trip, positional notation
 * for 1e-4 <= |x| < 1e16, exponent notation otherwise. */
static void dump_real(struct out *o, double x)
{
    if (isnan(x)) {
        out_str(o, "NaN");
        return;
    }
    if (isinf(x)) {
        out_str(o, x < 0 ? "-Infinity" : "Infinity");
        return;
    }
    char e[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, x);
        if (strtod(e, NULL) == x)
            break;
    }
    /* e = "[-]d.ddde[+-]XX": take the digits and the decimal exponent. */
    char digits[32];
    size_t nd = 0;
    const char *p = e;
    int neg = (*p == '-');
    if (neg)
        p++;
    for (; *p != 'e'; p++) {
        if (*p != '.')
            digits[nd++] = *p;
    }
    digits[nd] = '\0';
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    char buf[64];
    size_t b = 0;
    if (neg)
        buf[b++] = '-';
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            buf[b++] = '0';
            buf[b++] = '.';
            for (int k = -1; k > exp10; k--)
                buf[b++] = '0';
            memcpy(buf + b, digits, nd);
            b += nd;
        } else {
            for (int k = 0; k <= exp10; k++)
                buf[b++] = (size_t)k < nd ? digits[k] : '0';
            buf[b++] = '.';
            if ((size_t)exp10 + 1 < nd) {
                memcpy(buf + b, digits + exp10 + 1, nd - (size_t)exp10 - 1);
                b += nd - (size_t)exp10 - 1;
            } else {
                buf[b++] = '0';
            }
        }
        buf[b] = '\0';
    } else {
        buf[b++] = digits[0];
        if (nd > 1) {
            buf[b++] = '.';
            memcpy(buf + b, digits + 1, nd - 1);
            b += nd - 1;
        }
        snprintf(buf + b, sizeof(buf) - b, "e%c%02d", exp10 < 0 ? '-' : '+',
                 exp10 < 0 ? -exp10 : exp10);
    }
    out_str(o, buf);
}

static void dump_value(struct out *o, const json_t *v, unsigned flags, int depth);

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void dump_object(struct out *o, const json_t *v, unsigned flags, int depth)
{
    const char *item_sep = (flags & REPLAY__PYJSON_COMPACT) ? "," : ", ";
    const char *key_sep = (flags & REPLAY__PYJSON_COMPACT) ? ":" : ": ";
    size_t n = json_object_size(v);
    const char **keys = malloc((n ? n : 1) * sizeof(*keys));
    if (keys == NULL) {
        o->failed = 1;
        return;
    }
    size_t k = 0;
    const char *key;
    json_t *child;
    json_object_foreach((json_t *)v, key, child)
        keys[k++] = key;
    /* UTF-8 byte order is code point order, which is Python's str order. */
    if (flags & REPLAY__PYJSON_SORT_KEYS)
        qsort(keys, n, sizeof(*keys), key_cmp);
    out_put(o, "{", 1);
    for (k = 0; k < n && !o->failed; k++) {
        if (k > 0)
            out_str(o, item_sep);
        dump_string(o, keys[k], strlen(keys[k]));
        out_str(o, key_sep);
        dump_value(o, json_object_get(v, keys[k]), flags, depth + 1);
    }
    out_put(o, "}", 1);
    free(keys);
}

static void dump_value(struct out *o, const json_t *v, unsigned flags, int depth)
{
    char num[32];
    if (depth > MAX_DEPTH) {
        o->failed = 1;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        dump_object(o, v, flags, depth);
        break;
    case JSON_ARRAY:
        out_put(o, "[", 1);
        for (size_t i = 0; i < json_array_size(v) && !o->failed; i++) {
            if (i > 0)
                out_str(o, (flags & REPLAY__PYJSON_COMPACT) ? "," : ", ");
            dump_value(o, json_array_get(v, i), flags, depth + 1);
        }
        out_put(o, "]", 1);
        break;
    case JSON_STRING:
        dump_string(o, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        out_str(o, num);
        break;
    case JSON_REAL:
        dump_real(o, json_real_value(v));
        break;
    case JSON_TRUE:
        out_str(o, "true");
        break;
    case JSON_FALSE:
        out_str(o, "false");
        break;
    case JSON_NULL:
        out_str(o, "null");
        break;
    }
}

char *replay__pyjson_dumps(const json_t *value, unsigned flags, size_t *len)
{
    struct out o = {0};
    if (value == NULL)
        return NULL;
    dump_value(&o, value, flags, 0);
    out_put(&o, "", 0);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    if (len != NULL)
        *len = o.len;
    return o.buf;
}
