/*
 * docpath: dotted field paths over stored JSON documents, the way Elasticsearch
 * resolves them for queries, sorting and `fl` (source filtering).
 *
 * A path "a.b.c" matches nested objects ({"a":{"b":{"c":1}}}), flat keys that
 * contain dots ({"a":{"b.c":1}}: Assemblyline's metadata map stores
 * "bundle.loaded" that way) and any mix of the two. Arrays on the way are
 * flattened: every element is visited. Recursion is bounded by ALSIM_PATH_MAX_DEPTH.
 *
 * Documents are never modified; projection builds new objects and shares
 * (increfs) unchanged sub-values, so the result must not be modified either
 * (it is serialised and dropped). Thread-safe on immutable documents.
 */
#ifndef ALSIM_DOCPATH_H
#define ALSIM_DOCPATH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define ALSIM_PATH_MAX_DEPTH 64

/* Called for each value found; returns true to stop the walk. */
typedef bool (*alsim_visit_fn)(const json_t *value, void *ud);

/* Visits every value at `path` (array elements one by one; objects and null are
 * visited too). Returns true if the visitor stopped the walk. */
bool alsim_path_visit(const json_t *doc, const char *path, alsim_visit_fn fn, void *ud);
/* Visits every scalar leaf of the document (the default search field). */
bool alsim_leaves_visit(const json_t *doc, alsim_visit_fn fn, void *ud);
/* Copies what `path` selects from src into dst, keeping the nesting (ES source
 * filtering). Returns 0, or -1 on ENOMEM. */
int alsim_path_project(const json_t *src, json_t *dst, const char *path);

#endif
