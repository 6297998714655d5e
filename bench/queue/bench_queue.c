/*
 * Queue benchmark driver (bench/queue/run.sh): messages per second through
 * common/queue on a real Redis, in three phases, each with a fresh queue:
 *   push        one producer RPUSHes N alert messages, nobody consumes
 *   drain       C consumers pop + ack the N queued messages
 *   pipeline    one producer pushes N while C consumers pop + ack them
 * Each consumer thread has its own connection and consumer id; pipelining is off
 * (one command per round trip), as the module does it. Prints one line per phase:
 *   <phase> consumers=C messages=N seconds=S msgs_per_s=R
 *
 *   bench_queue URL MESSAGES CONSUMERS
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/lifecycle.h"
#include "replay/log.h"
#include "replay/queue.h"

struct shared {
    const char *url;
    long messages;
    atomic_long acked;
    atomic_int failed;
    uint64_t last_ack_ms;
    pthread_mutex_t lock;
};

struct worker {
    struct shared *s;
    int index;
    pthread_t thread;
};

static int open_q(const char *url, struct replay_queue **q)
{
    struct replay_queue_options o = {.url = url, .role = "bench", .wait_slice_ms = 100};
    struct replay_err err = {0};
    int rc = replay_queue_open(&o, q, &err);
    if (rc < 0)
        fprintf(stderr, "bench_queue: %s\n", err.msg);
    return rc;
}

static void *consume(void *arg)
{
    struct worker *w = arg;
    struct shared *s = w->s;
    struct replay_queue *q = NULL;
    struct replay_queue_consumer *c = NULL;
    struct replay_err err = {0};
    char id[64];
    snprintf(id, sizeof(id), "bench:%d", w->index);
    int rc = open_q(s->url, &q);
    if (rc == 0)
        rc = replay_queue_consumer_open(q, REPLAY_QUEUE_ALERT, id, &c, &err);
    while (rc == 0 && atomic_load(&s->acked) < s->messages) {
        struct replay_queue_item *item = NULL;
        rc = replay_queue_pop(c, 100, &item, &err);
        if (rc == 0 && item != NULL) {
            rc = replay_queue_ack(c, item, &err);
            replay_queue_item_free(item);
            if (atomic_fetch_add(&s->acked, 1) + 1 == s->messages) {
                pthread_mutex_lock(&s->lock);
                s->last_ack_ms = replay_now_ms();
                pthread_mutex_unlock(&s->lock);
            }
        }
    }
    if (rc < 0) {
        fprintf(stderr, "bench_queue: consumer %d: %s\n", w->index, err.msg);
        atomic_store(&s->failed, 1);
    }
    replay_queue_consumer_close(c);
    replay_queue_close(q);
    return NULL;
}

static int push_all(const char *url, long n)
{
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    char id[32];
    int rc = open_q(url, &q);
    for (long i = 0; rc == 0 && i < n; i++) {
        snprintf(id, sizeof(id), "B%ld", i);
        rc = replay_queue_push_alert(q, id, "2024-05-01T12:34:56.123456Z", &err);
    }
    if (rc < 0)
        fprintf(stderr, "bench_queue: push: %s\n", err.msg[0] ? err.msg : "open failed");
    replay_queue_close(q);
    return rc;
}

static void report(const char *phase, int consumers, long n, uint64_t ms)
{
    double secs = (double)(ms ? ms : 1) / 1000.0;
    printf("%s consumers=%d messages=%ld seconds=%.3f msgs_per_s=%.0f\n", phase, consumers, n,
           secs, (double)n / secs);
    fflush(stdout);
}

/* Runs C consumers until n messages are acked; pushes them too when `push` (the
 * producer's own time in *push_ms). */
static int run_consumers(struct shared *s, int consumers, bool push, uint64_t *ms,
                         uint64_t *push_ms)
{
    struct worker *w = calloc((size_t)consumers, sizeof(*w));
    int rc = 0;
    atomic_store(&s->acked, 0);
    uint64_t t0 = replay_now_ms();
    for (int i = 0; i < consumers; i++) {
        w[i] = (struct worker){s, i, 0};
        pthread_create(&w[i].thread, NULL, consume, &w[i]);
    }
    if (push)
        rc = push_all(s->url, s->messages);
    *push_ms = replay_now_ms() - t0;
    for (int i = 0; i < consumers; i++)
        pthread_join(w[i].thread, NULL);
    free(w);
    *ms = s->last_ack_ms - t0;
    return rc < 0 || atomic_load(&s->failed) ? -1 : 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to report, not a death */
    if (argc != 4) {
        fprintf(stderr, "usage: bench_queue URL MESSAGES CONSUMERS\n");
        return 2;
    }
    replay_log_init("bench_queue", REPLAY_LOG_WARNING, REPLAY_LOG_TEXT, 2);
    struct shared s = {.url = argv[1], .messages = atol(argv[2])};
    int consumers = atoi(argv[3]);
    uint64_t ms = 0, push_ms = 0, t0 = replay_now_ms();
    pthread_mutex_init(&s.lock, NULL);
    if (s.messages < 1 || consumers < 1 || push_all(s.url, s.messages) < 0)
        return 1;
    report("push", 0, s.messages, replay_now_ms() - t0);
    if (run_consumers(&s, consumers, false, &ms, &push_ms) < 0)
        return 1;
    report("drain", consumers, s.messages, ms);
    if (run_consumers(&s, consumers, true, &ms, &push_ms) < 0)
        return 1;
    report("pipeline", consumers, s.messages, ms);
    printf("pipeline_producer_seconds=%.3f\n", (double)push_ms / 1000.0);
    return 0;
}
