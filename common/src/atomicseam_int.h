/*
 * atomicseam (internal): a new file that appears under its final name only when
 * complete and synced, for the failed directory (failed.c) and the loader's state
 * file (fswatch_state.c).
 *
 * SEAM. The `atomicfile` module (temp name + fsync + rename/link-no-replace, one
 * temp-name convention, a stale-temp cleaner) is being written on another branch.
 * When it is merged, replay__atomic_create()'s two callers switch to it and this
 * file and atomicseam.c are deleted. Until then it uses cart's temp-name
 * convention (".<name>.tmp-XXXXXX", a dot-file the loader never queues) and leaves
 * a temp behind only when the process dies while writing.
 */
#ifndef REPLAY_ATOMICSEAM_INT_H
#define REPLAY_ATOMICSEAM_INT_H

#include <sys/types.h>

#include "replay/error.h"

/* Writes the new file's contents to `fd` (borrowed, open for writing at offset 0).
 * Returns 0 or a REPLAY_E* code with err set. */
typedef int (*replay__fill_fn)(void *ctx, int fd, struct replay_err *err);

/* Creates `name` in the directory `dirfd` (shown as `dir` in messages): a temp
 * file in the same directory, filled by fill(ctx, fd), fsync'd, renamed over
 * `name` (an existing file of that name is replaced), and the directory fsync'd.
 * On failure nothing is left behind and `name` is untouched. REPLAY_EIO with
 * errno for file-system failures, or fill's code. */
REPLAY_MUST_CHECK int replay__atomic_create(int dirfd, const char *dir, const char *name,
                                            mode_t mode, replay__fill_fn fill, void *ctx,
                                            struct replay_err *err);

#endif
