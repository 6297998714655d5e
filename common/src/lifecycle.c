/* lifecycle: a cancel flag with a condition variable, and per-thread liveness. */
#include "replay/lifecycle.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct replay_cancel {
    atomic_bool requested;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* on CLOCK_MONOTONIC */
};

static _Thread_local struct replay_liveness *liveness;

uint64_t replay_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct replay_cancel *replay_cancel_new(void)
{
    struct replay_cancel *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    atomic_init(&c->requested, false);
    return c;
}

void replay_cancel_free(struct replay_cancel *c)
{
    if (c == NULL)
        return;
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void replay_cancel_request(struct replay_cancel *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    atomic_store(&c->requested, true);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

bool replay_cancel_requested(const struct replay_cancel *c)
{
    return c != NULL && atomic_load(&((struct replay_cancel *)c)->requested);
}

static struct timespec deadline_after(uint64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000u);
    ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Sleep without a token: nanosleep, resumed after signals. */
static void plain_sleep(uint64_t ms)
{
    struct timespec req = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L}, rem;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

int replay_cancel_sleep_ms(const struct replay_cancel *cc, uint64_t ms, bool idle)
{
    struct replay_cancel *c = (struct replay_cancel *)cc;
    if (idle)
        replay_idle_begin();
    int rc = 0;
    if (c == NULL) {
        plain_sleep(ms);
    } else {
        struct timespec until = deadline_after(ms);
        pthread_mutex_lock(&c->lock);
        while (!atomic_load(&c->requested)) {
            if (pthread_cond_timedwait(&c->wake, &c->lock, &until) == ETIMEDOUT)
                break;
        }
        rc = atomic_load(&c->requested) ? REPLAY_ECANCELED : 0;
        pthread_mutex_unlock(&c->lock);
    }
    if (idle)
        replay_idle_end();
    return rc;
}

void replay_liveness_bind(struct replay_liveness *l)
{
    liveness = l;
    if (l != NULL)
        atomic_store(&l->last_progress_ms, replay_now_ms());
}

void replay_progress(void)
{
    if (liveness != NULL)
        atomic_store(&liveness->last_progress_ms, replay_now_ms());
}

void replay_idle_begin(void)
{
    if (liveness != NULL)
        atomic_fetch_add(&liveness->idle_depth, 1);
}

void replay_idle_end(void)
{
    if (liveness == NULL)
        return;
    atomic_fetch_sub(&liveness->idle_depth, 1);
    /* Leaving a wait is progress: the stall clock starts again from here. */
    atomic_store(&liveness->last_progress_ms, replay_now_ms());
}
