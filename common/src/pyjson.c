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

/* Decodes one UTF-8 sequence at s[*i..n); returns the code point or -1. */
static long utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned char c = s[*i];
    int extra;
    long cp;
    if (c < 0x80) {
        (*i)++;
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        extra = 1; cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        extra = 2; cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        extra = 3; cp = c & 0x07;
    } else {
        return -1;
    }
    if (*i + (size_t)extra >= n)
        return -1;
    for (int k = 1; k <= extra; k++) {
        unsigned char cc = s[*i + (size_t)k];
        if ((cc & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (cc & 0x3f);
    }
    *i += (size_t)extra + 1;
    return cp;
}

static void out_u16(struct out *o, unsigned v)
{
    char esc[8];
    snprintf(esc, sizeof(esc), "\\u%04x", v & 0xffffu);
    out_put(o, esc, 6);
}

static void dump_string(struct out *o, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    out_put(o, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        const char *shortform = NULL;
        switch (c) {
        case '"': shortform = "\\\""; break;
        case '\\': shortform = "\\\\"; break;
        case '\n': shortform = "\\n"; break;
        case '\r': shortform = "\\r"; break;
        case '\t': shortform = "\\t"; break;
        case '\b': shortform = "\\b"; break;
        case '\f': shortform = "\\f"; break;
        default: break;
        }
        if (shortform != NULL) {
            out_put(o, shortform, 2);
            i++;
        } else if (c >= 0x20 && c <= 0x7e) {
            out_put(o, (const char *)&u[i], 1);
            i++;
        } else {
            long cp = utf8_next(u, n, &i);
            if (cp < 0) {
                o->failed = 1;
                return;
            }
            if (cp >= 0x10000) {
                cp -= 0x10000;
                out_u16(o, 0xd800u | (unsigned)(cp >> 10));
                out_u16(o, 0xdc00u | (unsigned)(cp & 0x3ff));
            } else {
                out_u16(o, (unsigned)cp);
            }
        }
    }
    out_put(o, "\"", 1);
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
