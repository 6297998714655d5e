/*
 * libFuzzer target for the CaRT decoder: the streaming decoder (read sizes vary
 * with the input) and the metadata-only reader on a memfd. Inputs are CaRT files;
 * the corpus in corpus/cart/ holds valid ones of both modes and broken ones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_reader.h"
#include "replay/cart.h"

static void decode_stream(const uint8_t *data, size_t size, size_t step, bool strict)
{
    struct src s = {data, size, 0, step};
    struct replay_cart_dec_opts o = {.threads = 1, .require_digests = strict};
    struct replay_cart_dec *d = NULL;
    struct replay_err err = {0};
    if (replay_cart_dec_new(&o, src_read, &s, &d, &err) == 0) {
        uint8_t out[4096];
        size_t got = 1;
        while (got > 0 && replay_cart_dec_read(d, out, sizeof(out), &got, &err) == 0)
            ;
    }
    replay_cart_dec_free(d);
}

static void read_info(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_cart", MFD_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, data, size) == (ssize_t)size) {
        char *h = NULL, *f = NULL;
        struct replay_err err = {0};
        if (replay_cart_info_fd(fd, NULL, &h, &f, &err) == 0) {
            free(h);
            free(f);
        }
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)replay_cart_is_cart(data, size);
    decode_stream(data, size, 65536, false);
    decode_stream(data, size, 1 + size % 61, true);
    read_info(data, size);
    return 0;
}
