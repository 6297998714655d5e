/*
 * Unit tests of common/supervisor with real threads, in process: restarts with
 * back-off, the heartbeat withheld while a thread hangs, idle threads counted as
 * healthy, the drain deadline, a libuv set-up failure. Signals are tested on real
 * processes in tests/integration/services_lifecycle.sh.
 */
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/log.h"
#include "replay/supervisor.h"

static char hb_path[256];
static char log_path[256];
static int log_fd = -1;

/* The supervisor's log goes to a file, so tests can wait for what it reports. */
static int setup(void **state)
{
    (void)state;
    snprintf(hb_path, sizeof(hb_path), "/tmp/replay-test-hb.%d", (int)getpid());
    snprintf(log_path, sizeof(log_path), "/tmp/replay-test-sup-log.%d", (int)getpid());
    unlink(hb_path);
    log_fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
    assert_true(log_fd >= 0);
    replay_log_init("test", REPLAY_LOG_INFO, REPLAY_LOG_TEXT, log_fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    replay_log_init("test", REPLAY_LOG_CRITICAL, REPLAY_LOG_TEXT, 2);
    close(log_fd);
    unlink(log_path);
    unlink(hb_path);
    return 0;
}

static bool log_contains(const char *needle)
{
    static char buf[1 << 16];
    ssize_t n = pread(log_fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return strstr(buf, needle) != NULL;
}

static struct replay_supervisor_options fast_options(void)
{
    struct replay_supervisor_options o;
    replay_supervisor_options_default(&o, hb_path);
    o.heartbeat_interval_ms = 100;
    o.stall_timeout_ms = 400;
    o.drain_deadline_ms = 60000; /* tests that need the deadline set their own */
    o.restart_backoff_min_ms = 50;
    o.restart_backoff_max_ms = 200;
    return o;
}

/* Every wait of these tests is on a condition, bounded by WAIT_MS: on a loaded
 * machine a condition comes late, never wrong; when the feature is broken it
 * never comes, and the bound fails the test. */
#define WAIT_MS 30000

/* Heartbeat mtime in ns, 0 when there is no file. */
static int64_t heartbeat_ns(void)
{
    struct stat st;
    if (stat(hb_path, &st) != 0)
        return 0;
    return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static int64_t wall_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Polls cond(arg) every 10 ms until it holds or WAIT_MS pass. */
static bool wait_for(bool (*cond)(void *), void *arg)
{
    for (uint64_t t0 = replay_now_ms(); replay_now_ms() - t0 < WAIT_MS;) {
        if (cond(arg))
            return true;
        (void)replay_cancel_sleep_ms(NULL, 10, false);
    }
    return cond(arg);
}

/* The heartbeat was touched at or after *(int64_t *)arg (wall-clock ns). */
static bool beat_since(void *arg)
{
    return heartbeat_ns() >= *(int64_t *)arg;
}

struct stopper {
    struct replay_supervisor *sup;
    bool (*until)(void *);
    void *arg;
    bool met;
};

/* Stops the supervisor, as a signal would, once the condition holds. */
static void *stop_when(void *arg)
{
    struct stopper *st = arg;
    st->met = wait_for(st->until, st->arg);
    replay_supervisor_stop(st->sup);
    return NULL;
}

/* Runs the supervisor until `until` holds (or WAIT_MS); returns run's code and
 * whether the condition was met. */
static int run_until(struct replay_supervisor *s, bool (*until)(void *), void *arg, bool *met)
{
    struct stopper st = {s, until, arg, false};
    pthread_t t;
    struct replay_err err = {0};
    pthread_create(&t, NULL, stop_when, &st);
    int rc = replay_supervisor_run(s, &err);
    pthread_join(t, NULL);
    *met = st.met;
    return rc;
}

static bool always(void *arg)
{
    (void)arg;
    return true;
}

static atomic_int crashes;
static _Atomic int64_t third_crash_ns;

static int crash_at_once(void *arg, const struct replay_cancel *cancel)
{
    (void)arg;
    (void)cancel;
    if (atomic_fetch_add(&crashes, 1) == 2)
        atomic_store(&third_crash_ns, wall_ns());
    return REPLAY_EIO;
}

/* Five crashes, and a heartbeat touched after the third. */
static bool five_crashes_and_a_later_beat(void *arg)
{
    (void)arg;
    return atomic_load(&crashes) >= 5 && heartbeat_ns() > atomic_load(&third_crash_ns);
}

static void test_supervisor_restarts_a_failing_thread_with_back_off(void **state)
{
    (void)state;
    struct replay_supervisor_options o = fast_options();
    struct replay_supervisor *s = NULL;
    struct replay_err err = {0};
    bool met = false;
    atomic_store(&crashes, 0);
    atomic_store(&third_crash_ns, INT64_MAX);
    assert_int_equal(replay_supervisor_new(&o, &s, &err), 0);
    assert_int_equal(replay_supervisor_add(s, "crasher", crash_at_once, NULL, &err), 0);
    uint64_t t0 = replay_now_ms();
    assert_int_equal(run_until(s, five_crashes_and_a_later_beat, NULL, &met), 0);
    uint64_t took = replay_now_ms() - t0;
    /* A crash-looping thread is not hung: the heartbeat went on after crashes. */
    assert_true(met);
    /* Back-off before restarts 2..5: 50 + 100 + 200 + 200 ms at least (load only
     * lengthens it); without back-off five crashes take a few ms. */
    assert_true(took >= 550);
    assert_true(log_contains("Crash in thread crasher: input/output error (REPLAY_EIO); "
                             "restarting in 200 ms"));
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

static bool stall_reported(void *arg)
{
    (void)arg;
    return log_contains("Thread worker made no progress");
}

struct hang_check {
    struct replay_supervisor *sup;
    bool fresh, reported;
    int64_t beat_at_report, beat_later;
};

/* While the thread works the heartbeat is touched again; once it hangs the
 * supervisor reports the stall and touches the file no more. */
static void *hang_then_watch(void *arg)
{
    struct hang_check *h = arg;
    int64_t t = wall_ns();
    h->fresh = wait_for(beat_since, &t);
    atomic_store(&hang_now, 1);
    h->reported = wait_for(stall_reported, NULL);
    h->beat_at_report = heartbeat_ns();
    /* Ten heartbeat intervals: a heartbeat that went on would have been touched. */
    (void)replay_cancel_sleep_ms(NULL, 1000, false);
    h->beat_later = heartbeat_ns();
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
    struct hang_check h = {.sup = s};
    pthread_t t;
    pthread_create(&t, NULL, hang_then_watch, &h);
    assert_int_equal(replay_supervisor_run(s, &err), 0);
    pthread_join(t, NULL);
    assert_true(h.fresh);
    assert_true(h.reported);
    assert_true(h.beat_later == h.beat_at_report);
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
    bool met = false;
    assert_int_equal(replay_supervisor_new(&o, &s, &err), 0);
    assert_int_equal(replay_supervisor_add(s, "idler", wait_idle, NULL, &err), 0);
    /* A beat well past the stall timeout: an idle thread counted as stalled would
     * have stopped the beats 400 ms after it started. */
    int64_t later = wall_ns() + 3 * (int64_t)o.stall_timeout_ms * 1000000;
    assert_int_equal(run_until(s, beat_since, &later, &met), 0);
    assert_true(met);
    assert_false(log_contains("made no progress"));
    replay_supervisor_free(s);
}

static atomic_bool release_slow, slow_running;

/* The drain tests stop the supervisor once the slow thread runs: stopped before
 * its first tick, a supervisor starts no thread at all. */
static bool slow_is_running(void *arg)
{
    (void)arg;
    return atomic_load(&slow_running);
}

/* Ignores the cancel request until the test releases it. */
static int hold_until_released(void *arg, const struct replay_cancel *cancel)
{
    (void)arg;
    atomic_store(&slow_running, true);
    while (!replay_cancel_requested(cancel))
        (void)replay_cancel_sleep_ms(cancel, 1000, true);
    while (!atomic_load(&release_slow))
        (void)replay_cancel_sleep_ms(NULL, 10, false);
    return 0;
}

static void test_supervisor_drain_deadline_gives_timed_out(void **state)
{
    (void)state;
    struct replay_supervisor_options o = fast_options();
    o.drain_deadline_ms = 300;
    struct replay_supervisor *s = NULL;
    struct replay_err err = {0};
    bool met = false;
    atomic_store(&release_slow, false);
    atomic_store(&slow_running, false);
    assert_int_equal(replay_supervisor_new(&o, &s, &err), 0);
    assert_int_equal(replay_supervisor_add(s, "slow", hold_until_released, NULL, &err), 0);
    uint64_t t0 = replay_now_ms();
    /* The thread never finishes by itself: only the deadline can end the run. */
    assert_int_equal(run_until(s, slow_is_running, NULL, &met), REPLAY_ETIMEDOUT);
    assert_true(met);
    assert_true(replay_now_ms() - t0 >= 300);
    assert_true(log_contains("Thread slow did not finish within the"));
    atomic_store(&release_slow, true);
    replay_supervisor_free(s); /* joins the thread once it is done */
}

static int work_after_cancel(void *arg, const struct replay_cancel *cancel)
{
    (void)arg;
    atomic_store(&slow_running, true);
    while (!replay_cancel_requested(cancel))
        (void)replay_cancel_sleep_ms(cancel, 1000, true);
    (void)replay_cancel_sleep_ms(NULL, 500, false);
    return 0;
}

static void test_supervisor_drain_within_deadline_is_clean(void **state)
{
    (void)state;
    struct replay_supervisor_options o = fast_options(); /* deadline 60 s */
    struct replay_supervisor *s = NULL;
    struct replay_err err = {0};
    bool met = false;
    assert_int_equal(replay_supervisor_new(&o, &s, &err), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(replay_supervisor_add(s, "idler", wait_idle, NULL, &err), 0);
    assert_int_equal(replay_supervisor_add(s, "slow", work_after_cancel, NULL, &err), 0);
    atomic_store(&slow_running, false);
    uint64_t t0 = replay_now_ms();
    assert_int_equal(run_until(s, slow_is_running, NULL, &met), 0);
    assert_true(met);
    /* It waited for the work in hand (500 ms after the stop). */
    assert_true(replay_now_ms() - t0 >= 500);
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
    bool met = false;
    assert_int_equal(run_until(s, always, NULL, &met), 0);
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
