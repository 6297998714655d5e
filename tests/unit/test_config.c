/* Unit tests of common/config: defaults, merging, typing, substitution, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/config.h"
#include "replay/redact.h"
#include "test_env.h"

static char data_dir[1024];
static char tmp_dir[256];

static int setup_env(void **state)
{
    (void)state;
    /* No config.yml and no Redis/log overrides leak in from the environment. */
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/replay-test-config.XXXXXX");
    return test_env_setup(tmp_dir);
}

static int teardown_env(void **state)
{
    (void)state;
    return test_env_teardown(tmp_dir);
}

static const char *write_tmp(const char *name, const char *text)
{
    const char *path = test_env_write(tmp_dir, name, text);
    assert_non_null(path);
    return path;
}

static struct replay_config *parse_ok(const char *text)
{
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    int rc = replay_config_parse(text, strlen(text), "test.yml", &cfg, &err);
    if (rc != 0)
        fail_msg("unexpected error: %s", err.msg);
    return cfg;
}

static struct replay_config *load_ok(const char *path)
{
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    if (replay_config_load(path, &cfg, &err) != 0)
        fail_msg("unexpected error: %s", err.msg);
    return cfg;
}

static void expect_error(const char *text, const char *want)
{
    struct replay_config *cfg = (void *)1;
    struct replay_err err = {0};
    assert_int_equal(replay_config_parse(text, strlen(text), "test.yml", &cfg, &err),
                     REPLAY_ECONFIG);
    assert_null(cfg);
    if (strstr(err.msg, want) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want);
}

static void test_config_empty_text_gives_every_upstream_default(void **state)
{
    (void)state;
    struct replay_config *cfg = parse_ok("");
    const struct replay_creator_config *c = &cfg->creator;
    assert_int_equal(c->client.type, REPLAY_CLIENT_DIRECT);
    assert_string_equal(c->client.host, "https://localhost:443");
    assert_string_equal(c->client.user, "admin");
    assert_string_equal(c->client.apikey, "devkey:devpass");
    assert_true(c->client.verify);
    for (int t = 0; t < REPLAY_INPUT_COUNT; t++) {
        assert_true(c->inputs[t].enabled);
        assert_int_equal(c->inputs[t].threads, 6);
    }
    assert_int_equal(c->inputs[REPLAY_INPUT_ALERT].filter_queries.count, 2);
    assert_string_equal(c->inputs[REPLAY_INPUT_ALERT].filter_queries.items[0],
                        "NOT extended_scan:submitted");
    assert_string_equal(c->inputs[REPLAY_INPUT_ALERT].filter_queries.items[1],
                        "workflows_completed:true");
    assert_string_equal(c->inputs[REPLAY_INPUT_SUBMISSION].filter_queries.items[0],
                        "metadata.replay:requested");
    assert_int_equal(c->inputs[REPLAY_INPUT_SIGNATURE].filter_queries.count, 0);
    assert_string_equal(c->lookback_time, "*");
    assert_string_equal(c->output_filestore, "file:///tmp/replay/output");
    assert_string_equal(c->working_directory, "/tmp/replay/work");
    const struct replay_loader_config *l = &cfg->loader;
    assert_int_equal(l->client.type, REPLAY_CLIENT_DIRECT);
    assert_string_equal(l->input_directory, "/tmp/replay/input");
    assert_string_equal(l->failed_directory, "/tmp/replay/failed");
    assert_string_equal(l->working_directory, "/tmp/replay/work");
    assert_int_equal(l->input_threads, 6);
    assert_null(l->min_classification);
    assert_null(l->reclassification);
    assert_int_equal(l->rescan.count, 0);
    assert_int_equal(l->sync_check_interval, 3600);
    assert_int_equal(cfg->warnings.count, 0);
    replay_config_free(cfg);
}

static void test_config_seed_example_parses_to_its_stated_values(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof(path), "%s/seed-example.yml", data_dir);
    struct replay_config *cfg = load_ok(path);
    assert_int_equal(cfg->warnings.count, 0);
    assert_string_equal(cfg->source_path, path);
    /* The documented file states exactly the defaults. */
    struct replay_config *defaults = parse_ok("");
    char *a = replay_config_to_json(cfg), *b = replay_config_to_json(defaults);
    /* The creator and loader sections (what the file states) are the same; the
     * Redis and logging parts are resolved only by load. */
    assert_non_null(strstr(a, "seed-example.yml"));
    *strstr(a, "\"redis\"") = '\0';
    *strstr(b, "\"redis\"") = '\0';
    assert_string_equal(a, b);
    free(a);
    free(b);
    replay_config_free(defaults);
    replay_config_free(cfg);
}

static void test_config_api_mode_example_substitutes_environment(void **state)
{
    (void)state;
    char path[1200];
    snprintf(path, sizeof(path), "%s/api-mode.yml", data_dir);
    setenv("REPLAY_TEST_CREATOR_KEY", "reader:Cr3atorSecret", 1);
    setenv("REPLAY_TEST_LOADER_KEY", "writer:L0aderSecret", 1);
    setenv("REPLAY_TEST_SFTP_PASSWORD", "p%40ss", 1);
    setenv("REPLAY_TEST_REDIS_PASSWORD", "R3disSecret", 1);
    struct replay_config *cfg = load_ok(path);
    struct replay_err err = {0};
    assert_int_equal(cfg->creator.client.type, REPLAY_CLIENT_API);
    assert_string_equal(cfg->creator.client.apikey, "reader:Cr3atorSecret");
    assert_false(cfg->creator.client.verify);
    assert_int_equal(cfg->creator.inputs[REPLAY_INPUT_ALERT].threads, 2);
    assert_false(cfg->creator.inputs[REPLAY_INPUT_BADLIST].enabled);
    assert_int_equal(cfg->loader.input_threads, 4);
    assert_int_equal(cfg->loader.rescan.count, 2);
    assert_string_equal(cfg->loader.rescan.items[1], "ConfigExtractor");
    assert_string_equal(cfg->loader.min_classification, "TLP:CLEAR");
    assert_string_equal(cfg->redis.url, "redis://:R3disSecret@redis-volatile:6379/0");
    assert_string_equal(cfg->redis.url_source, "replay.yml");
    assert_int_equal(replay_config_check_client(cfg, "creator", &err), 0);
    assert_int_equal(replay_config_check_client(cfg, "loader", &err), 0);
    /* The printed configuration masks every secret, and so does the logger. */
    char *json = replay_config_to_json(cfg);
    assert_null(strstr(json, "Cr3atorSecret"));
    assert_null(strstr(json, "L0aderSecret"));
    assert_null(strstr(json, "p%40ss"));
    assert_null(strstr(json, "R3disSecret"));
    assert_non_null(strstr(json, "\"reader:***\""));
    assert_non_null(strstr(json, "sftp://drop:***@diode.example/outgoing"));
    free(json);
    char out[256];
    replay_redact("key L0aderSecret pass p@ss", out, sizeof(out));
    assert_string_equal(out, "key *** pass ***");
    replay_config_free(cfg);
}

static void test_config_maps_merge_and_lists_replace(void **state)
{
    (void)state;
    struct replay_config *cfg = parse_ok(
        "creator:\n  alert_input:\n    filter_queries: [\"owner:me\"]\n"
        "  client:\n    options:\n      user: bob\n");
    assert_int_equal(cfg->creator.inputs[REPLAY_INPUT_ALERT].filter_queries.count, 1);
    assert_string_equal(cfg->creator.inputs[REPLAY_INPUT_ALERT].filter_queries.items[0], "owner:me");
    assert_true(cfg->creator.inputs[REPLAY_INPUT_ALERT].enabled);
    assert_string_equal(cfg->creator.client.user, "bob");
    assert_string_equal(cfg->creator.client.host, "https://localhost:443");
    replay_config_free(cfg);
}

static void test_config_empty_sections_and_null_lists_are_allowed(void **state)
{
    (void)state;
    struct replay_config *cfg = parse_ok("creator:\nloader:\n  client:\n  rescan:\n"
                                         "  min_classification: ''\n");
    assert_int_equal(cfg->loader.rescan.count, 0);
    assert_null(cfg->loader.min_classification);
    assert_string_equal(cfg->loader.client.user, "admin");
    replay_config_free(cfg);
}

static void test_config_yaml_booleans_and_numeric_strings(void **state)
{
    (void)state;
    struct replay_config *cfg = parse_ok(
        "creator:\n  alert_input: {enabled: no, threads: '12'}\n"
        "  submission_input: {enabled: Off}\nloader: {client: {options: {verify: FALSE}}}\n");
    assert_false(cfg->creator.inputs[REPLAY_INPUT_ALERT].enabled);
    assert_int_equal(cfg->creator.inputs[REPLAY_INPUT_ALERT].threads, 12);
    assert_false(cfg->creator.inputs[REPLAY_INPUT_SUBMISSION].enabled);
    assert_false(cfg->loader.client.verify);
    replay_config_free(cfg);
}

static void test_config_wrong_types_name_the_key_and_line(void **state)
{
    (void)state;
    expect_error("loader:\n  input_threads: six\n",
                 "test.yml: loader.input_threads: expected an integer from 1 to 256, got \"six\" (line 2)");
    expect_error("loader:\n  input_threads: 6.5\n", "got 6.5 (line 2)");
    expect_error("creator:\n  alert_input:\n    threads: -1\n",
                 "creator.alert_input.threads: expected an integer from 0 to 256, got -1 (line 3)");
    expect_error("loader:\n  input_threads: 0\n", "loader.input_threads");
    expect_error("loader:\n  input_threads: 100000\n", "got 100000");
    expect_error("creator:\n  alert_input:\n    enabled: 'false'\n",
                 "creator.alert_input.enabled: expected true or false, got \"false\" (line 3)");
    expect_error("creator:\n  alert_input:\n    enabled: 1\n", "expected true or false, got 1");
    expect_error("creator:\n  client:\n    type: apii\n",
                 "creator.client.type: expected \"api\" or \"direct\", got \"apii\" (line 3)");
    expect_error("creator:\n  alert_input:\n    filter_queries: owner:me\n",
                 "creator.alert_input.filter_queries: expected a list of strings");
    expect_error("loader:\n  rescan: [YARA, [nested]]\n", "loader.rescan[1]: expected a string, got a list");
    expect_error("creator: [1, 2]\n", "creator: expected a mapping, got a list (line 1)");
    expect_error("- a\n- b\n", "the top level: expected a mapping, got a list");
    expect_error("just a string\n", "the top level: expected a mapping");
    expect_error("loader:\n  input_directory: ''\n", "loader.input_directory: must not be empty (line 2)");
    expect_error("loader:\n  input_directory:\n", "loader.input_directory: expected a string, got null");
    expect_error("loader:\n  {a: 1}: 2\n", "a key must be a string");
}

static void test_config_secret_values_are_not_echoed_in_errors(void **state)
{
    (void)state;
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    const char *text = "creator:\n  client:\n    options:\n      apikey: [topsecretvalue]\n"
                       "  output_filestore: [ftp://u:pw@h/]\n";
    assert_int_equal(replay_config_parse(text, strlen(text), "t", &cfg, &err), REPLAY_ECONFIG);
    assert_null(strstr(err.msg, "topsecretvalue"));
    assert_non_null(strstr(err.msg, "creator.client.options.apikey: expected a string, got a list"));
}

static void test_config_bad_yaml_is_a_clear_error(void **state)
{
    (void)state;
    expect_error("creator:\n  alert_input: [unclosed\n", "test.yml: invalid YAML");
    expect_error("creator:\n\tbad: tab\n", "invalid YAML");
    expect_error("a: 1\n---\nb: 2\n", "expected a single YAML document");
    expect_error("creator: *undefined_alias\n", "invalid YAML");
}

static void test_config_unknown_keys_are_warnings_naming_them(void **state)
{
    (void)state;
    struct replay_config *cfg = parse_ok("creator:\n  alert_inptu: {}\nsomething: 1\n"
                                         "loader:\n  client:\n    options:\n      passwd: x\n");
    assert_int_equal(cfg->warnings.count, 3);
    assert_string_equal(cfg->warnings.items[0], "unknown key creator.alert_inptu (line 2) ignored");
    assert_string_equal(cfg->warnings.items[1], "unknown key something (line 3) ignored");
    assert_string_equal(cfg->warnings.items[2],
                        "unknown key loader.client.options.passwd (line 7) ignored");
    replay_config_free(cfg);
}

static void test_config_substitution_of_set_unset_and_escaped(void **state)
{
    (void)state;
    setenv("REPLAY_T_A", "alpha", 1);
    setenv("REPLAY_T_NESTED", "$REPLAY_T_A and ${REPLAY_T_A}", 1);
    unsetenv("REPLAY_T_UNSET");
    static const struct { const char *in, *out; } cases[] = {
        {"x ${REPLAY_T_A} y", "x alpha y"},
        {"x $REPLAY_T_A-y", "x alpha-y"},
        {"$REPLAY_T_Ab", "$REPLAY_T_Ab"},          /* longest name, which is unset */
        {"${REPLAY_T_UNSET} $REPLAY_T_UNSET", "${REPLAY_T_UNSET} $REPLAY_T_UNSET"},
        {"cost: $$5 and $$REPLAY_T_A", "cost: $5 and $REPLAY_T_A"},
        {"$$$$", "$$"},
        {"lone $ and ${ and ${1x} and $", "lone $ and ${ and ${1x} and $"},
        {"${REPLAY_T_NESTED}", "$REPLAY_T_A and ${REPLAY_T_A}"}, /* not substituted twice */
        {"${REPLAY_T_A", "${REPLAY_T_A"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 0;
        char *got = NULL;
        struct replay_err err = {0};
        assert_int_equal(replay_config_substitute(cases[i].in, strlen(cases[i].in), "t.yml", &got,
                                                  &n, &err), 0);
        assert_non_null(got);
        assert_string_equal(got, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
        free(got);
    }
}

static void test_config_substitution_past_the_size_cap_is_too_big(void **state)
{
    (void)state;
    /* 17 references to a 1 MiB value: 17 MiB, past the 16 MiB a file may have;
     * 15 references stay under it. */
    size_t mib = 1u << 20;
    char *value = malloc(mib + 1);
    memset(value, 'v', mib);
    value[mib] = '\0';
    setenv("REPLAY_T_BIG", value, 1);
    free(value);
    const char *ref = "- ${REPLAY_T_BIG}\n";
    char text[17 * 20 + 1] = "";
    for (int i = 0; i < 17; i++)
        strcat(text, ref);
    char *big = NULL, *fits = NULL;
    size_t n_big = 0, n_fits = 0;
    struct replay_err err = {0}, parse_err = {0}, fits_err = {0};
    struct replay_config *cfg = NULL;
    int rc_big = replay_config_substitute(text, strlen(text), "big.yml", &big, &n_big, &err);
    int rc_parse = replay_config_parse(text, strlen(text), "big.yml", &cfg, &parse_err);
    int rc_fits = replay_config_substitute(text, 15 * strlen(ref), "fits.yml", &fits, &n_fits,
                                           &fits_err);
    unsetenv("REPLAY_T_BIG"); /* 1 MiB in the environment would stop every exec */
    assert_int_equal(rc_big, REPLAY_ETOOBIG);
    assert_null(big);
    assert_string_equal(err.msg, "big.yml: larger than 16 MiB after environment substitution");
    assert_int_equal(rc_parse, REPLAY_ETOOBIG);
    assert_null(cfg);
    assert_string_equal(parse_err.msg, err.msg);
    assert_int_equal(rc_fits, 0);
    assert_int_equal(n_fits, 15 * (mib + 3));
    free(fits);
}

static void test_config_unresolved_variable_is_a_warning(void **state)
{
    (void)state;
    unsetenv("REPLAY_T_MISSING_KEY");
    struct replay_config *cfg =
        parse_ok("creator:\n  client:\n    options:\n      apikey: \"k:${REPLAY_T_MISSING_KEY}\"\n");
    assert_int_equal(cfg->warnings.count, 1);
    assert_non_null(strstr(cfg->warnings.items[0], "REPLAY_T_MISSING_KEY is not set"));
    replay_config_free(cfg);
}

static void test_config_one_mebibyte_config_parses(void **state)
{
    (void)state;
    size_t cap = (1u << 20) + 4096, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text + n, cap - n, "creator:\n  alert_input:\n    filter_queries:\n");
    int items = 0;
    while (n < (1u << 20) && items < 9999) {
        n += (size_t)snprintf(text + n, cap - n, "      - \"field_%d:value with some padding "
                              "to make the line longer than usual %d\"\n", items, items);
        items++;
    }
    struct replay_config *cfg = parse_ok(text);
    assert_int_equal(cfg->creator.inputs[REPLAY_INPUT_ALERT].filter_queries.count, (size_t)items);
    replay_config_free(cfg);
    free(text);
}

static void test_config_deep_nesting_is_refused_quickly(void **state)
{
    (void)state;
    size_t depth = 500000;
    char *text = malloc(depth * 2 + 16);
    size_t n = 0;
    n += (size_t)sprintf(text, "creator: ");
    for (size_t i = 0; i < depth; i++)
        text[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        text[n++] = ']';
    text[n] = '\0';
    expect_error(text, "nested deeper than 64 levels");
    /* Deep block mappings under an unknown key too. */
    n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)sprintf(text + n, "%*sk:\n", i, "");
    expect_error(text, "nested deeper than 64 levels");
    free(text);
}

static void test_config_too_many_list_items_are_refused(void **state)
{
    (void)state;
    char *text = malloc(200000);
    size_t n = (size_t)sprintf(text, "loader:\n  rescan: [");
    for (int i = 0; i < 10001; i++)
        n += (size_t)sprintf(text + n, "%sa", i ? "," : "");
    strcpy(text + n, "]\n");
    expect_error(text, "loader.rescan: more than 10000 items");
    free(text);
}

static void test_config_load_missing_default_file_gives_defaults(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/absent.yml", tmp_dir);
    setenv("REPLAY_CONFIG_PATH", path, 1);
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_config_load(NULL, &cfg, &err), 0);
    assert_null(cfg->source_path);
    assert_string_equal(cfg->redis.url, "redis://localhost:6379");
    assert_string_equal(cfg->redis.url_source, "default");
    assert_string_equal(cfg->logging.heartbeat_file, "/tmp/heartbeat");
    replay_config_free(cfg);
    unsetenv("REPLAY_CONFIG_PATH");
    /* An explicit path must exist. */
    assert_int_equal(replay_config_load(path, &cfg, &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "absent.yml: no such file"));
    replay_err_clear(&err);
    assert_int_equal(replay_config_load(tmp_dir, &cfg, &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "is not a regular file"));
}

static void test_config_fifo_is_refused_at_once_not_read(void **state)
{
    (void)state;
    char fifo[512];
    snprintf(fifo, sizeof(fifo), "%s/replay.yml", tmp_dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    alarm(10); /* a blocking open would wait for a writer forever: die, not hang */
    assert_int_equal(replay_config_load(fifo, &cfg, &err), REPLAY_ECONFIG);
    assert_null(cfg);
    char want[600];
    snprintf(want, sizeof(want), "%s is not a regular file", fifo);
    assert_string_equal(err.msg, want);
    /* Assemblyline's config.yml is read the same way. */
    setenv("REPLAY_AL_CONFIG_PATH", fifo, 1);
    replay_err_clear(&err);
    assert_int_equal(replay_config_load(write_tmp("ok.yml", "loader: {}\n"), &cfg, &err),
                     REPLAY_ECONFIG);
    assert_string_equal(err.msg, want);
    alarm(0);
    char al[512];
    snprintf(al, sizeof(al), "%s/no-config.yml", tmp_dir);
    setenv("REPLAY_AL_CONFIG_PATH", al, 1);
    unlink(fifo);
}

static void test_config_redis_urls_resolve_in_documented_order(void **state)
{
    (void)state;
    const char *al = write_tmp("config.yml",
        "core:\n  redis:\n    nonpersistent: {host: redis-volatile, port: 6379}\n"
        "    persistent: {host: redis-persistent, port: '6380'}\n  other: ignored\n"
        "logging:\n  log_level: WARNING\n  log_as_json: false\n  heartbeat_file: /tmp/hb\n"
        "datastore: {hosts: [x]}\n");
    setenv("REPLAY_AL_CONFIG_PATH", al, 1);
    char *yml = strdup(write_tmp("r.yml", "redis: {persistent_url: 'redis://p:1/2'}\n"));
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_config_load(yml, &cfg, &err), 0);
    assert_string_equal(cfg->redis.url, "redis://redis-volatile:6379/0");
    assert_string_equal(cfg->redis.url_source, "config.yml");
    assert_string_equal(cfg->redis.persistent_url, "redis://p:1/2");
    assert_string_equal(cfg->redis.persistent_url_source, "replay.yml");
    assert_int_equal(cfg->logging.level, REPLAY_LOG_WARNING);
    assert_int_equal(cfg->logging.format, REPLAY_LOG_TEXT);
    assert_string_equal(cfg->logging.heartbeat_file, "/tmp/hb");
    replay_config_free(cfg);
    setenv("REPLAY_REDIS_URL", "redis://env:1/0", 1);
    setenv("REPLAY_REDIS_PERSISTENT_URL", "redis://envp:1/0", 1);
    setenv("LOG_LEVEL", "debug", 1);
    setenv("REPLAY_LOG_FORMAT", "json", 1);
    setenv("REPLAY_HEARTBEAT_FILE", "", 1);
    assert_int_equal(replay_config_load(yml, &cfg, &err), 0);
    assert_string_equal(cfg->redis.url, "redis://env:1/0");
    assert_string_equal(cfg->redis.url_source, "environment");
    assert_string_equal(cfg->redis.persistent_url, "redis://envp:1/0");
    assert_int_equal(cfg->logging.level, REPLAY_LOG_DEBUG);
    assert_int_equal(cfg->logging.format, REPLAY_LOG_JSON);
    assert_string_equal(cfg->logging.heartbeat_file, "");
    replay_config_free(cfg);
    setenv("LOG_LEVEL", "loud", 1);
    assert_int_equal(replay_config_load(yml, &cfg, &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "LOG_LEVEL: expected DEBUG"));
    free(yml);
    unsetenv("REPLAY_REDIS_URL");
    unsetenv("REPLAY_REDIS_PERSISTENT_URL");
    unsetenv("LOG_LEVEL");
    unsetenv("REPLAY_LOG_FORMAT");
    unsetenv("REPLAY_HEARTBEAT_FILE");
}

static void test_config_bad_assemblyline_config_names_its_file(void **state)
{
    (void)state;
    const char *al = write_tmp("bad-config.yml", "core:\n  redis:\n    persistent: {port: lots}\n");
    setenv("REPLAY_AL_CONFIG_PATH", al, 1);
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    char *yml = strdup(write_tmp("ok.yml", "{}\n"));
    assert_int_equal(replay_config_load(yml, &cfg, &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "bad-config.yml: core.redis.persistent.port: expected an "
                                    "integer from 1 to 65535, got \"lots\" (line 3)"));
    free(yml);
}

static void test_config_check_client_refuses_direct_and_bad_options(void **state)
{
    (void)state;
    struct replay_err err = {0};
    struct replay_config *cfg = parse_ok("");
    assert_int_equal(replay_config_check_client(cfg, "loader", &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "loader.client.type: \"direct\""));
    assert_non_null(strstr(err.msg, "is not built yet; set loader.client.type: api"));
    replay_config_free(cfg);
    cfg = parse_ok("creator: {client: {type: api, options: {host: 'ftp://x', apikey: 'a:b'}}}\n");
    replay_err_clear(&err);
    assert_int_equal(replay_config_check_client(cfg, "creator", &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "creator.client.options.host: expected an http://"));
    replay_config_free(cfg);
    cfg = parse_ok("creator: {client: {type: api, options: {host: 'ftp://u:hostpassword@x', "
                   "apikey: 'a:b'}}}\n");
    replay_err_clear(&err);
    assert_int_equal(replay_config_check_client(cfg, "creator", &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "got \"ftp://u:***@x\""));
    assert_null(strstr(err.msg, "hostpassword"));
    replay_config_free(cfg);
    cfg = parse_ok("creator: {client: {type: api, options: {apikey: 'nocolonsecret'}}}\n");
    replay_err_clear(&err);
    assert_int_equal(replay_config_check_client(cfg, "creator", &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "apikey: expected \"<key name>:<secret>\""));
    assert_null(strstr(err.msg, "nocolonsecret"));
    replay_config_free(cfg);
}

static void test_config_free_null_and_input_names(void **state)
{
    (void)state;
    replay_config_free(NULL);
    assert_string_equal(replay_input_name(REPLAY_INPUT_ALERT), "alert");
    assert_string_equal(replay_input_name(REPLAY_INPUT_WORKFLOW), "workflow");
    assert_string_equal(replay_input_name(REPLAY_INPUT_COUNT), "unknown");
}

int main(void)
{
    const char *src = getenv("REPLAY_SOURCE_DIR");
    snprintf(data_dir, sizeof(data_dir), "%s/tests/unit/data/config", src ? src : REPLAY_SOURCE_DIR_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_empty_text_gives_every_upstream_default),
        cmocka_unit_test(test_config_seed_example_parses_to_its_stated_values),
        cmocka_unit_test(test_config_api_mode_example_substitutes_environment),
        cmocka_unit_test(test_config_maps_merge_and_lists_replace),
        cmocka_unit_test(test_config_empty_sections_and_null_lists_are_allowed),
        cmocka_unit_test(test_config_yaml_booleans_and_numeric_strings),
        cmocka_unit_test(test_config_wrong_types_name_the_key_and_line),
        cmocka_unit_test(test_config_secret_values_are_not_echoed_in_errors),
        cmocka_unit_test(test_config_bad_yaml_is_a_clear_error),
        cmocka_unit_test(test_config_unknown_keys_are_warnings_naming_them),
        cmocka_unit_test(test_config_substitution_of_set_unset_and_escaped),
        cmocka_unit_test(test_config_unresolved_variable_is_a_warning),
        cmocka_unit_test(test_config_substitution_past_the_size_cap_is_too_big),
        cmocka_unit_test(test_config_one_mebibyte_config_parses),
        cmocka_unit_test(test_config_deep_nesting_is_refused_quickly),
        cmocka_unit_test(test_config_too_many_list_items_are_refused),
        cmocka_unit_test(test_config_load_missing_default_file_gives_defaults),
        cmocka_unit_test(test_config_fifo_is_refused_at_once_not_read),
        cmocka_unit_test(test_config_redis_urls_resolve_in_documented_order),
        cmocka_unit_test(test_config_bad_assemblyline_config_names_its_file),
        cmocka_unit_test(test_config_check_client_refuses_direct_and_bad_options),
        cmocka_unit_test(test_config_free_null_and_input_names),
    };
    return cmocka_run_group_tests(tests, setup_env, teardown_env);
}
