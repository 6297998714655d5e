/* creator, badlist / safelist / signature / workflow (upstream-behaviour.md §2.4,
 * decisions.md §6).
 *
 * The thread keeps a cursor, starting at the stored checkpoint (which the
 * creator-worker writes after each upload). A pass streams every document whose
 * date field is after the cursor (an exclusive lower bound: upstream's inclusive
 * one finds the last document again on every pass and never rests), queues each
 * whole document, and moves the cursor to the greatest date it saw only once the
 * pass is complete: the stream comes in the index's order, not by date, so a pass
 * cut short must be done again from the old cursor. A pass that finds nothing
 * waits EMPTY_WAIT_TIME.
 *
 * A queue Redis that loses its data (its epoch changes) loses the documents queued
 * and not yet exported, whatever their dates: the creator-worker's checkpoint (the
 * greatest date of a batch) may be past some of them. So the thread also keeps a
 * safe point, the cursor at the last moment the queue and every processing list of
 * its type were empty (everything queued before was exported), and starts again
 * from there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creator.h"
#include "replay/alclient.h"
#include "replay/backoff.h"
#include "replay/isotime.h"
#include "replay/log.h"
#include "replay/queue.h"
#include "replay/service.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 300000

struct lrun {
    const struct creator_input *in;
    enum replay_queue_type queue; /* the same value as in->type */
    const char *collection;       /* "badlist", ... */
    const char *date_field;       /* "updated", ... */
    const struct replay_cancel *cancel;
    struct replay_alclient *client;
    struct replay_queue *q;  /* queues */
    struct replay_queue *cq; /* checkpoints (persistent Redis) */
    struct replay_backoff backoff;
    char *cursor;   /* lower bound of the next pass */
    char *safe;     /* a cursor from which nothing queued can have been lost */
    char epoch[REPLAY_QUEUE_EPOCH_LEN]; /* of the queue Redis, as last seen */
    char *max_seen; /* greatest date of the pass under way */
    uint64_t queued;
};

static int set_text(char **slot, const char *value)
{
    char *c = strdup(value);
    if (c == NULL)
        return REPLAY_ENOMEM;
    free(*slot);
    *slot = c;
    return 0;
}

/* Keeps the greatest date of the pass; a date that does not parse is ignored. */
static int note_date(struct lrun *r, const char *date)
{
    int cmp = 1;
    if (date == NULL || replay_isotime_cmp_text(date, r->max_seen, &cmp, NULL) != 0 || cmp <= 0)
        return 0;
    return set_text(&r->max_seen, date);
}

struct item_ctx {
    struct lrun *r;
    struct replay_err *err;
};

static int queue_item(void *ctx, const char *json, size_t len)
{
    struct item_ctx *ic = ctx;
    struct lrun *r = ic->r;
    struct replay_queue_item *item = NULL;
    struct replay_err perr = {0};
    if (replay_queue_item_parse(r->queue, json, len, &item, &perr) != 0) {
        replay_warn("%s document without a usable id, not queued: %s", r->collection, perr.msg);
        return 0;
    }
    replay_info("Replaying %s: %s", r->collection, replay_queue_item_id(item));
    int code = note_date(r, replay_queue_item_date(item));
    if (code == 0)
        code = replay_queue_push(r->q, r->queue, json, len, ic->err);
    if (code == 0)
        r->queued++;
    replay_queue_item_free(item);
    return code;
}

/* One pass over what changed after the cursor. */
static int list_pass(struct lrun *r, struct replay_err *err)
{
    char *query = NULL;
    int n = strcmp(r->cursor, "*") == 0
                ? asprintf(&query, "%s:[* TO now]", r->date_field)
                : asprintf(&query, "%s:{%s TO now]", r->date_field, r->cursor);
    if (n < 0)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    const struct replay_string_list *fq = &r->in->cfg->creator.inputs[r->in->type].filter_queries;
    struct item_ctx ctx = {r, err};
    r->queued = 0;
    free(r->max_seen);
    r->max_seen = NULL;
    int code = replay_alclient_stream(r->client, r->collection, query,
                                      (const char *const *)fq->items, fq->count, "*,id",
                                      queue_item, &ctx, NULL, err);
    free(query);
    if (code == 0 && r->max_seen != NULL) {
        replay_info("Queued %llu %s document(s) changed after %s", (unsigned long long)r->queued,
                    r->collection, r->cursor);
        code = set_text(&r->cursor, r->max_seen);
    }
    return code;
}

/* The stored checkpoint, read again until it can be (the Redis may be down). */
static int read_checkpoint(struct lrun *r)
{
    for (;;) {
        struct replay_err err = {0};
        char *cp = NULL;
        int code = replay_queue_checkpoint_get(r->cq, r->queue, &cp, &err);
        if (code == 0) {
            free(r->cursor);
            r->cursor = cp;
            replay_info("Exporting %s documents changed after %s", r->collection, cp);
            return 0;
        }
        if (code == REPLAY_ECANCELED ||
            replay_service_pause(&r->backoff, REPLAY_LOG_ERROR, r->cancel,
                                 "Cannot read the %s checkpoint: %s", r->collection,
                                 err.msg) != 0)
            return REPLAY_ECANCELED;
    }
}

static int pause_after(struct lrun *r, int code, const char *msg)
{
    if (code == REPLAY_ECANCELED)
        return code;
    int status = replay_alclient_http_status(r->client);
    if (code == REPLAY_EHTTP && status == 400)
        return replay_service_pause(&r->backoff, REPLAY_LOG_ERROR, r->cancel,
                                    "The source refused the %s search: %s (check "
                                    "creator.%s_input.filter_queries)",
                                    r->collection, msg, r->collection);
    enum replay_verdict v = replay_service_verdict(code, status);
    return replay_service_pause(&r->backoff,
                                v == REPLAY_VERDICT_TRANSIENT ? REPLAY_LOG_WARNING
                                                              : REPLAY_LOG_ERROR,
                                r->cancel, "Cannot export the %s documents (%llu queued "
                                           "before the failure, queued again next time): %s",
                                r->collection, (unsigned long long)r->queued, msg);
}

/* Keeps the safe point, and goes back to it when the queue Redis lost its data. */
static int watch_epoch(struct lrun *r, struct replay_err *err)
{
    struct replay_queue_counts n;
    bool lost = false;
    int code = replay_queue_epoch_check(r->q, r->epoch, &lost, err);
    if (code == 0 && lost) {
        replay_warn("The queue Redis lost its data: exporting again the %s documents changed "
                    "after %s", r->collection, r->safe);
        return set_text(&r->cursor, r->safe);
    }
    if (code == 0)
        code = replay_queue_counts(r->q, r->queue, &n, err);
    if (code == 0 && n.queued == 0 && n.processing == 0 && strcmp(r->safe, r->cursor) != 0)
        code = set_text(&r->safe, r->cursor);
    return code;
}

static int lists_loop(struct lrun *r)
{
    struct replay_err first = {0};
    int code = read_checkpoint(r);
    if (code == 0)
        code = set_text(&r->safe, r->cursor);
    if (code == 0)
        code = replay_queue_epoch_check(r->q, r->epoch, &(bool){false}, &first);
    while (code == 0 && !replay_cancel_requested(r->cancel)) {
        struct replay_err err = {0};
        code = watch_epoch(r, &err);
        if (code == 0)
            code = list_pass(r, &err);
        if (code != 0) {
            code = pause_after(r, code, err.msg);
            continue;
        }
        replay_backoff_reset(&r->backoff);
        replay_progress();
        if (r->queued == 0 || r->max_seen == NULL) /* nothing moved the cursor: rest */
            code = replay_cancel_sleep_ms(r->cancel, r->in->empty_wait_s * 1000ull, true);
    }
    return code == REPLAY_ECANCELED ? 0 : code;
}

int creator_lists_thread(void *arg, const struct replay_cancel *cancel)
{
    struct lrun r = {.in = arg, .cancel = cancel};
    struct replay_err err = {0};
    r.queue = (enum replay_queue_type)r.in->type;
    r.collection = replay_queue_type_name(r.queue);
    r.date_field = replay_queue_date_field(r.queue);
    replay_backoff_init(&r.backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    int code = replay_service_client(&r.in->cfg->creator.client, cancel, &r.client, &err);
    if (code == 0)
        code = replay_service_redis(r.in->cfg, false, "queues", cancel, &r.q, &err);
    if (code == 0)
        code = replay_service_redis(r.in->cfg, true, "checkpoints", cancel, &r.cq, &err);
    if (code == 0)
        code = lists_loop(&r);
    else if (code != REPLAY_ECANCELED)
        replay_error("Cannot start the %s thread: %s", r.collection, err.msg);
    replay_queue_close(r.cq);
    replay_queue_close(r.q);
    replay_alclient_close(r.client);
    free(r.cursor);
    free(r.safe);
    free(r.max_seen);
    return code == REPLAY_ECANCELED ? 0 : code;
}
