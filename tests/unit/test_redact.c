/* Unit tests of common/redact: URL masking and secret registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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

static void test_redact_overlapping_secrets_are_masked_whole(void **state)
{
    (void)state;
    char out[256];
    replay_redact_add_secret("alphaBRAVO");
    replay_redact_add_secret("BRAVOcharlie");
    /* Masking the first occurrence must not print the rest of the second. */
    replay_redact("<alphaBRAVOcharlie> <BRAVOcharlie>", out, sizeof(out));
    assert_string_equal(out, "<***> <***>");
}

static void test_redact_in_place_gives_the_same_text(void **state)
{
    (void)state;
    char buf[64] = "a devpass b devpassdevpass c dev";
    replay_redact_add_secret("devpass");
    assert_int_equal(replay_redact(buf, buf, sizeof(buf)), strlen("a *** b ****** c dev"));
    assert_string_equal(buf, "a *** b ****** c dev");
}

static size_t format(char *out, size_t outsz, const char *fmt, ...) REPLAY_PRINTF(3, 4);
static size_t format(char *out, size_t outsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = replay_redact_vformat(out, outsz, fmt, ap);
    va_end(ap);
    return n;
}

static void test_redact_cut_never_leaves_the_start_of_a_secret(void **state)
{
    (void)state;
    char out[13];
    replay_redact_add_secret("SUPERSECRET");
    /* "prefix SUPERSECRET" cut to 12 bytes is "prefix SUPER": the tail is masked. */
    format(out, sizeof(out), "prefix %s", "SUPERSECRET");
    assert_string_equal(out, "prefix ***");
    /* Cut after one byte of the secret: that byte is masked too (as far as room allows). */
    char small[9];
    format(small, sizeof(small), "prefix %s", "SUPERSECRET");
    assert_string_equal(small, "prefix *");
    /* A text that fits is not treated as cut: "SUP" at its end stays. */
    format(out, sizeof(out), "x SUP");
    assert_string_equal(out, "x SUP");
    /* A whole secret inside a cut text is masked as usual. */
    char mid[16];
    format(mid, sizeof(mid), "SUPERSECRET and more");
    assert_string_equal(mid, "*** and");
}

static void test_redact_registry_grows_and_fails_closed_past_its_cap(void **state)
{
    (void)state;
    char secret[32], out[512];
    for (int i = 0; i < REPLAY_REDACT_MAX_SECRETS; i++) {
        snprintf(secret, sizeof(secret), "secret-%05d", i);
        replay_redact_add_secret(secret);
    }
    /* The 65th and the last one are masked like the first. */
    replay_redact("secret-00000 secret-00064 secret-04095 ok", out, sizeof(out));
    assert_string_equal(out, "*** *** *** ok");
    /* One more than the registry holds: nothing is printed any more but the reason. */
    replay_redact_add_secret("one-too-many");
    replay_redact("one-too-many secret-00000 ok", out, sizeof(out));
    assert_string_equal(out, REPLAY_REDACT_WITHHELD);
    format(out, sizeof(out), "%s", "one-too-many");
    assert_string_equal(out, REPLAY_REDACT_WITHHELD);
    /* Registering a known secret again is no failure. */
    replay_redact_reset();
    replay_redact_add_secret("again-and-again");
    replay_redact_add_secret("again-and-again");
    replay_redact("again-and-again", out, sizeof(out));
    assert_string_equal(out, "***");
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
        cmocka_unit_test_setup(test_redact_overlapping_secrets_are_masked_whole, reset),
        cmocka_unit_test_setup(test_redact_in_place_gives_the_same_text, reset),
        cmocka_unit_test_setup(test_redact_cut_never_leaves_the_start_of_a_secret, reset),
        cmocka_unit_test_setup(test_redact_registry_grows_and_fails_closed_past_its_cap, reset),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    replay_redact_reset();
    return rc;
}
