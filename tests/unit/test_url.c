/* Unit tests of common/url: percent-decoding as Python's unquote/unquote_plus. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_decode_escapes_in_any_case),
        cmocka_unit_test(test_url_decode_plus_is_space_only_when_asked),
        cmocka_unit_test(test_url_decode_keeps_invalid_escapes),
        cmocka_unit_test(test_url_decode_reports_embedded_nul_by_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
