/* replay-loader: the loop of the "File loader" thread.
 *
 * Each pass of common/fswatch hands over the files that settled. A file not
 * queued yet is pushed to replay_file (the path as found) and its record keeps
 * the time; a file still there requeue_after later is pushed again (its message
 * was lost), but only while the queue is empty: a backlog is a slow worker, not a
 * lost message, and a duplicate is absorbed by the worker anyway. When the queue
 * Redis lost its data (its epoch changed), every file still here is queued again
 * at once. The records are
 * saved to the state file after each pass that changed them, pushes first: a
 * crash in between queues a file twice, never zero times. Walk errors are logged
 * (when they change, or once a minute) and the pass forgets nothing. Between
 * passes the thread waits for scan_interval, the next file due to settle, or an
 * inotify hint, whichever comes first. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "loader.h"
#include "replay/atomicfile.h"
#include "replay/backoff.h"
#include "replay/fswatch.h"
#include "replay/log.h"
#include "replay/queue.h"
#include "replay/service.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
/* A walk error that stays the same is repeated in the log this often. */
#define WALK_ERROR_REPEAT_MS 60000
/* mark of a file that cannot be queued (a path that is not UTF-8): not tried again. */
#define MARK_REFUSED (-1)

struct lrun {
    const struct replay_config *cfg;
    const struct replay_cancel *cancel;
    struct replay_queue *q;
    struct replay_fswatch *w;
    struct loader_sync sync;
    struct loader_audit audit;
    struct replay_backoff backoff;
    char state_path[PATH_MAX];
    /* per pass: may lost messages be queued again? (asked once, lazily) */
    bool requeue_asked, requeue_ok;
    /* the queue Redis lost its data: every remembered file is due now, until a
     * pass queues them all */
    char epoch[REPLAY_QUEUE_EPOCH_LEN];
    bool requeue_all;
    /* the walk's health, for the log */
    char last_error[REPLAY_ERR_MSG_LEN];
    uint64_t last_error_ms;
};

/* The queue is empty: a file queued long ago and still here lost its message. */
static bool requeue_allowed(struct lrun *r)
{
    if (r->requeue_asked)
        return r->requeue_ok;
    struct replay_queue_counts c;
    struct replay_err err = {0};
    r->requeue_asked = true;
    r->requeue_ok = replay_queue_counts(r->q, REPLAY_QUEUE_FILE, &c, &err) == 0 && c.queued == 0;
    if (err.code != 0 && err.code != REPLAY_ECANCELED)
        replay_warn("Cannot see the length of the file queue (nothing queued again): %s",
                    err.msg);
    return r->requeue_ok;
}

static int on_settled(void *ctx, struct replay_fswatch_file *f, struct replay_err *err)
{
    struct lrun *r = ctx;
    int64_t now = (int64_t)time(NULL);
    if (f->mark == MARK_REFUSED || (f->kind == REPLAY_NAMES_MANIFEST && !r->audit.on))
        return 0; /* (manifests stay where they are while loader.manifest is off) */
    if (f->mark > 0 && !r->requeue_all &&
        (now - f->mark < r->cfg->loader.requeue_after || !requeue_allowed(r)))
        return 0;
    if (f->mark > 0 && !r->requeue_all)
        replay_warn("Queueing again %s: queued %lld s ago and still there (its message was lost?)",
                    f->path, (long long)(now - f->mark));
    /* A manifest goes to the head of the queue: the files it lists wait for it. */
    int code = f->kind == REPLAY_NAMES_MANIFEST ? replay_queue_push_file_first(r->q, f->path, err)
                                                : replay_queue_push_file(r->q, f->path, err);
    if (code == REPLAY_EFORMAT || code == REPLAY_ETOOBIG) {
        replay_warn("Not queueing %s: %s", f->path, err->msg);
        replay_err_clear(err);
        f->mark = MARK_REFUSED;
        return 0;
    }
    if (code == 0) {
        replay_info("Queueing file: %s", f->path); /* (upstream's line, once it is queued) */
        f->mark = now > 0 ? now : 1;
    }
    return code;
}

/* Logs an incomplete walk when its reason changes or once a minute, and its end. */
static void report_walk(struct lrun *r, const struct replay_fswatch_pass *p)
{
    const char *dir = r->cfg->loader.input_directory;
    uint64_t now = replay_now_ms();
    if (p->complete) {
        if (r->last_error[0] != '\0')
            replay_info("The walk of %s is complete again", dir);
        r->last_error[0] = '\0';
        return;
    }
    if (p->first_error[0] == '\0')
        return; /* stopped by a queue error, logged by the loop */
    if (strcmp(p->first_error, r->last_error) != 0 || now - r->last_error_ms >= WALK_ERROR_REPEAT_MS) {
        replay_error("The walk of %s is incomplete (%llu error(s); first: %s): nothing is "
                     "forgotten, trying again",
                     dir, (unsigned long long)p->errors, p->first_error);
        snprintf(r->last_error, sizeof(r->last_error), "%s", p->first_error);
        r->last_error_ms = now;
    }
}

static void save_state(struct lrun *r)
{
    struct replay_err err = {0};
    replay_fswatch_set_tag(r->w, r->epoch); /* the Redis the remembered files went to */
    if (replay_fswatch_save(r->w, r->state_path, &err) != 0)
        replay_error("Cannot save the loader's state (a restart may queue files again): %s",
                     err.msg);
}

/* When the next pass is due (replay_now_ms() clock). */
static uint64_t next_pass_ms(const struct lrun *r, const struct replay_fswatch_pass *p)
{
    uint64_t due = replay_now_ms() + (uint64_t)r->cfg->loader.scan_interval * 1000u;
    if (p->next_settle_ms != 0 && p->next_settle_ms < due)
        due = p->next_settle_ms;
    return r->sync.next_ms < due ? r->sync.next_ms : due;
}

/* A queue Redis that lost its data (its epoch changed: restarted without
 * persistence, flushed) lost the messages of every file queued and still here:
 * the next passes queue them all again, at once rather than requeue_after later. */
static int watch_epoch(struct lrun *r, struct replay_err *err)
{
    bool lost = false;
    int code = replay_queue_epoch_check(r->q, r->epoch, &lost, err);
    if (code == 0 && lost) {
        replay_warn("The queue Redis lost its data (its epoch changed): every file still in %s "
                    "is queued again",
                    r->cfg->loader.input_directory);
        r->requeue_all = true;
    }
    return code;
}

static int loader_loop(struct lrun *r)
{
    for (;;) {
        struct replay_fswatch_pass p = {0};
        struct replay_err err = {0};
        r->requeue_asked = false;
        int code = watch_epoch(r, &err);
        if (code == 0)
            code = replay_fswatch_scan(r->w, on_settled, r, &p, &err);
        if (code == 0 && p.complete)
            r->requeue_all = false;
        replay_progress();
        report_walk(r, &p);
        if (p.changed)
            save_state(r);
        replay_debug("Pass over %s: %llu file(s), %llu settled, %llu forgotten, %llu ms",
                     r->cfg->loader.input_directory, (unsigned long long)p.candidates,
                     (unsigned long long)p.settled, (unsigned long long)p.forgotten,
                     (unsigned long long)p.duration_ms);
        if (code == REPLAY_ECANCELED)
            return code;
        if (code != 0) {
            if (replay_service_pause(&r->backoff, REPLAY_LOG_ERROR, r->cancel,
                                     "Cannot queue the files found: %s", err.msg) != 0)
                return REPLAY_ECANCELED;
            continue;
        }
        replay_backoff_reset(&r->backoff);
        loader_audit_pass(&r->audit, r->q);
        loader_sync_check(&r->sync);
        if (replay_fswatch_wait(r->w, next_pass_ms(r, &p), r->cancel, NULL) != 0)
            return REPLAY_ECANCELED;
    }
}

/* A loader killed while it rewrote its state left the temporary of that write:
 * the state is this loader's alone, so its temporaries go at start, whatever
 * their age (atomicfile's convention: ".<name>.replay-tmp-<random>"). */
static void remove_state_temporaries(const char *dir)
{
    char prefix[64];
    unsigned removed = 0;
    struct replay_err err = {0};
    snprintf(prefix, sizeof(prefix), ".%s" REPLAY_ATOMICFILE_TMP_MARK, LOADER_STATE_FILE);
    if (replay_atomicfile_remove_own(dir, prefix, &removed, &err) != 0)
        replay_warn("Cannot look for temporaries of the loader's state: %s", err.msg);
    else if (removed > 0)
        replay_info("Removed %u temporary file(s) of the loader's state an earlier run left in %s",
                    removed, dir);
}

static int open_watcher(struct lrun *r, struct replay_err *err)
{
    const struct replay_loader_config *l = &r->cfg->loader;
    const char *skip[] = {l->failed_directory, l->working_directory};
    struct replay_fswatch_options o = {
        .root = l->input_directory,
        .skip_dirs = skip,
        .n_skip_dirs = 2,
        .settle_ms = (uint64_t)l->settle_time * 1000u,
        .root_grace_ms = (uint64_t)l->requeue_after * 1000u,
    };
    size_t n = 0;
    struct replay_err lerr = {0};
    int code = replay_fswatch_open(&o, &r->w, err);
    if (code != 0)
        return code;
    snprintf(r->state_path, sizeof(r->state_path), "%s/%s", l->working_directory,
             LOADER_STATE_FILE);
    remove_state_temporaries(l->working_directory);
    if (replay_fswatch_load(r->w, r->state_path, &n, &lerr) != 0)
        replay_warn("Not using the loader's state (files still present will be queued again): "
                    "%s",
                    lerr.msg);
    else if (n > 0)
        replay_info("Remembering %zu queued file(s) from %s", n, r->state_path);
    /* The first epoch check compares with the Redis those files were queued in: if
     * it lost its data since, while no loader ran, they are all queued again. */
    snprintf(r->epoch, sizeof(r->epoch), "%s", replay_fswatch_tag(r->w));
    return 0;
}

int loader_thread(void *arg, const struct replay_cancel *cancel)
{
    struct lrun r = {.cfg = arg, .cancel = cancel};
    struct replay_err err = {0};
    replay_backoff_init(&r.backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    int code = replay_service_redis(r.cfg, false, "queues", cancel, &r.q, &err);
    if (code == 0)
        code = loader_sync_open(&r.sync, r.cfg, cancel, &err);
    if (code == 0)
        code = loader_audit_open(&r.audit, r.cfg, cancel, &err);
    if (code == 0)
        code = open_watcher(&r, &err);
    if (code == 0)
        code = loader_loop(&r);
    else if (code != REPLAY_ECANCELED)
        replay_error("Cannot start the file loader: %s", err.msg);
    replay_fswatch_close(r.w);
    loader_sync_close(&r.sync);
    loader_audit_close(&r.audit);
    replay_queue_close(r.q);
    return code == REPLAY_ECANCELED ? 0 : code;
}
