/* Unit tests of common/log: the two formats, levels, escaping, secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/log.h"
#include "replay/redact.h"

static char *capture_path;
static int capture_fd = -1;

static int open_capture(void **state)
{
    (void)state;
    static char path[] = "/tmp/replay-test-log.XXXXXX";
    strcpy(path, "/tmp/replay-test-log.XXXXXX");
    capture_fd = mkstemp(path);
    assert_true(capture_fd >= 0);
    capture_path = path;
    replay_log_init("assemblyline.replay_loader.worker", REPLAY_LOG_INFO, REPLAY_LOG_JSON,
                    capture_fd);
    replay_log_set_thread_name(NULL);
    replay_redact_reset();
    return 0;
}

static int close_capture(void **state)
{
    (void)state;
    close(capture_fd);
    unlink(capture_path);
    return 0;
}

static char *captured(void)
{
    static char buf[65536];
    ssize_t n = pread(capture_fd, buf, sizeof(buf) - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

static void test_log_json_line_has_upstream_shape(void **state)
{
    (void)state;
    replay_info("Processing file: %s", "/tmp/replay/input/a.al_bundle");
    char *line = captured();
    char host[256];
    gethostname(host, sizeof(host));
    assert_true(strncmp(line, "{\"@timestamp\": \"", 16) == 0);
    char want[1024];
    snprintf(want, sizeof(want),
             "\", \"event\": { \"module\": \"assemblyline\", \"dataset\": "
             "\"assemblyline.replay_loader.worker\" }, \"host\": { \"ip\": ");
    assert_non_null(strstr(line, want));
    snprintf(want, sizeof(want), "\"hostname\": \"%s\" }, \"log\": { \"level\": \"INFO\", "
             "\"logger\": \"assemblyline.replay_loader.worker\" }, \"process\": { \"pid\": \"%d\" }, "
             "\"message\": \"Processing file: /tmp/replay/input/a.al_bundle\"}\n",
             host, (int)getpid());
    assert_non_null(strstr(line, want));
    /* Timestamp "YYYY-MM-DD HH:MM:SS,mmm" */
    assert_int_equal(line[16 + 4], '-');
    assert_int_equal(line[16 + 19], ',');
    assert_int_equal(line[16 + 23], '"');
}

static void test_log_level_filters_lines(void **state)
{
    (void)state;
    replay_debug("hidden");
    assert_string_equal(captured(), "");
    replay_log_set_level(REPLAY_LOG_DISABLED);
    replay_error("hidden too");
    assert_string_equal(captured(), "");
    replay_log_set_level(REPLAY_LOG_DEBUG);
    replay_debug("shown");
    assert_non_null(strstr(captured(), "\"level\": \"DEBUG\""));
}

static void test_log_json_escapes_like_python(void **state)
{
    (void)state;
    replay_info("quote \" backslash \\ newline \n tab \t bell \a caf\xc3\xa9");
    assert_non_null(strstr(captured(),
        "\"message\": \"quote \\\" backslash \\\\ newline \\n tab \\t bell \\u0007 caf\\u00c3\\u00a9\""));
}

static void test_log_text_format(void **state)
{
    (void)state;
    replay_log_set_format(REPLAY_LOG_TEXT);
    replay_warn("hello");
    char want[512];
    snprintf(want, sizeof(want), " WARNING ");
    char *line = captured();
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, "        assemblyline.replay_loader.worker | hello\n"));
    replay_log_set_format(REPLAY_LOG_JSON);
}

static void test_log_never_prints_registered_secrets(void **state)
{
    (void)state;
    replay_redact_add_secret("s3cr3t-value");
    const struct replay_log_field f[] = {{"url", "ftp://u:s3cr3t-value@h/", 0}, {"n", NULL, 42}};
    replay_log_fields(REPLAY_LOG_ERROR, f, 2, "apikey=name:%s", "s3cr3t-value");
    char *line = captured();
    assert_null(strstr(line, "s3cr3t-value"));
    assert_non_null(strstr(line, "apikey=name:***"));
    assert_non_null(strstr(line, "\"replay\": { \"url\": \"ftp://u:***@h/\", \"n\": 42 }"));
}

static void test_log_fields_and_thread_name_in_text(void **state)
{
    (void)state;
    replay_log_set_format(REPLAY_LOG_TEXT);
    replay_log_set_thread_name("File processor #0");
    const struct replay_log_field f[] = {{"path", "/x", 0}, {"ms", NULL, 7}};
    replay_log_fields(REPLAY_LOG_INFO, f, 2, "done");
    assert_non_null(strstr(captured(), "| done [thread=File processor #0] path=/x ms=7\n"));
    replay_log_set_format(REPLAY_LOG_JSON);
}

static void test_log_huge_message_is_truncated_to_one_line(void **state)
{
    (void)state;
    size_t n = 100000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    replay_info("%s", big);
    free(big);
    char *line = captured();
    assert_int_equal(strchr(line, '\n')[1], '\0');
    assert_true(strlen(line) < REPLAY_LOG_MAX_MESSAGE + 1024);
}

static void test_log_parse_level_and_format(void **state)
{
    (void)state;
    enum replay_log_level lvl;
    enum replay_log_format fmt;
    assert_int_equal(replay_log_parse_level("warning", &lvl), 0);
    assert_int_equal(lvl, REPLAY_LOG_WARNING);
    assert_int_equal(replay_log_parse_level("DISABLED", &lvl), 0);
    assert_int_equal(lvl, REPLAY_LOG_DISABLED);
    assert_int_equal(replay_log_parse_level("loud", &lvl), REPLAY_EINVAL);
    assert_int_equal(replay_log_parse_level(NULL, &lvl), REPLAY_EINVAL);
    assert_int_equal(replay_log_parse_format("TEXT", &fmt), 0);
    assert_int_equal(fmt, REPLAY_LOG_TEXT);
    assert_int_equal(replay_log_parse_format("xml", &fmt), REPLAY_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_json_line_has_upstream_shape, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_level_filters_lines, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_json_escapes_like_python, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_text_format, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_never_prints_registered_secrets, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_fields_and_thread_name_in_text, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_huge_message_is_truncated_to_one_line, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_parse_level_and_format, open_capture, close_capture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
