/*
 * replay-ctl request: marks alerts or submissions `requested` at the source
 * (GET /api/v4/replay/<index>/<id>/, al-rest-api.md §5.7), what a user otherwise
 * does by hand; the creator's default filters pick them up. The server and
 * account are the creator's (creator.client in replay.yml; the account needs the
 * replay_trigger role). Exit codes: 0 every item marked, 1 one was not (no such
 * item, refused, server down), 2 bad usage or configuration (an unsafe id too).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "replay/alclient.h"
#include "replay/names.h"

#define CMD "request"

struct request_args {
    bool json;
    long attempts;
    const char *index;
    char **ids;
    int n_ids;
};

static void request_usage(FILE *f)
{
    fprintf(f,
        "usage: replay-ctl request alert|submission ID... [--json] [--attempts N]\n"
        "\n"
        "  Marks each alert (by alert_id) or submission (by sid) `requested` on the\n"
        "  source Assemblyline (creator.client: host, user, apikey), as a user does with\n"
        "  GET /api/v4/replay/<alert|submission>/<ID>/; the creator then queues it.\n"
        "  --json        one JSON array: {\"id\", \"requested\", \"error\"} per ID\n"
        "  --attempts N  tries per ID when the server is down or busy (default 3)\n"
        "\n"
        "Exit codes: 0 every ID marked; 1 one was not (no such item or not visible to\n"
        "the account, refused, server unreachable); 2 bad usage or configuration.\n");
}

static int parse_args(int argc, char **argv, struct request_args *a)
{
    static const struct option longs[] = {
        {"json", no_argument, NULL, 'j'}, {"attempts", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    int c;
    char *end = NULL;
    a->attempts = 3;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'j': a->json = true; break;
        case 'a':
            a->attempts = strtol(optarg, &end, 10);
            if (*end != '\0' || a->attempts < 1 || a->attempts > 100)
                return 2;
            break;
        case 'h': return 1;
        default: return 2;
        }
    }
    if (argc - optind < 2)
        return 2;
    a->index = argv[optind];
    a->ids = argv + optind + 1;
    a->n_ids = argc - optind - 1;
    return strcmp(a->index, "alert") == 0 || strcmp(a->index, "submission") == 0 ? 0 : 2;
}

static bool request_one(struct replay_alclient *c, const struct request_args *a, const char *id,
                        json_t *report)
{
    struct replay_err err = {0};
    int rc = replay_alclient_request_replay(c, a->index, id, &err);
    if (rc == REPLAY_ENOTFOUND)
        replay_err_prefix(&err, "no such %s, or the account may not see it", a->index);
    json_array_append_new(report, json_pack("{s:s, s:b, s:s?}", "id", id, "requested", rc == 0,
                                            "error", rc == 0 ? NULL : err.msg));
    if (rc != 0)
        ctl_fail(CMD, 1, "%s %s not requested: %s", a->index, id, err.msg);
    else if (!a->json)
        printf("requested %s %s\n", a->index, id);
    return rc == 0;
}

static int request_all(const struct replay_config *cfg, const struct request_args *a)
{
    struct replay_alclient_options o;
    struct replay_alclient *c = NULL;
    struct replay_err err = {0};
    replay_alclient_options_from_config(&o, &cfg->creator.client);
    o.retry.max_attempts = (unsigned)a->attempts;
    o.connect_timeout_ms = 10000;
    if (replay_config_check_client(cfg, "creator", &err) != 0 ||
        replay_alclient_open(&o, &c, &err) != 0)
        return ctl_fail(CMD, 2, "%s", err.msg);
    json_t *report = json_array();
    int code = 0;
    for (int i = 0; i < a->n_ids; i++) {
        if (!request_one(c, a, a->ids[i], report))
            code = 1;
    }
    if (a->json)
        ctl_print_json(report);
    json_decref(report);
    replay_alclient_close(c);
    return code;
}

int ctl_request(int argc, char **argv, const struct ctl_globals *g)
{
    struct request_args a = {0};
    struct replay_config *cfg = NULL;
    int prc = parse_args(argc, argv, &a);
    if (prc != 0) {
        request_usage(prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : 2;
    }
    for (int i = 0; i < a.n_ids; i++) {
        if (!replay_names_id_is_safe(a.ids[i]))
            return ctl_fail(CMD, 2, "\"%s\" is not an %s id (1 to 128 letters, digits, '-' "
                            "or '_')", a.ids[i], a.index);
    }
    if (ctl_load_config(CMD, g, &cfg) != 0)
        return 2;
    int rc = request_all(cfg, &a);
    replay_config_free(cfg);
    return rc;
}
