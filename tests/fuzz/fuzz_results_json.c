/*
 * libFuzzer target for reading a bundle's results.json as the loader-worker does:
 * the input is the member's bytes, put in a one-member ustar tar made here, and
 * checked by replay_archive_check() (common/archive), which streams it through
 * its results.json reader (size cap, jsonstream's object check). The tar is read
 * in pieces of a size taken from the input, so piece boundaries vary too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_reader.h"
#include "replay/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TAR_BLOCK 512u

/* A ustar header for a regular file "results.json" of `size` bytes. */
static void ustar_header(uint8_t *h, size_t size)
{
    memset(h, 0, TAR_BLOCK);
    memcpy(h, "results.json", 12);
    memcpy(h + 100, "0000644", 7);
    memcpy(h + 108, "0000000", 7);
    memcpy(h + 116, "0000000", 7);
    snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
    memcpy(h + 136, "00000000000", 11);
    h[156] = '0';
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned i = 0; i < TAR_BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t padded = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
    size_t len = TAR_BLOCK + padded + 2 * TAR_BLOCK;
    uint8_t *tar = calloc(1, len);
    if (tar == NULL)
        return 0;
    ustar_header(tar, size);
    if (size > 0)
        memcpy(tar + TAR_BLOCK, data, size);
    struct src s = {tar, len, 0, 1 + (size > 0 ? data[0] : 0) * 32u};
    struct replay_archive_limits lim = {.max_results_json = 1u << 16};
    struct replay_archive_summary sum;
    struct replay_err err = {0};
    int code = replay_archive_check(src_read, &s, &lim, NULL, &sum, &err);
    /* Accepted: the whole member was read. Refused: always with a reason. */
    if ((code == 0 && sum.results_json != size) || (code != 0 && err.msg[0] == '\0'))
        __builtin_trap();
    free(tar);
    return 0;
}
