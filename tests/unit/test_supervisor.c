/*
 * Unit tests of common/supervisor with real threads, in process: restarts with
 * back-off, the heartbeat withheld while a thread hangs, idle threads counted as
 * healthy, the drain deadline. Signals are tested on real processes in
 * tests/integration/supervisor.sh.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/log.h"
#include "replay/supervisor.h"

static char hb_path[256];

static int setup(void **state)
{
    (void)state;
    replay_log_init("test", REPLAY_LOG_CRITICAL, REPLAY_LOG_TEXT, 2);
    snprintf(hb_path, sizeof(hb_path), "/tmp/replay-test-hb.%d", (int)getpid());
    unlink(hb_path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(hb_path);
    return 0;
}

static struct replay_supervisor_options fast_options(void)
{
    struct replay_supervisor_options o;
    replay_supervisor_options_default(&o, hb_path);
    o.heartbeat_interval_ms = 100;
    o.stall_timeout_ms = 400;
    o.drain_deadline_ms = 3000;
    o.restart_backoff_min_ms = 50;
    o.restart_backoff_max_ms = 200;
    return o;
}

struct runner {
    struct replay_supervisor *sup;
    uint64_t stop_after_ms;
    int rc;
};

/* Stops the supervisor after a while from another thread, as a signal would. */
static void *stop_later(void *arg)
{
    struct runner *r = arg;
    (void)replay_cancel_sleep_ms(NULL, r->stop_after_ms, false);
    replay_supervisor_stop(r->sup);
    return NULL;
}

static int run_for(struct replay_supervisor *s, uint64_t ms)
{
    struct runner r = {s, ms, 0};
    pthread_t t;
    struct replay_err err = {0};
    pthread_create(&t, NULL, stop_later, &r);
    int rc = replay_supervisor_run(s, &err);
    pthread_join(t, NULL);
    return rc;
}

static uint64_t heartbeat_age_ms(void)
{
    struct stat st;
    if (stat(hb_path, &st) != 0)
        return UINT64_MAX;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t age = ((int64_t)now.tv_sec - st.st_mtim.tv_sec) * 1000 +
                  (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
    return age < 0 ? 0 : (uint64_t)age;
}

static atomic_int crashes;

static int crash_at_once(void *arg, const struct replay_cancel *cancel)
{
    (void)arg;
    (void)cancel;
    atomic_fetch_add(&crashes, 1);
    return REPLAY_EIO;
}

static void test_supervisor_restarts_a_failing_thread_with_back_off(void **state)
{
    (void)state;
    struct replay_supervisor_options o = fast_options();
    struct replay_supervisor *s = NULL;
    struct replay_err err = {0};
    atomic_store(&crashes, 0);
    assert_int_equal(replay_supervisor_new(&o, &s, &err), 0);
    assert_int_equal(replay_supervisor_add(s, "crasher", crash_at_once, NULL, &err), 0);
    assert_int_equal(run_for(s, 1500), 0);
    /* Back-off 50, 100, 200, 200, ... ms: about 8 starts in 1.5 s, never hundreds. */
    int n = atomic_load(&crashes);
    assert_true(n >= 3);
    assert_true(n <= 12);
    /* A crash-looping thread is not hung: the heartbeat went on. */
    assert_true(heartbeat_age_ms() < 1000);
    replay_supervisor_free(s);
}

static atomic_int hang_now;

static int work_then_hang(void *arg, const struct replay_cancel *cancel)
{
    (void)arg;
    while (!replay_cancel_requested(cancel)) {
        if (!atomic_load(&hang_now))
            replay_progress();
        (void)replay_cancel_sleep_ms(cancel, 20, false);
    }
    return 0;
}

struct hang_check {
    struct replay_supervisor *sup;
    uint64_t age_before, age_after;
};

static void *hang_then_measure(void *arg)
{
    struct hang_check *h = arg;
    (void)replay_cancel_sleep_ms(NULL, 600, false);
    h->age_before = heartbeat_age_ms();
    atomic_store(&hang_now, 1);
    (void)replay_cancel_sleep_ms(NULL, 1500, false);
    h->age_after = heartbeat_age_ms();
    replay_supervisor_stop(h->sup);
    return NULL;
}

static void test_supervisor_heartbeat_stops_while_a_thread_hangs(void **state)
{
    (void)state;
    struct replay_supervisor_options o = fast_options();
    struct replay_supervisor *s = NULL;
    struct replay_err err = {0};
    atomic_store(&hang_now, 0);
    assert_int_equal(replay_supervisor_new(&o, &s, &err), 0);
    assert_int_equal(replay_supervisor_add(s, "worker", work_then_hang, NULL, &err), 0);
    struct hang_check h = {s, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, hang_then_measure, &h);
    assert_int_equal(replay_supervisor_run(s, &err), 0);
    pthread_join(t, NULL);
    assert_true(h.age_before < 500);   /* fresh while it worked */
    assert_true(h.age_after >= 900);   /* stale 1.5 s after the hang (stall 0.4 s) */
    replay_supervisor_free(s);
}

static int wait_idle(void *arg, const struct replay_cancel *cancel)
{
    (void)arg;
    while (replay_cancel_sleep_ms(cancel, 100000, true) == 0)
        ;
    return 0;
}

static void test_supervisor_idle_thread_keeps_the_heartbeat(void **state)
{
    (void)state;
    struct replay_supervisor_options o = fast_options();
    struct replay_supervisor *s = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_supervisor_new(&o, &s, &err), 0);
    assert_int_equal(replay_supervisor_add(s, "idler", wait_idle, NULL, &err), 0);
    assert_int_equal(run_for(s, 1200), 0);
    assert_true(heartbeat_age_ms() < 500);
    replay_supervisor_free(s);
}

static int ignore_cancel_for_a_while(void *arg, const struct replay_cancel *cancel)
{
    (void)arg;
    while (!replay_cancel_requested(cancel))
        (void)replay_cancel_sleep_ms(cancel, 1000, true);
    (void)replay_cancel_sleep_ms(NULL, 1500, false);
    return 0;
}

static void test_supervisor_drain_deadline_gives_timed_out(void **state)
{
    (void)state;
    struct replay_supervisor_options o = fast_options();
    o.drain_deadline_ms = 300;
    struct replay_supervisor *s = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_supervisor_new(&o, &s, &err), 0);
    assert_int_equal(replay_supervisor_add(s, "slow", ignore_cancel_for_a_while, NULL, &err), 0);
    uint64_t t0 = replay_now_ms();
    assert_int_equal(run_for(s, 200), REPLAY_ETIMEDOUT);
    assert_true(replay_now_ms() - t0 < 1400);
    replay_supervisor_free(s); /* joins the thread once it is done */
}

static void test_supervisor_drain_within_deadline_is_clean(void **state)
{
    (void)state;
    struct replay_supervisor_options o = fast_options();
    struct replay_supervisor *s = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_supervisor_new(&o, &s, &err), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(replay_supervisor_add(s, "idler", wait_idle, NULL, &err), 0);
    assert_int_equal(replay_supervisor_add(s, "slow", ignore_cancel_for_a_while, NULL, &err), 0);
    uint64_t t0 = replay_now_ms();
    assert_int_equal(run_for(s, 200), 0);
    assert_true(replay_now_ms() - t0 >= 1500);
    replay_supervisor_free(s);
}

static void test_supervisor_bad_arguments(void **state)
{
    (void)state;
    struct replay_supervisor_options o = fast_options();
    o.heartbeat_file = NULL;
    struct replay_supervisor *s = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_supervisor_new(&o, &s, &err), 0);
    assert_int_equal(replay_supervisor_add(s, "x", NULL, NULL, &err), REPLAY_EINVAL);
    replay_err_clear(&err);
    assert_int_equal(replay_supervisor_add(s, NULL, wait_idle, NULL, &err), REPLAY_EINVAL);
    /* No threads and no heartbeat file: runs and stops cleanly. */
    assert_int_equal(run_for(s, 100), 0);
    replay_supervisor_free(s);
    replay_supervisor_free(NULL);
    replay_supervisor_stop(NULL);
}

/* In a child: leaves exactly `free_fds` descriptors free, then runs a supervisor
 * that was asked to stop. Exit 0: it ran; 1: it failed with REPLAY_EIO and said
 * why; 2: anything else. A crash or hang is a signal (alarm bounds the hang). */
static void run_with_free_fds(int free_fds)
{
    /* cmocka's handlers would catch a crash here and run the other tests again. */
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        signal(fatal[i], SIG_DFL);
    alarm(20);
    struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        _exit(3);
    int fds[64], n = 0;
    while (n < 64 && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
        n++;
    for (int i = 0; i < free_fds && n > 0; i++)
        close(fds[--n]);
    struct replay_supervisor_options o = fast_options();
    o.heartbeat_file = NULL;
    struct replay_supervisor *s = NULL;
    struct replay_err err = {0};
    if (replay_supervisor_new(&o, &s, &err) != 0)
        _exit(2);
    replay_supervisor_stop(s);
    int rc = replay_supervisor_run(s, &err);
    replay_supervisor_free(s);
    if (rc == 0)
        _exit(0);
    _exit(rc == REPLAY_EIO && strstr(err.msg, "supervisor: ") != NULL ? 1 : 2);
}

static void test_supervisor_libuv_set_up_failure_is_an_error_not_a_crash(void **state)
{
    (void)state;
    /* With no descriptor left uv_loop_init fails; with a few, a later handle does;
     * with enough the supervisor runs. Each case: an error or a run, never a crash. */
    for (int free_fds = 0; free_fds <= 8; free_fds++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            run_with_free_fds(free_fds);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status))
            fail_msg("%d free fds: the child died of signal %d", free_fds, WTERMSIG(status));
        int code = WEXITSTATUS(status);
        if (free_fds == 0 && code != 1)
            fail_msg("no free fd: exit %d, expected the uv_loop_init error", code);
        if (code != 0 && code != 1)
            fail_msg("%d free fds: exit %d", free_fds, code);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_supervisor_restarts_a_failing_thread_with_back_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supervisor_heartbeat_stops_while_a_thread_hangs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supervisor_idle_thread_keeps_the_heartbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supervisor_drain_deadline_gives_timed_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supervisor_drain_within_deadline_is_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supervisor_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supervisor_libuv_set_up_failure_is_an_error_not_a_crash, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
