/* Unit tests of common/jsonstream: JSON checked as it streams, arrays split. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay/jsonstream.h"

#define MAX_SEEN 16

struct seen {
    size_t n;
    char *json[MAX_SEEN];
    size_t len[MAX_SEEN];
    char skipped[MAX_SEEN][64];
    int stop_at; /* return REPLAY_ECANCELED at this element (-1: never) */
};

static int collect(void *ctx, const struct replay_jsonstream_item *it, struct replay_err *err)
{
    struct seen *s = ctx;
    assert_int_equal(it->index, s->n);
    if ((int)it->index == s->stop_at)
        return replay_err_set(err, REPLAY_ECANCELED, "stopped by the test");
    if (s->n < MAX_SEEN) {
        s->json[s->n] = it->json != NULL ? strdup(it->json) : NULL;
        s->len[s->n] = it->len;
        snprintf(s->skipped[s->n], sizeof(s->skipped[0]), "%s", it->skipped ? it->skipped : "");
    }
    s->n++;
    return 0;
}

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n && i < MAX_SEEN; i++)
        free(s->json[i]);
    memset(s, 0, sizeof(*s));
}

/* Feeds `text` in pieces of `step` bytes; returns the first error code. */
static int run(const char *text, size_t len, size_t step,
               const struct replay_jsonstream_opts *o, struct replay_err *err)
{
    struct replay_jsonstream *s = NULL;
    int code = replay_jsonstream_new(o, &s, err);
    for (size_t i = 0; code == 0 && i < len; i += step)
        code = replay_jsonstream_feed(s, text + i, len - i < step ? len - i : step, err);
    if (code == 0)
        code = replay_jsonstream_finish(s, err);
    replay_jsonstream_free(s);
    return code;
}

static int check(const char *text, enum replay_jsonstream_expect expect, struct replay_err *err)
{
    struct replay_jsonstream_opts o = {.expect = expect};
    return run(text, strlen(text), strlen(text) + 1, &o, err);
}

static void test_jsonstream_accepts_what_python_json_loads_accepts(void **state)
{
    (void)state;
    const char *good[] = {
        "{}", "[]", " {\"a\": [1, -2.5e+3, 0, 0.0, 1E9, true, false, null]} ",
        "\"caf\xc3\xa9 \\u00e9 \\\" \\\\ \\/ \\b\\f\\n\\r\\t\"", "0", "-0", "12",
        "[NaN, Infinity, -Infinity]", "\"\xf0\x9f\x98\x80\"", "\"\xef\xbf\xbf\"",
        "\"\\ud800\"", /* a lone surrogate escape: Python accepts it */
        "\n\t\r [ [ [ ] ] ] \n",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct replay_err err = {0};
        assert_int_equal(check(good[i], REPLAY_JSONSTREAM_ANY, &err), 0);
    }
}

static void test_jsonstream_refuses_bad_json_naming_the_byte(void **state)
{
    (void)state;
    struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"", "empty JSON text"},
        {"   ", "empty JSON text"},
        {"[1, 2", "before its value is complete"},
        {"{\"a\": \"b", "inside a string"},
        {"[1,]", "expected a value"},
        {"[1 2]", "expected ',' or ']'"},
        {"{\"a\" 1}", "expected ':'"},
        {"{\"a\": 1,}", "expected a key string"},
        {"{1: 2}", "expected a key string"},
        {"{\"a\": 1]", "expected ',' or '}'"},
        {"[1] x", "unexpected data after"},
        {"{} {}", "unexpected data after"},
        {"01", "leading zero"},
        {"1.", "before its value is complete"},
        {"[1.]", "invalid number"},
        {"-", "before its value is complete"},
        {"[-a]", "invalid number"},
        {"[1e]", "invalid number"},
        {"[.5]", "expected a value"},
        {"tru", "before its value is complete"},
        {"[trUe]", "invalid literal"},
        {"[nan]", "invalid literal"},
        {"\"a\tb\"", "control character"},
        {"\"\\x\"", "invalid escape"},
        {"\"\\u12g4\"", "invalid \\u escape"},
        {"\"\xc0\x80\"", "invalid UTF-8"},         /* overlong NUL */
        {"\"\xe0\x80\xaf\"", "invalid UTF-8"},     /* overlong '/' */
        {"\"\xed\xa0\x80\"", "invalid UTF-8"},     /* an encoded surrogate */
        {"\"\xf4\x90\x80\x80\"", "invalid UTF-8"}, /* past U+10FFFF */
        {"\"\xf5\x80\x80\x80\"", "invalid UTF-8"},
        {"\"\x80\"", "invalid UTF-8"},
        {"\"\xc3(\"", "invalid UTF-8"},
        {"\xef\xbb\xbf{}", "expected a value"}, /* a byte order mark */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct replay_err err = {0};
        assert_int_equal(check(bad[i].text, REPLAY_JSONSTREAM_ANY, &err), REPLAY_EFORMAT);
        if (strstr(err.msg, bad[i].why) == NULL)
            fail_msg("\"%s\": %s (expected \"%s\")", bad[i].text, err.msg, bad[i].why);
        assert_non_null(strstr(err.msg, "invalid JSON at byte "));
    }
    struct replay_err err = {0};
    assert_int_equal(check("[1, 2 x]", REPLAY_JSONSTREAM_ANY, &err), REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "at byte 6:"));
}

static void test_jsonstream_checks_the_expected_top_level_kind(void **state)
{
    (void)state;
    struct replay_err err = {0};
    assert_int_equal(check("{\"a\": 1}", REPLAY_JSONSTREAM_OBJECT, NULL), 0);
    assert_int_equal(check("[]", REPLAY_JSONSTREAM_OBJECT, &err), REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "expected a JSON object"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(check(" \"x\"", REPLAY_JSONSTREAM_ARRAY, &err), REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "expected a JSON array"));
    assert_non_null(strstr(err.msg, "byte 1:"));
}

static void test_jsonstream_splits_elements_exactly_whatever_the_piece_size(void **state)
{
    (void)state;
    const char *text = " [ {\"id\": \"a\", \"x\": [1, {\"]\": \"[,\"}]} , 12 ,\"s\\\"]\" ,"
                       "-1.5e3,[],{},true, null]  ";
    const char *want[] = {"{\"id\": \"a\", \"x\": [1, {\"]\": \"[,\"}]}", "12", "\"s\\\"]\"",
                          "-1.5e3", "[]", "{}", "true", "null"};
    for (size_t step = 1; step <= strlen(text) + 1; step++) {
        struct seen s = {.stop_at = -1};
        struct replay_jsonstream_opts o = {.on_item = collect, .ctx = &s};
        assert_int_equal(run(text, strlen(text), step, &o, NULL), 0);
        assert_int_equal(s.n, 8);
        for (size_t i = 0; i < 8; i++)
            assert_string_equal(s.json[i], want[i]);
        seen_free(&s);
    }
}

static void test_jsonstream_hands_out_no_element_of_an_empty_array(void **state)
{
    (void)state;
    struct seen s = {.stop_at = -1};
    struct replay_jsonstream_opts o = {.on_item = collect, .ctx = &s};
    assert_int_equal(run("[ ]", 3, 1, &o, NULL), 0);
    assert_int_equal(s.n, 0);
    struct replay_err err = {0};
    assert_int_equal(run("{\"a\": [1]}", 10, 10, &o, &err), REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "expected a JSON array"));
    assert_int_equal(s.n, 0);
}

static void test_jsonstream_skips_an_oversized_element_and_goes_on(void **state)
{
    (void)state;
    const char *text = "[\"small\", \"this one is far too long\", 7]";
    for (size_t step = 1; step <= 9; step += 4) {
        struct seen s = {.stop_at = -1};
        struct replay_jsonstream_opts o = {.on_item = collect, .ctx = &s, .max_item = 10};
        assert_int_equal(run(text, strlen(text), step, &o, NULL), 0);
        assert_int_equal(s.n, 3);
        assert_string_equal(s.json[0], "\"small\"");
        assert_null(s.json[1]);
        assert_int_equal(s.len[1], strlen("\"this one is far too long\""));
        assert_string_equal(s.skipped[1], "larger than 10 bytes");
        assert_string_equal(s.json[2], "7");
        seen_free(&s);
    }
}

static void test_jsonstream_caps_nesting_depth(void **state)
{
    (void)state;
    char deep[2 * 600 + 1];
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    deep[1200] = '\0';
    struct replay_err err = {0};
    assert_int_equal(check(deep, REPLAY_JSONSTREAM_ANY, &err), REPLAY_ETOOBIG);
    assert_non_null(strstr(err.msg, "deeper than 512 levels"));
    struct replay_jsonstream_opts o = {.max_depth = 600};
    assert_int_equal(run(deep, 1200, 7, &o, NULL), 0);
    o.max_depth = 599;
    assert_int_equal(run(deep, 1200, 7, &o, NULL), REPLAY_ETOOBIG);
}

static void test_jsonstream_stops_when_the_callback_fails(void **state)
{
    (void)state;
    struct seen s = {.stop_at = 1};
    struct replay_jsonstream_opts o = {.on_item = collect, .ctx = &s};
    struct replay_jsonstream *js = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_jsonstream_new(&o, &js, NULL), 0);
    assert_int_equal(replay_jsonstream_feed(js, "[1, 2, 3]", 9, &err), REPLAY_ECANCELED);
    assert_string_equal(err.msg, "stopped by the test");
    assert_int_equal(s.n, 1);
    assert_int_equal(replay_jsonstream_feed(js, "]", 1, NULL), REPLAY_EINVAL);
    assert_int_equal(replay_jsonstream_finish(js, NULL), REPLAY_EINVAL);
    replay_jsonstream_free(js);
    seen_free(&s);
}

static void test_jsonstream_counts_elements_and_bytes(void **state)
{
    (void)state;
    struct replay_jsonstream_opts o = {.expect = REPLAY_JSONSTREAM_ARRAY};
    struct replay_jsonstream *js = NULL;
    assert_int_equal(replay_jsonstream_new(&o, &js, NULL), 0);
    assert_int_equal(replay_jsonstream_feed(js, "[{\"a\": [1, 2]}, 3, ", 19, NULL), 0);
    assert_int_equal(replay_jsonstream_items(js), 2);
    assert_int_equal(replay_jsonstream_feed(js, "4]", 2, NULL), 0);
    assert_int_equal(replay_jsonstream_finish(js, NULL), 0);
    assert_int_equal(replay_jsonstream_items(js), 3);
    assert_int_equal(replay_jsonstream_offset(js), 21);
    replay_jsonstream_free(js);
    replay_jsonstream_free(NULL);
}

static void test_jsonstream_refuses_on_item_with_an_object_expected(void **state)
{
    (void)state;
    struct seen s = {.stop_at = -1};
    struct replay_jsonstream_opts o = {.expect = REPLAY_JSONSTREAM_OBJECT, .on_item = collect,
                                       .ctx = &s};
    struct replay_jsonstream *js = NULL;
    assert_int_equal(replay_jsonstream_new(&o, &js, NULL), REPLAY_EINVAL);
    assert_null(js);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonstream_accepts_what_python_json_loads_accepts),
        cmocka_unit_test(test_jsonstream_refuses_bad_json_naming_the_byte),
        cmocka_unit_test(test_jsonstream_checks_the_expected_top_level_kind),
        cmocka_unit_test(test_jsonstream_splits_elements_exactly_whatever_the_piece_size),
        cmocka_unit_test(test_jsonstream_hands_out_no_element_of_an_empty_array),
        cmocka_unit_test(test_jsonstream_skips_an_oversized_element_and_goes_on),
        cmocka_unit_test(test_jsonstream_caps_nesting_depth),
        cmocka_unit_test(test_jsonstream_stops_when_the_callback_fails),
        cmocka_unit_test(test_jsonstream_counts_elements_and_bytes),
        cmocka_unit_test(test_jsonstream_refuses_on_item_with_an_object_expected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
