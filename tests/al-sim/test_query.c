/* Unit tests of al-sim's query evaluator (query.c), date handling (simtime.c),
 * field paths (docpath.c), field types (fields.c) and sorting (sort.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "docpath.h"
#include "fields.h"
#include "query.h"
#include "simtime.h"
#include "sort.h"

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

/* ---------- field types and sorting ---------- */

static void test_fields_follow_the_index_mappings(void **state)
{
    (void)state;
    bool dv = true;
    assert_int_equal(alsim_field_type(ALSIM_ALERT, "reporting_ts", &dv), ALSIM_F_DATE);
    assert_true(dv);
    assert_int_equal(alsim_field_type(ALSIM_ALERT, "al.request_end_time", &dv), ALSIM_F_DATE);
    assert_false(dv); /* not indexed by the model */
    assert_int_equal(alsim_field_type(ALSIM_SIGNATURE, "stats.last_hit", NULL), ALSIM_F_DATE);
    assert_int_equal(alsim_field_type(ALSIM_SUBMISSION, "times.completed", NULL), ALSIM_F_DATE);
    assert_int_equal(alsim_field_type(ALSIM_ALERT, "metadata.bundle.loaded", &dv),
                     ALSIM_F_WILDCARD);
    assert_true(dv);
    assert_int_equal(alsim_field_type(ALSIM_BADLIST, "metadata.replay", NULL), ALSIM_F_NONE);
    assert_int_equal(alsim_field_type(ALSIM_ALERT, "metadata", NULL), ALSIM_F_NONE);
    assert_int_equal(alsim_field_type(ALSIM_SUBMISSION, "times", NULL), ALSIM_F_NONE);
    assert_int_equal(alsim_field_type(ALSIM_SUBMISSION, "params.description", &dv),
                     ALSIM_F_TEXT);
    assert_false(dv);
    assert_int_equal(alsim_field_type(ALSIM_WORKFLOW, "id", NULL), ALSIM_F_KEYWORD);
    assert_int_equal(alsim_field_type(ALSIM_WORKFLOW, "nosuch", &dv), ALSIM_F_NONE);
    assert_false(dv);
    assert_int_equal(alsim_field_type(ALSIM_COLL_COUNT, "id", NULL), ALSIM_F_NONE);
    assert_string_equal(alsim_ftype_name(ALSIM_F_KEYWORD), "keyword");
    for (int c = 0; c < ALSIM_COLL_COUNT; c++) { /* bsearch needs the tables sorted */
        for (size_t i = 1; i < ALSIM_FIELD_TABLES[c].n; i++)
            assert_true(strcmp(ALSIM_FIELD_TABLES[c].v[i - 1].name,
                               ALSIM_FIELD_TABLES[c].v[i].name) < 0);
        for (const char *const *f = ALSIM_STORED_FIELDS[c]; *f != NULL; f++)
            if (alsim_field_type((enum alsim_coll)c, *f, NULL) == ALSIM_F_NONE)
                fail_msg("stored field %s of collection %d is not mapped", *f, c);
    }
    assert_string_equal(ALSIM_STORED_FIELDS[ALSIM_SUBMISSION][11], "times.submitted");
}

/* Parses `text` (must succeed) and returns "field asc|desc;..." in buf. */
static const char *sorted_keys(const char *text, char *buf, size_t len)
{
    struct alsim_sort s;
    char err[ALSIM_SORT_ERR_LEN];
    if (alsim_sort_parse(text, &s, err) != 0)
        fail_msg("sort [%s] did not parse: %s", text, err);
    buf[0] = '\0';
    for (int i = 0; i < s.n; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s %s", i ? ";" : "", s.keys[i].field,
                 s.keys[i].desc ? "desc" : "asc");
    alsim_sort_free(&s);
    return buf;
}

/* Parses `text`, which must fail with exactly `want`. */
static void bad_sort(const char *text, const char *want)
{
    struct alsim_sort s;
    char err[ALSIM_SORT_ERR_LEN];
    assert_int_equal(alsim_sort_parse(text, &s, err), -1);
    assert_null(s.text);
    assert_string_equal(err, want);
}

static void test_sort_takes_fields_with_a_lower_case_direction(void **state)
{
    (void)state;
    char b[256];
    assert_string_equal(sorted_keys("reporting_ts asc", b, sizeof(b)), "reporting_ts asc");
    assert_string_equal(sorted_keys("times.completed desc", b, sizeof(b)),
                        "times.completed desc");
    assert_string_equal(sorted_keys(" a asc ,b desc,\tc asc\n", b, sizeof(b)),
                        "a asc;b desc;c asc");
    assert_string_equal(sorted_keys("_id desc", b, sizeof(b)), "id desc");
}

static void test_sort_refuses_what_the_datastore_refuses(void **state)
{
    (void)state;
    bad_sort("reporting_ts ASC", "Unknown sort parameter reporting_ts ASC");
    bad_sort("reporting_ts sideways", "Unknown sort parameter reporting_ts sideways");
    bad_sort("reporting_ts  asc", "Unknown sort parameter reporting_ts  asc");
    bad_sort(" reporting_ts asc", "Unknown sort parameter  reporting_ts asc"); /* not stripped */
    bad_sort("a asc desc", "Unknown sort parameter a asc desc");
    bad_sort("a asc, b up", "Unknown sort parameter b up"); /* the stripped part */
    bad_sort("a, b up", "Unknown sort parameter b up");    /* before Elasticsearch's error */
}

static void test_sort_without_a_direction_is_malformed_for_elasticsearch(void **state)
{
    (void)state;
    const char *want =
        "malformed sort format, within the sort array, an object, or an actual string are allowed";
    bad_sort("reporting_ts", want);
    bad_sort("", want);
    bad_sort("a asc,", want);
    bad_sort("a asc,,b desc", want);
    bad_sort("reporting_ts\tasc", want);
}

static void test_sort_given_as_a_list_parses_each_part_unstripped(void **state)
{
    (void)state;
    struct alsim_sort s;
    char err[ALSIM_SORT_ERR_LEN];
    const char *ok[] = {"a asc", "_id desc"};
    assert_int_equal(alsim_sort_parse_list(ok, 2, &s, err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[1].field, "id");
    alsim_sort_free(&s);
    const char *padded[] = {"a asc", " b desc"};
    assert_int_equal(alsim_sort_parse_list(padded, 2, &s, err), -1);
    assert_string_equal(err, "Unknown sort parameter  b desc");
    const char *nested[] = {"a asc, b desc"};
    assert_int_equal(alsim_sort_parse_list(nested, 1, &s, err), -1);
    assert_non_null(strstr(err, "malformed sort format"));
    alsim_sort_free(NULL);
}

static void test_sort_has_a_cap_on_its_fields(void **state)
{
    (void)state;
    char text[ALSIM_SORT_MAX_KEYS * 8 + 16] = "";
    for (int i = 0; i <= ALSIM_SORT_MAX_KEYS; i++)
        strcat(text, i ? ",a asc" : "a asc");
    struct alsim_sort s;
    char err[ALSIM_SORT_ERR_LEN];
    assert_int_equal(alsim_sort_parse(text, &s, err), -1);
    assert_non_null(strstr(err, "at most 64 fields"));
}

/* Checks `text` against collection c: NULL wants success, else exactly `want`. */
static void check_sort(enum alsim_coll c, const char *text, const char *want)
{
    struct alsim_sort s;
    char err[ALSIM_SORT_ERR_LEN];
    if (alsim_sort_parse(text, &s, err) != 0)
        fail_msg("sort [%s] did not parse: %s", text, err);
    int rc = alsim_sort_check(&s, c, err);
    alsim_sort_free(&s);
    if (want == NULL && rc != 0)
        fail_msg("sort [%s] refused: %s", text, err);
    if (want != NULL) {
        assert_int_equal(rc, -1);
        assert_string_equal(err, want);
    }
}

static void test_sort_check_refuses_fields_elasticsearch_cannot_sort_on(void **state)
{
    (void)state;
    check_sort(ALSIM_ALERT, "reporting_ts asc", NULL);
    check_sort(ALSIM_SUBMISSION, "times.completed asc, sid desc", NULL);
    check_sort(ALSIM_ALERT, "metadata.replay asc, _score desc, _doc asc", NULL);
    check_sort(ALSIM_WORKFLOW, "_id asc", NULL);
    check_sort(ALSIM_ALERT, "nosuch asc", "No mapping found for [nosuch] in order to sort on");
    check_sort(ALSIM_SUBMISSION, "sid asc, times desc",
               "No mapping found for [times] in order to sort on");
    check_sort(ALSIM_BADLIST, "metadata.replay asc",
               "No mapping found for [metadata.replay] in order to sort on");
    check_sort(ALSIM_SUBMISSION, "scan_key asc",
               "Can't load fielddata on [scan_key] because fielddata is unsupported on fields "
               "of type [keyword]. Use doc values instead.");
    struct alsim_sort s;
    char err[ALSIM_SORT_ERR_LEN];
    assert_int_equal(alsim_sort_parse("data desc", &s, err), 0);
    assert_int_equal(alsim_sort_check(&s, ALSIM_SIGNATURE, err), -1);
    assert_non_null(strstr(err, "Text fields are not optimised"));
    assert_non_null(strstr(err, "set fielddata=true on [data]"));
    alsim_sort_free(&s);
    for (int c = 0; c < ALSIM_COLL_COUNT; c++) /* every default sort is a valid one */
        check_sort((enum alsim_coll)c, alsim_default_sort((enum alsim_coll)c), NULL);
}

/* Sorts the items of a {"id": doc} object by `text`; returns their ids joined. */
static const char *order_of(enum alsim_coll c, const char *docs, const char *text, char *buf,
                            size_t len)
{
    json_t *all = doc(docs);
    struct alsim_item items[8];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(all, k, v) {
        items[n].id = strdup(k);
        items[n++].doc = json_incref(v);
    }
    struct alsim_sort s;
    char err[ALSIM_SORT_ERR_LEN];
    assert_int_equal(alsim_sort_parse(text, &s, err), 0);
    assert_int_equal(alsim_sort_items(items, n, c, &s, err), 0);
    alsim_sort_free(&s);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "," : "", items[i].id);
        free(items[i].id);
        json_decref(items[i].doc);
    }
    json_decref(all);
    return buf;
}

static void test_sort_orders_dates_as_instants_and_missing_values_last(void **state)
{
    (void)state;
    char b[128];
    const char *docs = "{\"a\": {\"reporting_ts\": \"2024-05-01T10:00:00+02:00\"},"
                       " \"b\": {\"reporting_ts\": \"2024-05-01T09:00:00.000001Z\"},"
                       " \"c\": {},"
                       " \"d\": {\"reporting_ts\": \"2024-05-01T08:30:00Z\"}}";
    assert_string_equal(order_of(ALSIM_ALERT, docs, "reporting_ts asc", b, sizeof(b)),
                        "a,d,b,c");
    assert_string_equal(order_of(ALSIM_ALERT, docs, "reporting_ts desc", b, sizeof(b)),
                        "b,d,a,c");
    const char *tags = "{\"x\": {\"label\": [\"m\", \"a\"]}, \"y\": {\"label\": [\"b\", \"z\"]},"
                       " \"w\": {\"label\": \"b\"}}";
    assert_string_equal(order_of(ALSIM_ALERT, tags, "label asc", b, sizeof(b)), "x,w,y");
    assert_string_equal(order_of(ALSIM_ALERT, tags, "label desc", b, sizeof(b)), "y,x,w");
    assert_string_equal(order_of(ALSIM_ALERT, tags, "_score desc", b, sizeof(b)), "w,x,y");
    assert_string_equal(order_of(ALSIM_ALERT, tags, "id desc", b, sizeof(b)), "y,x,w");
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
        cmocka_unit_test(test_fields_follow_the_index_mappings),
        cmocka_unit_test(test_sort_takes_fields_with_a_lower_case_direction),
        cmocka_unit_test(test_sort_refuses_what_the_datastore_refuses),
        cmocka_unit_test(test_sort_without_a_direction_is_malformed_for_elasticsearch),
        cmocka_unit_test(test_sort_given_as_a_list_parses_each_part_unstripped),
        cmocka_unit_test(test_sort_has_a_cap_on_its_fields),
        cmocka_unit_test(test_sort_check_refuses_fields_elasticsearch_cannot_sort_on),
        cmocka_unit_test(test_sort_orders_dates_as_instants_and_missing_values_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
