/*
 * query: the Lucene subset al-sim evaluates for searches, filters, bulk updates
 * and workflow checks (al-rest-api.md §6), with Elasticsearch query_string
 * semantics as Assemblyline configures it (default operator OR, default field
 * __text__, a purely negative group matches everything but its exclusions).
 *
 * Supported: terms and wildcards (* ?), "quoted phrases", field:value with dotted
 * field paths, field:(group), AND OR NOT && || ! + - with Lucene's clause rules,
 * parentheses, ranges [a TO b] {a TO b} and mixed [a TO b}, * as an open bound,
 * field:>x >= < <=, _exists_:field, field:* and *:*, boosts (^n) and fuzziness /
 * proximity (~n), which are accepted and ignored. Regular expressions (/re/) are
 * refused with a clear message.
 *
 * Field types: the caller says which fields are dates (is_date). Date fields
 * compare as instants at millisecond precision and accept date math (now-1d,
 * 2024-01-01||+1M, now/d); a bound that is not a date is a parse error there,
 * as in ES. Other fields compare numbers numerically and strings byte-wise
 * (keyword semantics, case-sensitive). Bare terms (no field) match any string
 * leaf of the document case-insensitively, as a word or a whole value.
 * A missing field matches no term, so NOT field:value matches it.
 *
 * Limits: ALSIM_QUERY_MAX_LEN bytes, ALSIM_QUERY_MAX_DEPTH nested groups and
 * ALSIM_QUERY_MAX_CLAUSES clauses (ES's max_clause_count). Going past them, or bad
 * syntax, is a parse error with a message naming the position; parsing never
 * crashes and frees everything on failure.
 *
 * A parsed query is immutable and may be matched from many threads at once.
 * alsim_query_free(NULL) does nothing.
 */
#ifndef ALSIM_QUERY_H
#define ALSIM_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ALSIM_QUERY_MAX_LEN (64 * 1024)
#define ALSIM_QUERY_MAX_DEPTH 64
#define ALSIM_QUERY_MAX_CLAUSES 1024
#define ALSIM_QUERY_ERR_LEN 512

struct alsim_query;

struct alsim_query_opts {
    int64_t now_ms;                                  /* "now" of date math */
    bool (*is_date)(const char *field, void *ud);    /* NULL: no date fields */
    void *ud;
};

/* Parses `text` (NUL-terminated). On success *out is freed with alsim_query_free();
 * on failure it is NULL, -1 is returned and err holds the reason. */
int alsim_query_parse(const char *text, const struct alsim_query_opts *opts,
                      struct alsim_query **out, char err[ALSIM_QUERY_ERR_LEN]);
/* True if the document (whose key is `id`, matched by the field "id" when the
 * document has no such key) satisfies the query. */
bool alsim_query_match(const struct alsim_query *q, const json_t *doc, const char *id);
void alsim_query_free(struct alsim_query *q);

/* Glob match (* and ?), optionally ASCII case-insensitive. Exposed for tests. */
bool alsim_glob(const char *pat, const char *s, bool icase);

#endif
