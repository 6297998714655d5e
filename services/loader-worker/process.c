/* replay-loader-worker: one message of replay_file, from the path to the outcome.
 *
 * The message is a path. Before anything touches it, it must be absolute, without
 * "." or ".." components, named like a Replay file, and its directory, resolved,
 * must lie inside input_directory and outside the failed and working directories
 * (else the message goes to replay_file:bad with the reason). The file is opened
 * without following a link and without blocking (a FIFO must never hold a worker),
 * must be a regular file, and is locked (flock) so that a twin message (the loader
 * queued it again) taken by another worker is acknowledged at once instead of
 * importing it twice. A path with no file any more is a twin whose work is done:
 * acknowledged.
 *
 * With loader.manifest on, a manifest is verified and recorded instead of
 * imported, and any other file is checked against the manifests first (trust.c):
 * one that must wait for its manifest is left where it is and its message
 * acknowledged (the loader queues it again when it is due).
 *
 * Outcomes: loaded -> the input file is removed (only if the name still holds the
 * file that was loaded), then acknowledged. Refused for good (a bad bundle, a
 * digest mismatch, a 4xx, a 500 that stays) -> moved to the failed directory with
 * <name>.error.json, then acknowledged. Passing trouble (the input file system,
 * the failed directory) -> tried again after a back-off, holding the message.
 * Shutdown -> the message stays held and the next start delivers it again. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/log.h"
#include "replay/service.h"
#include "worker.h"

#define POP_WAIT_MS 5000
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define TOUCH_EVERY_MS 60000

enum outcome {
    O_LOADED,  /* imported: remove the file, acknowledge */
    O_GONE,    /* no file there: acknowledge */
    O_BUSY,    /* another worker holds it: acknowledge */
    O_BAD,     /* the message itself is refused: to :bad */
    O_FAILED,  /* refused for good: failed directory, acknowledge */
    O_RETRY,   /* passing trouble: back off, try again holding the message */
    O_WAIT,    /* waits for its manifest: the file stays, acknowledge */
    O_STOP,    /* shutdown: keep the message */
};

void lworker_touch(struct lworker_run *r)
{
    struct replay_err err = {0};
    uint64_t now = replay_now_ms();
    if (now - r->touched_ms < TOUCH_EVERY_MS)
        return;
    r->touched_ms = now;
    if (replay_queue_touch(r->consumer, &err) != 0 && err.code != REPLAY_ECANCELED)
        replay_warn("Cannot refresh this worker's liveness record: %s", err.msg);
}

/* ---- where the path points ---- */

static bool inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strcmp(dir, "/") == 0 ||
           (strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/'));
}

static bool has_dot_component(const char *path)
{
    for (const char *p = path; p != NULL; p = strchr(p + 1, '/')) {
        const char *c = p + (*p == '/');
        if (c[0] == '.' && (c[1] == '/' || c[1] == '\0' || (c[1] == '.' && (c[2] == '/' || c[2] == '\0'))))
            return true;
    }
    return false;
}

/* Sets the reason of an outcome and returns it. */
static enum outcome because(enum outcome o, struct replay_err *err, int code, int sys_errno,
                            const char *what, const char *path)
{
    if (sys_errno != 0)
        replay_err_sys(err, code, sys_errno, "%s %s", what, path);
    else
        replay_err_set(err, code, "%s%s", what, path);
    return o;
}

/* Resolves the file's directory into `dir` (PATH_MAX) and checks where it is.
 * O_BAD with the reason in err, O_GONE, O_RETRY, or O_LOADED meaning "go on". */
static enum outcome locate(struct lworker_job *j, char *dir, struct replay_err *err)
{
    const struct replay_loader_config *l = &j->r->slot->cfg->loader;
    char parent[PATH_MAX], real[PATH_MAX];
    j->base = replay_names_basename(j->path);
    j->kind = replay_names_classify(j->base);
    if (j->path[0] != '/' || has_dot_component(j->path))
        return because(O_BAD, err, REPLAY_EUNSAFE, 0,
                       "not an absolute path without . or .. components", "");
    if (j->kind == REPLAY_NAMES_IGNORED)
        return because(O_BAD, err, REPLAY_EUNSAFE, 0, "not the name of a bundle or export", "");
    if (j->kind == REPLAY_NAMES_MANIFEST && !j->r->slot->trust->on)
        return because(O_BAD, err, REPLAY_EUNSUPPORTED, 0,
                        "a manifest, and manifests are off (loader.manifest)", "");
    snprintf(parent, sizeof(parent), "%.*s", (int)(j->base - j->path - 1), j->path);
    if (realpath(parent[0] != '\0' ? parent : "/", dir) == NULL)
        return errno == ENOENT || errno == ENOTDIR
                   ? O_GONE
                   : because(O_RETRY, err, REPLAY_EIO, errno, "resolve", parent);
    if (realpath(l->input_directory, real) == NULL)
        return because(O_RETRY, err, REPLAY_EIO, errno, "resolve the input directory",
                       l->input_directory);
    if (!inside(dir, real))
        return because(O_BAD, err, REPLAY_EUNSAFE, 0, "outside the input directory ",
                       l->input_directory);
    const char *others[] = {l->failed_directory, l->working_directory};
    for (int i = 0; i < 2; i++) {
        if (realpath(others[i], real) != NULL && inside(dir, real))
            return because(O_BAD, err, REPLAY_EUNSAFE, 0, "not an input: inside ", others[i]);
    }
    return O_LOADED;
}

/* ---- opening and locking ---- */

static const char *not_regular(mode_t mode)
{
    return S_ISDIR(mode)    ? "it is a directory, not a regular file"
           : S_ISFIFO(mode) ? "it is a FIFO, not a regular file"
           : S_ISSOCK(mode) ? "it is a socket, not a regular file"
                            : "it is a device, not a regular file";
}

static enum outcome open_file(struct lworker_job *j, const char *dir, struct replay_err *err)
{
    struct stat st, now;
    j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (j->dirfd < 0)
        return errno == ENOENT ? O_GONE : because(O_RETRY, err, REPLAY_EIO, errno, "open", dir);
    j->fd = openat(j->dirfd, j->base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (j->fd < 0 && errno == ENOENT)
        return O_GONE;
    if (j->fd < 0 && errno == ELOOP)
        return because(O_FAILED, err, REPLAY_EUNSAFE, 0, "it is a symbolic link", "");
    if (j->fd < 0)
        return because(O_RETRY, err, REPLAY_EIO, errno, "open", j->path);
    if (fstat(j->fd, &st) != 0)
        return because(O_RETRY, err, REPLAY_EIO, errno, "stat", j->path);
    if (!S_ISREG(st.st_mode))
        return because(O_FAILED, err, REPLAY_EUNSAFE, 0, not_regular(st.st_mode), "");
    if (flock(j->fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
        return O_BUSY; /* (other flock errors, e.g. no locks on this NFS: go on unlocked) */
    /* Loaded and removed by a twin between our open and our lock? */
    if (fstat(j->fd, &st) != 0 || st.st_nlink == 0 ||
        fstatat(j->dirfd, j->base, &now, AT_SYMLINK_NOFOLLOW) != 0 || now.st_ino != st.st_ino ||
        now.st_dev != st.st_dev)
        return O_GONE;
    return O_LOADED;
}

/* ---- one try ---- */

/* The work on the open file: a manifest recorded, or a file checked against the
 * manifests (when they are on) and imported. */
static int dispatch(struct lworker_job *j, struct replay_err *err)
{
    bool manifests = j->r->slot->trust->on;
    if (j->kind == REPLAY_NAMES_MANIFEST)
        return lworker_manifest(j, err);
    int code = manifests ? lworker_trust_check(j, err) : 0;
    if (code != 0 || j->waiting)
        return code;
    return j->kind == REPLAY_NAMES_BUNDLE ? lworker_bundle(j, err) : lworker_lists(j, err);
}

static enum outcome attempt(struct lworker_job *j, struct replay_err *err)
{
    char dir[PATH_MAX];
    j->waiting = false;
    j->sha256[0] = '\0';
    j->reason_word = NULL;
    j->source[0] = '\0';
    enum outcome o = locate(j, dir, err);
    if (o == O_LOADED)
        o = open_file(j, dir, err);
    if (o != O_LOADED)
        return o;
    int code = dispatch(j, err);
    if (code == 0)
        return j->waiting ? O_WAIT : O_LOADED;
    switch (replay_service_verdict(code, 0)) {
    case REPLAY_VERDICT_STOP:
        return O_STOP;
    case REPLAY_VERDICT_TRANSIENT:
    case REPLAY_VERDICT_SETUP:
        return O_RETRY;
    case REPLAY_VERDICT_PERMANENT:
        break;
    }
    return O_FAILED;
}

static void close_job(struct lworker_job *j)
{
    if (j->fd >= 0)
        close(j->fd); /* also releases the lock */
    if (j->dirfd >= 0)
        close(j->dirfd);
    j->fd = j->dirfd = -1;
    lworker_lists_clear(j);
}

/* Waits a back-off step after passing trouble; false on shutdown. */
static bool pause_after(struct lworker_job *j, const char *what, const struct replay_err *err)
{
    return replay_service_pause(&j->r->backoff, REPLAY_LOG_WARNING, j->r->cancel,
                                "%s %s failed (the file stays): %s", what, j->path,
                                err->msg) == 0;
}

/* ---- outcomes ---- */

/* Removes the input file, unless its name now holds another file. */
static int remove_input(struct lworker_job *j, struct replay_err *err)
{
    struct stat mine, there;
    if (fstat(j->fd, &mine) != 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "stat %s", j->path);
    if (fstatat(j->dirfd, j->base, &there, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : replay_err_sys(err, REPLAY_EIO, errno, "stat %s", j->path);
    if (mine.st_ino != there.st_ino || mine.st_dev != there.st_dev) {
        replay_info("%s was replaced while it was loaded: the new file stays", j->path);
        return 0;
    }
    if (unlinkat(j->dirfd, j->base, 0) != 0 && errno != ENOENT)
        return replay_err_sys(err, REPLAY_EIO, errno, "remove %s", j->path);
    return 0;
}

static int move_to_failed(struct lworker_job *j, struct replay_err *err)
{
    const char *failed = j->r->slot->cfg->loader.failed_directory;
    int code = replay_failed_move(failed, j->dirfd, j->base, j->r->cancel, err);
    if (code == REPLAY_ENOTFOUND) {
        replay_warn("%s went away before it could be moved to the failed directory", j->path);
        return 0;
    }
    if (code == REPLAY_EUNSUPPORTED) {
        replay_error("%s", err->msg);
        replay_err_clear(err);
        return 0;
    }
    return code;
}

static int write_reason(struct lworker_job *j, const char *reason, struct replay_err *err)
{
    struct replay_failed_record rec = {
        .reason = reason,
        .component = LWORKER_COMPONENT,
        .attempts = j->attempts,
        .original_path = j->path,
        .items = j->items,
        .n_items = j->n_items,
        .items_failed = j->items_failed,
    };
    return replay_failed_write_reason(j->r->slot->cfg->loader.failed_directory, j->base, &rec,
                                      err);
}

/* Runs fn until it succeeds; false on shutdown. */
static bool until_done(struct lworker_job *j, const char *what,
                       int (*fn)(struct lworker_job *, struct replay_err *))
{
    for (;;) {
        struct replay_err err = {0};
        int code = fn(j, &err);
        if (code == 0)
            return true;
        if (code == REPLAY_ECANCELED || !pause_after(j, what, &err))
            return false;
    }
}

/* A manifest's signature goes where the manifest goes. */
static int move_sig_to_failed(struct lworker_job *j, struct replay_err *err)
{
    char sig_name[NAME_MAX + 8];
    lworker_sig_name(j, sig_name, sizeof(sig_name));
    int code = replay_failed_move(j->r->slot->cfg->loader.failed_directory, j->dirfd, sig_name,
                                  j->r->cancel, err);
    if (code == REPLAY_ENOTFOUND || code == REPLAY_EUNSUPPORTED) {
        replay_err_clear(err);
        return 0;
    }
    return code;
}

static int settle_failed(struct lworker_job *j, struct replay_err *err)
{
    return lworker_trust_settle(j, false, err);
}

static int settle_loaded(struct lworker_job *j, struct replay_err *err)
{
    return lworker_trust_settle(j, true, err);
}

static bool fail_file(struct lworker_job *j, const char *reason)
{
    replay_error("Failed to load the bundle file %s, moving it to the failed directory. "
                 "Reason: %s",
                 j->path, reason);
    /* The audit first: a crash after it counts a failure twice, never zero times. */
    if (!until_done(j, "Recording the failure of", settle_failed) ||
        !until_done(j, "Moving to the failed directory", move_to_failed))
        return false;
    if (j->kind == REPLAY_NAMES_MANIFEST &&
        !until_done(j, "Moving the signature to the failed directory", move_sig_to_failed))
        return false;
    for (;;) {
        struct replay_err err = {0};
        int code = write_reason(j, reason, &err);
        if (code == 0)
            return true;
        if (code == REPLAY_ECANCELED || !pause_after(j, "Writing the reason for", &err))
            return false;
    }
}

/* ---- one message ---- */

/* Acknowledges (or rejects) the item; the outcome's work is done. */
static int settle(struct lworker_run *r, struct replay_queue_item *item, enum outcome o,
                  const char *why)
{
    struct replay_err err = {0};
    int code = o == O_BAD ? replay_queue_reject(r->consumer, item, why, &err)
                          : replay_queue_ack(r->consumer, item, &err);
    if (code != 0 && code != REPLAY_ECANCELED)
        replay_error("Cannot settle %s in the queue: %s", replay_queue_item_id(item), err.msg);
    return code;
}

/* A file's arrival is recorded before it goes (a crash in between imports it
 * again, harmless); a manifest is marked done only once it is gone (its bytes
 * seen again after that are a replay). False on shutdown. */
static bool finish_loaded(struct lworker_job *j)
{
    bool manifest = j->kind == REPLAY_NAMES_MANIFEST;
    bool finished = (manifest || until_done(j, "Recording the arrival of", settle_loaded)) &&
                    until_done(j, "Removing the loaded file", remove_input) &&
                    (!manifest || until_done(j, "Recording", settle_loaded));
    if (finished)
        replay_info("%s %s", manifest ? "Recorded" : "Loaded", j->path);
    return finished;
}

static int handle(struct lworker_run *r, struct replay_queue_item *item)
{
    struct lworker_job j = {.r = r, .path = replay_queue_item_id(item), .dirfd = -1, .fd = -1,
                            .sequence = -1};
    struct replay_err err = {0};
    enum outcome o;
    replay_info("Processing file: %s", j.path);
    while ((o = attempt(&j, &err)) == O_RETRY) {
        close_job(&j);
        if (!pause_after(&j, "Loading", &err))
            return REPLAY_ECANCELED;
        replay_err_clear(&err);
    }
    bool finished = true;
    if (o == O_LOADED) {
        finished = finish_loaded(&j);
    } else if (o == O_WAIT) {
        replay_info("%s waits for %s (it stays; looked at again later)", j.path,
                    j.kind == REPLAY_NAMES_MANIFEST ? "its signature" : "a manifest that lists it");
    } else if (o == O_FAILED) {
        finished = fail_file(&j, err.msg);
    } else if (o == O_GONE) {
        replay_info("%s is not there (loaded after another message?): acknowledged", j.path);
        lworker_trust_forget(&j);
    } else if (o == O_BUSY) {
        replay_info("%s is being loaded by another worker: acknowledged", j.path);
    } else if (o == O_BAD) {
        replay_error("Refusing the message for %s: %s", j.path, err.msg);
    }
    close_job(&j);
    if (o == O_STOP || !finished)
        return REPLAY_ECANCELED; /* held: the next start delivers it again */
    return settle(r, item, o, err.msg);
}

static int handle_item(void *ctx, struct replay_queue_item *item)
{
    struct lworker_run *r = ctx;
    r->touched_ms = replay_now_ms();
    return handle(r, item);
}

static int process_loop(struct lworker_run *r)
{
    return replay_service_consume(r->consumer, POP_WAIT_MS, r->cancel, handle_item, r, "file");
}

static int open_all(struct lworker_run *r, struct replay_err *err)
{
    const struct replay_config *cfg = r->slot->cfg;
    char id[REPLAY_QUEUE_CONSUMER_ID_MAX + 1];
    int code = replay_queue_consumer_id("loader-worker", r->slot->index, id, sizeof(id), err);
    if (code == 0)
        code = replay_service_client(&cfg->loader.client, r->cancel, &r->client, err);
    if (code == 0)
        code = replay_service_redis(cfg, false, "queues", r->cancel, &r->q, err);
    if (code == 0)
        code = replay_queue_consumer_open(r->q, REPLAY_QUEUE_FILE, id, &r->consumer, err);
    if (code == 0 && r->slot->trust->on)
        code = replay_service_redis(cfg, true, "audit", r->cancel, &r->audit, err);
    return code;
}

int lworker_thread(void *arg, const struct replay_cancel *cancel)
{
    struct lworker_run r = {.slot = arg, .cancel = cancel};
    struct replay_err err = {0};
    replay_backoff_init(&r.backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    int code = open_all(&r, &err);
    if (code == 0)
        code = process_loop(&r);
    else if (code != REPLAY_ECANCELED)
        replay_error("Cannot start the file processor: %s", err.msg);
    replay_queue_consumer_close(r.consumer);
    replay_queue_close(r.q);
    replay_queue_close(r.audit);
    replay_alclient_close(r.client);
    return code == REPLAY_ECANCELED ? 0 : code;
}
