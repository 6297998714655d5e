/*
 * replay-ctl audit: what the manifests promised and what never arrived (issue 16,
 * docs/trust.md "Reading the audit"). Reads the audit the loader-worker keeps in
 * the persistent Redis and prints, per source: the manifests seen, the gaps in
 * their sequence, the files promised and not arrived after the grace period, and
 * failures by reason; then the files still within their grace period, the files
 * that arrived and no manifest lists, and failures whose source is not known.
 * --json prints the report itself. --forget-arrived DAYS lets the audit forget the
 * files that arrived more than DAYS ago (its memory grows with every file
 * otherwise). Exit codes: 0 read (whatever it says), 1 Redis failure, 2 bad usage
 * or configuration.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "replay/isotime.h"
#include "replay/queue.h"
#include "replay/redact.h"

#define CMD "audit"

struct audit_args {
    bool json;
    long long grace_s; /* -1: the configuration's */
    long long forget_days; /* -1: read, do not forget */
    long timeout_s;
};

static void audit_usage(FILE *f)
{
    fprintf(f,
        "usage: replay-ctl audit [--json] [--grace S] [--timeout S]\n"
        "       replay-ctl audit --forget-arrived DAYS [--timeout S]\n"
        "\n"
        "  Per source of manifests (loader.manifest on the target side): manifests\n"
        "  seen, gaps in their sequence (a manifest that never arrived), files promised\n"
        "  and not arrived S seconds after their manifest, failures by reason; then the\n"
        "  files still within that time, the files that arrived and no manifest lists,\n"
        "  and failures of files no manifest names.\n"
        "  --json       the report as one JSON object\n"
        "  --grace S    how long after its manifest a file counts as missing (default:\n"
        "               loader.manifest.grace)\n"
        "  --timeout S  give up when Redis does not answer for S seconds (default 10)\n"
        "  --forget-arrived DAYS\n"
        "               forget the files that arrived more than DAYS days ago (the\n"
        "               audit keeps about 500 bytes per file otherwise); manifests\n"
        "               stay recorded, so a manifest sent again is still a replay\n"
        "\n"
        "Exit codes: 0 read (or forgotten); 1 Redis failure; 2 bad usage or configuration.\n");
}

static int parse_args(int argc, char **argv, struct audit_args *a)
{
    static const struct option longs[] = {
        {"json", no_argument, NULL, 'j'},          {"grace", required_argument, NULL, 'g'},
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {"forget-arrived", required_argument, NULL, 'f'}, {NULL, 0, NULL, 0},
    };
    int c;
    char *end = NULL;
    a->grace_s = -1;
    a->forget_days = -1;
    a->timeout_s = 10;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'j': a->json = true; break;
        case 'g':
            a->grace_s = strtoll(optarg, &end, 10);
            if (*end != '\0' || a->grace_s < 0 || a->grace_s > 366LL * 86400)
                return 2;
            break;
        case 't':
            if (ctl_seconds_arg(optarg, &a->timeout_s) != 0)
                return 2;
            break;
        case 'f':
            a->forget_days = strtoll(optarg, &end, 10);
            if (*end != '\0' || optarg[0] == '\0' || a->forget_days < 0 ||
                a->forget_days > 36600)
                return 2;
            break;
        case 'h': return 1;
        default: return 2;
        }
    }
    if (a->forget_days >= 0 && (a->json || a->grace_s >= 0))
        return 2;
    return optind == argc ? 0 : 2;
}

/* ---- printing ---- */

/* Assemblyline's form of an epoch time, "-" for none. */
static const char *when(long long epoch, char *buf, size_t size)
{
    struct replay_isotime t = {.sec = epoch, .nsec = 0};
    if (epoch <= 0)
        snprintf(buf, size, "-");
    else
        replay_isotime_format(&t, buf, size);
    return buf;
}

static void print_failures(const char *indent, json_t *failures)
{
    const char *reason;
    json_t *n;
    bool first = true;
    if (json_object_size(failures) == 0)
        return;
    printf("%sfailures:", indent);
    json_object_foreach(failures, reason, n) {
        printf("%s %s %lld", first ? "" : ",", reason, (long long)json_integer_value(n));
        first = false;
    }
    printf("\n");
}

/* name, sha256 (its start), then `what` and its time. */
static void print_files(json_t *files, const char *when_key, long long total)
{
    size_t i;
    json_t *f;
    char buf[REPLAY_ISOTIME_LEN];
    json_array_foreach(files, i, f) {
        long long seq = ctl_int(f, "sequence");
        printf("    %s  sha256 %.16s...  ", ctl_str(f, "name"), ctl_str(f, "sha256"));
        if (seq >= 0)
            printf("manifest %lld  ", seq);
        printf("%s %s\n", when_key, when(ctl_int(f, when_key), buf, sizeof(buf)));
    }
    if (total > (long long)json_array_size(files))
        printf("    ... %lld more (the first %zu are listed)\n",
               total - (long long)json_array_size(files), json_array_size(files));
}

static void print_gaps(json_t *s)
{
    long long n = ctl_int(s, "gap_count");
    size_t i;
    json_t *g;
    if (n <= 0)
        return;
    printf("  %lld gap(s), manifests that never arrived:", n);
    json_array_foreach(json_object_get(s, "gaps"), i, g) {
        if (i == 20) {
            printf(" ...");
            break;
        }
        printf(" %lld", (long long)json_integer_value(g));
    }
    printf("\n");
}

static void print_source(const char *name, json_t *s)
{
    char buf[REPLAY_ISOTIME_LEN];
    json_t *missing = json_object_get(s, "missing");
    printf("source %s: %lld manifest(s)", name, ctl_int(s, "manifests"));
    if (ctl_int(s, "manifests") > 0)
        printf(", sequence %lld to %lld, last recorded %s", ctl_int(s, "first"),
               ctl_int(s, "last"), when(ctl_int(s, "last_at"), buf, sizeof(buf)));
    printf("\n");
    if (ctl_int(s, "unverified") > 0)
        printf("  %lld manifest(s) recorded without a checked signature\n",
               ctl_int(s, "unverified"));
    print_gaps(s);
    if (json_array_size(missing) > 0) {
        printf("  %zu file(s) promised and not arrived:\n", json_array_size(missing));
        print_files(missing, "promised", (long long)json_array_size(missing));
    }
    print_failures("  ", json_object_get(s, "failures"));
}

static void print_report(json_t *r, const char *where)
{
    const char *name;
    json_t *s;
    printf("audit on %s (a file is missing %lld s after its manifest)\n", where,
           ctl_int(r, "grace"));
    if (json_object_size(json_object_get(r, "sources")) == 0)
        printf("no manifest recorded\n");
    json_object_foreach(json_object_get(r, "sources"), name, s)
        print_source(name, s);
    long long missing = ctl_int(r, "missing_count");
    long long listed = 0;
    json_object_foreach(json_object_get(r, "sources"), name, s)
        listed += (long long)json_array_size(json_object_get(s, "missing"));
    if (missing > listed)
        printf("%lld more file(s) missing (the first %lld are listed)\n", missing - listed,
               listed);
    printf("files promised and still within their grace period: %lld\n",
           ctl_int(r, "awaiting_count"));
    printf("files arrived that no manifest lists: %lld\n", ctl_int(r, "unlisted_count"));
    print_files(json_object_get(r, "unlisted"), "arrived", ctl_int(r, "unlisted_count"));
    print_failures("failures of files no manifest names: ", json_object_get(r, "failures"));
}

/* ---- the command ---- */

static int forget(struct replay_queue *q, long long days, struct replay_err *err)
{
    char buf[REPLAY_ISOTIME_LEN];
    long long forgotten = 0, cutoff = (long long)time(NULL) - days * 86400;
    int rc = replay_queue_audit_forget(q, cutoff, &forgotten, err);
    if (rc == 0)
        printf("forgot %lld file(s) that arrived before %s\n", forgotten,
               when(cutoff, buf, sizeof(buf)));
    return rc;
}

int ctl_audit(int argc, char **argv, const struct ctl_globals *g)
{
    struct audit_args a = {0};
    int prc = parse_args(argc, argv, &a);
    if (prc != 0) {
        audit_usage(prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : 2;
    }
    struct replay_config *cfg = NULL;
    if (ctl_load_config(CMD, g, &cfg) != 0)
        return 2;
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    char *text = NULL, where[256];
    long long grace = a.grace_s >= 0 ? a.grace_s : cfg->loader.manifest.grace;
    replay_redact_url(cfg->redis.persistent_url, where, sizeof(where));
    int rc = ctl_open_redis(cfg->redis.persistent_url, "audit", a.timeout_s, &q, &err);
    if (rc == 0 && a.forget_days >= 0)
        rc = forget(q, a.forget_days, &err);
    else if (rc == 0)
        rc = replay_queue_audit_report(q, (long long)time(NULL), grace, &text, &err);
    replay_queue_close(q);
    replay_config_free(cfg);
    if (rc != 0)
        return ctl_fail(CMD, ctl_fail_code(rc), "%s", err.msg);
    if (a.forget_days >= 0)
        return 0;
    json_t *report = json_loads(text, 0, NULL);
    free(text);
    if (report == NULL)
        return ctl_fail(CMD, 1, "the audit report is not JSON (out of memory?)");
    if (a.json)
        ctl_print_json(report);
    else
        print_report(report, where);
    json_decref(report);
    return 0;
}
