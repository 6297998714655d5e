/*
 * store: al-sim's datastore and filestore, kept in a directory so that data
 * survives a restart of the server.
 *
 * Layout of the data directory:
 *   LOCK                       flock()ed while a process uses the directory
 *   docs/<collection>/<name>   one JSON file per document: {"id": ..., "doc": {...}}
 *                              (<name> is the id when it is file-name safe, else
 *                              the sha256 of the id)
 *   files/<sha256>             file contents (the filestore)
 *   journal/<name>.jsonl       append-only records (imports, rescans)
 *   tmp/                       scratch space, emptied at open
 * Queues and checkpoints live in queue.c, under queues/.
 *
 * Documents are immutable once stored: readers get a new reference and may use
 * it without a lock; an update works on a private copy and swaps it in. Writes
 * go to a temp file and are renamed into place. Collections have their own
 * read-write lock. Thread-safe.
 */
#ifndef ALSIM_STORE_H
#define ALSIM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum alsim_coll {
    ALSIM_ALERT,
    ALSIM_SUBMISSION,
    ALSIM_BADLIST,
    ALSIM_SAFELIST,
    ALSIM_SIGNATURE,
    ALSIM_WORKFLOW,
    ALSIM_FILE,
    ALSIM_RESULT,
    ALSIM_EMPTYRESULT,
    ALSIM_ERROR,
    ALSIM_COLL_COUNT
};

#define ALSIM_ERRLEN 512

struct alsim_store;

/* One document of a listing: id (malloc'd) and a reference to the document. */
struct alsim_item {
    char *id;
    json_t *doc;
};

/* Selects documents for alsim_store_items(); ud is the caller's. */
typedef bool (*alsim_filter_fn)(const json_t *doc, const char *id, void *ud);
/* Changes a private copy of a document; returns false to leave it unchanged. */
typedef bool (*alsim_update_fn)(json_t *doc, void *ud);

const char *alsim_coll_name(enum alsim_coll c);
/* Collection by name, or -1. */
int alsim_coll_from_name(const char *name);

/* Opens (creating if needed) and locks the data directory and loads the documents.
 * Fails if another process holds the directory. */
int alsim_store_open(const char *dir, struct alsim_store **out, char err[ALSIM_ERRLEN]);
void alsim_store_close(struct alsim_store *s);
const char *alsim_store_dir(const struct alsim_store *s);

/* New reference to a document, or NULL. */
json_t *alsim_store_get(struct alsim_store *s, enum alsim_coll c, const char *id);
bool alsim_store_exists(struct alsim_store *s, enum alsim_coll c, const char *id);
/* Stores doc (takes the reference, also on failure) under id, replacing any. */
int alsim_store_put(struct alsim_store *s, enum alsim_coll c, const char *id, json_t *doc,
                    char err[ALSIM_ERRLEN]);
/* Applies fn to a copy of the document and stores it if fn returns true.
 * Returns 1 if updated, 0 if missing or unchanged, -1 on a write error. */
int alsim_store_update(struct alsim_store *s, enum alsim_coll c, const char *id,
                       alsim_update_fn fn, void *ud, char err[ALSIM_ERRLEN]);
/* Documents for which filter (NULL = all) is true, in no particular order.
 * Free with alsim_items_free(). -1 on ENOMEM. */
int alsim_store_items(struct alsim_store *s, enum alsim_coll c, alsim_filter_fn filter,
                      void *ud, struct alsim_item **items, size_t *n);
void alsim_items_free(struct alsim_item *items, size_t n);
size_t alsim_store_count(struct alsim_store *s, enum alsim_coll c);

/* Filestore. sha256 must be 64 lowercase hex characters. */
bool alsim_sha256_valid(const char *sha256);
int alsim_blob_path(const struct alsim_store *s, const char *sha256, char *out, size_t len);
bool alsim_blob_exists(const struct alsim_store *s, const char *sha256, uint64_t *size);
/* Moves tmp_path into the filestore as sha256 unless it is there already (then
 * tmp_path is removed). */
int alsim_blob_adopt(struct alsim_store *s, const char *tmp_path, const char *sha256,
                     char err[ALSIM_ERRLEN]);

/* Creates a temp file in tmp/ (path written to path_out); returns its fd or -1. */
int alsim_store_tmpfile(struct alsim_store *s, const char *prefix, char *path_out, size_t len);

/* Journals: appends one record (a JSON object; the reference stays the caller's);
 * reads all records as a new array. */
int alsim_journal_append(struct alsim_store *s, const char *name, const json_t *rec);
json_t *alsim_journal_read(struct alsim_store *s, const char *name);

/* Writes `doc` to path atomically (temp file in the same directory, then rename). */
int alsim_write_json_atomic(const char *path, const json_t *doc, char err[ALSIM_ERRLEN]);

#endif
