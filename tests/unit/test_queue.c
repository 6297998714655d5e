/* Unit tests of common/queue: names, message validation, the bytes of
 * the encoding (expected strings made by CPython 3.11's json.dumps), item parsing
 * and the connection's errors that need no server. Redis itself is exercised by
 * tests/integration/queue_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/lifecycle.h"
#include "replay/log.h"
#include "replay/queue.h"
#include "replay/redact.h"

static int quiet(void **state)
{
    (void)state;
    replay_log_init("test", REPLAY_LOG_DISABLED, REPLAY_LOG_TEXT, 2);
    return 0;
}

/* ---- names ---- */

static void test_queue_names_are_upstream_keys(void **state)
{
    (void)state;
    static const char *const keys[] = {"replay_alert", "replay_submission", "replay_badlist",
                                       "replay_safelist", "replay_signature", "replay_workflow",
                                       "replay_file"};
    for (int i = 0; i < REPLAY_QUEUE_TYPE_COUNT; i++) {
        assert_string_equal(replay_queue_key((enum replay_queue_type)i), keys[i]);
        assert_string_equal(keys[i] + 7, replay_queue_type_name((enum replay_queue_type)i));
    }
    assert_null(replay_queue_key(REPLAY_QUEUE_TYPE_COUNT));
    assert_null(replay_queue_type_name((enum replay_queue_type)-1));
    assert_string_equal(replay_queue_date_field(REPLAY_QUEUE_SIGNATURE), "last_modified");
    assert_string_equal(replay_queue_date_field(REPLAY_QUEUE_WORKFLOW), "last_edit");
    assert_string_equal(replay_queue_date_field(REPLAY_QUEUE_BADLIST), "updated");
    assert_null(replay_queue_date_field(REPLAY_QUEUE_FILE));
}

static void test_queue_type_parse_accepts_name_or_key_and_names_a_bad_word(void **state)
{
    (void)state;
    enum replay_queue_type t = REPLAY_QUEUE_ALERT;
    struct replay_err err = {0};
    assert_int_equal(replay_queue_type_parse("workflow", &t, &err), 0);
    assert_int_equal(t, REPLAY_QUEUE_WORKFLOW);
    assert_int_equal(replay_queue_type_parse("replay_file", &t, &err), 0);
    assert_int_equal(t, REPLAY_QUEUE_FILE);
    assert_int_equal(replay_queue_type_parse("alerts", &t, &err), REPLAY_EINVAL);
    assert_non_null(strstr(err.msg, "\"alerts\""));
    assert_non_null(strstr(err.msg, "submission"));
}

/* ---- encoding ---- */

static void expect_bytes(int rc, char *got, size_t len, const char *want)
{
    assert_int_equal(rc, 0);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
}

static void test_queue_encode_typed_messages_are_python_bytes(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    int rc = replay_queue_encode_alert("A1", "2024-05-01T12:34:56.123456Z", &out, &len, NULL);
    expect_bytes(rc, out, len, "{\"alert_id\": \"A1\", \"reporting_ts\": "
                               "\"2024-05-01T12:34:56.123456Z\"}");
    rc = replay_queue_encode_submission("S1", "2024-05-01T12:34:56.123456Z", &out, &len, NULL);
    expect_bytes(rc, out, len, "{\"sid\": \"S1\", \"times\": {\"completed\": "
                               "\"2024-05-01T12:34:56.123456Z\"}}");
    rc = replay_queue_encode_submission("S2", NULL, &out, &len, NULL);
    expect_bytes(rc, out, len, "{\"sid\": \"S2\"}");
    rc = replay_queue_encode_file("/tmp/replay/input/alert_\xc3\xa9\xf0\x9f\x98\x80.al_bundle",
                                  &out, &len, NULL);
    expect_bytes(rc, out, len, "\"/tmp/replay/input/alert_\\u00e9\\ud83d\\ude00.al_bundle\"");
}

static void test_queue_encode_list_document_keeps_order_and_python_spacing(void **state)
{
    (void)state;
    static const char in[] =
        "{\"classification\":\"TLP:C\",\"hashes\":{\"md5\":\"d41d8cd98f00b204e9800998ecf8427e\","
        "\"sha256\":null},\"sources\":[{\"name\":\"\\u00e9t\\u00e9\",\"reason\":[\"a\\\"b\","
        "\"tab\\there\"],\"type\":\"user\"}],\"score\":1.5e3,\"enabled\":true,\"count\":42,"
        "\"updated\":\"2024-05-01T12:34:56.123456Z\",\"id\":\"abc\"}";
    static const char want[] =
        "{\"classification\": \"TLP:C\", \"hashes\": {\"md5\": "
        "\"d41d8cd98f00b204e9800998ecf8427e\", \"sha256\": null}, \"sources\": [{\"name\": "
        "\"\\u00e9t\\u00e9\", \"reason\": [\"a\\\"b\", \"tab\\there\"], \"type\": \"user\"}], "
        "\"score\": 1500.0, \"enabled\": true, \"count\": 42, \"updated\": "
        "\"2024-05-01T12:34:56.123456Z\", \"id\": \"abc\"}";
    char *out = NULL;
    size_t len = 0;
    int rc = replay_queue_encode(REPLAY_QUEUE_BADLIST, in, strlen(in), &out, &len, NULL);
    expect_bytes(rc, out, len, want);
}

static void expect_encode_error(enum replay_queue_type t, const char *json, int code,
                                const char *needle)
{
    char *out = (char *)1;
    struct replay_err err = {0};
    assert_int_equal(replay_queue_encode(t, json, strlen(json), &out, NULL, &err), code);
    assert_null(out);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("message for %s lacks \"%s\": %s", json, needle, err.msg);
}

static void test_queue_encode_refuses_wrong_shapes_with_the_reason(void **state)
{
    (void)state;
    expect_encode_error(REPLAY_QUEUE_ALERT, "not json", REPLAY_EFORMAT, "not valid JSON");
    expect_encode_error(REPLAY_QUEUE_ALERT, "{\"alert_id\": \"a\"} x", REPLAY_EFORMAT,
                        "not valid JSON");
    expect_encode_error(REPLAY_QUEUE_ALERT, "[1, 2]", REPLAY_EFORMAT,
                        "alert message must be a JSON object, got an array");
    expect_encode_error(REPLAY_QUEUE_ALERT, "{\"alert_id\": 5}", REPLAY_EFORMAT,
                        "\"alert_id\" must be a non-empty string, got an integer");
    expect_encode_error(REPLAY_QUEUE_ALERT, "{\"alert_id\": \"\"}", REPLAY_EFORMAT,
                        "got \"\"");
    expect_encode_error(REPLAY_QUEUE_ALERT, "{\"id\": \"x\"}", REPLAY_EFORMAT,
                        "alert message without \"alert_id\"");
    expect_encode_error(REPLAY_QUEUE_ALERT, "{\"alert_id\": \"a\", \"reporting_ts\": 1.5}",
                        REPLAY_EFORMAT, "\"reporting_ts\" must be a string, got a number");
    expect_encode_error(REPLAY_QUEUE_SUBMISSION, "{\"sid\": \"s\", \"times\": \"x\"}",
                        REPLAY_EFORMAT, "\"times\" must be an object, got a string");
    expect_encode_error(REPLAY_QUEUE_SUBMISSION, "{\"sid\": \"s\", \"times\": {\"completed\": "
                        "[]}}", REPLAY_EFORMAT, "\"completed\" must be a string, got an array");
    expect_encode_error(REPLAY_QUEUE_SIGNATURE, "{\"name\": \"x\"}", REPLAY_EFORMAT,
                        "signature message without \"id\"");
    expect_encode_error(REPLAY_QUEUE_WORKFLOW, "{\"id\": \"w\", \"last_edit\": true}",
                        REPLAY_EFORMAT, "\"last_edit\" must be a string, got a boolean");
    expect_encode_error(REPLAY_QUEUE_FILE, "{\"path\": \"/x\"}", REPLAY_EFORMAT,
                        "file message must be a non-empty JSON string (a path), got an object");
    expect_encode_error(REPLAY_QUEUE_FILE, "\"\"", REPLAY_EFORMAT, "got \"\"");
    expect_encode_error(REPLAY_QUEUE_FILE, "\"a\\u0000b\"", REPLAY_EFORMAT, "not valid JSON");
    expect_encode_error(REPLAY_QUEUE_FILE, "\"\xff\"", REPLAY_EFORMAT, "not valid JSON");
    expect_encode_error(REPLAY_QUEUE_SAFELIST, "{\"id\": \"x\", \"n\": 99999999999999999999}",
                        REPLAY_EFORMAT, "not valid JSON");
}

static void test_queue_encode_refuses_invalid_utf8_and_deep_nesting(void **state)
{
    (void)state;
    char *out = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_queue_encode_file("/tmp/\xff\xfe.al_bundle", &out, NULL, &err),
                     REPLAY_EFORMAT);
    assert_null(out);
    assert_string_equal(err.msg, "file path is not valid UTF-8");
    replay_err_clear(&err);
    assert_int_equal(replay_queue_encode_alert("", "t", &out, NULL, &err), REPLAY_EFORMAT);
    replay_err_clear(&err);
    assert_int_equal(replay_queue_encode_submission("s", "\xc3", &out, NULL, &err),
                     REPLAY_EFORMAT);
    assert_string_equal(err.msg, "times.completed is not valid UTF-8");

    size_t depth = 1200, n = 0;
    char *deep = malloc(depth * 2 + 64);
    n += (size_t)sprintf(deep, "{\"id\": \"x\", \"a\": ");
    for (size_t i = 0; i < depth; i++)
        deep[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    replay_err_clear(&err);
    assert_int_equal(replay_queue_encode(REPLAY_QUEUE_WORKFLOW, deep, n, &out, NULL, &err),
                     REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "nested deeper than 1000 levels"));
    free(deep);
}

static void test_queue_encode_refuses_a_message_over_the_limit(void **state)
{
    (void)state;
    size_t n = REPLAY_QUEUE_MAX_MESSAGE + 16;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[0] = '"';
    big[1] = '/';
    big[n - 1] = '"';
    big[n] = '\0';
    char *out = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_queue_encode(REPLAY_QUEUE_FILE, big, n, &out, NULL, &err),
                     REPLAY_ETOOBIG);
    assert_null(out);
    assert_non_null(strstr(err.msg, "larger than the limit of 16777216 bytes"));
    replay_err_clear(&err);
    /* Far larger input is refused before parsing. */
    assert_int_equal(replay_queue_encode(REPLAY_QUEUE_FILE, big, 5 * (size_t)n, &out, NULL,
                                         &err), REPLAY_ETOOBIG);
    free(big);
}

static void test_queue_encode_checks_its_arguments(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(replay_queue_encode(REPLAY_QUEUE_TYPE_COUNT, "1", 1, &out, NULL, NULL),
                     REPLAY_EINVAL);
    assert_int_equal(replay_queue_encode(REPLAY_QUEUE_ALERT, NULL, 0, &out, NULL, NULL),
                     REPLAY_EINVAL);
    assert_int_equal(replay_queue_encode(REPLAY_QUEUE_ALERT, "{}", 2, NULL, NULL, NULL),
                     REPLAY_EINVAL);
    assert_int_equal(replay_queue_encode_alert("a", NULL, NULL, NULL, NULL), REPLAY_EINVAL);
    assert_int_equal(replay_queue_encode_file("a", NULL, NULL, NULL), REPLAY_EINVAL);
    assert_int_equal(replay_queue_encode_submission("a", NULL, NULL, NULL, NULL), REPLAY_EINVAL);
}

/* ---- items ---- */

static struct replay_queue_item *parse_ok(enum replay_queue_type t, const char *raw)
{
    struct replay_queue_item *item = NULL;
    struct replay_err err = {0};
    int rc = replay_queue_item_parse(t, raw, strlen(raw), &item, &err);
    if (rc != 0)
        fail_msg("parse %s: %s", raw, err.msg);
    return item;
}

static void test_queue_item_keeps_the_raw_bytes_and_finds_id_and_date(void **state)
{
    (void)state;
    const char *raw = "{ \"reporting_ts\":\"2024-01-02T03:04:05Z\" ,\"alert_id\":\"A9\","
                      "\"from_archive\":false}";
    struct replay_queue_item *item = parse_ok(REPLAY_QUEUE_ALERT, raw);
    size_t len = 0;
    assert_string_equal(replay_queue_item_json(item, &len), raw);
    assert_int_equal(len, strlen(raw));
    assert_int_equal(replay_queue_item_type(item), REPLAY_QUEUE_ALERT);
    assert_string_equal(replay_queue_item_id(item), "A9");
    assert_string_equal(replay_queue_item_date(item), "2024-01-02T03:04:05Z");
    replay_queue_item_free(item);

    item = parse_ok(REPLAY_QUEUE_SUBMISSION, "{\"sid\": \"S\", \"times\": {\"completed\": \"c\"}}");
    assert_string_equal(replay_queue_item_id(item), "S");
    assert_string_equal(replay_queue_item_date(item), "c");
    replay_queue_item_free(item);

    item = parse_ok(REPLAY_QUEUE_SIGNATURE, "{\"id\": \"sig\", \"last_modified\": null}");
    assert_string_equal(replay_queue_item_id(item), "sig");
    assert_null(replay_queue_item_date(item));
    replay_queue_item_free(item);

    item = parse_ok(REPLAY_QUEUE_WORKFLOW, "{\"last_edit\": \"e\", \"id\": \"wf\"}");
    assert_string_equal(replay_queue_item_date(item), "e");
    replay_queue_item_free(item);

    item = parse_ok(REPLAY_QUEUE_FILE, "\"/in/alert_\\u00e9.al_bundle\"");
    assert_string_equal(replay_queue_item_id(item), "/in/alert_\xc3\xa9.al_bundle");
    assert_null(replay_queue_item_date(item));
    replay_queue_item_free(item);
    replay_queue_item_free(NULL);
}

static void test_queue_item_parse_bad_input_gives_the_reason(void **state)
{
    (void)state;
    struct replay_queue_item *item = (struct replay_queue_item *)1;
    struct replay_err err = {0};
    static const char with_nul[] = "\"/a\0b\"";
    assert_int_equal(replay_queue_item_parse(REPLAY_QUEUE_FILE, with_nul, sizeof(with_nul) - 1,
                                             &item, &err), REPLAY_EFORMAT);
    assert_null(item);
    assert_non_null(strstr(err.msg, "not valid JSON"));
    replay_err_clear(&err);
    assert_int_equal(replay_queue_item_parse(REPLAY_QUEUE_ALERT, "", 0, &item, &err),
                     REPLAY_EFORMAT);
    replay_err_clear(&err);
    assert_int_equal(replay_queue_item_parse(REPLAY_QUEUE_ALERT, "\"x\"", 3, &item, &err),
                     REPLAY_EFORMAT);
    assert_string_equal(err.msg, "alert message must be a JSON object, got a string");
    assert_int_equal(replay_queue_item_parse(REPLAY_QUEUE_TYPE_COUNT, "1", 1, &item, NULL),
                     REPLAY_EINVAL);
    assert_int_equal(replay_queue_item_parse(REPLAY_QUEUE_ALERT, "1", 1, NULL, NULL),
                     REPLAY_EINVAL);
}

/* ---- consumer ids ---- */

static void test_queue_consumer_id_is_host_component_index_with_safe_characters(void **state)
{
    (void)state;
    char id[REPLAY_QUEUE_CONSUMER_ID_MAX + 1], host[256] = "";
    struct replay_err err = {0};
    assert_int_equal(replay_queue_consumer_id("creator worker/alert", 3, id, sizeof(id), &err), 0);
    gethostname(host, sizeof(host));
    assert_int_equal(strncmp(id, host, strcspn(host, " /*?[]\"\\")), 0);
    size_t n = strlen(id);
    assert_string_equal(id + n - strlen(":creator_worker_alert:3"), ":creator_worker_alert:3");
    for (size_t i = 0; i < n; i++)
        assert_non_null(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                               "._:@-", id[i]));
    char small[8];
    assert_int_equal(replay_queue_consumer_id("loader", 1, small, sizeof(small), &err),
                     REPLAY_EINVAL);
    assert_string_equal(small, "");
    char comp[200];
    memset(comp, 'c', sizeof(comp) - 1);
    comp[sizeof(comp) - 1] = '\0';
    char big[512];
    replay_err_clear(&err);
    assert_int_equal(replay_queue_consumer_id(comp, 1, big, sizeof(big), &err), REPLAY_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 128"));
    assert_int_equal(replay_queue_consumer_id(NULL, 1, big, sizeof(big), NULL), REPLAY_EINVAL);
}

/* ---- the connection, without a server ---- */

static void test_queue_open_rediss_fails_at_once_with_the_reason(void **state)
{
    (void)state;
    struct replay_queue *q = (struct replay_queue *)1;
    struct replay_err err = {0};
    struct replay_queue_options o = {.url = "rediss://:s3cret@localhost:6380/0"};
    assert_int_equal(replay_queue_open(&o, &q, &err), REPLAY_EUNSUPPORTED);
    assert_null(q);
    assert_non_null(strstr(err.msg, "no TLS"));
    assert_null(strstr(err.msg, "s3cret"));
    o.url = "redis://h:port";
    replay_err_clear(&err);
    assert_int_equal(replay_queue_open(&o, &q, &err), REPLAY_ECONFIG);
    assert_int_equal(replay_queue_open(NULL, &q, NULL), REPLAY_EINVAL);
    replay_queue_close(NULL);
    replay_queue_consumer_close(NULL);
}

static void test_queue_open_gives_up_after_give_up_ms_without_printing_the_password(void **state)
{
    (void)state;
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    /* Port 1 on loopback: refused at once, so this measures the retry loop only. */
    struct replay_queue_options o = {.url = "redis://:hunter2x@127.0.0.1:1/0",
                                     .give_up_ms = 300, .backoff_min_ms = 10,
                                     .backoff_max_ms = 40};
    uint64_t t0 = replay_now_ms();
    assert_int_equal(replay_queue_open(&o, &q, &err), REPLAY_ECONN);
    assert_true(replay_now_ms() - t0 >= 300);
    assert_null(q);
    assert_non_null(strstr(err.msg, "no connection to Redis at redis://:***@127.0.0.1:1/0"));
    assert_null(strstr(err.msg, "hunter2x"));
    char out[64];
    replay_redact("pw hunter2x", out, sizeof(out)); /* registered as a secret by open */
    assert_string_equal(out, "pw ***");
}

static void test_queue_open_stops_waiting_when_canceled(void **state)
{
    (void)state;
    struct replay_cancel *cancel = replay_cancel_new();
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    struct replay_queue_options o = {.url = "redis://127.0.0.1:1", .cancel = cancel};
    replay_cancel_request(cancel);
    assert_int_equal(replay_queue_open(&o, &q, &err), REPLAY_ECANCELED);
    assert_null(q);
    assert_non_null(strstr(err.msg, "canceled by shutdown"));
    replay_cancel_free(cancel);
}

static void test_queue_calls_check_their_arguments(void **state)
{
    (void)state;
    struct replay_queue_item *item = NULL;
    struct replay_queue_consumer *c = NULL;
    char *s = NULL;
    assert_int_equal(replay_queue_pop(NULL, 0, &item, NULL), REPLAY_EINVAL);
    assert_int_equal(replay_queue_ack(NULL, NULL, NULL), REPLAY_EINVAL);
    assert_int_equal(replay_queue_release(NULL, NULL, NULL), REPLAY_EINVAL);
    assert_int_equal(replay_queue_reject(NULL, NULL, "x", NULL), REPLAY_EINVAL);
    assert_int_equal(replay_queue_touch(NULL, NULL), REPLAY_EINVAL);
    assert_int_equal(replay_queue_consumer_open(NULL, REPLAY_QUEUE_ALERT, "c", &c, NULL),
                     REPLAY_EINVAL);
    assert_null(c);
    assert_int_equal(replay_queue_push(NULL, REPLAY_QUEUE_FILE, "\"x\"", 3, NULL), REPLAY_EINVAL);
    assert_int_equal(replay_queue_checkpoint_get(NULL, REPLAY_QUEUE_BADLIST, &s, NULL),
                     REPLAY_EINVAL);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_names_are_upstream_keys),
        cmocka_unit_test(test_queue_type_parse_accepts_name_or_key_and_names_a_bad_word),
        cmocka_unit_test(test_queue_encode_typed_messages_are_python_bytes),
        cmocka_unit_test(test_queue_encode_list_document_keeps_order_and_python_spacing),
        cmocka_unit_test(test_queue_encode_refuses_wrong_shapes_with_the_reason),
        cmocka_unit_test(test_queue_encode_refuses_invalid_utf8_and_deep_nesting),
        cmocka_unit_test(test_queue_encode_refuses_a_message_over_the_limit),
        cmocka_unit_test(test_queue_encode_checks_its_arguments),
        cmocka_unit_test(test_queue_item_keeps_the_raw_bytes_and_finds_id_and_date),
        cmocka_unit_test(test_queue_item_parse_bad_input_gives_the_reason),
        cmocka_unit_test(test_queue_consumer_id_is_host_component_index_with_safe_characters),
        cmocka_unit_test(test_queue_open_rediss_fails_at_once_with_the_reason),
        cmocka_unit_test(test_queue_open_gives_up_after_give_up_ms_without_printing_the_password),
        cmocka_unit_test(test_queue_open_stops_waiting_when_canceled),
        cmocka_unit_test(test_queue_calls_check_their_arguments),
    };
    return cmocka_run_group_tests(tests, quiet, NULL);
}
