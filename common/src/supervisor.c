/*
 * supervisor: a libuv loop on the main thread (signals, a periodic tick) watching
 * worker threads. The tick restarts threads that ended, decides whether every
 * thread is healthy and touches the heartbeat only then, and during a drain waits
 * for the threads to return or the deadline to pass.
 */
#include "replay/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "replay/log.h"

#define TICK_MS 250
#define HEALTHY_RUN_MS 60000 /* a thread that ran this long resets its back-off */
#define MAX_THREADS 4096

struct worker {
    char *name;
    replay_thread_fn fn;
    void *arg;
    struct replay_supervisor *sup;
    uv_thread_t tid;
    atomic_bool alive;   /* set before start, cleared by the thread as its last act */
    bool joinable;       /* a started thread not joined yet */
    bool stalled;        /* reported as stalled (logged once per episode) */
    int last_rc;
    unsigned starts;
    uint64_t started_ms, next_start_ms, backoff_ms;
    struct replay_liveness live;
};

struct replay_supervisor {
    struct replay_supervisor_options opt;
    char *heartbeat_file;
    struct worker **workers;
    size_t n_workers;
    struct replay_cancel *cancel;
    uv_loop_t loop;
    uv_signal_t sig_term, sig_int;
    uv_timer_t tick;
    uv_async_t wake;
    pthread_mutex_t wake_lock; /* guards wake_open: a thread may outlive the loop */
    bool wake_open;
    atomic_bool stop_requested; /* replay_supervisor_stop() from any thread */
    int signals;
    bool draining, timed_out, hard_exit, beat_failed;
    uint64_t drain_deadline_ms, last_beat_ms;
};

static uint64_t env_seconds(const char *name, uint64_t fallback_ms)
{
    const char *v = getenv(name);
    char *end = NULL;
    if (v == NULL || v[0] == '\0')
        return fallback_ms;
    double s = strtod(v, &end);
    if (end == v || *end != '\0' || s <= 0 || s > 86400.0 * 365) {
        replay_warn("%s=%s is not a number of seconds; using %llu", name, v,
                    (unsigned long long)(fallback_ms / 1000));
        return fallback_ms;
    }
    return (uint64_t)(s * 1000.0);
}

void replay_supervisor_options_default(struct replay_supervisor_options *o,
                                       const char *heartbeat_file)
{
    memset(o, 0, sizeof(*o));
    o->heartbeat_file = heartbeat_file;
    o->heartbeat_interval_ms = 3000;
    o->stall_timeout_ms = env_seconds("REPLAY_STALL_SECONDS", 60000);
    o->drain_deadline_ms = env_seconds("REPLAY_DRAIN_SECONDS", 30000);
    o->restart_backoff_min_ms = 1000;
    o->restart_backoff_max_ms = 60000;
}

/* ---------------------------------------------------------------------------
 * Test-only fault hooks (REPLAY_TEST_FAULT), compiled in test builds only
 * ------------------------------------------------------------------------- */

#ifdef REPLAY_TEST_HOOKS
static uint64_t fault_value(const char *spec, const char *name)
{
    const char *p = spec ? strstr(spec, name) : NULL;
    if (p == NULL)
        return 0;
    p += strlen(name);
    return *p == ':' ? (uint64_t)(strtod(p + 1, NULL) * 1000.0) : 1;
}

/* Progresses, then after `hang-after` stops making progress without idling; when
 * canceled it keeps working for `slow-drain` before it returns. */
static int fault_thread(void *arg, const struct replay_cancel *cancel)
{
    const char *spec = arg;
    if (fault_value(spec, "crash-loop"))
        return REPLAY_EIO;
    uint64_t hang_after = fault_value(spec, "hang-after");
    uint64_t start = replay_now_ms();
    while (!replay_cancel_requested(cancel)) {
        bool hung = hang_after > 0 && replay_now_ms() - start >= hang_after;
        if (!hung)
            replay_progress();
        (void)replay_cancel_sleep_ms(cancel, 200, false);
    }
    uint64_t drain = fault_value(spec, "slow-drain");
    for (uint64_t t0 = replay_now_ms(); replay_now_ms() - t0 < drain;) {
        replay_progress();
        (void)replay_cancel_sleep_ms(NULL, 50, false);
    }
    return 0;
}

static int add_fault_hooks(struct replay_supervisor *s, struct replay_err *err)
{
    const char *spec = getenv("REPLAY_TEST_FAULT");
    if (spec == NULL || spec[0] == '\0')
        return 0;
    replay_warn("test fault hooks active: REPLAY_TEST_FAULT=%s", spec);
    return replay_supervisor_add(s, "Test fault hook", fault_thread, (void *)spec, err);
}
#else
static int add_fault_hooks(struct replay_supervisor *s, struct replay_err *err)
{
    (void)s;
    (void)err;
    return 0;
}
#endif

/* ---------------------------------------------------------------------------
 * Construction
 * ------------------------------------------------------------------------- */

int replay_supervisor_new(const struct replay_supervisor_options *o,
                          struct replay_supervisor **out, struct replay_err *err)
{
    *out = NULL;
    struct replay_supervisor *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "supervisor: out of memory");
    pthread_mutex_init(&s->wake_lock, NULL);
    s->opt = *o;
    s->cancel = replay_cancel_new();
    if (o->heartbeat_file != NULL && o->heartbeat_file[0] != '\0')
        s->heartbeat_file = strdup(o->heartbeat_file);
    if (s->cancel == NULL ||
        (o->heartbeat_file != NULL && o->heartbeat_file[0] != '\0' && s->heartbeat_file == NULL)) {
        replay_supervisor_free(s);
        return replay_err_set(err, REPLAY_ENOMEM, "supervisor: out of memory");
    }
    s->opt.heartbeat_file = s->heartbeat_file;
    atomic_init(&s->stop_requested, false);
    int rc = add_fault_hooks(s, err);
    if (rc != 0) {
        replay_supervisor_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int replay_supervisor_add(struct replay_supervisor *s, const char *name, replay_thread_fn fn,
                          void *arg, struct replay_err *err)
{
    if (s == NULL || name == NULL || fn == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "supervisor: thread needs a name and a function");
    if (s->n_workers >= MAX_THREADS)
        return replay_err_set(err, REPLAY_ETOOBIG, "supervisor: more than %d threads", MAX_THREADS);
    struct worker **grown = realloc(s->workers, (s->n_workers + 1) * sizeof(*grown));
    struct worker *w = calloc(1, sizeof(*w));
    if (grown != NULL)
        s->workers = grown;
    if (grown == NULL || w == NULL || (w->name = strdup(name)) == NULL) {
        free(w);
        return replay_err_set(err, REPLAY_ENOMEM, "supervisor: out of memory");
    }
    w->fn = fn;
    w->arg = arg;
    w->sup = s;
    w->backoff_ms = s->opt.restart_backoff_min_ms;
    atomic_init(&w->alive, false);
    s->workers[s->n_workers++] = w;
    return 0;
}

const struct replay_cancel *replay_supervisor_cancel(const struct replay_supervisor *s)
{
    return s->cancel;
}

/* ---------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------- */

/* Wakes the loop early; a no-op once the loop is closed (a thread that outlived
 * the drain deadline must not touch a closed handle). */
static void supervisor_wake(struct replay_supervisor *s)
{
    pthread_mutex_lock(&s->wake_lock);
    if (s->wake_open)
        uv_async_send(&s->wake);
    pthread_mutex_unlock(&s->wake_lock);
}

static void worker_main(void *p)
{
    struct worker *w = p;
    sigset_t block;
    /* Signals belong to the main thread's loop. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    replay_log_set_thread_name(w->name);
    replay_liveness_bind(&w->live);
    w->last_rc = w->fn(w->arg, w->sup->cancel);
    replay_liveness_bind(NULL);
    atomic_store(&w->alive, false);
    supervisor_wake(w->sup);
}

static void worker_start(struct worker *w, uint64_t now)
{
    w->starts++;
    if (w->starts == 1)
        replay_info("Starting thread: %s", w->name);
    else
        replay_warn("Restarting thread: %s (start %u)", w->name, w->starts);
    atomic_store(&w->live.last_progress_ms, now);
    atomic_store(&w->live.idle_depth, 0);
    atomic_store(&w->alive, true);
    w->started_ms = now;
    if (uv_thread_create(&w->tid, worker_main, w) != 0) {
        atomic_store(&w->alive, false);
        replay_error("Cannot start thread %s; trying again in %llu ms", w->name,
                     (unsigned long long)w->backoff_ms);
        w->next_start_ms = now + w->backoff_ms;
        return;
    }
    w->joinable = true;
}

/* A thread returned: join it, log why, and plan its restart with back-off. */
static void worker_reap(struct replay_supervisor *s, struct worker *w, uint64_t now)
{
    uv_thread_join(&w->tid);
    w->joinable = false;
    w->stalled = false;
    if (s->draining)
        return;
    uint64_t ran = now - w->started_ms;
    if (ran >= HEALTHY_RUN_MS)
        w->backoff_ms = s->opt.restart_backoff_min_ms;
    if (w->last_rc != 0)
        replay_error("Crash in thread %s: %s (%s); restarting in %llu ms", w->name,
                     replay_strerror(w->last_rc), replay_err_name(w->last_rc),
                     (unsigned long long)w->backoff_ms);
    else
        replay_error("Thread %s returned while the component is running; restarting in %llu ms",
                     w->name, (unsigned long long)w->backoff_ms);
    w->next_start_ms = now + w->backoff_ms;
    w->backoff_ms *= 2;
    if (w->backoff_ms > s->opt.restart_backoff_max_ms)
        w->backoff_ms = s->opt.restart_backoff_max_ms;
}

/* Healthy = idle-waiting for work, or progress within the stall timeout. A thread
 * waiting for its restart counts as healthy: it is not hung, and its crashes are
 * logged with their back-off. */
static bool worker_healthy(struct replay_supervisor *s, struct worker *w, uint64_t now)
{
    if (!atomic_load(&w->alive) || atomic_load(&w->live.idle_depth) > 0)
        return true;
    uint64_t last = atomic_load(&w->live.last_progress_ms);
    bool ok = now < last || now - last < s->opt.stall_timeout_ms;
    if (!ok && !w->stalled)
        replay_error("Thread %s made no progress for %llu s: withholding the heartbeat",
                     w->name, (unsigned long long)((now - last) / 1000));
    else if (ok && w->stalled)
        replay_info("Thread %s is making progress again", w->name);
    w->stalled = !ok;
    return ok;
}

/* ---------------------------------------------------------------------------
 * Heartbeat
 * ------------------------------------------------------------------------- */

static void heartbeat_touch(struct replay_supervisor *s)
{
    int fd = open(s->heartbeat_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int saved = errno;
    if (fd >= 0) {
        if (futimens(fd, NULL) != 0)
            saved = errno;
        else
            saved = 0;
        close(fd);
    }
    if (saved != 0 && !s->beat_failed)
        replay_error("Cannot touch heartbeat file %s: %s", s->heartbeat_file, strerror(saved));
    else if (saved == 0 && s->beat_failed)
        replay_info("Heartbeat file %s written again", s->heartbeat_file);
    s->beat_failed = saved != 0;
}

static void heartbeat_maybe(struct replay_supervisor *s, uint64_t now)
{
    if (s->heartbeat_file == NULL || now - s->last_beat_ms < s->opt.heartbeat_interval_ms)
        return;
    bool healthy = true;
    for (size_t i = 0; i < s->n_workers; i++)
        healthy = worker_healthy(s, s->workers[i], now) && healthy;
    if (!healthy)
        return;
    s->last_beat_ms = now;
    heartbeat_touch(s);
}

/* ---------------------------------------------------------------------------
 * The loop: tick, signals, drain
 * ------------------------------------------------------------------------- */

static void begin_drain(struct replay_supervisor *s)
{
    if (s->draining)
        return;
    s->draining = true;
    s->drain_deadline_ms = replay_now_ms() + s->opt.drain_deadline_ms;
    replay_cancel_request(s->cancel);
}

static bool drain_finished(struct replay_supervisor *s, uint64_t now)
{
    size_t busy = 0;
    for (size_t i = 0; i < s->n_workers; i++) {
        struct worker *w = s->workers[i];
        if (w->joinable && !atomic_load(&w->alive))
            worker_reap(s, w, now);
        busy += w->joinable;
    }
    if (busy == 0)
        return true;
    if (now < s->drain_deadline_ms)
        return false;
    for (size_t i = 0; i < s->n_workers; i++) {
        if (s->workers[i]->joinable)
            replay_error("Thread %s did not finish within the %llu s drain deadline",
                         s->workers[i]->name, (unsigned long long)(s->opt.drain_deadline_ms / 1000));
    }
    s->timed_out = true;
    return true;
}

static void on_tick(uv_timer_t *t)
{
    struct replay_supervisor *s = t->data;
    uint64_t now = replay_now_ms();
    if (atomic_load(&s->stop_requested))
        begin_drain(s);
    if (s->draining) {
        /* The heartbeat goes on while the threads finish what they hold. */
        heartbeat_maybe(s, now);
        if (drain_finished(s, now))
            uv_stop(&s->loop);
        return;
    }
    for (size_t i = 0; i < s->n_workers; i++) {
        struct worker *w = s->workers[i];
        if (w->joinable && !atomic_load(&w->alive))
            worker_reap(s, w, now);
        if (!w->joinable && now >= w->next_start_ms)
            worker_start(w, now);
    }
    heartbeat_maybe(s, now);
}

static void on_wake(uv_async_t *a)
{
    on_tick(&((struct replay_supervisor *)a->data)->tick);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct replay_supervisor *s = h->data;
    if (++s->signals == 1) {
        replay_info("Instance caught signal %s. Coming down...", signum == SIGINT ? "SIGINT" : "SIGTERM");
        begin_drain(s);
        on_tick(&s->tick);
        return;
    }
    replay_warn("Second signal %s: exiting at once", signum == SIGINT ? "SIGINT" : "SIGTERM");
    s->hard_exit = true;
    uv_stop(&s->loop);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void loop_close(struct replay_supervisor *s)
{
    pthread_mutex_lock(&s->wake_lock);
    s->wake_open = false;
    pthread_mutex_unlock(&s->wake_lock);
    uv_walk(&s->loop, close_handle, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    (void)uv_loop_close(&s->loop);
}

/* Opens the loop and its handles. On failure nothing is left open: a loop that
 * uv_loop_init refused is not touched, one that it set up is closed. */
static int loop_open(struct replay_supervisor *s, struct replay_err *err)
{
    int rc = uv_loop_init(&s->loop);
    if (rc != 0)
        return replay_err_set(err, REPLAY_EIO, "supervisor: uv_loop_init: %s", uv_strerror(rc));
    s->tick.data = s->wake.data = s->sig_term.data = s->sig_int.data = s;
    if ((rc = uv_timer_init(&s->loop, &s->tick)) == 0 &&
        (rc = uv_async_init(&s->loop, &s->wake, on_wake)) == 0 &&
        (s->wake_open = true) &&
        (rc = uv_signal_init(&s->loop, &s->sig_term)) == 0 &&
        (rc = uv_signal_init(&s->loop, &s->sig_int)) == 0 &&
        (rc = uv_signal_start(&s->sig_term, on_signal, SIGTERM)) == 0 &&
        (rc = uv_signal_start(&s->sig_int, on_signal, SIGINT)) == 0)
        rc = uv_timer_start(&s->tick, on_tick, 0, TICK_MS);
    if (rc != 0) {
        loop_close(s);
        return replay_err_set(err, REPLAY_EIO, "supervisor: libuv set-up: %s", uv_strerror(rc));
    }
    return 0;
}

int replay_supervisor_run(struct replay_supervisor *s, struct replay_err *err)
{
    int rc = loop_open(s, err);
    if (rc != 0)
        return rc;
    if (s->heartbeat_file != NULL)
        heartbeat_touch(s);
    s->last_beat_ms = replay_now_ms();
    uv_run(&s->loop, UV_RUN_DEFAULT);
    loop_close(s);
    if (s->hard_exit)
        return replay_err_set(err, REPLAY_ECANCELED, "stopped by a second signal");
    if (s->timed_out)
        return replay_err_set(err, REPLAY_ETIMEDOUT, "threads still busy after the drain deadline");
    return 0;
}

void replay_supervisor_stop(struct replay_supervisor *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stop_requested, true);
    replay_cancel_request(s->cancel);
}

void replay_supervisor_free(struct replay_supervisor *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_workers; i++) {
        if (s->workers[i]->joinable)
            uv_thread_join(&s->workers[i]->tid);
        free(s->workers[i]->name);
        free(s->workers[i]);
    }
    free(s->workers);
    free(s->heartbeat_file);
    replay_cancel_free(s->cancel);
    pthread_mutex_destroy(&s->wake_lock);
    free(s);
}
