/* Unit tests of al-sim's query evaluator (query.c), date handling (simtime.c) and
 * field paths (docpath.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "docpath.h"
#include "query.h"
#include "simtime.h"

/* 2024-05-01T12:00:00Z */
#define NOW_MS 1714564800000LL

static bool is_date(const char *field, void *ud)
{
    (void)ud;
    static const char *dates[] = {"reporting_ts", "times.completed", "times.submitted",
                                  "updated", "added", "last_modified", "last_edit", NULL};
    for (int i = 0; dates[i] != NULL; i++)
        if (strcmp(field, dates[i]) == 0)
            return true;
    return false;
}

static const struct alsim_query_opts opts = {.now_ms = NOW_MS, .is_date = is_date};

static json_t *doc(const char *text)
{
    json_error_t e;
    json_t *d = json_loads(text, 0, &e);
    if (d == NULL)
        fail_msg("bad test JSON: %s", e.text);
    return d;
}

/* Parses q (must succeed) and matches it against the JSON document text. */
static bool m(const char *q, const char *doctext)
{
    struct alsim_query *pq = NULL;
    char err[ALSIM_QUERY_ERR_LEN];
    if (alsim_query_parse(q, &opts, &pq, err) != 0)
        fail_msg("query [%s] did not parse: %s", q, err);
    json_t *d = doc(doctext);
    bool r = alsim_query_match(pq, d, "DOCID");
    json_decref(d);
    alsim_query_free(pq);
    return r;
}

/* Parses q, which must fail with a message containing `want`. */
static void bad(const char *q, const char *want)
{
    struct alsim_query *pq = (struct alsim_query *)1;
    char err[ALSIM_QUERY_ERR_LEN];
    assert_int_equal(alsim_query_parse(q, &opts, &pq, err), -1);
    assert_null(pq);
    if (strstr(err, want) == NULL)
        fail_msg("query [%s]: error '%s' lacks '%s'", q, err, want);
}

static const char *ALERT =
    "{\"alert_id\": \"A1\", \"reporting_ts\": \"2024-05-01T10:00:00.123456Z\","
    " \"extended_scan\": \"completed\", \"workflows_completed\": true, \"score\": 500,"
    " \"label\": [\"PHISH\", \"apt-1\"], \"metadata\": {\"replay\": \"pending\","
    " \"bundle.loaded\": \"2024-05-01T11:59:00Z\"}, \"title\": \"Hello big World\"}";
static const char *FRESH =
    "{\"alert_id\": \"A2\", \"reporting_ts\": \"2024-04-01T00:00:00Z\","
    " \"workflows_completed\": false, \"metadata\": {}}";

static void test_query_term_matches_exact_keyword_value(void **state)
{
    (void)state;
    assert_true(m("alert_id:A1", ALERT));
    assert_false(m("alert_id:a1", ALERT));
    assert_false(m("alert_id:A", ALERT));
    assert_true(m("metadata.replay:pending", ALERT));
    assert_true(m("workflows_completed:true", ALERT));
    assert_false(m("workflows_completed:true", FRESH));
    assert_true(m("workflows_completed:false", FRESH));
    assert_true(m("score:500", ALERT));
    assert_true(m("score:500.0", ALERT));
    assert_false(m("score:50", ALERT));
    assert_true(m("label:PHISH", ALERT));
    assert_true(m("label:apt-1", ALERT));
}

static void test_query_missing_field_satisfies_not(void **state)
{
    (void)state;
    assert_true(m("NOT metadata.replay:pending", FRESH));
    assert_true(m("NOT metadata.replay:done", FRESH));
    assert_false(m("NOT metadata.replay:pending", ALERT));
    assert_true(m("-metadata.replay:done", ALERT));
    assert_true(m("!metadata.replay:done", ALERT));
    assert_false(m("metadata.replay:pending", FRESH));
    assert_true(m("NOT extended_scan:submitted", FRESH));
}

static void test_query_flat_keys_with_dots_resolve(void **state)
{
    (void)state;
    assert_true(m("metadata.bundle.loaded:*", ALERT));
    assert_false(m("metadata.bundle.loaded:*", FRESH));
    assert_true(m("_exists_:metadata.bundle.loaded", ALERT));
    assert_true(m("metadata.bundle.loaded:\"2024-05-01T11:59:00Z\"", ALERT));
    assert_true(m("a.b.c:1", "{\"a\": {\"b.c\": 1}}"));
    assert_true(m("a.b.c:1", "{\"a.b\": {\"c\": 1}}"));
    assert_true(m("a.b.c:1", "{\"a\": [{\"b\": {\"c\": 2}}, {\"b\": {\"c\": 1}}]}"));
}

static void test_query_boolean_operators_follow_lucene(void **state)
{
    (void)state;
    assert_true(m("alert_id:A1 AND score:500", ALERT));
    assert_false(m("alert_id:A1 AND score:1", ALERT));
    assert_true(m("alert_id:X OR score:500", ALERT));
    assert_true(m("alert_id:X || score:500", ALERT));
    assert_false(m("alert_id:X && score:500", ALERT));
    /* default operator OR */
    assert_true(m("alert_id:X score:500", ALERT));
    assert_false(m("alert_id:X score:1", ALERT));
    /* a SHOULD beside a MUST is optional */
    assert_true(m("+alert_id:A1 score:1", ALERT));
    assert_false(m("+alert_id:A2 score:500", ALERT));
    /* "a OR NOT b" is "a AND NOT b" in Lucene */
    assert_false(m("alert_id:A1 OR NOT score:500", ALERT));
    assert_true(m("alert_id:A1 OR NOT score:1", ALERT));
    /* parentheses */
    assert_true(m("(alert_id:X OR alert_id:A1) AND (score:500)", ALERT));
    assert_false(m("(alert_id:X OR alert_id:Y) AND score:500", ALERT));
    assert_true(m("NOT (alert_id:X OR alert_id:Y)", ALERT));
    assert_true(m("alert_id:(X OR A1)", ALERT));
    assert_false(m("alert_id:(X OR Y)", ALERT));
    assert_true(m("((((alert_id:A1))))", ALERT));
}

static void test_query_phrases_and_escapes(void **state)
{
    (void)state;
    assert_true(m("title:\"Hello big World\"", ALERT));
    assert_false(m("title:\"Hello big\"", ALERT));
    assert_true(m("\"big world\"", ALERT));
    assert_true(m("k:\"a \\\"q\\\" b\"", "{\"k\": \"a \\\"q\\\" b\"}"));
    assert_true(m("k:a\\:b", "{\"k\": \"a:b\"}"));
    assert_true(m("k:a\\ b", "{\"k\": \"a b\"}"));
    assert_true(m("k:\\*", "{\"k\": \"*\"}"));
    assert_false(m("k:\\*", "{\"k\": \"x\"}"));
}

static void test_query_default_field_matches_words_case_insensitively(void **state)
{
    (void)state;
    assert_true(m("world", ALERT));
    assert_true(m("WORLD", ALERT));
    assert_false(m("wor", ALERT));
    assert_true(m("wor*", ALERT));
    assert_true(m("A1", ALERT));
    assert_false(m("nothere", ALERT));
    assert_true(m("*", FRESH));
    assert_true(m("*:*", FRESH));
}

static void test_query_wildcards_and_exists(void **state)
{
    (void)state;
    assert_true(m("alert_id:A*", ALERT));
    assert_true(m("alert_id:?1", ALERT));
    assert_false(m("alert_id:B*", ALERT));
    assert_true(m("id:*", ALERT));
    assert_true(m("id:DOCID", ALERT));
    assert_true(m("id:\"DOCID\"", FRESH));
    assert_false(m("id:OTHER", FRESH));
    assert_true(m("alert_id:*", FRESH));
    assert_false(m("nothere:*", FRESH));
    assert_false(m("n:*", "{\"n\": null}"));
    assert_false(m("n:*", "{\"n\": []}"));
    assert_true(m("NOT nothere:*", FRESH));
}

static void test_query_date_ranges_compare_instants(void **state)
{
    (void)state;
    assert_true(m("reporting_ts:[* TO now]", ALERT));
    assert_true(m("reporting_ts:{* TO now]", ALERT));
    assert_true(m("reporting_ts:[2024-05-01T10:00:00Z TO now]", ALERT));
    assert_true(m("reporting_ts:{2024-05-01T09:59:59.999Z TO now]", ALERT));
    assert_false(m("reporting_ts:[now-1h TO now]", ALERT));
    assert_true(m("reporting_ts:[now-2h TO now]", ALERT));
    assert_true(m("reporting_ts:[now-1d TO now-1h]", ALERT));
    assert_true(m("reporting_ts:[now-3600s TO *]", "{\"reporting_ts\": \"2024-05-01T11:30:00Z\"}"));
    assert_true(m("reporting_ts:[now-1M TO now]", "{\"reporting_ts\": \"2024-04-02T00:00:00Z\"}"));
    assert_false(m("reporting_ts:[now-1M TO now]", FRESH));
    assert_true(m("reporting_ts:[now-1y TO now-1w]", FRESH));
    assert_true(m("reporting_ts:[now-30m TO now+1d]", "{\"reporting_ts\": \"2024-05-01T11:45:00Z\"}"));
    /* time zones and epoch millis are instants too */
    assert_true(m("reporting_ts:[2024-05-01T12:00:00+02:00 TO 2024-05-01T10:00:00.123Z]", ALERT));
    assert_true(m("reporting_ts:[1714557600000 TO *]", ALERT));
    assert_true(m("reporting_ts:>=2024-05-01", ALERT));
    assert_false(m("reporting_ts:<2024-05-01", ALERT));
    assert_true(m("reporting_ts:<2024-05-01", FRESH));
    /* rounding: now/d is today 00:00; lte rounds up to the end of the day */
    assert_true(m("reporting_ts:[now/d TO now/d]", ALERT));
    assert_false(m("reporting_ts:{* TO now/d}", ALERT));
    /* a date term is the instant it names */
    assert_true(m("reporting_ts:2024-05-01T10\\:00\\:00.123Z", ALERT));
    assert_true(m("reporting_ts:\"2024-05-01T10:00:00.123999Z\"", ALERT));
}

static void test_query_ranges_are_compared_at_millisecond_precision(void **state)
{
    (void)state;
    /* .123456 and .123999 are the same millisecond, as in Elasticsearch */
    assert_false(m("reporting_ts:{2024-05-01T10:00:00.123999Z TO now]", ALERT));
    assert_true(m("reporting_ts:[2024-05-01T10:00:00.123999Z TO now]", ALERT));
    assert_true(m("reporting_ts:{2024-05-01T10:00:00.122Z TO 2024-05-01T10:00:00.123Z]", ALERT));
    assert_false(m("reporting_ts:{2024-05-01T10:00:00.122Z TO 2024-05-01T10:00:00.123Z}", ALERT));
}

static void test_query_mixed_brackets_include_and_exclude(void **state)
{
    (void)state;
    const char *d = "{\"n\": 5, \"s\": \"m\"}";
    assert_true(m("n:[5 TO 6}", d));
    assert_false(m("n:{5 TO 6]", d));
    assert_true(m("n:{4 TO 5]", d));
    assert_false(m("n:[4 TO 5}", d));
    assert_true(m("n:[* TO *]", d));
    assert_true(m("s:[a TO z]", d));
    assert_false(m("s:{m TO z]", d));
    assert_true(m("s:[\"m\" TO \"m\"]", d));
    assert_true(m("n:>4", d));
    assert_false(m("n:>5", d));
    assert_true(m("n:>=5", d));
    assert_true(m("n:<=5", d));
    assert_false(m("n:<5", d));
}

static void test_query_non_date_fields_compare_as_strings(void **state)
{
    (void)state;
    /* metadata values are strings in Assemblyline: date math is not applied */
    assert_false(m("metadata.bundle.loaded:[now-3600s TO now]", ALERT));
    assert_true(m("metadata.bundle.loaded:[2024-05-01T11:00:00 TO *]", ALERT));
}

static void test_query_replays_own_queries_parse_and_select(void **state)
{
    (void)state;
    assert_true(m("reporting_ts:{2024-04-30T00:00:00.000000Z TO now]", ALERT));
    assert_true(m("times.completed:[* TO now]", "{\"times\": {\"completed\": \"2024-01-01T00:00:00Z\"}}"));
    assert_true(m("updated:[2024-05-01T10:00:00.000000Z TO now]", "{\"updated\": \"2024-05-01T11:00:00Z\"}"));
    assert_true(m("last_modified:[* TO now]", "{\"last_modified\": \"2024-05-01T11:00:00Z\"}"));
    assert_true(m("last_edit:{2024-05-01T10:00:00Z TO now]", "{\"last_edit\": \"2024-05-01T11:00:00Z\"}"));
    assert_true(m("NOT extended_scan:submitted AND workflows_completed:true", ALERT));
    assert_true(m("metadata.replay:requested", "{\"metadata\": {\"replay\": \"requested\"}}"));
}

static void test_query_boost_and_fuzzy_suffixes_are_ignored(void **state)
{
    (void)state;
    assert_true(m("alert_id:A1^2", ALERT));
    assert_true(m("alert_id:A1~", ALERT));
    assert_true(m("title:\"hello world\"~2^3", "{\"title\": \"hello world\"}"));
    assert_true(m("(alert_id:A1)^2.5", ALERT));
}

static void test_query_bad_syntax_is_a_clear_error(void **state)
{
    (void)state;
    bad("", "empty query");
    bad("   ", "empty query");
    bad("field:", "unexpected end of query");
    bad("a AND", "expected a clause before the end");
    bad("AND a", "'AND' without a clause before it");
    bad("a OR OR b", "unexpected 'OR'");
    bad("NOT NOT a", "unexpected 'NOT'");
    bad("(a", "missing ')'");
    bad("a)", "unexpected ')'");
    bad("()", "empty group");
    bad("f:[a TO b", "expected ']' or '}'");
    bad("f:[a b]", "expected 'TO'");
    bad("f:[ TO b]", "expected 'TO'");
    bad("f:\"open", "unterminated quoted phrase");
    bad("a\\", "escape character");
    bad("f:/re/", "regular expressions");
    bad("f:^2", "unexpected character '^'");
    bad("a^", "expected a number after '^'");
    bad("fi*ld:x", "wildcard field names");
    bad("reporting_ts:[1d TO now]", "failed to parse date field [1d]");
    bad("reporting_ts:[now-1x TO now]", "failed to parse date field [now-1x]");
    bad("reporting_ts:2024-13-01", "failed to parse date field");
    bad("reporting_ts:2024*", "wildcard queries");
    bad("f:>", "expected a value after the comparison");
    bad("a:b:c:", "unexpected");
}

static void test_query_limits_are_enforced(void **state)
{
    (void)state;
    char *deep = malloc(ALSIM_QUERY_MAX_DEPTH * 2 + 16);
    size_t n = 0;
    for (int i = 0; i <= ALSIM_QUERY_MAX_DEPTH; i++)
        deep[n++] = '(';
    deep[n++] = 'a';
    for (int i = 0; i <= ALSIM_QUERY_MAX_DEPTH; i++)
        deep[n++] = ')';
    deep[n] = '\0';
    bad(deep, "nested deeper than");
    free(deep);

    size_t cap = (ALSIM_QUERY_MAX_CLAUSES + 2) * 4;
    char *many = malloc(cap);
    n = 0;
    for (int i = 0; i < ALSIM_QUERY_MAX_CLAUSES + 1; i++) {
        memcpy(many + n, "a:b ", 4);
        n += 4;
    }
    many[n] = '\0';
    bad(many, "too many clauses");
    free(many);

    char *huge = malloc(ALSIM_QUERY_MAX_LEN + 2);
    memset(huge, 'a', ALSIM_QUERY_MAX_LEN + 1);
    huge[ALSIM_QUERY_MAX_LEN + 1] = '\0';
    bad(huge, "longer than");
    free(huge);
}

static void test_query_error_message_shows_query_and_position(void **state)
{
    (void)state;
    bad("x:(a OR", "Failed to parse query [x:(a OR]");
    bad("x:(a OR", "at character 7");
}

static void test_query_free_null_does_nothing(void **state)
{
    (void)state;
    alsim_query_free(NULL);
    assert_false(alsim_query_match(NULL, NULL, NULL));
}

static void test_glob_handles_stars_and_questions(void **state)
{
    (void)state;
    assert_true(alsim_glob("a*c", "abbbc", false));
    assert_true(alsim_glob("*", "", false));
    assert_true(alsim_glob("a?c", "abc", false));
    assert_false(alsim_glob("a?c", "ac", false));
    assert_true(alsim_glob("*b*", "abc", false));
    assert_false(alsim_glob("A*", "abc", false));
    assert_true(alsim_glob("A*", "abc", true));
    assert_true(alsim_glob("a**b", "ab", false));
}

static void expect_date(const char *text, int64_t want)
{
    int64_t got = 0;
    if (alsim_parse_date(text, strlen(text), &got) != 0)
        fail_msg("date [%s] did not parse", text);
    assert_int_equal(got, want);
}

static void expect_not_date(const char *text)
{
    int64_t got = 0;
    assert_int_equal(alsim_parse_date(text, strlen(text), &got), -1);
}

static void test_time_parses_iso_forms_and_epoch_millis(void **state)
{
    (void)state;
    expect_date("2024-05-01T12:00:00Z", NOW_MS);
    expect_date("2024-05-01T12:00:00.000000Z", NOW_MS);
    expect_date("2024-05-01T12:00:00.9999999Z", NOW_MS + 999);
    expect_date("2024-05-01T14:00:00+02:00", NOW_MS);
    expect_date("2024-05-01T07:00:00-0500", NOW_MS);
    expect_date("2024-05-01T12:00", NOW_MS);
    expect_date("2024-05-01T12", NOW_MS);
    expect_date("2024-05-01", NOW_MS - 12 * 3600000LL);
    expect_date("2024", 1704067200000LL);
    expect_date("1714564800000", NOW_MS);
    expect_date("1970-01-01T00:00:00Z", 0);
    expect_date("1969-12-31T23:59:59.999Z", -1);
    expect_date("2024-02-29", 1709164800000LL);
    expect_not_date("2023-02-29");
    expect_not_date("2024-05-01T25:00:00Z");
    expect_not_date("2024-05-01T12:00:00ZZ");
    expect_not_date("2024-5-1");
    expect_not_date("now");
    expect_not_date("");
    expect_not_date("12345678901234567890");
}

static void test_time_formats_like_assemblyline(void **state)
{
    (void)state;
    char buf[ALSIM_ISO_LEN];
    alsim_iso_from_us(NOW_MS * 1000 + 123456, buf);
    assert_string_equal(buf, "2024-05-01T12:00:00.123456Z");
    alsim_iso_from_us(NOW_MS * 1000, buf);
    assert_string_equal(buf, "2024-05-01T12:00:00Z");
    alsim_iso_from_us(NOW_MS * 1000 + 1, buf);
    assert_string_equal(buf, "2024-05-01T12:00:00.000001Z");
    alsim_iso_now(buf);
    assert_int_equal(buf[4], '-');
}

static void test_time_date_math_adds_rounds_and_clamps(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(alsim_parse_datemath("now-1d", 6, NOW_MS, false, &v), 0);
    assert_int_equal(v, NOW_MS - 86400000LL);
    assert_int_equal(alsim_parse_datemath("now+2h-30m", 10, NOW_MS, false, &v), 0);
    assert_int_equal(v, NOW_MS + 90 * 60000LL);
    assert_int_equal(alsim_parse_datemath("now/d", 5, NOW_MS, false, &v), 0);
    assert_int_equal(v, NOW_MS - 12 * 3600000LL);
    assert_int_equal(alsim_parse_datemath("now/d", 5, NOW_MS, true, &v), 0);
    assert_int_equal(v, NOW_MS + 12 * 3600000LL - 1);
    const char *jan31 = "2024-01-31||+1M";
    assert_int_equal(alsim_parse_datemath(jan31, strlen(jan31), NOW_MS, false, &v), 0);
    expect_date("2024-02-29", v);
    const char *wk = "2024-05-01||/w"; /* a Wednesday; the week starts on Monday */
    assert_int_equal(alsim_parse_datemath(wk, strlen(wk), NOW_MS, false, &v), 0);
    expect_date("2024-04-29", v);
    assert_int_equal(alsim_parse_datemath("now-1y", 6, NOW_MS, false, &v), 0);
    expect_date("2023-05-01T12:00:00Z", v);
    assert_int_equal(alsim_parse_datemath("now-", 4, NOW_MS, false, &v), -1);
    assert_int_equal(alsim_parse_datemath("now/x", 5, NOW_MS, false, &v), -1);
    assert_int_equal(alsim_parse_datemath("now-999999999999d", 17, NOW_MS, false, &v), -1);
    assert_int_equal(alsim_parse_datemath("now-1q", 6, NOW_MS, false, &v), -1);
    assert_int_equal(alsim_parse_datemath("nowx", 4, NOW_MS, false, &v), -1);
}

static void test_docpath_projection_keeps_nesting(void **state)
{
    (void)state;
    json_t *src = doc("{\"sid\": \"S\", \"times\": {\"completed\": \"T\", \"submitted\": \"U\"},"
                      " \"metadata\": {\"bundle.loaded\": \"L\", \"replay\": \"done\"},"
                      " \"files\": [{\"name\": \"a\", \"size\": 1}, {\"name\": \"b\"}]}");
    json_t *dst = json_object();
    assert_int_equal(alsim_path_project(src, dst, "sid"), 0);
    assert_int_equal(alsim_path_project(src, dst, "times.completed"), 0);
    assert_int_equal(alsim_path_project(src, dst, "metadata.bundle.loaded"), 0);
    assert_int_equal(alsim_path_project(src, dst, "files.name"), 0);
    assert_int_equal(alsim_path_project(src, dst, "nothere.x"), 0);
    char *s = json_dumps(dst, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"files\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
                           "\"metadata\":{\"bundle.loaded\":\"L\"},"
                           "\"sid\":\"S\",\"times\":{\"completed\":\"T\"}}");
    free(s);
    /* a whole object after a part of it, and the reverse, give the whole */
    assert_int_equal(alsim_path_project(src, dst, "times"), 0);
    assert_int_equal(alsim_path_project(src, dst, "times.completed"), 0);
    assert_ptr_equal(json_object_get(dst, "times"), json_object_get(src, "times"));
    assert_int_equal(json_object_size(json_object_get(src, "times")), 2);
    json_decref(dst);
    json_decref(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_term_matches_exact_keyword_value),
        cmocka_unit_test(test_query_missing_field_satisfies_not),
        cmocka_unit_test(test_query_flat_keys_with_dots_resolve),
        cmocka_unit_test(test_query_boolean_operators_follow_lucene),
        cmocka_unit_test(test_query_phrases_and_escapes),
        cmocka_unit_test(test_query_default_field_matches_words_case_insensitively),
        cmocka_unit_test(test_query_wildcards_and_exists),
        cmocka_unit_test(test_query_date_ranges_compare_instants),
        cmocka_unit_test(test_query_ranges_are_compared_at_millisecond_precision),
        cmocka_unit_test(test_query_mixed_brackets_include_and_exclude),
        cmocka_unit_test(test_query_non_date_fields_compare_as_strings),
        cmocka_unit_test(test_query_replays_own_queries_parse_and_select),
        cmocka_unit_test(test_query_boost_and_fuzzy_suffixes_are_ignored),
        cmocka_unit_test(test_query_bad_syntax_is_a_clear_error),
        cmocka_unit_test(test_query_limits_are_enforced),
        cmocka_unit_test(test_query_error_message_shows_query_and_position),
        cmocka_unit_test(test_query_free_null_does_nothing),
        cmocka_unit_test(test_glob_handles_stars_and_questions),
        cmocka_unit_test(test_time_parses_iso_forms_and_epoch_millis),
        cmocka_unit_test(test_time_formats_like_assemblyline),
        cmocka_unit_test(test_time_date_math_adds_rounds_and_clamps),
        cmocka_unit_test(test_docpath_projection_keeps_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
