/* Unit tests of common/isotime: Assemblyline's timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "replay/isotime.h"

static struct replay_isotime parsed(const char *s)
{
    struct replay_isotime t;
    struct replay_err err = {0};
    assert_int_equal(replay_isotime_parse(s, strlen(s), &t, &err), 0);
    return t;
}

static void test_isotime_format_is_python_isoformat_with_z(void **state)
{
    (void)state;
    char buf[REPLAY_ISOTIME_LEN];
    struct replay_isotime t = {1714566896, 123456789}; /* 2024-05-01T12:34:56.123456789Z */
    assert_string_equal(replay_isotime_format(&t, buf, sizeof(buf)),
                        "2024-05-01T12:34:56.123456Z");
    t.nsec = 999; /* under a microsecond: Python prints no fraction */
    assert_string_equal(replay_isotime_format(&t, buf, sizeof(buf)), "2024-05-01T12:34:56Z");
    t = (struct replay_isotime){0, 1000};
    assert_string_equal(replay_isotime_format(&t, buf, sizeof(buf)),
                        "1970-01-01T00:00:00.000001Z");
}

static void test_isotime_format_clamps_years_out_of_four_digits(void **state)
{
    (void)state;
    char buf[REPLAY_ISOTIME_LEN];
    struct replay_isotime t = {INT64_MAX, 0};
    assert_string_equal(replay_isotime_format(&t, buf, sizeof(buf)), "9999-12-31T23:59:59Z");
    t.sec = INT64_MIN;
    assert_string_equal(replay_isotime_format(&t, buf, sizeof(buf)), "0001-01-01T00:00:00Z");
}

static void test_isotime_parse_round_trips_and_applies_offsets(void **state)
{
    (void)state;
    struct replay_isotime a = parsed("2024-05-01T12:34:56.123456Z");
    assert_int_equal(a.sec, 1714566896);
    assert_int_equal(a.nsec, 123456000);
    struct replay_isotime b = parsed("2024-05-01T14:34:56.123456+02:00");
    assert_int_equal(replay_isotime_cmp(&a, &b), 0);
    b = parsed("2024-05-01T07:04:56.123456-0530");
    assert_int_equal(replay_isotime_cmp(&a, &b), 0);
    b = parsed("2024-05-01T12:34:56Z");
    assert_int_equal(b.nsec, 0);
    assert_true(replay_isotime_cmp(&b, &a) < 0);
    b = parsed("1969-12-31T23:59:59.5Z");
    assert_int_equal(b.sec, -1);
    assert_int_equal(b.nsec, 500000000);
    b = parsed("2000-02-29T00:00:00Z"); /* a leap day */
    assert_int_equal(b.sec, 951782400);
}

static void test_isotime_parse_refuses_what_is_not_a_time(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "*",
        "now-1d",
        "2024-05-01",
        "2024-05-01T12:34:56",           /* no zone */
        "2024-13-01T00:00:00Z",          /* month */
        "2023-02-29T00:00:00Z",          /* not a leap year */
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:34:56.Z",         /* empty fraction */
        "2024-05-01T12:34:56.1234567890Z", /* ten digits */
        "2024-05-01T12:34:56Zjunk",
        "2024-05-01T12:34:56+25:00",
        "２０２４-05-01T12:34:56Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct replay_isotime t;
        struct replay_err err = {0};
        assert_int_equal(replay_isotime_parse(bad[i], strlen(bad[i]), &t, &err), REPLAY_EFORMAT);
        assert_non_null(strstr(err.msg, "not an ISO-8601 time"));
    }
    /* Bytes after the given length are not read. */
    struct replay_isotime t;
    assert_int_equal(replay_isotime_parse("2024-05-01T12:34:56Zjunk", 20, &t, NULL), 0);
}

static void test_isotime_cmp_text_orders_open_bounds_first_and_fractions_as_numbers(void **state)
{
    (void)state;
    int cmp = 99;
    assert_int_equal(replay_isotime_cmp_text("*", "2024-01-01T00:00:00Z", &cmp, NULL), 0);
    assert_true(cmp < 0);
    assert_int_equal(replay_isotime_cmp_text("2024-01-01T00:00:00Z", NULL, &cmp, NULL), 0);
    assert_true(cmp > 0);
    assert_int_equal(replay_isotime_cmp_text("", "*", &cmp, NULL), 0);
    assert_int_equal(cmp, 0);
    assert_int_equal(replay_isotime_cmp_text("2024-01-01T00:00:00.1Z",
                                             "2024-01-01T00:00:00.100000Z", &cmp, NULL), 0);
    assert_int_equal(cmp, 0);
    /* As text "...00.9Z" sorts after "...00.10Z"; as times it is before. */
    assert_int_equal(replay_isotime_cmp_text("2024-01-01T00:00:00.09Z",
                                             "2024-01-01T00:00:00.1Z", &cmp, NULL), 0);
    assert_true(cmp < 0);
    struct replay_err err = {0};
    assert_int_equal(replay_isotime_cmp_text("yesterday", "*", &cmp, &err), REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "yesterday"));
}

static void test_isotime_now_is_current(void **state)
{
    (void)state;
    struct replay_isotime a, b = parsed("2026-01-01T00:00:00Z");
    replay_isotime_now(&a);
    assert_true(replay_isotime_cmp(&a, &b) > 0);
    assert_true(a.nsec >= 0 && a.nsec < 1000000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isotime_format_is_python_isoformat_with_z),
        cmocka_unit_test(test_isotime_format_clamps_years_out_of_four_digits),
        cmocka_unit_test(test_isotime_parse_round_trips_and_applies_offsets),
        cmocka_unit_test(test_isotime_parse_refuses_what_is_not_a_time),
        cmocka_unit_test(test_isotime_cmp_text_orders_open_bounds_first_and_fractions_as_numbers),
        cmocka_unit_test(test_isotime_now_is_current),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
