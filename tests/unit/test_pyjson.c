/* Unit tests of pyjson: output compared with strings produced by CPython 3.11. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pyjson_int.h"

static void expect_dump(json_t *v, unsigned flags, const char *want)
{
    size_t len = 0;
    char *got = replay__pyjson_dumps(v, flags, &len);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
    json_decref(v);
}

static void test_pyjson_default_separators_keep_insertion_order(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:i, s:[i, i, {s:n, s:b}], s:s}", "b", 1, "a", 1, 2, "z", "y", 1,
                          "\xc3\xa9", "caf\xc3\xa9 \xf0\x9f\x98\x80 \x7f \x01 /\\\"\n");
    expect_dump(v, 0, "{\"b\": 1, \"a\": [1, 2, {\"z\": null, \"y\": true}], \"\\u00e9\": "
                      "\"caf\\u00e9 \\ud83d\\ude00 \\u007f \\u0001 /\\\\\\\"\\n\"}");
}

static void test_pyjson_sorted_compact_like_cart_metadata(void **state)
{
    (void)state;
    json_t *v = json_pack("{s:i, s:[i, i, {s:n, s:b}], s:s}", "b", 1, "a", 1, 2, "z", "y", 1,
                          "\xc3\xa9", "x");
    expect_dump(v, REPLAY__PYJSON_SORT_KEYS | REPLAY__PYJSON_COMPACT,
                "{\"a\":[1,2,{\"y\":true,\"z\":null}],\"b\":1,\"\\u00e9\":\"x\"}");
}

static void test_pyjson_floats_as_python_repr(void **state)
{
    (void)state;
    static const struct { double v; const char *want; } cases[] = {
        {0.1, "0.1"}, {1.0, "1.0"}, {-2.5, "-2.5"}, {1e16, "1e+16"},
        {1e15, "1000000000000000.0"}, {123456789.125, "123456789.125"}, {1e-4, "0.0001"},
        {1e-5, "1e-05"}, {0.00012345, "0.00012345"}, {1.5e300, "1.5e+300"}, {-0.0, "-0.0"},
        {5e-324, "5e-324"}, {12345.0, "12345.0"}, {1.0 / 3, "0.3333333333333333"},
        {2.5e-7, "2.5e-07"}, {100.0, "100.0"}, {1e22, "1e+22"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_dump(json_real(cases[i].v), 0, cases[i].want);
}

static void test_pyjson_empty_containers_and_scalars(void **state)
{
    (void)state;
    expect_dump(json_object(), 0, "{}");
    expect_dump(json_array(), 0, "[]");
    expect_dump(json_string(""), 0, "\"\"");
    expect_dump(json_integer(-9223372036854775807LL - 1), 0, "-9223372036854775808");
    expect_dump(json_false(), 0, "false");
}

static void test_pyjson_too_deep_nesting_fails(void **state)
{
    (void)state;
    json_t *root = json_array();
    json_t *cur = root;
    for (int i = 0; i < 1100; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    assert_null(replay__pyjson_dumps(root, 0, NULL));
    json_decref(root);
    assert_null(replay__pyjson_dumps(NULL, 0, NULL));
}

/* The sink of the escape tests: appends to a fixed buffer. */
struct sbuf {
    char buf[256];
    size_t len;
};

static void sbuf_put(void *ctx, const char *s, size_t n)
{
    struct sbuf *b = ctx;
    assert_true(b->len + n < sizeof(b->buf));
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

/* Expected values are json.dumps(b.decode("utf-8", errors="replace")) in CPython 3.11. */
static void test_pyjson_escape_replaces_invalid_utf8_as_python_decode_replace(void **state)
{
    (void)state;
    static const struct { const char *in; size_t n; const char *want; } cases[] = {
        {"caf\xc3\xa9", 5, "\"caf\\u00e9\""},
        {"\xf0\x9f\x98\x80", 4, "\"\\ud83d\\ude00\""},
        {"\xf4\x8f\xbf\xbf", 4, "\"\\udbff\\udfff\""},
        {"\xef\xbf\xbf", 3, "\"\\uffff\""},
        {"a\xff" "b", 3, "\"a\\ufffdb\""},
        {"\xe2\x82" "a", 3, "\"\\ufffda\""},
        {"\xe2\x82", 2, "\"\\ufffd\""},
        {"\xc3", 1, "\"\\ufffd\""},
        {"\xf0\x80\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},
        {"\xc0\x80", 2, "\"\\ufffd\\ufffd\""},
        {"\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
        {"x\0\x7f\x1f", 4, "\"x\\u0000\\u007f\\u001f\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sbuf b = {.len = 0};
        assert_int_equal(replay__pyjson_escape(cases[i].in, cases[i].n, REPLAY__PYJSON_REPLACE,
                                               sbuf_put, &b), 0);
        assert_string_equal(b.buf, cases[i].want);
    }
}

static void test_pyjson_invalid_utf8_fails_without_replace(void **state)
{
    (void)state;
    /* jansson's _nocheck constructors let such bytes in; dumps must not pass them on. */
    static const char *const bad[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\xff"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *v = json_string_nocheck(bad[i]);
        assert_null(replay__pyjson_dumps(v, 0, NULL));
        json_decref(v);
        struct sbuf b = {.len = 0};
        assert_int_equal(replay__pyjson_escape(bad[i], strlen(bad[i]), 0, sbuf_put, &b), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pyjson_default_separators_keep_insertion_order),
        cmocka_unit_test(test_pyjson_sorted_compact_like_cart_metadata),
        cmocka_unit_test(test_pyjson_floats_as_python_repr),
        cmocka_unit_test(test_pyjson_empty_containers_and_scalars),
        cmocka_unit_test(test_pyjson_too_deep_nesting_fails),
        cmocka_unit_test(test_pyjson_escape_replaces_invalid_utf8_as_python_decode_replace),
        cmocka_unit_test(test_pyjson_invalid_utf8_fails_without_replace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
