/* Unit tests of common/url: splitting as Python's urlsplit, percent-decoding as
 * unquote/unquote_plus, percent-encoding as quote(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "replay/url.h"

static void expect(const char *in, bool plus, const char *want, size_t want_len)
{
    char out[128];
    size_t n = replay_url_decode(in, strlen(in), plus, out);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len + 1);
}

static void test_url_decode_escapes_in_any_case(void **state)
{
    (void)state;
    expect("p%40ss%2Fw%2b", false, "p@ss/w+", 7);
    expect("%e2%82%AC", false, "\xe2\x82\xac", 3);
}

static void test_url_decode_plus_is_space_only_when_asked(void **state)
{
    (void)state;
    expect("a+b", true, "a b", 3);
    expect("a+b", false, "a+b", 3);
    expect("a%2Bb", true, "a+b", 3);
}

static void test_url_decode_keeps_invalid_escapes(void **state)
{
    (void)state;
    expect("100%", false, "100%", 4);
    expect("%4", false, "%4", 2);
    expect("%zz%4g", false, "%zz%4g", 6);
    expect("", false, "", 0);
}

static void test_url_decode_reports_embedded_nul_by_length(void **state)
{
    (void)state;
    expect("a%00b", false, "a\0b", 3);
}

static void assert_range(struct replay_url_range r, const char *want)
{
    if (want == NULL) {
        assert_null(r.ptr);
        assert_int_equal(r.len, 0);
        return;
    }
    assert_non_null(r.ptr);
    assert_int_equal(r.len, strlen(want));
    assert_memory_equal(r.ptr, want, r.len);
}

static void test_url_split_userinfo_ends_at_the_last_at_and_user_at_the_first_colon(void **state)
{
    (void)state;
    struct replay_url_parts u;
    assert_true(replay_url_split(
        "s3://al_storage_key:Ch@ngeTh!s:Pa33@localhost:9000?s3_bucket=al&use_ssl=False", &u));
    assert_range(u.scheme, "s3");
    assert_range(u.userinfo, "al_storage_key:Ch@ngeTh!s:Pa33");
    assert_range(u.user, "al_storage_key");
    assert_range(u.password, "Ch@ngeTh!s:Pa33");
    assert_range(u.hostport, "localhost:9000");
    assert_range(u.path, NULL);
    assert_range(u.query, "s3_bucket=al&use_ssl=False");
    assert_range(u.fragment, NULL);
}

static void test_url_split_parts_absent_or_empty(void **state)
{
    (void)state;
    struct replay_url_parts u;
    assert_true(replay_url_split("file:///tmp/replay/output", &u));
    assert_range(u.userinfo, NULL);
    assert_range(u.user, NULL);
    assert_range(u.password, NULL);
    assert_range(u.hostport, "");
    assert_range(u.path, "/tmp/replay/output");

    assert_true(replay_url_split("redis://user@[::1]:6379/2#frag", &u));
    assert_range(u.user, "user");
    assert_range(u.password, NULL);
    assert_range(u.hostport, "[::1]:6379");
    assert_range(u.path, "/2");
    assert_range(u.query, NULL);
    assert_range(u.fragment, "frag");

    assert_true(replay_url_split("ftp://:@h?#", &u));
    assert_range(u.user, "");
    assert_range(u.password, "");
    assert_range(u.hostport, "h");
    assert_range(u.query, "");
    assert_range(u.fragment, "");
}

static void test_url_split_authority_ends_at_slash_query_or_fragment(void **state)
{
    (void)state;
    struct replay_url_parts u;
    /* An '@' after the authority is part of the path, not a userinfo. */
    assert_true(replay_url_split("sftp://host/dir/a@b?k=v@w", &u));
    assert_range(u.userinfo, NULL);
    assert_range(u.hostport, "host");
    assert_range(u.path, "/dir/a@b");
    assert_range(u.query, "k=v@w");
}

static void test_url_split_refuses_text_that_is_not_a_url(void **state)
{
    (void)state;
    struct replay_url_parts u;
    assert_false(replay_url_split("/tmp/replay", &u));
    assert_false(replay_url_split("://host", &u));
    assert_false(replay_url_split("a b://host", &u));
    assert_false(replay_url_split("dir/x://host", &u));
    assert_false(replay_url_split(NULL, &u));
    assert_range(u.scheme, NULL);
}

static void expect_quote(const char *in, const char *safe, const char *want)
{
    char out[128];
    assert_int_equal(replay_url_quote(in, safe, out, sizeof(out)), strlen(want));
    assert_string_equal(out, want);
}

static void test_url_quote_matches_python_quote_with_its_safe_characters(void **state)
{
    (void)state;
    /* quote(s) (safe='/'): the REST client's query values, FTP/SFTP/HTTP paths */
    expect_quote("TLP:CLEAR", "/", "TLP%3ACLEAR");
    expect_quote("a b,c", "/", "a%20b%2Cc");
    expect_quote("A-z_0.9~/x", "/", "A-z_0.9~/x");
    expect_quote("caf\xc3\xa9", "/", "caf%C3%A9");
    expect_quote("100%&=+?#", "/", "100%25%26%3D%2B%3F%23");
    expect_quote("", "/", "");
    /* quote(s, safe=''): S3 keys and query values (AWS's URI encoding) */
    expect_quote("a/b c", "", "a%2Fb%20c");
    expect_quote("a/b", NULL, "a%2Fb");
    /* the characters requests leaves in a path argument */
    expect_quote("yara_ET OPEN:1@x[0]", "!$&'()*+,:;=@[]", "yara_ET%20OPEN:1@x[0]");
    expect_quote("\x01\x7f\xff", "", "%01%7F%FF");
}

static void test_url_quote_reports_the_whole_length_when_the_buffer_is_short(void **state)
{
    (void)state;
    char out[6];
    memset(out, 'x', sizeof(out));
    assert_int_equal(replay_url_quote("a b c", "", out, sizeof(out)), 9);
    assert_int_equal(strlen(out), 5); /* cut, always terminated */
    assert_int_equal(replay_url_quote("a b c", "", NULL, 0), 9);
    assert_int_equal(replay_url_quote("abcde", "", out, sizeof(out)), 5);
    assert_string_equal(out, "abcde");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_decode_escapes_in_any_case),
        cmocka_unit_test(test_url_decode_plus_is_space_only_when_asked),
        cmocka_unit_test(test_url_decode_keeps_invalid_escapes),
        cmocka_unit_test(test_url_decode_reports_embedded_nul_by_length),
        cmocka_unit_test(test_url_split_userinfo_ends_at_the_last_at_and_user_at_the_first_colon),
        cmocka_unit_test(test_url_split_parts_absent_or_empty),
        cmocka_unit_test(test_url_split_authority_ends_at_slash_query_or_fragment),
        cmocka_unit_test(test_url_split_refuses_text_that_is_not_a_url),
        cmocka_unit_test(test_url_quote_matches_python_quote_with_its_safe_characters),
        cmocka_unit_test(test_url_quote_reports_the_whole_length_when_the_buffer_is_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
