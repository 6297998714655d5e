/*
 * libFuzzer target for the bundle check (common/archive): inputs are bundle
 * files, CaRTed or bare tars; read in pieces of a size taken from the input,
 * under small caps so bombs stay cheap.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_reader.h"
#include "replay/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct src s = {data, size, 0, 1 + (size > 0 ? data[size - 1] : 0) * 64u};
    struct replay_archive_limits lim = {.max_members = 64, .max_bytes = 1u << 20,
                                        .max_results_json = 1u << 16};
    struct replay_archive_summary sum;
    struct replay_err err = {0};
    int code = replay_archive_check(src_read, &s, &lim, NULL, &sum, &err);
    /* A bundle that passed holds its results.json; a failure always says why. */
    if ((code == 0 && sum.members == 0) || (code != 0 && err.msg[0] == '\0'))
        __builtin_trap();
    return 0;
}
