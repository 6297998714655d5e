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
 * bytes replaced by '?'. `replay-ctl failed` reads these files.
 *
 * Moving never loses a file and never shows half of one: rename(2) first; across
 * file systems (EXDEV) the file is copied to a hidden temporary name in the
 * failed directory, fsync'd, renamed into place, and only then is the original
 * removed. A failure on either side (ESTALE, ENOTCONN, EIO, ENOSPC) is
 * REPLAY_EIO with errno: the caller tries again later, the file is still in one
 * of the two places. The sidecar is written the same way (whole or not at all).
 *
 * Thread-safe: no state; concurrent moves of different files are independent.
 */
#ifndef REPLAY_FAILED_H
#define REPLAY_FAILED_H

#include <stddef.h>

#include "replay/error.h"
#include "replay/lifecycle.h"

#define REPLAY_FAILED_SIDECAR_SUFFIX ".error.json"
#define REPLAY_FAILED_MAX_ITEMS 1000u

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

#endif
