/* creator-worker: its working directory. Files there are private temporaries,
 * named by atomicfile's convention after "<host>-<final name>", and removed after
 * each item. At start the worker removes what a killed run of the same host (the
 * same pod, the same compose service) left, and any temporary older than a day
 * (atomicfile's stale rule); other hosts' recent files are left alone, since
 * replicas may share the directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/atomicfile.h"
#include "replay/log.h"
#include "worker.h"

/* ".<host>-": how this host's temporaries start (a host name never holds '/'). */
static void host_prefix(char *buf, size_t size)
{
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(buf, size, ".%s-", host);
}

int cworker_work_prepare(const char *dir, struct replay_err *err)
{
    char prefix[80];
    host_prefix(prefix, sizeof(prefix));
    unsigned removed = 0, stale = 0;
    int code = replay_atomicfile_remove_own(dir, prefix, &removed, err);
    if (code != 0)
        return code;
    code = replay_atomicfile_remove_stale(dir, REPLAY_ATOMICFILE_STALE_S, &stale, err);
    if (removed + stale > 0)
        replay_info("Removed %u temporary file(s) an earlier run left in %s", removed + stale,
                    dir);
    return code;
}

int cworker_work_tmpfile(const char *dir, const char *name, char *path, size_t size, int *fd,
                         struct replay_err *err)
{
    char prefix[80], base[REPLAY_ATOMICFILE_TMP_NAME_MAX], owned[REPLAY_ATOMICFILE_TMP_NAME_MAX];
    host_prefix(prefix, sizeof(prefix));
    snprintf(owned, sizeof(owned), "%s%s", prefix + 1, name);
    for (int tries = 0; tries < 8; tries++) {
        replay_atomicfile_tmp_name(owned, base, sizeof(base));
        if (snprintf(path, size, "%s/%s", dir, base) >= (int)size)
            return replay_err_set(err, REPLAY_EINVAL, "working directory path too long");
        *fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (*fd >= 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    return replay_err_sys(err, REPLAY_EIO, errno, "create a temporary file in %s", dir);
}
