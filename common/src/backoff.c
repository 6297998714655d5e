/* backoff: capped exponential back-off with equal jitter. */
#include "replay/backoff.h"

#include <sys/random.h>
#include <unistd.h>

uint64_t replay_random_u64(void)
{
    /* xorshift64*: jitter and names only, no need for quality */
    static _Thread_local uint64_t state;
    while (state == 0) {
        if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != (ssize_t)sizeof(state))
            state = replay_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&state;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 2685821657736338717ULL;
}

void replay_backoff_init(struct replay_backoff *b, uint64_t min_ms, uint64_t max_ms)
{
    b->min_ms = min_ms == 0 ? 1 : min_ms;
    b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
    b->step_ms = b->min_ms;
    b->failures = 0;
}

uint64_t replay_backoff_next_ms(struct replay_backoff *b)
{
    uint64_t step = b->step_ms;
    uint64_t half = step / 2;
    uint64_t delay = half + (step - half == 0 ? 0 : replay_random_u64() % (step - half + 1));
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
