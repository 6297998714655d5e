/* creator-worker, alerts and submissions (upstream-behaviour.md §3.2).
 *
 * Per message: the bundle name (an id unsafe in a file name is rejected to the
 * :bad list, never used in a path); if the output store already has it (a repeat,
 * or "the first bundle wins"), nothing is downloaded; else the source's bundle is
 * streamed into the store as it downloads, without a local copy (the store shows
 * it under its final name only once whole: replay_filestore_upload_stream); then
 * the document is marked done, and only then is the message acknowledged. A document the source no longer
 * has is logged, counted and acknowledged. Passing failures are retried with
 * back-off, holding the message; a crash at any point delivers it again.
 * With manifests on (manifest.c), the bundle is hashed as it streams (or read
 * back from the store when an earlier try put it there) and recorded before the
 * document is marked done. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "replay/alclient.h"
#include "replay/backoff.h"
#include "replay/filestore.h"
#include "replay/log.h"
#include "replay/names.h"
#include "replay/queue.h"
#include "replay/service.h"
#include "replay/trust.h"
#include "worker.h"

#define POP_WAIT_MS 5000
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 60000

struct brun {
    const struct cworker_slot *slot;
    const char *index; /* "alert" or "submission" */
    const struct replay_cancel *cancel;
    struct replay_alclient *client;
    struct replay_filestore *fs;
    struct replay_queue *q;
    struct replay_queue *pq; /* the persistent Redis, for manifest records (or NULL) */
    struct replay_queue_consumer *consumer;
    struct replay_backoff backoff;
};

/* The item in hand and the steps done on it. */
struct job {
    struct brun *r;
    const char *id;
    char name[REPLAY_NAMES_LEN];
    bool exists;   /* the output store had the bundle already */
    bool gone;     /* the source no longer has the document */
    /* the download of the last try, as the producer of the stream saw it */
    bool dl_failed;
    int dl_status;
    uint64_t bytes;
    /* with manifests: what went into the store */
    char sha256[REPLAY_TRUST_SHA256_HEX_LEN];
    uint64_t size;
};

/* The producer of the streamed upload: the source's bundle, written into the
 * store's descriptor as it arrives. */
static int produce_bundle(void *ctx, int fd, struct replay_err *err)
{
    struct job *j = ctx;
    int code = replay_alclient_bundle_download(j->r->client, j->id,
                                               j->r->slot->type == REPLAY_INPUT_ALERT, fd,
                                               &j->bytes, err);
    j->dl_status = replay_alclient_http_status(j->r->client);
    j->dl_failed = code != 0;
    return code;
}

/* The same, hashed on its way into the store (manifests on). */
static int produce_hashed(void *ctx, int fd, struct replay_err *err)
{
    struct job *j = ctx;
    return replay_trust_hash_relay(fd, produce_bundle, j, j->sha256, &j->size, err);
}

/* One try: the bundle streamed from the source into the output store, without
 * a local copy; the store checks first that the name is not there already. */
static int step_stream(void *ctx, int *status, struct replay_err *err)
{
    struct job *j = ctx;
    enum replay_filestore_outcome outcome = REPLAY_FILESTORE_UPLOADED;
    j->dl_failed = false;
    j->dl_status = 0;
    j->bytes = 0;
    int code = replay_filestore_upload_stream(j->r->fs, j->name,
                                              j->r->pq != NULL ? produce_hashed : produce_bundle,
                                              j, &outcome, err);
    *status = j->dl_failed ? j->dl_status : 0; /* the verdict of the side that failed */
    if (code == REPLAY_ENOTFOUND && j->dl_failed) {
        j->gone = true;
        replay_err_clear(err);
        return 0;
    }
    if (code == 0 && outcome == REPLAY_FILESTORE_SKIPPED_EXISTS)
        j->exists = true;
    else if (code == 0 && outcome == REPLAY_FILESTORE_SKIPPED_READ_ONLY)
        replay_warn("The output store is read-only: %s was not written", j->name);
    return code;
}

/* Records the bundle for the next manifest; one an earlier try uploaded is read
 * back from the store for its hash. */
static int step_record(void *ctx, int *status, struct replay_err *err)
{
    struct job *j = ctx;
    const struct cworker_slot *slot = j->r->slot;
    (void)status;
    int code = 0;
    if (j->exists)
        code = cworker_manifest_hash_stored(j->r->fs, slot->cfg->creator.working_directory,
                                            j->name, j->sha256, &j->size, err);
    if (code == 0)
        code = cworker_manifest_record(slot->manifest, j->r->pq, j->name, j->size, j->sha256,
                                       slot->type, &j->id, 1, err);
    return code;
}

static int step_done(void *ctx, int *status, struct replay_err *err)
{
    struct job *j = ctx;
    int code = replay_alclient_set_complete(j->r->client, j->r->index, j->id, NULL, err);
    *status = replay_alclient_http_status(j->r->client);
    if (code == REPLAY_ENOTFOUND) { /* deleted since: the bundle is out, nothing to mark */
        replay_info("The source no longer has %s %s: not marked done", j->r->index, j->id);
        return 0;
    }
    return code;
}

/* Everything for one message; 0 when its effect is durable (or it is moot). */
static int bundle_item(struct job *j, struct replay_err *err)
{
    struct brun *r = j->r;
    char what[REPLAY_NAMES_LEN + 32];
    replay_info("Processing %s: %s", r->index, j->id);
    uint64_t t0 = replay_now_ms();
    snprintf(what, sizeof(what), "bundle %s", j->name);
    int code = replay_service_retry(&r->backoff, r->cancel, step_stream, j, what, err);
    if (code == 0 && j->gone) {
        replay_warn("The source no longer has %s %s (nothing to bundle): acknowledged",
                    r->index, j->id);
        return 0;
    }
    if (code == 0 && j->exists) {
        replay_info("%s is in the output store already: not bundled again", j->name);
    } else if (code == 0) {
        double s = (double)(replay_now_ms() - t0) / 1000.0;
        replay_info("Bundled %s: %.1f MB in %.2f s (%.1f MB/s)", j->name,
                    (double)j->bytes / 1e6, s, s > 0 ? (double)j->bytes / 1e6 / s : 0.0);
    }
    if (code == 0 && r->pq != NULL && !replay_filestore_read_only(r->fs)) {
        snprintf(what, sizeof(what), "record %s for the manifest", j->name);
        code = replay_service_retry(&r->backoff, r->cancel, step_record, j, what, err);
    }
    if (code == 0) {
        snprintf(what, sizeof(what), "mark %s %s done", r->index, j->id);
        code = replay_service_retry(&r->backoff, r->cancel, step_done, j, what, err);
    }
    return code;
}

/* Acknowledges, or rejects with the reason, or leaves the item held (shutdown). */
static int settle(struct brun *r, struct replay_queue_item *item, int code,
                  const struct replay_err *why)
{
    struct replay_err err = {0};
    if (code == REPLAY_ECANCELED)
        return code; /* held: the next start delivers it again */
    if (code == 0)
        code = replay_queue_ack(r->consumer, item, &err);
    else {
        replay_error("Giving up on %s %s: %s", r->index, replay_queue_item_id(item), why->msg);
        code = replay_queue_reject(r->consumer, item, why->msg, &err);
    }
    if (code != 0 && code != REPLAY_ECANCELED)
        replay_error("Cannot settle %s %s in the queue: %s", r->index,
                     replay_queue_item_id(item), err.msg);
    return code;
}

static int handle(void *ctx, struct replay_queue_item *item)
{
    struct brun *r = ctx;
    struct job j = {.r = r, .id = replay_queue_item_id(item)};
    struct replay_err err = {0};
    int code = replay_names_bundle(r->slot->type, j.id, j.name, sizeof(j.name), &err);
    if (code == 0)
        code = bundle_item(&j, &err);
    return settle(r, item, code, &err);
}

static int bundles_loop(struct brun *r)
{
    return replay_service_consume(r->consumer, POP_WAIT_MS, r->cancel, handle, r, r->index);
}

static int open_all(struct brun *r, struct replay_err *err)
{
    const struct replay_config *cfg = r->slot->cfg;
    char id[REPLAY_QUEUE_CONSUMER_ID_MAX + 1], component[48];
    struct replay_filestore_opts fo = {.cancel = r->cancel};
    snprintf(component, sizeof(component), "creator-worker-%s", r->index);
    int code = replay_queue_consumer_id(component, r->slot->index, id, sizeof(id), err);
    if (code == 0)
        code = replay_service_client(&cfg->creator.client, r->cancel, &r->client, err);
    if (code == 0)
        code = replay_filestore_open(cfg->creator.output_filestore, &fo, &r->fs, err);
    if (code == 0)
        code = replay_service_redis(cfg, false, "queues", r->cancel, &r->q, err);
    if (code == 0 && r->slot->manifest != NULL)
        code = replay_service_redis(cfg, true, "manifests", r->cancel, &r->pq, err);
    if (code == 0)
        code = replay_queue_consumer_open(r->q, (enum replay_queue_type)r->slot->type, id,
                                          &r->consumer, err);
    return code;
}

int cworker_bundles_thread(void *arg, const struct replay_cancel *cancel)
{
    struct brun r = {.slot = arg, .cancel = cancel};
    struct replay_err err = {0};
    r.index = replay_input_name(r.slot->type);
    replay_backoff_init(&r.backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    int code = open_all(&r, &err);
    if (code == 0)
        code = bundles_loop(&r);
    else if (code != REPLAY_ECANCELED)
        replay_error("Cannot start the %s worker: %s", r.index, err.msg);
    replay_queue_consumer_close(r.consumer);
    replay_queue_close(r.q);
    replay_queue_close(r.pq);
    replay_filestore_close(r.fs);
    replay_alclient_close(r.client);
    return code == REPLAY_ECANCELED ? 0 : code;
}
