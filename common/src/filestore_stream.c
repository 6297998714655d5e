/*
 * filestore_stream: the pipe of a streamed upload (filestore_int.h). The
 * caller's producer writes into a pipe on the calling thread while a backend's
 * consumer reads the other end on a helper thread and sends what it reads.
 *
 * Why a thread rather than curl's multi interface: the producer is a blocking
 * call that writes into a descriptor (the REST client's download, itself a
 * blocking libcurl transfer with its own retries); once the pipe is full it
 * waits for a reader, so the reader must run elsewhere. Driving both transfers
 * from one multi loop would need the producer to be a callback of that loop,
 * which would split the REST client's request logic in two.
 *
 * The end of the pipe alone cannot tell a whole object from a producer that
 * gave up halfway, so the producer's verdict is passed beside the pipe: it is
 * recorded before the write end is closed, and a reader that meets the end
 * waits for it. The reader reports the end of the object only for a producer
 * that returned 0; otherwise it returns the producer's failure, which makes the
 * backend abandon its upload (no rename, no completion, no commit).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"

/* Capacity asked of the pipe (the default 64 KiB means a wake-up per 64 KiB);
 * 1 MiB is what an unprivileged process may ask (fs.pipe-max-size). */
#define STREAM_PIPE_SIZE (1 << 20)
/* How often a reader waiting for the producer looks at the cancel token. */
#define STREAM_POLL_MS 250

struct replay__fs_pipe {
    struct replay_filestore *fs;
    replay__fs_consume_fn consume;
    void *arg;
    int rfd;
    uint64_t bytes;
    bool ended; /* the reader reported the end of the object */
    struct replay__http_xfer *x; /* the transfer reading through replay__fs_pipe_body() */
    /* The producer's verdict, recorded before its end of the pipe is closed. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool produced;
    int produce_rc;
    /* The consumer's result. */
    bool stopped_by_producer;
    int consume_rc;
    struct replay_err consume_err;
};

uint64_t replay__fs_pipe_bytes(const struct replay__fs_pipe *in)
{
    return in->bytes;
}

static bool canceled(const struct replay__fs_pipe *in)
{
    return replay_cancel_requested(in->fs->opts.cancel);
}

/* The pipe is at its end: waits for the producer's verdict (it comes right
 * after unless the producer closed the descriptor it only borrowed). */
static int at_end(struct replay__fs_pipe *in, size_t *got, struct replay_err *err)
{
    pthread_mutex_lock(&in->mu);
    while (!in->produced && !canceled(in)) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += STREAM_POLL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&in->cv, &in->mu, &until);
    }
    bool produced = in->produced;
    int rc = in->produce_rc;
    pthread_mutex_unlock(&in->mu);
    if (!produced)
        return replay_err_set(err, REPLAY_ECANCELED, "stream canceled");
    if (rc != 0) {
        in->stopped_by_producer = true;
        return replay_err_set(err, rc, "stream abandoned: the producer failed");
    }
    in->ended = true;
    *got = 0;
    return 0;
}

int replay__fs_pipe_read(struct replay__fs_pipe *in, void *buf, size_t n, size_t *got,
                         struct replay_err *err)
{
    *got = 0;
    for (;;) {
        if (canceled(in))
            return replay_err_set(err, REPLAY_ECANCELED, "stream canceled");
        struct pollfd p = {.fd = in->rfd, .events = POLLIN};
        int ready = poll(&p, 1, STREAM_POLL_MS);
        if (ready < 0 && errno != EINTR)
            return replay_err_sys(err, REPLAY_EIO, errno, "stream: poll");
        if (ready <= 0)
            continue;
        ssize_t r = read(in->rfd, buf, n);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0)
            return replay_err_sys(err, REPLAY_EIO, errno, "stream: read");
        if (r == 0)
            return at_end(in, got, err);
        in->bytes += (uint64_t)r;
        *got = (size_t)r;
        return 0;
    }
}

int replay__fs_pipe_fill(struct replay__fs_pipe *in, void *buf, size_t n, size_t *got,
                         struct replay_err *err)
{
    *got = 0;
    while (*got < n) {
        size_t r = 0;
        int rc = replay__fs_pipe_read(in, (char *)buf + *got, n - *got, &r, err);
        if (rc != 0)
            return rc;
        if (r == 0)
            break;
        *got += r;
    }
    return 0;
}

/* in_source of a transfer reading the stream: a failed read stops it with the
 * read's own code and words. */
static int pipe_source(void *ctx, char *p, size_t n, size_t *got)
{
    struct replay__fs_pipe *in = ctx;
    struct replay_err e = {0};
    int rc = replay__fs_pipe_read(in, p, n, got, &e);
    if (rc != 0)
        replay__http_xfer_fail(in->x, rc, e.sys_errno, e.msg);
    return rc;
}

void replay__fs_pipe_body(struct replay__http_xfer *x, struct replay__fs_pipe *in)
{
    in->x = x;
    x->in_source = pipe_source;
    x->in_source_ctx = in;
}

/* One part with its retries. */
struct part_try {
    struct replay_filestore *fs;
    const struct replay__fs_part_ops *ops;
    void *arg;
    unsigned i;
    struct replay__fs_body b;
};

static int part_attempt(void *ctx, struct replay_err *err)
{
    struct part_try *t = ctx;
    return t->ops->part(t->fs, t->arg, t->i, &t->b, err);
}

/* A stream stored in parts: the backend's functions and one part's buffer. */
struct parted {
    const struct replay__fs_part_ops *ops;
    void *arg;
    char *buf;
    size_t part;
};

static int consume_parts(struct replay_filestore *fs, struct replay__fs_pipe *in, void *ctx,
                         struct replay_err *err)
{
    struct parted *pt = ctx;
    const struct replay__fs_part_ops *ops = pt->ops;
    void *arg = pt->arg;
    char *buf = pt->buf;
    size_t part = pt->part, got = 0;
    int rc = replay__fs_pipe_fill(in, buf, part, &got, err);
    if (rc == 0 && got < part) { /* the whole object in one part */
        struct replay__fs_body b = {buf, -1, 0, got};
        return ops->whole(fs, arg, &b, err);
    }
    if (rc == 0 && ops->begin != NULL)
        rc = ops->begin(fs, arg, err);
    struct part_try t = {fs, ops, arg, 0, {buf, -1, 0, 0}};
    for (; rc == 0 && got > 0; t.i++) {
        if (t.i >= ops->max_parts)
            return replay_err_set(err, REPLAY_ETOOBIG,
                                  "more than %u parts of %zu bytes; set a larger part size",
                                  ops->max_parts, part);
        t.b.len = got;
        rc = replay__fs_retry(fs, ops->what, part_attempt, &t, err);
        if (rc == 0 && got == part)
            rc = replay__fs_pipe_fill(in, buf, part, &got, err);
        else
            got = 0; /* that was the last part */
    }
    return rc == 0 ? ops->commit(fs, arg, t.i, err) : rc;
}

int replay__fs_stream_parts(struct replay_filestore *fs, const struct replay__fs_producer *p,
                            const struct replay__fs_part_ops *ops, void *arg,
                            struct replay_err *err)
{
    uint64_t part = fs->opts.stream_part_size != 0 ? fs->opts.stream_part_size
                                                   : REPLAY_FILESTORE_STREAM_PART;
    part = part < ops->min_part ? ops->min_part : part > ops->max_part ? ops->max_part : part;
    struct parted pt = {ops, arg, malloc((size_t)part), (size_t)part};
    if (pt.buf == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "stream: no memory for a part of %llu bytes",
                              (unsigned long long)part);
    int rc = replay__fs_pipe_run(fs, p, consume_parts, &pt, err);
    free(pt.buf);
    return rc;
}

static void *consume_main(void *arg)
{
    struct replay__fs_pipe *in = arg;
    in->consume_rc = in->consume(in->fs, in, in->arg, &in->consume_err);
    assert(in->consume_rc != 0 || in->ended); /* a consumer commits only a whole stream */
    close(in->rfd); /* the producer's next write fails with EPIPE */
    in->rfd = -1;
    return NULL;
}

/* Starts the consumer with every signal blocked: signals are for the
 * application's own threads. */
static int start_consumer(struct replay__fs_pipe *in, pthread_t *th, struct replay_err *err)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(th, NULL, consume_main, in);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0)
        return replay_err_sys(err, REPLAY_ENOMEM, e, "stream: cannot start the upload thread");
    return 0;
}

/* SIGPIPE of the producer's writes after the consumer left: blocked on this
 * thread for the call, and discarded if it was raised, so that a process that
 * does not ignore SIGPIPE gets EPIPE rather than death. */
struct sigpipe_guard {
    sigset_t pipe_set, old;
    bool was_pending;
};

static bool sigpipe_pending(void)
{
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    return sigismember(&pending, SIGPIPE) == 1;
}

static void sigpipe_block(struct sigpipe_guard *g)
{
    sigemptyset(&g->pipe_set);
    sigaddset(&g->pipe_set, SIGPIPE);
    g->was_pending = sigpipe_pending();
    pthread_sigmask(SIG_BLOCK, &g->pipe_set, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
    if (!g->was_pending && sigpipe_pending()) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&g->pipe_set, NULL, &zero) < 0 && errno == EINTR)
            continue;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Runs the producer into wfd, then records its verdict and closes wfd. */
static int produce_into(struct replay__fs_pipe *in, const struct replay__fs_producer *p, int wfd,
                        struct replay_err *perr)
{
    struct sigpipe_guard g;
    sigpipe_block(&g);
    int rc = replay__fs_produce(p, wfd, perr);
    pthread_mutex_lock(&in->mu);
    in->produced = true;
    in->produce_rc = rc;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
    close(wfd);
    sigpipe_restore(&g);
    return rc;
}

/* The consumer's error, unless it only stopped because the producer failed. */
static int verdict(struct replay__fs_pipe *in, int produce_rc, const struct replay_err *perr,
                   struct replay_err *err)
{
    const struct replay_err *why = NULL;
    if (in->consume_rc != 0 && !in->stopped_by_producer)
        why = &in->consume_err;
    else if (produce_rc != 0)
        why = perr;
    else if (in->consume_rc != 0)
        why = &in->consume_err;
    if (why == NULL)
        return 0;
    bool fresh = err != NULL && err->code == 0;
    replay_err_set(err, why->code, "%s", why->msg);
    if (fresh)
        err->sys_errno = why->sys_errno;
    return why->code;
}

int replay__fs_pipe_run(struct replay_filestore *fs, const struct replay__fs_producer *p,
                        replay__fs_consume_fn consume, void *arg, struct replay_err *err)
{
    struct replay__fs_pipe in = {.fs = fs, .consume = consume, .arg = arg, .rfd = -1};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "stream: pipe");
    (void)fcntl(fds[1], F_SETPIPE_SZ, STREAM_PIPE_SIZE); /* a smaller pipe works too */
    in.rfd = fds[0];
    pthread_mutex_init(&in.mu, NULL);
    pthread_cond_init(&in.cv, NULL);
    pthread_t th;
    int rc = start_consumer(&in, &th, err);
    if (rc != 0) {
        close(fds[0]);
        close(fds[1]);
    } else {
        struct replay_err perr = {0};
        int prc = produce_into(&in, p, fds[1], &perr);
        replay_idle_begin(); /* the end of the upload: bounded by its timeouts */
        pthread_join(th, NULL);
        replay_idle_end();
        rc = verdict(&in, prc, &perr, err);
    }
    pthread_cond_destroy(&in.cv);
    pthread_mutex_destroy(&in.mu);
    return rc;
}
