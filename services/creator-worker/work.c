/* creator-worker: its working directory. Files there are private temporaries
 * (".replay-<host>-<random>"), removed after each item; what a killed run of the
 * same host (the same pod, the same compose service) left is removed at start.
 * Other hosts' files are left alone: replicas may share the directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/log.h"
#include "worker.h"

static void tmp_prefix(char *buf, size_t size)
{
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    for (char *c = host; *c != '\0'; c++) {
        if (*c == '/' || *c == '.')
            *c = '_';
    }
    snprintf(buf, size, ".replay-%s-", host);
}

static int make_dirs(const char *dir, struct replay_err *err)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return replay_err_set(err, REPLAY_EINVAL, "working directory path too long");
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            return replay_err_sys(err, REPLAY_EIO, errno, "create %s", path);
        *p = '/';
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return replay_err_sys(err, REPLAY_EIO, errno, "create %s", path);
    return 0;
}

int cworker_work_prepare(const char *dir, struct replay_err *err)
{
    int code = make_dirs(dir, err);
    if (code != 0)
        return code;
    char prefix[96];
    tmp_prefix(prefix, sizeof(prefix));
    DIR *d = opendir(dir);
    if (d == NULL)
        return replay_err_sys(err, REPLAY_EIO, errno, "open working directory %s", dir);
    size_t n = strlen(prefix), removed = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, prefix, n) == 0 && unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    if (removed > 0)
        replay_info("Removed %zu temporary file(s) an earlier run left in %s", removed, dir);
    return 0;
}

int cworker_work_tmpfile(const char *dir, const char *name, char *path, size_t size, int *fd,
                         struct replay_err *err)
{
    (void)name;
    char prefix[96];
    tmp_prefix(prefix, sizeof(prefix));
    if (snprintf(path, size, "%s/%sXXXXXX", dir, prefix) >= (int)size)
        return replay_err_set(err, REPLAY_EINVAL, "working directory path too long");
    *fd = mkostemp(path, O_CLOEXEC);
    if (*fd < 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "create a temporary file in %s", dir);
    return 0;
}
