/*
 * replay-ctl status: one look at a Replay installation. The Redis overview of
 * `replay-ctl queues` (queues, processing and :bad lists, checkpoints), the
 * failed directory (count, newest reasons: `replay-ctl failed`), and the age of
 * the heartbeat files of the services running on this host (decisions.md §12;
 * the configured logging.heartbeat_file / REPLAY_HEARTBEAT_FILE, or the files
 * named with --heartbeat). It ends with what needs attention, and exits 1 when
 * that list is not empty, so a cron job or a monitoring probe can run it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ctl.h"
#include "replay/redact.h"

#define CMD "status"
#define MAX_HEARTBEATS 16
#define NEWEST_SHOWN 5

struct status_args {
    bool json, no_failed, no_heartbeat;
    long timeout_s;
    long stale_s;
    const char *hb_name[MAX_HEARTBEATS];
    const char *hb_path[MAX_HEARTBEATS];
    int n_hb;
};

static void status_usage(FILE *f)
{
    fprintf(f,
        "usage: replay-ctl status [--json] [--heartbeat NAME=PATH]... [--stale S] [--timeout S]\n"
        "                         [--no-failed] [--no-heartbeat]\n"
        "\n"
        "  Queues, processing and :bad lists and checkpoints (as `replay-ctl queues`),\n"
        "  the failed directory (how many files, the newest reasons), and the age of\n"
        "  each service's heartbeat file; then what needs attention.\n"
        "\n"
        "  --json              the same as one JSON object\n"
        "  --heartbeat NAME=PATH  a service's heartbeat file (repeatable, at most %d);\n"
        "                      default: logging.heartbeat_file or REPLAY_HEARTBEAT_FILE\n"
        "                      (/tmp/heartbeat), shown as \"configured\"\n"
        "  --stale S           a heartbeat older than S seconds is stale (default 30, the\n"
        "                      Helm chart's liveness probe)\n"
        "  --timeout S         give up when Redis does not answer for S seconds (default 10)\n"
        "  --no-failed         leave out the failed directory (a source-side host has none)\n"
        "  --no-heartbeat      leave out the heartbeats (no service runs on this host)\n"
        "\n"
        "Needs attention: a Redis or failed directory that cannot be read, a non-empty\n"
        ":bad list, files in the failed directory, a heartbeat file missing or stale.\n"
        "Exit codes: 0 nothing needs attention, 1 something does, 2 bad usage or\n"
        "configuration.\n",
        MAX_HEARTBEATS);
}

static int add_heartbeat(struct status_args *a, char *spec)
{
    char *eq = strchr(spec, '=');
    if (eq == NULL || eq == spec || eq[1] == '\0' || a->n_hb == MAX_HEARTBEATS)
        return 2;
    *eq = '\0';
    a->hb_name[a->n_hb] = spec;
    a->hb_path[a->n_hb++] = eq + 1;
    return 0;
}

static int parse_args(int argc, char **argv, struct status_args *a)
{
    static const struct option longs[] = {
        {"json", no_argument, NULL, 'j'},         {"heartbeat", required_argument, NULL, 'b'},
        {"stale", required_argument, NULL, 's'},  {"timeout", required_argument, NULL, 't'},
        {"no-failed", no_argument, NULL, 'F'},    {"no-heartbeat", no_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int c, rc = 0;
    a->timeout_s = 10;
    a->stale_s = 30;
    optind = 1;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'j': a->json = true; break;
        case 'F': a->no_failed = true; break;
        case 'H': a->no_heartbeat = true; break;
        case 'b': rc = add_heartbeat(a, optarg); break;
        case 's': rc = ctl_seconds_arg(optarg, &a->stale_s); break;
        case 't': rc = ctl_seconds_arg(optarg, &a->timeout_s); break;
        case 'h': return 1;
        default: return 2;
        }
    }
    return rc != 0 || optind != argc || (a->no_heartbeat && a->n_hb > 0) ? 2 : 0;
}

static void attention(json_t *list, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void attention(json_t *list, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    replay_redact_vformat(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_array_append_new(list, json_string(text));
}

/* ---- the three parts ---- */

static json_t *redis_part(const struct replay_config *cfg, const struct status_args *a,
                          json_t *att)
{
    struct replay_err err = {0};
    json_t *o = json_object(), *q;
    size_t i;
    if (ctl_queues_collect(cfg, a->timeout_s, o, &err) != 0) {
        json_object_set_new(o, "error", json_string(err.msg));
        attention(att, "Redis: %s", err.msg);
        return o;
    }
    json_array_foreach(json_object_get(o, "queues"), i, q) {
        if (ctl_int(q, "bad") > 0)
            attention(att, "%s:bad holds %lld message(s): replay-ctl queues --bad %s",
                      ctl_str(q, "key"), ctl_int(q, "bad"), ctl_str(q, "type"));
    }
    return o;
}

static json_t *failed_part(const struct replay_config *cfg, json_t *att)
{
    struct replay_err err = {0};
    const char *dir = cfg->loader.failed_directory;
    json_t *files = json_array(), *o = json_pack("{s:s}", "directory", dir);
    if (ctl_failed_collect(dir, files, &err) != 0) {
        json_object_set_new(o, "error", json_string(err.msg));
        attention(att, "%s", err.msg);
    } else if (json_array_size(files) > 0) {
        attention(att, "%zu file(s) in the failed directory %s: replay-ctl failed list",
                  json_array_size(files), dir);
    }
    json_object_set_new(o, "count", json_integer((json_int_t)json_array_size(files)));
    while (json_array_size(files) > NEWEST_SHOWN)
        json_array_remove(files, NEWEST_SHOWN);
    json_object_set_new(o, "newest", files);
    return o;
}

static json_t *heartbeat_row(const char *name, const char *path, long stale_s, json_t *att)
{
    struct stat st;
    json_t *o = json_pack("{s:s, s:s}", "name", name, "file", path);
    if (stat(path, &st) != 0) {
        int e = errno;
        json_object_set_new(o, "state", json_string("missing"));
        attention(att, "heartbeat %s (%s): %s", name, path, strerror(e));
        return o;
    }
    long long age = (long long)(time(NULL) - st.st_mtime);
    age = age < 0 ? 0 : age;
    json_object_set_new(o, "age_s", json_integer(age));
    json_object_set_new(o, "state", json_string(age > stale_s ? "stale" : "ok"));
    if (age > stale_s)
        attention(att, "heartbeat %s (%s) is %lld s old: the service is down or a thread hung",
                  name, path, age);
    return o;
}

static json_t *heartbeat_part(const struct replay_config *cfg, const struct status_args *a,
                              json_t *att)
{
    json_t *rows = json_array();
    const char *conf = cfg->logging.heartbeat_file;
    for (int i = 0; i < a->n_hb; i++)
        json_array_append_new(rows, heartbeat_row(a->hb_name[i], a->hb_path[i], a->stale_s, att));
    if (a->n_hb == 0 && !a->no_heartbeat && conf != NULL && conf[0] != '\0')
        json_array_append_new(rows, heartbeat_row("configured", conf, a->stale_s, att));
    return rows;
}

/* ---- text ---- */

static void print_text(json_t *o)
{
    json_t *redis = json_object_get(o, "redis"), *failed = json_object_get(o, "failed"), *r;
    size_t i;
    if (json_object_get(redis, "error") != NULL)
        printf("queues on %s: %s\n", ctl_str(redis, "redis"), ctl_str(redis, "error"));
    else
        ctl_queues_print(redis);
    if (json_object_get(failed, "error") != NULL)
        printf("failed directory: %s\n", ctl_str(failed, "error"));
    else if (failed != NULL)
        printf("failed directory %s: %lld file(s)\n", ctl_str(failed, "directory"),
               ctl_int(failed, "count"));
    json_array_foreach(json_object_get(failed, "newest"), i, r) {
        const char *why = json_object_get(r, "reason") != NULL ? ctl_str(r, "reason")
                                                                 : ctl_str(r, "sidecar_error");
        printf("  %s  %s  %.100s\n", ctl_str(r, "name"), ctl_str(r, "time"), why);
    }
    if (json_array_size(json_object_get(o, "heartbeats")) > 0)
        printf("heartbeats (stale after %lld s)\n", ctl_int(o, "stale_after_s"));
    json_array_foreach(json_object_get(o, "heartbeats"), i, r) {
        char age[32] = "-";
        if (ctl_int(r, "age_s") >= 0)
            snprintf(age, sizeof(age), "%lld s ago", ctl_int(r, "age_s"));
        printf("  %-14s %-7s %-12s %s\n", ctl_str(r, "name"), ctl_str(r, "state"), age,
               ctl_str(r, "file"));
    }
    json_t *att = json_object_get(o, "attention");
    if (json_array_size(att) == 0)
        printf("nothing needs attention\n");
    else
        printf("needs attention:\n");
    json_array_foreach(att, i, r)
        printf("  - %s\n", json_string_value(r));
}

int ctl_status(int argc, char **argv, const struct ctl_globals *g)
{
    struct status_args a = {0};
    struct replay_config *cfg = NULL;
    int prc = parse_args(argc, argv, &a);
    if (prc != 0) {
        status_usage(prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : 2;
    }
    if (ctl_load_config(CMD, g, &cfg) != 0)
        return 2;
    json_t *att = json_array(), *o = json_object();
    json_object_set_new(o, "redis", redis_part(cfg, &a, att));
    if (!a.no_failed)
        json_object_set_new(o, "failed", failed_part(cfg, att));
    json_object_set_new(o, "stale_after_s", json_integer(a.stale_s));
    json_object_set_new(o, "heartbeats", heartbeat_part(cfg, &a, att));
    json_object_set_new(o, "attention", att);
    if (a.json)
        ctl_print_json(o);
    else
        print_text(o);
    int code = json_array_size(att) > 0 ? 1 : 0;
    json_decref(o);
    replay_config_free(cfg);
    return code;
}
