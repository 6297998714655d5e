/* creator-worker, badlist / safelist / signature / workflow exports
 * (upstream-behaviour.md §3.3, with the fixes of decisions.md §6).
 *
 * The thread holds the documents it pops (they stay in its processing list) until
 * REPLAY_BATCH_SIZE of them, or a byte cap, or the queue has been quiet for a
 * while; then it writes them as one CaRT of a JSON array (json.dumps's form: the
 * queued texts joined by ", ") into a private file of the working directory,
 * uploads it as <collection>_<time>.al_json.cart, advances the checkpoint to the
 * greatest date of the batch (after the upload, never backwards), acknowledges
 * every document and starts an empty batch. A crash before the acknowledgements
 * delivers the documents again: they are exported twice, never lost. With
 * manifests on (manifest.c), the uploaded file is hashed and recorded, with its
 * documents' ids, before the checkpoint moves. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/backoff.h"
#include "replay/cart.h"
#include "replay/filestore.h"
#include "replay/isotime.h"
#include "replay/log.h"
#include "replay/names.h"
#include "replay/queue.h"
#include "replay/service.h"
#include "replay/trust.h"
#include "worker.h"

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 60000
/* A batch is uploaded before its documents exceed this, whatever their number:
 * the documents are held in memory until the upload. */
#define BATCH_MAX_BYTES (32u << 20)

struct xrun {
    const struct cworker_slot *slot;
    enum replay_queue_type queue;
    const char *collection;
    const struct replay_cancel *cancel;
    struct replay_filestore *fs;
    struct replay_queue *q;  /* queues */
    struct replay_queue *cq; /* checkpoints, and manifest records */
    struct replay_queue *pq; /* cq when manifests are on, else NULL */
    struct replay_queue_consumer *consumer;
    struct replay_backoff backoff;
    struct replay_queue_item **items; /* the batch: held, not yet acknowledged */
    size_t n_items;
    size_t bytes;
    const char *max_date; /* greatest date of the batch (points into an item) */
};

/* ---- writing the batch ---- */

static int write_all(void *ctx, const void *buf, size_t len, struct replay_err *err)
{
    int fd = *(int *)ctx;
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return replay_err_sys(err, REPLAY_EIO, errno, "write the export file");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The CaRT of "[" item ", " item ... "]", as upstream's json.dumps(batch). */
static int write_batch(struct xrun *r, int fd, struct replay_err *err)
{
    struct replay_cart_enc_opts o = {.cancel = r->cancel};
    struct replay_cart_enc *enc = NULL;
    int code = replay_cart_enc_new(&o, write_all, &fd, &enc, err);
    for (size_t i = 0; code == 0 && i < r->n_items; i++) {
        size_t len = 0;
        const char *json = replay_queue_item_json(r->items[i], &len);
        code = replay_cart_enc_write(enc, i == 0 ? "[" : ", ", i == 0 ? 1 : 2, err);
        if (code == 0)
            code = replay_cart_enc_write(enc, json, len, err);
    }
    if (code == 0)
        code = replay_cart_enc_write(enc, r->n_items == 0 ? "[]" : "]", r->n_items == 0 ? 2 : 1,
                                     err);
    if (code == 0)
        code = replay_cart_enc_finish(enc, err);
    replay_cart_enc_free(enc);
    return code;
}

/* ---- uploading it ---- */

struct upload {
    struct xrun *r;
    const char *path;
    char name[REPLAY_NAMES_LEN];
    char sha256[REPLAY_TRUST_SHA256_HEX_LEN]; /* with manifests: of the file */
    uint64_t size;
};

static int step_upload(void *ctx, int *status, struct replay_err *err)
{
    struct upload *u = ctx;
    (void)status;
    for (;;) {
        struct replay_isotime now;
        enum replay_filestore_outcome outcome;
        replay_isotime_now(&now);
        int code = replay_names_batch(u->r->slot->type, &now, u->name, sizeof(u->name), err);
        if (code == 0)
            code = replay_filestore_upload(u->r->fs, u->path, u->name, &outcome, err);
        /* A name taken in the same microsecond (another worker): take the next one. */
        if (code != 0 || outcome != REPLAY_FILESTORE_SKIPPED_EXISTS)
            return code;
    }
}

/* Records the uploaded export for the next manifest, with its documents' ids. */
static int step_record(void *ctx, int *status, struct replay_err *err)
{
    struct upload *u = ctx;
    struct xrun *r = u->r;
    (void)status;
    const char **ids = calloc(r->n_items + 1, sizeof(*ids));
    if (ids == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "record %s: out of memory", u->name);
    for (size_t i = 0; i < r->n_items; i++)
        ids[i] = replay_queue_item_id(r->items[i]);
    int code = cworker_manifest_record(r->slot->manifest, r->pq, u->name, u->size, u->sha256,
                                       r->slot->type, ids, r->n_items, err);
    free(ids);
    return code;
}

/* The sha256 of the local export file, before it goes. */
static int hash_file(struct upload *u, struct replay_err *err)
{
    int fd = open(u->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "open %s", u->path);
    int code = replay_trust_sha256_fd(fd, u->sha256, &u->size, err);
    close(fd);
    return code;
}

static int step_checkpoint(void *ctx, int *status, struct replay_err *err)
{
    struct xrun *r = ctx;
    (void)status;
    return replay_queue_checkpoint_advance(r->cq, r->queue, r->max_date, NULL, err);
}

static void release_batch(struct xrun *r)
{
    for (size_t i = 0; i < r->n_items; i++)
        replay_queue_item_free(r->items[i]);
    r->n_items = 0;
    r->bytes = 0;
    r->max_date = NULL;
}

static int ack_batch(struct xrun *r)
{
    for (size_t i = 0; i < r->n_items; i++) {
        struct replay_err err = {0};
        int code = replay_queue_ack(r->consumer, r->items[i], &err);
        if (code != 0) {
            replay_error("Cannot acknowledge %s %s: %s", r->collection,
                         replay_queue_item_id(r->items[i]), err.msg);
            return code;
        }
    }
    return 0;
}

/* Writes, uploads and checkpoints the batch, then acknowledges it. */
static int flush(struct xrun *r)
{
    struct replay_err err = {0};
    struct upload u = {.r = r};
    char tmp[PATH_MAX];
    int fd = -1;
    int code = cworker_work_tmpfile(r->slot->cfg->creator.working_directory, r->collection, tmp,
                                    sizeof(tmp), &fd, &err);
    if (code == 0) {
        code = write_batch(r, fd, &err);
        close(fd);
        u.path = tmp;
        if (code == 0)
            code = replay_service_retry(&r->backoff, r->cancel, step_upload, &u,
                                        "upload an export", &err);
        if (code == 0 && r->pq != NULL && !replay_filestore_read_only(r->fs))
            code = hash_file(&u, &err);
        unlink(tmp);
    }
    if (code == 0 && r->pq != NULL && !replay_filestore_read_only(r->fs))
        code = replay_service_retry(&r->backoff, r->cancel, step_record, &u,
                                    "record an export for the manifest", &err);
    if (code == 0 && r->max_date != NULL)
        code = replay_service_retry(&r->backoff, r->cancel, step_checkpoint, r,
                                    "advance the checkpoint", &err);
    if (code == 0) {
        replay_info("Exported %zu %s document(s) as %s", r->n_items, r->collection, u.name);
        code = ack_batch(r);
    } else if (code != REPLAY_ECANCELED) {
        replay_error("Cannot export %zu %s document(s) (kept for the next try): %s",
                     r->n_items, r->collection, err.msg);
    }
    release_batch(r);
    return code;
}

/* ---- collecting ---- */

static void add_item(struct xrun *r, struct replay_queue_item *item)
{
    size_t len = 0;
    const char *date = replay_queue_item_date(item);
    int cmp = 1;
    (void)replay_queue_item_json(item, &len);
    replay_info("Processing %s: %s", r->collection, replay_queue_item_id(item));
    r->items[r->n_items++] = item;
    r->bytes += len;
    if (date != NULL && replay_isotime_cmp_text(date, r->max_date, &cmp, NULL) == 0 && cmp > 0)
        r->max_date = date;
}

static int batches_loop(struct xrun *r)
{
    int code = 0;
    while (code == 0) {
        struct replay_queue_item *item = NULL;
        struct replay_err err = {0};
        code = replay_queue_pop(r->consumer, r->slot->quiet_ms, &item, &err);
        if (code == 0 && item != NULL)
            add_item(r, item);
        bool full = r->n_items >= r->slot->batch_size || r->bytes >= BATCH_MAX_BYTES;
        if (code == 0 && r->n_items > 0 && (full || item == NULL))
            code = flush(r);
        else if (code != 0 && code != REPLAY_ECANCELED)
            replay_error("Cannot take the next %s document from the queue: %s", r->collection,
                         err.msg);
        replay_progress();
    }
    release_batch(r); /* held items go back to the queue at the next start */
    return code;
}

static int open_all(struct xrun *r, struct replay_err *err)
{
    const struct replay_config *cfg = r->slot->cfg;
    char id[REPLAY_QUEUE_CONSUMER_ID_MAX + 1], component[48];
    struct replay_filestore_opts fo = {.cancel = r->cancel};
    snprintf(component, sizeof(component), "creator-worker-%s", r->collection);
    r->items = calloc(r->slot->batch_size, sizeof(*r->items));
    if (r->items == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    int code = replay_queue_consumer_id(component, r->slot->index, id, sizeof(id), err);
    if (code == 0)
        code = replay_filestore_open(cfg->creator.output_filestore, &fo, &r->fs, err);
    if (code == 0)
        code = replay_service_redis(cfg, false, "queues", r->cancel, &r->q, err);
    if (code == 0)
        code = replay_service_redis(cfg, true, "checkpoints", r->cancel, &r->cq, err);
    if (code == 0 && r->slot->manifest != NULL)
        r->pq = r->cq;
    if (code == 0)
        code = replay_queue_consumer_open(r->q, r->queue, id, &r->consumer, err);
    return code;
}

int cworker_batches_thread(void *arg, const struct replay_cancel *cancel)
{
    struct xrun r = {.slot = arg, .cancel = cancel};
    struct replay_err err = {0};
    r.queue = (enum replay_queue_type)r.slot->type;
    r.collection = replay_queue_type_name(r.queue);
    replay_backoff_init(&r.backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    int code = open_all(&r, &err);
    if (code == 0)
        code = batches_loop(&r);
    else if (code != REPLAY_ECANCELED)
        replay_error("Cannot start the %s worker: %s", r.collection, err.msg);
    replay_queue_consumer_close(r.consumer);
    replay_queue_close(r.cq);
    replay_queue_close(r.q);
    replay_filestore_close(r.fs);
    free(r.items);
    return code == REPLAY_ECANCELED ? 0 : code;
}
