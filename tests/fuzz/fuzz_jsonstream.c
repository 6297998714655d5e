/*
 * libFuzzer target for the streaming JSON checker and array splitter: the same
 * input fed whole and in pieces of a size taken from the input must give the same
 * verdict and the same elements (a piece boundary never changes the result).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay/jsonstream.h"

struct digest {
    size_t n;
    uint64_t sum; /* of the elements' lengths and first bytes */
};

static int on_item(void *ctx, const struct replay_jsonstream_item *it, struct replay_err *err)
{
    (void)err;
    struct digest *d = ctx;
    d->n++;
    d->sum = d->sum * 31 + it->len + (it->json != NULL ? (uint8_t)it->json[0] : 1);
    return 0;
}

static int run(const uint8_t *data, size_t size, size_t step, bool split, struct digest *d)
{
    struct replay_jsonstream_opts o = {.on_item = split ? on_item : NULL, .ctx = d,
                                       .max_item = 64, .max_depth = 32};
    struct replay_jsonstream *s = NULL;
    struct replay_err err = {0};
    int code = replay_jsonstream_new(&o, &s, &err);
    for (size_t i = 0; code == 0 && i < size; i += step)
        code = replay_jsonstream_feed(s, data + i, size - i < step ? size - i : step, &err);
    if (code == 0)
        code = replay_jsonstream_finish(s, &err);
    replay_jsonstream_free(s);
    return code;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t step = 1 + (size > 0 ? data[0] % 7 : 0);
    for (int split = 0; split <= 1; split++) {
        struct digest a = {0}, b = {0};
        int ca = run(data, size, size + 1, split, &a);
        int cb = run(data, size, step, split, &b);
        if (ca != cb || a.n != b.n || a.sum != b.sum)
            abort();
    }
    return 0;
}
