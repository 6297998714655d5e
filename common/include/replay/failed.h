/*
 * failed: the failed directory, where a file the target refused is kept with the
 * reason (decisions.md §11, design.md rule 4).
 *
 * What it is for. A bundle or export that failed for good (a bad bundle, a digest
 * mismatch, a 4xx from the target) is never deleted: the loader-worker moves it to
 * `<failed_directory>/<basename>` (a file of that name is replaced, as upstream
 * does) and writes beside it `<basename>.error.json`, a JSON object:
 *
 *   {"reason": "<why, one line>", "time": "<ISO time, Assemblyline's form>",
 *    "host": "<host name>", "component": "replay-loader-worker",
 *    "attempts": <tries of the failing step>, "original_path": "<path as queued>",
 *    "file": "<basename>",
 *    "items_failed": <n>, "items": [{"id": "...", "reason": "..."}, ...]}
 *
 * `items_failed` and `items` are present only for list exports with documents the
 * target refused; `items` holds at most REPLAY_FAILED_MAX_ITEMS of them. Strings
 * that are not valid UTF-8 (a file name in another encoding) have their non-ASCII
 * bytes replaced by '?'. `replay-ctl failed` reads these files back
 * (replay_failed_parse, replay_failed_read_reason: any key but "reason" may be
 * missing, as in a sidecar written by hand or by another version) and puts a file
 * back where the loader takes it (replay_failed_restore).
 *
 * Moving never loses a file and never shows half of one: rename(2) first; across
 * file systems (EXDEV) the file is copied to a hidden temporary name in the
 * failed directory, fsync'd, renamed into place, and only then is the original
 * removed. A failure on either side (ESTALE, ENOTCONN, EIO, ENOSPC) is
 * REPLAY_EIO with errno: the caller tries again later, the file is still in one
 * of the two places. The sidecar is written the same way (whole or not at all).
 * A restore moves the other way the same way, except that it never replaces a
 * file: a name taken in the input directory is REPLAY_EEXIST and both files stay.
 *
 * Thread-safe: no state; concurrent moves of different files are independent.
 */
#ifndef REPLAY_FAILED_H
#define REPLAY_FAILED_H

#include <stdbool.h>
#include <stddef.h>

#include "replay/error.h"
#include "replay/lifecycle.h"

#define REPLAY_FAILED_SIDECAR_SUFFIX ".error.json"
#define REPLAY_FAILED_MAX_ITEMS 1000u
/* Cap on a sidecar read back: the items cap with long reasons stays far below. */
#define REPLAY_FAILED_SIDECAR_MAX (8u << 20)

/* A document of a list export the target refused. */
struct replay_failed_item {
    const char *id;     /* the document's id ("#<index>" when it had none) */
    const char *reason;
};

/* What the sidecar says. Strings are borrowed for the call. */
struct replay_failed_record {
    const char *reason;        /* required */
    const char *component;     /* "replay-loader-worker" */
    unsigned attempts;
    const char *original_path; /* the path as it was queued */
    const struct replay_failed_item *items; /* the first n_items refused documents */
    size_t n_items;
    size_t items_failed;       /* how many were refused in all (>= n_items) */
};

/* Moves `name` (a base name) from the directory `src_dirfd` (borrowed) to
 * `<failed_dir>/<name>`, replacing a file of that name. `failed_dir` must exist
 * (a missing last level is created again). REPLAY_ENOTFOUND: `name` is no longer
 * there (nothing moved); REPLAY_EUNSUPPORTED: it is on another file system and is
 * not a regular file, so it cannot be copied (it stays where it is); REPLAY_EIO
 * (errno saved): try again; REPLAY_ECANCELED during a copy. */
REPLAY_MUST_CHECK int replay_failed_move(const char *failed_dir, int src_dirfd, const char *name,
                                         const struct replay_cancel *cancel,
                                         struct replay_err *err);

/* Writes `<failed_dir>/<name>.error.json` for rec (replacing an older one), with
 * the current time and host name. REPLAY_EIO (errno saved), REPLAY_EINVAL
 * without a reason, REPLAY_ENOMEM. */
REPLAY_MUST_CHECK int replay_failed_write_reason(const char *failed_dir, const char *name,
                                                 const struct replay_failed_record *rec,
                                                 struct replay_err *err);

/* The sidecar's JSON text for rec, as written for file `name` at `time` (an ISO
 * text) on `host`. Caller frees; NULL when out of memory or without a reason. */
char *replay_failed_sidecar_json(const char *name, const struct replay_failed_record *rec,
                                 const char *time, const char *host);

/* The sidecar's base name of file `name`: "<name>.error.json", the name cut so
 * that the whole stays a valid file name (NAME_MAX), as it is written. `out`
 * has room for NAME_MAX + 1 bytes. */
void replay_failed_sidecar_name(const char *name, char *out, size_t size);

/* True when `name` may be a file of the failed directory that a restore moves:
 * a base name (no '/'), not "." or "..", not a dot-file (a temporary), not a
 * sidecar, at most NAME_MAX bytes. Names from outside are checked with it. */
bool replay_failed_name_ok(const char *name);

/* A sidecar read back. Strings are owned by it (NULL when the key is missing);
 * release it with replay_failed_info_free(). */
struct replay_failed_info {
    char *reason; /* always set */
    char *time, *host, *component, *original_path, *file;
    long long attempts;  /* -1 when missing */
    long long items_failed; /* 0 when missing */
    struct replay_failed_item *items; /* n_items entries, strings owned as above */
    size_t n_items;
};

/* Parses a sidecar's text (`len` bytes, borrowed; no I/O). REPLAY_EFORMAT (not a
 * JSON object, no string "reason", a key of the wrong type: the message names
 * it), REPLAY_ETOOBIG past REPLAY_FAILED_SIDECAR_MAX, REPLAY_ENOMEM. *out is NULL
 * on failure. */
REPLAY_MUST_CHECK int replay_failed_parse(const char *text, size_t len,
                                          struct replay_failed_info **out,
                                          struct replay_err *err);
/* Reads and parses the sidecar of file `name` in `failed_dir` (not following a
 * symbolic link). REPLAY_ENOTFOUND when there is none, REPLAY_EIO (errno saved)
 * when it cannot be read, else as replay_failed_parse. */
REPLAY_MUST_CHECK int replay_failed_read_reason(const char *failed_dir, const char *name,
                                                struct replay_failed_info **out,
                                                struct replay_err *err);
/* NULL does nothing. */
void replay_failed_info_free(struct replay_failed_info *info);

/* Moves `<failed_dir>/<name>` back to `<dest_dir>/<name>` (the loader's input
 * directory) without ever replacing a file there, then removes its sidecar.
 * REPLAY_EINVAL: `name` fails replay_failed_name_ok (nothing touched);
 * REPLAY_ENOTFOUND: no such file in the failed directory; REPLAY_EUNSUPPORTED:
 * it is not a regular file; REPLAY_EEXIST: `dest_dir` has a file of that name
 * (both stay as they were); REPLAY_EIO (errno saved) for a directory that cannot
 * be opened, a failed move (the file is still in one of the two places, whole),
 * or a sidecar that cannot be removed after the move (the message says the file
 * moved); REPLAY_ECANCELED during a copy. */
REPLAY_MUST_CHECK int replay_failed_restore(const char *failed_dir, const char *name,
                                            const char *dest_dir,
                                            const struct replay_cancel *cancel,
                                            struct replay_err *err);

#endif
