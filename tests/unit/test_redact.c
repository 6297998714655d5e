/* Unit tests of common/redact: URL masking and secret registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "replay/redact.h"

static int reset(void **state)
{
    (void)state;
    replay_redact_reset();
    return 0;
}

static void expect_url(const char *in, const char *want)
{
    char out[512];
    assert_string_equal(replay_redact_url(in, out, sizeof(out)), want);
}

static void test_redact_url_masks_userinfo_password(void **state)
{
    (void)state;
    expect_url("ftp://user:pa55@host/dir", "ftp://user:***@host/dir");
    expect_url("redis://:secretpw@localhost:6379/0", "redis://:***@localhost:6379/0");
    /* Split at the last '@' and the first ':' (urlparse), as the default config needs. */
    expect_url("s3://al_storage_key:Ch@ngeTh!sPa33w0rd@localhost:9000?s3_bucket=al-storage",
               "s3://al_storage_key:***@localhost:9000?s3_bucket=al-storage");
    expect_url("sftp://u:a:b:c@h:22/x", "sftp://u:***@h:22/x");
}

static void test_redact_url_without_password_is_unchanged(void **state)
{
    (void)state;
    expect_url("file:///tmp/replay/output", "file:///tmp/replay/output");
    expect_url("ftp://user@host/", "ftp://user@host/");
    expect_url("not a url", "not a url");
    expect_url("", "");
}

static void test_redact_url_masks_secret_query_options(void **state)
{
    (void)state;
    expect_url("azure://acct.blob.core.windows.net/c?access_key=abc%2Bdef&read_only=true",
               "azure://acct.blob.core.windows.net/c?access_key=***&read_only=true");
    expect_url("sftp://u@h/x?private_key=/k&private_key_pass=pp#frag",
               "sftp://u@h/x?private_key=/k&private_key_pass=***#frag");
    expect_url("azure://h/c?client_secret=zz", "azure://h/c?client_secret=***");
}

static void test_redact_url_truncates_to_buffer(void **state)
{
    (void)state;
    char out[8];
    replay_redact_url("ftp://user:password@host/", out, sizeof(out));
    assert_int_equal(strlen(out), 7);
}

static void test_redact_registered_secrets_are_masked(void **state)
{
    (void)state;
    char out[256];
    replay_redact_add_secret("devpass");
    replay_redact_add_secret("ab"); /* too short to match by value */
    replay_redact("key devkey:devpass and devpassdevpass ab", out, sizeof(out));
    assert_string_equal(out, "key devkey:*** and ****** ab");
}

static void test_redact_url_secrets_registered_raw_and_decoded(void **state)
{
    (void)state;
    char out[256];
    replay_redact_add_url_secrets("ftp://u:p%40ss%2Fw@h/?access_key=a+b%2Bc");
    replay_redact("p%40ss%2Fw p@ss/w a+b%2Bc a b+c", out, sizeof(out));
    assert_string_equal(out, "*** *** *** ***");
}

static void test_redact_longest_secret_wins(void **state)
{
    (void)state;
    char out[256];
    replay_redact_add_secret("abcd");
    replay_redact_add_secret("abcdefgh");
    replay_redact("xabcdefghx", out, sizeof(out));
    assert_string_equal(out, "x***x");
}

static void test_redact_null_input_gives_empty_output(void **state)
{
    (void)state;
    char out[16] = "junk";
    assert_int_equal(replay_redact(NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    replay_redact_add_secret(NULL);
    replay_redact_add_url_secrets(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_redact_url_masks_userinfo_password, reset),
        cmocka_unit_test_setup(test_redact_url_without_password_is_unchanged, reset),
        cmocka_unit_test_setup(test_redact_url_masks_secret_query_options, reset),
        cmocka_unit_test_setup(test_redact_url_truncates_to_buffer, reset),
        cmocka_unit_test_setup(test_redact_registered_secrets_are_masked, reset),
        cmocka_unit_test_setup(test_redact_url_secrets_registered_raw_and_decoded, reset),
        cmocka_unit_test_setup(test_redact_longest_secret_wins, reset),
        cmocka_unit_test_setup(test_redact_null_input_gives_empty_output, reset),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    replay_redact_reset();
    return rc;
}
