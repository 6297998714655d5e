/* Unit tests of common/service: error verdicts and environment settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay/service.h"

static void test_service_verdict_sorts_errors_by_what_to_do_with_the_item(void **state)
{
    (void)state;
    assert_int_equal(replay_service_verdict(REPLAY_ECANCELED, 0), REPLAY_VERDICT_STOP);
    assert_int_equal(replay_service_verdict(REPLAY_ECONN, 0), REPLAY_VERDICT_TRANSIENT);
    assert_int_equal(replay_service_verdict(REPLAY_ETIMEDOUT, 0), REPLAY_VERDICT_TRANSIENT);
    assert_int_equal(replay_service_verdict(REPLAY_EIO, 0), REPLAY_VERDICT_TRANSIENT);
    assert_int_equal(replay_service_verdict(REPLAY_EHTTP, 500), REPLAY_VERDICT_TRANSIENT);
    assert_int_equal(replay_service_verdict(REPLAY_EHTTP, 400), REPLAY_VERDICT_PERMANENT);
    assert_int_equal(replay_service_verdict(REPLAY_EAUTH, 403), REPLAY_VERDICT_SETUP);
    assert_int_equal(replay_service_verdict(REPLAY_ECONFIG, 0), REPLAY_VERDICT_SETUP);
    assert_int_equal(replay_service_verdict(REPLAY_EFORMAT, 0), REPLAY_VERDICT_PERMANENT);
    assert_int_equal(replay_service_verdict(REPLAY_EINTEGRITY, 0), REPLAY_VERDICT_PERMANENT);
    assert_int_equal(replay_service_verdict(REPLAY_EUNSAFE, 0), REPLAY_VERDICT_PERMANENT);
    assert_string_equal(replay_service_verdict_name(REPLAY_VERDICT_SETUP), "setup");
}

static void test_service_env_uint_reads_checks_and_defaults(void **state)
{
    (void)state;
    unsigned v = 0;
    unsetenv("REPLAY_TEST_ENV_UINT");
    assert_int_equal(replay_service_env_uint("REPLAY_TEST_ENV_UINT", 30, 0, 3600, &v, NULL), 0);
    assert_int_equal(v, 30);
    setenv("REPLAY_TEST_ENV_UINT", "", 1);
    assert_int_equal(replay_service_env_uint("REPLAY_TEST_ENV_UINT", 30, 0, 3600, &v, NULL), 0);
    assert_int_equal(v, 30);
    setenv("REPLAY_TEST_ENV_UINT", "5", 1);
    assert_int_equal(replay_service_env_uint("REPLAY_TEST_ENV_UINT", 30, 0, 3600, &v, NULL), 0);
    assert_int_equal(v, 5);
    const char *bad[] = {"-1", "5s", " 5", "1.5", "3601", "99999999999999999999999", "+5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct replay_err err = {0};
        setenv("REPLAY_TEST_ENV_UINT", bad[i], 1);
        assert_int_equal(replay_service_env_uint("REPLAY_TEST_ENV_UINT", 30, 0, 3600, &v, &err),
                         REPLAY_ECONFIG);
        assert_non_null(strstr(err.msg, "REPLAY_TEST_ENV_UINT"));
        assert_non_null(strstr(err.msg, "0 to 3600"));
    }
    unsetenv("REPLAY_TEST_ENV_UINT");
}

static void test_service_client_refuses_an_incomplete_section(void **state)
{
    (void)state;
    char host[] = "ftp://x", http[] = "http://127.0.0.1:1", user[] = "admin",
         key[] = "devkey:devpass";
    struct replay_client_config cc = {.type = REPLAY_CLIENT_API, .host = host, .user = user,
                                      .apikey = key, .verify = true};
    struct replay_alclient *c = (void *)1;
    struct replay_err err = {0};
    assert_int_equal(replay_service_client(&cc, NULL, &c, &err), REPLAY_EINVAL);
    assert_null(c);
    cc.host = http;
    assert_int_equal(replay_service_client(&cc, NULL, &c, NULL), 0);
    replay_alclient_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_verdict_sorts_errors_by_what_to_do_with_the_item),
        cmocka_unit_test(test_service_env_uint_reads_checks_and_defaults),
        cmocka_unit_test(test_service_client_refuses_an_incomplete_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
