/* Unit tests of the loader's extension keys in common/config (settle_time,
 * scan_interval, requeue_after). Kept apart from test_config.c so the keys of the
 * target side change in one place. */
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

static void test_config_loader_extension_keys_have_defaults(void **state)
{
    (void)state;
    struct replay_config *cfg = parse("loader: {input_threads: 2}\n", NULL);
    assert_non_null(cfg);
    assert_int_equal(cfg->loader.settle_time, 10);
    assert_int_equal(cfg->loader.scan_interval, 5);
    assert_int_equal(cfg->loader.requeue_after, 3600);
    assert_int_equal(cfg->warnings.count, 0);
    replay_config_free(cfg);
}

static void test_config_loader_extension_keys_are_read_and_printed(void **state)
{
    (void)state;
    struct replay_config *cfg =
        parse("loader:\n  settle_time: 0\n  scan_interval: \"2\"\n  requeue_after: 60\n", NULL);
    assert_non_null(cfg);
    assert_int_equal(cfg->loader.settle_time, 0);
    assert_int_equal(cfg->loader.scan_interval, 2);
    assert_int_equal(cfg->loader.requeue_after, 60);
    char *json = replay_config_to_json(cfg);
    assert_non_null(strstr(json, "\"settle_time\": 0"));
    assert_non_null(strstr(json, "\"scan_interval\": 2"));
    assert_non_null(strstr(json, "\"requeue_after\": 60"));
    free(json);
    replay_config_free(cfg);
}

static void test_config_loader_extension_keys_refuse_bad_values(void **state)
{
    (void)state;
    const char *bad[] = {"loader: {settle_time: -1}\n", "loader: {settle_time: 86401}\n",
                         "loader: {scan_interval: 0}\n", "loader: {scan_interval: 1.5}\n",
                         "loader: {requeue_after: 0}\n", "loader: {requeue_after: soon}\n"};
    const char *key[] = {"loader.settle_time", "loader.settle_time", "loader.scan_interval",
                         "loader.scan_interval", "loader.requeue_after", "loader.requeue_after"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct replay_err err = {0};
        assert_null(parse(bad[i], &err));
        assert_int_equal(err.code, REPLAY_ECONFIG);
        assert_non_null(strstr(err.msg, key[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_loader_extension_keys_have_defaults),
        cmocka_unit_test(test_config_loader_extension_keys_are_read_and_printed),
        cmocka_unit_test(test_config_loader_extension_keys_refuse_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
