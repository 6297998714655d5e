/* Unit tests of common/backoff: capped exponential back-off with jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "replay/backoff.h"

static void test_backoff_doubles_within_jitter_up_to_the_cap(void **state)
{
    (void)state;
    struct replay_backoff b;
    replay_backoff_init(&b, 100, 1000);
    uint64_t steps[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        uint64_t d = replay_backoff_next_ms(&b);
        assert_true(d >= steps[i] / 2 && d <= steps[i]);
    }
    assert_int_equal(b.failures, 7);
    replay_backoff_reset(&b);
    assert_int_equal(b.failures, 0);
    assert_true(replay_backoff_next_ms(&b) <= 100);
}

static void test_backoff_jitter_spreads_two_clients_apart(void **state)
{
    (void)state;
    struct replay_backoff a, b;
    replay_backoff_init(&a, 10000, 10000);
    replay_backoff_init(&b, 10000, 10000);
    int same = 0;
    for (int i = 0; i < 32; i++)
        same += replay_backoff_next_ms(&a) == replay_backoff_next_ms(&b);
    assert_true(same < 4);
}

static void test_backoff_bounds_are_sane(void **state)
{
    (void)state;
    struct replay_backoff b;
    replay_backoff_init(&b, 0, 0);
    assert_int_equal(b.min_ms, 1);
    assert_int_equal(b.max_ms, 1);
    assert_true(replay_backoff_next_ms(&b) <= 1);
    replay_backoff_init(&b, UINT64_MAX / 2 + 7, UINT64_MAX);
    for (int i = 0; i < 4; i++) /* no overflow at the top */
        assert_true(replay_backoff_next_ms(&b) >= UINT64_MAX / 4);
}

static void test_backoff_wait_ends_at_once_when_canceled(void **state)
{
    (void)state;
    struct replay_backoff b;
    struct replay_cancel *c = replay_cancel_new();
    replay_backoff_init(&b, 1, 2);
    assert_int_equal(replay_backoff_wait(&b, c), 0);
    replay_cancel_request(c);
    replay_backoff_init(&b, 3600000, 3600000);
    uint64_t t0 = replay_now_ms();
    assert_int_equal(replay_backoff_wait(&b, c), REPLAY_ECANCELED);
    assert_true(replay_now_ms() - t0 < 60000);
    replay_cancel_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_within_jitter_up_to_the_cap),
        cmocka_unit_test(test_backoff_jitter_spreads_two_clients_apart),
        cmocka_unit_test(test_backoff_bounds_are_sane),
        cmocka_unit_test(test_backoff_wait_ends_at_once_when_canceled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
