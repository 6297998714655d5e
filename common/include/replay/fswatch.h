/*
 * fswatch: discovery of complete Replay files under the loader's input directory.
 *
 * What it is for. Bundles and exports arrive in `input_directory` by any means
 * (NFS, rsync, a diode, a person with a disk), often written in place under their
 * final name. The loader must queue each file once it is complete, once, and
 * never take a failing file system for an empty directory (upstream-behaviour.md
 * §4.3, decisions.md §11).
 *
 * The walk (replay_fswatch_scan). A pass walks the tree with openat/fdopendir,
 * one open directory per level (at most max_depth), and:
 *  - skips every name starting with '.' (dot-files, rsync's temporaries, our own
 *    ".<name>.replay-tmp-<random>", and dot-directories: upstream walks those, but they
 *    hold temporaries of sync tools, never finished bundles);
 *  - never enters failed_directory or working_directory when they are inside the
 *    tree (compared by device and inode, looked up again at every pass), nor a
 *    symbolic link to a directory (not followed, as upstream);
 *  - reports the candidates: files whose names names.h classifies as a bundle or
 *    an export, with device, inode, size and mtime (nanoseconds). A candidate that
 *    is a symbolic link (it could point anywhere), a FIFO, a device or a socket is
 *    never reported; it is logged once (a warning) while it stays.
 * A file the pass already knows as settled, whose readdir inode matches, is not
 * stat'ed again (100,000 waiting files cost a directory listing, not 100,000
 * stats); any other candidate is, and every full_every-th pass stats them all.
 * So a settled file changed in place (same inode), or deleted and written again
 * under its name on a reused inode between two passes, is seen as new by the next
 * full pass (with the loader's defaults, within a minute), not at once.
 *
 * Complete passes. A failure to open, list or stat anything (ESTALE, ENOTCONN,
 * EIO, EACCES, ...) makes the pass incomplete: the error is counted, the first
 * one kept in the pass's report, and the walk goes on with the rest. So does a
 * changed input directory: when its device and inode differ from the ones
 * recorded (an unmounted NFS share or bind mount leaves an empty directory
 * behind), passes stay incomplete for root_grace_ms, then the new directory is
 * accepted (logged). Only a complete pass forgets the files it did not see: a
 * failing walk never makes the caller think the directory is empty.
 *
 * Settling. A file is settled once its device, inode, size and mtime were the
 * same in observations spanning settle_ms (0: at first sight), so a file still
 * being written (growing, or touched) is not reported. A changed file starts
 * over, and its caller's `mark` is reset to 0: it is a new file to the caller.
 * replay_fswatch_scan() calls the callback for every settled file it sees, every
 * pass; the callback may set the file's `mark` (the loader keeps the time it
 * queued the file there), which is kept with the record.
 *
 * Waiting (replay_fswatch_wait). Between passes the caller waits for a deadline.
 * inotify (libuv fs events, on up to max_watches directories; NFS gives none) ends
 * the wait early when a name appears or goes, but not sooner than max(250 ms,
 * twice the last pass's duration) after the last pass, so a busy directory does
 * not turn into back-to-back walks. The periodic pass always runs: the events are
 * only hints.
 *
 * State (replay_fswatch_save/load). Records with a non-zero mark, and the input
 * directory's identity, are written to a file (JSON lines, written whole: a
 * temp name then rename) and read at the next start, so a restart neither
 * forgets what was queued nor queues it again. A loaded record keeps its mark only
 * if the file, when first seen again, has the same device, inode, size and mtime;
 * records for files gone are dropped by the next complete pass. A state file for
 * another input directory is ignored (logged).
 *
 * Limits: max_files records (beyond it, new candidates wait, logged once), paths
 * up to PATH_MAX, max_depth levels, max_watches inotify watches. Memory: one
 * record per candidate (about 100 bytes plus its relative path) and an
 * open-addressing table of pointers.
 *
 * Errors: 0 or a negative REPLAY_E* code with err set: REPLAY_EIO (the state file
 * could not be written), REPLAY_EFORMAT (a corrupt state file: nothing loaded),
 * REPLAY_ENOMEM, REPLAY_ECANCELED, or what the callback returns (it stops the pass,
 * which is then incomplete). Walk failures are not errors of the call: they make
 * the pass incomplete.
 *
 * Thread-safety: one watcher belongs to one thread (it owns a libuv loop).
 * Ownership: the watcher from _open is closed with _close (NULL: no-op); strings
 * in options are copied; strings given to the callback are borrowed for the call.
 */
#ifndef REPLAY_FSWATCH_H
#define REPLAY_FSWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/error.h"
#include "replay/lifecycle.h"
#include "replay/names.h"

#define REPLAY_FSWATCH_MAX_FILES 1000000u
#define REPLAY_FSWATCH_MAX_DEPTH 64u
#define REPLAY_FSWATCH_MAX_WATCHES 1024u
#define REPLAY_FSWATCH_MIN_GAP_MS 250u
#define REPLAY_FSWATCH_FULL_EVERY 12u

struct replay_fswatch_options {
    const char *root;              /* the input directory (absolute, or relative to cwd) */
    const char *const *skip_dirs;  /* directories never entered (they need not exist) */
    size_t n_skip_dirs;
    uint64_t settle_ms;            /* how long a file must stay unchanged */
    uint64_t root_grace_ms;        /* how long a replaced input directory is distrusted */
    size_t max_files;              /* 0: REPLAY_FSWATCH_MAX_FILES */
    unsigned max_depth;            /* 0: REPLAY_FSWATCH_MAX_DEPTH */
    int max_watches;               /* 0: REPLAY_FSWATCH_MAX_WATCHES; < 0: no inotify */
    unsigned full_every;           /* 0: REPLAY_FSWATCH_FULL_EVERY; 1: every pass stats all */
};

/* A settled candidate, borrowed for the callback's call. */
struct replay_fswatch_file {
    const char *path;  /* the root as given, '/', then rel */
    const char *rel;   /* relative to the root */
    enum replay_names_kind kind;
    uint64_t dev, ino;
    int64_t size, mtime_ns;
    int64_t mark;      /* the caller's, kept with the record; 0 for a new file */
};

/* Called for each settled file of a pass. It may change f->mark. Returns 0 to go
 * on, or a REPLAY_E* code (err set) to stop the pass. */
typedef int (*replay_fswatch_settled_fn)(void *ctx, struct replay_fswatch_file *f,
                                         struct replay_err *err);

/* What a pass found. */
struct replay_fswatch_pass {
    bool complete;          /* every directory was listed and every candidate stat'ed */
    bool changed;           /* records with a mark were added, changed or dropped */
    uint64_t candidates;    /* Replay files seen (settled or not) */
    uint64_t settled;       /* of those, settled (the callback's calls) */
    uint64_t forgotten;     /* records dropped (a complete pass only) */
    uint64_t tracked;       /* records after the pass */
    uint64_t dirs;          /* directories listed */
    uint64_t errors;        /* walk failures */
    uint64_t duration_ms;
    uint64_t next_settle_ms; /* replay_now_ms() when the next unsettled file may settle; 0: none */
    char first_error[REPLAY_ERR_MSG_LEN]; /* the first walk failure ("" when none) */
};

struct replay_fswatch;

/* Copies the options and prepares the watcher (no walk yet). Caller closes *out
 * with replay_fswatch_close(). REPLAY_EINVAL for a missing root, REPLAY_ENOMEM,
 * REPLAY_EIO when libuv cannot start. */
REPLAY_MUST_CHECK int replay_fswatch_open(const struct replay_fswatch_options *o,
                                          struct replay_fswatch **out, struct replay_err *err);
void replay_fswatch_close(struct replay_fswatch *w);

/* One pass (see above). `fn` may be NULL. *out is filled also on failure. */
REPLAY_MUST_CHECK int replay_fswatch_scan(struct replay_fswatch *w, replay_fswatch_settled_fn fn,
                                          void *ctx, struct replay_fswatch_pass *out,
                                          struct replay_err *err);

/* Waits until replay_now_ms() reaches deadline_ms, or a hint (see above) came, or
 * shutdown (REPLAY_ECANCELED). Counts as idle for the heartbeat. */
REPLAY_MUST_CHECK int replay_fswatch_wait(struct replay_fswatch *w, uint64_t deadline_ms,
                                          const struct replay_cancel *cancel,
                                          struct replay_err *err);

/* A short word the owner keeps in the state file's header with the records (the
 * loader: the queue Redis's epoch the marks were queued in), at most
 * REPLAY_FSWATCH_TAG_MAX characters (longer is cut). replay_fswatch_load sets it
 * from the file ("" for a file written without one); never NULL. */
#define REPLAY_FSWATCH_TAG_MAX 64
void replay_fswatch_set_tag(struct replay_fswatch *w, const char *tag);
const char *replay_fswatch_tag(const struct replay_fswatch *w);

/* Writes the state file `path` (whole or not at all). */
REPLAY_MUST_CHECK int replay_fswatch_save(struct replay_fswatch *w, const char *path,
                                          struct replay_err *err);
/* Reads the state file `path` into a watcher that has not scanned yet. A missing
 * file is not an error (*loaded 0). REPLAY_EFORMAT names the line of a corrupt
 * file and nothing is loaded. *loaded (may be NULL) gets the records read. */
REPLAY_MUST_CHECK int replay_fswatch_load(struct replay_fswatch *w, const char *path,
                                          size_t *loaded, struct replay_err *err);

#endif
