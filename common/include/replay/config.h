/*
 * config: replay.yml (and the parts of Assemblyline's config.yml Replay needs)
 * turned into a typed struct with upstream's defaults.
 *
 * Loading follows formats.md §6: the file named by --config, else
 * $REPLAY_CONFIG_PATH, else /etc/assemblyline/replay.yml; a missing file (when no
 * --config was given) means all defaults. The raw text gets $VAR / ${VAR} / $$
 * substitution from the environment (§6.4), is parsed as YAML, and is merged over
 * the defaults: maps merge key by key, lists and scalars replace (§6.3).
 * Typing follows decisions.md §21: YAML booleans only; integers as numbers or
 * numeric strings; floats, negative or absurd thread counts are errors. Errors name
 * the key path and line ("loader.input_threads: expected an integer, got \"six\"
 * (line 14)"); unknown keys are warnings naming each key.
 *
 * Extension keys (docs/configuration.md): a top-level `redis:` block with `url`
 * and `persistent_url`; `creator.manifest` (signed manifests, docs/trust.md);
 * the loader's settle_time, scan_interval and requeue_after. Redis URLs are resolved per decisions.md §2: environment
 * (REPLAY_REDIS_URL, REPLAY_REDIS_PERSISTENT_URL), then replay.yml, then
 * Assemblyline's config.yml (core.redis.nonpersistent / persistent), then
 * redis://localhost:6379. Logging settings come from config.yml `logging` and the
 * environment (AL_LOG_LEVEL, LOG_LEVEL, REPLAY_LOG_FORMAT, REPLAY_HEARTBEAT_FILE).
 *
 * Parsing does no I/O of its own (replay_config_parse takes the text), so it is
 * unit-tested and fuzzed from memory. A loaded config is immutable and may be read
 * from any thread. Secrets (apikey, URL passwords) are registered with redact as
 * soon as they are read, so no later log line can print them.
 */
#ifndef REPLAY_CONFIG_H
#define REPLAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "replay/error.h"
#include "replay/log.h"

#define REPLAY_DEFAULT_CONFIG_PATH "/etc/assemblyline/replay.yml"
#define REPLAY_DEFAULT_AL_CONFIG_PATH "/etc/assemblyline/config.yml"
#define REPLAY_DEFAULT_HEARTBEAT_FILE "/tmp/heartbeat"
#define REPLAY_CONFIG_MAX_BYTES (16u << 20)
#define REPLAY_CONFIG_MAX_THREADS 256

enum replay_client_type {
    REPLAY_CLIENT_DIRECT,
    REPLAY_CLIENT_API,
};

struct replay_client_config {
    enum replay_client_type type; /* default direct */
    char *host;                   /* "https://localhost:443" */
    char *user;                   /* "admin" */
    char *apikey;                 /* "devkey:devpass"; a secret */
    bool verify;                  /* true */
};

/* The six inputs of the creator, in the order of their queue names. */
enum replay_input_type {
    REPLAY_INPUT_ALERT,
    REPLAY_INPUT_SUBMISSION,
    REPLAY_INPUT_BADLIST,
    REPLAY_INPUT_SAFELIST,
    REPLAY_INPUT_SIGNATURE,
    REPLAY_INPUT_WORKFLOW,
    REPLAY_INPUT_COUNT
};

struct replay_string_list {
    char **items;
    size_t count;
};

struct replay_input_config {
    bool enabled;                             /* true */
    int threads;                              /* 6 */
    struct replay_string_list filter_queries; /* per type, formats.md §6.2 */
};

/* Extension creator.manifest (docs/trust.md): signed manifests, off by default. */
struct replay_manifest_config {
    int interval;      /* 0 = off; seconds between manifests, 1 to 1 day */
    char *source_name; /* NULL; required when interval > 0 */
    char *signing_key; /* NULL = unsigned; path of an Ed25519 private key (PEM) */
};

struct replay_creator_config {
    struct replay_client_config client;
    struct replay_input_config inputs[REPLAY_INPUT_COUNT];
    char *lookback_time;     /* "*" */
    char *output_filestore;  /* "file:///tmp/replay/output" */
    char *working_directory; /* "/tmp/replay/work" */
    struct replay_manifest_config manifest;
};

/* Extension loader.manifest (docs/trust.md): manifests read, bundles checked against
 * them, the audit kept. Off unless one of audit, trusted_keys, require_signature
 * is set (replay_loader_manifest_on). */
struct replay_loader_manifest_config {
    bool audit;                            /* false: read manifests, keep the audit */
    struct replay_string_list trusted_keys; /* Ed25519 public keys (PEM paths) */
    bool require_signature;                /* false: import only what a signed manifest lists */
    int wait;  /* 3600: s a file waits for its manifest (a manifest for its .sig) */
    int grace; /* 86400: s after a manifest before a file it lists counts as missing */
};

struct replay_loader_config {
    struct replay_client_config client;
    char *input_directory;   /* "/tmp/replay/input" */
    char *failed_directory;  /* "/tmp/replay/failed" */
    char *working_directory; /* "/tmp/replay/work" */
    int input_threads;       /* 6 */
    char *min_classification; /* NULL = no floor */
    char *reclassification;   /* NULL = none */
    struct replay_string_list rescan;
    int sync_check_interval; /* 3600 seconds */
    /* Extensions (docs/configuration.md), in seconds: */
    int settle_time;   /* 10: a file unchanged this long is complete */
    int scan_interval; /* 5: full pass of the input directory at least this often */
    int requeue_after; /* 3600: a queued file still present is queued again */
    struct replay_loader_manifest_config manifest;
};

/* True when loader.manifest turns manifests on. */
bool replay_loader_manifest_on(const struct replay_loader_manifest_config *m);

struct replay_redis_config {
    char *url;            /* queues (non-persistent Redis) */
    char *persistent_url; /* checkpoints (persistent Redis) */
    const char *url_source;            /* where url came from, for --print-config */
    const char *persistent_url_source; /* "environment", "replay.yml", "config.yml", "default" */
};

struct replay_logging_config {
    enum replay_log_level level;   /* INFO */
    enum replay_log_format format; /* JSON */
    char *heartbeat_file;          /* "/tmp/heartbeat"; NULL or "" = none */
};

struct replay_config {
    struct replay_creator_config creator;
    struct replay_loader_config loader;
    struct replay_redis_config redis;
    struct replay_logging_config logging;
    char *source_path;                /* file read, or NULL when defaults */
    struct replay_string_list warnings; /* unknown keys and the like, to log */
};

/* Where replay_config_load() looks when `path` is NULL. */
const char *replay_config_default_path(void);

/* Loads and validates. `path` NULL: $REPLAY_CONFIG_PATH or the default path, and a
 * missing file gives defaults; an explicit `path` must exist. Also reads
 * Assemblyline's config.yml ($REPLAY_AL_CONFIG_PATH or the default path) when
 * present, and the environment. Caller frees *out with replay_config_free().
 * On failure *out is NULL and err names the key path and line. */
REPLAY_MUST_CHECK int replay_config_load(const char *path, struct replay_config **out,
                                         struct replay_err *err);

/* Parses replay.yml text (after env substitution) over the defaults. No file or
 * environment is read except for the substitution (getenv). `name` is used in
 * messages. Redis and logging keep their defaults. */
REPLAY_MUST_CHECK int replay_config_parse(const char *text, size_t len, const char *name,
                                          struct replay_config **out, struct replay_err *err);

/* Environment substitution of formats.md §6.4 into *out (caller frees; NULL on
 * failure) and *out_len. The result is capped at REPLAY_CONFIG_MAX_BYTES, like the
 * file: past it REPLAY_ETOOBIG (a long value referenced many times). `name` (the
 * file) is used in messages. */
REPLAY_MUST_CHECK int replay_config_substitute(const char *text, size_t len, const char *name,
                                               char **out, size_t *out_len,
                                               struct replay_err *err);

/* Fails with one clear line when a client section cannot be used by this build
 * (decisions.md §5: `direct` is not built yet) or is incomplete. `section` is
 * "creator" or "loader". */
REPLAY_MUST_CHECK int replay_config_check_client(const struct replay_config *cfg,
                                                 const char *section, struct replay_err *err);

/* The effective configuration as pretty JSON with secrets masked. Caller frees. */
char *replay_config_to_json(const struct replay_config *cfg);

const char *replay_input_name(enum replay_input_type t); /* "alert", "submission", ... */

void replay_config_free(struct replay_config *cfg);

/* ---- Redis URLs (config_redis.c) ----
 * redis://[[user]:password@]host[:port][/db][?db=N] (port 6379 and db 0 by
 * default, IPv6 as [::1], split as url.h says: the userinfo ends at the last '@',
 * the user at its first ':') and unix://[[user]:password@]/path/to/socket[?db=N]
 * (the userinfo ends at the first "@/"). User, password, host and path are
 * percent-decoded. rediss:// is refused: this build's hiredis (Debian 12, 0.14) has
 * no TLS (decisions.md §18; docs/queues.md shows a local TLS tunnel instead).
 * replay_config_load() checks both resolved URLs with it, and the queue module
 * connects with what it gives. Pure and thread-safe; registers no secrets. */

struct replay_redis_url {
    bool is_unix;       /* unix:// form: `host` is the socket path */
    char host[256];     /* host name or address without brackets, or socket path */
    int port;           /* 6379 by default; 0 for unix */
    int db;             /* 0 by default */
    char user[128];     /* "" = none (AUTH with the password only) */
    char password[512]; /* "" = none; percent-decoded; a secret */
};

/* Parses a Redis URL. Errors name the URL with its password masked and the
 * reason: REPLAY_ECONFIG, or REPLAY_EUNSUPPORTED for rediss://. */
REPLAY_MUST_CHECK int replay_config_redis_url_parse(const char *url, struct replay_redis_url *out,
                                                    struct replay_err *err);

/* Checks cfg's two Redis URLs (replay_config_load does): REPLAY_ECONFIG with the
 * key first, "redis.url: Redis URL rediss://:***@host:6380/0: TLS ...". */
REPLAY_MUST_CHECK int replay_config_check_redis_urls(const struct replay_config *cfg,
                                                     struct replay_err *err);

#endif
