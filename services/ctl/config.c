/* replay-ctl config: the effective configuration, or a check of a replay.yml. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "replay/config.h"

#define CMD "config"

static void config_usage(FILE *f)
{
    fprintf(f, "usage: replay-ctl [--config PATH] config [--json] [--check] [--for creator|loader]\n\n"
               "Without options: prints the effective configuration, one 'key = value' per\n"
               "line (dotted keys; lists as JSON), secrets masked as ***. --json: the same\n"
               "as one JSON object.\n"
               "--check: validates it (YAML, keys, types, Redis URLs, logging settings) and\n"
               "prints only warnings and errors; with --for, also checks that the client\n"
               "section can be used by that side's services. Exit 0 valid, 2 invalid.\n");
}

/* One "key = value" line per scalar or list, keys dotted from the root. */
static void print_flat(const char *prefix, json_t *v)
{
    if (json_is_object(v) && json_object_size(v) > 0) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m) {
            char key[512];
            snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] ? "." : "", k);
            print_flat(key, m);
        }
        return;
    }
    char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    printf("%s = %s\n", prefix, json_is_string(v) ? json_string_value(v) : text ? text : "?");
    free(text);
}

static int print_config(const struct replay_config *cfg, bool json)
{
    char *text = replay_config_to_json(cfg);
    json_t *o = text != NULL ? json_loads(text, 0, NULL) : NULL;
    int code = o != NULL ? 0 : ctl_fail(CMD, 1, "out of memory");
    if (o != NULL && json)
        printf("%s\n", text);
    else if (o != NULL)
        print_flat("", o);
    json_decref(o);
    free(text);
    return code;
}

int ctl_config(int argc, char **argv, const struct ctl_globals *g)
{
    static const struct option longs[] = {
        {"check", no_argument, NULL, 'c'}, {"for", required_argument, NULL, 'f'},
        {"json", no_argument, NULL, 'j'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool check = false, json = false;
    const char *side = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (c == 'h') {
            config_usage(stdout);
            return 0;
        } else if (c == 'c') {
            check = true;
        } else if (c == 'j') {
            json = true;
        } else if (c == 'f' && (strcmp(optarg, "creator") == 0 || strcmp(optarg, "loader") == 0)) {
            side = optarg;
        } else {
            config_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        config_usage(stderr);
        return 2;
    }
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    if (ctl_load_config(CMD, g, &cfg) != 0)
        return 2;
    for (size_t i = 0; i < cfg->warnings.count; i++)
        fprintf(stderr, "replay-ctl config: warning: %s\n", cfg->warnings.items[i]);
    int code = 0;
    if (side != NULL && replay_config_check_client(cfg, side, &err) != 0)
        code = ctl_fail(CMD, 2, "%s", err.msg);
    else if (check)
        printf("%s: valid\n", cfg->source_path ? cfg->source_path : "defaults (no file)");
    else
        code = print_config(cfg, json);
    replay_config_free(cfg);
    return code;
}
