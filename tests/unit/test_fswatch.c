/* Unit tests of common/fswatch: the walk, settling, forgetting, hints, state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/fswatch.h"
#include "replay/log.h"

static char root[64], logbuf[65536];
static int logfd = -1;

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/replay-test-fswatch-XXXXXX");
    if (mkdtemp(root) == NULL || chmod(root, 0777) != 0)
        return -1;
    logfd = memfd_create("log", 0);
    replay_log_init("test", REPLAY_LOG_INFO, REPLAY_LOG_TEXT, logfd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "chmod -R u+rwx %s; rm -rf %s", root, root);
    close(logfd);
    return system(cmd) == 0 ? 0 : -1;
}

/* What was logged since setup. */
static const char *logged(void)
{
    ssize_t n = pread(logfd, logbuf, sizeof(logbuf) - 1, 0);
    logbuf[n > 0 ? n : 0] = '\0';
    return logbuf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void path_of(char *buf, size_t size, const char *rel)
{
    snprintf(buf, size, "%s/%s", root, rel);
}

static void mkd(const char *rel)
{
    char p[512];
    path_of(p, sizeof(p), rel);
    assert_int_equal(mkdir(p, 0777), 0);
}

static void put(const char *rel, const char *text)
{
    char p[512];
    path_of(p, sizeof(p), rel);
    FILE *f = fopen(p, "a");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void rm(const char *rel)
{
    char p[512];
    path_of(p, sizeof(p), rel);
    assert_int_equal(unlink(p), 0);
}

/* The settled files of a pass, sorted, as "rel=mark" joined by ' '. Marks files
 * not marked yet with `mark_new`. */
struct seen {
    char text[8192];
    int64_t mark_new;
    int stop; /* fail with REPLAY_EIO at the first file when set */
};

static int on_file(void *ctx, struct replay_fswatch_file *f, struct replay_err *err)
{
    struct seen *s = ctx;
    char path[512];
    if (s->stop)
        return replay_err_set(err, REPLAY_EIO, "stopped");
    path_of(path, sizeof(path), f->rel);
    assert_string_equal(f->path, path);
    assert_int_not_equal(f->kind, REPLAY_NAMES_IGNORED);
    char item[600];
    snprintf(item, sizeof(item), "%s=%lld", f->rel, (long long)f->mark);
    if (f->mark == 0)
        f->mark = s->mark_new;
    /* insertion into a sorted, space-separated list */
    char out[8192] = "", *p = s->text, *rest;
    bool placed = false;
    while (*p != '\0') {
        char word[600];
        rest = strchr(p, ' ');
        size_t n = rest ? (size_t)(rest - p) : strlen(p);
        snprintf(word, sizeof(word), "%.*s", (int)n, p);
        if (!placed && strcmp(item, word) < 0) {
            strcat(strcat(out, out[0] ? " " : ""), item);
            placed = true;
        }
        strcat(strcat(out, out[0] ? " " : ""), word);
        p = rest ? rest + 1 : p + n;
    }
    if (!placed)
        strcat(strcat(out, out[0] ? " " : ""), item);
    strcpy(s->text, out);
    return 0;
}

static struct replay_fswatch *open_w(uint64_t settle_ms, const char *const *skip, size_t n_skip)
{
    struct replay_fswatch_options o = {.root = root, .skip_dirs = skip, .n_skip_dirs = n_skip,
                                       .settle_ms = settle_ms, .root_grace_ms = 3600000,
                                       .full_every = 1};
    struct replay_fswatch *w = NULL;
    assert_int_equal(replay_fswatch_open(&o, &w, NULL), 0);
    return w;
}

static const char *scan(struct replay_fswatch *w, int64_t mark, struct replay_fswatch_pass *p)
{
    static struct seen s;
    memset(&s, 0, sizeof(s));
    s.mark_new = mark;
    assert_int_equal(replay_fswatch_scan(w, on_file, &s, p, NULL), 0);
    return s.text;
}

static void test_fswatch_finds_replay_files_and_skips_the_rest(void **state)
{
    (void)state;
    char failed[512], work[512];
    mkd("sub");
    mkd("sub/deeper");
    mkd(".rsync-tmp");
    mkd("failed");
    mkd("work");
    put("alert_a.al_bundle", "a");
    put("sub/badlist_x.al_json.cart", "b");
    put("sub/deeper/workflow_y.al_json", "c");
    put(".alert_hidden.al_bundle", "d");
    put(".rsync-tmp/alert_b.al_bundle", "e");
    put("failed/alert_c.al_bundle", "f");
    put("work/alert_d.al_bundle", "g");
    put("notes.txt", "h");
    put("alert_e.al_bundle.part", "i");
    put(".al_bundle", "j");
    char target[512];
    path_of(target, sizeof(target), "sub");
    char link[512];
    path_of(link, sizeof(link), "linked-dir");
    assert_int_equal(symlink(target, link), 0);
    path_of(failed, sizeof(failed), "failed");
    path_of(work, sizeof(work), "work/");
    const char *skip[] = {failed, work, "/no/such/dir"};
    struct replay_fswatch *w = open_w(0, skip, 3);
    struct replay_fswatch_pass p;
    assert_string_equal(scan(w, 1, &p),
                        "alert_a.al_bundle=0 sub/badlist_x.al_json.cart=0 "
                        "sub/deeper/workflow_y.al_json=0");
    assert_true(p.complete);
    assert_int_equal(p.candidates, 3);
    assert_int_equal(p.settled, 3);
    assert_int_equal(p.dirs, 3);
    assert_int_equal(p.errors, 0);
    assert_string_equal(p.first_error, "");
    assert_true(p.changed);
    assert_string_equal(scan(w, 2, &p),
                        "alert_a.al_bundle=1 sub/badlist_x.al_json.cart=1 "
                        "sub/deeper/workflow_y.al_json=1");
    assert_false(p.changed);
    replay_fswatch_close(w);
    assert_int_equal(count(logged(), "libuv loop still had handles"), 0);
}

static void test_fswatch_reports_a_file_only_once_it_stopped_changing(void **state)
{
    (void)state;
    struct replay_fswatch *w = open_w(300, NULL, 0);
    struct replay_fswatch_pass p;
    put("submission_s.al_bundle", "part one");
    assert_string_equal(scan(w, 5, &p), "");
    assert_int_equal(p.candidates, 1);
    assert_int_not_equal(p.next_settle_ms, 0);
    uint64_t first_due = p.next_settle_ms;
    put("submission_s.al_bundle", ", part two"); /* still growing */
    assert_string_equal(scan(w, 5, &p), "");
    assert_true(p.next_settle_ms >= first_due);
    /* Unchanged until its settle time: reported. */
    while (replay_now_ms() < p.next_settle_ms)
        assert_int_equal(replay_fswatch_wait(w, p.next_settle_ms, NULL, NULL), 0);
    assert_string_equal(scan(w, 5, &p), "submission_s.al_bundle=0");
    assert_int_equal(p.next_settle_ms, 0);
    assert_string_equal(scan(w, 6, &p), "submission_s.al_bundle=5");
    /* Changed after it was reported: a new file, mark reset, settling again. */
    put("submission_s.al_bundle", ", part three");
    assert_string_equal(scan(w, 7, &p), "");
    assert_true(p.changed);
    replay_fswatch_close(w);
}

static void test_fswatch_trusts_a_settled_inode_until_the_next_full_pass(void **state)
{
    (void)state;
    struct replay_fswatch_options o = {.root = root, .full_every = 3};
    struct replay_fswatch *w = NULL;
    struct replay_fswatch_pass p;
    assert_int_equal(replay_fswatch_open(&o, &w, NULL), 0);
    put("alert_a.al_bundle", "a");
    assert_string_equal(scan(w, 5, &p), "alert_a.al_bundle=0"); /* pass 1 */
    assert_string_equal(scan(w, 5, &p), "alert_a.al_bundle=5"); /* pass 2 */
    assert_string_equal(scan(w, 5, &p), "alert_a.al_bundle=5"); /* pass 3: full */
    put("alert_a.al_bundle", " changed in place");
    assert_string_equal(scan(w, 5, &p), "alert_a.al_bundle=5"); /* pass 4: trusted */
    assert_string_equal(scan(w, 5, &p), "alert_a.al_bundle=5"); /* pass 5: trusted */
    assert_string_equal(scan(w, 5, &p), "alert_a.al_bundle=0"); /* pass 6: full, a new file */
    assert_true(p.changed);
    replay_fswatch_close(w);
}

static void test_fswatch_refuses_links_and_fifos_and_says_so_once(void **state)
{
    (void)state;
    char p1[512], p2[512];
    path_of(p1, sizeof(p1), "alert_link.al_bundle");
    assert_int_equal(symlink("/etc/passwd", p1), 0);
    path_of(p2, sizeof(p2), "alert_fifo.al_bundle");
    assert_int_equal(mkfifo(p2, 0600), 0);
    put("alert_ok.al_bundle", "x");
    struct replay_fswatch *w = open_w(0, NULL, 0);
    struct replay_fswatch_pass p;
    for (int i = 0; i < 3; i++) {
        assert_string_equal(scan(w, 1, &p), i == 0 ? "alert_ok.al_bundle=0"
                                                   : "alert_ok.al_bundle=1");
        assert_int_equal(p.candidates, 3);
        assert_int_equal(p.settled, 1);
    }
    assert_int_equal(count(logged(), "Not queueing"), 2);
    assert_int_equal(count(logged(), "alert_link.al_bundle: it is a symbolic link"), 1);
    assert_int_equal(count(logged(), "alert_fifo.al_bundle: it is a FIFO"), 1);
    /* Replaced by a regular file: reported like any new file. */
    assert_int_equal(unlink(p1), 0);
    put("alert_link.al_bundle", "now a file");
    assert_string_equal(scan(w, 1, &p), "alert_link.al_bundle=0 alert_ok.al_bundle=1");
    replay_fswatch_close(w);
}

static void test_fswatch_forgets_only_after_a_complete_pass(void **state)
{
    (void)state;
    put("alert_1.al_bundle", "1");
    put("alert_2.al_bundle", "2");
    struct replay_fswatch *w = open_w(0, NULL, 0);
    struct replay_fswatch_pass p;
    assert_string_equal(scan(w, 9, &p), "alert_1.al_bundle=0 alert_2.al_bundle=0");
    rm("alert_1.al_bundle");
    assert_string_equal(scan(w, 9, &p), "alert_2.al_bundle=9");
    assert_true(p.complete);
    assert_int_equal(p.forgotten, 1);
    assert_true(p.changed);
    assert_int_equal(p.tracked, 1);
    /* The input directory gone (an unmounted share): incomplete, nothing forgotten. */
    char moved[128];
    snprintf(moved, sizeof(moved), "%s.away", root);
    assert_int_equal(rename(root, moved), 0);
    assert_string_equal(scan(w, 9, &p), "");
    assert_false(p.complete);
    assert_int_equal(p.errors, 1);
    assert_non_null(strstr(p.first_error, "cannot open the input directory"));
    assert_non_null(strstr(p.first_error, "No such file or directory"));
    assert_int_equal(p.forgotten, 0);
    assert_int_equal(p.tracked, 1);
    assert_int_equal(rename(moved, root), 0);
    assert_string_equal(scan(w, 9, &p), "alert_2.al_bundle=9");
    assert_true(p.complete);
    replay_fswatch_close(w);
}

static void test_fswatch_distrusts_a_replaced_input_directory_for_the_grace_time(void **state)
{
    (void)state;
    put("alert_1.al_bundle", "1");
    struct replay_fswatch_options o = {.root = root, .root_grace_ms = 300};
    struct replay_fswatch *w = NULL;
    struct replay_fswatch_pass p;
    assert_int_equal(replay_fswatch_open(&o, &w, NULL), 0);
    assert_string_equal(scan(w, 3, &p), "alert_1.al_bundle=0");
    /* An unmount leaves the empty mount point: another directory, same path. */
    char moved[128];
    snprintf(moved, sizeof(moved), "%s.real", root);
    assert_int_equal(rename(root, moved), 0);
    assert_int_equal(mkdir(root, 0777), 0);
    assert_string_equal(scan(w, 3, &p), "");
    assert_false(p.complete);
    assert_non_null(strstr(p.first_error, "not the directory seen before"));
    assert_int_equal(p.tracked, 1);
    assert_int_equal(count(logged(), "a mount may be missing"), 1);
    /* It comes back within the grace time: nothing was forgotten. */
    assert_int_equal(rmdir(root), 0);
    assert_int_equal(rename(moved, root), 0);
    assert_string_equal(scan(w, 3, &p), "alert_1.al_bundle=3");
    assert_true(p.complete);
    assert_int_equal(count(logged(), "is the one seen before again"), 1);
    /* Replaced for longer than the grace time: accepted, the old files forgotten. */
    assert_int_equal(rename(root, moved), 0);
    assert_int_equal(mkdir(root, 0777), 0);
    assert_string_equal(scan(w, 3, &p), "");
    assert_false(p.complete);
    uint64_t end = replay_now_ms() + 300;
    while (replay_now_ms() < end)
        assert_int_equal(replay_fswatch_wait(w, end, NULL, NULL), 0);
    assert_string_equal(scan(w, 3, &p), "");
    assert_true(p.complete);
    assert_int_equal(p.forgotten, 1);
    assert_int_equal(count(logged(), "accepting it"), 1);
    replay_fswatch_close(w);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", moved);
    assert_int_equal(system(cmd), 0);
}

/* The child's checks of the test below: 0 when all hold, else the failing step. */
static int unreadable_steps(void)
{
    char locked[512];
    struct replay_fswatch_pass p;
    path_of(locked, sizeof(locked), "locked");
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        return 10;
    struct replay_fswatch *w = open_w(0, NULL, 0);
    if (strcmp(scan(w, 1, &p), "alert_out.al_bundle=0 locked/alert_in.al_bundle=0") != 0 ||
        !p.complete)
        return 11;
    if (chmod(locked, 0) != 0)
        return 12;
    if (strcmp(scan(w, 1, &p), "alert_out.al_bundle=1") != 0 || p.complete || p.errors != 1 ||
        p.forgotten != 0 || p.tracked != 2)
        return 13;
    if (strstr(p.first_error, "cannot open ") == NULL ||
        strstr(p.first_error, "/locked: Permission denied") == NULL)
        return 14;
    if (chmod(locked, 0777) != 0)
        return 15;
    if (strcmp(scan(w, 1, &p), "alert_out.al_bundle=1 locked/alert_in.al_bundle=1") != 0 ||
        !p.complete)
        return 16;
    replay_fswatch_close(w);
    return 0;
}

/* As an unprivileged user (root reads everything): an unreadable subdirectory
 * makes the pass incomplete and forgets nothing; the rest is still seen. */
static void test_fswatch_counts_an_unreadable_directory_as_a_walk_error(void **state)
{
    (void)state;
    char locked[512];
    mkd("locked");
    put("locked/alert_in.al_bundle", "x");
    put("alert_out.al_bundle", "y");
    path_of(locked, sizeof(locked), "locked");
    assert_int_equal(chown(locked, 65534, 65534), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(unreadable_steps());
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_fswatch_state_survives_a_restart(void **state)
{
    (void)state;
    char statefile[512];
    snprintf(statefile, sizeof(statefile), "%s.state", root);
    put("alert_kept.al_bundle", "1");
    put("alert_changed.al_bundle", "2");
    put("alert_gone.al_bundle", "3");
    put("alert_unmarked.al_bundle", "4");
    put("alert_new\nline.al_bundle", "5");   /* escaped in the state file */
    put("alert_caf\xe9.al_bundle", "6");      /* not UTF-8: never queued, not saved */
    struct replay_fswatch *w = open_w(0, NULL, 0);
    struct replay_fswatch_pass p;
    (void)scan(w, 1700000000, &p);
    assert_true(p.changed);
    replay_fswatch_set_tag(w, "0123456789abcdef0123456789abcdef");
    assert_int_equal(replay_fswatch_save(w, statefile, NULL), 0);
    replay_fswatch_close(w);
    /* While it was down: one file changed, one went, one came. */
    put("alert_changed.al_bundle", " and more");
    rm("alert_gone.al_bundle");
    put("alert_new.al_bundle", "5");
    w = open_w(0, NULL, 0);
    size_t n = 0;
    assert_string_equal(replay_fswatch_tag(w), "");
    assert_int_equal(replay_fswatch_load(w, statefile, &n, NULL), 0);
    assert_int_equal(n, 5);
    assert_string_equal(replay_fswatch_tag(w), "0123456789abcdef0123456789abcdef");
    assert_string_equal(scan(w, 7, &p),
                        "alert_caf\xe9.al_bundle=0 alert_changed.al_bundle=0 "
                        "alert_kept.al_bundle=1700000000 alert_new\nline.al_bundle=1700000000 "
                        "alert_new.al_bundle=0 alert_unmarked.al_bundle=1700000000");
    assert_true(p.complete);
    assert_int_equal(p.forgotten, 1);
    assert_int_equal(replay_fswatch_load(w, statefile, NULL, NULL), REPLAY_EINVAL);
    replay_fswatch_close(w);
    unlink(statefile);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_fswatch_state_that_is_corrupt_or_foreign_is_not_used(void **state)
{
    (void)state;
    char statefile[512], header[700];
    struct replay_fswatch_pass p;
    snprintf(statefile, sizeof(statefile), "%s.state", root);
    snprintf(header, sizeof(header),
             "{\"replay_fswatch\": 1, \"root\": \"%s\", \"root_dev\": 1, \"root_ino\": 2}\n",
             root);
    put("alert_a.al_bundle", "a");
    const struct {
        bool header;
        const char *line;
    } bad[] = {
        {false, "not json\n"},
        {false, "{\"replay_fswatch\": 2, \"root\": \"/x\", \"root_dev\": 1, \"root_ino\": 2}\n"},
        /* the owner's tag: a string of at most REPLAY_FSWATCH_TAG_MAX characters */
        {false, "{\"replay_fswatch\": 1, \"root\": \"/x\", \"root_dev\": 1, \"root_ino\": 2, "
                "\"tag\": 7}\n"},
        {false, "{\"replay_fswatch\": 1, \"root\": \"/x\", \"root_dev\": 1, \"root_ino\": 2, "
                "\"tag\": \"0123456789012345678901234567890123456789012345678901234567890123456789\"}\n"},
        {true, "{\"rel\": \"alert_a.al_bundle\"}\n"},
        {true, "{\"rel\": \"/etc/alert_a.al_bundle\", \"dev\": 1, \"ino\": 1, \"size\": 1, "
               "\"mtime_ns\": 1, \"mark\": 1}\n"},
        {true, "{\"rel\": \"notes.txt\", \"dev\": 1, \"ino\": 1, \"size\": 1, \"mtime_ns\": 1, "
               "\"mark\": 1}\n"},
        {true, "{\"rel\": \"alert_a.al_bundle\", \"dev\": 1, \"ino\": 1, \"size\": 1, "
               "\"mtime_ns\": 1, \"mark\": 1}"}, /* cut: no newline */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[2048];
        snprintf(text, sizeof(text), "%s%s", bad[i].header ? header : "", bad[i].line);
        write_text(statefile, text);
        struct replay_fswatch *w = open_w(0, NULL, 0);
        struct replay_err err = {0};
        size_t n = 99;
        assert_int_equal(replay_fswatch_load(w, statefile, &n, &err), REPLAY_EFORMAT);
        assert_non_null(strstr(err.msg, "is not a valid state line"));
        assert_int_equal(n, 0);
        assert_string_equal(scan(w, 1, &p), "alert_a.al_bundle=0");
        replay_fswatch_close(w);
    }
    /* Another input directory's state: not used, not an error. */
    write_text(statefile, "{\"replay_fswatch\": 1, \"root\": \"/elsewhere\", \"root_dev\": 1, "
                          "\"root_ino\": 2}\n{\"rel\": \"alert_a.al_bundle\", \"dev\": 1, "
                          "\"ino\": 1, \"size\": 1, \"mtime_ns\": 1, \"mark\": 1}\n");
    struct replay_fswatch *w = open_w(0, NULL, 0);
    size_t n = 99;
    assert_int_equal(replay_fswatch_load(w, statefile, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_non_null(strstr(logged(), "is for another input directory: not used"));
    unlink(statefile);
    assert_int_equal(replay_fswatch_load(w, statefile, &n, NULL), 0); /* missing: fine */
    replay_fswatch_close(w);
}

static void test_fswatch_wait_ends_early_on_a_new_name_and_at_shutdown(void **state)
{
    (void)state;
    mkd("sub");
    struct replay_fswatch *w = open_w(0, NULL, 0);
    struct replay_fswatch_pass p;
    (void)scan(w, 1, &p);
    /* Nothing happens: the wait lasts until its deadline. */
    uint64_t t0 = replay_now_ms();
    assert_int_equal(replay_fswatch_wait(w, t0 + 300, NULL, NULL), 0);
    assert_true(replay_now_ms() >= t0 + 300);
    /* A name appears in a subdirectory: the wait ends long before its deadline. */
    put("sub/alert_new.al_bundle", "x");
    t0 = replay_now_ms();
    assert_int_equal(replay_fswatch_wait(w, t0 + 60000, NULL, NULL), 0);
    assert_true(replay_now_ms() - t0 < 30000);
    assert_string_equal(scan(w, 1, &p), "sub/alert_new.al_bundle=0");
    /* Only dot-files change: no hint. */
    put("sub/.tmp-file", "x");
    t0 = replay_now_ms();
    assert_int_equal(replay_fswatch_wait(w, t0 + 300, NULL, NULL), 0);
    assert_true(replay_now_ms() >= t0 + 300);
    /* A long pass (time spent outside the wait), then a wait: it still ends at its
     * deadline (the alarm kills the test if it blocks). */
    usleep(400000);
    alarm(30);
    t0 = replay_now_ms();
    assert_int_equal(replay_fswatch_wait(w, t0 + 300, NULL, NULL), 0);
    alarm(0);
    struct replay_cancel *c = replay_cancel_new();
    replay_cancel_request(c);
    struct replay_err err = {0};
    assert_int_equal(replay_fswatch_wait(w, replay_now_ms() + 60000, c, &err), REPLAY_ECANCELED);
    replay_cancel_free(c);
    replay_fswatch_close(w);
    assert_int_equal(count(logged(), "libuv loop still had handles"), 0);
}

static void test_fswatch_keeps_many_files_apart_and_forgets_exactly_the_gone(void **state)
{
    (void)state;
    char name[64];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof(name), "alert_%d.al_bundle", i);
        put(name, "x");
    }
    struct replay_fswatch_options o = {.root = root}; /* the default full_every */
    struct replay_fswatch *w = NULL;
    assert_int_equal(replay_fswatch_open(&o, &w, NULL), 0);
    struct replay_fswatch_pass p;
    struct replay_liveness live = {0};
    replay_liveness_bind(&live); /* a long walk must show progress to the heartbeat */
    live.last_progress_ms = 0;
    assert_int_equal(replay_fswatch_scan(w, NULL, NULL, &p, NULL), 0);
    replay_liveness_bind(NULL);
    assert_true(live.last_progress_ms > 0);
    assert_int_equal(p.settled, 3000);
    for (int i = 0; i < 3000; i += 3) {
        snprintf(name, sizeof(name), "alert_%d.al_bundle", i);
        rm(name);
    }
    assert_int_equal(replay_fswatch_scan(w, NULL, NULL, &p, NULL), 0);
    assert_int_equal(p.forgotten, 1000);
    assert_int_equal(p.tracked, 2000);
    assert_int_equal(replay_fswatch_scan(w, NULL, NULL, &p, NULL), 0);
    assert_int_equal(p.candidates, 2000);
    assert_int_equal(p.settled, 2000);
    assert_int_equal(p.forgotten, 0);
    replay_fswatch_close(w);
}

static void test_fswatch_caps_the_files_it_tracks(void **state)
{
    (void)state;
    put("alert_1.al_bundle", "1");
    put("alert_2.al_bundle", "2");
    put("alert_3.al_bundle", "3");
    struct replay_fswatch_options o = {.root = root, .max_files = 2, .max_watches = -1};
    struct replay_fswatch *w = NULL;
    struct replay_fswatch_pass p;
    assert_int_equal(replay_fswatch_open(&o, &w, NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(replay_fswatch_scan(w, NULL, NULL, &p, NULL), 0);
        assert_int_equal(p.tracked, 2);
        assert_true(p.complete);
    }
    assert_int_equal(count(logged(), "More than 2 candidate files"), 1);
    replay_fswatch_close(w);
}

static void test_fswatch_stops_a_pass_when_the_callback_fails(void **state)
{
    (void)state;
    put("alert_1.al_bundle", "1");
    struct replay_fswatch *w = open_w(0, NULL, 0);
    struct seen s = {.stop = 1};
    struct replay_fswatch_pass p;
    struct replay_err err = {0};
    assert_int_equal(replay_fswatch_scan(w, on_file, &s, &p, &err), REPLAY_EIO);
    assert_string_equal(err.msg, "stopped");
    assert_false(p.complete);
    replay_fswatch_close(w);
    replay_fswatch_close(NULL);
    struct replay_fswatch_options o = {.root = ""};
    assert_int_equal(replay_fswatch_open(&o, &w, NULL), REPLAY_EINVAL);
    assert_null(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fswatch_finds_replay_files_and_skips_the_rest,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fswatch_reports_a_file_only_once_it_stopped_changing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_fswatch_trusts_a_settled_inode_until_the_next_full_pass, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fswatch_refuses_links_and_fifos_and_says_so_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fswatch_forgets_only_after_a_complete_pass, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_fswatch_distrusts_a_replaced_input_directory_for_the_grace_time, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_fswatch_counts_an_unreadable_directory_as_a_walk_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fswatch_state_survives_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fswatch_state_that_is_corrupt_or_foreign_is_not_used,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_fswatch_wait_ends_early_on_a_new_name_and_at_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_fswatch_keeps_many_files_apart_and_forgets_exactly_the_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fswatch_caps_the_files_it_tracks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fswatch_stops_a_pass_when_the_callback_fails, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
