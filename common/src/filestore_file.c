/*
 * filestore_file: file:// stores, a local or NFS directory, with POSIX calls.
 *
 * Upload copies into a temporary file of replay/atomicfile.h beside the final
 * name, which puts it in place without replacing anything (renameat2
 * RENAME_NOREPLACE, link()+unlink() on NFS) and fsyncs file and directory.
 * Copies use copy_file_range() when the kernel can, read/write otherwise, and
 * honour the bandwidth caps (max_send_speed up, max_recv_speed down). A
 * streamed upload hands the atomic file's descriptor to the producer, so the
 * bytes are written once, where they stay.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filestore_int.h"
#include "replay/atomicfile.h"
#include "replay/lifecycle.h"

#define COPY_CHUNK (8u << 20)   /* bytes per copy_file_range call */
#define COPY_BUFFER (256u << 10) /* read/write fallback buffer */
#define THROTTLE_CHUNK (1u << 20) /* bytes per step under a bandwidth cap */

struct file_store {
    char base[REPLAY__FS_MAX_PATH];
};

static const char *const file_options[] = {"normalize", NULL};

static int file_parse(struct replay_filestore *fs, struct replay_err *err)
{
    if (replay__fs_url_bool(&fs->url, "normalize", false))
        return replay_err_set(err, REPLAY_ECONFIG,
                              "filestore URL %s: normalize=true is not supported (upstream's "
                              "file transport fails every call with it)",
                              fs->shown);
    struct file_store *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore: out of memory");
    fs->impl = f;
    if (snprintf(f->base, sizeof(f->base), "%s", fs->url.base) >= (int)sizeof(f->base))
        return replay_err_set(err, REPLAY_ETOOBIG, "filestore URL %s: path too long", fs->shown);
    return 0;
}

static void file_close(struct replay_filestore *fs)
{
    free(fs->impl);
    fs->impl = NULL;
}

static int location(struct replay_filestore *fs, const char *name, char *out, size_t outsz,
                    struct replay_err *err)
{
    struct file_store *f = fs->impl;
    return replay__fs_join(f->base, name, out, outsz, err);
}

/* How a copy runs: cancel token and optional bandwidth cap (bytes/s). */
struct copy_ctl {
    const struct replay_cancel *cancel;
    uint64_t rate;
    uint64_t start_ms;
};

/* Under a bandwidth cap, sleeps until `done` bytes are due. */
static int throttle(const struct copy_ctl *ctl, uint64_t done, struct replay_err *err)
{
    if (ctl->rate == 0)
        return 0;
    uint64_t due_ms = ctl->start_ms + done * 1000u / ctl->rate, now = replay_now_ms();
    if (due_ms > now && replay_cancel_sleep_ms(ctl->cancel, due_ms - now, false) != 0)
        return replay_err_set(err, REPLAY_ECANCELED, "copy canceled");
    return 0;
}

static int copy_plain(int in, int out, uint64_t size, const struct copy_ctl *ctl,
                      struct replay_err *err)
{
    const struct replay_cancel *cancel = ctl->cancel;
    char *buf = malloc(COPY_BUFFER);
    if (buf == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "copy: out of memory");
    int rc = 0;
    for (uint64_t done = 0; rc == 0 && done < size;) {
        if (replay_cancel_requested(cancel)) {
            rc = replay_err_set(err, REPLAY_ECANCELED, "copy canceled");
            break;
        }
        size_t want = size - done < COPY_BUFFER ? (size_t)(size - done) : COPY_BUFFER;
        if ((rc = throttle(ctl, done, err)) != 0)
            break;
        ssize_t r = pread(in, buf, want, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = r == 0 ? replay_err_set(err, REPLAY_EIO, "copy: source shrank while copied")
                        : replay_err_sys(err, REPLAY_EIO, errno, "copy: read");
            break;
        }
        int e = replay_atomicfile_write_fd(out, buf, (size_t)r);
        if (e != 0) {
            rc = replay_err_sys(err, REPLAY_EIO, e, "copy: write");
            break;
        }
        done += (uint64_t)r;
        replay_progress();
    }
    free(buf);
    return rc;
}

/* Copies size bytes of in (from offset 0) to out (at its offset 0). */
static int copy_fd(int in, int out, uint64_t size, const struct replay_filestore *fs,
                   uint64_t rate, struct replay_err *err)
{
    struct copy_ctl ctl = {fs->opts.cancel, rate, replay_now_ms()};
    uint64_t done = 0, chunk = ctl.rate != 0 ? THROTTLE_CHUNK : COPY_CHUNK;
    while (done < size) {
        if (replay_cancel_requested(ctl.cancel))
            return replay_err_set(err, REPLAY_ECANCELED, "copy canceled");
        int rc = throttle(&ctl, done, err);
        if (rc != 0)
            return rc;
        loff_t off_in = (loff_t)done, off_out = (loff_t)done;
        size_t want = size - done < chunk ? (size_t)(size - done) : (size_t)chunk;
        ssize_t n = copy_file_range(in, &off_in, out, &off_out, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && done == 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                                   errno == EOPNOTSUPP || errno == EBADF))
            return copy_plain(in, out, size, &ctl, err);
        if (n < 0)
            return replay_err_sys(err, REPLAY_EIO, errno, "copy");
        if (n == 0)
            return replay_err_set(err, REPLAY_EIO, "copy: source shrank while copied");
        done += (uint64_t)n;
        replay_progress();
    }
    return 0;
}

/* Puts a written upload in place without replacing (rc: how the writing went),
 * and releases it. */
static int commit(struct replay_atomicfile *f, int rc, enum replay_filestore_outcome *outcome,
                  struct replay_err *err)
{
    if (rc == 0)
        rc = replay_atomicfile_commit(f, REPLAY_ATOMICFILE_NO_REPLACE, err);
    replay_atomicfile_close(f);
    if (rc == REPLAY_EEXIST) { /* a concurrent writer won: its file is whole */
        replay_err_clear(err);
        *outcome = REPLAY_FILESTORE_SKIPPED_EXISTS;
        rc = 0;
    }
    return rc;
}

/* The temporary of an upload of name, beside its final path (*f is NULL on
 * failure). */
static int open_tmp(struct replay_filestore *fs, const char *name, struct replay_atomicfile **f,
                    struct replay_err *err)
{
    char path[REPLAY__FS_MAX_PATH];
    /* Analysis results: not for other users of the machine (0640, 0750 dirs). */
    struct replay_atomicfile_opts ao = {.mode = 0640, .make_dirs = true};
    *f = NULL;
    int rc = location(fs, name, path, sizeof(path), err);
    return rc != 0 ? rc : replay_atomicfile_open(path, &ao, f, err);
}

static int file_upload(struct replay_filestore *fs, int fd, uint64_t size, const char *name,
                       enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    struct replay_atomicfile *f;
    int rc = open_tmp(fs, name, &f, err);
    if (rc == 0)
        rc = copy_fd(fd, replay_atomicfile_fd(f), size, fs, fs->opts.max_send_speed, err);
    return commit(f, rc, outcome, err);
}

/* The producer writes the atomic file itself: no pipe, no second copy. */
static int file_upload_stream(struct replay_filestore *fs, const char *name,
                              const struct replay__fs_producer *p,
                              enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    struct replay_atomicfile *f;
    int rc = open_tmp(fs, name, &f, err);
    if (rc == 0)
        rc = replay__fs_produce(p, replay_atomicfile_fd(f), err);
    if (rc == 0 && replay_cancel_requested(fs->opts.cancel))
        rc = replay_err_set(err, REPLAY_ECANCELED, "stream canceled");
    return commit(f, rc, outcome, err);
}

static int file_download(struct replay_filestore *fs, const char *name, int fd,
                         struct replay_err *err)
{
    char path[REPLAY__FS_MAX_PATH];
    int rc = location(fs, name, path, sizeof(path), err);
    if (rc != 0)
        return rc;
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return replay_err_sys(err, errno == ENOENT ? REPLAY_ENOTFOUND : REPLAY_EIO, errno,
                              "open %s", path);
    struct stat st;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(in);
        return replay_err_set(err, REPLAY_ENOTFOUND, "%s is not a regular file", path);
    }
    rc = copy_fd(in, fd, (uint64_t)st.st_size, fs, fs->opts.max_recv_speed, err);
    close(in);
    return rc;
}

static int file_exists(struct replay_filestore *fs, const char *name, bool *exists,
                       struct replay_err *err)
{
    char path[REPLAY__FS_MAX_PATH];
    int rc = location(fs, name, path, sizeof(path), err);
    if (rc != 0)
        return rc;
    struct stat st;
    if (stat(path, &st) == 0) {
        *exists = S_ISREG(st.st_mode);
        return 0;
    }
    if (errno == ENOENT || errno == ENOTDIR) {
        *exists = false;
        return 0;
    }
    return replay_err_sys(err, errno == EACCES ? REPLAY_EAUTH : REPLAY_EIO, errno, "stat %s",
                          path);
}

static int file_remove(struct replay_filestore *fs, const char *name, struct replay_err *err)
{
    char path[REPLAY__FS_MAX_PATH];
    int rc = location(fs, name, path, sizeof(path), err);
    if (rc != 0)
        return rc;
    if (unlink(path) == 0 || errno == ENOENT || errno == ENOTDIR)
        return 0;
    return replay_err_sys(err, errno == EACCES || errno == EPERM ? REPLAY_EAUTH : REPLAY_EIO,
                          errno, "unlink %s", path);
}

static bool regular_entry(DIR *d, const struct dirent *e)
{
    if (e->d_type == DT_REG)
        return true;
    if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK)
        return false;
    struct stat st;
    return fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

static int file_list(struct replay_filestore *fs, replay_filestore_list_fn fn, void *ctx,
                     struct replay_err *err)
{
    struct file_store *f = fs->impl;
    DIR *d = opendir(f->base);
    if (d == NULL)
        return replay_err_sys(err, errno == ENOENT ? REPLAY_ENOTFOUND : REPLAY_EIO, errno,
                              "opendir %s", f->base);
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0)
                rc = replay_err_sys(err, REPLAY_EIO, errno, "readdir %s", f->base);
            break;
        }
        if (regular_entry(d, e) && (rc = fn(e->d_name, ctx)) != 0)
            break;
    }
    closedir(d);
    return rc;
}

const struct replay__fs_ops replay__fs_file_ops = {
    .scheme = "file",
    .options = file_options,
    .parse = file_parse,
    .connect = NULL,
    .close = file_close,
    .upload = file_upload,
    .upload_stream = file_upload_stream,
    .stream_seekable = true,
    .download = file_download,
    .exists = file_exists,
    .remove = file_remove,
    .list = file_list,
};
