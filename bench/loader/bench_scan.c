/* Loader scan benchmark driver (bench/loader/run.sh): fills a directory with N
 * small Replay files (unless it holds some), then times the first pass and the
 * rescans of common/fswatch, and prints the figures as key=value lines.
 *
 *   bench_scan DIR N [RESCANS [full]]
 * With "full", every rescan stats every file (full_every = 1), as one pass in
 * REPLAY_FSWATCH_FULL_EVERY does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/fswatch.h"
#include "replay/lifecycle.h"

static int fill(const char *dir, long n)
{
    char path[4096];
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/alert_%010ld.al_bundle", dir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 && errno != EEXIST)
            return -1;
        if (fd >= 0 && (write(fd, "x", 1) != 1 || close(fd) != 0))
            return -1;
    }
    return 0;
}

static int mark(void *ctx, struct replay_fswatch_file *f, struct replay_err *err)
{
    (void)ctx;
    (void)err;
    if (f->mark == 0)
        f->mark = 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_scan DIR N [RESCANS [full]]\n");
        return 2;
    }
    long n = atol(argv[2]);
    int rescans = argc > 3 ? atoi(argv[3]) : 5;
    uint64_t t0 = replay_now_ms();
    if (fill(argv[1], n) != 0) {
        perror("fill");
        return 1;
    }
    printf("fill_ms=%llu\n", (unsigned long long)(replay_now_ms() - t0));
    struct replay_fswatch_options o = {.root = argv[1], .max_watches = -1,
                                       .full_every = argc > 4 && strcmp(argv[4], "full") == 0};
    struct replay_fswatch *w = NULL;
    struct replay_err err = {0};
    if (replay_fswatch_open(&o, &w, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int i = 0; i <= rescans; i++) {
        struct replay_fswatch_pass p;
        t0 = replay_now_ms();
        if (replay_fswatch_scan(w, mark, NULL, &p, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        printf("%s_ms=%llu candidates=%llu settled=%llu complete=%d\n",
               i == 0 ? "first_pass" : "rescan", (unsigned long long)(replay_now_ms() - t0),
               (unsigned long long)p.candidates, (unsigned long long)p.settled, p.complete);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_kib=%ld\n", ru.ru_maxrss);
    replay_fswatch_close(w);
    return 0;
}
