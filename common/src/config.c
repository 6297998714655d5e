/*
 * config: replay.yml and config.yml into struct replay_config.
 *
 * The YAML is composed with libyaml's document API after a depth pre-scan (the
 * composer is slow on pathological nesting), then walked against a table of
 * fields. Each field knows its type, its place in the struct (an offset) and its
 * limits, so defaults, merging, typing and error messages are written once.
 */
#include "replay/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

#include "replay/redact.h"

#define MAX_DEPTH 64
#define MAX_LIST_ITEMS 10000
#define MAX_ECHO 60

/* ---------------------------------------------------------------------------
 * Environment substitution (formats.md §6.4)
 * ------------------------------------------------------------------------- */

/* The substituted text, capped at REPLAY_CONFIG_MAX_BYTES: a long value referenced
 * many times could otherwise grow it without bound. */
struct sbuf {
    char *buf;
    size_t len, cap;
    int failed; /* 0, REPLAY_ENOMEM or REPLAY_ETOOBIG */
};

static void sbuf_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (n > REPLAY_CONFIG_MAX_BYTES - b->len) {
        b->failed = REPLAY_ETOOBIG;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (nb == NULL) {
            b->failed = REPLAY_ENOMEM;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static int is_id_start(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_id_char(char c)
{
    return is_id_start(c) || (c >= '0' && c <= '9');
}

/* Puts the value of env NAME (text[0..n)) or, when unset, `orig` as written. */
static void put_variable(struct sbuf *b, const char *name, size_t n, const char *orig,
                         size_t orig_len)
{
    char key[256];
    const char *value = NULL;
    if (n < sizeof(key)) {
        memcpy(key, name, n);
        key[n] = '\0';
        value = getenv(key);
    }
    if (value != NULL)
        sbuf_put(b, value, strlen(value));
    else
        sbuf_put(b, orig, orig_len);
}

int replay_config_substitute(const char *text, size_t len, const char *name, char **out,
                             size_t *out_len, struct replay_err *err)
{
    struct sbuf b = {0};
    size_t i = 0;
    *out = NULL;
    sbuf_put(&b, "", 0);
    while (i < len && !b.failed) {
        const char *dollar = memchr(text + i, '$', len - i);
        size_t upto = dollar ? (size_t)(dollar - text) : len;
        sbuf_put(&b, text + i, upto - i);
        i = upto;
        if (i >= len)
            break;
        /* text[i] == '$' */
        if (i + 1 < len && text[i + 1] == '$') {
            sbuf_put(&b, "$", 1);
            i += 2;
        } else if (i + 1 < len && text[i + 1] == '{') {
            size_t j = i + 2;
            if (j < len && is_id_start(text[j])) {
                while (j < len && is_id_char(text[j]))
                    j++;
                if (j < len && text[j] == '}') {
                    put_variable(&b, text + i + 2, j - i - 2, text + i, j + 1 - i);
                    i = j + 1;
                    continue;
                }
            }
            sbuf_put(&b, "$", 1); /* "${" without a valid name stays as written */
            i++;
        } else if (i + 1 < len && is_id_start(text[i + 1])) {
            size_t j = i + 1;
            while (j < len && is_id_char(text[j]))
                j++;
            put_variable(&b, text + i + 1, j - i - 1, text + i, j - i);
            i = j;
        } else {
            sbuf_put(&b, "$", 1);
            i++;
        }
    }
    if (b.failed) {
        free(b.buf);
        if (b.failed == REPLAY_ETOOBIG)
            return replay_err_set(err, REPLAY_ETOOBIG, "%s: larger than %u MiB after environment "
                                  "substitution", name, REPLAY_CONFIG_MAX_BYTES >> 20);
        return replay_err_set(err, REPLAY_ENOMEM, "%s: out of memory", name);
    }
    if (out_len != NULL)
        *out_len = b.len;
    *out = b.buf;
    return 0;
}

/* ---------------------------------------------------------------------------
 * The schema: every key, its type, its place and its limits
 * ------------------------------------------------------------------------- */

enum field_type {
    F_MAP,      /* nested mapping, `child` describes it */
    F_BOOL,
    F_INT,
    F_STRING,   /* non-empty string */
    F_NULLABLE, /* string or null ("" counts as null) */
    F_LIST,     /* list of strings (null = empty) */
    F_CLIENT_TYPE,
};

struct schema;

struct field {
    const char *key;
    enum field_type type;
    size_t offset; /* in the struct the enclosing schema describes */
    const struct schema *child;
    int min, max;  /* F_INT bounds */
    int secret;    /* never echo the value */
};

struct schema {
    const struct field *fields;
    size_t n;
};

#define SCHEMA(arr) {arr, sizeof(arr) / sizeof(arr[0])}

static const struct field client_option_fields[] = {
    {"host", F_STRING, offsetof(struct replay_client_config, host), NULL, 0, 0, 0},
    {"user", F_STRING, offsetof(struct replay_client_config, user), NULL, 0, 0, 0},
    {"apikey", F_STRING, offsetof(struct replay_client_config, apikey), NULL, 0, 0, 1},
    {"verify", F_BOOL, offsetof(struct replay_client_config, verify), NULL, 0, 0, 0},
};
static const struct schema client_options_schema = SCHEMA(client_option_fields);

static const struct field client_fields[] = {
    {"type", F_CLIENT_TYPE, offsetof(struct replay_client_config, type), NULL, 0, 0, 0},
    {"options", F_MAP, 0, &client_options_schema, 0, 0, 0},
};
static const struct schema client_schema = SCHEMA(client_fields);

static const struct field input_fields[] = {
    {"enabled", F_BOOL, offsetof(struct replay_input_config, enabled), NULL, 0, 0, 0},
    {"threads", F_INT, offsetof(struct replay_input_config, threads), NULL, 0,
     REPLAY_CONFIG_MAX_THREADS, 0},
    {"filter_queries", F_LIST, offsetof(struct replay_input_config, filter_queries), NULL, 0, 0, 0},
};
static const struct schema input_schema = SCHEMA(input_fields);

#define INPUT(name, idx) \
    {name, F_MAP, offsetof(struct replay_creator_config, inputs) + \
     (idx) * sizeof(struct replay_input_config), &input_schema, 0, 0, 0}

static const struct field manifest_fields[] = {
    {"interval", F_INT, offsetof(struct replay_manifest_config, interval), NULL, 0, 86400, 0},
    {"source_name", F_NULLABLE, offsetof(struct replay_manifest_config, source_name), NULL, 0, 0,
     0},
    {"signing_key", F_NULLABLE, offsetof(struct replay_manifest_config, signing_key), NULL, 0, 0,
     0},
};
static const struct schema manifest_schema = SCHEMA(manifest_fields);

static const struct field creator_fields[] = {
    {"client", F_MAP, offsetof(struct replay_creator_config, client), &client_schema, 0, 0, 0},
    INPUT("alert_input", REPLAY_INPUT_ALERT),
    INPUT("submission_input", REPLAY_INPUT_SUBMISSION),
    INPUT("badlist_input", REPLAY_INPUT_BADLIST),
    INPUT("safelist_input", REPLAY_INPUT_SAFELIST),
    INPUT("signature_input", REPLAY_INPUT_SIGNATURE),
    INPUT("workflow_input", REPLAY_INPUT_WORKFLOW),
    {"lookback_time", F_STRING, offsetof(struct replay_creator_config, lookback_time), NULL, 0, 0, 0},
    {"output_filestore", F_STRING, offsetof(struct replay_creator_config, output_filestore), NULL,
     0, 0, 1},
    {"working_directory", F_STRING, offsetof(struct replay_creator_config, working_directory),
     NULL, 0, 0, 0},
    /* Extension (docs/configuration.md). */
    {"manifest", F_MAP, offsetof(struct replay_creator_config, manifest), &manifest_schema, 0, 0,
     0},
};
static const struct schema creator_schema = SCHEMA(creator_fields);

static const struct field loader_manifest_fields[] = {
    {"audit", F_BOOL, offsetof(struct replay_loader_manifest_config, audit), NULL, 0, 0, 0},
    {"trusted_keys", F_LIST, offsetof(struct replay_loader_manifest_config, trusted_keys), NULL, 0,
     0, 0},
    {"require_signature", F_BOOL, offsetof(struct replay_loader_manifest_config, require_signature),
     NULL, 0, 0, 0},
    {"wait", F_INT, offsetof(struct replay_loader_manifest_config, wait), NULL, 1, 31 * 24 * 3600,
     0},
    {"grace", F_INT, offsetof(struct replay_loader_manifest_config, grace), NULL, 1,
     366 * 24 * 3600, 0},
};
static const struct schema loader_manifest_schema = SCHEMA(loader_manifest_fields);

static const struct field loader_fields[] = {
    {"client", F_MAP, offsetof(struct replay_loader_config, client), &client_schema, 0, 0, 0},
    {"input_directory", F_STRING, offsetof(struct replay_loader_config, input_directory), NULL, 0, 0, 0},
    {"failed_directory", F_STRING, offsetof(struct replay_loader_config, failed_directory), NULL, 0, 0, 0},
    {"working_directory", F_STRING, offsetof(struct replay_loader_config, working_directory), NULL,
     0, 0, 0},
    {"input_threads", F_INT, offsetof(struct replay_loader_config, input_threads), NULL, 1,
     REPLAY_CONFIG_MAX_THREADS, 0},
    {"min_classification", F_NULLABLE, offsetof(struct replay_loader_config, min_classification),
     NULL, 0, 0, 0},
    {"reclassification", F_NULLABLE, offsetof(struct replay_loader_config, reclassification), NULL,
     0, 0, 0},
    {"rescan", F_LIST, offsetof(struct replay_loader_config, rescan), NULL, 0, 0, 0},
    {"sync_check_interval", F_INT, offsetof(struct replay_loader_config, sync_check_interval), NULL,
     1, 31 * 24 * 3600, 0},
    /* Extensions (docs/configuration.md). */
    {"settle_time", F_INT, offsetof(struct replay_loader_config, settle_time), NULL, 0, 86400, 0},
    {"scan_interval", F_INT, offsetof(struct replay_loader_config, scan_interval), NULL, 1, 3600, 0},
    {"requeue_after", F_INT, offsetof(struct replay_loader_config, requeue_after), NULL, 1,
     31 * 24 * 3600, 0},
    {"manifest", F_MAP, offsetof(struct replay_loader_config, manifest), &loader_manifest_schema,
     0, 0, 0},
};
static const struct schema loader_schema = SCHEMA(loader_fields);

static const struct field redis_fields[] = {
    {"url", F_STRING, offsetof(struct replay_redis_config, url), NULL, 0, 0, 1},
    {"persistent_url", F_STRING, offsetof(struct replay_redis_config, persistent_url), NULL, 0, 0, 1},
};
static const struct schema redis_schema = SCHEMA(redis_fields);

static const struct field replay_fields[] = {
    {"creator", F_MAP, offsetof(struct replay_config, creator), &creator_schema, 0, 0, 0},
    {"loader", F_MAP, offsetof(struct replay_config, loader), &loader_schema, 0, 0, 0},
    {"redis", F_MAP, offsetof(struct replay_config, redis), &redis_schema, 0, 0, 0},
};
static const struct schema replay_schema = SCHEMA(replay_fields);

/* The parts of Assemblyline's config.yml that Replay reads; everything else in that
 * (large) file is ignored without warnings. */
struct al_config {
    char *np_host, *p_host;
    int np_port, p_port;
    char *log_level;
    bool log_as_json;
    char *heartbeat_file;
};

static const struct field al_redis_np_fields[] = {
    {"host", F_STRING, offsetof(struct al_config, np_host), NULL, 0, 0, 0},
    {"port", F_INT, offsetof(struct al_config, np_port), NULL, 1, 65535, 0},
};
static const struct field al_redis_p_fields[] = {
    {"host", F_STRING, offsetof(struct al_config, p_host), NULL, 0, 0, 0},
    {"port", F_INT, offsetof(struct al_config, p_port), NULL, 1, 65535, 0},
};
static const struct schema al_redis_np_schema = SCHEMA(al_redis_np_fields);
static const struct schema al_redis_p_schema = SCHEMA(al_redis_p_fields);
static const struct field al_redis_fields[] = {
    {"nonpersistent", F_MAP, 0, &al_redis_np_schema, 0, 0, 0},
    {"persistent", F_MAP, 0, &al_redis_p_schema, 0, 0, 0},
};
static const struct schema al_redis_schema = SCHEMA(al_redis_fields);
static const struct field al_core_fields[] = {
    {"redis", F_MAP, 0, &al_redis_schema, 0, 0, 0},
};
static const struct schema al_core_schema = SCHEMA(al_core_fields);
static const struct field al_logging_fields[] = {
    {"log_level", F_STRING, offsetof(struct al_config, log_level), NULL, 0, 0, 0},
    {"log_as_json", F_BOOL, offsetof(struct al_config, log_as_json), NULL, 0, 0, 0},
    {"heartbeat_file", F_NULLABLE, offsetof(struct al_config, heartbeat_file), NULL, 0, 0, 0},
};
static const struct schema al_logging_schema = SCHEMA(al_logging_fields);
static const struct field al_fields[] = {
    {"core", F_MAP, 0, &al_core_schema, 0, 0, 0},
    {"logging", F_MAP, 0, &al_logging_schema, 0, 0, 0},
};
static const struct schema al_schema = SCHEMA(al_fields);

/* ---------------------------------------------------------------------------
 * Defaults (formats.md §6.2)
 * ------------------------------------------------------------------------- */

static int list_set(struct replay_string_list *l, const char *const *items, size_t n)
{
    l->items = calloc(n ? n : 1, sizeof(char *));
    if (l->items == NULL)
        return REPLAY_ENOMEM;
    for (l->count = 0; l->count < n; l->count++) {
        l->items[l->count] = strdup(items[l->count]);
        if (l->items[l->count] == NULL)
            return REPLAY_ENOMEM;
    }
    return 0;
}

static void list_free(struct replay_string_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static int set_str(char **slot, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    if (value != NULL && copy == NULL)
        return REPLAY_ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

static int client_defaults(struct replay_client_config *c)
{
    c->type = REPLAY_CLIENT_DIRECT;
    c->verify = true;
    int rc = set_str(&c->host, "https://localhost:443");
    rc = rc ? rc : set_str(&c->user, "admin");
    return rc ? rc : set_str(&c->apikey, "devkey:devpass");
}

static int creator_defaults(struct replay_creator_config *c)
{
    static const char *const alert_q[] = {"NOT extended_scan:submitted", "workflows_completed:true"};
    static const char *const submission_q[] = {"metadata.replay:requested"};
    int rc = client_defaults(&c->client);
    for (int t = 0; t < REPLAY_INPUT_COUNT && rc == 0; t++) {
        c->inputs[t].enabled = true;
        c->inputs[t].threads = 6;
        if (t == REPLAY_INPUT_ALERT)
            rc = list_set(&c->inputs[t].filter_queries, alert_q, 2);
        else if (t == REPLAY_INPUT_SUBMISSION)
            rc = list_set(&c->inputs[t].filter_queries, submission_q, 1);
        else
            rc = list_set(&c->inputs[t].filter_queries, NULL, 0);
    }
    rc = rc ? rc : set_str(&c->lookback_time, "*");
    rc = rc ? rc : set_str(&c->output_filestore, "file:///tmp/replay/output");
    return rc ? rc : set_str(&c->working_directory, "/tmp/replay/work");
}

static int loader_defaults(struct replay_loader_config *l)
{
    int rc = client_defaults(&l->client);
    rc = rc ? rc : set_str(&l->input_directory, "/tmp/replay/input");
    rc = rc ? rc : set_str(&l->failed_directory, "/tmp/replay/failed");
    rc = rc ? rc : set_str(&l->working_directory, "/tmp/replay/work");
    l->input_threads = 6;
    l->sync_check_interval = 3600;
    l->settle_time = 10;
    l->scan_interval = 5;
    l->requeue_after = 3600;
    l->manifest.wait = 3600;
    l->manifest.grace = 86400;
    rc = rc ? rc : list_set(&l->manifest.trusted_keys, NULL, 0);
    return rc ? rc : list_set(&l->rescan, NULL, 0);
}

static int config_defaults(struct replay_config *cfg)
{
    int rc = creator_defaults(&cfg->creator);
    rc = rc ? rc : loader_defaults(&cfg->loader);
    cfg->logging.level = REPLAY_LOG_INFO;
    cfg->logging.format = REPLAY_LOG_JSON;
    rc = rc ? rc : set_str(&cfg->logging.heartbeat_file, REPLAY_DEFAULT_HEARTBEAT_FILE);
    return rc ? rc : list_set(&cfg->warnings, NULL, 0);
}

/* ---------------------------------------------------------------------------
 * Walking the YAML against a schema
 * ------------------------------------------------------------------------- */

struct walk {
    yaml_document_t *doc;
    struct replay_string_list *warnings; /* NULL: unknown keys are ignored silently */
    struct replay_err *err;
};

static int add_warning(struct replay_string_list *w, const char *fmt, ...) REPLAY_PRINTF(2, 3);
static int add_warning(struct replay_string_list *w, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char **items = realloc(w->items, (w->count + 1) * sizeof(char *));
    if (items == NULL)
        return REPLAY_ENOMEM;
    w->items = items;
    w->items[w->count] = strdup(msg);
    if (w->items[w->count] == NULL)
        return REPLAY_ENOMEM;
    w->count++;
    return 0;
}

static unsigned long node_line(const yaml_node_t *n)
{
    return (unsigned long)n->start_mark.line + 1;
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int is_plain(const yaml_node_t *n)
{
    return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML 1.1 null, as PyYAML's safe_load resolves it (plain scalars only). */
static int is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (n->type != YAML_SCALAR_NODE || !is_plain(n))
        return 0;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        if (strcmp(scalar(n), nulls[i]) == 0)
            return 1;
    }
    return 0;
}

/* YAML 1.1 booleans as PyYAML resolves them: -1 when not a boolean. */
static int yaml_bool(const yaml_node_t *n)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
    if (n->type != YAML_SCALAR_NODE || !is_plain(n))
        return -1;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(scalar(n), yes[i]) == 0)
            return 1;
        if (strcmp(scalar(n), no[i]) == 0)
            return 0;
    }
    return -1;
}

/* A plain scalar that YAML reads as a number (so it is shown without quotes). */
static int looks_numeric(const char *s)
{
    char *end = NULL;
    if (*s == '\0')
        return 0;
    (void)strtod(s, &end);
    return *end == '\0';
}

/* How a node is described in an error: `"six"`, `6.5`, `true`, `a list`, `null`. */
static void describe(const yaml_node_t *n, int secret, char *out, size_t outsz)
{
    if (n->type == YAML_SEQUENCE_NODE)
        snprintf(out, outsz, "a list");
    else if (n->type == YAML_MAPPING_NODE)
        snprintf(out, outsz, "a mapping");
    else if (is_null(n))
        snprintf(out, outsz, "null");
    else if (secret)
        snprintf(out, outsz, "a value that is not shown (secret)");
    else if (is_plain(n) && (yaml_bool(n) >= 0 || looks_numeric(scalar(n))))
        snprintf(out, outsz, "%.*s", MAX_ECHO, scalar(n));
    else
        snprintf(out, outsz, "\"%.*s%s\"", MAX_ECHO, scalar(n),
                 strlen(scalar(n)) > MAX_ECHO ? "..." : "");
}

static int type_error(struct walk *w, const char *path, const yaml_node_t *n, int secret,
                      const char *expected)
{
    char got[MAX_ECHO + 32];
    describe(n, secret, got, sizeof(got));
    return replay_err_set(w->err, REPLAY_ECONFIG, "%s: expected %s, got %s (line %lu)", path,
                          expected, got, node_line(n));
}

/* Integers: plain decimal numbers, or strings holding one (upstream uses int()). */
static int parse_int(struct walk *w, const char *path, const yaml_node_t *n, int min, int max,
                     int *out)
{
    char expected[96];
    snprintf(expected, sizeof(expected), "an integer from %d to %d", min, max);
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return type_error(w, path, n, 0, expected);
    const char *s = scalar(n);
    while (*s == ' ')
        s++;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (end != NULL && *end == ' ')
        end++;
    if (end == s || *end != '\0' || errno == ERANGE || (*s != '-' && *s != '+' && (*s < '0' || *s > '9')))
        return type_error(w, path, n, 0, expected);
    if (v < min || v > max)
        return type_error(w, path, n, 0, expected);
    *out = (int)v;
    return 0;
}

static int parse_list(struct walk *w, const char *path, const yaml_node_t *n,
                      struct replay_string_list *out)
{
    if (is_null(n)) {
        list_free(out);
        return list_set(out, NULL, 0);
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return type_error(w, path, n, 0, "a list of strings");
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > MAX_LIST_ITEMS)
        return replay_err_set(w->err, REPLAY_ECONFIG, "%s: more than %d items (line %lu)", path,
                              MAX_LIST_ITEMS, node_line(n));
    struct replay_string_list fresh = {calloc(count ? count : 1, sizeof(char *)), 0};
    if (fresh.items == NULL)
        return REPLAY_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = yaml_document_get_node(w->doc, n->data.sequence.items.start[i]);
        if (item->type != YAML_SCALAR_NODE || is_null(item)) {
            char item_path[544]; /* path (< 512) + "[index]" */
            snprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
            list_free(&fresh);
            return type_error(w, item_path, item, 0, "a string");
        }
        fresh.items[fresh.count] = strdup(scalar(item));
        if (fresh.items[fresh.count++] == NULL) {
            list_free(&fresh);
            return REPLAY_ENOMEM;
        }
    }
    list_free(out);
    *out = fresh;
    return 0;
}

static int walk_map(struct walk *w, const yaml_node_t *n, const struct schema *s, char *base,
                    const char *path);

static int set_field(struct walk *w, const struct field *f, const yaml_node_t *n, char *base,
                     const char *path)
{
    void *slot = base + f->offset;
    int b;
    switch (f->type) {
    case F_MAP:
        return walk_map(w, n, f->child, (char *)slot, path);
    case F_BOOL:
        if ((b = yaml_bool(n)) < 0)
            return type_error(w, path, n, f->secret, "true or false");
        *(bool *)slot = b;
        return 0;
    case F_INT:
        return parse_int(w, path, n, f->min, f->max, (int *)slot);
    case F_STRING:
        if (n->type != YAML_SCALAR_NODE || is_null(n))
            return type_error(w, path, n, f->secret, "a string");
        if (scalar(n)[0] == '\0')
            return replay_err_set(w->err, REPLAY_ECONFIG, "%s: must not be empty (line %lu)",
                                  path, node_line(n));
        return set_str((char **)slot, scalar(n));
    case F_NULLABLE:
        if (is_null(n) || (n->type == YAML_SCALAR_NODE && scalar(n)[0] == '\0'))
            return set_str((char **)slot, NULL);
        if (n->type != YAML_SCALAR_NODE)
            return type_error(w, path, n, f->secret, "a string or null");
        return set_str((char **)slot, scalar(n));
    case F_LIST:
        return parse_list(w, path, n, (struct replay_string_list *)slot);
    case F_CLIENT_TYPE:
        if (n->type == YAML_SCALAR_NODE && strcmp(scalar(n), "api") == 0)
            *(enum replay_client_type *)slot = REPLAY_CLIENT_API;
        else if (n->type == YAML_SCALAR_NODE && strcmp(scalar(n), "direct") == 0)
            *(enum replay_client_type *)slot = REPLAY_CLIENT_DIRECT;
        else
            return type_error(w, path, n, 0, "\"api\" or \"direct\"");
        return 0;
    }
    return REPLAY_EINVAL;
}

static const struct field *find_field(const struct schema *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->fields[i].key, key) == 0)
            return &s->fields[i];
    }
    return NULL;
}

/* Merges mapping `n` into the struct at `base`: only the keys present change. */
static int walk_map(struct walk *w, const yaml_node_t *n, const struct schema *s, char *base,
                    const char *path)
{
    if (is_null(n))
        return 0; /* an empty section means "no changes" */
    if (n->type != YAML_MAPPING_NODE)
        return type_error(w, path[0] ? path : "the top level", n, 0, "a mapping");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(w->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(w->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return replay_err_set(w->err, REPLAY_ECONFIG, "%s: a key must be a string (line %lu)",
                                  path[0] ? path : "the top level", node_line(k));
        char child[512];
        snprintf(child, sizeof(child), "%s%s%s", path, path[0] ? "." : "", scalar(k));
        const struct field *f = find_field(s, scalar(k));
        if (f == NULL) {
            if (w->warnings != NULL &&
                add_warning(w->warnings, "unknown key %s (line %lu) ignored", child,
                            node_line(k)) != 0)
                return REPLAY_ENOMEM;
            continue;
        }
        int rc = set_field(w, f, v, base, child);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Rejects nesting deeper than MAX_DEPTH before the composer sees it, and more than
 * one document (PyYAML's safe_load refuses both too many and none). */
static int prescan(const char *text, size_t len, const char *name, struct replay_err *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int depth = 0, docs = 0, rc = 0;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = replay_err_set(err, REPLAY_ECONFIG, "%s: invalid YAML: %s (line %lu)", name,
                                parser.problem ? parser.problem : "syntax error",
                                (unsigned long)parser.problem_mark.line + 1);
            break;
        }
        yaml_event_type_t type = ev.type;
        unsigned long line = (unsigned long)ev.start_mark.line + 1;
        yaml_event_delete(&ev);
        if (type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++depth > MAX_DEPTH) {
                rc = replay_err_set(err, REPLAY_ECONFIG, "%s: nested deeper than %d levels (line %lu)",
                                    name, MAX_DEPTH, line);
                break;
            }
        } else if (type == YAML_SEQUENCE_END_EVENT || type == YAML_MAPPING_END_EVENT) {
            depth--;
        } else if (type == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            rc = replay_err_set(err, REPLAY_ECONFIG, "%s: expected a single YAML document, found "
                                "another one (line %lu)", name, line);
            break;
        } else if (type == YAML_STREAM_END_EVENT) {
            break;
        }
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* Parses `text` and merges it into `base` following `schema`. */
static int merge_yaml(const char *text, size_t len, const char *name, const struct schema *schema,
                      void *base, struct replay_string_list *warnings, struct replay_err *err)
{
    int rc = prescan(text, len, name, err);
    if (rc != 0)
        return rc;
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = replay_err_set(err, REPLAY_ECONFIG, "%s: invalid YAML: %s (line %lu)", name,
                            parser.problem ? parser.problem : "syntax error",
                            (unsigned long)parser.problem_mark.line + 1);
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root != NULL) {
        struct walk w = {&doc, warnings, err};
        rc = walk_map(&w, root, schema, base, "");
        if (rc != 0)
            replay_err_prefix(err, "%s", name);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Files, environment and resolution
 * ------------------------------------------------------------------------- */

/* Reads a whole (small) file. Returns 0, REPLAY_ENOTFOUND, or another error. */
static int read_small_file(const char *path, char **out, size_t *out_len, struct replay_err *err)
{
    *out = NULL;
    /* Non-blocking, so that a FIFO (or a device) is refused at once by the check
     * below instead of blocking the open until some writer comes. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return REPLAY_ENOTFOUND;
        return replay_err_sys(err, REPLAY_ECONFIG, errno, "cannot open %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return replay_err_set(err, REPLAY_ECONFIG, "%s is not a regular file", path);
    }
    if ((unsigned long long)st.st_size > REPLAY_CONFIG_MAX_BYTES) {
        close(fd);
        return replay_err_set(err, REPLAY_ECONFIG, "%s is larger than %u MiB", path,
                              REPLAY_CONFIG_MAX_BYTES >> 20);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf != NULL && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    int saved = errno;
    close(fd);
    if (buf == NULL)
        return REPLAY_ENOMEM;
    if (got != (size_t)st.st_size) {
        free(buf);
        return replay_err_sys(err, REPLAY_ECONFIG, saved, "cannot read %s", path);
    }
    buf[got] = '\0';
    *out = buf;
    *out_len = got;
    return 0;
}

/* Warns about values that still hold a ${NAME} after substitution: an unset variable. */
static int warn_unresolved(struct replay_config *cfg, const char *subst)
{
    const char *p = subst;
    while ((p = strstr(p, "${")) != NULL) {
        const char *end = p + 2;
        while (is_id_char(*end))
            end++;
        if (*end == '}' && end > p + 2 && is_id_start(p[2])) {
            int rc = add_warning(&cfg->warnings, "environment variable %.*s is not set; "
                                 "\"%.*s\" was left as written", (int)(end - p - 2), p + 2,
                                 (int)(end + 1 - p), p);
            if (rc != 0)
                return rc;
        }
        p = end;
    }
    return 0;
}

int replay_config_parse(const char *text, size_t len, const char *name,
                        struct replay_config **out, struct replay_err *err)
{
    *out = NULL;
    struct replay_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    int rc = config_defaults(cfg);
    size_t slen = 0;
    char *subst = NULL;
    if (rc == 0)
        rc = replay_config_substitute(text, len, name, &subst, &slen, err);
    if (rc == 0)
        rc = merge_yaml(subst, slen, name, &replay_schema, cfg, &cfg->warnings, err);
    if (rc == 0)
        rc = warn_unresolved(cfg, subst);
    free(subst);
    if (rc == REPLAY_ENOMEM)
        replay_err_set(err, rc, "%s: out of memory", name);
    if (rc != 0) {
        replay_config_free(cfg);
        return rc;
    }
    if (cfg->redis.url != NULL)
        cfg->redis.url_source = "replay.yml";
    if (cfg->redis.persistent_url != NULL)
        cfg->redis.persistent_url_source = "replay.yml";
    *out = cfg;
    return 0;
}

const char *replay_config_default_path(void)
{
    const char *env = getenv("REPLAY_CONFIG_PATH");
    return (env != NULL && env[0] != '\0') ? env : REPLAY_DEFAULT_CONFIG_PATH;
}

static const char *al_config_path(void)
{
    const char *env = getenv("REPLAY_AL_CONFIG_PATH");
    return (env != NULL && env[0] != '\0') ? env : REPLAY_DEFAULT_AL_CONFIG_PATH;
}

static void al_config_free(struct al_config *al)
{
    free(al->np_host);
    free(al->p_host);
    free(al->log_level);
    free(al->heartbeat_file);
}

/* Reads Assemblyline's config.yml if present. *found tells whether it was. */
static int load_al_config(struct al_config *al, int *found, struct replay_err *err)
{
    const char *path = al_config_path();
    char *text = NULL;
    size_t len = 0;
    *found = 0;
    int rc = set_str(&al->np_host, "127.0.0.1");
    rc = rc ? rc : set_str(&al->p_host, "127.0.0.1");
    rc = rc ? rc : set_str(&al->heartbeat_file, REPLAY_DEFAULT_HEARTBEAT_FILE);
    al->np_port = 6379;
    al->p_port = 6380;
    al->log_as_json = true;
    if (rc != 0)
        return rc;
    rc = read_small_file(path, &text, &len, err);
    if (rc == REPLAY_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    *found = 1;
    size_t slen = 0;
    char *subst = NULL;
    rc = replay_config_substitute(text, len, path, &subst, &slen, err);
    free(text);
    if (rc != 0)
        return rc;
    rc = merge_yaml(subst, slen, path, &al_schema, al, NULL, err);
    free(subst);
    return rc;
}

static int redis_url_from(char **slot, const char **source, const char *env_name,
                          const char *host, int port, int al_found)
{
    const char *env = getenv(env_name);
    char buf[512];
    if (env != NULL && env[0] != '\0') {
        *source = "environment";
        return set_str(slot, env);
    }
    if (*slot != NULL)
        return 0; /* from replay.yml, source already set */
    if (al_found) {
        snprintf(buf, sizeof(buf), "redis://%s:%d/0", host, port);
        *source = "config.yml";
        return set_str(slot, buf);
    }
    *source = "default";
    return set_str(slot, "redis://localhost:6379");
}

static int env_level(const char *name, enum replay_log_level *level, struct replay_err *err)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        return 0;
    if (replay_log_parse_level(v, level) != 0)
        return replay_err_set(err, REPLAY_ECONFIG, "%s: expected DEBUG, INFO, WARNING, ERROR, "
                              "CRITICAL or DISABLED, got \"%.*s\"", name, MAX_ECHO, v);
    return 0;
}

/* Logging: config.yml, then AL_LOG_LEVEL, LOG_LEVEL, REPLAY_LOG_FORMAT, REPLAY_HEARTBEAT_FILE. */
static int resolve_logging(struct replay_config *cfg, struct al_config *al, struct replay_err *err)
{
    struct replay_logging_config *lg = &cfg->logging;
    if (al->log_level != NULL && replay_log_parse_level(al->log_level, &lg->level) != 0)
        return replay_err_set(err, REPLAY_ECONFIG, "%s: logging.log_level: expected DEBUG, INFO, "
                              "WARNING, ERROR, CRITICAL or DISABLED, got \"%.*s\"",
                              al_config_path(), MAX_ECHO, al->log_level);
    int rc = env_level("AL_LOG_LEVEL", &lg->level, err);
    rc = rc ? rc : env_level("LOG_LEVEL", &lg->level, err);
    if (rc != 0)
        return rc;
    lg->format = al->log_as_json ? REPLAY_LOG_JSON : REPLAY_LOG_TEXT;
    const char *fmt = getenv("REPLAY_LOG_FORMAT");
    if (fmt != NULL && fmt[0] != '\0' && replay_log_parse_format(fmt, &lg->format) != 0)
        return replay_err_set(err, REPLAY_ECONFIG, "REPLAY_LOG_FORMAT: expected json or text, "
                              "got \"%.*s\"", MAX_ECHO, fmt);
    const char *hb = getenv("REPLAY_HEARTBEAT_FILE");
    return set_str(&lg->heartbeat_file, hb != NULL ? hb : al->heartbeat_file);
}

static int resolve(struct replay_config *cfg, struct replay_err *err)
{
    struct al_config al = {0};
    int found = 0;
    int rc = load_al_config(&al, &found, err);
    rc = rc ? rc : redis_url_from(&cfg->redis.url, &cfg->redis.url_source, "REPLAY_REDIS_URL",
                                  al.np_host, al.np_port, found);
    rc = rc ? rc : redis_url_from(&cfg->redis.persistent_url, &cfg->redis.persistent_url_source,
                                  "REPLAY_REDIS_PERSISTENT_URL", al.p_host, al.p_port, found);
    rc = rc ? rc : resolve_logging(cfg, &al, err);
    al_config_free(&al);
    if (rc == REPLAY_ENOMEM)
        replay_err_set(err, rc, "out of memory");
    return rc;
}

static void register_secrets(const struct replay_config *cfg)
{
    const struct replay_client_config *clients[] = {&cfg->creator.client, &cfg->loader.client};
    for (size_t i = 0; i < 2; i++) {
        const char *key = clients[i]->apikey;
        const char *colon = key ? strchr(key, ':') : NULL;
        replay_redact_add_secret(colon ? colon + 1 : key);
        replay_redact_add_url_secrets(clients[i]->host);
    }
    replay_redact_add_url_secrets(cfg->creator.output_filestore);
    replay_redact_add_url_secrets(cfg->redis.url);
    replay_redact_add_url_secrets(cfg->redis.persistent_url);
}

int replay_config_load(const char *path, struct replay_config **out, struct replay_err *err)
{
    const char *file = path != NULL ? path : replay_config_default_path();
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = read_small_file(file, &text, &len, err);
    if (rc == REPLAY_ENOTFOUND && path != NULL)
        return replay_err_set(err, REPLAY_ECONFIG, "%s: no such file", file);
    if (rc != 0 && rc != REPLAY_ENOTFOUND)
        return rc;
    struct replay_config *cfg = NULL;
    rc = replay_config_parse(text ? text : "", len, file, &cfg, err);
    free(text);
    if (rc != 0)
        return rc;
    if (text != NULL && set_str(&cfg->source_path, file) != 0)
        rc = replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    rc = rc ? rc : resolve(cfg, err);
    rc = rc ? rc : replay_config_check_redis_urls(cfg, err);
    if (rc != 0) {
        replay_config_free(cfg);
        return rc;
    }
    register_secrets(cfg);
    *out = cfg;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Checks the services make before they start
 * ------------------------------------------------------------------------- */

int replay_config_check_client(const struct replay_config *cfg, const char *section,
                               struct replay_err *err)
{
    const struct replay_client_config *c =
        strcmp(section, "creator") == 0 ? &cfg->creator.client : &cfg->loader.client;
    if (c->type == REPLAY_CLIENT_DIRECT)
        return replay_err_set(err, REPLAY_ECONFIG,
                              "%s.client.type: \"direct\" (database access without the REST API) "
                              "is not built yet; set %s.client.type: api with client.options "
                              "host, user and apikey", section, section);
    if (strncmp(c->host, "http://", 7) != 0 && strncmp(c->host, "https://", 8) != 0) {
        char shown[MAX_ECHO + 16];
        replay_redact_url(c->host, shown, sizeof(shown)); /* it may hold user:password@ */
        return replay_err_set(err, REPLAY_ECONFIG, "%s.client.options.host: expected an http:// "
                              "or https:// URL, got \"%s\"", section, shown);
    }
    const char *colon = strchr(c->apikey, ':');
    if (colon == NULL || colon == c->apikey || colon[1] == '\0')
        return replay_err_set(err, REPLAY_ECONFIG, "%s.client.options.apikey: expected "
                              "\"<key name>:<secret>\"", section);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Effective configuration as JSON (secrets masked)
 * ------------------------------------------------------------------------- */

static json_t *json_str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *json_list(const struct replay_string_list *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->count; i++)
        json_array_append_new(a, json_string(l->items[i]));
    return a;
}

static json_t *json_masked_url(const char *url)
{
    char masked[2048];
    return json_str_or_null(url ? replay_redact_url(url, masked, sizeof(masked)) : NULL);
}

static json_t *json_client(const struct replay_client_config *c)
{
    const char *colon = strchr(c->apikey, ':');
    char masked[512];
    snprintf(masked, sizeof(masked), "%.*s%s", colon ? (int)(colon - c->apikey) : 0, c->apikey,
             colon ? ":" REPLAY_REDACT_MASK : REPLAY_REDACT_MASK);
    return json_pack("{s:s, s:{s:o, s:o, s:s, s:b}}", "type",
                     c->type == REPLAY_CLIENT_API ? "api" : "direct", "options", "host",
                     json_masked_url(c->host), "user", json_string(c->user), "apikey", masked,
                     "verify", c->verify);
}

static json_t *json_creator(const struct replay_creator_config *c)
{
    json_t *o = json_pack("{s:o}", "client", json_client(&c->client));
    for (int t = 0; t < REPLAY_INPUT_COUNT; t++) {
        char key[64];
        snprintf(key, sizeof(key), "%s_input", replay_input_name((enum replay_input_type)t));
        json_object_set_new(o, key, json_pack("{s:b, s:i, s:o}", "enabled", c->inputs[t].enabled,
                                              "threads", c->inputs[t].threads, "filter_queries",
                                              json_list(&c->inputs[t].filter_queries)));
    }
    json_object_set_new(o, "lookback_time", json_string(c->lookback_time));
    json_object_set_new(o, "output_filestore", json_masked_url(c->output_filestore));
    json_object_set_new(o, "working_directory", json_string(c->working_directory));
    json_object_set_new(o, "manifest", json_pack("{s:i, s:o, s:o}", "interval",
                                                 c->manifest.interval, "source_name",
                                                 json_str_or_null(c->manifest.source_name),
                                                 "signing_key",
                                                 json_str_or_null(c->manifest.signing_key)));
    return o;
}

bool replay_loader_manifest_on(const struct replay_loader_manifest_config *m)
{
    return m->audit || m->require_signature || m->trusted_keys.count > 0;
}

static json_t *json_loader(const struct replay_loader_config *l)
{
    const struct replay_loader_manifest_config *m = &l->manifest;
    return json_pack("{s:o, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:i, s:i, s:i, s:i, "
                     "s:{s:b, s:o, s:b, s:i, s:i}}", "client",
                     json_client(&l->client), "input_directory", l->input_directory,
                     "failed_directory", l->failed_directory, "working_directory",
                     l->working_directory, "input_threads", l->input_threads,
                     "min_classification", json_str_or_null(l->min_classification),
                     "reclassification", json_str_or_null(l->reclassification), "rescan",
                     json_list(&l->rescan), "sync_check_interval", l->sync_check_interval,
                     "settle_time", l->settle_time, "scan_interval", l->scan_interval,
                     "requeue_after", l->requeue_after, "manifest", "audit", m->audit,
                     "trusted_keys", json_list(&m->trusted_keys), "require_signature",
                     m->require_signature, "wait", m->wait, "grace", m->grace);
}

char *replay_config_to_json(const struct replay_config *cfg)
{
    const struct replay_redis_config *r = &cfg->redis;
    json_t *root = json_pack(
        "{s:o, s:o, s:{s:o, s:o, s:s, s:s}, s:{s:s, s:s, s:o}, s:o}", "creator",
        json_creator(&cfg->creator), "loader", json_loader(&cfg->loader), "redis", "url",
        json_masked_url(r->url), "persistent_url", json_masked_url(r->persistent_url),
        "url_source", r->url_source ? r->url_source : "default", "persistent_url_source",
        r->persistent_url_source ? r->persistent_url_source : "default", "logging", "log_level",
        replay_log_level_name(cfg->logging.level), "format",
        cfg->logging.format == REPLAY_LOG_TEXT ? "text" : "json", "heartbeat_file",
        json_str_or_null(cfg->logging.heartbeat_file), "source",
        json_str_or_null(cfg->source_path));
    if (root == NULL)
        return NULL;
    char *text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    return text;
}

const char *replay_input_name(enum replay_input_type t)
{
    switch (t) {
    case REPLAY_INPUT_ALERT: return "alert";
    case REPLAY_INPUT_SUBMISSION: return "submission";
    case REPLAY_INPUT_BADLIST: return "badlist";
    case REPLAY_INPUT_SAFELIST: return "safelist";
    case REPLAY_INPUT_SIGNATURE: return "signature";
    case REPLAY_INPUT_WORKFLOW: return "workflow";
    case REPLAY_INPUT_COUNT: break;
    }
    return "unknown";
}

static void client_free(struct replay_client_config *c)
{
    free(c->host);
    free(c->user);
    free(c->apikey);
}

void replay_config_free(struct replay_config *cfg)
{
    if (cfg == NULL)
        return;
    client_free(&cfg->creator.client);
    for (int t = 0; t < REPLAY_INPUT_COUNT; t++)
        list_free(&cfg->creator.inputs[t].filter_queries);
    free(cfg->creator.lookback_time);
    free(cfg->creator.output_filestore);
    free(cfg->creator.working_directory);
    free(cfg->creator.manifest.source_name);
    free(cfg->creator.manifest.signing_key);
    client_free(&cfg->loader.client);
    free(cfg->loader.input_directory);
    free(cfg->loader.failed_directory);
    free(cfg->loader.working_directory);
    free(cfg->loader.min_classification);
    free(cfg->loader.reclassification);
    list_free(&cfg->loader.rescan);
    list_free(&cfg->loader.manifest.trusted_keys);
    free(cfg->redis.url);
    free(cfg->redis.persistent_url);
    free(cfg->logging.heartbeat_file);
    free(cfg->source_path);
    list_free(&cfg->warnings);
    free(cfg);
}
