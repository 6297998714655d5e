/* Unit tests of common/error: codes, texts, first message wins. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "replay/error.h"

static void test_error_every_code_has_a_text_and_a_name(void **state)
{
    (void)state;
#define CHECK(name, value, text)                                   \
    assert_string_equal(replay_strerror(value), text);             \
    assert_string_equal(replay_err_name(value), "REPLAY_" #name);
    REPLAY_ERRORS(CHECK)
#undef CHECK
    assert_string_equal(replay_strerror(-9999), "unknown error");
}

static void test_error_first_message_wins(void **state)
{
    (void)state;
    struct replay_err err = {0};
    assert_int_equal(replay_err_set(&err, REPLAY_EIO, "read %s", "a"), REPLAY_EIO);
    assert_int_equal(replay_err_set(&err, REPLAY_EINVAL, "later"), REPLAY_EINVAL);
    assert_int_equal(err.code, REPLAY_EIO);
    assert_string_equal(err.msg, "read a");
    replay_err_clear(&err);
    assert_int_equal(err.code, 0);
    assert_string_equal(err.msg, "");
}

static void test_error_sys_appends_strerror_and_saves_errno(void **state)
{
    (void)state;
    struct replay_err err = {0};
    replay_err_sys(&err, REPLAY_EIO, ENOENT, "open %s", "/x");
    assert_int_equal(err.sys_errno, ENOENT);
    assert_string_equal(err.msg, "open /x: No such file or directory");
}

static void test_error_prefix_adds_context(void **state)
{
    (void)state;
    struct replay_err err = {0};
    replay_err_prefix(&err, "nothing to prefix");
    assert_string_equal(err.msg, "");
    replay_err_set(&err, REPLAY_EIO, "disk full");
    replay_err_prefix(&err, "upload %s", "b");
    assert_string_equal(err.msg, "upload b: disk full");
}

static void test_error_null_buffer_is_allowed(void **state)
{
    (void)state;
    assert_int_equal(replay_err_set(NULL, REPLAY_EIO, "x"), REPLAY_EIO);
    replay_err_clear(NULL);
    replay_err_prefix(NULL, "x");
}

static void test_error_long_message_is_truncated(void **state)
{
    (void)state;
    struct replay_err err = {0};
    char big[4096];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    replay_err_set(&err, REPLAY_EIO, "%s", big);
    assert_int_equal(strlen(err.msg), REPLAY_ERR_MSG_LEN - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_every_code_has_a_text_and_a_name),
        cmocka_unit_test(test_error_first_message_wins),
        cmocka_unit_test(test_error_sys_appends_strerror_and_saves_errno),
        cmocka_unit_test(test_error_prefix_adds_context),
        cmocka_unit_test(test_error_null_buffer_is_allowed),
        cmocka_unit_test(test_error_long_message_is_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
