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
};

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

#endif
