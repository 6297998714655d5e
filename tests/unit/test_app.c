/*
 * Unit tests of common/app: the command line every service shares, its exit codes
 * (decisions.md §14: 0 clean, 2 usage or configuration, 1 otherwise), and
 * --print-config with its secrets masked. replay_app_init() writes to stdout and
 * stderr; each call here runs with both redirected to files that the test reads.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "replay/app.h"
#include "replay/log.h"
#include "test_env.h"

static char dir[256];

static const struct replay_app_desc desc = {
    .program = "replay-test",
    .logger = "assemblyline.replay_test",
    .summary = "A component for the tests.",
    .section = "loader",
    .not_yet = NULL,
};

static const char *write_file(const char *name, const char *text)
{
    const char *path = test_env_write(dir, name, text);
    assert_non_null(path);
    return path;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/replay-test-app.XXXXXX");
    if (test_env_setup(dir) != 0)
        return -1;
    char path[512];
    snprintf(path, sizeof(path), "%s/absent-replay.yml", dir);
    setenv("REPLAY_CONFIG_PATH", path, 1);
    setenv("REPLAY_HEARTBEAT_FILE", "", 1); /* no heartbeat */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return test_env_teardown(dir);
}

/* What one replay_app_init() call did. */
struct outcome {
    bool go_on;
    int code;
    char out[1 << 16], err[1 << 16];
    struct replay_app *app;
};

static void slurp(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
}

/* Runs replay_app_init with argv (NULL-terminated) and stdout/stderr captured. */
static struct outcome *init_with(const char *arg0, ...)
{
    static struct outcome o;
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a != NULL && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;

    char out_path[512], err_path[512];
    snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    int out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    o.app = NULL;
    o.code = -1;
    o.go_on = replay_app_init(&o.app, &desc, argc, argv, &o.code);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(out_fd);
    close(err_fd);
    slurp(out_path, o.out, sizeof(o.out));
    slurp(err_path, o.err, sizeof(o.err));
    return &o;
}

/* The process stops now with `code`, having printed `needle` on stdout or stderr. */
static void expect_exit(const struct outcome *o, int code, const char *needle)
{
    assert_false(o->go_on);
    assert_null(o->app);
    assert_int_equal(o->code, code);
    if (strstr(o->out, needle) == NULL && strstr(o->err, needle) == NULL)
        fail_msg("neither output has \"%s\"; stdout: %s; stderr: %s", needle, o->out, o->err);
}

static const char *api_config(void)
{
    return write_file("api.yml",
        "creator:\n"
        "  client: {type: api, options: {host: \"https://src.example\", apikey: \"reader:AppCreatorS3cret\"}}\n"
        "  output_filestore: \"ftp://drop:AppFtpPassw0rd@diode.example/out\"\n"
        "loader:\n"
        "  client: {type: api, options: {host: \"https://dst.example\", apikey: \"writer:AppLoaderS3cret\"}}\n"
        "redis:\n"
        "  url: \"redis://:AppRedisPassw0rd@redis:6379/0\"\n");
}

static void test_app_help_and_version_print_and_exit_0(void **state)
{
    (void)state;
    struct outcome *o = init_with("replay-test", "--help", NULL);
    expect_exit(o, 0, "usage: replay-test [--config PATH] [--print-config]");
    assert_non_null(strstr(o->out, "A component for the tests."));
    assert_non_null(strstr(o->out, "Exit codes: 0 clean stop, 2 bad usage or configuration, 1 otherwise."));
    assert_string_equal(o->err, "");
    o = init_with("replay-test", "-h", NULL);
    expect_exit(o, 0, "usage: replay-test");
    /* --help wins over what follows, even a bad option. */
    o = init_with("replay-test", "--help", "--bogus", NULL);
    expect_exit(o, 0, "usage: replay-test");
    o = init_with("replay-test", "--version", NULL);
    expect_exit(o, 0, "replay-test " REPLAY_VERSION "\n");
    assert_string_equal(o->out, "replay-test " REPLAY_VERSION "\n");
}

static void test_app_bad_usage_exits_2_with_the_reason_and_usage(void **state)
{
    (void)state;
    struct outcome *o = init_with("replay-test", "--bogus", NULL);
    expect_exit(o, 2, "replay-test: unknown option --bogus\n");
    assert_non_null(strstr(o->err, "usage: replay-test"));
    assert_string_equal(o->out, "");
    static const char *const need_value[] = {"--config", "--log-format", "--log-level"};
    for (size_t i = 0; i < sizeof(need_value) / sizeof(need_value[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "replay-test: missing value after %s\n", need_value[i]);
        o = init_with("replay-test", need_value[i], NULL);
        expect_exit(o, 2, want);
    }
    o = init_with("replay-test", "--config", api_config(), "--log-format", "xml", NULL);
    expect_exit(o, 2, "replay-test: --log-format: expected json or text\n");
    o = init_with("replay-test", "--config", api_config(), "--log-level", "loud", NULL);
    expect_exit(o, 2, "replay-test: --log-level: expected DEBUG, INFO, WARNING, ERROR, CRITICAL "
                      "or DISABLED\n");
}

static void test_app_bad_configuration_exits_2_with_one_critical_line(void **state)
{
    (void)state;
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/missing.yml", dir);
    struct outcome *o = init_with("replay-test", "--config", missing, "--log-format", "text", NULL);
    expect_exit(o, 2, "Bad configuration: ");
    assert_non_null(strstr(o->err, "missing.yml: no such file"));
    assert_non_null(strstr(o->err, "CRITICAL"));
    const char *bad = write_file("bad.yml", "loader:\n  input_threads: six\n");
    o = init_with("replay-test", "--config", bad, NULL);
    expect_exit(o, 2, "loader.input_threads: expected an integer from 1 to 256, got \\\"six\\\" (line 2)");
    assert_non_null(strstr(o->err, "\"level\": \"CRITICAL\""));
    assert_int_equal(strchr(o->err, '\n')[1], '\0'); /* one line */
    /* The defaults ask for client type direct, which this build refuses. */
    o = init_with("replay-test", NULL);
    expect_exit(o, 2, "loader.client.type: \\\"direct\\\" (database access without the REST API) "
                      "is not built yet");
    /* A Redis URL the queue module cannot use is a configuration error too. */
    setenv("REPLAY_REDIS_URL", "rediss://:pw@redis:6380/0", 1);
    o = init_with("replay-test", "--config", api_config(), NULL);
    unsetenv("REPLAY_REDIS_URL");
    expect_exit(o, 2, "Bad configuration: redis.url: ");
}

static void test_app_print_config_exits_0_with_secrets_masked(void **state)
{
    (void)state;
    struct outcome *o = init_with("replay-test", "--print-config", "--config", api_config(), NULL);
    expect_exit(o, 0, "\"apikey\": \"reader:***\"");
    json_error_t jerr;
    json_t *j = json_loads(o->out, 0, &jerr);
    if (j == NULL)
        fail_msg("--print-config is not JSON (%s): %s", jerr.text, o->out);
    assert_string_equal(json_string_value(json_object_get(json_object_get(
        json_object_get(json_object_get(j, "loader"), "client"), "options"), "apikey")),
        "writer:***");
    json_decref(j);
    static const char *const secrets[] = {"AppCreatorS3cret", "AppLoaderS3cret", "AppFtpPassw0rd",
                                          "AppRedisPassw0rd"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        assert_null(strstr(o->out, secrets[i]));
        assert_null(strstr(o->err, secrets[i]));
    }
    /* Even the direct-mode defaults print: --print-config comes before the client check. */
    o = init_with("replay-test", "--print-config", NULL);
    expect_exit(o, 0, "\"type\": \"direct\"");
}

static void test_app_good_configuration_goes_on_with_the_log_options(void **state)
{
    (void)state;
    struct outcome *o = init_with("replay-test", "--config", api_config(), "--log-format", "text",
                                  "--log-level", "DEBUG", NULL);
    assert_true(o->go_on);
    assert_non_null(o->app);
    assert_non_null(strstr(o->err, "   INFO "));
    assert_non_null(strstr(o->err, "assemblyline.replay_test | Initialized\n"));
    assert_int_equal(replay_log_get_level(), REPLAY_LOG_DEBUG);
    assert_string_equal(replay_app_config(o->app)->loader.client.user, "admin");
    assert_non_null(replay_app_supervisor(o->app));
    assert_false(replay_app_threads_left(o->app));
    replay_app_free(o->app);
    replay_app_free(NULL);
    /* --log-level WARNING hides the INFO lines; the default format is JSON. */
    o = init_with("replay-test", "--config", api_config(), "--log-level", "warning", NULL);
    assert_true(o->go_on);
    assert_string_equal(o->err, "");
    replay_app_free(o->app);
    o = init_with("replay-test", "--config", api_config(), NULL);
    assert_non_null(strstr(o->err, "\"message\": \"Initialized\""));
    replay_app_free(o->app);
}

/* replay_app_main: a setup that fails, a clean stop, threads past the drain. */
static int fail_setup(struct replay_app *app, void *arg)
{
    (void)app;
    (void)arg;
    return REPLAY_EIO;
}

static int config_setup(struct replay_app *app, void *arg)
{
    (void)app;
    (void)arg;
    return REPLAY_ECONFIG;
}

static int stop_at_once(void *arg, const struct replay_cancel *cancel)
{
    replay_supervisor_stop(arg);
    while (replay_cancel_sleep_ms(cancel, 100000, true) == 0)
        ;
    return 0;
}

static int never_finish(void *arg, const struct replay_cancel *cancel)
{
    replay_supervisor_stop(arg);
    (void)cancel;
    for (;;)
        (void)replay_cancel_sleep_ms(NULL, 100000, false);
    return 0;
}

/* The setup callback: adds one thread, `fn` (arg), which gets the supervisor. */
static int add_thread(struct replay_app *app, void *arg)
{
    struct replay_supervisor *s = replay_app_supervisor(app);
    struct replay_err err = {0};
    return replay_supervisor_add(s, "worker", *(replay_thread_fn *)arg, s, &err);
}

/* Runs replay_app_main in a child (it may _exit) with stderr to a file; returns
 * the child's exit code, or fails the test if it died of a signal. */
static int main_in_child(replay_app_setup_fn setup_fn, void *arg, bool *sigpipe_ignored)
{
    const char *cfg = api_config();
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A crash must kill the child, not run cmocka's handler in it. */
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
        for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
            signal(fatal[i], SIG_DFL);
        char err_path[512];
        snprintf(err_path, sizeof(err_path), "%s/main.err", dir);
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        alarm(60);
        char prog[] = "replay-test", opt[] = "--config";
        char *argv[] = {prog, opt, (char *)cfg, NULL};
        int code = replay_app_main(&desc, 3, argv, setup_fn, arg);
        struct sigaction sa;
        sigaction(SIGPIPE, NULL, &sa);
        char ignored = sa.sa_handler == SIG_IGN;
        (void)!write(p[1], &ignored, 1);
        _exit(code);
    }
    close(p[1]);
    char ignored = 0;
    *sigpipe_ignored = read(p[0], &ignored, 1) == 1 && ignored;
    close(p[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status))
        fail_msg("replay_app_main died of signal %d", WTERMSIG(status));
    return WEXITSTATUS(status);
}

static void test_app_main_exit_codes(void **state)
{
    (void)state;
    bool ignored = false;
    /* A setup that fails: exit 1, and SIGPIPE was ignored from the start. */
    assert_int_equal(main_in_child(fail_setup, NULL, &ignored), 1);
    assert_true(ignored);
    /* A setting the setup refuses is configuration: exit 2. */
    assert_int_equal(main_in_child(config_setup, NULL, &ignored), 2);
    /* A clean stop after the threads finished: exit 0. */
    replay_thread_fn fn = stop_at_once;
    assert_int_equal(main_in_child(add_thread, &fn, &ignored), 0);
    /* A thread still busy at the drain deadline: exit 1 (through _exit, so the
     * SIGPIPE report is never written). */
    setenv("REPLAY_DRAIN_SECONDS", "0.2", 1);
    fn = never_finish;
    assert_int_equal(main_in_child(add_thread, &fn, &ignored), 1);
    unsetenv("REPLAY_DRAIN_SECONDS");
    char log[512];
    snprintf(log, sizeof(log), "%s/main.err", dir);
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "Thread worker did not finish within the"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_app_help_and_version_print_and_exit_0),
        cmocka_unit_test(test_app_bad_usage_exits_2_with_the_reason_and_usage),
        cmocka_unit_test(test_app_bad_configuration_exits_2_with_one_critical_line),
        cmocka_unit_test(test_app_print_config_exits_0_with_secrets_masked),
        cmocka_unit_test(test_app_good_configuration_goes_on_with_the_log_options),
        cmocka_unit_test(test_app_main_exit_codes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
