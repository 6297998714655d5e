/* Unit tests of config's Redis URLs (config_redis.c): the redis:// and unix://
 * forms, rediss:// refused with the reason, bad input with clear messages that
 * never show the password, and replay_config_load refusing a configuration whose
 * resolved URL is unusable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/config.h"
#include "replay/log.h"

static char tmp_dir[64];

/* No file and no Redis override leaks in from the environment. */
static int setup(void **state)
{
    (void)state;
    char path[128];
    replay_log_init("test", REPLAY_LOG_DISABLED, REPLAY_LOG_TEXT, 2);
    unsetenv("REPLAY_REDIS_URL");
    unsetenv("REPLAY_REDIS_PERSISTENT_URL");
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/replay-test-config-redis.XXXXXX");
    assert_non_null(mkdtemp(tmp_dir));
    snprintf(path, sizeof(path), "%s/none.yml", tmp_dir);
    setenv("REPLAY_CONFIG_PATH", path, 1);
    snprintf(path, sizeof(path), "%s/no-config.yml", tmp_dir);
    setenv("REPLAY_AL_CONFIG_PATH", path, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/replay.yml", tmp_dir);
    unlink(path);
    return rmdir(tmp_dir);
}

static void test_config_redis_url_defaults_to_port_6379_and_db_0(void **state)
{
    (void)state;
    struct replay_redis_url u;
    assert_int_equal(replay_config_redis_url_parse("redis://localhost", &u, NULL), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_false(u.is_unix);
    assert_string_equal(u.password, "");
    assert_int_equal(replay_config_redis_url_parse("REDIS://redis-volatile:6379/", &u, NULL), 0);
    assert_string_equal(u.host, "redis-volatile");
    assert_int_equal(replay_config_redis_url_parse("redis://", &u, NULL), 0);
    assert_string_equal(u.host, "localhost");
}

/* url parses to these fields. */
static void expect_url(const char *url, const char *user, const char *password,
                       const char *host, int port, int db)
{
    struct replay_redis_url u;
    struct replay_err err = {0};
    if (replay_config_redis_url_parse(url, &u, &err) != 0)
        fail_msg("%s: %s", url, err.msg);
    assert_string_equal(u.user, user);
    assert_string_equal(u.password, password);
    assert_string_equal(u.host, host);
    assert_int_equal(u.port, port);
    assert_int_equal(u.db, db);
}

static void test_config_redis_url_reads_user_password_port_and_db(void **state)
{
    (void)state;
    expect_url("redis://al:p%40ss%3Aw@10.0.0.5:6380/3", "al", "p@ss:w", "10.0.0.5", 6380, 3);
    /* Password only; the last '@' ends the userinfo; a bad escape is kept as is. */
    expect_url("redis://:a@b%zz@h?db=7", "", "a@b%zz", "h", 6379, 7);
    /* As url.h splits: the user ends at the first ':', the password at the last '@'. */
    expect_url("redis://us:er:p@ss@h:1/2", "us", "er:p@ss", "h", 1, 2);
    expect_url("redis://only-user@h", "only-user", "", "h", 6379, 0);
    expect_url("redis://[::1]:7000/1", "", "", "::1", 7000, 1);
}

static void test_config_redis_url_unix_socket_form(void **state)
{
    (void)state;
    struct replay_redis_url u;
    assert_int_equal(replay_config_redis_url_parse("unix:///run/redis/redis.sock?db=2", &u, NULL),
                     0);
    assert_true(u.is_unix);
    assert_string_equal(u.host, "/run/redis/redis.sock");
    assert_int_equal(u.db, 2);
    assert_int_equal(replay_config_redis_url_parse("unix://:pw%2F1@/tmp/r.sock", &u, NULL), 0);
    assert_string_equal(u.password, "pw/1");
    assert_string_equal(u.host, "/tmp/r.sock");
}

static void expect_url_error(const char *url, int code, const char *needle)
{
    struct replay_redis_url u;
    struct replay_err err = {0};
    assert_int_equal(replay_config_redis_url_parse(url, &u, &err), code);
    assert_int_equal(err.code, code);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message for %s lacks \"%s\": %s", url, needle, err.msg);
    assert_null(strstr(err.msg, "s3cret"));
}

static void test_config_redis_url_rediss_is_refused_naming_the_reason(void **state)
{
    (void)state;
    expect_url_error("rediss://:s3cret@redis:6380/0", REPLAY_EUNSUPPORTED,
                     "hiredis 0.14 has no TLS");
    expect_url_error("rediss://:s3cret@redis:6380/0", REPLAY_EUNSUPPORTED, "rediss://:***@redis");
    expect_url_error("rediss://:s3cret@redis:6380/0", REPLAY_EUNSUPPORTED, "TLS tunnel");
}

static void test_config_redis_url_bad_input_gives_a_clear_error_without_the_password(void **state)
{
    (void)state;
    expect_url_error("redis://:s3cret@h:0", REPLAY_ECONFIG, "port");
    expect_url_error("redis://:s3cret@h:65536", REPLAY_ECONFIG, "port");
    expect_url_error("redis://:s3cret@h:6x", REPLAY_ECONFIG, "port");
    expect_url_error("redis://:s3cret@h:", REPLAY_ECONFIG, "port");
    expect_url_error("redis://h/zero", REPLAY_ECONFIG, "database number");
    expect_url_error("redis://h/-1", REPLAY_ECONFIG, "database number");
    expect_url_error("redis://h/99999999999", REPLAY_ECONFIG, "database number");
    expect_url_error("redis://h/0?socket_timeout=1", REPLAY_ECONFIG, "only db=N");
    expect_url_error("redis://h/0?db=x", REPLAY_ECONFIG, "db is not");
    expect_url_error("redis://h/0#x", REPLAY_ECONFIG, "fragment");
    expect_url_error("redis://[::1:6379", REPLAY_ECONFIG, "IPv6");
    expect_url_error("redis://[::1]x", REPLAY_ECONFIG, "junk");
    expect_url_error("http://h:6379", REPLAY_ECONFIG, "not a Redis URL");
    expect_url_error("unix://nopw@tmp/sock", REPLAY_ECONFIG, "absolute");
    expect_url_error("unix://", REPLAY_ECONFIG, "absolute");
    expect_url_error("unix:///?db=1", REPLAY_ECONFIG, "no socket path");
    expect_url_error("", REPLAY_ECONFIG, "empty");
    expect_url_error("redis://%00000000", REPLAY_ECONFIG, "host name too long or with %00");
    expect_url_error("redis://:a%00b@h", REPLAY_ECONFIG, "password too long or with %00");
    expect_url_error("redis://u%00:p@h", REPLAY_ECONFIG, "user name too long or with %00");
    expect_url_error("unix:///tmp/a%00b", REPLAY_ECONFIG, "with %00");
    char long_url[1200] = "redis://:";
    memset(long_url + 9, 'p', 1000);
    strcpy(long_url + 1009, "@h");
    expect_url_error(long_url, REPLAY_ECONFIG, "password too long");
    char long_path[200] = "unix:///";
    memset(long_path + 8, 'd', 150);
    expect_url_error(long_path, REPLAY_ECONFIG, "longer than 107");
}

/* replay_config_load with this environment fails naming `key` and `reason`,
 * without the password. */
static void expect_load_error(const char *var, const char *url, const char *key,
                              const char *reason)
{
    struct replay_config *cfg = (struct replay_config *)1;
    struct replay_err err = {0};
    setenv(var, url, 1);
    assert_int_equal(replay_config_load(NULL, &cfg, &err), REPLAY_ECONFIG);
    unsetenv(var);
    assert_null(cfg);
    assert_int_equal(err.code, REPLAY_ECONFIG);
    if (strncmp(err.msg, key, strlen(key)) != 0 || strstr(err.msg, reason) == NULL)
        fail_msg("message for %s=%s lacks \"%s\" first or \"%s\": %s", var, url, key, reason,
                 err.msg);
    assert_null(strstr(err.msg, "s3cret"));
}

static void test_config_load_refuses_an_unusable_redis_url_naming_the_key(void **state)
{
    (void)state;
    expect_load_error("REPLAY_REDIS_URL", "rediss://:s3cret@redis:6380/0",
                      "redis.url: Redis URL rediss://:***@redis:6380/0: ", "no TLS support");
    expect_load_error("REPLAY_REDIS_PERSISTENT_URL", "redis://:s3cret@redis:notaport/0",
                      "redis.persistent_url: Redis URL redis://:***@redis:notaport/0: ", "port");
    expect_load_error("REPLAY_REDIS_URL", "http://redis:6379", "redis.url: ", "not a Redis URL");
}

static void test_config_load_refuses_an_unusable_redis_url_from_replay_yml(void **state)
{
    (void)state;
    char path[128];
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    snprintf(path, sizeof(path), "%s/replay.yml", tmp_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("redis:\n  persistent_url: redis://:s3cret@h/zero\n", f);
    fclose(f);
    assert_int_equal(replay_config_load(path, &cfg, &err), REPLAY_ECONFIG);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "redis.persistent_url: Redis URL redis://:***@h/zero: "
                                    "the path must be /N"));
    assert_null(strstr(err.msg, "s3cret"));
}

static void test_config_load_accepts_usable_redis_urls(void **state)
{
    (void)state;
    struct replay_config *cfg = NULL;
    struct replay_err err = {0};
    setenv("REPLAY_REDIS_URL", "redis://al:p%40ss@redis-volatile:6379/0", 1);
    setenv("REPLAY_REDIS_PERSISTENT_URL", "unix:///run/redis.sock?db=1", 1);
    int rc = replay_config_load(NULL, &cfg, &err);
    unsetenv("REPLAY_REDIS_URL");
    unsetenv("REPLAY_REDIS_PERSISTENT_URL");
    if (rc != 0)
        fail_msg("load: %s", err.msg);
    assert_string_equal(cfg->redis.url, "redis://al:p%40ss@redis-volatile:6379/0");
    assert_int_equal(replay_config_check_redis_urls(cfg, &err), 0);
    replay_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_redis_url_defaults_to_port_6379_and_db_0),
        cmocka_unit_test(test_config_redis_url_reads_user_password_port_and_db),
        cmocka_unit_test(test_config_redis_url_unix_socket_form),
        cmocka_unit_test(test_config_redis_url_rediss_is_refused_naming_the_reason),
        cmocka_unit_test(test_config_redis_url_bad_input_gives_a_clear_error_without_the_password),
        cmocka_unit_test(test_config_load_refuses_an_unusable_redis_url_naming_the_key),
        cmocka_unit_test(test_config_load_refuses_an_unusable_redis_url_from_replay_yml),
        cmocka_unit_test(test_config_load_accepts_usable_redis_urls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
