/* atomicseam: files written whole or not at all, until atomicfile replaces it
 * (atomicseam_int.h says how). */
#include "atomicseam_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ".<name>.tmp-XXXXXX" (the name cut so the whole stays within NAME_MAX). */
static int open_temp(int dirfd, const char *name, mode_t mode, char *tmp, size_t size)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        uint8_t r[6];
        char suffix[7];
        if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
            memset(r, attempt, sizeof(r));
        for (int i = 0; i < 6; i++)
            suffix[i] = alnum[r[i] % (sizeof(alnum) - 1)];
        suffix[6] = '\0';
        snprintf(tmp, size, ".%.*s.tmp-%s", NAME_MAX - 13, name, suffix);
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

int replay__atomic_create(int dirfd, const char *dir, const char *name, mode_t mode,
                          replay__fill_fn fill, void *ctx, struct replay_err *err)
{
    char tmp[NAME_MAX + 1];
    int fd = open_temp(dirfd, name, mode, tmp, sizeof(tmp));
    if (fd < 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "create a temporary file in %s", dir);
    int code = fill(ctx, fd, err);
    if (code == 0 && fsync(fd) != 0)
        code = replay_err_sys(err, REPLAY_EIO, errno, "fsync %s/%s", dir, tmp);
    if (close(fd) != 0 && code == 0)
        code = replay_err_sys(err, REPLAY_EIO, errno, "close %s/%s", dir, tmp);
    if (code == 0 && renameat(dirfd, tmp, dirfd, name) != 0)
        code = replay_err_sys(err, REPLAY_EIO, errno, "rename %s/%s to %s", dir, tmp, name);
    if (code != 0) {
        unlinkat(dirfd, tmp, 0);
        return code;
    }
    if (fsync(dirfd) != 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "fsync directory %s", dir);
    return 0;
}
