/* replay-ctl config: the effective configuration, or a check of a replay.yml. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "replay/config.h"
#include "replay/redact.h"

static void config_usage(FILE *f)
{
    fprintf(f, "usage: replay-ctl [--config PATH] config [--check] [--for creator|loader]\n\n"
               "Without options: prints the effective configuration as JSON, secrets masked.\n"
               "--check: validates it (YAML, keys, types, Redis URLs, logging settings) and\n"
               "prints only warnings and errors; with --for, also checks that the client\n"
               "section can be used by that side's services. Exit 0 valid, 2 invalid.\n");
}

int ctl_config(int argc, char **argv, const struct ctl_globals *g)
{
    int check = 0;
    const char *side = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0) {
            check = 1;
        } else if (strcmp(argv[i], "--for") == 0 && i + 1 < argc &&
                   (strcmp(argv[i + 1], "creator") == 0 || strcmp(argv[i + 1], "loader") == 0)) {
            side = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            config_usage(stdout);
            return 0;
        } else {
            config_usage(stderr);
            return 2;
        }
    }
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    if (replay_config_load(g->config_path, &cfg, &err) != 0)
        return ctl_fail("config", 2, "%s", err.msg);
    for (size_t i = 0; i < cfg->warnings.count; i++)
        fprintf(stderr, "replay-ctl config: warning: %s\n", cfg->warnings.items[i]);
    int code = 0;
    if (side != NULL && replay_config_check_client(cfg, side, &err) != 0) {
        code = ctl_fail("config", 2, "%s", err.msg);
    } else if (check) {
        printf("%s: valid\n", cfg->source_path ? cfg->source_path : "defaults (no file)");
    } else {
        char *json = replay_config_to_json(cfg);
        code = json ? 0 : ctl_fail("config", 1, "out of memory");
        if (json != NULL)
            printf("%s\n", json);
        free(json);
    }
    replay_config_free(cfg);
    return code;
}
