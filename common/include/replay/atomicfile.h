/*
 * atomicfile: files that appear whole or not at all (design rule 3, "never half
 * a file"; decisions.md §9).
 *
 * A file is written under a temporary name in the directory of its final name
 * (so putting it in place never crosses a file system), fsynced, then put in
 * place: replacing what is there (rename(2)), or never replacing anything
 * (renameat2(RENAME_NOREPLACE); on file systems without it, NFS among them,
 * link(2) then unlink(2); on those without hard links either, a check then a
 * rename, which a concurrent writer can race). The directory is fsynced after,
 * so the name survives a crash. Every failure removes the temporary.
 *
 * The temporary names of the whole project (local files and the ftp/sftp
 * stores' remote ones) follow one convention:
 *
 *     .<final name>.replay-tmp-XXXXXXXXXXXX      (12 random letters and digits)
 *
 * a dot-file, which readers that skip dot-files skip anyway;
 * replay_atomicfile_is_tmp_name() recognises it (the loader and the filestore
 * listings skip such names) and replay_atomicfile_remove_stale() deletes those a
 * crash left behind (services call it at start on their own directories).
 *
 * Errors: 0 or a negative REPLAY_E* code with the detail in `err`: REPLAY_EAUTH
 * when permission is refused (EACCES, EPERM), REPLAY_EEXIST when a no-replace
 * commit finds the name taken, REPLAY_ECANCELED from replay_atomicfile_write()
 * once the cancel token is requested, REPLAY_EINVAL for a path without a file
 * name, REPLAY_ETOOBIG for a path too long, REPLAY_EIO otherwise (a missing
 * directory, a full disk, ...), with the system's reason.
 *
 * Thread-safety: an open file is used by one thread; the functions without a
 * file are thread-safe. Ownership: replay_atomicfile_open() returns a file the
 * caller always releases with replay_atomicfile_close(), committed or not.
 */
#ifndef REPLAY_ATOMICFILE_H
#define REPLAY_ATOMICFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "replay/error.h"
#include "replay/lifecycle.h"

/* What marks a temporary name, between the final name and the random part. */
#define REPLAY_ATOMICFILE_TMP_MARK ".replay-tmp-"
/* Random characters at the end of a temporary name. */
#define REPLAY_ATOMICFILE_TMP_RANDOM 12
/* Room for a temporary base name (NUL included); longer final names are cut
 * in the temporary name so that it stays a valid file name (255 bytes). */
#define REPLAY_ATOMICFILE_TMP_NAME_MAX 256
/* Age after which replay_atomicfile_remove_stale() counts a temporary as left
 * by a crash: far longer than any upload or download takes. */
#define REPLAY_ATOMICFILE_STALE_S (24u * 3600u)

struct replay_atomicfile;

/* Zero fields take the defaults in brackets. */
struct replay_atomicfile_opts {
    unsigned mode;     /* permissions of the file, less the umask [0644] */
    bool make_dirs;    /* create missing parent directories, 0750 less the umask [no] */
    bool no_fsync;     /* skip the fsyncs of the file and the directory [fsync] */
    const struct replay_cancel *cancel; /* borrowed; stops replay_atomicfile_write() */
};

/* How replay_atomicfile_commit() puts the file in place. */
enum replay_atomicfile_how {
    REPLAY_ATOMICFILE_REPLACE,    /* replace an existing file of that name */
    REPLAY_ATOMICFILE_NO_REPLACE, /* never: REPLAY_EEXIST when the name is taken */
};

/* Creates the temporary for `path` (its directory must exist unless make_dirs).
 * `o` may be NULL. *out is NULL on failure; else release it with
 * replay_atomicfile_close(). */
REPLAY_MUST_CHECK int replay_atomicfile_open(const char *path,
                                             const struct replay_atomicfile_opts *o,
                                             struct replay_atomicfile **out,
                                             struct replay_err *err);
/* The temporary's descriptor (write-only, at offset 0 when opened), for callers
 * that write it themselves; borrowed until close. -1 after a commit. */
int replay_atomicfile_fd(const struct replay_atomicfile *f);
/* The temporary's path (borrowed until close). */
const char *replay_atomicfile_tmp_path(const struct replay_atomicfile *f);
/* Appends all of buf to the temporary (across EINTR and short writes);
 * REPLAY_ECANCELED, without writing, once the cancel token is requested. */
REPLAY_MUST_CHECK int replay_atomicfile_write(struct replay_atomicfile *f, const void *buf,
                                              size_t len, struct replay_err *err);
/* fsyncs and closes the temporary, puts it in place as `how` says, fsyncs the
 * directory. On failure the temporary is removed and nothing is in place. Call
 * it at most once; release `f` with replay_atomicfile_close() either way. */
REPLAY_MUST_CHECK int replay_atomicfile_commit(struct replay_atomicfile *f,
                                               enum replay_atomicfile_how how,
                                               struct replay_err *err);
/* Removes the temporary unless committed, and frees f. NULL does nothing. */
void replay_atomicfile_close(struct replay_atomicfile *f);

/* Writes a new file's contents to `fd` (borrowed, the temporary, at offset 0).
 * Returns 0 or a REPLAY_E* code with err set. */
typedef int (*replay_atomicfile_fill_fn)(void *ctx, int fd, struct replay_err *err);
/* The whole cycle for callers that write a file in one go: opens the temporary
 * for `path` (`o` may be NULL), lets fill(ctx, fd, err) write it, commits it as
 * `how` says; on any failure nothing is left and `path` is untouched. */
REPLAY_MUST_CHECK int replay_atomicfile_create(const char *path,
                                               const struct replay_atomicfile_opts *o,
                                               enum replay_atomicfile_how how,
                                               replay_atomicfile_fill_fn fill, void *ctx,
                                               struct replay_err *err);

/* Writes all of [buf, buf+len) to fd across EINTR and short writes: 0, or the
 * errno of the failed write (EIO for a write that wrote nothing). */
int replay_atomicfile_write_fd(int fd, const void *buf, size_t len);

/* A fresh temporary base name for the final base name `name` (no '/'), into
 * out (REPLAY_ATOMICFILE_TMP_NAME_MAX bytes are always enough). */
void replay_atomicfile_tmp_name(const char *name, char *out, size_t outsz);
/* True when `base_name` (no directory) is a temporary name of the convention. */
bool replay_atomicfile_is_tmp_name(const char *base_name);
/* Deletes, whatever their age, the temporaries of `dir` whose names start with
 * `prefix` (e.g. ".<host>-" or ".<state file>.replay-tmp-"): those a process that
 * owns such names left when it was killed. *removed (optional) gets how many
 * went; REPLAY_EIO when the directory cannot be read. */
REPLAY_MUST_CHECK int replay_atomicfile_remove_own(const char *dir, const char *prefix,
                                                   unsigned *removed, struct replay_err *err);
/* Deletes the regular files of `dir` (not its subdirectories) whose names are
 * temporary names and whose last change is older than max_age_s seconds.
 * *removed (optional) gets how many went. A file that cannot be removed is
 * skipped and its error returned after the others were tried. */
REPLAY_MUST_CHECK int replay_atomicfile_remove_stale(const char *dir, unsigned max_age_s,
                                                     unsigned *removed,
                                                     struct replay_err *err);

#endif
