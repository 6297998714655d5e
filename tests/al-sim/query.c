/* query: Lucene-subset parser and evaluator for al-sim (see query.h). */
#include "query.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docpath.h"
#include "simtime.h"

enum qkind { QK_BOOL, QK_TERM, QK_PHRASE, QK_RANGE, QK_EXISTS, QK_ALL };
enum qoccur { OCC_MUST, OCC_SHOULD, OCC_MUST_NOT };
enum ftype { FT_DEFAULT, FT_ANY, FT_KEYWORD, FT_DATE };
enum conj { CONJ_NONE, CONJ_AND, CONJ_OR };
enum mods { MOD_NONE, MOD_NOT, MOD_REQ };
enum kw { KW_NONE, KW_AND, KW_OR, KW_NOT };

struct bound {
    bool star, incl, has_num, has_ms;
    char *raw;
    double num;
    int64_t ms;
};

struct qclause;

struct qnode {
    enum qkind kind;
    enum ftype ftype;
    char *field;
    char *text;         /* TERM, PHRASE */
    bool wildcard;      /* TERM with * or ? */
    bool has_num;
    double num;
    struct bound lo, hi; /* RANGE */
    struct qclause *cl;  /* BOOL */
    size_t ncl, capcl;
};

struct qclause {
    enum qoccur occ;
    struct qnode *node;
};

struct alsim_query {
    struct qnode *root;
};

struct parser {
    const char *s;
    size_t len, pos;
    const struct alsim_query_opts *opts;
    int depth;
    size_t nclauses;
    char *err;
    bool failed;
};

/* A word read from the query: unescaped text and where it was. */
struct word {
    char *text;
    bool wildcard, escaped;
    size_t start;
};

/* ---------- memory ---------- */

static void node_free(struct qnode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->ncl; i++)
        node_free(n->cl[i].node);
    free(n->cl);
    free(n->field);
    free(n->text);
    free(n->lo.raw);
    free(n->hi.raw);
    free(n);
}

void alsim_query_free(struct alsim_query *q)
{
    if (q == NULL)
        return;
    node_free(q->root);
    free(q);
}

static struct qnode *node_new(struct parser *p, enum qkind kind)
{
    struct qnode *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        p->failed = true;
        snprintf(p->err, ALSIM_QUERY_ERR_LEN, "out of memory parsing the query");
        return NULL;
    }
    n->kind = kind;
    return n;
}

/* ---------- errors and lexing ---------- */

static void perr(struct parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void perr(struct parser *p, size_t at, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    int shown = p->len > 200 ? 200 : (int)p->len;
    snprintf(p->err, ALSIM_QUERY_ERR_LEN, "Failed to parse query [%.*s%s]: %s at character %zu",
             shown, p->s, p->len > 200 ? "..." : "", why, at);
}

static size_t ws_len(const struct parser *p, size_t pos)
{
    if (pos >= p->len)
        return 0;
    unsigned char c = (unsigned char)p->s[pos];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        return 1;
    if (c == 0xE3 && pos + 2 < p->len && (unsigned char)p->s[pos + 1] == 0x80 &&
        (unsigned char)p->s[pos + 2] == 0x80)
        return 3; /* U+3000 ideographic space, as Lucene */
    return 0;
}

static void skip_ws(struct parser *p)
{
    size_t n;
    while ((n = ws_len(p, p->pos)) > 0)
        p->pos += n;
}

static int peekc(const struct parser *p)
{
    return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static bool term_char(const struct parser *p, size_t pos, bool first)
{
    char c = p->s[pos];
    if (ws_len(p, pos) > 0 || strchr("():^[]\"{}~/!", c) != NULL || c == '\0')
        return false;
    return !(first && (c == '+' || c == '-'));
}

/* Reads a term or field name; w->text is empty when nothing term-like is there. */
static bool read_word(struct parser *p, struct word *w)
{
    memset(w, 0, sizeof(*w));
    w->start = p->pos;
    w->text = malloc(p->len - p->pos + 1);
    if (w->text == NULL) {
        perr(p, p->pos, "out of memory");
        return false;
    }
    size_t n = 0;
    while (p->pos < p->len) {
        if (p->s[p->pos] == '\\') {
            if (p->pos + 1 >= p->len) {
                perr(p, p->pos, "escape character '\\' at the end");
                return false;
            }
            w->text[n++] = p->s[p->pos + 1];
            w->escaped = true;
            p->pos += 2;
            continue;
        }
        if (!term_char(p, p->pos, n == 0 && !w->escaped))
            break;
        if (p->s[p->pos] == '*' || p->s[p->pos] == '?')
            w->wildcard = true;
        w->text[n++] = p->s[p->pos++];
    }
    w->text[n] = '\0';
    return true;
}

static enum kw word_kw(const struct word *w)
{
    if (w->escaped)
        return KW_NONE;
    if (strcmp(w->text, "AND") == 0 || strcmp(w->text, "&&") == 0)
        return KW_AND;
    if (strcmp(w->text, "OR") == 0 || strcmp(w->text, "||") == 0)
        return KW_OR;
    if (strcmp(w->text, "NOT") == 0)
        return KW_NOT;
    return KW_NONE;
}

/* Keyword at the current position, without consuming it; *end = its end. */
static enum kw peek_kw(struct parser *p, size_t *end)
{
    size_t save = p->pos;
    struct word w;
    enum kw k = KW_NONE;
    if (read_word(p, &w))
        k = word_kw(&w);
    *end = p->pos;
    p->pos = save;
    free(w.text);
    return k;
}

static const char *kw_name(enum kw k)
{
    return k == KW_AND ? "AND" : k == KW_OR ? "OR" : "NOT";
}

/* ---------- leaves ---------- */

static bool count_clause(struct parser *p)
{
    if (++p->nclauses > ALSIM_QUERY_MAX_CLAUSES) {
        perr(p, p->pos, "too many clauses (more than %d)", ALSIM_QUERY_MAX_CLAUSES);
        return false;
    }
    return true;
}

static enum ftype field_type(const struct parser *p, const char *field)
{
    if (field == NULL)
        return FT_DEFAULT;
    if (strcmp(field, "*") == 0)
        return FT_ANY;
    if (p->opts != NULL && p->opts->is_date != NULL && p->opts->is_date(field, p->opts->ud))
        return FT_DATE;
    return FT_KEYWORD;
}

static void date_error(struct parser *p, size_t at, const char *text)
{
    perr(p, at, "failed to parse date field [%s] with format [date_optional_time||epoch_millis]",
         text);
}

static bool parse_num(const char *s, double *out)
{
    if (*s == '\0')
        return false;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Fills a range bound; for date fields resolves date math with ES's rounding. */
static bool finish_bound(struct parser *p, struct qnode *n, struct bound *b, bool quoted,
                         bool is_lo, size_t at)
{
    if (!quoted && strcmp(b->raw, "*") == 0) {
        b->star = true;
        return true;
    }
    b->has_num = parse_num(b->raw, &b->num);
    if (n->ftype != FT_DATE)
        return true;
    bool round_up = is_lo ? !b->incl : b->incl;
    int64_t now = p->opts != NULL ? p->opts->now_ms : alsim_now_ms();
    if (alsim_parse_datemath(b->raw, strlen(b->raw), now, round_up, &b->ms) != 0) {
        date_error(p, at, b->raw);
        return false;
    }
    b->has_ms = true;
    return true;
}

static char *dup_or_null(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

static struct qnode *make_range(struct parser *p, const char *field)
{
    struct qnode *n = node_new(p, QK_RANGE);
    if (n == NULL)
        return NULL;
    n->ftype = field_type(p, field);
    n->field = dup_or_null(field);
    if (field != NULL && n->field == NULL) {
        node_free(n);
        perr(p, p->pos, "out of memory");
        return NULL;
    }
    return n;
}

/* A date term is the range of instants it denotes (one ms, or a rounded unit). */
static struct qnode *date_term(struct parser *p, const char *field, const char *text, size_t at)
{
    struct qnode *n = make_range(p, field);
    if (n == NULL)
        return NULL;
    int64_t now = p->opts != NULL ? p->opts->now_ms : alsim_now_ms();
    n->lo.incl = n->hi.incl = true;
    n->lo.raw = strdup(text);
    n->hi.raw = strdup(text);
    if (n->lo.raw == NULL || n->hi.raw == NULL ||
        alsim_parse_datemath(text, strlen(text), now, false, &n->lo.ms) != 0 ||
        alsim_parse_datemath(text, strlen(text), now, true, &n->hi.ms) != 0) {
        date_error(p, at, text);
        node_free(n);
        return NULL;
    }
    n->lo.has_ms = n->hi.has_ms = true;
    return n;
}

static struct qnode *make_exists(struct parser *p, const char *field)
{
    struct qnode *n = node_new(p, QK_EXISTS);
    if (n == NULL)
        return NULL;
    n->field = strdup(field);
    if (n->field == NULL) {
        node_free(n);
        perr(p, p->pos, "out of memory");
        return NULL;
    }
    return n;
}

/* TERM (or PHRASE) node for `field` (NULL = default field). */
static struct qnode *make_term(struct parser *p, const char *field, struct word *w, bool phrase)
{
    if (!count_clause(p))
        return NULL;
    bool star = !phrase && !w->escaped && strcmp(w->text, "*") == 0;
    if (field != NULL && strcmp(field, "_exists_") == 0)
        return make_exists(p, w->text);
    if (star)
        return (field == NULL || strcmp(field, "*") == 0) ? node_new(p, QK_ALL)
                                                          : make_exists(p, field);
    enum ftype ft = field_type(p, field);
    if (ft == FT_DATE) {
        if (w->wildcard && !phrase) {
            perr(p, w->start, "Can only use wildcard queries on keyword and text fields - not on "
                 "[%s] which is of type [date]", field);
            return NULL;
        }
        return date_term(p, field, w->text, w->start);
    }
    struct qnode *n = node_new(p, phrase ? QK_PHRASE : QK_TERM);
    if (n == NULL)
        return NULL;
    n->ftype = ft;
    n->field = dup_or_null(field);
    n->text = w->text;
    w->text = NULL;
    n->wildcard = !phrase && w->wildcard;
    n->has_num = parse_num(n->text, &n->num);
    if (field != NULL && n->field == NULL) {
        node_free(n);
        perr(p, p->pos, "out of memory");
        return NULL;
    }
    return n;
}

/* ---------- clauses ---------- */

static struct qnode *parse_bool(struct parser *p, const char *field, bool in_group);

/* "quoted text" with backslash escapes; returns the unescaped text. */
static bool read_quoted(struct parser *p, struct word *w)
{
    memset(w, 0, sizeof(*w));
    w->start = p->pos++;
    w->text = malloc(p->len - p->pos + 1);
    if (w->text == NULL) {
        perr(p, w->start, "out of memory");
        return false;
    }
    size_t n = 0;
    while (p->pos < p->len && p->s[p->pos] != '"') {
        if (p->s[p->pos] == '\\' && p->pos + 1 < p->len)
            p->pos++;
        w->text[n++] = p->s[p->pos++];
    }
    w->text[n] = '\0';
    if (p->pos >= p->len) {
        perr(p, w->start, "unterminated quoted phrase");
        return false;
    }
    p->pos++;
    return true;
}

/* One range bound: quoted, or everything up to a space, ']' or '}'. */
static bool read_bound(struct parser *p, struct word *w, bool *quoted)
{
    skip_ws(p);
    *quoted = peekc(p) == '"';
    if (*quoted)
        return read_quoted(p, w);
    memset(w, 0, sizeof(*w));
    w->start = p->pos;
    while (p->pos < p->len && ws_len(p, p->pos) == 0 && p->s[p->pos] != ']' &&
           p->s[p->pos] != '}')
        p->pos++;
    if (p->pos == w->start) {
        perr(p, p->pos, "missing range bound");
        return false;
    }
    w->text = strndup(p->s + w->start, p->pos - w->start);
    if (w->text == NULL) {
        perr(p, w->start, "out of memory");
        return false;
    }
    return true;
}

static bool expect_to(struct parser *p)
{
    skip_ws(p);
    if (p->pos + 2 <= p->len && memcmp(p->s + p->pos, "TO", 2) == 0 &&
        (p->pos + 2 == p->len || ws_len(p, p->pos + 2) > 0)) {
        p->pos += 2;
        return true;
    }
    perr(p, p->pos, "expected 'TO' in range");
    return false;
}

static struct qnode *parse_range(struct parser *p, const char *field)
{
    if (!count_clause(p))
        return NULL;
    struct qnode *n = make_range(p, field);
    struct word lo = {0}, hi = {0};
    bool qlo = false, qhi = false;
    if (n == NULL)
        return NULL;
    n->lo.incl = p->s[p->pos++] == '[';
    if (!read_bound(p, &lo, &qlo) || !expect_to(p) || !read_bound(p, &hi, &qhi))
        goto fail;
    skip_ws(p);
    if (peekc(p) != ']' && peekc(p) != '}') {
        perr(p, p->pos, "expected ']' or '}' to close the range");
        goto fail;
    }
    n->hi.incl = p->s[p->pos++] == ']';
    n->lo.raw = lo.text;
    n->hi.raw = hi.text;
    lo.text = hi.text = NULL;
    if (!finish_bound(p, n, &n->lo, qlo, true, lo.start) ||
        !finish_bound(p, n, &n->hi, qhi, false, hi.start))
        goto fail;
    return n;
fail:
    free(lo.text);
    free(hi.text);
    node_free(n);
    return NULL;
}

/* field:>x, >=x, <x, <=x as a half-open range. */
static struct qnode *parse_compare(struct parser *p, const char *field)
{
    if (!count_clause(p))
        return NULL;
    bool greater = p->s[p->pos++] == '>', eq = false;
    if (peekc(p) == '=') {
        eq = true;
        p->pos++;
    }
    struct word w;
    bool quoted = peekc(p) == '"';
    if (!(quoted ? read_quoted(p, &w) : read_word(p, &w)) || w.text[0] == '\0') {
        if (!p->failed)
            perr(p, p->pos, "expected a value after the comparison");
        free(w.text);
        return NULL;
    }
    struct qnode *n = make_range(p, field);
    if (n == NULL) {
        free(w.text);
        return NULL;
    }
    struct bound *b = greater ? &n->lo : &n->hi, *other = greater ? &n->hi : &n->lo;
    b->incl = eq;
    b->raw = w.text;
    other->raw = strdup("*");
    if (other->raw == NULL || !finish_bound(p, n, b, quoted, greater, w.start) ||
        !finish_bound(p, n, other, false, !greater, w.start)) {
        if (!p->failed)
            perr(p, w.start, "out of memory");
        node_free(n);
        return NULL;
    }
    return n;
}

/* Optional ^boost and ~fuzziness after a clause: accepted and ignored. */
static bool parse_suffix(struct parser *p)
{
    for (int i = 0; i < 2; i++) {
        int c = peekc(p);
        if (c != '^' && c != '~')
            return true;
        size_t at = p->pos++;
        size_t start = p->pos;
        while (p->pos < p->len && (isdigit((unsigned char)p->s[p->pos]) || p->s[p->pos] == '.'))
            p->pos++;
        if (c == '^' && p->pos == start) {
            perr(p, at, "expected a number after '^'");
            return false;
        }
    }
    return true;
}

static struct qnode *parse_group(struct parser *p, const char *field)
{
    size_t at = p->pos++;
    if (++p->depth > ALSIM_QUERY_MAX_DEPTH) {
        perr(p, at, "groups nested deeper than %d", ALSIM_QUERY_MAX_DEPTH);
        return NULL;
    }
    struct qnode *n = parse_bool(p, field, true);
    p->depth--;
    if (n == NULL)
        return NULL;
    if (peekc(p) != ')') {
        perr(p, p->pos, "missing ')' for the '(' at character %zu", at);
        node_free(n);
        return NULL;
    }
    p->pos++;
    return n;
}

/* The value part of a clause, after an optional "field:". */
static struct qnode *parse_value(struct parser *p, const char *field)
{
    int c = peekc(p);
    struct word w;
    struct qnode *n = NULL;
    if (c == '(')
        return parse_group(p, field);
    if (c == '[' || c == '{')
        return parse_range(p, field);
    if (c == '>' || c == '<')
        return parse_compare(p, field);
    if (c == '/') {
        perr(p, p->pos, "regular expressions (/.../) are not supported by al-sim");
        return NULL;
    }
    if (c == '"') {
        if (read_quoted(p, &w))
            n = make_term(p, field, &w, true);
        free(w.text);
        return n;
    }
    if (read_word(p, &w)) {
        if (w.text[0] == '\0')
            perr(p, p->pos, c < 0 ? "unexpected end of query" : "unexpected character '%c'", c);
        else if (word_kw(&w) != KW_NONE)
            perr(p, w.start, "unexpected '%s'", kw_name(word_kw(&w)));
        else
            n = make_term(p, field, &w, false);
    }
    free(w.text);
    return n;
}

static struct qnode *parse_clause(struct parser *p, const char *field)
{
    skip_ws(p);
    int c = peekc(p);
    size_t save = p->pos;
    struct word w = {0};
    struct qnode *n = NULL;
    bool plain = !(c == '(' || c == '[' || c == '{' || c == '"' || c == '/' || c == '>' ||
                   c == '<');
    if (plain && !read_word(p, &w)) {
        free(w.text);
        return NULL;
    }
    if (plain)
        skip_ws(p);
    if (plain && w.text[0] != '\0' && peekc(p) == ':' && word_kw(&w) == KW_NONE) {
        if (w.wildcard && strcmp(w.text, "*") != 0) {
            perr(p, w.start, "wildcard field names are not supported by al-sim");
        } else {
            p->pos++;
            skip_ws(p);
            n = parse_value(p, w.text);
        }
    } else {
        p->pos = save;
        n = parse_value(p, field);
    }
    free(w.text);
    if (n != NULL && !parse_suffix(p)) {
        node_free(n);
        return NULL;
    }
    return n;
}

/* Lucene's QueryParserBase.addClause with the OR default operator. */
static bool add_clause(struct parser *p, struct qnode *b, enum conj conj, enum mods mods,
                       struct qnode *c)
{
    if (b->ncl > 0 && conj == CONJ_AND && b->cl[b->ncl - 1].occ != OCC_MUST_NOT)
        b->cl[b->ncl - 1].occ = OCC_MUST;
    bool prohibited = mods == MOD_NOT;
    bool required = mods == MOD_REQ || (conj == CONJ_AND && !prohibited);
    if (b->ncl == b->capcl) {
        size_t cap = b->capcl ? b->capcl * 2 : 4;
        struct qclause *cl = realloc(b->cl, cap * sizeof(*cl));
        if (cl == NULL) {
            perr(p, p->pos, "out of memory");
            node_free(c);
            return false;
        }
        b->cl = cl;
        b->capcl = cap;
    }
    b->cl[b->ncl].occ = prohibited ? OCC_MUST_NOT : required ? OCC_MUST : OCC_SHOULD;
    b->cl[b->ncl++].node = c;
    return true;
}

/* Conjunction and modifiers before a clause. Returns false on a syntax error. */
static bool parse_prefix(struct parser *p, bool first, enum conj *conj, enum mods *mods)
{
    size_t end;
    enum kw k = peek_kw(p, &end);
    *conj = CONJ_NONE;
    *mods = MOD_NONE;
    if (k == KW_AND || k == KW_OR) {
        if (first) {
            perr(p, p->pos, "'%s' without a clause before it", kw_name(k));
            return false;
        }
        *conj = k == KW_AND ? CONJ_AND : CONJ_OR;
        p->pos = end;
        skip_ws(p);
        k = peek_kw(p, &end);
    }
    if (k == KW_NOT) {
        *mods = MOD_NOT;
        p->pos = end;
    } else if (peekc(p) == '!' || peekc(p) == '-') {
        *mods = MOD_NOT;
        p->pos++;
    } else if (peekc(p) == '+') {
        *mods = MOD_REQ;
        p->pos++;
    }
    skip_ws(p);
    k = peek_kw(p, &end);
    if (p->pos >= p->len || peekc(p) == ')' || k != KW_NONE) {
        perr(p, p->pos, k != KW_NONE ? "unexpected '%s'" : "expected a clause%s",
             k != KW_NONE ? kw_name(k) : (p->pos >= p->len ? " before the end" : " before ')'"));
        return false;
    }
    return true;
}

static struct qnode *parse_bool(struct parser *p, const char *field, bool in_group)
{
    struct qnode *b = node_new(p, QK_BOOL);
    if (b == NULL)
        return NULL;
    for (bool first = true; !p->failed; first = false) {
        skip_ws(p);
        if (p->pos >= p->len || (peekc(p) == ')' && in_group))
            break;
        if (peekc(p) == ')') {
            perr(p, p->pos, "unexpected ')'");
            break;
        }
        enum conj conj;
        enum mods mods;
        if (!parse_prefix(p, first, &conj, &mods))
            break;
        struct qnode *c = parse_clause(p, field);
        if (c == NULL || !add_clause(p, b, conj, mods, c))
            break;
    }
    if (!p->failed && b->ncl == 0)
        perr(p, p->pos, in_group ? "empty group" : "empty query");
    if (p->failed) {
        node_free(b);
        return NULL;
    }
    if (b->ncl == 1 && b->cl[0].occ != OCC_MUST_NOT) {
        struct qnode *only = b->cl[0].node;
        b->ncl = 0;
        node_free(b);
        return only;
    }
    return b;
}

int alsim_query_parse(const char *text, const struct alsim_query_opts *opts,
                      struct alsim_query **out, char err[ALSIM_QUERY_ERR_LEN])
{
    struct parser p = {.s = text, .opts = opts, .err = err};
    *out = NULL;
    err[0] = '\0';
    if (text == NULL) {
        snprintf(err, ALSIM_QUERY_ERR_LEN, "Failed to parse query: no query");
        return -1;
    }
    p.len = strlen(text);
    if (p.len > ALSIM_QUERY_MAX_LEN) {
        snprintf(err, ALSIM_QUERY_ERR_LEN, "Failed to parse query: longer than %d bytes",
                 ALSIM_QUERY_MAX_LEN);
        return -1;
    }
    struct qnode *root = parse_bool(&p, NULL, false);
    if (root == NULL)
        return -1;
    struct alsim_query *q = malloc(sizeof(*q));
    if (q == NULL) {
        node_free(root);
        snprintf(err, ALSIM_QUERY_ERR_LEN, "out of memory parsing the query");
        return -1;
    }
    q->root = root;
    *out = q;
    return 0;
}

/* ---------- matching ---------- */

bool alsim_glob(const char *pat, const char *s, bool icase)
{
    const char *star = NULL, *resume = NULL;
    while (*s != '\0') {
        char pc = icase ? (char)tolower((unsigned char)*pat) : *pat;
        char sc = icase ? (char)tolower((unsigned char)*s) : *s;
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat != '\0' && (*pat == '?' || pc == sc)) {
            pat++;
            s++;
        } else if (star != NULL) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static bool word_boundary(const char *s, size_t i, size_t len)
{
    return i == 0 || i >= len || !isalnum((unsigned char)s[i - 1]) || !isalnum((unsigned char)s[i]);
}

/* Case-insensitive: `needle` occurs in s starting and ending at word boundaries. */
static bool contains_word(const char *s, const char *needle)
{
    size_t n = strlen(needle), len = strlen(s);
    if (n == 0 || n > len)
        return n == 0 && len == 0;
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(s + i, needle, n) == 0 && word_boundary(s, i, len) &&
            (i + n == len || !isalnum((unsigned char)s[i + n]) ||
             !isalnum((unsigned char)s[i + n - 1])))
            return true;
    return false;
}

/* Default-field wildcard: the whole value or any of its words. */
static bool glob_words(const char *pat, const char *s)
{
    if (alsim_glob(pat, s, true))
        return true;
    char buf[256];
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        while (i < len && !isalnum((unsigned char)s[i]))
            i++;
        size_t j = i;
        while (j < len && isalnum((unsigned char)s[j]))
            j++;
        if (j > i && j - i < sizeof(buf)) {
            memcpy(buf, s + i, j - i);
            buf[j - i] = '\0';
            if (alsim_glob(pat, buf, true))
                return true;
        }
        i = j;
    }
    return false;
}

static bool scalar_eq(const struct qnode *n, const json_t *v)
{
    if (json_is_string(v))
        return n->wildcard ? alsim_glob(n->text, json_string_value(v), false)
                           : strcmp(n->text, json_string_value(v)) == 0;
    if (json_is_true(v))
        return strcmp(n->text, "true") == 0;
    if (json_is_false(v))
        return strcmp(n->text, "false") == 0;
    if (json_is_number(v))
        return n->has_num && n->num == json_number_value(v);
    return false;
}

static bool term_hit(const json_t *v, void *ud)
{
    const struct qnode *n = ud;
    if (n->ftype != FT_DEFAULT || !json_is_string(v))
        return scalar_eq(n, v); /* keyword semantics: exact, case-sensitive */
    const char *s = json_string_value(v);
    if (n->kind == QK_TERM && n->wildcard)
        return glob_words(n->text, s);
    return contains_word(s, n->text); /* analysed default field: words, any case */
}

static int cmp_double(double a, double b)
{
    return a < b ? -1 : a > b;
}

/* -2: not comparable; else sign of (value - bound). */
static int cmp_bound(const struct qnode *n, const struct bound *b, const json_t *v)
{
    if (n->ftype == FT_DATE) {
        int64_t ms;
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            if (alsim_parse_date(s, strlen(s), &ms) != 0)
                return -2;
        } else if (json_is_number(v)) {
            ms = (int64_t)json_number_value(v);
        } else {
            return -2;
        }
        return ms < b->ms ? -1 : ms > b->ms;
    }
    if (json_is_number(v))
        return b->has_num ? cmp_double(json_number_value(v), b->num) : -2;
    if (json_is_string(v)) {
        int c = strcmp(json_string_value(v), b->raw);
        return c < 0 ? -1 : c > 0;
    }
    return -2;
}

static bool range_hit(const json_t *v, void *ud)
{
    const struct qnode *n = ud;
    if (json_is_null(v) || json_is_object(v))
        return false;
    if (!n->lo.star) {
        int c = cmp_bound(n, &n->lo, v);
        if (c == -2 || c < 0 || (c == 0 && !n->lo.incl))
            return false;
    }
    if (!n->hi.star) {
        int c = cmp_bound(n, &n->hi, v);
        if (c == -2 || c > 0 || (c == 0 && !n->hi.incl))
            return false;
    }
    return true;
}

static bool exists_hit(const json_t *v, void *ud)
{
    (void)ud;
    return !json_is_null(v);
}

static bool visit_field(const json_t *doc, const char *id, const struct qnode *n,
                        alsim_visit_fn fn)
{
    if (n->ftype == FT_DEFAULT || n->ftype == FT_ANY)
        return alsim_leaves_visit(doc, fn, (void *)n);
    if (strcmp(n->field, "id") == 0 && json_object_get(doc, "id") == NULL && id != NULL) {
        json_t *s = json_string(id);
        bool r = s != NULL && fn(s, (void *)n);
        json_decref(s);
        return r;
    }
    return alsim_path_visit(doc, n->field, fn, (void *)n);
}

static bool node_match(const struct qnode *n, const json_t *doc, const char *id);

static bool bool_match(const struct qnode *n, const json_t *doc, const char *id)
{
    bool any_must = false, any_should = false;
    for (size_t i = 0; i < n->ncl; i++) {
        const struct qclause *c = &n->cl[i];
        if (c->occ == OCC_MUST) {
            any_must = true;
            if (!node_match(c->node, doc, id))
                return false;
        } else if (c->occ == OCC_MUST_NOT) {
            if (node_match(c->node, doc, id))
                return false;
        } else {
            any_should = true;
        }
    }
    if (any_must || !any_should)
        return true;
    for (size_t i = 0; i < n->ncl; i++)
        if (n->cl[i].occ == OCC_SHOULD && node_match(n->cl[i].node, doc, id))
            return true;
    return false;
}

static bool node_match(const struct qnode *n, const json_t *doc, const char *id)
{
    switch (n->kind) {
    case QK_BOOL: return bool_match(n, doc, id);
    case QK_ALL: return true;
    case QK_TERM:
    case QK_PHRASE:
        return visit_field(doc, id, n, term_hit);
    case QK_RANGE: return visit_field(doc, id, n, range_hit);
    case QK_EXISTS: {
        struct qnode tmp = *n;
        tmp.ftype = FT_KEYWORD;
        return visit_field(doc, id, &tmp, exists_hit);
    }
    }
    return false;
}

bool alsim_query_match(const struct alsim_query *q, const json_t *doc, const char *id)
{
    return q != NULL && doc != NULL && node_match(q->root, doc, id);
}
