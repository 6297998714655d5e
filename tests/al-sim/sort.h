/*
 * sort: the `sort` parameter of Assemblyline's search, and the ordering itself.
 *
 * Parsing follows the datastore (assemblyline/datastore/collection.py
 * parse_sort) and then Elasticsearch: a text with a comma is split on commas
 * and each part stripped; each part is split on single spaces and must be
 * `<field> asc` or `<field> desc` (lower case). Two or more spaces, or another
 * direction, is the datastore's "Unknown sort parameter <part>"; a part without
 * a direction reaches Elasticsearch as a nested list, which refuses it as a
 * malformed sort. `_id` means `id`. Checking then refuses, as Elasticsearch does,
 * a field the collection's mapping does not have (fields.h), a text field and a
 * field without doc values; `_score` and `_doc` are accepted (al-sim ranks
 * nothing, so they never decide an order). Error texts are what the search API
 * puts after "SearchException: ".
 *
 * Ordering: values compare by type (booleans, then numbers and dates, then
 * strings), dates as instants; an array sorts by its smallest value ascending
 * and its largest descending; documents without the field come last in either
 * direction; the document id breaks ties (Elasticsearch's tie-breaker).
 *
 * A parsed sort owns a copy of the text (alsim_sort_free). Thread-safe.
 */
#ifndef ALSIM_SORT_H
#define ALSIM_SORT_H

#include <stdbool.h>
#include <stddef.h>

#include "fields.h"
#include "store.h"

#define ALSIM_SORT_MAX_KEYS 64
#define ALSIM_SORT_ERR_LEN 512

struct alsim_sort_key {
    const char *field; /* borrowed from the sort's text copy, or a literal */
    bool desc;
};

struct alsim_sort {
    char *text;        /* malloc'd copy, cut into the field names */
    struct alsim_sort_key keys[ALSIM_SORT_MAX_KEYS];
    int n;
};

/* Parses a sort text. 0, or -1 with err (then nothing to free). */
int alsim_sort_parse(const char *text, struct alsim_sort *out, char err[ALSIM_SORT_ERR_LEN]);
/* Parses each string of a JSON-like list of parts (a sort given as a list:
 * parts are not stripped). 0, or -1 with err. */
int alsim_sort_parse_list(const char *const *parts, size_t n, struct alsim_sort *out,
                          char err[ALSIM_SORT_ERR_LEN]);
/* Refuses what Elasticsearch cannot sort on in collection c. 0, or -1 with err. */
int alsim_sort_check(const struct alsim_sort *s, enum alsim_coll c, char err[ALSIM_SORT_ERR_LEN]);
void alsim_sort_free(struct alsim_sort *s);

/* The collection's default sort in the search API (helper/search.py). */
const char *alsim_default_sort(enum alsim_coll c);
/* Sorts items in place by s (NULL: the collection's default sort). 0, or -1
 * with err on ENOMEM or a bad default. */
int alsim_sort_items(struct alsim_item *items, size_t n, enum alsim_coll c,
                     const struct alsim_sort *s, char err[ALSIM_SORT_ERR_LEN]);

#endif
