/* Unit tests of common/alclient without a network: URL and query encoding as
 * upstream's client writes them (al-rest-api.md §2.1), the envelope parser, how
 * statuses are classified (§2.4, decisions.md §7), and the argument checks of the
 * public API. Transport failures and the back-off are tested in test_http.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alclient_int.h"
#include "replay/alclient.h"
#include "replay/log.h"
#include "replay/redact.h"

static int quiet(void **state)
{
    (void)state;
    replay_log_init("test", REPLAY_LOG_DISABLED, REPLAY_LOG_TEXT, 2);
    return 0;
}

static void expect_quote(const char *in, const char *want)
{
    struct replay__http_buf b;
    replay__http_buf_init(&b, 4096);
    assert_int_equal(replay__alclient_quote(&b, in), 0);
    assert_string_equal(b.p ? b.p : "", want);
    replay__http_buf_free(&b);
}

static void test_alclient_quote_matches_python_quote(void **state)
{
    (void)state;
    expect_quote("TLP:CLEAR", "TLP%3ACLEAR");
    expect_quote("a b,c", "a%20b%2Cc");
    expect_quote("A-z_0.9~/x", "A-z_0.9~/x");
    expect_quote("caf\xc3\xa9", "caf%C3%A9");
    expect_quote("100%&=+?#", "100%25%26%3D%2B%3F%23");
    expect_quote("", "");
}

static void test_alclient_segment_keeps_ids_verbatim_and_quotes_the_rest(void **state)
{
    (void)state;
    struct replay__http_buf b;
    replay__http_buf_init(&b, 4096);
    assert_int_equal(replay__alclient_segment(&b, "5KrKGqdcHdYFpC8VoRE1"), 0);
    assert_string_equal(b.p, "5KrKGqdcHdYFpC8VoRE1");
    replay__http_buf_reset(&b, 0);
    assert_int_equal(replay__alclient_segment(&b, "yara_ET OPEN_rule:1@x"), 0);
    assert_string_equal(b.p, "yara_ET%20OPEN_rule:1@x");
    replay__http_buf_reset(&b, 0);
    assert_int_equal(replay__alclient_segment(&b, "a\"<>\\^`{|}\x01\xc3\xa9"), 0);
    assert_string_equal(b.p, "a%22%3C%3E%5C%5E%60%7B%7C%7D%01%C3%A9");
    replay__http_buf_free(&b);
}

static void test_alclient_segment_refuses_what_would_change_the_path(void **state)
{
    (void)state;
    const char *bad[] = {"", ".", "..", "a/b", "../x", "a?b", "a#b", "a%2Fb"};
    struct replay__http_buf b;
    replay__http_buf_init(&b, 4096);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(replay__alclient_segment(&b, bad[i]), REPLAY_EUNSAFE);
    replay__http_buf_free(&b);
}

static void expect_url(const char *host, bool root, const char *const *segs, size_t n,
                       const struct replay__alclient_param *p, size_t np, const char *want)
{
    struct replay__http_buf b;
    replay__http_buf_init(&b, 4096);
    assert_int_equal(replay__alclient_url(&b, host, root, segs, n, p, np), 0);
    assert_string_equal(b.p, want);
    replay__http_buf_free(&b);
}

static void test_alclient_url_has_trailing_slash_and_no_double_slash(void **state)
{
    (void)state;
    const char *s1[] = {"search", "alert"};
    expect_url("https://localhost:443", false, s1, 2, NULL, 0,
               "https://localhost:443/api/v4/search/alert/");
    expect_url("https://localhost:443//", false, s1, 2, NULL, 0,
               "https://localhost:443/api/v4/search/alert/");
    expect_url("http://h/prefix/", true, NULL, 0, NULL, 0, "http://h/prefix/api/");
    const char *s2[] = {"replay", "queue", "file"};
    expect_url("http://h", false, s2, 3, NULL, 0, "http://h/api/v4/replay/queue/file/");
}

static void test_alclient_url_writes_bare_flags_and_leaves_out_none(void **state)
{
    (void)state;
    const char *seg[] = {"bundle"};
    struct replay__alclient_param dflt[] = {
        {"exist_ok", ""},          {"min_classification", NULL}, {"rescan_services", NULL},
        {"allow_incomplete", NULL}, {"reclassification", NULL},   {"to_ingest", "True"}};
    expect_url("https://host", false, seg, 1, dflt, 6,
               "https://host/api/v4/bundle/?exist_ok&to_ingest=True");
    struct replay__alclient_param all[] = {{"exist_ok", ""},
                                           {"min_classification", "TLP:AMBER+STRICT"},
                                           {"rescan_services", "Extract,Yara Scan"},
                                           {"allow_incomplete", ""},
                                           {"reclassification", "TLP:CLEAR"},
                                           {"to_ingest", "True"}};
    expect_url("https://host", false, seg, 1, all, 6,
               "https://host/api/v4/bundle/?exist_ok&min_classification=TLP%3AAMBER%2BSTRICT"
               "&rescan_services=Extract%2CYara%20Scan&allow_incomplete"
               "&reclassification=TLP%3ACLEAR&to_ingest=True");
    const char *b2[] = {"bundle", "abc"};
    struct replay__alclient_param ua[] = {{"use_alert", ""}};
    expect_url("http://h", false, b2, 2, ua, 1, "http://h/api/v4/bundle/abc/?use_alert");
    struct replay__alclient_param none[] = {{"use_alert", NULL}};
    expect_url("http://h", false, b2, 2, none, 1, "http://h/api/v4/bundle/abc/");
}

static void test_alclient_url_stops_at_unsafe_segment_and_at_cap(void **state)
{
    (void)state;
    struct replay__http_buf b;
    replay__http_buf_init(&b, 4096);
    const char *bad[] = {"bundle", "../../admin"};
    assert_int_equal(replay__alclient_url(&b, "http://h", false, bad, 2, NULL, 0),
                     REPLAY_EUNSAFE);
    replay__http_buf_free(&b);
    replay__http_buf_init(&b, 16);
    const char *ok[] = {"search", "alert"};
    assert_int_equal(replay__alclient_url(&b, "http://h", false, ok, 2, NULL, 0),
                     REPLAY_ETOOBIG);
    replay__http_buf_free(&b);
}

static void test_alclient_envelope_parses_every_field(void **state)
{
    (void)state;
    const char *body = "{\"api_response\": {\"items\": []}, \"api_error_message\": \"\", "
                       "\"api_server_version\": \"4.5.0\", \"api_status_code\": 200}";
    struct replay__alclient_envelope env;
    replay__alclient_envelope_parse(body, strlen(body), &env);
    assert_true(env.valid);
    assert_true(json_is_object(env.response));
    assert_string_equal(env.message, "");
    assert_int_equal(env.status, 200);
    replay__alclient_envelope_free(&env);

    const char *err = "{\"api_response\": \"\", \"api_error_message\": \"Session not found\", "
                      "\"api_status_code\": 401}";
    replay__alclient_envelope_parse(err, strlen(err), &env);
    assert_true(env.valid);
    assert_string_equal(env.message, "Session not found");
    assert_int_equal(env.status, 401);
    replay__alclient_envelope_free(&env);
}

static void test_alclient_envelope_rejects_what_is_not_an_envelope(void **state)
{
    (void)state;
    const char *bodies[] = {"<html><body>502 Bad Gateway</body></html>", "[1, 2]", "\"x\"",
                            "{\"a\": 1}", "{\"api_response\": ", "", "null"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct replay__alclient_envelope env;
        replay__alclient_envelope_parse(bodies[i], strlen(bodies[i]), &env);
        assert_false(env.valid);
        assert_string_equal(env.message, "");
        assert_int_equal(env.status, -1);
        replay__alclient_envelope_free(&env);
    }
    struct replay__alclient_envelope env;
    replay__alclient_envelope_parse(NULL, 0, &env);
    assert_false(env.valid);
    replay__alclient_envelope_free(&env);
    /* A message of the wrong type is no message; the key still marks an envelope. */
    const char *odd = "{\"api_error_message\": 5}";
    replay__alclient_envelope_parse(odd, strlen(odd), &env);
    assert_true(env.valid);
    assert_null(env.response);
    assert_string_equal(env.message, "");
    replay__alclient_envelope_free(&env);
}

static void expect_status(long status, const char *msg, bool missing, int verdict, int code)
{
    int got = 12345;
    assert_int_equal(replay__alclient_classify_status(status, true, msg, missing, &got),
                     verdict);
    assert_int_equal(got, code);
}

static void test_alclient_status_maps_client_errors_without_retry(void **state)
{
    (void)state;
    expect_status(200, "", false, REPLAY__AL_OK, 0);
    expect_status(204, "", false, REPLAY__AL_OK, 0);
    expect_status(400, "SearchException: bad", false, REPLAY__AL_FAIL, REPLAY_EHTTP);
    expect_status(401, "Invalid user or APIKey", false, REPLAY__AL_FAIL, REPLAY_EAUTH);
    expect_status(403, "Access Denied (/api/v4/search/alert/) [role]", false, REPLAY__AL_FAIL,
                  REPLAY_EAUTH);
    expect_status(404, "The hash was not found in the badlist.", false, REPLAY__AL_FAIL,
                  REPLAY_ENOTFOUND);
    expect_status(409, "Submission x already exists.", false, REPLAY__AL_FAIL, REPLAY_EEXIST);
    expect_status(405, "", false, REPLAY__AL_FAIL, REPLAY_EHTTP);
    expect_status(429, "", false, REPLAY__AL_FAIL, REPLAY_EHTTP);
    expect_status(500, "Internal Server Error", false, REPLAY__AL_FAIL, REPLAY_EHTTP);
    expect_status(308, "", false, REPLAY__AL_FAIL, REPLAY_EHTTP);
}

static void test_alclient_status_404_of_a_missing_route_is_no_api_not_a_missing_document(
    void **state)
{
    (void)state;
    /* ui.allow_replay off: the replay blueprint is not registered (al-rest-api.md §10) */
    expect_status(404, "Api does not exist (/api/v4/replay/queue/alert/)", false,
                  REPLAY__AL_FAIL, REPLAY_ENOAPI);
    expect_status(404, "Api does not exist (/api/v4/bundle/x/)", true, REPLAY__AL_FAIL,
                  REPLAY_ENOAPI);
    expect_status(404, "Workflow ID x does not exist", false, REPLAY__AL_FAIL,
                  REPLAY_ENOTFOUND);
    expect_status(404, "api does not exist", false, REPLAY__AL_FAIL, REPLAY_ENOTFOUND);
    int code = 0;
    assert_int_equal(replay__alclient_classify_status(404, false, "", false, &code),
                     REPLAY__AL_FAIL);
    assert_int_equal(code, REPLAY_ENOTFOUND);
    assert_string_equal(replay_err_name(REPLAY_ENOAPI), "REPLAY_ENOAPI");
}

static void test_alclient_status_403_is_not_found_only_where_upstream_means_it(void **state)
{
    (void)state;
    expect_status(403, "You are not allowed create a bundle for this submission...", true,
                  REPLAY__AL_FAIL, REPLAY_ENOTFOUND);
    expect_status(403, "You are not allowed to modify the alert with the following ID: x", true,
                  REPLAY__AL_FAIL, REPLAY_ENOTFOUND);
    expect_status(403, "Access Denied (/api/v4/bundle/x/) [API requires bundle_download]", true,
                  REPLAY__AL_FAIL, REPLAY_EAUTH);
    expect_status(403, "You are not allowed create a bundle for this submission...", false,
                  REPLAY__AL_FAIL, REPLAY_EAUTH);
}

static void test_alclient_status_retries_gateway_errors_but_not_daily_quota(void **state)
{
    (void)state;
    expect_status(502, "", false, REPLAY__AL_RETRY, REPLAY_EHTTP);
    expect_status(504, "", false, REPLAY__AL_RETRY, REPLAY_EHTTP);
    expect_status(503, "You've exceeded your maximum concurrent API calls quota of 10", false,
                  REPLAY__AL_RETRY, REPLAY_EHTTP);
    expect_status(503, "", false, REPLAY__AL_RETRY, REPLAY_EHTTP);
    expect_status(503, "You've exceeded your daily maximum API calls quota of 1000", false,
                  REPLAY__AL_FAIL, REPLAY_EHTTP);
    int code = 0;
    assert_int_equal(replay__alclient_classify_status(503, false, "", false, &code),
                     REPLAY__AL_RETRY);
}

static void test_alclient_status_200_with_error_message_is_a_failure(void **state)
{
    (void)state;
    /* Upstream's 415 handler: HTTP 200, api_status_code 200, an error message. */
    expect_status(200, "415 Unsupported Media Type: Did not attempt to load JSON data", false,
                  REPLAY__AL_FAIL, REPLAY_EPROTO);
    int code = 0;
    assert_int_equal(replay__alclient_classify_status(200, false, "", false, &code),
                     REPLAY__AL_OK);
}

static void test_alclient_excerpt_is_one_line_and_marks_a_cut(void **state)
{
    (void)state;
    char out[16];
    const char *html = "<html>\r\n<b>502</b>\n</html>";
    replay__alclient_excerpt(html, strlen(html), out, sizeof(out));
    assert_string_equal(out, "<html> <b>50...");
    replay__alclient_excerpt("\n\nshort\n", 8, out, sizeof(out));
    assert_string_equal(out, "short");
    replay__alclient_excerpt("abc", 3, out, 3);
    assert_string_equal(out, "");
}

/* A hostile or broken answer cannot reach a terminal: no escape sequence, no
 * invalid UTF-8, and a cut never splits a character. */
static void test_alclient_excerpt_keeps_utf8_and_shows_other_bytes_as_question_marks(void **state)
{
    (void)state;
    char out[64];
    const char *m = "\x1b[2J\x1b]0;pwned\x07 caf\xc3\xa9 \xff\xfe \xed\xa0\x80 \xe0\x80\x80 \xf4\x90\x80\x80";
    replay__alclient_excerpt(m, strlen(m), out, sizeof(out));
    assert_string_equal(out, "[2J ]0;pwned  caf\xc3\xa9 ?? ??? ??? ????");
    char cut[12];
    replay__alclient_excerpt("abcdefg\xc3\xa9", 9, cut, sizeof(cut));
    assert_string_equal(cut, "abcdefg...");
}

static void test_alclient_names_the_collections_it_serves(void **state)
{
    (void)state;
    assert_true(replay__alclient_is_search_index("alert"));
    assert_true(replay__alclient_is_search_index("workflow"));
    assert_false(replay__alclient_is_search_index("file"));
    assert_false(replay__alclient_is_search_index(NULL));
    assert_true(replay__alclient_is_queue_type("file"));
    assert_true(replay__alclient_is_queue_type("signature"));
    assert_false(replay__alclient_is_queue_type("user"));
    assert_true(replay__alclient_is_state_index("submission"));
    assert_false(replay__alclient_is_state_index("badlist"));
    assert_true(replay__alclient_is_list("signature"));
    assert_false(replay__alclient_is_list("alert"));
}

static void expect_open_fails(const struct replay_alclient_options *o, const char *needle)
{
    struct replay_alclient *c = (struct replay_alclient *)1;
    struct replay_err err = {0};
    assert_int_equal(replay_alclient_open(o, &c, &err), REPLAY_EINVAL);
    assert_null(c);
    assert_int_equal(err.code, REPLAY_EINVAL);
    assert_non_null(strstr(err.msg, needle));
}

static void test_alclient_open_refuses_bad_options(void **state)
{
    (void)state;
    struct replay_alclient_options o = {.host = "https://al", .user = "admin",
                                        .apikey = "devkey:devpass"};
    expect_open_fails(NULL, "no host");
    o.host = "";
    expect_open_fails(&o, "no host");
    o.host = "ftp://al";
    expect_open_fails(&o, "is not an http:// or https:// URL");
    o.host = "https://user:hunter22@al x";
    expect_open_fails(&o, "https://user:***@al x");
    o.host = "https://al";
    o.user = "adm\r\nX-Evil: 1";
    expect_open_fails(&o, "user must be");
    o.user = "admin";
    o.apikey = "nocolon";
    expect_open_fails(&o, "apikey must be");
    o.apikey = NULL;
    expect_open_fails(&o, "apikey must be");
    o.apikey = "key:se\ncret";
    expect_open_fails(&o, "apikey must be");
    struct replay_err err = {0};
    assert_int_equal(replay_alclient_open(&o, NULL, &err), REPLAY_EINVAL);
}

static void test_alclient_open_registers_the_key_as_a_secret(void **state)
{
    (void)state;
    replay_redact_reset();
    struct replay_alclient_options o = {.host = "http://u:urlpass1@127.0.0.1:9/",
                                        .user = "admin", .apikey = "replaykey:S3cr3tValue"};
    struct replay_alclient *c = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_alclient_open(&o, &c, &err), 0);
    assert_non_null(c);
    char out[256];
    replay_redact("key replaykey:S3cr3tValue, secret S3cr3tValue, url urlpass1", out,
                  sizeof(out));
    assert_null(strstr(out, "S3cr3tValue"));
    assert_null(strstr(out, "urlpass1"));
    assert_int_equal(replay_alclient_http_status(c), 0);
    assert_string_equal(replay_alclient_api_error(c), "");
    replay_alclient_close(c);
    replay_alclient_close(NULL);
    assert_int_equal(replay_alclient_http_status(NULL), 0);
    replay_redact_reset();
}

static void test_alclient_options_from_config_inverts_verify(void **state)
{
    (void)state;
    char host[] = "https://h:443", user[] = "u", key[] = "k:s";
    struct replay_client_config cc = {.type = REPLAY_CLIENT_API, .host = host, .user = user,
                                      .apikey = key, .verify = false};
    struct replay_alclient_options o;
    memset(&o, 0xff, sizeof(o));
    replay_alclient_options_from_config(&o, &cc);
    assert_string_equal(o.host, "https://h:443");
    assert_string_equal(o.user, "u");
    assert_string_equal(o.apikey, "k:s");
    assert_true(o.tls_insecure);
    assert_int_equal(o.retry.max_attempts, 0);
    assert_null(o.cancel);
    cc.verify = true;
    replay_alclient_options_from_config(&o, &cc);
    assert_false(o.tls_insecure);
}

/* A client on a port nobody is asked to contact: every call below must fail on
 * its arguments, before any request. */
static struct replay_alclient *offline_client(void)
{
    struct replay_alclient_options o = {.host = "http://127.0.0.1:9", .user = "u",
                                        .apikey = "k:s", .retry = {.max_attempts = 1}};
    struct replay_alclient *c = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_alclient_open(&o, &c, &err), 0);
    return c;
}

static void expect_err(int rc, const struct replay_err *err, int code, const char *needle)
{
    assert_int_equal(rc, code);
    assert_int_equal(err->code, code);
    assert_non_null(strstr(err->msg, needle));
}

static int count_item(void *ctx, const char *item, size_t len)
{
    (void)item;
    (void)len;
    (*(int *)ctx)++;
    return 0;
}

static void test_alclient_calls_refuse_bad_arguments_before_sending(void **state)
{
    (void)state;
    struct replay_alclient *c = offline_client();
    struct replay_err err = {0};
    struct replay_alclient_page page;
    struct replay_alclient_search s = {.query = "*", .rows = 1};
    expect_err(replay_alclient_search(c, "file", &s, &page, &err), &err, REPLAY_EINVAL,
               "unknown index");
    assert_null(page.items);
    assert_int_equal(page.total, -1);
    replay_alclient_page_clear(&page);
    replay_alclient_page_clear(NULL);
    err = (struct replay_err){0};
    s.query = "";
    expect_err(replay_alclient_search(c, "alert", &s, &page, &err), &err, REPLAY_EINVAL,
               "empty query");
    err = (struct replay_err){0};
    int n = 0;
    expect_err(replay_alclient_stream(c, "alert", "", NULL, 0, NULL, count_item, &n, NULL, &err),
               &err, REPLAY_EINVAL, "empty query");
    err = (struct replay_err){0};
    expect_err(replay_alclient_set_complete(c, "badlist", "x", NULL, &err), &err, REPLAY_EINVAL,
               "alert or submission");
    err = (struct replay_err){0};
    char *msg = (char *)1;
    expect_err(replay_alclient_get_message(c, "users", &msg, &err), &err, REPLAY_EINVAL,
               "unknown message type");
    assert_null(msg);
    err = (struct replay_err){0};
    expect_err(replay_alclient_put_message(c, "alert", "{not json", &err), &err, REPLAY_EINVAL,
               "not JSON");
    err = (struct replay_err){0};
    expect_err(replay_alclient_put_checkpoint(c, "alert", "*", &err), &err, REPLAY_EINVAL,
               "badlist, safelist, signature");
    err = (struct replay_err){0};
    expect_err(replay_alclient_list_add_update(c, "workflow", "{}", NULL, &err), &err,
               REPLAY_EINVAL, "workflows: add or update");
    err = (struct replay_err){0};
    expect_err(replay_alclient_workflow_add(c, "[1]", NULL, &err), &err, REPLAY_EINVAL,
               "not a JSON object");
    err = (struct replay_err){0};
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    expect_err(replay_alclient_bundle_import(c, pipefd[0], NULL, &err), &err, REPLAY_EINVAL,
               "not a regular file");
    close(pipefd[0]);
    close(pipefd[1]);
    err = (struct replay_err){0};
    expect_err(replay_alclient_bundle_import(c, -1, NULL, &err), &err, REPLAY_EINVAL,
               "cannot stat the bundle");
    replay_alclient_close(c);
}

static void test_alclient_unsafe_ids_never_reach_the_wire(void **state)
{
    (void)state;
    struct replay_alclient *c = offline_client();
    struct replay_err err = {0};
    expect_err(replay_alclient_bundle_download(c, "../../api/v4/user/admin", false, 1, NULL,
                                               &err),
               &err, REPLAY_EUNSAFE, "unsafe path argument \"../../api/v4/user/admin\"");
    err = (struct replay_err){0};
    char *doc = NULL;
    expect_err(replay_alclient_list_get(c, "badlist", "a?b=c", &doc, &err), &err,
               REPLAY_EUNSAFE, "unsafe path argument");
    assert_null(doc);
    err = (struct replay_err){0};
    expect_err(replay_alclient_set_complete(c, "alert", "", NULL, &err), &err, REPLAY_EUNSAFE,
               "unsafe path argument");
    err = (struct replay_err){0};
    expect_err(replay_alclient_workflow_update(c, "a/b", "{}", NULL, &err), &err,
               REPLAY_EUNSAFE, "unsafe path argument");
    assert_int_equal(replay_alclient_http_status(c), 0);
    replay_alclient_close(c);
}

static void test_alclient_requests_with_invalid_utf8_are_refused(void **state)
{
    (void)state;
    struct replay_alclient *c = offline_client();
    struct replay_err err = {0};
    struct replay_alclient_page page;
    struct replay_alclient_search s = {.query = "id:\xff\xfe", .rows = 1};
    expect_err(replay_alclient_search(c, "alert", &s, &page, &err), &err, REPLAY_EINVAL,
               "not valid UTF-8");
    replay_alclient_page_clear(&page);
    err = (struct replay_err){0};
    expect_err(replay_alclient_put_checkpoint(c, "badlist", "\xc3", &err), &err, REPLAY_EINVAL,
               "not valid UTF-8");
    replay_alclient_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alclient_quote_matches_python_quote),
        cmocka_unit_test(test_alclient_segment_keeps_ids_verbatim_and_quotes_the_rest),
        cmocka_unit_test(test_alclient_segment_refuses_what_would_change_the_path),
        cmocka_unit_test(test_alclient_url_has_trailing_slash_and_no_double_slash),
        cmocka_unit_test(test_alclient_url_writes_bare_flags_and_leaves_out_none),
        cmocka_unit_test(test_alclient_url_stops_at_unsafe_segment_and_at_cap),
        cmocka_unit_test(test_alclient_envelope_parses_every_field),
        cmocka_unit_test(test_alclient_envelope_rejects_what_is_not_an_envelope),
        cmocka_unit_test(test_alclient_status_maps_client_errors_without_retry),
        cmocka_unit_test(
            test_alclient_status_404_of_a_missing_route_is_no_api_not_a_missing_document),
        cmocka_unit_test(test_alclient_status_403_is_not_found_only_where_upstream_means_it),
        cmocka_unit_test(test_alclient_status_retries_gateway_errors_but_not_daily_quota),
        cmocka_unit_test(test_alclient_status_200_with_error_message_is_a_failure),
        cmocka_unit_test(test_alclient_excerpt_is_one_line_and_marks_a_cut),
        cmocka_unit_test(test_alclient_excerpt_keeps_utf8_and_shows_other_bytes_as_question_marks),
        cmocka_unit_test(test_alclient_names_the_collections_it_serves),
        cmocka_unit_test(test_alclient_open_refuses_bad_options),
        cmocka_unit_test(test_alclient_open_registers_the_key_as_a_secret),
        cmocka_unit_test(test_alclient_options_from_config_inverts_verify),
        cmocka_unit_test(test_alclient_calls_refuse_bad_arguments_before_sending),
        cmocka_unit_test(test_alclient_unsafe_ids_never_reach_the_wire),
        cmocka_unit_test(test_alclient_requests_with_invalid_utf8_are_refused),
    };
    return cmocka_run_group_tests(tests, quiet, NULL);
}
