/* Unit tests of the trust extension keys in common/config (creator.manifest,
 * issue 16): off by default, read, printed, bad values refused with the key. */
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
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct replay_err err = {0};
        assert_null(parse(bad[i], &err));
        assert_int_equal(err.code, REPLAY_ECONFIG);
        if (strstr(err.msg, key[i]) == NULL)
            fail_msg("'%s' does not name %s", err.msg, key[i]);
    }
    struct replay_err err = {0};
    struct replay_config *cfg = parse("creator: {manifest: {colour: blue}}\n", &err);
    assert_non_null(cfg);
    assert_int_equal(cfg->warnings.count, 1);
    assert_non_null(strstr(cfg->warnings.items[0], "creator.manifest.colour"));
    replay_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_trust_manifests_are_off_unless_configured),
        cmocka_unit_test(test_config_trust_manifest_keys_are_read_and_printed),
        cmocka_unit_test(test_config_trust_manifest_keys_refuse_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
