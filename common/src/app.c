/* app: command line, logging, configuration and supervisor for every executable. */
#include "replay/app.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/log.h"
#include "replay/redact.h"

struct replay_app {
    const struct replay_app_desc *desc;
    struct replay_config *cfg;
    struct replay_supervisor *sup;
    bool threads_left;
};

struct options {
    const char *config_path;
    const char *log_format;
    const char *log_level;
    bool print_config;
};

static void usage(const struct replay_app_desc *d, FILE *f)
{
    fprintf(f,
            "usage: %s [--config PATH] [--print-config] [--log-format json|text]\n"
            "       %*s [--log-level DEBUG|INFO|WARNING|ERROR|CRITICAL|DISABLED]\n"
            "       %s --help | --version\n\n%s\n\n"
            "  --config PATH     replay.yml to read (default: $REPLAY_CONFIG_PATH, else %s)\n"
            "  --print-config    print the effective configuration as JSON (secrets masked) and exit\n"
            "  --log-format F    json (default, as Assemblyline) or text (for terminals)\n"
            "  --log-level L     overrides AL_LOG_LEVEL / LOG_LEVEL / config.yml\n\n"
            "Exit codes: 0 clean stop, 2 bad usage or configuration, 1 otherwise.\n"
            "SIGTERM/SIGINT drain the work in hand; a second signal exits at once.\n",
            d->program, (int)strlen(d->program), "", d->program, d->summary,
            REPLAY_DEFAULT_CONFIG_PATH);
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(const struct replay_app_desc *d, int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(d, stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("%s %s\n", d->program, REPLAY_VERSION);
            return 0;
        } else if (strcmp(a, "--print-config") == 0) {
            o->print_config = true;
            continue;
        } else if (strcmp(a, "--config") == 0) {
            slot = &o->config_path;
        } else if (strcmp(a, "--log-format") == 0) {
            slot = &o->log_format;
        } else if (strcmp(a, "--log-level") == 0) {
            slot = &o->log_level;
        }
        if (slot == NULL || i + 1 >= argc) {
            fprintf(stderr, "%s: %s %s\n", d->program,
                    slot ? "missing value after" : "unknown option", a);
            usage(d, stderr);
            return 2;
        }
        *slot = argv[++i];
    }
    return -1;
}

/* Command-line logging options win over the environment and config.yml. */
static int apply_log_options(const struct replay_app_desc *d, const struct options *o,
                             struct replay_config *cfg)
{
    if (o->log_format != NULL && replay_log_parse_format(o->log_format, &cfg->logging.format) != 0) {
        fprintf(stderr, "%s: --log-format: expected json or text\n", d->program);
        return 2;
    }
    if (o->log_level != NULL && replay_log_parse_level(o->log_level, &cfg->logging.level) != 0) {
        fprintf(stderr, "%s: --log-level: expected DEBUG, INFO, WARNING, ERROR, CRITICAL or "
                        "DISABLED\n", d->program);
        return 2;
    }
    replay_log_set_level(cfg->logging.level);
    replay_log_set_format(cfg->logging.format);
    return -1;
}

/* Early logging, before the configuration is read: its errors must be readable. */
static void early_log(const struct replay_app_desc *d, const struct options *o)
{
    enum replay_log_format fmt = REPLAY_LOG_JSON;
    const char *env = getenv("REPLAY_LOG_FORMAT");
    if (o->log_format == NULL || replay_log_parse_format(o->log_format, &fmt) != 0) {
        if (env == NULL || replay_log_parse_format(env, &fmt) != 0)
            fmt = REPLAY_LOG_JSON;
    }
    replay_log_init(d->logger, REPLAY_LOG_INFO, fmt, 2);
}

static int print_config(const struct replay_config *cfg)
{
    char *json = replay_config_to_json(cfg);
    if (json == NULL) {
        replay_error("Cannot format the configuration: out of memory");
        return 1;
    }
    char *safe = malloc(strlen(json) + 1);
    if (safe != NULL)
        replay_redact(json, safe, strlen(json) + 1);
    printf("%s\n", safe ? safe : "");
    free(safe);
    free(json);
    return 0;
}

static int load_config(const struct replay_app_desc *d, const struct options *o,
                       struct replay_config **cfg)
{
    struct replay_err err = {0};
    if (replay_config_load(o->config_path, cfg, &err) != 0) {
        replay_log(REPLAY_LOG_CRITICAL, "Bad configuration: %s", err.msg);
        return 2;
    }
    int rc = apply_log_options(d, o, *cfg);
    if (rc >= 0)
        return rc;
    for (size_t i = 0; i < (*cfg)->warnings.count; i++)
        replay_warn("Configuration: %s", (*cfg)->warnings.items[i]);
    if ((*cfg)->source_path == NULL)
        replay_info("No replay configuration at %s: using the defaults",
                    o->config_path ? o->config_path : replay_config_default_path());
    return -1;
}

bool replay_app_init(struct replay_app **out, const struct replay_app_desc *d, int argc,
                     char **argv, int *exit_code)
{
    struct options o = {0};
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    *out = NULL;
    if ((*exit_code = parse_args(d, argc, argv, &o)) >= 0)
        return false;
    early_log(d, &o);
    if ((*exit_code = load_config(d, &o, &cfg)) >= 0)
        goto fail;
    if (o.print_config) {
        *exit_code = print_config(cfg);
        goto fail;
    }
    if (replay_config_check_client(cfg, d->section, &err) != 0) {
        replay_log(REPLAY_LOG_CRITICAL, "Bad configuration: %s", err.msg);
        *exit_code = 2;
        goto fail;
    }
    struct replay_app *a = calloc(1, sizeof(*a));
    struct replay_supervisor_options so;
    replay_supervisor_options_default(&so, cfg->logging.heartbeat_file);
    if (a == NULL || replay_supervisor_new(&so, &a->sup, &err) != 0) {
        replay_error("Cannot start: %s", a ? err.msg : "out of memory");
        free(a);
        *exit_code = 1;
        goto fail;
    }
    a->desc = d;
    a->cfg = cfg;
    replay_info("Initialized");
    *out = a;
    return true;
fail:
    replay_config_free(cfg);
    return false;
}

const struct replay_config *replay_app_config(const struct replay_app *a)
{
    return a->cfg;
}

struct replay_supervisor *replay_app_supervisor(struct replay_app *a)
{
    return a->sup;
}

int replay_app_run(struct replay_app *a)
{
    struct replay_err err = {0};
    replay_info("Started");
    int rc = replay_supervisor_run(a->sup, &err);
    if (rc == REPLAY_ECANCELED || rc == REPLAY_ETIMEDOUT) {
        a->threads_left = true;
        replay_error("Terminated: %s", err.msg);
        return 1;
    }
    if (rc != 0) {
        replay_error("Terminated: %s", err.msg);
        return 1;
    }
    replay_info("Terminated");
    return 0;
}

bool replay_app_threads_left(const struct replay_app *a)
{
    return a != NULL && a->threads_left;
}

void replay_app_free(struct replay_app *a)
{
    if (a == NULL)
        return;
    replay_supervisor_free(a->sup);
    replay_config_free(a->cfg);
    free(a);
}

int replay_app_main(const struct replay_app_desc *d, int argc, char **argv,
                    replay_app_setup_fn setup, void *arg)
{
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to report, not a death */
    struct replay_app *app = NULL;
    int code;
    if (!replay_app_init(&app, d, argc, argv, &code))
        return code;
    if (d->not_yet != NULL)
        replay_warn("Not built yet: %s", d->not_yet);
    if (setup != NULL && (code = setup(app, arg)) != 0) {
        replay_error("Cannot start: %s (%s)", replay_strerror(code), replay_err_name(code));
        replay_app_free(app);
        return code == REPLAY_ECONFIG ? 2 : 1; /* a setting the setup refused is configuration */
    }
    code = replay_app_run(app);
    /* Threads that outlived the drain still use the app: leave without freeing it. */
    if (replay_app_threads_left(app))
        _exit(code);
    replay_app_free(app);
    return code;
}
