/*
 * backoff: capped exponential back-off with jitter, for every retry loop.
 *
 * A loop that retries after a failure waits longer each time (doubling from
 * min_ms up to max_ms), with "equal jitter" (a random delay between half and all
 * of the current step) so many threads or processes that failed together do not
 * come back together. A success resets it.
 *
 * The waits go through replay_cancel_sleep_ms(): they end at once on shutdown
 * (REPLAY_ECANCELED) and count as idle for the heartbeat (a thread waiting for a
 * server to come back is healthy).
 *
 * It is the one back-off of the library: the HTTP transport's retries, the
 * Redis reconnections and the services' pauses all use it. Its random numbers
 * come from one generator per thread (seeded from the kernel), which
 * replay_random_u64() also gives to whoever needs a random name.
 *
 * A struct replay_backoff is plain data owned by one thread. Thread-safe: no
 * state is shared between threads.
 */
#ifndef REPLAY_BACKOFF_H
#define REPLAY_BACKOFF_H

#include <stdint.h>

#include "replay/error.h"
#include "replay/lifecycle.h"

struct replay_backoff {
    uint64_t min_ms;  /* first step */
    uint64_t max_ms;  /* cap of a step */
    uint64_t step_ms; /* current step, before jitter */
    unsigned failures; /* waits since the last reset */
};

/* Sets the bounds (min_ms 0 counts as 1; max_ms below min_ms counts as min_ms). */
void replay_backoff_init(struct replay_backoff *b, uint64_t min_ms, uint64_t max_ms);

/* The delay of the next wait, in [step/2, step], and doubles the step (capped). */
uint64_t replay_backoff_next_ms(struct replay_backoff *b);

/* Waits replay_backoff_next_ms() (idle). 0, or REPLAY_ECANCELED on shutdown. */
REPLAY_MUST_CHECK int replay_backoff_wait(struct replay_backoff *b,
                                          const struct replay_cancel *cancel);

/* After a success: the next wait starts from min_ms again. */
void replay_backoff_reset(struct replay_backoff *b);

/* A random 64-bit number from the calling thread's generator (xorshift64*,
 * seeded from getrandom()): for jitter and random names, not for secrets. */
uint64_t replay_random_u64(void);

#endif
