/* Unit tests of common/service: error verdicts and environment settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>

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
    assert_int_equal(replay_service_verdict(REPLAY_ENOAPI, 404), REPLAY_VERDICT_SETUP);
    assert_int_equal(replay_service_verdict(REPLAY_ENOTFOUND, 404), REPLAY_VERDICT_PERMANENT);
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

struct script {
    int codes[8];
    int statuses[8];
    int calls;
};

static int scripted_step(void *ctx, int *http_status, struct replay_err *err)
{
    struct script *s = ctx;
    int i = s->calls++;
    *http_status = s->statuses[i];
    if (s->codes[i] != 0)
        return replay_err_set(err, s->codes[i], "step %d failed", i);
    return 0;
}

static void test_service_retry_retries_transient_failures_until_success(void **state)
{
    (void)state;
    struct replay_backoff b;
    replay_backoff_init(&b, 1, 2);
    struct script s = {{REPLAY_ECONN, REPLAY_EHTTP, REPLAY_EAUTH, 0}, {0, 503, 403, 200}, 0};
    struct replay_err err = {0};
    assert_int_equal(replay_service_retry(&b, NULL, scripted_step, &s, "test", &err), 0);
    assert_int_equal(s.calls, 4);
    assert_int_equal(b.failures, 0);
}

static void test_service_retry_gives_up_on_permanent_failures_and_repeated_500(void **state)
{
    (void)state;
    struct replay_backoff b;
    replay_backoff_init(&b, 1, 2);
    struct script s = {{REPLAY_EHTTP}, {400}, 0};
    struct replay_err err = {0};
    assert_int_equal(replay_service_retry(&b, NULL, scripted_step, &s, "test", &err),
                     REPLAY_EHTTP);
    assert_int_equal(s.calls, 1);
    assert_string_equal(err.msg, "step 0 failed");
    struct script five = {{REPLAY_EHTTP, REPLAY_EHTTP, REPLAY_EHTTP, REPLAY_EHTTP, REPLAY_EHTTP},
                          {500, 500, 500, 500, 500}, 0};
    replay_err_clear(&err);
    assert_int_equal(replay_service_retry(&b, NULL, scripted_step, &five, "test", &err),
                     REPLAY_EHTTP);
    assert_int_equal(five.calls, REPLAY_SERVICE_MAX_500);
    assert_string_equal(err.msg, "step 4 failed");
}

static void test_service_retry_stops_on_shutdown(void **state)
{
    (void)state;
    struct replay_backoff b;
    replay_backoff_init(&b, 3600000, 3600000);
    struct replay_cancel *c = replay_cancel_new();
    replay_cancel_request(c);
    struct script s = {{REPLAY_ECONN, REPLAY_ECONN}, {0}, 0};
    assert_int_equal(replay_service_retry(&b, c, scripted_step, &s, "test", NULL),
                     REPLAY_ECANCELED);
    assert_int_equal(s.calls, 1);
    struct script canceled = {{REPLAY_ECANCELED}, {0}, 0};
    assert_int_equal(replay_service_retry(&b, NULL, scripted_step, &canceled, "test", NULL),
                     REPLAY_ECANCELED);
    replay_cancel_free(c);
}

static void test_service_directory_creates_levels_and_names_the_key(void **state)
{
    (void)state;
    char tmp[] = "/tmp/replay-test-service-XXXXXX", path[256], file[256];
    assert_non_null(mkdtemp(tmp));
    snprintf(path, sizeof(path), "%s/a/b/c", tmp);
    assert_int_equal(replay_service_directory("loader.failed_directory", path,
                                              REPLAY_SERVICE_DIR_READ | REPLAY_SERVICE_DIR_WRITE,
                                              NULL), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(replay_service_directory("k", path, REPLAY_SERVICE_DIR_WRITE, NULL), 0);
    snprintf(file, sizeof(file), "%s/file", tmp);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    struct replay_err err = {0};
    assert_int_equal(replay_service_directory("loader.input_directory", file,
                                              REPLAY_SERVICE_DIR_READ, &err), REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "loader.input_directory: "));
    assert_non_null(strstr(err.msg, "is not a directory"));
    snprintf(path, sizeof(path), "%s/file/below", tmp);
    memset(&err, 0, sizeof(err));
    assert_int_equal(replay_service_directory("k", path, REPLAY_SERVICE_DIR_READ, &err),
                     REPLAY_ECONFIG);
    assert_non_null(strstr(err.msg, "cannot create"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(replay_service_directory("loader.working_directory", "work",
                                              REPLAY_SERVICE_DIR_WRITE, &err), REPLAY_ECONFIG);
    assert_string_equal(err.msg, "loader.working_directory: \"work\" is not an absolute path");
    snprintf(path, sizeof(path), "%s/never/made", tmp);
    assert_int_equal(replay_service_directory("k", path, 0, NULL), 0); /* path only */
    assert_int_not_equal(access(path, F_OK), 0);
    const struct replay_service_dir dirs[] = {{"a", tmp, REPLAY_SERVICE_DIR_READ},
                                              {"b", "rel", 0},
                                              {"c", "/never/reached", REPLAY_SERVICE_DIR_READ}};
    assert_int_equal(replay_service_check_directories(dirs, 1), 0);
    assert_int_equal(replay_service_check_directories(dirs, 3), REPLAY_ECONFIG);
    unlink(file);
    snprintf(path, sizeof(path), "rm -r %s", tmp);
    assert_int_equal(system(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_directory_creates_levels_and_names_the_key),
        cmocka_unit_test(test_service_verdict_sorts_errors_by_what_to_do_with_the_item),
        cmocka_unit_test(test_service_env_uint_reads_checks_and_defaults),
        cmocka_unit_test(test_service_client_refuses_an_incomplete_section),
        cmocka_unit_test(test_service_retry_retries_transient_failures_until_success),
        cmocka_unit_test(test_service_retry_gives_up_on_permanent_failures_and_repeated_500),
        cmocka_unit_test(test_service_retry_stops_on_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
