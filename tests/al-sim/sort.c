/* sort: Assemblyline's sort parameter and the ordering of search results (see
 * sort.h). */
#include "sort.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docpath.h"
#include "simtime.h"

static const char MALFORMED[] =
    "malformed sort format, within the sort array, an object, or an actual string are allowed";

const char *alsim_default_sort(enum alsim_coll c)
{
    switch (c) {
    case ALSIM_ALERT: return "reporting_ts desc";
    case ALSIM_SUBMISSION: return "times.submitted desc";
    case ALSIM_BADLIST:
    case ALSIM_SAFELIST: return "added desc";
    case ALSIM_SIGNATURE: return "type asc";
    case ALSIM_WORKFLOW: return "last_seen desc";
    case ALSIM_FILE: return "seen.last desc";
    case ALSIM_RESULT:
    case ALSIM_ERROR: return "created desc";
    case ALSIM_EMPTYRESULT: return "expiry_ts asc";
    case ALSIM_COLL_COUNT: break;
    }
    return "id asc";
}

/* ---------- parsing ---------- */

/* Python's str.strip() for ASCII: whitespace and the separators \x1c-\x1f. */
static bool py_space(char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1c && ch <= 0x1f);
}

static char *strip(char *s)
{
    while (py_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && py_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* One part, "<field> <asc|desc>", cut in place. A part without a direction only
 * sets *malformed (Elasticsearch refuses it after the datastore parsed
 * everything). */
static int parse_part(char *part, struct alsim_sort *out, bool *malformed, char *err)
{
    char *sp = strchr(part, ' ');
    if (sp == NULL) {
        *malformed = true;
        return 0;
    }
    const char *dir = sp + 1;
    if (strchr(dir, ' ') != NULL || (strcmp(dir, "asc") != 0 && strcmp(dir, "desc") != 0)) {
        snprintf(err, ALSIM_SORT_ERR_LEN, "Unknown sort parameter %s", part);
        return -1;
    }
    if (out->n >= ALSIM_SORT_MAX_KEYS) {
        snprintf(err, ALSIM_SORT_ERR_LEN, "al-sim sorts on at most %d fields",
                 ALSIM_SORT_MAX_KEYS);
        return -1;
    }
    *sp = '\0';
    struct alsim_sort_key *k = &out->keys[out->n++];
    k->field = strcmp(part, "_id") == 0 ? "id" : part;
    k->desc = dir[0] == 'd';
    return 0;
}

/* The parts of a text with commas: split, each stripped. */
static int parse_commas(char *text, struct alsim_sort *out, bool *malformed, char *err)
{
    for (char *part = text;;) {
        char *comma = strchr(part, ',');
        if (comma != NULL)
            *comma = '\0';
        if (parse_part(strip(part), out, malformed, err) != 0)
            return -1;
        if (comma == NULL)
            return 0;
        part = comma + 1;
    }
}

static int finish(struct alsim_sort *out, bool malformed, int rc, char *err)
{
    if (rc == 0 && malformed) {
        snprintf(err, ALSIM_SORT_ERR_LEN, "%s", MALFORMED);
        rc = -1;
    }
    if (rc != 0)
        alsim_sort_free(out);
    return rc;
}

int alsim_sort_parse(const char *text, struct alsim_sort *out, char err[ALSIM_SORT_ERR_LEN])
{
    memset(out, 0, sizeof(*out));
    out->text = strdup(text);
    if (out->text == NULL) {
        snprintf(err, ALSIM_SORT_ERR_LEN, "out of memory parsing a sort");
        return -1;
    }
    bool malformed = false;
    int rc = strchr(text, ',') != NULL ? parse_commas(out->text, out, &malformed, err)
                                       : parse_part(out->text, out, &malformed, err);
    return finish(out, malformed, rc, err);
}

int alsim_sort_parse_list(const char *const *parts, size_t n, struct alsim_sort *out,
                          char err[ALSIM_SORT_ERR_LEN])
{
    memset(out, 0, sizeof(*out));
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(parts[i]) + 1;
    out->text = malloc(total);
    if (out->text == NULL) {
        snprintf(err, ALSIM_SORT_ERR_LEN, "out of memory parsing a sort");
        return -1;
    }
    bool malformed = false;
    int rc = 0;
    char *p = out->text;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t len = strlen(parts[i]);
        memcpy(p, parts[i], len + 1);
        /* a part with commas is parsed into a nested list: Elasticsearch refuses it */
        if (strchr(p, ',') != NULL) {
            rc = parse_commas(p, out, &malformed, err);
            malformed = true;
        } else {
            rc = parse_part(p, out, &malformed, err);
        }
        p += len + 1;
    }
    return finish(out, malformed, rc, err);
}

int alsim_sort_check(const struct alsim_sort *s, enum alsim_coll c, char err[ALSIM_SORT_ERR_LEN])
{
    for (int i = 0; i < s->n; i++) {
        const char *f = s->keys[i].field;
        bool dv = false;
        enum alsim_ftype t = alsim_field_type(c, f, &dv);
        if (strcmp(f, "_score") == 0 || strcmp(f, "_doc") == 0)
            continue;
        if (t == ALSIM_F_NONE) {
            snprintf(err, ALSIM_SORT_ERR_LEN, "No mapping found for [%s] in order to sort on", f);
            return -1;
        }
        if (t == ALSIM_F_TEXT) {
            snprintf(err, ALSIM_SORT_ERR_LEN, "Text fields are not optimised for operations "
                     "that require per-document field data like aggregations and sorting, so "
                     "these operations are disabled by default. Please use a keyword field "
                     "instead. Alternatively, set fielddata=true on [%s] in order to load field "
                     "data by uninverting the inverted index. Note that this can use "
                     "significant memory.", f);
            return -1;
        }
        if (!dv) {
            snprintf(err, ALSIM_SORT_ERR_LEN, "Can't load fielddata on [%s] because fielddata "
                     "is unsupported on fields of type [%s]. Use doc values instead.", f,
                     alsim_ftype_name(t));
            return -1;
        }
    }
    return 0;
}

void alsim_sort_free(struct alsim_sort *s)
{
    if (s == NULL)
        return;
    free(s->text);
    memset(s, 0, sizeof(*s));
}

/* ---------- ordering ---------- */

struct sortval {
    bool missing;
    int type; /* 0 bool, 1 number or date, 2 string */
    double num;
    const char *str;
};

static int cmp_vals(const struct sortval *a, const struct sortval *b)
{
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    if (a->type == 2) {
        int c = strcmp(a->str, b->str);
        return c < 0 ? -1 : c > 0;
    }
    return a->num < b->num ? -1 : a->num > b->num;
}

struct pick {
    bool desc, date;
    struct sortval best;
};

static bool pick_visit(const json_t *v, void *ud)
{
    struct pick *p = ud;
    struct sortval sv = {0};
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        int64_t ms = 0;
        if (p->date && alsim_parse_date(s, strlen(s), &ms) == 0) {
            sv.type = 1;
            sv.num = (double)ms;
        } else {
            sv.type = 2;
            sv.str = s;
        }
    } else if (json_is_number(v)) {
        sv.type = 1;
        sv.num = json_number_value(v);
    } else if (json_is_boolean(v)) {
        sv.num = json_is_true(v);
    } else {
        return false;
    }
    /* arrays sort by their smallest value ascending, largest descending (ES) */
    if (p->best.missing || (p->desc ? cmp_vals(&sv, &p->best) > 0 : cmp_vals(&sv, &p->best) < 0))
        p->best = sv;
    return false;
}

struct sort_row {
    struct alsim_item item;
    struct sortval *v; /* one per key */
};

static int cmp_rows(const void *pa, const void *pb, void *ud)
{
    const struct sort_row *a = pa, *b = pb;
    const struct alsim_sort *s = ud;
    for (int k = 0; k < s->n; k++) {
        const struct sortval *x = &a->v[k], *y = &b->v[k];
        if (x->missing || y->missing) { /* missing values last, whatever the order */
            if (x->missing != y->missing)
                return x->missing ? 1 : -1;
            continue;
        }
        int r = cmp_vals(x, y);
        if (r != 0)
            return s->keys[k].desc ? -r : r;
    }
    return strcmp(a->item.id, b->item.id);
}

static void row_values(struct sort_row *row, const struct alsim_sort *s, enum alsim_coll c)
{
    for (int k = 0; k < s->n; k++) {
        const char *f = s->keys[k].field;
        struct pick p = {.desc = s->keys[k].desc, .best = {.missing = true},
                         .date = alsim_field_type(c, f, NULL) == ALSIM_F_DATE};
        if (strcmp(f, "id") == 0 && json_object_get(row->item.doc, "id") == NULL)
            p.best = (struct sortval){.type = 2, .str = row->item.id};
        else if (f[0] != '_') /* _score, _doc: no value */
            alsim_path_visit(row->item.doc, f, pick_visit, &p);
        row->v[k] = p.best;
    }
}

static int sort_by(struct alsim_item *items, size_t n, enum alsim_coll c,
                   const struct alsim_sort *s, char *err)
{
    if (n < 2)
        return 0;
    struct sort_row *rows = calloc(n, sizeof(*rows));
    struct sortval *vals = calloc(n * (size_t)(s->n > 0 ? s->n : 1), sizeof(*vals));
    if (rows == NULL || vals == NULL) {
        free(rows);
        free(vals);
        snprintf(err, ALSIM_SORT_ERR_LEN, "out of memory sorting %zu items", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        rows[i].item = items[i];
        rows[i].v = vals + i * (size_t)s->n;
        row_values(&rows[i], s, c);
    }
    qsort_r(rows, n, sizeof(*rows), cmp_rows, (void *)s);
    for (size_t i = 0; i < n; i++)
        items[i] = rows[i].item;
    free(vals);
    free(rows);
    return 0;
}

int alsim_sort_items(struct alsim_item *items, size_t n, enum alsim_coll c,
                     const struct alsim_sort *s, char err[ALSIM_SORT_ERR_LEN])
{
    if (s != NULL)
        return sort_by(items, n, c, s, err);
    struct alsim_sort def;
    if (alsim_sort_parse(alsim_default_sort(c), &def, err) != 0)
        return -1;
    int rc = sort_by(items, n, c, &def, err);
    alsim_sort_free(&def);
    return rc;
}
