/* A read callback (replay_cart_read_fn's shape) over a fuzz input, handing out
 * at most `step` bytes per call, so targets exercise every piece boundary. */
#ifndef REPLAY_FUZZ_READER_H
#define REPLAY_FUZZ_READER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "replay/error.h"

struct src {
    const uint8_t *p;
    size_t len, pos, step;
};

static inline int src_read(void *ctx, void *buf, size_t cap, size_t *got,
                           struct replay_err *err)
{
    (void)err;
    struct src *s = ctx;
    size_t n = s->len - s->pos;
    n = n < s->step ? n : s->step;
    n = n < cap ? n : cap;
    memcpy(buf, s->p + s->pos, n);
    s->pos += n;
    *got = n;
    return 0;
}

#endif
