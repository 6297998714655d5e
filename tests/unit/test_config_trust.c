/* Unit tests of the trust extension keys in common/config (creator.manifest,
 * loader.manifest, issue 16): off by default, read, printed, bad values refused
 * with the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay/config.h"

static struct replay_config *parse(const char *text, struct replay_err *err)
{
    struct replay_config *cfg = NULL;
    (void)!replay_config_parse(text, strlen(text), "replay.yml", &cfg, err);
    return cfg;
}

/* Each text of bad[] is refused with REPLAY_ECONFIG and a message naming key[i]. */
static void expect_refused(const char *const *bad, const char *const *key, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct replay_err err = {0};
        assert_null(parse(bad[i], &err));
        assert_int_equal(err.code, REPLAY_ECONFIG);
        if (strstr(err.msg, key[i]) == NULL)
            fail_msg("'%s' does not name %s", err.msg, key[i]);
    }
}

static void test_config_trust_manifests_are_off_unless_configured(void **state)
{
    (void)state;
    struct replay_config *cfg = parse("creator: {lookback_time: '*'}\n", NULL);
    assert_non_null(cfg);
    assert_int_equal(cfg->creator.manifest.interval, 0);
    assert_null(cfg->creator.manifest.source_name);
    assert_null(cfg->creator.manifest.signing_key);
    assert_int_equal(cfg->warnings.count, 0);
    replay_config_free(cfg);
}

static void test_config_trust_manifest_keys_are_read_and_printed(void **state)
{
    (void)state;
    struct replay_config *cfg = parse("creator:\n  manifest:\n    interval: \"300\"\n"
                                      "    source_name: online-1\n"
                                      "    signing_key: /etc/replay/key\n", NULL);
    assert_non_null(cfg);
    assert_int_equal(cfg->creator.manifest.interval, 300);
    assert_string_equal(cfg->creator.manifest.source_name, "online-1");
    assert_string_equal(cfg->creator.manifest.signing_key, "/etc/replay/key");
    char *json = replay_config_to_json(cfg);
    assert_non_null(strstr(json, "\"interval\": 300"));
    assert_non_null(strstr(json, "\"signing_key\": \"/etc/replay/key\""));
    free(json);
    replay_config_free(cfg);
}

static void test_config_trust_manifest_keys_refuse_bad_values(void **state)
{
    (void)state;
    const char *bad[] = {"creator: {manifest: {interval: -1}}\n",
                         "creator: {manifest: {interval: 86401}}\n",
                         "creator: {manifest: {interval: 1.5}}\n",
                         "creator: {manifest: {source_name: [a]}}\n",
                         "creator: {manifest: {signing_key: {a: b}}}\n",
                         "creator: {manifest: 5}\n"};
    const char *key[] = {"creator.manifest.interval", "creator.manifest.interval",
                         "creator.manifest.interval", "creator.manifest.source_name",
                         "creator.manifest.signing_key", "creator.manifest"};
    expect_refused(bad, key, sizeof(bad) / sizeof(bad[0]));
    struct replay_err err = {0};
    struct replay_config *cfg = parse("creator: {manifest: {colour: blue}}\n", &err);
    assert_non_null(cfg);
    assert_int_equal(cfg->warnings.count, 1);
    assert_non_null(strstr(cfg->warnings.items[0], "creator.manifest.colour"));
    replay_config_free(cfg);
}

static void test_config_trust_loader_manifest_is_off_unless_a_key_turns_it_on(void **state)
{
    (void)state;
    struct replay_config *cfg = parse("loader: {input_threads: 2}\n", NULL);
    assert_non_null(cfg);
    assert_false(replay_loader_manifest_on(&cfg->loader.manifest));
    assert_int_equal(cfg->loader.manifest.wait, 3600);
    assert_int_equal(cfg->loader.manifest.grace, 86400);
    assert_int_equal(cfg->loader.manifest.trusted_keys.count, 0);
    replay_config_free(cfg);
    const char *on[] = {"loader: {manifest: {audit: true}}\n",
                        "loader: {manifest: {require_signature: true}}\n",
                        "loader: {manifest: {trusted_keys: [/k.pub]}}\n"};
    for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++) {
        cfg = parse(on[i], NULL);
        assert_non_null(cfg);
        assert_true(replay_loader_manifest_on(&cfg->loader.manifest));
        replay_config_free(cfg);
    }
    cfg = parse("loader: {manifest: {audit: false, wait: 60}}\n", NULL);
    assert_false(replay_loader_manifest_on(&cfg->loader.manifest));
    replay_config_free(cfg);
}

static void test_config_trust_loader_manifest_keys_are_read_and_printed(void **state)
{
    (void)state;
    struct replay_config *cfg = parse("loader:\n  manifest:\n    trusted_keys: [/a.pub, /b.pub]\n"
                                      "    require_signature: true\n    wait: 600\n"
                                      "    grace: 7200\n", NULL);
    assert_non_null(cfg);
    const struct replay_loader_manifest_config *m = &cfg->loader.manifest;
    assert_int_equal(m->trusted_keys.count, 2);
    assert_string_equal(m->trusted_keys.items[1], "/b.pub");
    assert_true(m->require_signature);
    assert_int_equal(m->wait, 600);
    assert_int_equal(m->grace, 7200);
    char *json = replay_config_to_json(cfg);
    assert_non_null(strstr(json, "\"require_signature\": true"));
    assert_non_null(strstr(json, "\"/a.pub\""));
    assert_non_null(strstr(json, "\"grace\": 7200"));
    free(json);
    replay_config_free(cfg);
}

static void test_config_trust_loader_manifest_keys_refuse_bad_values(void **state)
{
    (void)state;
    const char *bad[] = {"loader: {manifest: {wait: 0}}\n",
                         "loader: {manifest: {wait: 2678401}}\n",
                         "loader: {manifest: {grace: -3}}\n",
                         "loader: {manifest: {grace: 31622401}}\n",
                         "loader: {manifest: {require_signature: maybe}}\n",
                         "loader: {manifest: {audit: [1]}}\n",
                         "loader: {manifest: {trusted_keys: {a: b}}}\n",
                         "loader: {manifest: [1, 2]}\n"};
    const char *key[] = {"loader.manifest.wait", "loader.manifest.wait",
                         "loader.manifest.grace", "loader.manifest.grace",
                         "loader.manifest.require_signature", "loader.manifest.audit",
                         "loader.manifest.trusted_keys", "loader.manifest"};
    expect_refused(bad, key, sizeof(bad) / sizeof(bad[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_trust_manifests_are_off_unless_configured),
        cmocka_unit_test(test_config_trust_manifest_keys_are_read_and_printed),
        cmocka_unit_test(test_config_trust_manifest_keys_refuse_bad_values),
        cmocka_unit_test(test_config_trust_loader_manifest_is_off_unless_a_key_turns_it_on),
        cmocka_unit_test(test_config_trust_loader_manifest_keys_are_read_and_printed),
        cmocka_unit_test(test_config_trust_loader_manifest_keys_refuse_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
