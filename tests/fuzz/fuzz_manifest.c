/*
 * Fuzz target for trust's manifest parser (outside input: a manifest arrives in
 * the loader's input directory from across the air gap). Checks beyond "no
 * crash": what the parser accepts obeys the caps and the name rule, and
 * serializing it and parsing that again gives the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct replay_manifest *m = NULL, *again = NULL;
    char *text = NULL, *text2 = NULL;
    size_t len = 0, len2 = 0;
    if (replay_manifest_parse(data, size, &m, NULL) != 0)
        return 0;
    if (m->n_files > REPLAY_MANIFEST_MAX_FILES)
        abort();
    for (size_t i = 0; i < m->n_files; i++) {
        if (!replay_manifest_file_name_is_safe(m->files[i].name) || m->files[i].size < 0)
            abort();
    }
    if (replay_manifest_serialize(m, &text, &len, NULL) != 0 ||
        replay_manifest_parse(text, len, &again, NULL) != 0 ||
        replay_manifest_serialize(again, &text2, &len2, NULL) != 0 || len != len2 ||
        memcmp(text, text2, len) != 0)
        abort();
    free(text);
    free(text2);
    replay_manifest_free(m);
    replay_manifest_free(again);
    return 0;
}
