/* Unit tests of streamed uploads (replay_filestore_upload_stream) that need no
 * server: file://, which hands the producer its atomic file, and the pipe of
 * the network schemes (filestore_stream.c) with test consumers and test part
 * senders. SIGPIPE keeps its default action here, as in a process that forgot
 * to ignore it: a producer writing into a closed pipe must not kill it. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"
#include "replay/atomicfile.h"
#include "replay/filestore.h"

/* ---- helpers ------------------------------------------------------------------ */

static char tmpdir[256];
static unsigned char *pattern; /* PATTERN_LEN bytes, position-dependent */
#define PATTERN_LEN (8u << 20)

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_filestore_stream.XXXXXX");
    pattern = malloc(PATTERN_LEN);
    if (pattern == NULL || mkdtemp(tmpdir) == NULL)
        return -1;
    for (size_t i = 0; i < PATTERN_LEN; i++)
        pattern[i] = (unsigned char)((i * 2654435761u) >> 13);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    free(pattern);
    return system(cmd) == 0 ? 0 : -1;
}

static struct replay_filestore *open_store(const char *sub, const char *extra,
                                           const struct replay_filestore_opts *opts)
{
    char url[600];
    snprintf(url, sizeof(url), "file://%s/%s%s", tmpdir, sub, extra != NULL ? extra : "");
    struct replay_filestore *fs = NULL;
    struct replay_err err = {0};
    if (replay_filestore_open(url, opts, &fs, &err) != 0)
        fail_msg("open %s: %s", url, err.msg);
    return fs;
}

/* Entries of a directory besides . and .. (-1 when it cannot be read). */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int open_fds(void)
{
    return entries("/proc/self/fd") - 1; /* less opendir's own */
}

static void store_dir(const char *sub, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/%s", tmpdir, sub);
}

static void assert_file_is_pattern(const char *path, size_t len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *buf = malloc(len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, len + 1, f), len);
    assert_memory_equal(buf, pattern, len);
    free(buf);
    fclose(f);
}

/* A producer driven by a script: `len` bytes of the pattern (repeated past
 * PATTERN_LEN) in writes of `chunk` bytes. */
struct prod {
    size_t len, chunk;
    int fail_code;  /* fail with this once fail_at bytes were written (0: never) */
    size_t fail_at;
    bool rewind_first; /* write other bytes first, then rewind and truncate */
    struct replay_cancel *cancel_at_end; /* requested once everything was written */
    /* Stalls after `stall_at` bytes until *resume is set, then writes on. */
    size_t stall_at;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    const bool *resume;
    /* What happened. */
    int calls, write_errno;
    size_t written;
};

static void stall(struct prod *p)
{
    pthread_mutex_lock(p->mu);
    while (!*p->resume)
        pthread_cond_wait(p->cv, p->mu);
    pthread_mutex_unlock(p->mu);
}

static int produce(void *ctx, int fd, struct replay_err *err)
{
    struct prod *p = ctx;
    p->calls++;
    if (p->rewind_first) {
        assert_int_equal(replay_atomicfile_write_fd(fd, "not this", 8), 0);
        if (lseek(fd, 0, SEEK_SET) != 0 || ftruncate(fd, 0) != 0)
            return replay_err_sys(err, REPLAY_EIO, errno, "rewind");
    }
    while (p->written < p->len) {
        if (p->fail_code != 0 && p->written >= p->fail_at)
            return replay_err_set(err, p->fail_code, "source refused at %zu", p->written);
        if (p->stall_at != 0 && p->written == p->stall_at)
            stall(p);
        size_t off = p->written % PATTERN_LEN, n = p->len - p->written;
        n = n < p->chunk ? n : p->chunk;
        n = n < PATTERN_LEN - off ? n : PATTERN_LEN - off;
        int e = replay_atomicfile_write_fd(fd, pattern + off, n);
        if (e != 0) {
            p->write_errno = e;
            return replay_err_sys(err, REPLAY_EIO, e, "write the stream");
        }
        p->written += n;
    }
    if (p->cancel_at_end != NULL)
        replay_cancel_request(p->cancel_at_end);
    return 0;
}

/* ---- file:// ----------------------------------------------------------------------- */

static void test_stream_file_writes_the_producers_bytes_under_the_name(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_store("plain", NULL, NULL);
    assert_true(replay_filestore_stream_seekable(fs));
    struct prod p = {.len = 3u << 20, .chunk = 7919};
    enum replay_filestore_outcome o = REPLAY_FILESTORE_SKIPPED_EXISTS;
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_upload_stream(fs, "sub/a b.bin", produce, &p, &o, &err), 0);
    assert_int_equal(o, REPLAY_FILESTORE_UPLOADED);
    assert_int_equal(p.calls, 1);
    char dir[400], path[500];
    store_dir("plain/sub", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/a b.bin", dir);
    assert_file_is_pattern(path, p.len);
    assert_int_equal(entries(dir), 1); /* no temporary beside it */
    replay_filestore_close(fs);
}

static void test_stream_file_producer_may_rewind_and_write_again(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_store("rewind", NULL, NULL);
    struct prod p = {.len = 100000, .chunk = 4096, .rewind_first = true};
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_upload_stream(fs, "r.bin", produce, &p, NULL, &err), 0);
    char path[500];
    store_dir("rewind/r.bin", path, sizeof(path));
    assert_file_is_pattern(path, p.len);
    replay_filestore_close(fs);
}

static void test_stream_skips_an_existing_name_and_a_read_only_store_without_producing(
    void **state)
{
    (void)state;
    struct replay_filestore *fs = open_store("skips", NULL, NULL);
    struct prod first = {.len = 1000, .chunk = 1000}, second = {.len = 5, .chunk = 5};
    enum replay_filestore_outcome o;
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_upload_stream(fs, "x", produce, &first, &o, &err), 0);
    assert_int_equal(replay_filestore_upload_stream(fs, "x", produce, &second, &o, &err), 0);
    assert_int_equal(o, REPLAY_FILESTORE_SKIPPED_EXISTS);
    assert_int_equal(second.calls, 0);
    char path[500];
    store_dir("skips/x", path, sizeof(path));
    assert_file_is_pattern(path, first.len); /* not replaced */
    replay_filestore_close(fs);
    fs = open_store("skips", "?read_only=true", NULL);
    assert_int_equal(replay_filestore_upload_stream(fs, "y", produce, &second, &o, &err), 0);
    assert_int_equal(o, REPLAY_FILESTORE_SKIPPED_READ_ONLY);
    assert_int_equal(second.calls, 0);
    replay_filestore_close(fs);
}

static void test_stream_file_failed_producer_leaves_no_object_and_no_temporary(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_store("failed", NULL, NULL);
    struct prod p = {.len = 1u << 20, .chunk = 65536, .fail_code = REPLAY_EAUTH,
                     .fail_at = 500000};
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_upload_stream(fs, "f.bin", produce, &p, NULL, &err),
                     REPLAY_EAUTH);
    assert_non_null(strstr(err.msg, "stream upload f.bin to file://"));
    assert_non_null(strstr(err.msg, "the producer failed: source refused at 524288"));
    char dir[400];
    store_dir("failed", dir, sizeof(dir));
    assert_int_equal(entries(dir), 0);
    /* a code that is not one of ours is reported as an I/O error */
    struct prod odd = {.len = 10, .chunk = 10, .fail_code = 42};
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_upload_stream(fs, "f.bin", produce, &odd, NULL, &err),
                     REPLAY_EIO);
    assert_int_equal(entries(dir), 0);
    replay_filestore_close(fs);
}

static void test_stream_file_canceled_while_producing_leaves_nothing(void **state)
{
    (void)state;
    struct replay_cancel *c = replay_cancel_new();
    struct replay_filestore_opts opts = {.cancel = c};
    struct replay_filestore *fs = open_store("canceled", NULL, &opts);
    struct prod p = {.len = 200000, .chunk = 4096, .cancel_at_end = c};
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_upload_stream(fs, "c.bin", produce, &p, NULL, &err),
                     REPLAY_ECANCELED);
    char dir[400];
    store_dir("canceled", dir, sizeof(dir));
    assert_int_equal(entries(dir), 0);
    replay_filestore_close(fs);
    replay_cancel_free(c);
}

static void test_stream_refuses_bad_arguments_before_producing(void **state)
{
    (void)state;
    struct replay_filestore *fs = open_store("bad", NULL, NULL);
    struct prod p = {.len = 1, .chunk = 1};
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_upload_stream(NULL, "n", produce, &p, NULL, &err),
                     REPLAY_EINVAL);
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_upload_stream(fs, "../n", produce, &p, NULL, &err),
                     REPLAY_EUNSAFE);
    replay_err_clear(&err);
    assert_int_equal(replay_filestore_upload_stream(fs, "n", NULL, &p, NULL, &err),
                     REPLAY_EINVAL);
    assert_int_equal(p.calls, 0);
    assert_false(replay_filestore_stream_seekable(NULL));
    replay_filestore_close(fs);
}

static void test_stream_to_http_is_unsupported_and_does_no_io(void **state)
{
    (void)state;
    struct replay_filestore *fs = NULL;
    struct replay_err err = {0};
    /* nothing listens there: any I/O would fail with ECONN instead */
    assert_int_equal(replay_filestore_open("http://127.0.0.1:9/files", NULL, &fs, &err), 0);
    assert_false(replay_filestore_stream_seekable(fs));
    struct prod p = {.len = 1, .chunk = 1};
    assert_int_equal(replay_filestore_upload_stream(fs, "n", produce, &p, NULL, &err),
                     REPLAY_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "READ ONLY TRANSPORT"));
    assert_int_equal(p.calls, 0);
    replay_filestore_close(fs);
    assert_int_equal(replay_filestore_open("http://127.0.0.1:9/f?read_only=true", NULL, &fs,
                                           &err), 0);
    enum replay_filestore_outcome o;
    assert_int_equal(replay_filestore_upload_stream(fs, "n", produce, &p, &o, &err), 0);
    assert_int_equal(o, REPLAY_FILESTORE_SKIPPED_READ_ONLY);
    replay_filestore_close(fs);
}

/* ---- the pipe of the network schemes, with test consumers --------------------------------- */

/* A consumer driven by a script: reads everything (checking it against the
 * pattern), or fails with fail_code after fail_at bytes. */
struct cons {
    int fail_code;
    size_t fail_at;
    size_t got;
    bool saw_end, mismatch;
    int read_rc;
    /* Told once the first bytes arrived (for a canceler), and when it returns. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool first, done;
    uint64_t done_ms;
};

static void cons_init(struct cons *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
}

static void cons_free(struct cons *c)
{
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

static void cons_flag(struct cons *c, bool *flag)
{
    pthread_mutex_lock(&c->mu);
    *flag = true;
    c->done_ms = replay_now_ms();
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static int consume(struct replay_filestore *fs, struct replay__fs_pipe *in, void *arg,
                   struct replay_err *err)
{
    (void)fs;
    struct cons *c = arg;
    unsigned char buf[4096];
    int rc = 0;
    for (;;) {
        if (c->fail_code != 0 && c->got >= c->fail_at) {
            rc = replay_err_set(err, c->fail_code, "server went away");
            break;
        }
        size_t n = 0;
        rc = c->read_rc = replay__fs_pipe_read(in, buf, sizeof(buf), &n, err);
        if (rc != 0)
            break;
        if (n == 0) {
            c->saw_end = true;
            break;
        }
        for (size_t i = 0; i < n; i++)
            c->mismatch |= buf[i] != pattern[(c->got + i) % PATTERN_LEN];
        c->got += n;
        if (!c->first)
            cons_flag(c, &c->first);
    }
    assert_int_equal(replay__fs_pipe_bytes(in), c->got);
    cons_flag(c, &c->done);
    return rc;
}

static struct replay_filestore *pipe_store(struct replay_cancel *cancel)
{
    struct replay_filestore_opts opts = {.cancel = cancel, .max_attempts = 3};
    return open_store("pipe", NULL, &opts);
}

static int run_pipe(struct replay_filestore *fs, struct prod *p, struct cons *c,
                    struct replay_err *err)
{
    struct replay__fs_producer pr = {produce, p};
    return replay__fs_pipe_run(fs, &pr, consume, c, err);
}

static void test_pipe_hands_the_whole_stream_to_the_consumer_then_its_end(void **state)
{
    (void)state;
    struct replay_filestore *fs = pipe_store(NULL);
    struct prod p = {.len = (5u << 20) + 3, .chunk = 7919};
    struct cons c;
    cons_init(&c);
    struct replay_err err = {0};
    assert_int_equal(run_pipe(fs, &p, &c, &err), 0);
    assert_true(c.saw_end);
    assert_false(c.mismatch);
    assert_int_equal(c.got, p.len);
    cons_free(&c);
    replay_filestore_close(fs);
}

static void test_pipe_tells_the_consumer_a_failed_producer_rather_than_an_end(void **state)
{
    (void)state;
    struct replay_filestore *fs = pipe_store(NULL);
    struct prod p = {.len = 1u << 20, .chunk = 10000, .fail_code = REPLAY_EAUTH,
                     .fail_at = 100000};
    struct cons c;
    cons_init(&c);
    struct replay_err err = {0};
    assert_int_equal(run_pipe(fs, &p, &c, &err), REPLAY_EAUTH);
    assert_false(c.saw_end);
    assert_int_equal(c.read_rc, REPLAY_EAUTH); /* the consumer was told the failure */
    assert_int_equal(c.got, 100000);
    /* the producer's own words, not the consumer's */
    assert_string_equal(err.msg, "the producer failed: source refused at 100000");
    cons_free(&c);
    replay_filestore_close(fs);
}

static void test_pipe_stops_the_producer_when_the_consumer_fails_and_reports_the_consumer(
    void **state)
{
    (void)state;
    struct replay_filestore *fs = pipe_store(NULL);
    struct prod p = {.len = 256u << 20, .chunk = 65536};
    struct cons c;
    cons_init(&c);
    c.fail_code = REPLAY_ECONN;
    c.fail_at = 65536;
    struct replay_err err = {0};
    assert_int_equal(run_pipe(fs, &p, &c, &err), REPLAY_ECONN);
    assert_string_equal(err.msg, "server went away");
    assert_int_equal(p.write_errno, EPIPE); /* stopped, far before the end */
    assert_true(p.written < p.len);
    /* alive although SIGPIPE kills by default here; nothing pending, mask restored */
    sigset_t pending, mask;
    sigemptyset(&pending);
    assert_int_equal(sigpending(&pending), 0);
    assert_int_equal(sigismember(&pending, SIGPIPE), 0);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &mask), 0);
    assert_int_equal(sigismember(&mask, SIGPIPE), 0);
    cons_free(&c);
    replay_filestore_close(fs);
}

struct canceler {
    struct cons *c;
    struct replay_cancel *cancel;
    uint64_t at_ms;
};

/* Requests cancellation once the consumer has its first bytes. */
static void *cancel_when_started(void *arg)
{
    struct canceler *k = arg;
    pthread_mutex_lock(&k->c->mu);
    while (!k->c->first)
        pthread_cond_wait(&k->c->cv, &k->c->mu);
    pthread_mutex_unlock(&k->c->mu);
    k->at_ms = replay_now_ms();
    replay_cancel_request(k->cancel);
    return NULL;
}

static void test_pipe_cancel_stops_a_consumer_waiting_for_a_stalled_producer(void **state)
{
    (void)state;
    struct replay_cancel *cancel = replay_cancel_new();
    struct replay_filestore *fs = pipe_store(cancel);
    struct cons c;
    cons_init(&c);
    /* the producer writes 10 bytes, then waits for the consumer to have left
     * (it never looks at the token), then writes on until its writes fail */
    struct prod p = {.len = 64u << 20, .chunk = 10, .stall_at = 10,
                     .mu = &c.mu, .cv = &c.cv, .resume = &c.done};
    struct canceler k = {&c, cancel, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_when_started, &k), 0);
    struct replay_err err = {0};
    assert_int_equal(run_pipe(fs, &p, &c, &err), REPLAY_ECANCELED);
    pthread_join(th, NULL);
    assert_int_equal(c.read_rc, REPLAY_ECANCELED);
    assert_true(c.done_ms - k.at_ms < 5000); /* the poll looks every 250 ms */
    assert_int_equal(p.write_errno, EPIPE);
    cons_free(&c);
    replay_filestore_close(fs);
    replay_cancel_free(cancel);
}

static void test_pipe_leaves_no_thread_or_descriptor_after_many_failures(void **state)
{
    (void)state;
    struct replay_filestore *fs = pipe_store(NULL);
    int fds = open_fds(), threads = entries("/proc/self/task");
    for (int i = 0; i < 60; i++) {
        struct prod p = {.len = 3u << 20, .chunk = 32768};
        struct cons c;
        cons_init(&c);
        if (i % 3 == 0) {
            p.fail_code = REPLAY_EIO;
            p.fail_at = 70000;
        } else if (i % 3 == 1) {
            c.fail_code = REPLAY_EAGAIN;
            c.fail_at = 40000;
        }
        struct replay_err err = {0};
        int rc = run_pipe(fs, &p, &c, &err);
        assert_int_equal(rc, i % 3 == 0 ? REPLAY_EIO : i % 3 == 1 ? REPLAY_EAGAIN : 0);
        cons_free(&c);
    }
    assert_int_equal(open_fds(), fds);
    assert_int_equal(entries("/proc/self/task"), threads);
    replay_filestore_close(fs);
}

/* ---- streams in parts (S3, Azure), with test part senders ---------------------------------- */

#define MAX_SENT 16

struct sent {
    int whole, begin, commits;
    unsigned committed;
    size_t lens[MAX_SENT];
    unsigned n; /* parts that arrived */
    uint64_t offset; /* of the next part in the stream */
    bool mismatch;
    int fail_once_at; /* part index whose first attempt fails with EAGAIN (-1: none) */
    int attempts;
};

static void check_bytes(struct sent *s, const struct replay__fs_body *b)
{
    for (uint64_t i = 0; i < b->len; i++)
        s->mismatch |= (unsigned char)b->mem[i] != pattern[(s->offset + i) % PATTERN_LEN];
}

static int sent_whole(struct replay_filestore *fs, void *arg, const struct replay__fs_body *b,
                      struct replay_err *err)
{
    (void)fs;
    (void)err;
    struct sent *s = arg;
    s->whole++;
    s->lens[0] = b->len;
    check_bytes(s, b);
    return 0;
}

static int sent_begin(struct replay_filestore *fs, void *arg, struct replay_err *err)
{
    (void)fs;
    (void)err;
    ((struct sent *)arg)->begin++;
    return 0;
}

static int sent_part(struct replay_filestore *fs, void *arg, unsigned i,
                     const struct replay__fs_body *b, struct replay_err *err)
{
    (void)fs;
    struct sent *s = arg;
    s->attempts++;
    if ((int)i == s->fail_once_at) {
        s->fail_once_at = -1;
        return replay_err_set(err, REPLAY_EAGAIN, "busy, try again");
    }
    assert_int_equal(i, s->n);
    assert_true(s->n < MAX_SENT);
    assert_non_null(b->mem); /* from memory, so that a retry can send it again */
    s->lens[s->n++] = b->len;
    check_bytes(s, b);
    s->offset += b->len;
    return 0;
}

static int sent_commit(struct replay_filestore *fs, void *arg, unsigned n, struct replay_err *err)
{
    (void)fs;
    (void)err;
    struct sent *s = arg;
    s->commits++;
    s->committed = n;
    return 0;
}

static struct replay__fs_part_ops part_ops = {
    "test part", MAX_SENT, 1, 64u << 20, sent_whole, sent_begin, sent_part, sent_commit,
};

static int run_parts(uint64_t part_size, struct prod *p, struct sent *s, struct replay_err *err)
{
    struct replay_filestore_opts opts = {.stream_part_size = part_size, .max_attempts = 3};
    struct replay_filestore *fs = open_store("parts", NULL, &opts);
    struct replay__fs_producer pr = {produce, p};
    int rc = replay__fs_stream_parts(fs, &pr, &part_ops, s, err);
    replay_filestore_close(fs);
    return rc;
}

static void test_parts_a_stream_shorter_than_one_part_goes_whole(void **state)
{
    (void)state;
    struct prod p = {.len = 100000, .chunk = 3000};
    struct sent s = {.fail_once_at = -1};
    struct replay_err err = {0};
    assert_int_equal(run_parts(1u << 20, &p, &s, &err), 0);
    assert_int_equal(s.whole, 1);
    assert_int_equal(s.lens[0], 100000);
    assert_false(s.mismatch);
    assert_int_equal(s.begin + s.commits + (int)s.n, 0);
}

static void test_parts_a_long_stream_goes_in_full_parts_then_the_rest_then_the_commit(
    void **state)
{
    (void)state;
    struct prod p = {.len = (5u << 19) + 7, .chunk = 65536}; /* 2.5 MiB + 7 */
    struct sent s = {.fail_once_at = -1};
    struct replay_err err = {0};
    assert_int_equal(run_parts(1u << 20, &p, &s, &err), 0);
    assert_int_equal(s.whole, 0);
    assert_int_equal(s.begin, 1);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.lens[0], 1u << 20);
    assert_int_equal(s.lens[1], 1u << 20);
    assert_int_equal(s.lens[2], (1u << 19) + 7);
    assert_false(s.mismatch);
    assert_int_equal(s.commits, 1);
    assert_int_equal(s.committed, 3);
    /* a stream of exactly two parts ends after the second, with no empty third */
    struct prod even = {.len = 2u << 20, .chunk = 65536};
    struct sent s2 = {.fail_once_at = -1};
    assert_int_equal(run_parts(1u << 20, &even, &s2, &err), 0);
    assert_int_equal(s2.n, 2);
    assert_int_equal(s2.committed, 2);
}

static void test_parts_a_failed_producer_never_commits(void **state)
{
    (void)state;
    struct prod p = {.len = 5u << 19, .chunk = 65536, .fail_code = REPLAY_ECONN,
                     .fail_at = 3u << 19};
    struct sent s = {.fail_once_at = -1};
    struct replay_err err = {0};
    assert_int_equal(run_parts(1u << 20, &p, &s, &err), REPLAY_ECONN);
    assert_non_null(strstr(err.msg, "the producer failed"));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.commits, 0);
}

static void test_parts_a_passing_failure_of_a_part_is_retried_from_memory(void **state)
{
    (void)state;
    struct prod p = {.len = 3u << 20, .chunk = 65536};
    struct sent s = {.fail_once_at = 1};
    struct replay_err err = {0};
    assert_int_equal(run_parts(1u << 20, &p, &s, &err), 0);
    assert_int_equal(s.attempts, 4);
    assert_int_equal(s.n, 3);
    assert_false(s.mismatch); /* the retried part was the same bytes */
    assert_int_equal(s.committed, 3);
}

static void test_parts_beyond_the_service_limits_are_refused_or_resized(void **state)
{
    (void)state;
    struct prod p = {.len = 17u << 20, .chunk = 65536};
    struct sent s = {.fail_once_at = -1};
    struct replay_err err = {0};
    assert_int_equal(run_parts(1u << 20, &p, &s, &err), REPLAY_ETOOBIG);
    assert_non_null(strstr(err.msg, "more than 16 parts of 1048576 bytes"));
    assert_int_equal(s.commits, 0);
    /* a part size below the service's minimum is raised to it */
    part_ops.min_part = 2u << 20;
    struct prod q = {.len = 3u << 20, .chunk = 65536};
    struct sent t = {.fail_once_at = -1};
    replay_err_clear(&err);
    int rc = run_parts(1u << 20, &q, &t, &err);
    part_ops.min_part = 1;
    assert_int_equal(rc, 0);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.lens[0], 2u << 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_file_writes_the_producers_bytes_under_the_name),
        cmocka_unit_test(test_stream_file_producer_may_rewind_and_write_again),
        cmocka_unit_test(
            test_stream_skips_an_existing_name_and_a_read_only_store_without_producing),
        cmocka_unit_test(test_stream_file_failed_producer_leaves_no_object_and_no_temporary),
        cmocka_unit_test(test_stream_file_canceled_while_producing_leaves_nothing),
        cmocka_unit_test(test_stream_refuses_bad_arguments_before_producing),
        cmocka_unit_test(test_stream_to_http_is_unsupported_and_does_no_io),
        cmocka_unit_test(test_pipe_hands_the_whole_stream_to_the_consumer_then_its_end),
        cmocka_unit_test(test_pipe_tells_the_consumer_a_failed_producer_rather_than_an_end),
        cmocka_unit_test(
            test_pipe_stops_the_producer_when_the_consumer_fails_and_reports_the_consumer),
        cmocka_unit_test(test_pipe_cancel_stops_a_consumer_waiting_for_a_stalled_producer),
        cmocka_unit_test(test_pipe_leaves_no_thread_or_descriptor_after_many_failures),
        cmocka_unit_test(test_parts_a_stream_shorter_than_one_part_goes_whole),
        cmocka_unit_test(
            test_parts_a_long_stream_goes_in_full_parts_then_the_rest_then_the_commit),
        cmocka_unit_test(test_parts_a_failed_producer_never_commits),
        cmocka_unit_test(test_parts_a_passing_failure_of_a_part_is_retried_from_memory),
        cmocka_unit_test(test_parts_beyond_the_service_limits_are_refused_or_resized),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
