/* Fuzz target: replay.yml text through substitution, YAML and the schema walk. */
#include <stddef.h>
#include <stdint.h>

#include "replay/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    if (replay_config_parse((const char *)data, size, "fuzz.yml", &cfg, &err) == 0) {
        struct replay_err check = {0};
        if (replay_config_check_client(cfg, "creator", &check) != 0 && check.msg[0] == '\0')
            __builtin_trap(); /* every refusal must say why */
        replay_config_free(cfg);
    }
    return 0;
}
