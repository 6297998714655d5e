/* Unit tests of al-sim's storage (store.c), queues and checkpoints (queue.c),
 * Python repr (simutil.c), classification (classification.c) and seeder (seed.c). */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "alsim.h"
#include "queue.h"
#include "seed.h"
#include "simtime.h"
#include "simutil.h"
#include "store.h"

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/alsim-unit-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rmdir_all(char *d)
{
    alsim_rm_tree(d);
    rmdir(d);
    free(d);
}

static struct alsim_store *open_store(const char *dir)
{
    struct alsim_store *s = NULL;
    char err[ALSIM_ERRLEN];
    if (alsim_store_open(dir, &s, err) != 0)
        fail_msg("open %s: %s", dir, err);
    return s;
}

static bool set_x(json_t *doc, void *ud)
{
    json_object_set_new(doc, "x", json_integer(*(int *)ud));
    return true;
}

static void test_store_keeps_documents_across_reopen(void **state)
{
    (void)state;
    char *d = tmpdir(), err[ALSIM_ERRLEN];
    struct alsim_store *s = open_store(d);
    assert_int_equal(alsim_store_put(s, ALSIM_ALERT, "A1", json_pack("{s:s}", "k", "v"), err), 0);
    int v = 7;
    assert_int_equal(alsim_store_update(s, ALSIM_ALERT, "A1", set_x, &v, err), 1);
    json_t *held = alsim_store_get(s, ALSIM_ALERT, "A1");
    v = 8;
    assert_int_equal(alsim_store_update(s, ALSIM_ALERT, "A1", set_x, &v, err), 1);
    assert_int_equal(json_integer_value(json_object_get(held, "x")), 7); /* readers keep their copy */
    json_decref(held);
    alsim_store_close(s);
    s = open_store(d);
    json_t *doc = alsim_store_get(s, ALSIM_ALERT, "A1");
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "x")), 8);
    assert_string_equal(json_string_value(json_object_get(doc, "k")), "v");
    assert_int_equal(alsim_store_count(s, ALSIM_ALERT), 1);
    assert_int_equal(alsim_store_count(s, ALSIM_SUBMISSION), 0);
    json_decref(doc);
    alsim_store_close(s);
    rmdir_all(d);
}

static void test_store_refuses_a_second_open_of_the_same_directory(void **state)
{
    (void)state;
    char *d = tmpdir(), err[ALSIM_ERRLEN];
    struct alsim_store *s = open_store(d), *t = (struct alsim_store *)1;
    assert_int_equal(alsim_store_open(d, &t, err), -1);
    assert_null(t);
    assert_non_null(strstr(err, "in use by another al-sim process"));
    alsim_store_close(s);
    assert_int_equal(alsim_store_open("", &t, err), -1);
    assert_int_equal(alsim_store_open("/proc/no/such/place", &t, err), -1);
    assert_non_null(strstr(err, "create directory"));
    alsim_store_close(NULL);
    rmdir_all(d);
}

static void test_store_names_unsafe_ids_by_hash(void **state)
{
    (void)state;
    char *d = tmpdir(), err[ALSIM_ERRLEN], path[4200];
    const char *ids[] = {"../../etc/passwd", ".hidden", "a b/c", "yara_src with space_x",
                         "0123456789012345678901234567890123456789012345678901234567890123456789"};
    struct alsim_store *s = open_store(d);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(alsim_store_put(s, ALSIM_SIGNATURE, ids[i], json_object(), err), 0);
    alsim_store_close(s);
    snprintf(path, sizeof(path), "%s/etc", d);
    assert_int_equal(access(path, F_OK), -1);
    s = open_store(d);
    for (size_t i = 0; i < 5; i++)
        assert_true(alsim_store_exists(s, ALSIM_SIGNATURE, ids[i]));
    assert_int_equal(alsim_store_put(s, ALSIM_ALERT, "", json_object(), err), -1);
    assert_int_equal(alsim_store_put(s, ALSIM_ALERT, "x", json_array(), err), -1);
    alsim_store_close(s);
    rmdir_all(d);
}

static void test_store_ignores_unreadable_document_files(void **state)
{
    (void)state;
    char *d = tmpdir(), path[4200];
    struct alsim_store *s = open_store(d);
    alsim_store_close(s);
    const char *bad[] = {"{broken", "[1,2]", "{\"id\": 5, \"doc\": {}}"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/docs/alert/bad%d.json", d, i);
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
    }
    s = open_store(d);
    assert_int_equal(alsim_store_count(s, ALSIM_ALERT), 0);
    alsim_store_close(s);
    rmdir_all(d);
}

static bool never(json_t *doc, void *ud)
{
    (void)doc;
    (void)ud;
    return false;
}

static bool has_k(const json_t *doc, const char *id, void *ud)
{
    (void)id;
    (void)ud;
    return json_object_get(doc, "k") != NULL;
}

static void test_store_update_and_listing(void **state)
{
    (void)state;
    char *d = tmpdir(), err[ALSIM_ERRLEN];
    struct alsim_store *s = open_store(d);
    int v = 1;
    assert_int_equal(alsim_store_update(s, ALSIM_ALERT, "missing", set_x, &v, err), 0);
    assert_int_equal(alsim_store_put(s, ALSIM_ALERT, "a", json_pack("{s:i}", "k", 1), err), 0);
    assert_int_equal(alsim_store_put(s, ALSIM_ALERT, "b", json_object(), err), 0);
    assert_int_equal(alsim_store_update(s, ALSIM_ALERT, "a", never, NULL, err), 0);
    struct alsim_item *items = NULL;
    size_t n = 0;
    assert_int_equal(alsim_store_items(s, ALSIM_ALERT, has_k, NULL, &items, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].id, "a");
    alsim_items_free(items, n);
    assert_int_equal(alsim_store_items(s, ALSIM_ALERT, NULL, NULL, &items, &n), 0);
    assert_int_equal(n, 2);
    alsim_items_free(items, n);
    alsim_items_free(NULL, 0);
    assert_int_equal(alsim_coll_from_name("workflow"), ALSIM_WORKFLOW);
    assert_int_equal(alsim_coll_from_name("nope"), -1);
    assert_string_equal(alsim_coll_name(ALSIM_EMPTYRESULT), "emptyresult");
    alsim_store_close(s);
    rmdir_all(d);
}

static void test_blob_adopt_does_not_overwrite(void **state)
{
    (void)state;
    char *d = tmpdir(), err[ALSIM_ERRLEN], tmp[4200];
    const char *sha = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    struct alsim_store *s = open_store(d);
    int fd = alsim_store_tmpfile(s, "t", tmp, sizeof(tmp));
    assert_true(fd >= 0);
    assert_int_equal(alsim_write_all(fd, "first", 5), 0);
    close(fd);
    assert_int_equal(alsim_blob_adopt(s, tmp, sha, err), 0);
    fd = alsim_store_tmpfile(s, "t", tmp, sizeof(tmp));
    assert_int_equal(alsim_write_all(fd, "second!", 7), 0);
    close(fd);
    assert_int_equal(alsim_blob_adopt(s, tmp, sha, err), 0);
    uint64_t size = 0;
    assert_true(alsim_blob_exists(s, sha, &size));
    assert_int_equal(size, 5);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(alsim_blob_adopt(s, tmp, "../notasha", err), -1);
    assert_false(alsim_sha256_valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_false(alsim_blob_exists(s, "nope", NULL));
    alsim_store_close(s);
    rmdir_all(d);
}

static void test_journal_appends_and_reads_records(void **state)
{
    (void)state;
    char *d = tmpdir();
    struct alsim_store *s = open_store(d);
    json_t *empty = alsim_journal_read(s, "imports");
    assert_int_equal(json_array_size(empty), 0);
    json_decref(empty);
    for (int i = 0; i < 3; i++) {
        json_t *rec = json_pack("{s:i}", "n", i);
        assert_int_equal(alsim_journal_append(s, "imports", rec), 0);
        json_decref(rec);
    }
    json_t *all = alsim_journal_read(s, "imports");
    assert_int_equal(json_array_size(all), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(all, 2), "n")), 2);
    json_decref(all);
    alsim_store_close(s);
    rmdir_all(d);
}

static struct alsim_queues *open_queues(const char *dir)
{
    struct alsim_queues *q = NULL;
    char err[ALSIM_ERRLEN];
    if (alsim_queues_open(dir, &q, err) != 0)
        fail_msg("queues %s: %s", dir, err);
    return q;
}

static void test_queue_keeps_order_across_reopen(void **state)
{
    (void)state;
    char *d = tmpdir(), err[ALSIM_ERRLEN];
    struct alsim_store *s = open_store(d); /* makes queues/ */
    struct alsim_queues *q = open_queues(d);
    assert_int_equal(alsim_queue_push(q, ALSIM_Q_FILE, "\"a\"", err), 0);
    assert_int_equal(alsim_queue_push(q, ALSIM_Q_FILE, "\"b\"", err), 0);
    assert_int_equal(alsim_queue_push(q, ALSIM_Q_FILE, "\"c\"", err), 0);
    assert_int_equal(alsim_queue_push(q, ALSIM_Q_FILE, "\"a\nb\"", err), -1);
    char *m = alsim_queue_pop(q, ALSIM_Q_FILE, 0);
    assert_string_equal(m, "\"a\"");
    free(m);
    alsim_queues_close(q);
    q = open_queues(d);
    assert_int_equal(alsim_queue_len(q, ALSIM_Q_FILE), 2);
    json_t *peek = alsim_queue_peek(q, ALSIM_Q_FILE);
    assert_string_equal(json_string_value(json_array_get(peek, 0)), "b");
    json_decref(peek);
    m = alsim_queue_pop(q, ALSIM_Q_FILE, 0);
    assert_string_equal(m, "\"b\"");
    free(m);
    assert_null(alsim_queue_pop(q, ALSIM_Q_ALERT, 50));
    assert_int_equal(alsim_qtype_from_name("signature"), ALSIM_Q_SIGNATURE);
    assert_int_equal(alsim_qtype_from_name("x"), -1);
    alsim_queues_close(q);
    alsim_store_close(s);
    rmdir_all(d);
}

static void test_queue_log_is_compacted_and_torn_lines_ignored(void **state)
{
    (void)state;
    char *d = tmpdir(), err[ALSIM_ERRLEN], path[4200];
    struct alsim_store *s = open_store(d);
    struct alsim_queues *q = open_queues(d);
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(alsim_queue_push(q, ALSIM_Q_ALERT, "{\"alert_id\":\"x\"}", err), 0);
        free(alsim_queue_pop(q, ALSIM_Q_ALERT, 0));
    }
    alsim_queues_close(q);
    snprintf(path, sizeof(path), "%s/queues/alert.log", d);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size < 40000); /* 6000 operations, compacted */
    FILE *f = fopen(path, "a");
    fputs("+\"kept\"\n?garbage line\n+\"torn", f);
    fclose(f);
    q = open_queues(d);
    assert_int_equal(alsim_queue_len(q, ALSIM_Q_ALERT), 2);
    char *m = alsim_queue_pop(q, ALSIM_Q_ALERT, 0);
    assert_string_equal(m, "\"kept\"");
    free(m);
    alsim_queues_close(q);
    alsim_store_close(s);
    rmdir_all(d);
}

static void *stopper(void *arg)
{
    usleep(100 * 1000);
    alsim_queues_stop(arg);
    return NULL;
}

static void test_queue_stop_wakes_a_waiting_pop(void **state)
{
    (void)state;
    char *d = tmpdir();
    struct alsim_store *s = open_store(d);
    struct alsim_queues *q = open_queues(d);
    pthread_t t;
    pthread_create(&t, NULL, stopper, q);
    int64_t t0 = alsim_now_ms();
    assert_null(alsim_queue_pop(q, ALSIM_Q_ALERT, 30000));
    assert_true(alsim_now_ms() - t0 < 10000);
    pthread_join(t, NULL);
    assert_null(alsim_queue_pop(q, ALSIM_Q_ALERT, 30000)); /* no more waiting after stop */
    alsim_queues_close(q);
    alsim_queues_close(NULL);
    alsim_store_close(s);
    rmdir_all(d);
}

static void test_checkpoints_survive_reopen(void **state)
{
    (void)state;
    char *d = tmpdir(), err[ALSIM_ERRLEN];
    struct alsim_store *s = open_store(d);
    struct alsim_queues *q = open_queues(d);
    assert_null(alsim_checkpoint_get(q, "badlist"));
    json_t *v = json_string("2024-01-01T00:00:00Z");
    assert_int_equal(alsim_checkpoint_set(q, "badlist", v, err), 0);
    json_decref(v);
    alsim_queues_close(q);
    q = open_queues(d);
    json_t *got = alsim_checkpoint_get(q, "badlist");
    assert_string_equal(json_string_value(got), "2024-01-01T00:00:00Z");
    json_decref(got);
    json_t *all = alsim_checkpoints_all(q);
    assert_int_equal(json_object_size(all), 1);
    json_decref(all);
    alsim_queues_close(q);
    alsim_store_close(s);
    rmdir_all(d);
}

static void expect_repr(const char *json, const char *want)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    char *r = alsim_pyrepr(v, 4096);
    assert_string_equal(r, want);
    free(r);
    json_decref(v);
}

static void test_pyrepr_prints_values_as_python_str(void **state)
{
    (void)state;
    expect_repr("{\"a\": 1, \"b\": [true, false, null], \"c\": \"x\"}",
                "{'a': 1, 'b': [True, False, None], 'c': 'x'}");
    expect_repr("\"it's\"", "\"it's\"");
    expect_repr("\"both ' and \\\"\"", "'both \\' and \"'");
    expect_repr("\"tab\\tnl\\n\\u0001\"", "'tab\\tnl\\n\\x01'");
    expect_repr("\"caf\\u00e9\"", "'caf\xc3\xa9'");
    expect_repr("1.5", "1.5");
    expect_repr("100.0", "100.0");
    expect_repr("1e+22", "1e+22");
    expect_repr("{}", "{}");
    json_t *long_str = json_string("0123456789012345678901234567890123456789");
    char *r = alsim_pyrepr(long_str, 10);
    assert_string_equal(r, "'012345678...");
    free(r);
    json_decref(long_str);
}

/* Decodes `in` fed in chunks of `chunk` bytes; NULL where Python raises. */
static const char *b64(const char *in, size_t chunk, char *out)
{
    struct alsim_b64 d = {0};
    size_t o = 0, n = strlen(in);
    for (size_t i = 0; i < n; i += chunk)
        o += alsim_b64_feed(&d, (const unsigned char *)in + i, n - i < chunk ? n - i : chunk,
                            (unsigned char *)out + o);
    out[o] = '\0';
    return alsim_b64_complete(&d) ? out : NULL;
}

static void test_b64_decodes_as_pythons_lenient_b64decode(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(b64("WzBd", 4, out), "[0]");
    assert_string_equal(b64("W z\nB!d", 1, out), "[0]"); /* other bytes are skipped */
    assert_string_equal(b64("WzA=", 3, out), "[0");
    assert_string_equal(b64("WzA=ignored", 2, out), "[0"); /* stops after the padding */
    assert_string_equal(b64("", 1, out), "");
    assert_null(b64("WzA", 4, out)); /* binascii.Error: Incorrect padding */
    assert_null(b64("W", 1, out));
}

static void test_py_truthy_is_pythons_bool(void **state)
{
    (void)state;
    const char *falsy[] = {"null", "false", "0", "0.0", "\"\"", "[]", "{}"};
    const char *truthy[] = {"true", "1", "-0.5", "\"x\"", "[0]", "{\"a\": 0}"};
    for (size_t i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++) {
        json_t *v = json_loads(falsy[i], JSON_DECODE_ANY, NULL);
        assert_false(alsim_py_truthy(v));
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
        json_t *v = json_loads(truthy[i], JSON_DECODE_ANY, NULL);
        assert_true(alsim_py_truthy(v));
        json_decref(v);
    }
    assert_false(alsim_py_truthy(NULL));
}

static void test_classification_normalises_and_raises(void **state)
{
    (void)state;
    char out[256], err[512];
    assert_int_equal(alsim_classification_normalize("tlp:c", out, sizeof(out), err), 0);
    assert_string_equal(out, "TLP:CLEAR");
    assert_int_equal(alsim_classification_normalize(" UNRESTRICTED ", out, sizeof(out), err), 0);
    assert_string_equal(out, "TLP:CLEAR");
    assert_int_equal(alsim_classification_normalize("TLP:A//CMR", out, sizeof(out), err), 0);
    assert_string_equal(out, "TLP:AMBER//CMR");
    assert_int_equal(alsim_classification_max("TLP:G", "TLP:A+S", out, sizeof(out), err), 0);
    assert_string_equal(out, "TLP:AMBER+STRICT");
    assert_int_equal(alsim_classification_max("RESTRICTED", "TLP:CLEAR", out, sizeof(out), err), 0);
    assert_string_equal(out, "TLP:AMBER+STRICT");
    assert_int_equal(alsim_classification_normalize("SECRET", out, sizeof(out), err), -1);
    assert_string_equal(err, "Classification level 'SECRET' was not found in your "
                             "classification definition.");
    assert_int_equal(alsim_classification_max("TLP:C", "bogus", out, sizeof(out), err), -1);
    assert_int_equal(alsim_classification_normalize(NULL, out, sizeof(out), err), -1);
}

static json_t *seed_into(const char *dir, uint64_t rng)
{
    struct alsim_seed_opts o;
    alsim_seed_defaults(&o);
    o.rng_seed = rng;
    o.start_us = 1714564800000000LL;
    o.submission_state = "requested";
    json_t *summary = NULL;
    char err[ALSIM_ERRLEN];
    struct alsim_store *s = open_store(dir);
    if (alsim_seed_run(s, &o, &summary, err) != 0)
        fail_msg("seed: %s", err);
    json_t *sub = alsim_store_get(s, ALSIM_SUBMISSION,
                                  json_string_value(json_array_get(json_object_get(summary, "submissions"), 0)));
    assert_string_equal(json_string_value(json_object_get(json_object_get(sub, "metadata"), "replay")),
                        "requested");
    json_decref(sub);
    alsim_store_close(s);
    return summary;
}

static void test_seed_is_deterministic(void **state)
{
    (void)state;
    char *a = tmpdir(), *b = tmpdir();
    json_t *sa = seed_into(a, 42), *sb = seed_into(b, 42);
    assert_true(json_equal(json_object_get(sa, "submissions"), json_object_get(sb, "submissions")));
    assert_true(json_equal(json_object_get(sa, "badlist"), json_object_get(sb, "badlist")));
    assert_int_equal(json_integer_value(json_object_get(sa, "files")), 6);
    assert_int_equal(json_array_size(json_object_get(sa, "alerts")), 2);
    json_decref(sa);
    json_decref(sb);
    rmdir_all(a);
    rmdir_all(b);
}

/* The "<type>:<name>" of each source of list item k of a collection. */
static void item_sources_are(struct alsim_store *s, enum alsim_coll c, json_t *summary, size_t k,
                             const char *want)
{
    const char *id = json_string_value(json_array_get(json_object_get(summary,
                                                                      alsim_coll_name(c)), k));
    json_t *doc = alsim_store_get(s, c, id);
    assert_non_null(doc);
    char got[256] = "";
    size_t i;
    json_t *src;
    json_array_foreach(json_object_get(doc, "sources"), i, src)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s:%s", i ? "," : "",
                 json_string_value(json_object_get(src, "type")),
                 json_string_value(json_object_get(src, "name")));
    assert_string_equal(got, want);
    json_decref(doc);
}

static void test_seed_list_items_come_from_several_users_and_feeds(void **state)
{
    (void)state;
    char *dir = tmpdir();
    struct alsim_store *s = open_store(dir);
    struct alsim_seed_opts o;
    alsim_seed_defaults(&o);
    o.rng_seed = 7;
    o.submissions = 0;
    o.badlist = o.safelist = 5;
    json_t *summary = NULL;
    char err[ALSIM_ERRLEN];
    assert_int_equal(alsim_seed_run(s, &o, &summary, err), 0);
    item_sources_are(s, ALSIM_BADLIST, summary, 0, "user:admin");
    item_sources_are(s, ALSIM_BADLIST, summary, 1, "user:alice,external:threat-feed");
    item_sources_are(s, ALSIM_BADLIST, summary, 2, "user:bob");
    item_sources_are(s, ALSIM_BADLIST, summary, 3, "external:threat-feed");
    item_sources_are(s, ALSIM_BADLIST, summary, 4, "user:alice");
    item_sources_are(s, ALSIM_SAFELIST, summary, 1, "user:alice,external:NSRL");
    item_sources_are(s, ALSIM_SAFELIST, summary, 3, "external:NSRL");
    json_decref(summary);
    alsim_store_close(s);
    rmdir_all(dir);
}

static void test_seed_options_from_json_are_checked(void **state)
{
    (void)state;
    struct alsim_seed_opts o;
    char err[ALSIM_ERRLEN];
    const char *bad[] = {"{\"submissions\": -1}", "{\"submissions\": \"3\"}", "{\"nope\": 1}",
                         "{\"submission_state\": \"maybe\"}", "{\"start\": \"yesterday\"}"};
    for (size_t i = 0; i < 5; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        alsim_seed_defaults(&o);
        assert_int_equal(alsim_seed_opts_from_json(j, &o, err), -1);
        json_decref(j);
    }
    json_t *ok = json_loads("{\"submissions\": 1, \"large_file\": 100, \"alert_state\": \"done\","
                            " \"start\": \"2024-01-01T00:00:00Z\", \"rng_seed\": 3}", 0, NULL);
    alsim_seed_defaults(&o);
    assert_int_equal(alsim_seed_opts_from_json(ok, &o, err), 0);
    assert_int_equal(o.large_file, 100);
    assert_string_equal(o.alert_state, "done");
    json_decref(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_keeps_documents_across_reopen),
        cmocka_unit_test(test_store_refuses_a_second_open_of_the_same_directory),
        cmocka_unit_test(test_store_names_unsafe_ids_by_hash),
        cmocka_unit_test(test_store_ignores_unreadable_document_files),
        cmocka_unit_test(test_store_update_and_listing),
        cmocka_unit_test(test_blob_adopt_does_not_overwrite),
        cmocka_unit_test(test_journal_appends_and_reads_records),
        cmocka_unit_test(test_queue_keeps_order_across_reopen),
        cmocka_unit_test(test_queue_log_is_compacted_and_torn_lines_ignored),
        cmocka_unit_test(test_queue_stop_wakes_a_waiting_pop),
        cmocka_unit_test(test_checkpoints_survive_reopen),
        cmocka_unit_test(test_pyrepr_prints_values_as_python_str),
        cmocka_unit_test(test_classification_normalises_and_raises),
        cmocka_unit_test(test_b64_decodes_as_pythons_lenient_b64decode),
        cmocka_unit_test(test_py_truthy_is_pythons_bool),
        cmocka_unit_test(test_seed_is_deterministic),
        cmocka_unit_test(test_seed_list_items_come_from_several_users_and_feeds),
        cmocka_unit_test(test_seed_options_from_json_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
