/* al-sim: a test Assemblyline REST API v4 server. Command line, start-up,
 * shutdown on SIGTERM/SIGINT, and the `seed` subcommand (README.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alsim.h"
#include "replay/log.h"
#include "seed.h"
#include "simtime.h"
#include "simutil.h"

#define EXIT_USAGE 2

static const char USAGE[] =
    "usage: al-sim [serve] --data DIR [options]\n"
    "       al-sim seed --data DIR [seed options]\n"
    "\n"
    "serve options:\n"
    "  --data DIR               storage directory (created; kept across restarts)\n"
    "  --port N                 TCP port (default 0: any free port, see --ready-file)\n"
    "  --bind ADDR              listen address (default 127.0.0.1)\n"
    "  --mode intended|upstream upstream reproduces defects B2, B3 and B8 (default intended)\n"
    "  --user NAME:KEY:SECRET[:ACL[:TYPE]]\n"
    "                           an account and its API key KEY:SECRET; ACL letters of R W E\n"
    "                           (default RWE), TYPE admin|user (default admin); repeatable.\n"
    "                           Default: admin:devkey:devpass\n"
    "  --long-poll SECONDS      wait of GET /replay/queue/<type>/ (default 30; may be 0.5)\n"
    "  --session-duration S     login session lifetime (default 3600)\n"
    "  --fqdn NAME              ui.fqdn: bundle.source and workflow origin (default localhost)\n"
    "  --server-version V       api_server_version (default " ALSIM_VERSION_DEFAULT ")\n"
    "  --api-quota N            concurrent calls per user, 503 beyond (default 10, as\n"
    "                           upstream; 0: unlimited)\n"
    "  --read-only              ui.read_only: writes answer 403\n"
    "  --no-replay              ui.allow_replay false: /api/v4/replay/ answers 404\n"
    "  --no-session-ip-check    do not bind sessions to the client address\n"
    "  --no-session-ua-check    do not bind sessions to the User-Agent\n"
    "  --classification-enforce add bundle.classification when creating bundles\n"
    "  --bundle-gzip-level N    gzip level of created bundles, 1..9 (default 6, as tar czf)\n"
    "  --max-json-body BYTES    largest JSON body (default 16M; 413 beyond)\n"
    "  --max-import-body BYTES  largest bundle upload (default 16G; 413 beyond)\n"
    "  --fault SPEC             inject failures, e.g. kind=503,count=3,path=/api/v4/search/\n"
    "                           (repeatable; kinds: <status>, http, drop, stall, stall-body,\n"
    "                           truncate, slow; see README.md)\n"
    "  --ready-file FILE        write the listening port there once ready\n"
    "  --tls-cert FILE --tls-key FILE\n"
    "                           serve HTTPS with this PEM certificate and key\n"
    "  --log-level LEVEL        DEBUG, INFO, WARNING, ERROR (default INFO)\n"
    "\n"
    "seed options (al-sim seed --help for the list)\n";

static const char SEED_USAGE[] =
    "usage: al-sim seed --data DIR [options]   (the server must not be running on DIR)\n"
    "  --submissions N        submissions (default 3)\n"
    "  --files N              files per submission: 1 root + extracted children (default 2)\n"
    "  --file-size BYTES      size of each file (default 4096; K, M, G suffixes)\n"
    "  --large-file BYTES     one more file of this size in the first submission\n"
    "  --results N            results per file (default 2)\n"
    "  --errors N             errors per submission (default 1)\n"
    "  --alerts N             alerts on the first N submissions (default 2)\n"
    "  --badlist N --safelist N --signatures N --workflows N   list items (default 2 each;\n"
    "                         badlist/safelist sources from users admin, alice, bob and feeds)\n"
    "  --submission-state S   metadata.replay of submissions: requested, pending or done\n"
    "  --alert-state S        metadata.replay of alerts\n"
    "  --classification C     classification of everything (default TLP:CLEAR)\n"
    "  --start ISO            time of the first item (default: now minus the whole span)\n"
    "  --spacing-ms N         time between items (default 1000)\n"
    "  --rng-seed N           same seed, same ids and bytes\n"
    "Prints a JSON summary of what was created.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "al-sim: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(al-sim --help for usage)\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* "123", "16K", "200M", "2G" → bytes. */
static int parse_size(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || v < 0)
        return -1;
    int shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20
                : *end == 'G' || *end == 'g' ? 30 : 0;
    if (shift != 0)
        end++;
    if (*end != '\0' || v > (INT64_MAX >> shift))
        return -1;
    *out = (int64_t)v << shift;
    return 0;
}

static int parse_long(const char *s, long min, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min)
        return -1;
    *out = v;
    return 0;
}

/* Account roles (admin: all; user: all but the system ones) ∩ the key's ACL. */
static uint32_t effective_roles(const char *acl, bool admin)
{
    uint32_t account = admin ? (1u << R_COUNT) - 1
                             : ((1u << R_COUNT) - 1) & ~(ROLE(R_REPLAY_SYSTEM) |
                                                         ROLE(R_SIGNATURE_IMPORT) |
                                                         ROLE(R_ADMINISTRATION));
    uint32_t key = 0;
    if (strchr(acl, 'R'))
        key |= alsim_roles_mask("alert_view,badlist_view,bundle_download,safelist_view,"
                                "signature_view,submission_view,workflow_view,heuristic_view,"
                                "retrohunt_view,archive_view");
    if (strchr(acl, 'W'))
        key |= alsim_roles_mask("alert_manage,badlist_manage,safelist_manage,submission_create,"
                                "replay_trigger,signature_manage");
    if (strchr(acl, 'E'))
        key |= alsim_roles_mask("replay_system,signature_import,workflow_manage,"
                                "administration,apikey_access");
    return account & key;
}

static int add_user(struct alsim_config *cfg, const char *spec)
{
    char *copy = strdup(spec), *save = NULL;
    char *f[5] = {NULL};
    int n = 0;
    for (char *t = strtok_r(copy, ":", &save); t != NULL && n < 5; t = strtok_r(NULL, ":", &save))
        f[n++] = t;
    bool admin = n < 5 || strcmp(f[4], "admin") == 0;
    const char *acl = n >= 4 ? f[3] : "RWE";
    if (n < 3 || strspn(acl, "RWE") != strlen(acl) ||
        (n == 5 && strcmp(f[4], "admin") != 0 && strcmp(f[4], "user") != 0)) {
        free(copy);
        return -1;
    }
    struct alsim_user *u = realloc(cfg->users, (cfg->n_users + 1) * sizeof(*u));
    if (u == NULL) {
        free(copy);
        return -1;
    }
    cfg->users = u;
    u = &cfg->users[cfg->n_users++];
    memset(u, 0, sizeof(*u));
    u->name = strdup(f[0]);
    u->key_name = strdup(f[1]);
    u->secret = strdup(f[2]);
    u->acl = strdup(acl);
    u->admin = admin;
    u->roles = effective_roles(acl, admin);
    free(copy);
    return 0;
}

enum {
    O_DATA = 256, O_PORT, O_BIND, O_MODE, O_USER, O_LONGPOLL, O_SESSION, O_FQDN, O_VERSION,
    O_QUOTA, O_READONLY, O_NOREPLAY, O_NOIP, O_NOUA, O_ENFORCE, O_MAXJSON, O_MAXIMPORT,
    O_FAULT, O_READY, O_LOGLEVEL, O_GZIP, O_TLSCERT, O_TLSKEY, O_HELP,
};

static const struct option SERVE_OPTS[] = {
    {"data", required_argument, NULL, O_DATA},
    {"port", required_argument, NULL, O_PORT},
    {"bind", required_argument, NULL, O_BIND},
    {"mode", required_argument, NULL, O_MODE},
    {"user", required_argument, NULL, O_USER},
    {"long-poll", required_argument, NULL, O_LONGPOLL},
    {"session-duration", required_argument, NULL, O_SESSION},
    {"fqdn", required_argument, NULL, O_FQDN},
    {"server-version", required_argument, NULL, O_VERSION},
    {"api-quota", required_argument, NULL, O_QUOTA},
    {"read-only", no_argument, NULL, O_READONLY},
    {"no-replay", no_argument, NULL, O_NOREPLAY},
    {"no-session-ip-check", no_argument, NULL, O_NOIP},
    {"no-session-ua-check", no_argument, NULL, O_NOUA},
    {"classification-enforce", no_argument, NULL, O_ENFORCE},
    {"max-json-body", required_argument, NULL, O_MAXJSON},
    {"max-import-body", required_argument, NULL, O_MAXIMPORT},
    {"fault", required_argument, NULL, O_FAULT},
    {"ready-file", required_argument, NULL, O_READY},
    {"log-level", required_argument, NULL, O_LOGLEVEL},
    {"bundle-gzip-level", required_argument, NULL, O_GZIP},
    {"tls-cert", required_argument, NULL, O_TLSCERT},
    {"tls-key", required_argument, NULL, O_TLSKEY},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static void config_defaults(struct alsim_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->bind = "127.0.0.1";
    cfg->long_poll_ms = 30000;
    cfg->session_duration_s = 3600;
    cfg->fqdn = "localhost";
    cfg->server_version = ALSIM_VERSION_DEFAULT;
    cfg->allow_replay = true;
    cfg->validate_session_ip = true;
    cfg->validate_session_ua = true;
    cfg->max_json_body = 16u << 20;
    cfg->max_import_body = 16ull << 30;
    cfg->gzip_level = 6;
    cfg->api_quota = 10; /* ui.default_quotas.concurrent_api_calls */
}

/* One serve option; returns 0, or an exit code. */
static int serve_opt(struct alsim_config *cfg, int c, const char *arg, enum replay_log_level *lvl)
{
    long v = 0;
    int64_t size = 0;
    char *end = NULL;
    double secs;
    switch (c) {
    case O_DATA: cfg->data_dir = arg; return 0;
    case O_PORT:
        return parse_long(arg, 0, &v) == 0 && v <= 65535 ? (cfg->port = (int)v, 0)
                                                         : usage_error("bad --port '%s'", arg);
    case O_BIND: cfg->bind = arg; return 0;
    case O_MODE:
        if (strcmp(arg, "intended") != 0 && strcmp(arg, "upstream") != 0)
            return usage_error("--mode is intended or upstream, not '%s'", arg);
        cfg->mode = strcmp(arg, "upstream") == 0 ? ALSIM_UPSTREAM : ALSIM_INTENDED;
        return 0;
    case O_USER:
        return add_user(cfg, arg) == 0 ? 0 : usage_error(
            "bad --user '%s' (NAME:KEYNAME:SECRET[:ACL[:admin|user]])", arg);
    case O_LONGPOLL:
        secs = strtod(arg, &end);
        if (end == arg || *end != '\0' || secs < 0 || secs > 3600)
            return usage_error("bad --long-poll '%s' (seconds, 0..3600)", arg);
        cfg->long_poll_ms = (int64_t)(secs * 1000);
        return 0;
    case O_SESSION:
        return parse_long(arg, 1, &v) == 0 ? (cfg->session_duration_s = v, 0)
                                           : usage_error("bad --session-duration '%s'", arg);
    case O_FQDN: cfg->fqdn = arg; return 0;
    case O_VERSION: cfg->server_version = arg; return 0;
    case O_QUOTA:
        return parse_long(arg, 0, &v) == 0 ? (cfg->api_quota = (int)v, 0)
                                           : usage_error("bad --api-quota '%s'", arg);
    case O_READONLY: cfg->read_only = true; return 0;
    case O_NOREPLAY: cfg->allow_replay = false; return 0;
    case O_NOIP: cfg->validate_session_ip = false; return 0;
    case O_NOUA: cfg->validate_session_ua = false; return 0;
    case O_ENFORCE: cfg->enforce_classification = true; return 0;
    case O_MAXJSON:
        return parse_size(arg, &size) == 0 && size > 0 ? (cfg->max_json_body = (size_t)size, 0)
                                                       : usage_error("bad --max-json-body '%s'", arg);
    case O_MAXIMPORT:
        return parse_size(arg, &size) == 0 && size > 0
                   ? (cfg->max_import_body = (uint64_t)size, 0)
                   : usage_error("bad --max-import-body '%s'", arg);
    case O_FAULT: {
        char **f = realloc(cfg->faults, (cfg->n_faults + 1) * sizeof(*f));
        if (f == NULL)
            return 1;
        cfg->faults = f;
        cfg->faults[cfg->n_faults++] = (char *)arg;
        return 0;
    }
    case O_READY: cfg->ready_file = arg; return 0;
    case O_TLSCERT: cfg->tls_cert = arg; return 0;
    case O_TLSKEY: cfg->tls_key = arg; return 0;
    case O_GZIP:
        return parse_long(arg, 1, &v) == 0 && v <= 9 ? (cfg->gzip_level = (int)v, 0)
                                                     : usage_error("bad --bundle-gzip-level '%s'", arg);
    case O_LOGLEVEL:
        return replay_log_parse_level(arg, lvl) == 0 ? 0 : usage_error("bad --log-level '%s'", arg);
    default: return usage_error("%s", "unknown option");
    }
}

static void free_config(struct alsim_config *cfg)
{
    for (size_t i = 0; i < cfg->n_users; i++) {
        free(cfg->users[i].name);
        free(cfg->users[i].key_name);
        free(cfg->users[i].secret);
        free(cfg->users[i].acl);
        free(cfg->users[i].quota_ts);
    }
    free(cfg->users);
    free(cfg->faults);
}

static int write_ready(const char *path, int port)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static int open_parts(struct alsim *sim, char err[ALSIM_ERRLEN])
{
    if (alsim_store_open(sim->cfg.data_dir, &sim->store, err) != 0 ||
        alsim_queues_open(sim->cfg.data_dir, &sim->queues, err) != 0)
        return -1;
    if (alsim_sessions_new(&sim->sessions) != 0 || alsim_faults_new(&sim->faults) != 0 ||
        alsim_snapshots_new(&sim->snaps) != 0 || alsim_reqlog_new(&sim->reqlog) != 0) {
        snprintf(err, ALSIM_ERRLEN, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < sim->cfg.n_faults; i++)
        if (alsim_faults_add(sim->faults, sim->cfg.faults[i], err) != 0)
            return -1;
    return 0;
}

static void close_parts(struct alsim *sim)
{
    alsim_reqlog_free(sim->reqlog);
    alsim_snapshots_free(sim->snaps);
    alsim_faults_free(sim->faults);
    alsim_sessions_free(sim->sessions);
    alsim_queues_close(sim->queues);
    alsim_store_close(sim->store);
}

/* Runs until SIGTERM or SIGINT. */
static int serve(struct alsim *sim)
{
    char err[ALSIM_ERRLEN];
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits the mask */
    signal(SIGPIPE, SIG_IGN);
    int rc = 1;
    if (open_parts(sim, err) != 0 || alsim_server_start(sim, err) != 0) {
        replay_error("al-sim: %s", err);
        close_parts(sim);
        return strstr(err, "bad fault spec") != NULL ? EXIT_USAGE : 1;
    }
    replay_info("al-sim: listening on http://%s:%d (mode %s, data %s, %zu user(s))",
                sim->cfg.bind, sim->port, sim->cfg.mode == ALSIM_UPSTREAM ? "upstream" : "intended",
                sim->cfg.data_dir, sim->cfg.n_users);
    if (sim->cfg.ready_file != NULL && write_ready(sim->cfg.ready_file, sim->port) != 0)
        replay_error("al-sim: cannot write ready file %s: %s", sim->cfg.ready_file,
                     strerror(errno));
    else
        rc = 0;
    int sig = 0;
    while (rc == 0 && sigwait(&set, &sig) != 0)
        ;
    replay_info("al-sim: signal %d, stopping", sig);
    alsim_server_stop(sim);
    close_parts(sim);
    return rc;
}

static int main_serve(int argc, char **argv)
{
    struct alsim sim;
    enum replay_log_level lvl = REPLAY_LOG_INFO;
    memset(&sim, 0, sizeof(sim));
    config_defaults(&sim.cfg);
    int c, rc = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "", SERVE_OPTS, NULL)) != -1) {
        if (c == O_HELP) {
            fputs(USAGE, stdout);
            free_config(&sim.cfg);
            return 0;
        }
        rc = c == '?' ? EXIT_USAGE : serve_opt(&sim.cfg, c, optarg, &lvl);
    }
    if (rc == 0 && optind < argc)
        rc = usage_error("unexpected argument '%s'", argv[optind]);
    if (rc == 0 && sim.cfg.data_dir == NULL)
        rc = usage_error("%s", "--data DIR is required");
    if (rc == 0 && (sim.cfg.tls_cert == NULL) != (sim.cfg.tls_key == NULL))
        rc = usage_error("%s", "--tls-cert and --tls-key go together");
    if (rc == 0 && sim.cfg.n_users == 0 && add_user(&sim.cfg, "admin:devkey:devpass") != 0)
        rc = 1;
    if (rc == 0) {
        replay_log_init("al-sim", lvl, REPLAY_LOG_TEXT, 2);
        alsim_server_version = sim.cfg.server_version;
        pthread_mutex_init(&sim.mu, NULL);
        pthread_mutex_init(&sim.import_mu, NULL);
        pthread_condattr_t ca; /* alsim_sleep_ms() waits against CLOCK_MONOTONIC */
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&sim.stop_cv, &ca);
        pthread_condattr_destroy(&ca);
        rc = serve(&sim);
        pthread_cond_destroy(&sim.stop_cv);
        pthread_mutex_destroy(&sim.import_mu);
        pthread_mutex_destroy(&sim.mu);
    }
    free_config(&sim.cfg);
    return rc;
}

/* ---------- seed ---------- */

static const struct option SEED_OPTS[] = {
    {"data", required_argument, NULL, 'd'},
    {"submissions", required_argument, NULL, 'n'},
    {"files", required_argument, NULL, 'f'},
    {"file-size", required_argument, NULL, 'z'},
    {"large-file", required_argument, NULL, 'L'},
    {"results", required_argument, NULL, 'r'},
    {"errors", required_argument, NULL, 'e'},
    {"alerts", required_argument, NULL, 'a'},
    {"badlist", required_argument, NULL, 'b'},
    {"safelist", required_argument, NULL, 's'},
    {"signatures", required_argument, NULL, 'g'},
    {"workflows", required_argument, NULL, 'w'},
    {"submission-state", required_argument, NULL, 'S'},
    {"alert-state", required_argument, NULL, 'A'},
    {"classification", required_argument, NULL, 'c'},
    {"start", required_argument, NULL, 't'},
    {"spacing-ms", required_argument, NULL, 'p'},
    {"rng-seed", required_argument, NULL, 'R'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int seed_opt(struct alsim_seed_opts *o, const char **data, int c, const char *arg)
{
    long *longs[128] = {NULL};
    longs['n'] = &o->submissions, longs['f'] = &o->files_per_submission;
    longs['r'] = &o->results_per_file, longs['e'] = &o->errors_per_submission;
    longs['a'] = &o->alerts, longs['b'] = &o->badlist, longs['s'] = &o->safelist;
    longs['g'] = &o->signatures, longs['w'] = &o->workflows;
    int64_t ms = 0;
    long v = 0;
    if (c > 0 && c < 128 && longs[c] != NULL)
        return parse_long(arg, 0, longs[c]) == 0 ? 0 : usage_error("bad count '%s'", arg);
    switch (c) {
    case 'd': *data = arg; return 0;
    case 'z': return parse_size(arg, &o->file_size) == 0 ? 0 : usage_error("bad size '%s'", arg);
    case 'L': return parse_size(arg, &o->large_file) == 0 ? 0 : usage_error("bad size '%s'", arg);
    case 'S':
    case 'A':
        if (strcmp(arg, "requested") != 0 && strcmp(arg, "pending") != 0 &&
            strcmp(arg, "done") != 0 && strcmp(arg, "none") != 0)
            return usage_error("states are requested, pending, done or none, not '%s'", arg);
        *(c == 'S' ? &o->submission_state : &o->alert_state) =
            strcmp(arg, "none") == 0 ? NULL : arg;
        return 0;
    case 'c': o->classification = arg; return 0;
    case 't':
        if (alsim_parse_date(arg, strlen(arg), &ms) != 0)
            return usage_error("--start '%s' is not an ISO date", arg);
        o->start_us = ms * 1000;
        return 0;
    case 'p':
        return parse_long(arg, 0, &v) == 0 ? (o->spacing_ms = v, 0)
                                           : usage_error("bad --spacing-ms '%s'", arg);
    case 'R':
        return parse_long(arg, 0, &v) == 0 ? (o->rng_seed = (uint64_t)v, 0)
                                           : usage_error("bad --rng-seed '%s'", arg);
    default: return EXIT_USAGE;
    }
}

static int main_seed(int argc, char **argv)
{
    struct alsim_seed_opts o;
    const char *data = NULL;
    alsim_seed_defaults(&o);
    int c, rc = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "", SEED_OPTS, NULL)) != -1) {
        if (c == 'h') {
            fputs(SEED_USAGE, stdout);
            return 0;
        }
        rc = seed_opt(&o, &data, c, optarg);
    }
    if (rc == 0 && data == NULL)
        rc = usage_error("%s", "seed needs --data DIR");
    if (rc == 0 && optind < argc)
        rc = usage_error("unexpected argument '%s'", argv[optind]);
    if (rc != 0)
        return rc;
    struct alsim_store *s = NULL;
    json_t *summary = NULL;
    char err[ALSIM_ERRLEN];
    if (alsim_store_open(data, &s, err) != 0 || alsim_seed_run(s, &o, &summary, err) != 0) {
        fprintf(stderr, "al-sim seed: %s\n", err);
        alsim_store_close(s);
        return 1;
    }
    char *text = json_dumps(summary, JSON_INDENT(2));
    printf("%s\n", text != NULL ? text : "{}");
    free(text);
    json_decref(summary);
    alsim_store_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to report, not a death */
    if (argc > 1 && (strcmp(argv[1], "--version") == 0)) {
        printf("al-sim %s (Assemblyline API %s)\n", REPLAY_VERSION, ALSIM_VERSION_DEFAULT);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "seed") == 0)
        return main_seed(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return main_serve(argc - 1, argv + 1);
    return main_serve(argc, argv);
}
