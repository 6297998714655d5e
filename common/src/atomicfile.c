/* atomicfile: temporary file beside the final name, fsync, rename or link into
 * place, fsync of the directory; the project's temporary names and their
 * clean-up (replay/atomicfile.h). */
#include "replay/atomicfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MODE 0644u
#define OPEN_TRIES 100
/* Bytes of the final name kept in a temporary name: room for the dot, the mark
 * and the random part within NAME_MAX. */
#define NAME_KEEP (NAME_MAX - 1 - (sizeof(REPLAY_ATOMICFILE_TMP_MARK) - 1) - \
                   REPLAY_ATOMICFILE_TMP_RANDOM)

struct replay_atomicfile {
    char *path; /* the final name */
    char *tmp;  /* the temporary, beside it */
    char *dir;  /* their directory */
    size_t name_at; /* offset of the final base name in path */
    int fd;
    bool committed, fsync;
    const struct replay_cancel *cancel;
};

/* ---- names ------------------------------------------------------------------- */

static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static bool is_alnum(char c)
{
    return c != '\0' && strchr(alnum, c) != NULL;
}

static void random_part(char *out, size_t n)
{
    unsigned char r[REPLAY_ATOMICFILE_TMP_RANDOM];
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(r + got, n - got, 0);
        if (k > 0) {
            got += (size_t)k;
        } else if (k < 0 && errno != EINTR) {
            /* no kernel entropy call: unique enough for O_EXCL to sort out */
            uint64_t v = replay_now_ms() ^ ((uint64_t)getpid() << 20) ^ (uintptr_t)out;
            for (; got < n; got++, v = v * 6364136223846793005ULL + 1442695040888963407ULL)
                r[got] = (unsigned char)(v >> 33);
        }
    }
    for (size_t i = 0; i < n; i++)
        out[i] = alnum[r[i] % (sizeof(alnum) - 1)];
}

void replay_atomicfile_tmp_name(const char *name, char *out, size_t outsz)
{
    char rnd[REPLAY_ATOMICFILE_TMP_RANDOM + 1];
    random_part(rnd, REPLAY_ATOMICFILE_TMP_RANDOM);
    rnd[REPLAY_ATOMICFILE_TMP_RANDOM] = '\0';
    size_t keep = strlen(name) < NAME_KEEP ? strlen(name) : NAME_KEEP;
    snprintf(out, outsz, ".%.*s%s%s", (int)keep, name, REPLAY_ATOMICFILE_TMP_MARK, rnd);
}

bool replay_atomicfile_is_tmp_name(const char *base_name)
{
    size_t mark = strlen(REPLAY_ATOMICFILE_TMP_MARK), n = strlen(base_name);
    if (base_name[0] != '.' || n < 1 + mark + REPLAY_ATOMICFILE_TMP_RANDOM)
        return false;
    const char *rnd = base_name + n - REPLAY_ATOMICFILE_TMP_RANDOM;
    if (memcmp(rnd - mark, REPLAY_ATOMICFILE_TMP_MARK, mark) != 0)
        return false;
    for (size_t i = 0; i < REPLAY_ATOMICFILE_TMP_RANDOM; i++) {
        if (!is_alnum(rnd[i]))
            return false;
    }
    return true;
}

/* ---- small system helpers ------------------------------------------------------ */

int replay_atomicfile_write_fd(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        if (w == 0)
            return EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int code_of(int e)
{
    return e == EACCES || e == EPERM ? REPLAY_EAUTH : REPLAY_EIO;
}

/* mkdir -p (0750 less the umask: Replay's directories are not for other users). */
static int make_dirs(const char *dir, struct replay_err *err)
{
    char *path = strdup(dir);
    if (path == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    int rc = 0;
    for (char *p = path + 1; rc == 0; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            rc = replay_err_sys(err, code_of(errno), errno, "mkdir %s", path);
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(path);
    return rc;
}

/* fsync of a directory; file systems that cannot do it count as success. */
static int sync_dir(const char *dir, struct replay_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 ? fsync(fd) : -1;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (rc == 0 || (fd >= 0 && (e == EINVAL || e == EROFS || e == EBADF)))
        return 0;
    return replay_err_sys(err, REPLAY_EIO, e, "fsync directory %s", dir);
}

/* ---- open, write, commit, close ------------------------------------------------- */

static int split_path(struct replay_atomicfile *f, const char *path, struct replay_err *err)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return replay_err_set(err, REPLAY_EINVAL, "%s names no file", path);
    if (strlen(path) > PATH_MAX)
        return replay_err_set(err, REPLAY_ETOOBIG, "path %.60s... is too long", path);
    f->path = strdup(path);
    f->name_at = (size_t)(base - path);
    if (slash == NULL)
        f->dir = strdup(".");
    else
        f->dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
    f->tmp = malloc((size_t)(base - path) + REPLAY_ATOMICFILE_TMP_NAME_MAX);
    if (f->path == NULL || f->dir == NULL || f->tmp == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    return 0;
}

/* Creates the temporary with a fresh random name (O_EXCL: never an existing file). */
static int create_tmp(struct replay_atomicfile *f, unsigned mode, struct replay_err *err)
{
    for (int i = 0; i < OPEN_TRIES; i++) {
        memcpy(f->tmp, f->path, f->name_at);
        replay_atomicfile_tmp_name(f->path + f->name_at, f->tmp + f->name_at,
                                   REPLAY_ATOMICFILE_TMP_NAME_MAX);
        f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (f->fd >= 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    return replay_err_sys(err, code_of(errno), errno, "create a temporary file beside %s",
                          f->path);
}

int replay_atomicfile_open(const char *path, const struct replay_atomicfile_opts *o,
                           struct replay_atomicfile **out, struct replay_err *err)
{
    static const struct replay_atomicfile_opts none;
    *out = NULL;
    if (o == NULL)
        o = &none;
    if (path == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "atomic file: no path");
    struct replay_atomicfile *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    f->fd = -1;
    f->fsync = !o->no_fsync;
    f->cancel = o->cancel;
    int rc = split_path(f, path, err);
    if (rc == 0 && o->make_dirs)
        rc = make_dirs(f->dir, err);
    if (rc == 0)
        rc = create_tmp(f, o->mode != 0 ? o->mode : DEFAULT_MODE, err);
    if (rc != 0) {
        if (f->tmp != NULL)
            f->tmp[0] = '\0'; /* nothing of ours to remove */
        replay_atomicfile_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

int replay_atomicfile_fd(const struct replay_atomicfile *f)
{
    return f != NULL ? f->fd : -1;
}

const char *replay_atomicfile_tmp_path(const struct replay_atomicfile *f)
{
    return f != NULL ? f->tmp : "";
}

int replay_atomicfile_write(struct replay_atomicfile *f, const void *buf, size_t len,
                            struct replay_err *err)
{
    if (replay_cancel_requested(f->cancel))
        return replay_err_set(err, REPLAY_ECANCELED, "write %s: canceled", f->tmp);
    int e = f->fd >= 0 ? replay_atomicfile_write_fd(f->fd, buf, len) : EBADF;
    if (e != 0)
        return replay_err_sys(err, REPLAY_EIO, e, "write %s", f->tmp);
    return 0;
}

/* Moves tmp to path unless path exists (REPLAY_EEXIST then). */
static int link_no_replace(const char *tmp, const char *path, struct replay_err *err)
{
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    int e = errno;
    if (e == EINVAL || e == ENOSYS || e == EOPNOTSUPP) {
        /* No RENAME_NOREPLACE here (NFS, some FUSE): link() fails on an existing name. */
        e = link(tmp, path) == 0 ? 0 : errno;
        if (e == 0) {
            unlink(tmp);
            return 0;
        }
        if (e == EPERM || e == EOPNOTSUPP || e == ENOSYS) {
            /* No hard links either: a plain rename after one more check. */
            struct stat st;
            e = lstat(path, &st) == 0 ? EEXIST : (rename(tmp, path) == 0 ? 0 : errno);
        }
    }
    if (e == EEXIST)
        return replay_err_set(err, REPLAY_EEXIST, "%s already exists", path);
    return e == 0 ? 0 : replay_err_sys(err, code_of(e), e, "rename to %s", path);
}

int replay_atomicfile_commit(struct replay_atomicfile *f, enum replay_atomicfile_how how,
                             struct replay_err *err)
{
    if (f == NULL || f->fd < 0 || f->committed)
        return replay_err_set(err, REPLAY_EINVAL, "atomic file: nothing to commit");
    int rc = 0;
    if (f->fsync && fsync(f->fd) != 0)
        rc = replay_err_sys(err, REPLAY_EIO, errno, "fsync %s", f->tmp);
    if (close(f->fd) != 0 && rc == 0)
        rc = replay_err_sys(err, REPLAY_EIO, errno, "close %s", f->tmp);
    f->fd = -1;
    if (rc == 0 && how == REPLAY_ATOMICFILE_REPLACE && rename(f->tmp, f->path) != 0)
        rc = replay_err_sys(err, code_of(errno), errno, "rename to %s", f->path);
    else if (rc == 0 && how == REPLAY_ATOMICFILE_NO_REPLACE)
        rc = link_no_replace(f->tmp, f->path, err);
    if (rc != 0)
        return rc;
    f->committed = true;
    return f->fsync ? sync_dir(f->dir, err) : 0;
}

void replay_atomicfile_close(struct replay_atomicfile *f)
{
    if (f == NULL)
        return;
    if (f->fd >= 0)
        close(f->fd);
    if (!f->committed && f->tmp != NULL && f->tmp[0] != '\0')
        unlink(f->tmp);
    free(f->path);
    free(f->tmp);
    free(f->dir);
    free(f);
}

int replay_atomicfile_create(const char *path, const struct replay_atomicfile_opts *o,
                             enum replay_atomicfile_how how, replay_atomicfile_fill_fn fill,
                             void *ctx, struct replay_err *err)
{
    struct replay_atomicfile *f = NULL;
    int code = replay_atomicfile_open(path, o, &f, err);
    if (code == 0)
        code = fill(ctx, replay_atomicfile_fd(f), err);
    if (code == 0)
        code = replay_atomicfile_commit(f, how, err);
    replay_atomicfile_close(f);
    return code;
}

/* ---- stale temporaries ------------------------------------------------------------ */

int replay_atomicfile_remove_own(const char *dir, const char *prefix, unsigned *removed,
                                 struct replay_err *err)
{
    unsigned count = 0;
    if (removed != NULL)
        *removed = 0;
    if (dir == NULL || prefix == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "remove temporaries: no directory or prefix");
    size_t n = strlen(prefix);
    DIR *d = opendir(dir);
    if (d == NULL)
        return replay_err_sys(err, REPLAY_EIO, errno, "open %s", dir);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, prefix, n) == 0 && replay_atomicfile_is_tmp_name(e->d_name) &&
            unlinkat(dirfd(d), e->d_name, 0) == 0)
            count++;
    closedir(d);
    if (removed != NULL)
        *removed = count;
    return 0;
}

/* 1 when the entry is a temporary older than `before`, 0 when not, -errno. */
static int stale_entry(int dfd, const char *name, time_t before)
{
    if (!replay_atomicfile_is_tmp_name(name))
        return 0;
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -errno;
    return S_ISREG(st.st_mode) && st.st_mtime < before;
}

int replay_atomicfile_remove_stale(const char *dir, unsigned max_age_s, unsigned *removed,
                                   struct replay_err *err)
{
    if (removed != NULL)
        *removed = 0;
    DIR *d = dir != NULL ? opendir(dir) : NULL;
    if (d == NULL)
        return replay_err_sys(err, dir != NULL ? code_of(errno) : REPLAY_EINVAL,
                              dir != NULL ? errno : EINVAL, "remove stale temporaries: open %s",
                              dir != NULL ? dir : "(none)");
    time_t before = time(NULL) - (time_t)max_age_s;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0 && rc == 0)
                rc = replay_err_sys(err, REPLAY_EIO, errno, "read directory %s", dir);
            break;
        }
        int s = stale_entry(dirfd(d), e->d_name, before);
        if (s > 0 && unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
            s = -errno;
        if (s < 0 && rc == 0)
            rc = replay_err_sys(err, code_of(-s), -s, "remove stale temporary %s/%s", dir,
                                e->d_name);
        if (s > 0 && removed != NULL)
            (*removed)++;
    }
    closedir(d);
    return rc;
}
