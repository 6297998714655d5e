/*
 * fields: the Elasticsearch mapping of each collection al-sim stores, as
 * Assemblyline builds it from its models: which fields exist, their type and
 * whether they have doc values. Queries use it for date semantics; sorting uses
 * it to refuse what Elasticsearch refuses (a field the index does not know, a
 * text field, a field without doc values).
 *
 * The static part is generated (fields_table.c). The dynamic part follows
 * Assemblyline's dynamic templates: any `metadata.<key>` of alerts and
 * submissions is a `wildcard` field (a string: date math does not apply), and
 * two tag maps of results are keywords. Every collection has `id` (keyword) and
 * `__text__` (text). The generated part also lists the fields each model marks
 * as stored. Pure data; thread-safe.
 */
#ifndef ALSIM_FIELDS_H
#define ALSIM_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

enum alsim_ftype {
    ALSIM_F_NONE,       /* not in the mapping */
    ALSIM_F_KEYWORD,
    ALSIM_F_WILDCARD,
    ALSIM_F_DATE,
    ALSIM_F_INTEGER,
    ALSIM_F_LONG,
    ALSIM_F_FLOAT,
    ALSIM_F_BOOLEAN,
    ALSIM_F_IP,
    ALSIM_F_TEXT,
};

struct alsim_field {
    const char *name;   /* dotted path */
    enum alsim_ftype type;
    bool doc_values;    /* false: cannot be sorted on (unindexed, or text) */
};

struct alsim_field_table {
    const struct alsim_field *v; /* sorted by name (strcmp) */
    size_t n;
};

/* The generated static mappings, indexed by collection. */
extern const struct alsim_field_table ALSIM_FIELD_TABLES[ALSIM_COLL_COUNT];
/* The fields each model stores (what a search without `fl` returns besides
 * `id`), dotted paths, NULL-terminated; indexed by collection. */
extern const char *const *const ALSIM_STORED_FIELDS[ALSIM_COLL_COUNT];

/* The mapping of `field` in collection c: its type (ALSIM_F_NONE if unmapped)
 * and, when doc_values is not NULL, whether it has doc values. */
enum alsim_ftype alsim_field_type(enum alsim_coll c, const char *field, bool *doc_values);
/* Elasticsearch's name of a type ("keyword", "date", ...; "" for NONE). */
const char *alsim_ftype_name(enum alsim_ftype t);

#endif
