/* Unit tests of common/names: the file names Replay makes and recognises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "replay/names.h"

static void test_names_bundle_is_upstream_name(void **state)
{
    (void)state;
    char buf[REPLAY_NAMES_LEN];
    assert_int_equal(replay_names_bundle(REPLAY_INPUT_ALERT, "5KrKd3xQ9mZ1RE1", buf, sizeof(buf),
                                         NULL), 0);
    assert_string_equal(buf, "alert_5KrKd3xQ9mZ1RE1.al_bundle");
    assert_int_equal(replay_names_bundle(REPLAY_INPUT_SUBMISSION, "3aB_c-9", buf, sizeof(buf),
                                         NULL), 0);
    assert_string_equal(buf, "submission_3aB_c-9.al_bundle");
}

static void test_names_bundle_refuses_ids_unsafe_in_a_path(void **state)
{
    (void)state;
    char buf[REPLAY_NAMES_LEN], longid[REPLAY_NAMES_MAX_ID + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    const char *bad[] = {"", "../../etc/passwd", "a/b", ".hidden", "a b", "x\ny", "a.b",
                         "caf\xc3\xa9", longid};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct replay_err err = {0};
        assert_int_equal(replay_names_bundle(REPLAY_INPUT_ALERT, bad[i], buf, sizeof(buf), &err),
                         REPLAY_EUNSAFE);
        assert_non_null(strstr(err.msg, "not safe in a file name"));
        assert_null(strchr(err.msg, '\n'));
    }
    assert_false(replay_names_id_is_safe(NULL));
    longid[REPLAY_NAMES_MAX_ID] = '\0';
    assert_true(replay_names_id_is_safe(longid));
}

static void test_names_bundle_and_batch_refuse_the_other_kind(void **state)
{
    (void)state;
    char buf[REPLAY_NAMES_LEN];
    struct replay_isotime t = {0, 0};
    assert_int_equal(replay_names_bundle(REPLAY_INPUT_BADLIST, "x", buf, sizeof(buf), NULL),
                     REPLAY_EINVAL);
    assert_int_equal(replay_names_batch(REPLAY_INPUT_ALERT, &t, buf, sizeof(buf), NULL),
                     REPLAY_EINVAL);
    assert_int_equal(replay_names_bundle(REPLAY_INPUT_ALERT, "x", buf, 8, NULL), REPLAY_EINVAL);
}

static void test_names_batch_carries_the_time(void **state)
{
    (void)state;
    char buf[REPLAY_NAMES_LEN];
    struct replay_isotime t = {1714566896, 123456000};
    assert_int_equal(replay_names_batch(REPLAY_INPUT_SIGNATURE, &t, buf, sizeof(buf), NULL), 0);
    assert_string_equal(buf, "signature_2024-05-01T12:34:56.123456Z.al_json.cart");
}

static void test_names_classify_as_the_loader_sees_files(void **state)
{
    (void)state;
    assert_int_equal(replay_names_classify("alert_x.al_bundle"), REPLAY_NAMES_BUNDLE);
    assert_int_equal(replay_names_classify("badlist_2024.al_json"), REPLAY_NAMES_JSON);
    assert_int_equal(replay_names_classify("badlist_2024.al_json.cart"),
                     REPLAY_NAMES_JSON_CART);
    assert_int_equal(replay_names_classify(".alert_x.al_bundle"), REPLAY_NAMES_IGNORED);
    assert_int_equal(replay_names_classify(".alert_x.al_bundle.replay-tmp-1"),
                     REPLAY_NAMES_IGNORED);
    assert_int_equal(replay_names_classify("alert_x.al_bundle.part"), REPLAY_NAMES_IGNORED);
    assert_int_equal(replay_names_classify(".al_bundle"), REPLAY_NAMES_IGNORED);
    assert_int_equal(replay_names_classify("x.cart"), REPLAY_NAMES_IGNORED);
    assert_int_equal(replay_names_classify("dir/alert_x.al_bundle"), REPLAY_NAMES_IGNORED);
    assert_int_equal(replay_names_classify(""), REPLAY_NAMES_IGNORED);
    assert_int_equal(replay_names_classify(NULL), REPLAY_NAMES_IGNORED);
    assert_int_equal(replay_names_classify("replay_manifest_2026-12-04T13:20:11Z_42.json"),
                     REPLAY_NAMES_MANIFEST);
    assert_int_equal(replay_names_classify("replay_manifest_.json"), REPLAY_NAMES_IGNORED);
    assert_int_equal(replay_names_classify("replay_manifest_x.json.sig"), REPLAY_NAMES_IGNORED);
    assert_int_equal(replay_names_classify(".replay_manifest_x.json.replay-tmp-1"),
                     REPLAY_NAMES_IGNORED);
}

static void test_names_collection_is_the_prefix_before_the_first_underscore(void **state)
{
    (void)state;
    enum replay_input_type t;
    assert_int_equal(replay_names_collection("workflow_blah.al_json", &t, NULL), 0);
    assert_int_equal(t, REPLAY_INPUT_WORKFLOW);
    assert_int_equal(replay_names_collection("safelist_2024-05-01T12:34:56Z.al_json.cart", &t,
                                             NULL), 0);
    assert_int_equal(t, REPLAY_INPUT_SAFELIST);
    const char *bad[] = {"alert_x.al_json", "badlists_x.al_json", "badlist.al_json",
                         "_badlist_x.al_json", "signature"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct replay_err err = {0};
        assert_int_equal(replay_names_collection(bad[i], &t, &err), REPLAY_EFORMAT);
        assert_non_null(strstr(err.msg, "list collection"));
    }
}

static void test_names_basename(void **state)
{
    (void)state;
    assert_string_equal(replay_names_basename("/a/b/c.al_bundle"), "c.al_bundle");
    assert_string_equal(replay_names_basename("c"), "c");
    assert_string_equal(replay_names_basename("a/"), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_bundle_is_upstream_name),
        cmocka_unit_test(test_names_bundle_refuses_ids_unsafe_in_a_path),
        cmocka_unit_test(test_names_bundle_and_batch_refuse_the_other_kind),
        cmocka_unit_test(test_names_batch_carries_the_time),
        cmocka_unit_test(test_names_classify_as_the_loader_sees_files),
        cmocka_unit_test(test_names_collection_is_the_prefix_before_the_first_underscore),
        cmocka_unit_test(test_names_basename),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
