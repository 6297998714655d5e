/* Unit tests of common/log: the two formats, levels, escaping, secrets. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

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
    static char buf[1 << 20];
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

/* Expected: json.dumps("quote \" backslash ... caf\u00e9 \U0001F600 \x7f") in CPython. */
static void test_log_json_escapes_like_python(void **state)
{
    (void)state;
    replay_info("quote \" backslash \\ newline \n tab \t bell \a caf\xc3\xa9 \xf0\x9f\x98\x80 \x7f");
    assert_non_null(strstr(captured(),
        "\"message\": \"quote \\\" backslash \\\\ newline \\n tab \\t bell \\u0007 caf\\u00e9 "
        "\\ud83d\\ude00 \\u007f\""));
}

/* Decided: bytes that are not UTF-8 become U+FFFD, one per maximal invalid
 * subpart, as Python's bytes.decode("utf-8", errors="replace"). */
static void test_log_json_replaces_invalid_utf8_like_python(void **state)
{
    (void)state;
    const struct replay_log_field f[] = {{"path", "/in/\xff\xfe.bin", 0}};
    replay_log_fields(REPLAY_LOG_INFO, f, 1, "bad \xe2\x82 and \xc0\x80 end\xc3");
    char *line = captured();
    assert_non_null(strstr(line, "\"message\": \"bad \\ufffd and \\ufffd\\ufffd end\\ufffd\""));
    assert_non_null(strstr(line, "\"path\": \"/in/\\ufffd\\ufffd.bin\""));
    json_error_t jerr;
    json_t *j = json_loads(line, 0, &jerr);
    assert_non_null(j);
    json_decref(j);
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

/* A file name with a newline cannot forge a second line, nor an escape sequence
 * from a server reach the terminal; UTF-8 stays as it is, other bytes are \xNN. */
static void test_log_text_escapes_control_characters_in_message_and_fields(void **state)
{
    (void)state;
    replay_log_set_format(REPLAY_LOG_TEXT);
    const struct replay_log_field f[] = {{"path", "/in/a\nb\x1b[2J", 0}};
    replay_log_fields(REPLAY_LOG_WARNING, f, 1, "Not queueing /in/x\n2026-12-04 CRITICAL forged\r\t"
                                                "\x1b]0;t\x07\x7f caf\xc3\xa9 \xff");
    char *line = captured();
    assert_non_null(strstr(line, "| Not queueing /in/x\\n2026-12-04 CRITICAL forged\\r\\t"
                                 "\\x1b]0;t\\x07\\x7f caf\xc3\xa9 \\xff path=/in/a\\nb\\x1b[2J\n"));
    assert_null(strchr(line, '\x1b'));
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
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

static void test_log_secret_straddling_the_message_cut_is_not_printed_in_part(void **state)
{
    (void)state;
    const char *secret = "SUPERSECRETVALUE";
    replay_redact_add_secret(secret);
    /* The secret starts 6 bytes before the cut at REPLAY_LOG_MAX_MESSAGE - 1. */
    size_t pad = REPLAY_LOG_MAX_MESSAGE - 1 - 6;
    char *filler = malloc(pad + 1);
    memset(filler, 'x', pad);
    filler[pad] = '\0';
    replay_info("%s%s and more", filler, secret);
    free(filler);
    char *line = captured();
    assert_null(strstr(line, "SUPERS"));
    assert_non_null(strstr(line, "xxx***\""));
}

/* Every line is one JSON document, else the test fails with the line. */
static size_t count_json_lines(char *text)
{
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (j == NULL)
            fail_msg("not one JSON document (%s): %.300s", jerr.text, line);
        json_decref(j);
        n++;
    }
    return n;
}

static void test_log_fields_that_do_not_fit_are_left_out_whole(void **state)
{
    (void)state;
    /* 30 fields of 1000 x U+00E9 escape to 6000 bytes each: far more than a line holds. */
    static char value[2001];
    for (size_t i = 0; i < 2000; i += 2)
        memcpy(value + i, "\xc3\xa9", 2);
    struct replay_log_field f[30];
    for (size_t i = 0; i < 30; i++)
        f[i] = (struct replay_log_field){"k", value, 0};
    replay_log_fields(REPLAY_LOG_INFO, f, 30, "many fields");
    replay_log_set_thread_name("thread");
    replay_log_fields(REPLAY_LOG_INFO, f, 30, "%s", value);
    char *text = strdup(captured());
    assert_int_equal(count_json_lines(captured()), 2);
    assert_non_null(strstr(text, "\"k\": \"\\u00e9"));
    free(text);
}

#define WRITERS 8
#define LINES_EACH 40

/* Writers stay alive until the interrupter stopped: signalling a thread that was
 * joined is undefined. */
static atomic_int writers_finished;
static pthread_barrier_t writers_stop;

static void on_usr1(int sig)
{
    (void)sig;
}

static void *write_lines(void *arg)
{
    char name[32];
    snprintf(name, sizeof(name), "writer %d", (int)(intptr_t)arg);
    replay_log_set_thread_name(name);
    static char body[6001]; /* 3000 x U+00E9: 18000 bytes of JSON, far past PIPE_BUF */
    for (size_t i = 0; i + 1 < sizeof(body); i += 2)
        memcpy(body + i, "\xc3\xa9", 2);
    for (int i = 0; i < LINES_EACH; i++)
        replay_info("%s line %d %s", name, i, body);
    atomic_fetch_add(&writers_finished, 1);
    pthread_barrier_wait(&writers_stop);
    return NULL;
}

static void *interrupt_writers(void *arg)
{
    pthread_t *writers = arg;
    while (atomic_load(&writers_finished) < WRITERS) {
        for (int i = 0; i < WRITERS; i++)
            pthread_kill(writers[i], SIGUSR1);
        usleep(200); /* pacing only: interrupts land at any point of the writes */
    }
    pthread_barrier_wait(&writers_stop);
    return NULL;
}

struct slurp {
    int fd;
    char *buf;
    size_t len, cap;
};

/* Reads the pipe in small pieces until EOF, so that it is full most of the time. */
static void *slurp_pipe(void *arg)
{
    struct slurp *s = arg;
    for (;;) {
        if (s->len + 1025 > s->cap) {
            s->cap = s->cap ? s->cap * 2 : 1 << 20;
            s->buf = realloc(s->buf, s->cap);
        }
        ssize_t n = read(s->fd, s->buf + s->len, 1024);
        if (n <= 0)
            break;
        s->len += (size_t)n;
    }
    s->buf[s->len] = '\0';
    return NULL;
}

static void test_log_long_lines_from_many_threads_never_interleave(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    (void)fcntl(p[1], F_SETPIPE_SZ, 4096); /* the smallest pipe: writes block midway */
    struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART: writes see EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    replay_log_init("assemblyline.replay_loader.worker", REPLAY_LOG_INFO, REPLAY_LOG_JSON, p[1]);
    struct slurp s = {.fd = p[0]};
    pthread_t reader, interrupter, writers[WRITERS];
    pthread_create(&reader, NULL, slurp_pipe, &s);
    atomic_store(&writers_finished, 0);
    pthread_barrier_init(&writers_stop, NULL, WRITERS + 1);
    for (intptr_t i = 0; i < WRITERS; i++)
        pthread_create(&writers[i], NULL, write_lines, (void *)i);
    pthread_create(&interrupter, NULL, interrupt_writers, writers);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(writers[i], NULL);
    pthread_join(interrupter, NULL);
    pthread_barrier_destroy(&writers_stop);
    close(p[1]);
    pthread_join(reader, NULL);
    close(p[0]);
    signal(SIGUSR1, SIG_DFL);
    replay_log_init("assemblyline.replay_loader.worker", REPLAY_LOG_INFO, REPLAY_LOG_JSON,
                    capture_fd);
    assert_int_equal(count_json_lines(s.buf), WRITERS * LINES_EACH);
    free(s.buf);
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
        cmocka_unit_test_setup_teardown(test_log_text_escapes_control_characters_in_message_and_fields,
                                        open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_never_prints_registered_secrets, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_fields_and_thread_name_in_text, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_huge_message_is_truncated_to_one_line, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_parse_level_and_format, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_json_replaces_invalid_utf8_like_python, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_secret_straddling_the_message_cut_is_not_printed_in_part, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_fields_that_do_not_fit_are_left_out_whole, open_capture, close_capture),
        cmocka_unit_test_setup_teardown(test_log_long_lines_from_many_threads_never_interleave, open_capture, close_capture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
