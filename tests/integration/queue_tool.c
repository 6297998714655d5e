/*
 * queue_tool: a small producer / consumer / checkpoint process on common/queue for
 * the queue_*.sh integration tests (and by hand). Not installed.
 *
 *   queue_tool push URL TYPE (--json TEXT | --stdin | --alerts N [--prefix P] [--pace-us U])
 *   queue_tool consume URL TYPE CONSUMER [--idle-exit MS] [--max N] [--hold]
 *              [--batch N [--ack-when FILE]] [--release-first] [--dead-after MS]
 *              [--give-up MS] [--wait-slice MS] [--print id|json|fields] [--rss]
 *   queue_tool checkpoint URL (get TYPE | set TYPE VALUE | advance TYPE VALUE)
 *   queue_tool epoch URL      (the queue Redis's epoch: "<token> created|found")
 *
 * consume prints "DELIVERED <id>" when an item is popped and "ACKED <id|json>" once
 * it is acknowledged (stdout, flushed per line; --print fields: "ACKED <id> TAB
 * <date or nothing> TAB <json>", what the parser read); --hold prints "HOLDING" after the
 * first pop and then waits to be killed, touching its liveness record. --batch N
 * holds up to N items (as a list exporter does until its upload) and acknowledges
 * them together when N are held or the queue is empty (--hold: holds the first
 * full batch until killed). --ack-when FILE: holds the first full batch until FILE
 * exists or the wait is canceled, then acknowledges it item by item, printing
 * "ACK_FAILED <id>: <message>" for an acknowledgement refused, and retries those
 * refused for want of a connection (REPLAY_ECONN, see --give-up) until they pass
 * or the wait is canceled. --give-up MS, --wait-slice MS: give_up_ms and
 * wait_slice_ms of the connection (a long slice keeps a waiting consumer in one
 * BLMOVE, for tests of that path).
 * SIGTERM/SIGINT cancel every wait (exit 0).
 * Errors go to stderr as "queue_tool: <message>" with exit code 1 (2 for usage).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/lifecycle.h"
#include "replay/log.h"
#include "replay/queue.h"

#define STDIN_MAX (80u << 20)

static struct replay_cancel *cancel;

struct opts {
    const char *json, *prefix, *print, *ack_when;
    bool from_stdin, hold, release_first, rss;
    long alerts, pace_us, idle_exit_ms, max, dead_after_ms, batch, give_up_ms, wait_slice_ms;
};

static int usage(void)
{
    fprintf(stderr, "usage: queue_tool push URL TYPE (--json T | --stdin | --alerts N "
                    "[--prefix P] [--pace-us U])\n"
                    "       queue_tool consume URL TYPE CONSUMER [--idle-exit MS] [--max N] "
                    "[--hold] [--batch N [--ack-when FILE]] [--release-first] [--dead-after MS] "
                    "[--give-up MS] [--wait-slice MS] [--print id|json|fields] [--rss]\n"
                    "       queue_tool checkpoint URL (get TYPE | set TYPE V | advance TYPE V)\n"
                    "       queue_tool epoch URL\n");
    return 2;
}

static int fail(const struct replay_err *err)
{
    fprintf(stderr, "queue_tool: %s (%s)\n", err->msg, replay_err_name(err->code));
    return err->code == REPLAY_ECANCELED ? 0 : 1;
}

static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    int sig = 0;
    sigwait(set, &sig);
    replay_cancel_request(cancel);
    return NULL;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--stdin") == 0) o->from_stdin = true;
        else if (strcmp(a, "--hold") == 0) o->hold = true;
        else if (strcmp(a, "--release-first") == 0) o->release_first = true;
        else if (strcmp(a, "--rss") == 0) o->rss = true;
        else if (v == NULL) return -1;
        else if (strcmp(a, "--json") == 0) o->json = argv[++i];
        else if (strcmp(a, "--prefix") == 0) o->prefix = argv[++i];
        else if (strcmp(a, "--print") == 0) o->print = argv[++i];
        else if (strcmp(a, "--alerts") == 0) o->alerts = atol(argv[++i]);
        else if (strcmp(a, "--pace-us") == 0) o->pace_us = atol(argv[++i]);
        else if (strcmp(a, "--idle-exit") == 0) o->idle_exit_ms = atol(argv[++i]);
        else if (strcmp(a, "--max") == 0) o->max = atol(argv[++i]);
        else if (strcmp(a, "--dead-after") == 0) o->dead_after_ms = atol(argv[++i]);
        else if (strcmp(a, "--batch") == 0) o->batch = atol(argv[++i]);
        else if (strcmp(a, "--ack-when") == 0) o->ack_when = argv[++i];
        else if (strcmp(a, "--give-up") == 0) o->give_up_ms = atol(argv[++i]);
        else if (strcmp(a, "--wait-slice") == 0) o->wait_slice_ms = atol(argv[++i]);
        else return -1;
    }
    return 0;
}

static int open_queue(const char *url, const struct opts *o, struct replay_queue **q,
                      struct replay_err *err)
{
    struct replay_queue_options qo = {.url = url, .role = "queue_tool", .cancel = cancel,
                                      .dead_after_ms = (unsigned)o->dead_after_ms,
                                      .give_up_ms = (unsigned)o->give_up_ms,
                                      .wait_slice_ms = (unsigned)o->wait_slice_ms};
    return replay_queue_open(&qo, q, err);
}

static char *read_stdin(size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0 || n > STDIN_MAX)
            break;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

static int cmd_push(const char *url, enum replay_queue_type t, const struct opts *o)
{
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    int rc = open_queue(url, o, &q, &err);
    if (rc == 0 && o->alerts > 0) {
        char id[64];
        for (long i = 0; i < o->alerts && rc == 0; i++) {
            snprintf(id, sizeof(id), "%s%ld", o->prefix != NULL ? o->prefix : "A", i);
            rc = replay_queue_push_alert(q, id, "2024-05-01T12:34:56.123456Z", &err);
            if (o->pace_us > 0)
                usleep((useconds_t)o->pace_us);
        }
    } else if (rc == 0) {
        size_t len = o->json != NULL ? strlen(o->json) : 0;
        char *text = o->from_stdin ? read_stdin(&len) : NULL;
        rc = replay_queue_push(q, t, o->from_stdin ? text : o->json, len, &err);
        free(text);
    }
    replay_queue_close(q);
    return rc < 0 ? fail(&err) : 0;
}

static void print_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            printf("RSS_PEAK_KB %ld\n", atol(line + 6));
    }
    if (f != NULL)
        fclose(f);
}

/* Handles one popped item per the options; returns 1 to stop. */
static int handle(struct replay_queue_consumer *c, struct replay_queue_item *item,
                  const struct opts *o, long *acked, struct replay_err *err)
{
    printf("DELIVERED %s\n", replay_queue_item_id(item));
    fflush(stdout);
    if (o->hold) {
        printf("HOLDING\n");
        fflush(stdout);
        /* Long work: keep the liveness record fresh, as a worker would. */
        while (replay_cancel_sleep_ms(cancel, 200, true) == 0) {
            int rc = replay_queue_touch(c, err);
            if (rc < 0)
                return rc;
        }
        return 1;
    }
    if (o->release_first && *acked == 0) {
        int rc = replay_queue_release(c, item, err);
        printf("RELEASED %s\n", replay_queue_item_id(item));
        return rc < 0 ? rc : 1;
    }
    int rc = replay_queue_ack(c, item, err);
    if (rc < 0)
        return rc;
    const char *print = o->print != NULL ? o->print : "id", *date = replay_queue_item_date(item);
    if (strcmp(print, "fields") == 0)
        printf("ACKED %s\t%s\t%s\n", replay_queue_item_id(item), date != NULL ? date : "",
               replay_queue_item_json(item, NULL));
    else
        printf("ACKED %s\n", strcmp(print, "json") == 0 ? replay_queue_item_json(item, NULL)
                                                        : replay_queue_item_id(item));
    fflush(stdout);
    ++*acked;
    return o->max > 0 && *acked >= o->max ? 1 : 0;
}

/* One pass of --ack-when over the batch: acknowledges what is left (NULL = done).
 * Returns how many are left, or -1 when one was refused for another reason than a
 * lost connection (retrying cannot help). */
static long ack_pass(struct replay_queue_consumer *c, struct replay_queue_item **batch, long n,
                     long *acked)
{
    long left = 0;
    bool hopeless = false;
    for (long i = 0; i < n; i++) {
        struct replay_err e = {0};
        if (batch[i] == NULL)
            continue;
        if (replay_queue_ack(c, batch[i], &e) == 0) {
            printf("ACKED %s\n", replay_queue_item_id(batch[i]));
            replay_queue_item_free(batch[i]);
            batch[i] = NULL;
            ++*acked;
            continue;
        }
        printf("ACK_FAILED %s: %s (%s)\n", replay_queue_item_id(batch[i]), e.msg,
               replay_err_name(e.code));
        hopeless = hopeless || e.code != REPLAY_ECONN;
        left++;
    }
    fflush(stdout);
    return hopeless ? -1 : left;
}

/* --ack-when FILE: holds the batch until FILE exists (or cancellation), then
 * acknowledges it, retrying what a lost connection refused. Returns 1 to stop. */
static int ack_when(struct replay_queue_consumer *c, struct replay_queue_item **batch,
                    long *n, const struct opts *o, long *acked)
{
    printf("HOLDING\n");
    fflush(stdout);
    while (access(o->ack_when, F_OK) != 0 && replay_cancel_sleep_ms(cancel, 50, true) == 0) {
    }
    long left = ack_pass(c, batch, *n, acked);
    while (left > 0 && !replay_cancel_requested(cancel)) {
        (void)replay_cancel_sleep_ms(cancel, 100, false);
        left = ack_pass(c, batch, *n, acked);
    }
    for (long i = 0; i < *n; i++)
        replay_queue_item_free(batch[i]);
    *n = 0;
    return 1;
}

/* --batch: acknowledges the held items together; returns 1 to stop. */
static int ack_batch(struct replay_queue_consumer *c, struct replay_queue_item **batch,
                     long *n, const struct opts *o, long *acked, struct replay_err *err)
{
    int rc = 0;
    if (o->ack_when != NULL && *n > 0)
        return ack_when(c, batch, n, o, acked);
    if (o->hold && *n > 0) {
        printf("HOLDING\n");
        fflush(stdout);
        while (replay_cancel_sleep_ms(cancel, 200, true) == 0 &&
               (rc = replay_queue_touch(c, err)) == 0) {
        }
        return rc < 0 ? rc : 1;
    }
    for (long i = 0; i < *n; i++) {
        if (rc == 0 && (rc = replay_queue_ack(c, batch[i], err)) == 0) {
            printf("ACKED %s\n", replay_queue_item_id(batch[i]));
            ++*acked;
        }
        replay_queue_item_free(batch[i]);
    }
    fflush(stdout);
    *n = 0;
    return rc;
}

static int consume_batches(struct replay_queue_consumer *c, const struct opts *o,
                           struct replay_err *err)
{
    struct replay_queue_item **batch = calloc((size_t)o->batch, sizeof(*batch));
    long n = 0, acked = 0;
    uint64_t last = replay_now_ms();
    int rc = batch != NULL ? 0 : -1;
    while (rc == 0) {
        struct replay_queue_item *item = NULL;
        if ((rc = replay_queue_pop(c, 200, &item, err)) < 0)
            break;
        if (item != NULL) {
            printf("DELIVERED %s\n", replay_queue_item_id(item));
            batch[n++] = item;
            last = replay_now_ms();
        }
        if (n == o->batch || (item == NULL && n > 0))
            rc = ack_batch(c, batch, &n, o, &acked, err);
        else if (item == NULL && o->idle_exit_ms > 0 &&
                 replay_now_ms() - last >= (uint64_t)o->idle_exit_ms)
            break;
    }
    for (long i = 0; i < n; i++)
        replay_queue_item_free(batch[i]);
    free(batch);
    return rc < 0 ? rc : 0;
}

static int cmd_consume(const char *url, enum replay_queue_type t, const char *id,
                       const struct opts *o)
{
    struct replay_queue *q = NULL;
    struct replay_queue_consumer *c = NULL;
    struct replay_err err = {0};
    long acked = 0;
    uint64_t last = replay_now_ms();
    int rc = open_queue(url, o, &q, &err);
    if (rc == 0)
        rc = replay_queue_consumer_open(q, t, id, &c, &err);
    if (rc == 0 && o->batch > 1) {
        rc = consume_batches(c, o, &err);
    }
    while (rc == 0 && o->batch <= 1) {
        struct replay_queue_item *item = NULL;
        if ((rc = replay_queue_pop(c, 1000, &item, &err)) < 0)
            break;
        if (item == NULL) {
            if (o->idle_exit_ms > 0 && replay_now_ms() - last >= (uint64_t)o->idle_exit_ms)
                break;
            continue;
        }
        last = replay_now_ms();
        rc = handle(c, item, o, &acked, &err);
        replay_queue_item_free(item);
    }
    replay_queue_consumer_close(c);
    replay_queue_close(q);
    if (o->rss)
        print_rss();
    return rc < 0 ? fail(&err) : 0;
}

static int cmd_checkpoint(int argc, char **argv)
{
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    enum replay_queue_type t = REPLAY_QUEUE_BADLIST;
    struct opts o = {0};
    if (argc < 3 || replay_queue_type_parse(argv[2], &t, &err) < 0)
        return argc < 3 ? usage() : fail(&err);
    int rc = open_queue(argv[0], &o, &q, &err);
    if (rc == 0 && strcmp(argv[1], "get") == 0) {
        char *v = NULL;
        if ((rc = replay_queue_checkpoint_get(q, t, &v, &err)) == 0)
            printf("%s\n", v);
        free(v);
    } else if (rc == 0 && argc > 3 && strcmp(argv[1], "set") == 0) {
        rc = replay_queue_checkpoint_set(q, t, argv[3], &err);
    } else if (rc == 0 && argc > 3 && strcmp(argv[1], "advance") == 0) {
        bool advanced = false;
        if ((rc = replay_queue_checkpoint_advance(q, t, argv[3], &advanced, &err)) == 0)
            printf("%s\n", advanced ? "advanced" : "kept");
    } else if (rc == 0) {
        replay_queue_close(q);
        return usage();
    }
    replay_queue_close(q);
    return rc < 0 ? fail(&err) : 0;
}

/* epoch URL: prints the queue Redis's epoch token and whether this call made it. */
static int cmd_epoch(const char *url)
{
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    struct opts o = {0};
    char epoch[REPLAY_QUEUE_EPOCH_LEN];
    bool created = false;
    int rc = open_queue(url, &o, &q, &err);
    if (rc == 0 && (rc = replay_queue_epoch(q, epoch, &created, &err)) == 0)
        printf("%s %s\n", epoch, created ? "created" : "found");
    replay_queue_close(q);
    return rc < 0 ? fail(&err) : 0;
}

static int dispatch(int argc, char **argv)
{
    struct opts o = {0};
    struct replay_err err = {0};
    enum replay_queue_type t = REPLAY_QUEUE_ALERT;
    if (argc >= 2 && strcmp(argv[1], "checkpoint") == 0)
        return cmd_checkpoint(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "epoch") == 0)
        return cmd_epoch(argv[2]);
    if (argc < 4)
        return usage();
    if (replay_queue_type_parse(argv[3], &t, &err) < 0)
        return fail(&err);
    if (strcmp(argv[1], "push") == 0)
        return parse_opts(argc - 4, argv + 4, &o) < 0 ? usage() : cmd_push(argv[2], t, &o);
    if (strcmp(argv[1], "consume") == 0 && argc >= 5)
        return parse_opts(argc - 5, argv + 5, &o) < 0 ? usage()
                                                      : cmd_consume(argv[2], t, argv[4], &o);
    return usage();
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to report, not a death */
    static sigset_t set;
    pthread_t th;
    replay_log_init("queue_tool", REPLAY_LOG_INFO, REPLAY_LOG_TEXT, 2);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    cancel = replay_cancel_new();
    if (cancel == NULL || pthread_create(&th, NULL, signal_thread, &set) != 0)
        return 1;
    pthread_detach(th);
    int rc = dispatch(argc, argv);
    fflush(stdout);
    return rc; /* the signal thread may still wait in sigwait: the token stays allocated */
}
