/*
 * archive: the check of a bundle before it is sent to the target (formats.md §2,
 * decisions.md §10), reading its tar with libarchive and extracting nothing.
 *
 * What it is for. The loader-worker must not send the target a file the target
 * would refuse, or that would hurt it: a CaRT that is corrupt or whose digests do
 * not match, a tar that would write outside its directory, a decompression bomb.
 * Such a file is a permanent failure with a reason an operator understands, and
 * goes to the failed directory; it is never imported.
 *
 * What is accepted, in upstream's own order (import_bundle, formats.md §2.5):
 *  - the outer layer: a CaRT whose optional header says `al.type` =
 *    `archive/bundle/al` (its length and digests are verified as it streams, and a
 *    mismatch wins over any other reason: the file is corrupt), or no CaRT at all
 *    (upstream's import takes a bare bundle too);
 *  - inside: a tar (ustar, pax or GNU), plain or compressed with gzip, bzip2 or xz
 *    (what Python's tarfile opens), read as a stream;
 *  - every member a regular file or a directory, named by a relative path without
 *    a `..` component; no symbolic or hard links, devices, FIFOs or sockets;
 *    (directories are harmless and appear when a bundle is made with `tar czf x .`);
 *  - at most max_members members and max_bytes bytes of member data (the sizes the
 *    headers declare, checked before anything is read) and of CaRT data;
 *  - a `results.json` (or `./results.json`) that is valid JSON and an object,
 *    checked as it streams (jsonstream.h: no size but max_results_json, memory flat).
 * The check does not judge the contents (completeness, classifications): the
 * target does, and says why.
 *
 * Errors (the message is the reason, one line, names made printable): REPLAY_EFORMAT
 * (not a bundle, not a tar, wrong CaRT type, no or invalid results.json),
 * REPLAY_EUNSAFE (a member that must not be extracted), REPLAY_ETOOBIG (a cap),
 * REPLAY_EINTEGRITY (CaRT length or digests), REPLAY_EBADKEY (the CaRT does not
 * decrypt), REPLAY_EIO (reading failed: not the file's fault, try again),
 * REPLAY_ECANCELED, REPLAY_ENOMEM.
 *
 * replay_archive_inspect_fd() is the same check handing results.json's bytes to
 * the caller as they stream (replay-ctl verify summarizes them).
 *
 * List exports (`<collection>_<time>.al_json[.cart]`, formats.md §3.4) have their
 * own check, replay_archive_export_fd(): the CaRT's digests (required), then the
 * text as a JSON array (jsonstream.h), its elements handed to the caller.
 *
 * Parsers do no I/O: replay_archive_check() reads through a callback;
 * replay_archive_check_fd() is the helper on a file. Memory is flat (libarchive's
 * and the CaRT decoder's buffers). Thread-safe: each call is independent.
 */
#ifndef REPLAY_ARCHIVE_H
#define REPLAY_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "replay/cart.h"
#include "replay/error.h"
#include "replay/jsonstream.h"
#include "replay/lifecycle.h"

#define REPLAY_ARCHIVE_BUNDLE_TYPE "archive/bundle/al"
/* A submission's files, results and errors: far above any real submission. */
#define REPLAY_ARCHIVE_MAX_MEMBERS 100000u
/* Bytes of member data, and of data inside the CaRT: a bundle can be gigabytes. */
#define REPLAY_ARCHIVE_MAX_BYTES (64ull << 30)
/* The server parses results.json in memory: anything near this would fail there. */
#define REPLAY_ARCHIVE_MAX_RESULTS_JSON (2ull << 30)

/* Zero fields take the defaults above. */
struct replay_archive_limits {
    uint64_t max_members;
    uint64_t max_bytes;
    uint64_t max_results_json;
};

/* What a bundle that passed holds. */
struct replay_archive_summary {
    bool carted;               /* the outer layer was a CaRT (digests verified) */
    uint64_t members;          /* tar members */
    uint64_t bytes;            /* declared bytes of member data */
    uint64_t results_json;     /* size of results.json */
    struct replay_cart_digests digests; /* when carted: of the data inside the CaRT */
};

/* Receives the next `len` bytes of results.json (borrowed for the call); returns 0
 * to go on or a negative REPLAY_E* code (err set) that ends the check. */
typedef int (*replay_archive_results_fn)(void *ctx, const void *buf, size_t len,
                                         struct replay_err *err);

/* Checks the bundle read through `read(ctx, ...)` from its first byte to its end.
 * `limits` and `out` may be NULL; `cancel` NULL means never canceled. Calls
 * replay_progress() as it reads. */
REPLAY_MUST_CHECK int replay_archive_check(replay_cart_read_fn read, void *ctx,
                                           const struct replay_archive_limits *limits,
                                           const struct replay_cancel *cancel,
                                           struct replay_archive_summary *out,
                                           struct replay_err *err);

/* The same on the file `fd` (borrowed), read with pread() from offset 0, so the
 * caller's offset does not move and the same fd can be sent afterwards. */
REPLAY_MUST_CHECK int replay_archive_check_fd(int fd, const struct replay_archive_limits *limits,
                                              const struct replay_cancel *cancel,
                                              struct replay_archive_summary *out,
                                              struct replay_err *err);

/* replay_archive_check_fd() that also gives results.json's bytes, as they are
 * checked, to on_results(ctx, ...) (NULL: none). */
REPLAY_MUST_CHECK int replay_archive_inspect_fd(int fd, const struct replay_archive_limits *limits,
                                                replay_archive_results_fn on_results, void *ctx,
                                                const struct replay_cancel *cancel,
                                                struct replay_archive_summary *out,
                                                struct replay_err *err);

/* Checks the list export `fd` (borrowed, read with pread() from offset 0): when
 * `carted`, a CaRT whose footer has digests that match (REPLAY_EINTEGRITY
 * otherwise), un-CaRTed as it streams; the text a JSON array, each element given
 * to on_item(ctx, ...) (NULL: checked only; see jsonstream.h). *items (optional)
 * gets the elements seen, *digests (optional, when carted) the CaRT's digests.
 * Errors: those of cart.h and jsonstream.h, on_item's, REPLAY_EIO, REPLAY_ECANCELED. */
REPLAY_MUST_CHECK int replay_archive_export_fd(int fd, bool carted,
                                               replay_jsonstream_item_fn on_item, void *ctx,
                                               const struct replay_cancel *cancel, size_t *items,
                                               struct replay_cart_digests *digests,
                                               struct replay_err *err);

#endif
