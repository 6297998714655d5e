/*
 * replay-ctl queues: what sits in Replay's Redis (docs/queues.md). Depth of every
 * queue, processing list and :bad list, the consumers' liveness, the checkpoints;
 * the :bad entries with their reasons; and --requeue-bad to put bad messages back
 * after an operator fixed the cause. Redis URLs come from the configuration
 * (replay_config_load: environment, replay.yml, Assemblyline's config.yml).
 * Exit codes: 0 ok, 1 Redis failure, 2 usage or configuration.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "replay/config.h"
#include "replay/queue.h"
#include "replay/redact.h"

#define CMD "queues"
#define PREVIEW_BYTES 160

struct queues_args {
    bool json;
    const char *bad;     /* --bad TYPE */
    const char *requeue; /* --requeue-bad TYPE|all */
    long limit;          /* --limit N for --bad */
    long timeout_s;      /* --timeout S: how long to wait for Redis */
};

static void queues_usage(FILE *f)
{
    fprintf(f,
        "usage: replay-ctl queues [--json] [--timeout S]\n"
        "       replay-ctl queues --bad TYPE [--limit N] [--json]\n"
        "       replay-ctl queues --requeue-bad TYPE|all\n"
        "\n"
        "  (no option)        depth of every replay_<type> queue, its processing lists\n"
        "                     (one per consumer, with when it was last seen), its :bad\n"
        "                     list, and the checkpoints on the persistent Redis\n"
        "  --json             the same as one JSON object\n"
        "  --bad TYPE         the oldest entries of replay_<TYPE>:bad: reason, consumer,\n"
        "                     time, size and the start of the message (--limit, default 20)\n"
        "  --requeue-bad TYPE moves every entry of replay_<TYPE>:bad (or of all seven with\n"
        "                     'all') back to the tail of its queue, original bytes, in order;\n"
        "                     do it once the cause is fixed, or they come back to :bad\n"
        "  --timeout S        give up when Redis does not answer for S seconds (default 10)\n"
        "\n"
        "TYPE: alert, submission, badlist, safelist, signature, workflow or file.\n");
}

static int parse_args(int argc, char **argv, struct queues_args *a)
{
    static const struct option longs[] = {
        {"json", no_argument, NULL, 'j'},          {"bad", required_argument, NULL, 'b'},
        {"requeue-bad", required_argument, NULL, 'r'}, {"limit", required_argument, NULL, 'l'},
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end = NULL;
    a->limit = 20;
    a->timeout_s = 10;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'j': a->json = true; break;
        case 'b': a->bad = optarg; break;
        case 'r': a->requeue = optarg; break;
        case 'l':
            a->limit = strtol(optarg, &end, 10);
            if (*end != '\0' || a->limit < 1)
                return 2;
            break;
        case 't':
            if (ctl_seconds_arg(optarg, &a->timeout_s) != 0)
                return 2;
            break;
        case 'h': return 1;
        default: return 2;
        }
    }
    if (optind != argc || (a->bad != NULL && a->requeue != NULL))
        return 2;
    return 0;
}

int ctl_open_redis(const char *url, const char *role, long timeout_s, struct replay_queue **q,
                   struct replay_err *err)
{
    struct replay_queue_options o = {.url = url, .role = role,
                                     .give_up_ms = (unsigned)timeout_s * 1000u,
                                     .connect_timeout_ms = 3000};
    return replay_queue_open(&o, q, err);
}

/* ---- the overview: collected as JSON, printed from it ---- */

static void unseen_text(json_t *ms, char *out, size_t size)
{
    long long v = json_is_integer(ms) ? (long long)json_integer_value(ms) : -1;
    if (v < 0)
        snprintf(out, size, "no liveness record");
    else if (v < 120000)
        snprintf(out, size, "%lld s ago", v / 1000);
    else if (v < 7200000)
        snprintf(out, size, "%lld min ago", v / 60000);
    else
        snprintf(out, size, "%lld h ago", v / 3600000);
}

static void on_consumer(const char *consumer, long long depth, long long unseen_ms, void *ud)
{
    json_array_append_new(ud, json_pack("{s:s, s:I, s:o}", "id", consumer, "items",
                                        (json_int_t)depth, "unseen_ms",
                                        unseen_ms < 0 ? json_null() : json_integer(unseen_ms)));
}

static int collect_type(struct replay_queue *q, enum replay_queue_type t, json_t *out,
                        struct replay_err *err)
{
    struct replay_queue_counts n;
    int rc = replay_queue_counts(q, t, &n, err);
    if (rc < 0)
        return rc;
    json_t *consumers = json_array();
    if (n.processing > 0 || n.consumers > 0)
        rc = replay_queue_each_processing(q, t, on_consumer, consumers, err);
    json_array_append_new(out, json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "type",
                                         replay_queue_type_name(t), "key", replay_queue_key(t),
                                         "queued", (json_int_t)n.queued, "processing",
                                         (json_int_t)n.processing, "bad", (json_int_t)n.bad,
                                         "consumers", consumers));
    return rc;
}

static int collect_checkpoints(struct replay_queue *q, json_t *out, struct replay_err *err)
{
    for (int t = REPLAY_QUEUE_BADLIST; t <= REPLAY_QUEUE_WORKFLOW; t++) {
        char *v = NULL;
        int rc = replay_queue_checkpoint_get(q, (enum replay_queue_type)t, &v, err);
        if (rc < 0)
            return rc;
        json_object_set_new(out, replay_queue_type_name((enum replay_queue_type)t),
                            json_string(v));
        free(v);
    }
    return 0;
}

int ctl_queues_collect(const struct replay_config *cfg, long timeout_s, json_t *out,
                       struct replay_err *err)
{
    struct replay_queue *q = NULL, *p = NULL;
    char safe[512], psafe[512];
    json_t *queues = json_array(), *cps = json_object();
    replay_redact_url(cfg->redis.url, safe, sizeof(safe));
    replay_redact_url(cfg->redis.persistent_url, psafe, sizeof(psafe));
    json_object_set_new(out, "redis", json_string(safe));
    json_object_set_new(out, "redis_from", json_string(cfg->redis.url_source));
    json_object_set_new(out, "persistent_redis", json_string(psafe));
    json_object_set_new(out, "persistent_redis_from",
                        json_string(cfg->redis.persistent_url_source));
    json_object_set_new(out, "queues", queues);
    json_object_set_new(out, "checkpoints", cps);
    int rc = ctl_open_redis(cfg->redis.url, "queues", timeout_s, &q, err);
    for (int t = 0; rc == 0 && t < REPLAY_QUEUE_TYPE_COUNT; t++)
        rc = collect_type(q, (enum replay_queue_type)t, queues, err);
    if (rc == 0)
        rc = ctl_open_redis(cfg->redis.persistent_url, "checkpoints", timeout_s, &p, err);
    if (rc == 0)
        rc = collect_checkpoints(p, cps, err);
    replay_queue_close(p);
    replay_queue_close(q);
    return rc;
}

void ctl_queues_print(json_t *o)
{
    size_t i, j;
    json_t *row, *c;
    const char *key, *cp;
    printf("queues on %s (from %s)\n  %-20s %8s %11s %6s %10s\n", ctl_str(o, "redis"),
           ctl_str(o, "redis_from"), "queue", "queued", "processing", "bad", "consumers");
    json_array_foreach(json_object_get(o, "queues"), i, row) {
        key = ctl_str(row, "key");
        printf("  %-20s %8lld %11lld %6lld %10zu\n", key, ctl_int(row, "queued"),
               ctl_int(row, "processing"), ctl_int(row, "bad"),
               json_array_size(json_object_get(row, "consumers")));
        json_array_foreach(json_object_get(row, "consumers"), j, c) {
            char seen[64];
            unseen_text(json_object_get(c, "unseen_ms"), seen, sizeof(seen));
            printf("    %s:processing:%s  %lld item(s), seen %s\n", key, ctl_str(c, "id"),
                   ctl_int(c, "items"), seen);
        }
    }
    printf("checkpoints on %s (from %s)\n", ctl_str(o, "persistent_redis"),
           ctl_str(o, "persistent_redis_from"));
    json_t *v;
    json_object_foreach(json_object_get(o, "checkpoints"), cp, v)
        printf("  %-10s %s\n", cp, json_string_value(v));
}

static int overview(const struct replay_config *cfg, const struct queues_args *a)
{
    struct replay_err err = {0};
    json_t *root = json_object();
    int rc = ctl_queues_collect(cfg, a->timeout_s, root, &err);
    if (rc == 0 && a->json)
        ctl_print_json(root);
    else if (rc == 0)
        ctl_queues_print(root);
    json_decref(root);
    return rc < 0 ? ctl_fail(CMD, ctl_fail_code(rc), "%s", err.msg) : 0;
}

/* ---- :bad entries ---- */

struct bad_rows {
    json_t *list;
    long index;
};

/* The first bytes of a message, printable: other bytes as \xNN. */
static void printable(const char *s, size_t len, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < size; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f)
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, size - o, "\\x%02x", ch);
    }
    out[o] = '\0';
}

static void on_bad(const char *header, const char *message, size_t message_len,
                   long long full_len, void *ud)
{
    struct bad_rows *rows = ud;
    char text[PREVIEW_BYTES * 4 + 8];
    printable(message, message_len, text, sizeof(text));
    if (rows->list != NULL) {
        json_t *h = json_loads(header, 0, NULL);
        json_array_append_new(rows->list, json_pack("{s:o, s:I, s:s}", "header",
                                                    h != NULL ? h : json_string(header),
                                                    "length", (json_int_t)full_len, "start",
                                                    text));
    } else {
        printf("#%ld %s\n    %s%s\n", rows->index, header[0] != '\0' ? header : "(no header)",
               text, (long long)message_len < full_len ? " ..." : "");
    }
    rows->index++;
}

static int show_bad(const struct replay_config *cfg, const struct queues_args *a)
{
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    enum replay_queue_type t = REPLAY_QUEUE_ALERT;
    if (replay_queue_type_parse(a->bad, &t, &err) < 0)
        return ctl_fail(CMD, 2, "%s", err.msg);
    struct bad_rows rows = {a->json ? json_array() : NULL, 0};
    int rc = ctl_open_redis(cfg->redis.url, "queues", a->timeout_s, &q, &err);
    if (rc == 0)
        rc = replay_queue_each_bad(q, t, (size_t)a->limit, PREVIEW_BYTES, on_bad, &rows, &err);
    replay_queue_close(q);
    if (rc == 0 && a->json)
        ctl_print_json(rows.list);
    else if (rc == 0 && rows.index == 0)
        printf("%s:bad is empty\n", replay_queue_key(t));
    json_decref(rows.list);
    return rc < 0 ? ctl_fail(CMD, ctl_fail_code(rc), "%s", err.msg) : 0;
}

static int requeue_bad(const struct replay_config *cfg, const struct queues_args *a)
{
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    enum replay_queue_type t = REPLAY_QUEUE_ALERT;
    bool all = strcmp(a->requeue, "all") == 0;
    if (!all && replay_queue_type_parse(a->requeue, &t, &err) < 0)
        return ctl_fail(CMD, 2, "%s", err.msg);
    int rc = ctl_open_redis(cfg->redis.url, "queues", a->timeout_s, &q, &err);
    for (int i = all ? 0 : (int)t; rc == 0 && i <= (all ? REPLAY_QUEUE_FILE : (int)t); i++) {
        long long moved = 0;
        rc = replay_queue_requeue_bad(q, (enum replay_queue_type)i, &moved, &err);
        if (rc == 0 && (moved > 0 || !all))
            printf("requeued %lld message(s) from %s:bad to %s\n", moved,
                   replay_queue_key((enum replay_queue_type)i),
                   replay_queue_key((enum replay_queue_type)i));
    }
    replay_queue_close(q);
    return rc < 0 ? ctl_fail(CMD, ctl_fail_code(rc), "%s", err.msg) : 0;
}

int ctl_queues(int argc, char **argv, const struct ctl_globals *g)
{
    struct queues_args a = {0};
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    int prc = parse_args(argc, argv, &a);
    if (prc != 0) {
        queues_usage(prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : 2;
    }
    if (replay_config_load(g->config_path, &cfg, &err) < 0)
        return ctl_fail(CMD, 2, "%s", err.msg);
    int rc = a.requeue != NULL ? requeue_bad(cfg, &a)
             : a.bad != NULL   ? show_bad(cfg, &a)
                               : overview(cfg, &a);
    replay_config_free(cfg);
    return rc;
}
