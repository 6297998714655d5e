/* Unit tests of common/lifecycle: cancel tokens, interruptible sleeps, liveness. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "replay/lifecycle.h"

static void *cancel_later(void *arg)
{
    (void)replay_cancel_sleep_ms(NULL, 100, false);
    replay_cancel_request(arg);
    return NULL;
}

static void test_lifecycle_sleep_times_out_when_not_canceled(void **state)
{
    (void)state;
    struct replay_cancel *c = replay_cancel_new();
    uint64_t t0 = replay_now_ms();
    assert_int_equal(replay_cancel_sleep_ms(c, 50, false), 0);
    assert_true(replay_now_ms() - t0 >= 50);
    assert_false(replay_cancel_requested(c));
    replay_cancel_free(c);
}

static void test_lifecycle_cancel_wakes_a_sleeper_at_once(void **state)
{
    (void)state;
    struct replay_cancel *c = replay_cancel_new();
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, c);
    uint64_t t0 = replay_now_ms();
    assert_int_equal(replay_cancel_sleep_ms(c, 60000, true), REPLAY_ECANCELED);
    assert_true(replay_now_ms() - t0 < 10000);
    pthread_join(t, NULL);
    /* Once requested, every later sleep returns at once. */
    assert_int_equal(replay_cancel_sleep_ms(c, 60000, false), REPLAY_ECANCELED);
    assert_true(replay_cancel_requested(c));
    replay_cancel_free(c);
}

static void test_lifecycle_null_token_is_never_canceled(void **state)
{
    (void)state;
    assert_false(replay_cancel_requested(NULL));
    assert_int_equal(replay_cancel_sleep_ms(NULL, 1, false), 0);
    replay_cancel_request(NULL);
    replay_cancel_free(NULL);
}

static void test_lifecycle_progress_and_idle_feed_the_bound_record(void **state)
{
    (void)state;
    struct replay_liveness l = {0};
    replay_progress(); /* unbound: no-op, no crash */
    replay_idle_begin();
    replay_idle_end();
    replay_liveness_bind(&l);
    uint64_t first = l.last_progress_ms;
    assert_true(first > 0);
    replay_idle_begin();
    assert_int_equal(l.idle_depth, 1);
    (void)replay_cancel_sleep_ms(NULL, 5, true); /* nested idle */
    assert_int_equal(l.idle_depth, 1);
    replay_idle_end();
    assert_int_equal(l.idle_depth, 0);
    assert_true(l.last_progress_ms >= first + 5);
    replay_liveness_bind(NULL);
    replay_progress();
    assert_int_equal(l.idle_depth, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_sleep_times_out_when_not_canceled),
        cmocka_unit_test(test_lifecycle_cancel_wakes_a_sleeper_at_once),
        cmocka_unit_test(test_lifecycle_null_token_is_never_canceled),
        cmocka_unit_test(test_lifecycle_progress_and_idle_feed_the_bound_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
