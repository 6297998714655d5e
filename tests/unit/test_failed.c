/* Unit tests of common/failed: moves into the failed directory and the sidecar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "replay/failed.h"

static char base[64], in[128], failed[128];

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof(base), "/tmp/replay-test-failed-XXXXXX");
    if (mkdtemp(base) == NULL)
        return -1;
    snprintf(in, sizeof(in), "%s/in", base);
    snprintf(failed, sizeof(failed), "%s/failed", base);
    return mkdir(in, 0700) == 0 && mkdir(failed, 0700) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    return system(cmd);
}

static void put(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *dir, const char *name)
{
    char path[512];
    static char buf[65536];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Names in dir, sorted, joined by ' '. */
static const char *listing(const char *dir)
{
    static char out[4096];
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0) {
            strcat(out, out[0] ? " " : "");
            strcat(out, names[i]->d_name);
        }
        free(names[i]);
    }
    free(names);
    return out;
}

static int open_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    return fd;
}

static void test_failed_move_renames_and_replaces_a_same_named_file(void **state)
{
    (void)state;
    put(in, "a.al_bundle", "new");
    put(failed, "a.al_bundle", "old");
    int d = open_dir(in);
    assert_int_equal(replay_failed_move(failed, d, "a.al_bundle", NULL, NULL), 0);
    assert_string_equal(slurp(failed, "a.al_bundle"), "new");
    assert_string_equal(listing(in), "");
    struct replay_err err = {0};
    assert_int_equal(replay_failed_move(failed, d, "a.al_bundle", NULL, &err), REPLAY_ENOTFOUND);
    assert_string_equal(err.msg, "a.al_bundle is gone");
    close(d);
}

static void test_failed_move_creates_the_failed_directory_again(void **state)
{
    (void)state;
    assert_int_equal(rmdir(failed), 0);
    put(in, "b.al_json", "[]");
    int d = open_dir(in);
    assert_int_equal(replay_failed_move(failed, d, "b.al_json", NULL, NULL), 0);
    assert_string_equal(listing(failed), "b.al_json");
    close(d);
    char gone[256];
    snprintf(gone, sizeof(gone), "%s/no/such", base);
    put(in, "c.al_json", "[]");
    d = open_dir(in);
    struct replay_err err = {0};
    assert_int_equal(replay_failed_move(gone, d, "c.al_json", NULL, &err), REPLAY_EIO);
    assert_non_null(strstr(err.msg, "open the failed directory"));
    assert_string_equal(listing(in), "c.al_json");
    close(d);
}

/* A directory on another file system than base (tmpfs /dev/shm), or NULL. */
static const char *other_fs_dir(char *buf, size_t size)
{
    struct stat a, b;
    if (stat("/dev/shm", &a) != 0 || stat(base, &b) != 0 || a.st_dev == b.st_dev)
        return NULL;
    snprintf(buf, size, "/dev/shm/replay-test-failed-XXXXXX");
    return mkdtemp(buf);
}

static void test_failed_move_copies_across_file_systems_then_removes(void **state)
{
    (void)state;
    char other[64], cmd[256];
    if (other_fs_dir(other, sizeof(other)) == NULL)
        skip();
    char big[300000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put(other, "d.al_bundle", big);
    put(failed, "d.al_bundle", "old");
    mkfifo(strcat(strcpy(cmd, other), "/fifo.al_bundle"), 0600);
    assert_int_equal(symlink("/etc/passwd", strcat(strcpy(cmd, other), "/link.al_bundle")), 0);
    int d = open_dir(other);
    assert_int_equal(replay_failed_move(failed, d, "d.al_bundle", NULL, NULL), 0);
    struct stat st;
    snprintf(cmd, sizeof(cmd), "%s/d.al_bundle", failed);
    assert_int_equal(stat(cmd, &st), 0);
    assert_int_equal(st.st_size, sizeof(big) - 1);
    assert_string_equal(listing(failed), "d.al_bundle"); /* no temporary left */
    const char *special[] = {"fifo.al_bundle", "link.al_bundle"};
    for (int i = 0; i < 2; i++) {
        struct replay_err err = {0};
        assert_int_equal(replay_failed_move(failed, d, special[i], NULL, &err),
                         REPLAY_EUNSUPPORTED);
        assert_non_null(strstr(err.msg, "not a regular file: left where it is"));
    }
    assert_string_equal(listing(other), "fifo.al_bundle link.al_bundle");
    struct replay_cancel *c = replay_cancel_new();
    replay_cancel_request(c);
    put(other, "e.al_bundle", "e");
    assert_int_equal(replay_failed_move(failed, d, "e.al_bundle", c, NULL), REPLAY_ECANCELED);
    assert_string_equal(listing(other), "e.al_bundle fifo.al_bundle link.al_bundle");
    assert_string_equal(listing(failed), "d.al_bundle");
    replay_cancel_free(c);
    close(d);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", other);
    assert_int_equal(system(cmd), 0);
}

static void test_failed_sidecar_says_why_when_where_and_which_items(void **state)
{
    (void)state;
    struct replay_failed_item items[] = {{"abc", "HTTP 400: No valid hash found"},
                                         {"#3", "larger than 16 bytes"}};
    struct replay_failed_record rec = {.reason = "2 of 5 documents refused",
                                       .component = "replay-loader-worker",
                                       .attempts = 1,
                                       .original_path = "/in/badlist_x.al_json",
                                       .items = items,
                                       .n_items = 2,
                                       .items_failed = 2};
    char *text = replay_failed_sidecar_json("badlist_x.al_json", &rec, "2024-05-01T12:34:56Z", "h");
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), rec.reason);
    assert_string_equal(json_string_value(json_object_get(j, "time")), "2024-05-01T12:34:56Z");
    assert_string_equal(json_string_value(json_object_get(j, "host")), "h");
    assert_string_equal(json_string_value(json_object_get(j, "component")), rec.component);
    assert_int_equal(json_integer_value(json_object_get(j, "attempts")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "original_path")),
                        rec.original_path);
    assert_string_equal(json_string_value(json_object_get(j, "file")), "badlist_x.al_json");
    assert_int_equal(json_integer_value(json_object_get(j, "items_failed")), 2);
    json_t *it = json_array_get(json_object_get(j, "items"), 1);
    assert_string_equal(json_string_value(json_object_get(it, "id")), "#3");
    json_decref(j);
    free(text);
    rec.n_items = rec.items_failed = 0;
    rec.original_path = "/in/caf\xe9\n.al_bundle";
    text = replay_failed_sidecar_json("caf\xe9\n.al_bundle", &rec, "t", "h");
    j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "original_path")),
                        "/in/caf?\n.al_bundle");
    assert_null(json_object_get(j, "items"));
    assert_null(json_object_get(j, "items_failed"));
    json_decref(j);
    free(text);
    rec.reason = NULL;
    assert_null(replay_failed_sidecar_json("x", &rec, "t", "h"));
}

static void test_failed_sidecar_lists_at_most_the_cap_of_items(void **state)
{
    (void)state;
    struct replay_failed_item *items = calloc(REPLAY_FAILED_MAX_ITEMS + 5, sizeof(*items));
    for (size_t i = 0; i < REPLAY_FAILED_MAX_ITEMS + 5; i++)
        items[i] = (struct replay_failed_item){"id", "refused"};
    struct replay_failed_record rec = {.reason = "r", .items = items,
                                       .n_items = REPLAY_FAILED_MAX_ITEMS + 5,
                                       .items_failed = 20000};
    char *text = replay_failed_sidecar_json("x", &rec, "t", "h");
    json_t *j = json_loads(text, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "items")), REPLAY_FAILED_MAX_ITEMS);
    assert_int_equal(json_integer_value(json_object_get(j, "items_failed")), 20000);
    json_decref(j);
    free(text);
    free(items);
}

static void test_failed_write_reason_writes_and_replaces_the_sidecar(void **state)
{
    (void)state;
    struct replay_failed_record rec = {.reason = "first"};
    assert_int_equal(replay_failed_write_reason(failed, "f.al_bundle", &rec, NULL), 0);
    rec.reason = "second";
    assert_int_equal(replay_failed_write_reason(failed, "f.al_bundle", &rec, NULL), 0);
    assert_string_equal(listing(failed), "f.al_bundle.error.json");
    json_t *j = json_loads(slurp(failed, "f.al_bundle.error.json"), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "second");
    json_decref(j);
    char longname[NAME_MAX + 1];
    memset(longname, 'n', NAME_MAX);
    longname[NAME_MAX] = '\0';
    assert_int_equal(replay_failed_write_reason(failed, longname, &rec, NULL), 0);
    char cut[NAME_MAX + 1];
    snprintf(cut, sizeof(cut), "%.*s.error.json", NAME_MAX - 11, longname);
    assert_non_null(slurp(failed, cut));
    struct replay_err err = {0};
    rec.reason = NULL;
    assert_int_equal(replay_failed_write_reason(failed, "g", &rec, &err), REPLAY_EINVAL);
}

static void test_failed_parse_reads_back_what_the_writer_wrote(void **state)
{
    (void)state;
    struct replay_failed_item items[] = {{"abc", "HTTP 400"}, {"#3", "too big"}};
    struct replay_failed_record rec = {.reason = "2 refused", .component = "replay-loader-worker",
                                       .attempts = 3, .original_path = "/in/badlist_x.al_json",
                                       .items = items, .n_items = 2, .items_failed = 7};
    char *text = replay_failed_sidecar_json("badlist_x.al_json", &rec, "2024-05-01T12:34:56Z",
                                            "h");
    struct replay_failed_info *info = NULL;
    assert_int_equal(replay_failed_parse(text, strlen(text), &info, NULL), 0);
    assert_string_equal(info->reason, "2 refused");
    assert_string_equal(info->time, "2024-05-01T12:34:56Z");
    assert_string_equal(info->host, "h");
    assert_string_equal(info->component, "replay-loader-worker");
    assert_string_equal(info->original_path, "/in/badlist_x.al_json");
    assert_string_equal(info->file, "badlist_x.al_json");
    assert_int_equal(info->attempts, 3);
    assert_int_equal(info->items_failed, 7);
    assert_int_equal(info->n_items, 2);
    assert_string_equal(info->items[1].id, "#3");
    assert_string_equal(info->items[1].reason, "too big");
    replay_failed_info_free(info);
    free(text);
    const char *bare = "{\"reason\": \"by hand\"}";
    assert_int_equal(replay_failed_parse(bare, strlen(bare), &info, NULL), 0);
    assert_null(info->time);
    assert_int_equal(info->attempts, -1);
    assert_int_equal(info->n_items, 0);
    replay_failed_info_free(info);
    replay_failed_info_free(NULL);
}

static void test_failed_parse_refuses_a_corrupt_sidecar_and_names_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"{\"reason\": \"x\"", "sidecar: invalid JSON at line 1"},
        {"", "sidecar: invalid JSON"},
        {"[\"reason\"]", "sidecar: not a JSON object"},
        {"{\"time\": \"t\"}", "sidecar: no \"reason\""},
        {"{\"reason\": 5}", "sidecar: \"reason\" is not a string"},
        {"{\"reason\": \"x\", \"host\": []}", "sidecar: \"host\" is not a string"},
        {"{\"reason\": \"x\", \"attempts\": \"2\"}", "sidecar: \"attempts\" is not a count"},
        {"{\"reason\": \"x\", \"items_failed\": -1}", "sidecar: \"items_failed\" is not a count"},
        {"{\"reason\": \"x\", \"items\": {}}", "sidecar: \"items\" is not an array"},
        {"{\"reason\": \"x\", \"items\": [{\"id\": \"a\"}, 3]}", "sidecar: items[1] is not an object"},
        {"{\"reason\": \"x\", \"items\": [{\"id\": 1}]}", "sidecar: \"id\" is not a string"},
        {"{\"reason\": \"x\", \"reason\": \"y\"}", "sidecar: invalid JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct replay_failed_info *info = (void *)1;
        struct replay_err err = {0};
        assert_int_equal(replay_failed_parse(cases[i].text, strlen(cases[i].text), &info, &err),
                         REPLAY_EFORMAT);
        assert_null(info);
        if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: %s", i, err.msg);
    }
    struct replay_failed_info *info = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_failed_parse("{}", REPLAY_FAILED_SIDECAR_MAX + 1, &info, &err),
                     REPLAY_ETOOBIG);
    assert_string_equal(err.msg, "sidecar: larger than 8388608 bytes");
}

static void test_failed_read_reason_reads_the_sidecar_of_a_name(void **state)
{
    (void)state;
    struct replay_failed_record rec = {.reason = "bad tar"};
    struct replay_failed_info *info = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_failed_write_reason(failed, "a.al_bundle", &rec, NULL), 0);
    assert_int_equal(replay_failed_read_reason(failed, "a.al_bundle", &info, NULL), 0);
    assert_string_equal(info->reason, "bad tar");
    assert_string_equal(info->file, "a.al_bundle");
    replay_failed_info_free(info);
    assert_int_equal(replay_failed_read_reason(failed, "b.al_bundle", &info, &err),
                     REPLAY_ENOTFOUND);
    assert_null(info);
    assert_non_null(strstr(err.msg, "/b.al_bundle.error.json: no such file"));
    put(failed, "c.al_bundle.error.json", "not json");
    assert_int_equal(replay_failed_read_reason(failed, "c.al_bundle", &info, &err),
                     REPLAY_EFORMAT);
    char path[512];
    snprintf(path, sizeof(path), "%s/d.al_bundle.error.json", failed);
    assert_int_equal(mkdir(path, 0700), 0);
    replay_err_clear(&err);
    assert_int_equal(replay_failed_read_reason(failed, "d.al_bundle", &info, &err),
                     REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "is not a regular file"));
    snprintf(path, sizeof(path), "%s/e.al_bundle.error.json", failed);
    assert_int_equal(symlink("a.al_bundle.error.json", path), 0);
    assert_int_equal(replay_failed_read_reason(failed, "e.al_bundle", &info, &err), REPLAY_EIO);
    snprintf(path, sizeof(path), "%s/none", base);
    assert_int_equal(replay_failed_read_reason(path, "a.al_bundle", &info, &err),
                     REPLAY_ENOTFOUND);
}

static void test_failed_name_ok_refuses_paths_dot_files_and_sidecars(void **state)
{
    (void)state;
    char longname[NAME_MAX + 2];
    memset(longname, 'n', NAME_MAX + 1);
    longname[NAME_MAX + 1] = '\0';
    assert_true(replay_failed_name_ok("submission_x.al_bundle"));
    assert_true(replay_failed_name_ok("a..b"));
    const char *bad[] = {NULL, "", ".", "..", "../x.al_bundle", "a/b", "/etc/passwd",
                         ".hidden", "x.al_bundle.error.json", longname};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (replay_failed_name_ok(bad[i]))
            fail_msg("accepted %s", bad[i] != NULL ? bad[i] : "NULL");
}

static void test_failed_restore_moves_the_file_back_and_removes_the_sidecar(void **state)
{
    (void)state;
    struct replay_failed_record rec = {.reason = "r"};
    put(failed, "a.al_bundle", "a");
    assert_int_equal(replay_failed_write_reason(failed, "a.al_bundle", &rec, NULL), 0);
    assert_int_equal(replay_failed_restore(failed, "a.al_bundle", in, NULL, NULL), 0);
    assert_string_equal(listing(failed), "");
    assert_string_equal(slurp(in, "a.al_bundle"), "a");
    put(failed, "b.al_bundle", "b"); /* no sidecar: moved all the same */
    assert_int_equal(replay_failed_restore(failed, "b.al_bundle", in, NULL, NULL), 0);
    assert_string_equal(listing(in), "a.al_bundle b.al_bundle");
}

static void test_failed_restore_never_replaces_a_file_in_the_input_directory(void **state)
{
    (void)state;
    struct replay_failed_record rec = {.reason = "r"};
    struct replay_err err = {0};
    put(failed, "a.al_bundle", "failed copy");
    assert_int_equal(replay_failed_write_reason(failed, "a.al_bundle", &rec, NULL), 0);
    put(in, "a.al_bundle", "newer copy");
    assert_int_equal(replay_failed_restore(failed, "a.al_bundle", in, NULL, &err), REPLAY_EEXIST);
    assert_non_null(strstr(err.msg, "/in/a.al_bundle already exists: a.al_bundle left in the "
                                    "failed directory"));
    assert_string_equal(slurp(in, "a.al_bundle"), "newer copy");
    assert_string_equal(slurp(failed, "a.al_bundle"), "failed copy");
    assert_string_equal(listing(failed), "a.al_bundle a.al_bundle.error.json");
}

static void test_failed_restore_refuses_bad_names_and_what_is_not_a_file(void **state)
{
    (void)state;
    struct replay_err err = {0};
    char path[512];
    put(base, "outside.al_bundle", "x");
    replay_err_clear(&err);
    assert_int_equal(replay_failed_restore(failed, "../outside.al_bundle", in, NULL, &err),
                     REPLAY_EINVAL);
    assert_string_equal(err.msg, "\"../outside.al_bundle\" is not the name of a file of the "
                                 "failed directory");
    assert_int_equal(replay_failed_restore(failed, "..", in, NULL, &err), REPLAY_EINVAL);
    assert_int_equal(replay_failed_restore(failed, "x.al_bundle", in, NULL, &err),
                     REPLAY_ENOTFOUND);
    snprintf(path, sizeof(path), "%s/link.al_bundle", failed);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    assert_int_equal(replay_failed_restore(failed, "link.al_bundle", in, NULL, &err),
                     REPLAY_EUNSUPPORTED);
    snprintf(path, sizeof(path), "%s/nowhere", base);
    put(failed, "y.al_bundle", "y");
    replay_err_clear(&err);
    assert_int_equal(replay_failed_restore(failed, "y.al_bundle", path, NULL, &err), REPLAY_EIO);
    assert_non_null(strstr(err.msg, "open the input directory"));
    replay_err_clear(&err);
    assert_int_equal(replay_failed_restore(path, "y.al_bundle", in, NULL, &err), REPLAY_EIO);
    assert_non_null(strstr(err.msg, "open the failed directory"));
    assert_string_equal(listing(in), "");
    assert_string_equal(listing(failed), "link.al_bundle y.al_bundle");
}

static void test_failed_restore_copies_across_file_systems_without_replacing(void **state)
{
    (void)state;
    char other[64], cmd[256];
    struct replay_err err = {0};
    struct replay_failed_record rec = {.reason = "r"};
    if (other_fs_dir(other, sizeof(other)) == NULL)
        skip();
    put(failed, "a.al_bundle", "from failed");
    put(failed, "b.al_bundle", "from failed");
    assert_int_equal(replay_failed_write_reason(failed, "a.al_bundle", &rec, NULL), 0);
    put(other, "b.al_bundle", "already there");
    assert_int_equal(replay_failed_restore(failed, "a.al_bundle", other, NULL, NULL), 0);
    assert_string_equal(slurp(other, "a.al_bundle"), "from failed");
    assert_int_equal(replay_failed_restore(failed, "b.al_bundle", other, NULL, &err),
                     REPLAY_EEXIST);
    assert_string_equal(slurp(other, "b.al_bundle"), "already there");
    assert_string_equal(listing(other), "a.al_bundle b.al_bundle"); /* no temporary */
    assert_string_equal(listing(failed), "b.al_bundle");
    snprintf(cmd, sizeof(cmd), "rm -rf %s", other);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failed_move_renames_and_replaces_a_same_named_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_move_creates_the_failed_directory_again,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_move_copies_across_file_systems_then_removes,
                                        setup, teardown),
        cmocka_unit_test(test_failed_sidecar_says_why_when_where_and_which_items),
        cmocka_unit_test(test_failed_sidecar_lists_at_most_the_cap_of_items),
        cmocka_unit_test_setup_teardown(test_failed_write_reason_writes_and_replaces_the_sidecar,
                                        setup, teardown),
        cmocka_unit_test(test_failed_parse_reads_back_what_the_writer_wrote),
        cmocka_unit_test(test_failed_parse_refuses_a_corrupt_sidecar_and_names_the_key),
        cmocka_unit_test_setup_teardown(test_failed_read_reason_reads_the_sidecar_of_a_name,
                                        setup, teardown),
        cmocka_unit_test(test_failed_name_ok_refuses_paths_dot_files_and_sidecars),
        cmocka_unit_test_setup_teardown(
            test_failed_restore_moves_the_file_back_and_removes_the_sidecar, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_failed_restore_never_replaces_a_file_in_the_input_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_restore_refuses_bad_names_and_what_is_not_a_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_failed_restore_copies_across_file_systems_without_replacing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
