/* jsonstream: a streaming JSON checker and top-level array splitter (jsonstream.h). */
#include "replay/jsonstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum state {
    S_VALUE,     /* a value must start */
    S_ARR_FIRST, /* after '[': a value or ']' */
    S_OBJ_FIRST, /* after '{': a key or '}' */
    S_OBJ_KEY,   /* after ',' in an object: a key */
    S_COLON,     /* after a key */
    S_AFTER,     /* after a value inside a container: ',' or the closing bracket */
    S_DONE,      /* after the top-level value: whitespace only */
    S_STR,       /* inside a string */
    S_UTF8,      /* inside a multi-byte UTF-8 sequence of a string */
    S_ESC,       /* after a backslash */
    S_HEX,       /* inside \uXXXX */
    S_MINUS,     /* number: after '-' */
    S_ZERO,      /* number: a leading 0 */
    S_INT,       /* number: integer digits */
    S_FRAC0,     /* number: after '.' */
    S_FRAC,      /* number: fraction digits */
    S_EXP0,      /* number: after 'e' */
    S_EXPSIGN,   /* number: after the exponent's sign */
    S_EXP,       /* number: exponent digits */
    S_LIT,       /* true, false, null, NaN, Infinity */
    S_FAILED,    /* an error was returned */
};

enum { C_ARRAY = 0, C_OBJECT = 1 };

struct replay_jsonstream {
    struct replay_jsonstream_opts o;
    enum state st;
    bool started;     /* a value has begun */
    bool key;         /* the string being read is an object key */
    uint8_t utf_need; /* continuation bytes still expected */
    uint8_t utf_lo, utf_hi; /* range of the next continuation byte */
    uint8_t hex_left;
    const char *lit;  /* the literal being matched and the bytes matched so far */
    size_t lit_pos;
    unsigned depth;
    uint8_t *stack;   /* C_ARRAY / C_OBJECT per level */
    uint64_t offset;  /* bytes fed before the current piece */
    size_t n_items;
    /* the element being buffered (on_item only) */
    bool in_item, item_over;
    size_t item_index, from; /* `from`: where its unsaved bytes start in the current piece */
    uint64_t item_offset;
    char *buf;
    size_t len, cap;
    char skipped[64];
};

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(uint8_t c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Marks the stream failed and formats "invalid JSON at byte N: what". */
static int bad(struct replay_jsonstream *s, size_t i, struct replay_err *err, const char *what)
{
    s->st = S_FAILED;
    return replay_err_set(err, REPLAY_EFORMAT, "invalid JSON at byte %llu: %s",
                          (unsigned long long)(s->offset + i), what);
}

/* ---- element buffer ---- */

static int item_append(struct replay_jsonstream *s, const uint8_t *p, size_t n,
                       struct replay_err *err)
{
    if (!s->item_over && s->len + n > s->o.max_item) {
        s->item_over = true;
        snprintf(s->skipped, sizeof(s->skipped), "larger than %zu bytes", s->o.max_item);
    }
    if (s->item_over) {
        s->len += n;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap != 0 ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        if (cap > s->o.max_item + 1)
            cap = s->o.max_item + 1;
        char *b = realloc(s->buf, cap);
        if (b == NULL) {
            s->st = S_FAILED;
            return replay_err_set(err, REPLAY_ENOMEM, "out of memory for a JSON element");
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return 0;
}

static int emit(struct replay_jsonstream *s, struct replay_err *err)
{
    struct replay_jsonstream_item it = {
        .index = s->item_index,
        .offset = s->item_offset,
        .json = s->item_over ? NULL : (s->buf != NULL ? s->buf : ""),
        .len = s->len,
        .skipped = s->item_over ? s->skipped : NULL,
    };
    s->in_item = false;
    int code = s->o.on_item(s->o.ctx, &it, err);
    if (code != 0) {
        s->st = S_FAILED;
        return code < 0 ? code : replay_err_set(err, REPLAY_EINVAL, "on_item returned %d", code);
    }
    return 0;
}

/* ---- values ---- */

/* A value starts at p[i]. Directly inside the top-level array it is an element. */
static void value_begins(struct replay_jsonstream *s, size_t i)
{
    s->started = true;
    if (s->depth != 1 || s->stack[0] != C_ARRAY)
        return;
    s->item_index = s->n_items++;
    if (s->o.on_item == NULL)
        return;
    s->in_item = true;
    s->item_over = false;
    s->len = 0;
    s->from = i;
    s->item_offset = s->offset + i;
}

/* A value ended just before p[end]; an element that ends there is handed out. */
static int value_ends(struct replay_jsonstream *s, const uint8_t *p, size_t end,
                      struct replay_err *err)
{
    s->st = s->depth == 0 ? S_DONE : S_AFTER;
    if (!s->in_item || s->depth != 1)
        return 0;
    int code = item_append(s, p + s->from, end - s->from, err);
    return code != 0 ? code : emit(s, err);
}

static int push(struct replay_jsonstream *s, size_t i, uint8_t kind, struct replay_err *err)
{
    if (s->depth >= s->o.max_depth) {
        s->st = S_FAILED;
        return replay_err_set(err, REPLAY_ETOOBIG, "JSON nested deeper than %u levels at byte %llu",
                              s->o.max_depth, (unsigned long long)(s->offset + i));
    }
    s->stack[s->depth++] = kind;
    s->st = kind == C_OBJECT ? S_OBJ_FIRST : S_ARR_FIRST;
    return 0;
}

/* The start of a value at p[i] (state S_VALUE, not whitespace). */
static int start_value(struct replay_jsonstream *s, const uint8_t *p, size_t i,
                       struct replay_err *err)
{
    static const char *const lits[] = {"true", "false", "null", "NaN", "Infinity"};
    uint8_t c = p[i];
    if (s->depth == 0 && s->o.expect == REPLAY_JSONSTREAM_OBJECT && c != '{')
        return bad(s, i, err, "expected a JSON object");
    if (s->depth == 0 && s->o.expect == REPLAY_JSONSTREAM_ARRAY && c != '[')
        return bad(s, i, err, "expected a JSON array");
    value_begins(s, i);
    switch (c) {
    case '{':
        return push(s, i, C_OBJECT, err);
    case '[':
        return push(s, i, C_ARRAY, err);
    case '"':
        s->key = false;
        s->st = S_STR;
        return 0;
    case '-':
        s->st = S_MINUS;
        return 0;
    case '0':
        s->st = S_ZERO;
        return 0;
    default:
        break;
    }
    if (is_digit(c)) {
        s->st = S_INT;
        return 0;
    }
    for (size_t k = 0; k < sizeof(lits) / sizeof(lits[0]); k++) {
        if (c == (uint8_t)lits[k][0]) {
            s->lit = lits[k];
            s->lit_pos = 1;
            s->st = S_LIT;
            return 0;
        }
    }
    return bad(s, i, err, "expected a value");
}

/* After a value inside a container, or at an empty container's end. */
static int after_value(struct replay_jsonstream *s, const uint8_t *p, size_t i,
                       struct replay_err *err)
{
    uint8_t top = s->stack[s->depth - 1], c = p[i];
    if (c == ',') {
        s->st = top == C_OBJECT ? S_OBJ_KEY : S_VALUE;
        return 0;
    }
    if ((c == '}' && top == C_OBJECT) || (c == ']' && top == C_ARRAY)) {
        s->depth--;
        return value_ends(s, p, i + 1, err);
    }
    return bad(s, i, err,
               top == C_OBJECT ? "expected ',' or '}' after an object member"
                               : "expected ',' or ']' after an array element");
}

/* First byte of a multi-byte UTF-8 sequence: how many follow and the range of
 * the next one (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
static bool utf8_lead(struct replay_jsonstream *s, uint8_t c)
{
    s->utf_lo = 0x80;
    s->utf_hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        s->utf_need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        s->utf_need = 2;
    else if (c >= 0xF0 && c <= 0xF4)
        s->utf_need = 3;
    else
        return false;
    if (c == 0xE0)
        s->utf_lo = 0xA0;
    else if (c == 0xED)
        s->utf_hi = 0x9F;
    else if (c == 0xF0)
        s->utf_lo = 0x90;
    else if (c == 0xF4)
        s->utf_hi = 0x8F;
    return true;
}

static int in_string(struct replay_jsonstream *s, const uint8_t *p, size_t i,
                     struct replay_err *err)
{
    uint8_t c = p[i];
    if (c == '"') {
        if (s->key) {
            s->st = S_COLON;
            return 0;
        }
        return value_ends(s, p, i + 1, err);
    }
    if (c == '\\')
        s->st = S_ESC;
    else if (c < 0x20)
        return bad(s, i, err, "control character inside a string");
    else if (c >= 0x80 && !utf8_lead(s, c))
        return bad(s, i, err, "invalid UTF-8");
    else if (c >= 0x80)
        s->st = S_UTF8;
    return 0;
}

/* Number states: *consumed false when p[i] ended the number (it is read again). */
static int in_number(struct replay_jsonstream *s, const uint8_t *p, size_t i, bool *consumed,
                     struct replay_err *err)
{
    uint8_t c = p[i];
    bool e = c == 'e' || c == 'E';
    switch (s->st) {
    case S_MINUS:
        if (c == 'I') {
            s->lit = "Infinity";
            s->lit_pos = 1;
            s->st = S_LIT;
            return 0;
        }
        if (!is_digit(c))
            return bad(s, i, err, "invalid number");
        s->st = c == '0' ? S_ZERO : S_INT;
        return 0;
    case S_FRAC0:
    case S_EXPSIGN:
        if (!is_digit(c))
            return bad(s, i, err, "invalid number");
        s->st = s->st == S_FRAC0 ? S_FRAC : S_EXP;
        return 0;
    case S_EXP0:
        if (c != '+' && c != '-' && !is_digit(c))
            return bad(s, i, err, "invalid number");
        s->st = is_digit(c) ? S_EXP : S_EXPSIGN;
        return 0;
    default: /* S_ZERO, S_INT, S_FRAC, S_EXP: complete so far */
        break;
    }
    if (is_digit(c) && s->st == S_ZERO)
        return bad(s, i, err, "invalid number (leading zero)");
    if (is_digit(c))
        return 0;
    if (c == '.' && (s->st == S_ZERO || s->st == S_INT)) {
        s->st = S_FRAC0;
        return 0;
    }
    if (e && s->st != S_EXP) {
        s->st = S_EXP0;
        return 0;
    }
    *consumed = false;
    return value_ends(s, p, i, err);
}

/* One byte. A state machine: one case per state, the longer ones in helpers. */
static int step(struct replay_jsonstream *s, const uint8_t *p, size_t i, bool *consumed,
                struct replay_err *err)
{
    uint8_t c = p[i];
    *consumed = true;
    switch (s->st) {
    case S_VALUE:
        return is_ws(c) ? 0 : start_value(s, p, i, err);
    case S_ARR_FIRST:
        if (is_ws(c))
            return 0;
        if (c == ']')
            return after_value(s, p, i, err);
        *consumed = false;
        s->st = S_VALUE;
        return 0;
    case S_OBJ_FIRST:
    case S_OBJ_KEY:
        if (is_ws(c))
            return 0;
        if (c == '}' && s->st == S_OBJ_FIRST)
            return after_value(s, p, i, err);
        if (c != '"')
            return bad(s, i, err, "expected a key string");
        s->key = true;
        s->st = S_STR;
        return 0;
    case S_COLON:
        if (is_ws(c))
            return 0;
        if (c != ':')
            return bad(s, i, err, "expected ':' after a key");
        s->st = S_VALUE;
        return 0;
    case S_AFTER:
        return is_ws(c) ? 0 : after_value(s, p, i, err);
    case S_DONE:
        return is_ws(c) ? 0 : bad(s, i, err, "unexpected data after the JSON value");
    case S_STR:
        return in_string(s, p, i, err);
    case S_UTF8:
        if (c < s->utf_lo || c > s->utf_hi)
            return bad(s, i, err, "invalid UTF-8");
        s->utf_lo = 0x80;
        s->utf_hi = 0xBF;
        if (--s->utf_need == 0)
            s->st = S_STR;
        return 0;
    case S_ESC:
        if (c == 'u') {
            s->hex_left = 4;
            s->st = S_HEX;
        } else if (c != 0 && strchr("\"\\/bfnrt", c) != NULL) {
            s->st = S_STR;
        } else {
            return bad(s, i, err, "invalid escape in a string");
        }
        return 0;
    case S_HEX:
        if (!is_hex(c))
            return bad(s, i, err, "invalid \\u escape in a string");
        if (--s->hex_left == 0)
            s->st = S_STR;
        return 0;
    case S_MINUS:
    case S_ZERO:
    case S_INT:
    case S_FRAC0:
    case S_FRAC:
    case S_EXP0:
    case S_EXPSIGN:
    case S_EXP:
        return in_number(s, p, i, consumed, err);
    case S_LIT:
        if (c != (uint8_t)s->lit[s->lit_pos])
            return bad(s, i, err, "invalid literal");
        return s->lit[++s->lit_pos] == '\0' ? value_ends(s, p, i + 1, err) : 0;
    case S_FAILED:
        break;
    }
    return replay_err_set(err, REPLAY_EINVAL, "JSON stream used after an error");
}

int replay_jsonstream_new(const struct replay_jsonstream_opts *opts,
                          struct replay_jsonstream **out, struct replay_err *err)
{
    *out = NULL;
    if (opts == NULL || (opts->on_item != NULL && opts->expect == REPLAY_JSONSTREAM_OBJECT))
        return replay_err_set(err, REPLAY_EINVAL, "JSON stream: on_item needs an array");
    struct replay_jsonstream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    s->o = *opts;
    if (s->o.on_item != NULL)
        s->o.expect = REPLAY_JSONSTREAM_ARRAY;
    if (s->o.max_item == 0)
        s->o.max_item = REPLAY_JSONSTREAM_MAX_ITEM;
    if (s->o.max_depth == 0)
        s->o.max_depth = REPLAY_JSONSTREAM_MAX_DEPTH;
    s->stack = malloc(s->o.max_depth);
    if (s->stack == NULL) {
        free(s);
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    }
    s->st = S_VALUE;
    *out = s;
    return 0;
}

int replay_jsonstream_feed(struct replay_jsonstream *s, const void *buf, size_t len,
                           struct replay_err *err)
{
    const uint8_t *p = buf;
    s->from = 0;
    for (size_t i = 0; i < len;) {
        bool consumed = true;
        int code = step(s, p, i, &consumed, err);
        if (code != 0) {
            s->st = S_FAILED;
            return code;
        }
        i += consumed ? 1 : 0;
    }
    int code = s->in_item ? item_append(s, p + s->from, len - s->from, err) : 0;
    s->offset += len;
    return code;
}

int replay_jsonstream_finish(struct replay_jsonstream *s, struct replay_err *err)
{
    switch (s->st) {
    case S_DONE:
        return 0;
    case S_ZERO:
    case S_INT:
    case S_FRAC:
    case S_EXP:
        if (s->depth == 0) {
            s->st = S_DONE;
            return 0;
        }
        break;
    case S_FAILED:
        return replay_err_set(err, REPLAY_EINVAL, "JSON stream used after an error");
    default:
        break;
    }
    const char *what = !s->started                                   ? "empty JSON text"
                       : s->st == S_STR || s->st == S_UTF8 ||
                               s->st == S_ESC || s->st == S_HEX ? "the JSON text ends inside a string"
                                                                : "the JSON text ends before its value is complete";
    s->st = S_FAILED;
    return replay_err_set(err, REPLAY_EFORMAT, "invalid JSON at byte %llu: %s",
                          (unsigned long long)s->offset, what);
}

size_t replay_jsonstream_items(const struct replay_jsonstream *s)
{
    return s->n_items;
}

uint64_t replay_jsonstream_offset(const struct replay_jsonstream *s)
{
    return s->offset;
}

void replay_jsonstream_free(struct replay_jsonstream *s)
{
    if (s == NULL)
        return;
    free(s->stack);
    free(s->buf);
    free(s);
}
