/* Unit tests of common/atomicfile: a file appears whole or not at all, every
 * error path leaves no temporary behind, the project's temporary names, and
 * the clean-up of those a crash left. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/atomicfile.h"

static char dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_atomicfile.XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A fresh empty subdirectory of the test directory for one test. */
static void subdir(const char *name, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%s", dir, name);
    assert_int_equal(mkdir(out, 0755), 0);
}

/* Number of entries of d (without . and ..); the first name into first. */
static int entries(const char *d, char *first, size_t firstsz)
{
    DIR *h = opendir(d);
    assert_non_null(h);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(h)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n++ == 0 && first != NULL)
            snprintf(first, firstsz, "%s", e->d_name);
    }
    closedir(h);
    return n;
}

static void put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(replay_atomicfile_write_fd(fd, text, strlen(text)), 0);
    close(fd);
}

static void expect_content(const char *path, const char *text)
{
    char buf[256] = "";
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, text);
}

static int write_file(const char *path, const struct replay_atomicfile_opts *o,
                      enum replay_atomicfile_how how, const char *text, struct replay_err *err)
{
    struct replay_atomicfile *f = NULL;
    int rc = replay_atomicfile_open(path, o, &f, err);
    if (rc == 0)
        rc = replay_atomicfile_write(f, text, strlen(text), err);
    if (rc == 0)
        rc = replay_atomicfile_commit(f, how, err);
    replay_atomicfile_close(f);
    return rc;
}

/* ---- commits ---- */

static void test_atomicfile_commit_puts_the_whole_file_in_place(void **state)
{
    (void)state;
    char d[300], path[400];
    subdir("commit", d, sizeof(d));
    snprintf(path, sizeof(path), "%s/out.bin", d);
    struct replay_err err = {0};
    struct replay_atomicfile *f = NULL;
    assert_int_equal(replay_atomicfile_open(path, NULL, &f, &err), 0);
    assert_true(replay_atomicfile_fd(f) >= 0);
    assert_int_equal(replay_atomicfile_write(f, "hello ", 6, &err), 0);
    assert_int_equal(replay_atomicfile_write(f, "world", 5, &err), 0);
    assert_int_equal(access(path, F_OK), -1); /* nothing visible before the commit */
    char name[256];
    assert_int_equal(entries(d, name, sizeof(name)), 1);
    assert_true(replay_atomicfile_is_tmp_name(name));
    assert_int_equal(replay_atomicfile_commit(f, REPLAY_ATOMICFILE_NO_REPLACE, &err), 0);
    assert_int_equal(replay_atomicfile_fd(f), -1);
    replay_atomicfile_close(f);
    expect_content(path, "hello world");
    assert_int_equal(entries(d, NULL, 0), 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644 & ~(unsigned)umask(022));
    /* REPLACE replaces, atomically */
    assert_int_equal(write_file(path, NULL, REPLAY_ATOMICFILE_REPLACE, "second", &err), 0);
    expect_content(path, "second");
    assert_int_equal(entries(d, NULL, 0), 1);
}

static void test_atomicfile_no_replace_refuses_a_taken_name_and_leaves_no_temporary(void **state)
{
    (void)state;
    char d[300], path[400];
    subdir("taken", d, sizeof(d));
    snprintf(path, sizeof(path), "%s/out.bin", d);
    put(path, "first");
    struct replay_err err = {0};
    assert_int_equal(write_file(path, NULL, REPLAY_ATOMICFILE_NO_REPLACE, "second", &err),
                     REPLAY_EEXIST);
    assert_non_null(strstr(err.msg, "already exists"));
    expect_content(path, "first");
    assert_int_equal(entries(d, NULL, 0), 1);
}

static void test_atomicfile_a_failed_rename_leaves_no_temporary(void **state)
{
    (void)state;
    char d[300], path[400], inner[500];
    subdir("isdir", d, sizeof(d));
    snprintf(path, sizeof(path), "%s/out", d);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(inner, sizeof(inner), "%s/keep", path);
    put(inner, "x"); /* a non-empty directory cannot be replaced by a file */
    struct replay_err err = {0};
    assert_int_equal(write_file(path, NULL, REPLAY_ATOMICFILE_REPLACE, "data", &err), REPLAY_EIO);
    assert_non_null(strstr(err.msg, "rename to"));
    assert_int_equal(err.sys_errno, EISDIR);
    assert_int_equal(entries(d, NULL, 0), 1);
}

static void test_atomicfile_close_without_commit_leaves_nothing(void **state)
{
    (void)state;
    char d[300], path[400];
    subdir("abort", d, sizeof(d));
    snprintf(path, sizeof(path), "%s/out.bin", d);
    struct replay_err err = {0};
    struct replay_atomicfile *f = NULL;
    assert_int_equal(replay_atomicfile_open(path, NULL, &f, &err), 0);
    assert_int_equal(replay_atomicfile_write(f, "half", 4, &err), 0);
    replay_atomicfile_close(f);
    assert_int_equal(entries(d, NULL, 0), 0);
    replay_atomicfile_close(NULL);
    /* a second commit is refused */
    assert_int_equal(replay_atomicfile_open(path, NULL, &f, &err), 0);
    assert_int_equal(replay_atomicfile_commit(f, REPLAY_ATOMICFILE_REPLACE, &err), 0);
    assert_int_equal(replay_atomicfile_commit(f, REPLAY_ATOMICFILE_REPLACE, &err),
                     REPLAY_EINVAL);
    replay_atomicfile_close(f);
    assert_int_equal(entries(d, NULL, 0), 1);
}

static void test_atomicfile_a_canceled_write_writes_nothing_and_leaves_nothing(void **state)
{
    (void)state;
    char d[300], path[400];
    subdir("cancel", d, sizeof(d));
    snprintf(path, sizeof(path), "%s/out.bin", d);
    struct replay_cancel *c = replay_cancel_new();
    struct replay_atomicfile_opts o = {.cancel = c};
    struct replay_err err = {0};
    struct replay_atomicfile *f = NULL;
    assert_int_equal(replay_atomicfile_open(path, &o, &f, &err), 0);
    assert_int_equal(replay_atomicfile_write(f, "part", 4, &err), 0);
    replay_cancel_request(c);
    assert_int_equal(replay_atomicfile_write(f, "more", 4, &err), REPLAY_ECANCELED);
    assert_non_null(strstr(err.msg, "canceled"));
    struct stat st;
    assert_int_equal(fstat(replay_atomicfile_fd(f), &st), 0);
    assert_int_equal(st.st_size, 4);
    replay_atomicfile_close(f);
    assert_int_equal(entries(d, NULL, 0), 0);
    replay_cancel_free(c);
}

/* ---- errors at open ---- */

static void test_atomicfile_a_missing_directory_fails_unless_made(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof(path), "%s/missing/deeper/out.bin", dir);
    struct replay_err err = {0};
    struct replay_atomicfile *f = NULL;
    assert_int_equal(replay_atomicfile_open(path, NULL, &f, &err), REPLAY_EIO);
    assert_null(f);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_non_null(strstr(err.msg, "create a temporary file beside"));
    replay_err_clear(&err);
    struct replay_atomicfile_opts o = {.make_dirs = true, .mode = 0600};
    assert_int_equal(write_file(path, &o, REPLAY_ATOMICFILE_NO_REPLACE, "deep", &err), 0);
    expect_content(path, "deep");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* a path whose directory is a file */
    char under_file[500];
    snprintf(under_file, sizeof(under_file), "%s/out.bin/x", path);
    replay_err_clear(&err);
    assert_int_equal(replay_atomicfile_open(under_file, &o, &f, &err), REPLAY_EIO);
    assert_non_null(strstr(err.msg, "mkdir"));
}

static void test_atomicfile_refuses_paths_without_a_file_name(void **state)
{
    (void)state;
    const char *bad[] = {"", "/tmp/", "/tmp/x/..", "."};
    struct replay_atomicfile *f = NULL;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct replay_err err = {0};
        assert_int_equal(replay_atomicfile_open(bad[i], NULL, &f, &err), REPLAY_EINVAL);
        assert_null(f);
    }
    struct replay_err err = {0};
    assert_int_equal(replay_atomicfile_open(NULL, NULL, &f, &err), REPLAY_EINVAL);
    char *huge = malloc(PATH_MAX + 10);
    memset(huge, 'a', PATH_MAX + 9);
    huge[0] = '/';
    huge[PATH_MAX + 9] = '\0';
    assert_int_equal(replay_atomicfile_open(huge, NULL, &f, &err), REPLAY_ETOOBIG);
    free(huge);
}

/* Runs fn in a child without root's power to bypass permissions; its exit
 * status is fn's REPLAY_E* code, negated. */
static int as_unprivileged(int (*fn)(const char *), const char *arg)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(100);
        _exit(-fn(arg));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 100);
    return -WEXITSTATUS(status);
}

static int try_create(const char *path)
{
    struct replay_atomicfile_opts o = {.make_dirs = true};
    struct replay_err err = {0};
    int rc = write_file(path, &o, REPLAY_ATOMICFILE_REPLACE, "x", &err);
    if (rc != 0 && strstr(err.msg, "Permission denied") == NULL)
        return REPLAY_EINVAL; /* the reason must be in the message */
    return rc;
}

static void test_atomicfile_permission_refused_is_eauth_and_leaves_nothing(void **state)
{
    (void)state;
    char d[300], path[400];
    subdir("locked", d, sizeof(d));
    assert_int_equal(chmod(d, 0555), 0);
    assert_int_equal(chmod(dir, 0755), 0); /* the child may enter the test directory */
    snprintf(path, sizeof(path), "%s/out.bin", d);
    assert_int_equal(as_unprivileged(try_create, path), REPLAY_EAUTH);
    snprintf(path, sizeof(path), "%s/sub/out.bin", d);
    assert_int_equal(as_unprivileged(try_create, path), REPLAY_EAUTH); /* mkdir refused */
    assert_int_equal(entries(d, NULL, 0), 0);
    chmod(d, 0755);
}

/* ---- names ---- */

static void test_atomicfile_temporary_names_are_hidden_unique_and_recognised(void **state)
{
    (void)state;
    char a[REPLAY_ATOMICFILE_TMP_NAME_MAX], b[REPLAY_ATOMICFILE_TMP_NAME_MAX];
    replay_atomicfile_tmp_name("submission_1a2b.al_bundle", a, sizeof(a));
    replay_atomicfile_tmp_name("submission_1a2b.al_bundle", b, sizeof(b));
    assert_string_not_equal(a, b);
    assert_int_equal(strncmp(a, ".submission_1a2b.al_bundle.replay-tmp-", 38), 0);
    assert_int_equal(strlen(a), 38 + REPLAY_ATOMICFILE_TMP_RANDOM);
    assert_true(replay_atomicfile_is_tmp_name(a));
    /* a long final name is cut so that the temporary is still a valid name */
    char longname[300];
    memset(longname, 'n', 299);
    longname[299] = '\0';
    replay_atomicfile_tmp_name(longname, a, sizeof(a));
    assert_int_equal(strlen(a), 255);
    assert_true(replay_atomicfile_is_tmp_name(a));
    const char *not_tmp[] = {"submission_1a2b.al_bundle", ".hidden",
                             "x.replay-tmp-abcdefghijkl", ".x.replay-tmp-abcdefghijk",
                             ".x.replay-tmp-abcdefghijk!", ".x.replay-tmp-abcdefghijklm.cart",
                             ".replay-tmp-abcdefgh", ""};
    for (size_t i = 0; i < sizeof(not_tmp) / sizeof(not_tmp[0]); i++)
        assert_false(replay_atomicfile_is_tmp_name(not_tmp[i]));
    assert_true(replay_atomicfile_is_tmp_name(".x.replay-tmp-abcdefghijkl"));
    assert_true(replay_atomicfile_is_tmp_name("..replay-tmp-ABCDEF012345"));
}

/* ---- crashes and stale temporaries ---- */

static void age(const char *path, time_t seconds)
{
    struct timespec t[2] = {{time(NULL) - seconds, 0}, {time(NULL) - seconds, 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW), 0);
}

static void test_atomicfile_a_crash_mid_write_leaves_a_temporary_the_cleaner_removes(
    void **state)
{
    (void)state;
    char d[300], path[400], name[256], tmp[700];
    subdir("crash", d, sizeof(d));
    snprintf(path, sizeof(path), "%s/out.bin", d);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* writes half the file, then dies without a word */
        struct replay_atomicfile *f = NULL;
        struct replay_err err = {0};
        if (replay_atomicfile_open(path, NULL, &f, &err) != 0 ||
            replay_atomicfile_write(f, "half of it", 10, &err) != 0)
            _exit(1);
        kill(getpid(), SIGKILL);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(entries(d, name, sizeof(name)), 1);
    assert_true(replay_atomicfile_is_tmp_name(name));
    /* company that must stay: a fresh temporary, a stale non-temporary, and a
     * stale directory and symbolic link with temporary names */
    char fresh[REPLAY_ATOMICFILE_TMP_NAME_MAX], other[500], sub[700], link_[700];
    replay_atomicfile_tmp_name("fresh", fresh, sizeof(fresh));
    snprintf(tmp, sizeof(tmp), "%s/%s", d, fresh);
    put(tmp, "in progress");
    snprintf(other, sizeof(other), "%s/old.bin", d);
    put(other, "old");
    age(other, 3 * 86400);
    snprintf(sub, sizeof(sub), "%s/.dir.replay-tmp-abcdefghijkl", d);
    assert_int_equal(mkdir(sub, 0755), 0);
    age(sub, 3 * 86400);
    snprintf(link_, sizeof(link_), "%s/.lnk.replay-tmp-abcdefghijkl", d);
    assert_int_equal(symlink(other, link_), 0);
    age(link_, 3 * 86400);
    unsigned removed = 99;
    struct replay_err err = {0};
    assert_int_equal(replay_atomicfile_remove_stale(d, REPLAY_ATOMICFILE_STALE_S, &removed, &err),
                     0);
    assert_int_equal(removed, 0); /* the crash's temporary is not a day old yet */
    snprintf(tmp, sizeof(tmp), "%s/%s", d, name);
    age(tmp, REPLAY_ATOMICFILE_STALE_S + 60);
    assert_int_equal(replay_atomicfile_remove_stale(d, REPLAY_ATOMICFILE_STALE_S, &removed, &err),
                     0);
    assert_int_equal(removed, 1);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(entries(d, NULL, 0), 4);
}

static void test_atomicfile_remove_stale_reports_a_directory_it_cannot_read(void **state)
{
    (void)state;
    char missing[400];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", dir);
    struct replay_err err = {0};
    unsigned removed = 7;
    assert_int_equal(replay_atomicfile_remove_stale(missing, 60, &removed, &err), REPLAY_EIO);
    assert_int_equal(removed, 0);
    assert_int_equal(err.sys_errno, ENOENT);
    assert_non_null(strstr(err.msg, "no-such-dir"));
    replay_err_clear(&err);
    assert_int_equal(replay_atomicfile_remove_stale(NULL, 60, NULL, &err), REPLAY_EINVAL);
}

static void test_atomicfile_remove_own_takes_only_the_owners_temporaries(void **state)
{
    (void)state;
    char sub[400], path[600];
    snprintf(sub, sizeof(sub), "%s/own", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    const char *names[] = {".hostA-x.bin.replay-tmp-AbCd12345678", /* ours: goes */
                           ".hostB-x.bin.replay-tmp-AbCd12345678", /* another host's */
                           ".hostA-notatemporary",                  /* not a temporary */
                           "hostA-x.bin"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s", sub, names[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
    struct replay_err err = {0};
    unsigned removed = 0;
    assert_int_equal(replay_atomicfile_remove_own(sub, ".hostA-", &removed, &err), 0);
    assert_int_equal(removed, 1);
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s", sub, names[i]);
        assert_int_equal(access(path, F_OK) == 0, i != 0);
    }
    snprintf(path, sizeof(path), "%s/no-such-dir", dir);
    removed = 7;
    assert_int_equal(replay_atomicfile_remove_own(path, ".hostA-", &removed, &err), REPLAY_EIO);
    assert_int_equal(removed, 0);
    assert_non_null(strstr(err.msg, "no-such-dir"));
    replay_err_clear(&err);
    assert_int_equal(replay_atomicfile_remove_own(NULL, ".x", NULL, &err), REPLAY_EINVAL);
}

/* ---- write_fd ---- */

struct drain {
    int fd;
    uint64_t bytes, sum;
};

static void *drain_pipe(void *arg)
{
    struct drain *d = arg;
    unsigned char buf[4096];
    ssize_t n;
    while ((n = read(d->fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            d->sum = d->sum * 31 + buf[i];
        d->bytes += (uint64_t)n;
    }
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void test_atomicfile_write_fd_survives_interrupted_and_short_writes(void **state)
{
    (void)state;
    enum { SIZE = 16 << 20 };
    unsigned char *data = malloc(SIZE);
    assert_non_null(data);
    uint64_t want = 0;
    for (size_t i = 0; i < SIZE; i++) {
        data[i] = (unsigned char)(i * 7 + (i >> 13));
        want = want * 31 + data[i];
    }
    int p[2];
    assert_int_equal(pipe(p), 0);
    struct drain d = {p[0], 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, drain_pipe, &d), 0);
    /* A signal every millisecond without SA_RESTART: blocked writes return
     * EINTR, or a short count when part of the data went through. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = {{0, 1000}, {0, 1000}}, off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    int rc = replay_atomicfile_write_fd(p[1], data, SIZE);
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    close(p[1]);
    pthread_join(th, NULL);
    close(p[0]);
    free(data);
    assert_int_equal(rc, 0);
    assert_int_equal(d.bytes, SIZE);
    assert_true(d.sum == want);
}

static void test_atomicfile_write_fd_reports_the_errno_of_a_failed_write(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(replay_atomicfile_write_fd(fd, "x", 1), ENOSPC);
    close(fd);
    assert_int_equal(replay_atomicfile_write_fd(-1, "x", 1), EBADF);
    assert_int_equal(replay_atomicfile_write_fd(-1, "x", 0), 0);
}

int main(void)
{
    umask(022);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_atomicfile_commit_puts_the_whole_file_in_place),
        cmocka_unit_test(test_atomicfile_no_replace_refuses_a_taken_name_and_leaves_no_temporary),
        cmocka_unit_test(test_atomicfile_a_failed_rename_leaves_no_temporary),
        cmocka_unit_test(test_atomicfile_close_without_commit_leaves_nothing),
        cmocka_unit_test(test_atomicfile_a_canceled_write_writes_nothing_and_leaves_nothing),
        cmocka_unit_test(test_atomicfile_a_missing_directory_fails_unless_made),
        cmocka_unit_test(test_atomicfile_refuses_paths_without_a_file_name),
        cmocka_unit_test(test_atomicfile_permission_refused_is_eauth_and_leaves_nothing),
        cmocka_unit_test(test_atomicfile_temporary_names_are_hidden_unique_and_recognised),
        cmocka_unit_test(
            test_atomicfile_a_crash_mid_write_leaves_a_temporary_the_cleaner_removes),
        cmocka_unit_test(test_atomicfile_remove_stale_reports_a_directory_it_cannot_read),
        cmocka_unit_test(test_atomicfile_remove_own_takes_only_the_owners_temporaries),
        cmocka_unit_test(test_atomicfile_write_fd_survives_interrupted_and_short_writes),
        cmocka_unit_test(test_atomicfile_write_fd_reports_the_errno_of_a_failed_write),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
