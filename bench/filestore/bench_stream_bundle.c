/*
 * bench_stream_bundle: the creator-worker's bundle hand-off in one process, for
 * the filestore benchmark: a bundle downloaded from an Assemblyline (al-sim)
 * goes to a filestore, either streamed (replay_filestore_upload_stream, the
 * producer being replay_alclient_bundle_download) or the old way, through a
 * private file of a working directory, then replay_filestore_upload().
 *
 *   bench_stream_bundle [--via-dir DIR] AL_URL ID FILESTORE_URL NAME
 *
 * The account is admin with the key $ALCLIENT_APIKEY (default devkey:devpass).
 * Prints "<outcome> <bytes> bytes" on stdout; errors on stderr, exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/alclient.h"
#include "replay/filestore.h"
#include "replay/log.h"

struct job {
    struct replay_alclient *c;
    const char *id;
    uint64_t bytes;
};

static int produce(void *ctx, int fd, struct replay_err *err)
{
    struct job *j = ctx;
    return replay_alclient_bundle_download(j->c, j->id, false, fd, &j->bytes, err);
}

/* The old way: a private file of dir, then an upload of it. */
static int via_file(struct job *j, struct replay_filestore *fs, const char *dir, const char *name,
                    enum replay_filestore_outcome *o, struct replay_err *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/bench-bundle-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "mkstemp in %s", dir);
    int rc = produce(j, fd, err);
    close(fd);
    if (rc == 0)
        rc = replay_filestore_upload(fs, path, name, o, err);
    unlink(path);
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *dir = NULL;
    int i = 1;
    if (argc > 2 && strcmp(argv[1], "--via-dir") == 0) {
        dir = argv[2];
        i = 3;
    }
    if (argc - i != 4) {
        fprintf(stderr, "usage: bench_stream_bundle [--via-dir DIR] AL_URL ID FILESTORE_URL "
                        "NAME\n");
        return 2;
    }
    replay_log_init("assemblyline.replay.bench", REPLAY_LOG_WARNING, REPLAY_LOG_TEXT, 2);
    const char *key = getenv("ALCLIENT_APIKEY");
    struct replay_alclient_options ao = {.host = argv[i], .user = "admin",
                                         .apikey = key != NULL ? key : "devkey:devpass",
                                         .bundle_low_speed_time_s = 600};
    struct job j = {NULL, argv[i + 1], 0};
    struct replay_filestore *fs = NULL;
    struct replay_err err = {0};
    enum replay_filestore_outcome o = REPLAY_FILESTORE_UPLOADED;
    int rc = replay_alclient_open(&ao, &j.c, &err);
    if (rc == 0)
        rc = replay_filestore_open(argv[i + 2], NULL, &fs, &err);
    if (rc == 0 && dir != NULL)
        rc = via_file(&j, fs, dir, argv[i + 3], &o, &err);
    else if (rc == 0)
        rc = replay_filestore_upload_stream(fs, argv[i + 3], produce, &j, &o, &err);
    replay_filestore_close(fs);
    replay_alclient_close(j.c);
    if (rc != 0) {
        fprintf(stderr, "error %s: %s\n", replay_err_name(rc), err.msg);
        return 1;
    }
    printf("%s %llu bytes\n", o == REPLAY_FILESTORE_UPLOADED ? "uploaded" : "skipped",
           (unsigned long long)j.bytes);
    return 0;
}
