/*
 * filestore_tool: a small command line over replay/filestore.h, used by the
 * filestore integration tests and benchmarks (not installed).
 *
 *   filestore_tool [options] URL upload LOCAL NAME   prints uploaded|skipped-exists|skipped-read-only
 *   filestore_tool [options] URL download NAME LOCAL
 *   filestore_tool [options] URL exists NAME         prints yes|no
 *   filestore_tool [options] URL delete NAME
 *   filestore_tool [options] URL list                prints one name per line
 *   filestore_tool [options] URL check               parses the URL only (no I/O)
 *
 * Options: --connect-timeout MS, --low-speed-time S, --max-send-speed BYTES/S,
 * --max-recv-speed BYTES/S,
 * --attempts N, --multipart-threshold BYTES, --part-size BYTES,
 * --cancel-after MS (requests cancellation from another thread),
 * --log-url (after opening, logs the URL as given, to check that the logger
 * masks its secrets),
 * --rss (prints "peak_rss_kib N" on stderr at the end).
 * Errors go through the logger as "error <REPLAY_CODE>: <message>"; exit 1.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "replay/filestore.h"
#include "replay/lifecycle.h"
#include "replay/log.h"

struct tool {
    struct replay_filestore_opts opts;
    struct replay_cancel *cancel;
    long cancel_after_ms;
    int log_url, rss;
};

static void *cancel_later(void *arg)
{
    struct tool *t = arg;
    if (replay_cancel_sleep_ms(t->cancel, (uint64_t)t->cancel_after_ms, false) == 0)
        replay_cancel_request(t->cancel);
    return NULL;
}

static int print_name(const char *name, void *ctx)
{
    (void)ctx;
    printf("%s\n", name);
    return 0;
}

static const char *outcome_text(enum replay_filestore_outcome o)
{
    switch (o) {
    case REPLAY_FILESTORE_UPLOADED:
        return "uploaded";
    case REPLAY_FILESTORE_SKIPPED_EXISTS:
        return "skipped-exists";
    case REPLAY_FILESTORE_SKIPPED_READ_ONLY:
        return "skipped-read-only";
    }
    return "?";
}

static int usage(void)
{
    fprintf(stderr, "usage: filestore_tool [options] URL "
                    "upload LOCAL NAME|download NAME LOCAL|exists NAME|delete NAME|list|check\n");
    return 2;
}

/* Runs the command on an open store. argv[0] is the command. */
static int command(struct replay_filestore *fs, int argc, char **argv, struct replay_err *err)
{
    const char *cmd = argv[0];
    if (strcmp(cmd, "upload") == 0 && argc == 3) {
        enum replay_filestore_outcome o;
        int rc = replay_filestore_upload(fs, argv[1], argv[2], &o, err);
        if (rc == 0)
            printf("%s\n", outcome_text(o));
        return rc;
    }
    if (strcmp(cmd, "download") == 0 && argc == 3)
        return replay_filestore_download(fs, argv[1], argv[2], err);
    if (strcmp(cmd, "exists") == 0 && argc == 2) {
        bool there = false;
        int rc = replay_filestore_exists(fs, argv[1], &there, err);
        if (rc == 0)
            printf("%s\n", there ? "yes" : "no");
        return rc;
    }
    if (strcmp(cmd, "delete") == 0 && argc == 2)
        return replay_filestore_delete(fs, argv[1], err);
    if (strcmp(cmd, "list") == 0 && argc == 1)
        return replay_filestore_list(fs, print_name, NULL, err);
    return -1000;
}

static int option(struct tool *t, int argc, char **argv, int *i)
{
    const char *o = argv[*i];
    if (strcmp(o, "--log-url") == 0)
        return t->log_url = 1, 0;
    if (strcmp(o, "--rss") == 0)
        return t->rss = 1, 0;
    if (*i + 1 >= argc)
        return -1;
    long long v = strtoll(argv[++*i], NULL, 10);
    if (strcmp(o, "--connect-timeout") == 0)
        t->opts.connect_timeout_ms = (long)v;
    else if (strcmp(o, "--low-speed-time") == 0)
        t->opts.low_speed_time_s = (long)v;
    else if (strcmp(o, "--max-send-speed") == 0)
        t->opts.max_send_speed = (uint64_t)v;
    else if (strcmp(o, "--max-recv-speed") == 0)
        t->opts.max_recv_speed = (uint64_t)v;
    else if (strcmp(o, "--attempts") == 0)
        t->opts.max_attempts = (int)v;
    else if (strcmp(o, "--multipart-threshold") == 0)
        t->opts.multipart_threshold = (uint64_t)v;
    else if (strcmp(o, "--part-size") == 0)
        t->opts.part_size = (uint64_t)v;
    else if (strcmp(o, "--cancel-after") == 0)
        t->cancel_after_ms = (long)v;
    else
        return -1;
    return 0;
}

static int run(struct tool *t, const char *url, int argc, char **argv)
{
    struct replay_err err = {0};
    int rc;
    if (strcmp(argv[0], "check") == 0) {
        rc = replay_filestore_check_url(url, &err);
    } else {
        struct replay_filestore *fs = NULL;
        rc = replay_filestore_open(url, &t->opts, &fs, &err);
        if (rc == 0) {
            /* The raw URL on purpose: opening registered its secrets, so the
             * logger must mask them even when a caller forgets to redact. */
            if (t->log_url)
                replay_info("opened %s (configured as %s)", replay_filestore_url(fs), url);
            rc = command(fs, argc, argv, &err);
        }
        replay_filestore_close(fs);
    }
    if (rc == -1000)
        return usage();
    if (rc != 0) {
        replay_error("error %s: %s", replay_err_name(rc), err.msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to report, not a death */
    struct tool t = {0};
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (option(&t, argc, argv, &i) != 0)
            return usage();
    }
    if (argc - i < 2)
        return usage();
    replay_log_init("assemblyline.replay.filestore_tool", REPLAY_LOG_INFO, REPLAY_LOG_TEXT, 2);
    t.cancel = replay_cancel_new();
    t.opts.cancel = t.cancel;
    pthread_t th;
    bool threaded = t.cancel_after_ms > 0 && pthread_create(&th, NULL, cancel_later, &t) == 0;
    int rc = run(&t, argv[i], argc - i - 1, argv + i + 1);
    if (threaded) {
        replay_cancel_request(t.cancel);
        pthread_join(th, NULL);
    }
    replay_cancel_free(t.cancel);
    if (t.rss) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr, "peak_rss_kib %ld\n", ru.ru_maxrss);
    }
    return rc;
}
