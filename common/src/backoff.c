/* backoff: capped exponential back-off with equal jitter. */
#include "replay/backoff.h"

#include <time.h>

/* splitmix64: small, fast, and good enough to spread retries apart. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void replay_backoff_init(struct replay_backoff *b, uint64_t min_ms, uint64_t max_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    b->min_ms = min_ms == 0 ? 1 : min_ms;
    b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
    b->step_ms = b->min_ms;
    /* Time and the object's address: two threads starting together differ. */
    b->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)b;
    b->failures = 0;
}

uint64_t replay_backoff_next_ms(struct replay_backoff *b)
{
    uint64_t step = b->step_ms;
    uint64_t half = step / 2;
    uint64_t delay = half + (step - half == 0 ? 0 : next_random(&b->rng) % (step - half + 1));
    b->step_ms = step > b->max_ms / 2 ? b->max_ms : step * 2;
    b->failures++;
    return delay;
}

int replay_backoff_wait(struct replay_backoff *b, const struct replay_cancel *cancel)
{
    return replay_cancel_sleep_ms(cancel, replay_backoff_next_ms(b), true);
}

void replay_backoff_reset(struct replay_backoff *b)
{
    b->step_ms = b->min_ms;
    b->failures = 0;
}
