/* creator, alerts and submissions (upstream-behaviour.md §2.2-§2.3).
 *
 * At start the documents left `pending` by an earlier run are queued again (their
 * messages may never have reached the queue), except those whose message is still
 * queued or held by a worker (upstream queues those twice). Then, page by page in date order:
 * search the next 100 documents that are neither pending nor done, mark exactly
 * those pending (by id, where upstream marks a date range and can catch documents
 * it did not queue), queue them, and move the lower bound to the last date. A
 * search that finds nothing resets the bound to lookback_time and waits
 * EMPTY_WAIT_TIME. Errors are logged and backed off; nothing is skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creator.h"
#include "replay/alclient.h"
#include "replay/backoff.h"
#include "replay/log.h"
#include "replay/queue.h"
#include "replay/service.h"

#define PAGE_ROWS 100
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 300000
#define IN_FLIGHT_MAX 500000 /* messages read to skip at recovery (~15 MB of ids at most) */

/* What differs between alerts and submissions. */
struct kind {
    enum replay_queue_type queue;
    const char *index;
    const char *id_field;
    const char *date_field;
    const char *fl;
    char lower; /* '{' excludes the bound (alerts), '[' includes it (submissions) */
};

static const struct kind alert_kind = {REPLAY_QUEUE_ALERT, "alert", "alert_id", "reporting_ts",
                                       "alert_id,reporting_ts", '{'};
static const struct kind submission_kind = {REPLAY_QUEUE_SUBMISSION, "submission", "sid",
                                            "times.completed", "sid,times.completed", '['};

static const char *const state_filters[] = {"NOT metadata.replay:pending",
                                            "NOT metadata.replay:done"};
#define N_STATE_FILTERS 2

/* One thread's state. */
struct run {
    const struct creator_input *in;
    const struct kind *k;
    const struct replay_cancel *cancel;
    struct replay_alclient *client;
    struct replay_queue *q;
    struct replay_backoff backoff;
    const char **filters; /* the input's filter_queries, then state_filters */
    size_t n_filters;
    char *cursor; /* lower bound of the next search */
    char epoch[REPLAY_QUEUE_EPOCH_LEN]; /* of the queue Redis, as last seen */
};

static const char *input_key(const struct run *r)
{
    return r->in->type == REPLAY_INPUT_ALERT ? "alert_input" : "submission_input";
}

/* Queues one document, as upstream's message (for submissions, only sid and
 * times.completed, whatever else the search item carried: B8). */
static int queue_document(struct run *r, const char *id, const char *date,
                          struct replay_err *err)
{
    replay_info("Replaying %s: %s", r->k->index, id);
    if (r->k->queue == REPLAY_QUEUE_ALERT)
        return replay_queue_push_alert(r->q, id, date, err);
    return replay_queue_push_submission(r->q, id, date, err);
}

/* ---- recovery of pending documents ---- */

struct recover_ctx {
    struct run *r;
    struct replay_queue_idset *in_flight; /* NULL: queue them all */
    uint64_t skipped;
    struct replay_err *err;
};

static int recover_item(void *ctx, const char *json, size_t len)
{
    struct recover_ctx *rc = ctx;
    struct replay_queue_item *item = NULL;
    struct replay_err perr = {0};
    if (replay_queue_item_parse(rc->r->k->queue, json, len, &item, &perr) != 0) {
        replay_warn("Pending %s without a usable id, not queued: %s", rc->r->k->index, perr.msg);
        return 0;
    }
    int code = 0;
    if (replay_queue_idset_has(rc->in_flight, replay_queue_item_id(item)))
        rc->skipped++;
    else
        code = queue_document(rc->r, replay_queue_item_id(item), replay_queue_item_date(item),
                              rc->err);
    replay_queue_item_free(item);
    return code;
}

/* The ids whose message is still queued or held by a worker, read before the
 * search for pending documents: a document marked done after this read is not
 * pending any more, one queued after it is the creator's own (not yet). NULL when
 * they cannot be read: then every pending document is queued again. */
static struct replay_queue_idset *in_flight(struct run *r)
{
    struct replay_queue_idset *s = NULL;
    struct replay_err err = {0};
    if (replay_queue_in_flight(r->q, r->k->queue, IN_FLIGHT_MAX, &s, &err) != 0 &&
        err.code != REPLAY_ECANCELED)
        replay_warn("Cannot tell which pending %ss are still queued, so all are queued again "
                    "(some will be bundled twice): %s", r->k->index, err.msg);
    return s;
}

/* Queues again every document left pending whose message is not still on its way
 * (upstream's start-up recovery, without the duplicates). */
static int recover_pending(struct run *r)
{
    for (;;) {
        struct replay_err err = {0};
        struct recover_ctx ctx = {r, in_flight(r), 0, &err};
        uint64_t n = 0;
        int code = replay_alclient_stream(r->client, r->k->index, "metadata.replay:pending",
                                          NULL, 0, r->k->fl, recover_item, &ctx, &n, &err);
        replay_queue_idset_free(ctx.in_flight);
        if (code == 0) {
            if (n > 0)
                replay_info("Queued again %llu %s(s) left pending by an earlier run (%llu still "
                            "queued left alone)", (unsigned long long)(n - ctx.skipped),
                            r->k->index, (unsigned long long)ctx.skipped);
            replay_backoff_reset(&r->backoff);
            return 0;
        }
        if (code == REPLAY_ECANCELED ||
            replay_service_pause(&r->backoff, REPLAY_LOG_WARNING, r->cancel,
                                 "Cannot queue again the pending %ss (%llu done): %s",
                                 r->k->index, (unsigned long long)n, err.msg) != 0)
            return REPLAY_ECANCELED;
    }
}

/* ---- one page ---- */

/* Appends s to the Lucene list as a quoted term ("..." with \ and " escaped). */
static void append_quoted(char **p, const char *s)
{
    *(*p)++ = '"';
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            *(*p)++ = '\\';
        *(*p)++ = *s;
    }
    *(*p)++ = '"';
}

/* `<id_field>:("a" OR "b" ...)` for the documents of a page. */
static char *ids_query(const struct kind *k, struct replay_queue_item *const *items, size_t n)
{
    size_t size = strlen(k->id_field) + 4;
    for (size_t i = 0; i < n; i++)
        size += 2 * strlen(replay_queue_item_id(items[i])) + 6;
    char *q = malloc(size), *p = q;
    if (q == NULL)
        return NULL;
    p += sprintf(p, "%s:(", k->id_field);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            p += sprintf(p, " OR ");
        append_quoted(&p, replay_queue_item_id(items[i]));
    }
    strcpy(p, ")");
    return q;
}

/* Marks the page's documents pending, queues them, and moves the cursor. */
static int take_page(struct run *r, struct replay_queue_item *const *items, size_t n,
                     struct replay_err *err)
{
    char *query = ids_query(r->k, items, n);
    if (query == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    long long marked = 0;
    int code = replay_alclient_set_bulk_pending(r->client, r->k->index, query, r->filters,
                                                r->n_filters, (long long)n, &marked, err);
    free(query);
    if (code != 0)
        return code;
    if (marked != (long long)n)
        replay_debug("Marked %lld of %zu %ss pending (the others changed meanwhile)", marked, n,
                     r->k->index);
    for (size_t i = 0; i < n; i++) {
        code = queue_document(r, replay_queue_item_id(items[i]), replay_queue_item_date(items[i]),
                              err);
        if (code != 0)
            return code; /* the rest stay pending: the next start queues them */
    }
    const char *last = replay_queue_item_date(items[n - 1]);
    if (last != NULL) {
        char *c = strdup(last);
        if (c == NULL)
            return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
        free(r->cursor);
        r->cursor = c;
    }
    return 0;
}

/* Parses the page's items; an item without an id is logged and left out. */
static size_t parse_page(struct run *r, const struct replay_alclient_page *page,
                         struct replay_queue_item **items)
{
    size_t n = 0;
    for (size_t i = 0; i < page->n_items; i++) {
        struct replay_err perr = {0};
        if (replay_queue_item_parse(r->k->queue, page->items[i], strlen(page->items[i]),
                                    &items[n], &perr) == 0)
            n++;
        else
            replay_warn("Search item of %s without a usable id, not queued: %s", r->k->index,
                        perr.msg);
    }
    return n;
}

/* One search page. *found gets how many usable documents it returned (items
 * without an id are logged and left behind: they must not make the loop spin). */
static int page_pass(struct run *r, size_t *found, struct replay_err *err)
{
    char *query = NULL, *sort = NULL;
    *found = 0;
    if (asprintf(&query, "%s:%c%s TO now]", r->k->date_field, r->k->lower, r->cursor) < 0 ||
        asprintf(&sort, "%s asc", r->k->date_field) < 0) {
        free(query);
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    }
    struct replay_alclient_search s = {.query = query, .filters = r->filters,
                                       .n_filters = r->n_filters, .fl = r->k->fl, .sort = sort,
                                       .offset = 0, .rows = PAGE_ROWS};
    struct replay_alclient_page page;
    struct replay_queue_item **items = NULL;
    int code = replay_alclient_search(r->client, r->k->index, &s, &page, err);
    if (code == 0 && page.n_items > 0) {
        items = calloc(page.n_items, sizeof(*items));
        if (items == NULL)
            code = replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    }
    if (items != NULL) {
        *found = parse_page(r, &page, items);
        if (*found > 0)
            code = take_page(r, items, *found, err);
        for (size_t i = 0; i < *found; i++)
            replay_queue_item_free(items[i]);
    }
    free(items);
    replay_alclient_page_clear(&page);
    free(query);
    free(sort);
    return code;
}

/* After a failed pass: log with the advice that fits, and back off. */
static int pause_after(struct run *r, int code, const char *msg)
{
    if (code == REPLAY_ECANCELED)
        return code;
    int status = replay_alclient_http_status(r->client);
    if (code == REPLAY_EHTTP && status == 400)
        return replay_service_pause(&r->backoff, REPLAY_LOG_ERROR, r->cancel,
                                    "The source refused the %s search: %s (check "
                                    "creator.%s.filter_queries and creator.lookback_time)",
                                    r->k->index, msg, input_key(r));
    enum replay_verdict v = replay_service_verdict(code, status);
    return replay_service_pause(&r->backoff,
                                v == REPLAY_VERDICT_TRANSIENT ? REPLAY_LOG_WARNING
                                                              : REPLAY_LOG_ERROR,
                                r->cancel, "Cannot find the next %ss: %s", r->k->index, msg);
}

static int reset_cursor(struct run *r)
{
    char *c = strdup(r->in->cfg->creator.lookback_time);
    if (c == NULL)
        return REPLAY_ENOMEM;
    free(r->cursor);
    r->cursor = c;
    return 0;
}

/* A queue Redis that lost its data (its epoch changed) lost the messages of the
 * documents marked pending: queue them again. */
static int watch_epoch(struct run *r, struct replay_err *err)
{
    bool lost = false;
    int code = replay_queue_epoch_check(r->q, r->epoch, &lost, err);
    if (code == 0 && lost) {
        replay_warn("The queue Redis lost its data: queueing again the %ss left pending",
                    r->k->index);
        code = recover_pending(r);
    }
    return code;
}

static int documents_loop(struct run *r)
{
    struct replay_err first = {0};
    int code = replay_queue_epoch_check(r->q, r->epoch, &(bool){false}, &first);
    if (code == 0)
        code = recover_pending(r);
    if (code == 0)
        code = reset_cursor(r);
    while (code == 0 && !replay_cancel_requested(r->cancel)) {
        struct replay_err err = {0};
        size_t found = 0;
        code = watch_epoch(r, &err);
        if (code == 0)
            code = page_pass(r, &found, &err);
        if (code != 0) {
            code = pause_after(r, code, err.msg);
            continue;
        }
        replay_backoff_reset(&r->backoff);
        replay_progress();
        if (found == 0) { /* nothing new: start over from lookback_time after a wait */
            code = reset_cursor(r);
            if (code == 0)
                code = replay_cancel_sleep_ms(r->cancel, r->in->empty_wait_s * 1000ull, true);
        }
    }
    return code == REPLAY_ECANCELED ? 0 : code;
}

/* The input's filter_queries followed by the two state filters. */
static int build_filters(struct run *r)
{
    const struct replay_string_list *fq = &r->in->cfg->creator.inputs[r->in->type].filter_queries;
    r->filters = calloc(fq->count + N_STATE_FILTERS, sizeof(*r->filters));
    if (r->filters == NULL)
        return REPLAY_ENOMEM;
    for (size_t i = 0; i < fq->count; i++)
        r->filters[r->n_filters++] = fq->items[i];
    for (size_t i = 0; i < N_STATE_FILTERS; i++)
        r->filters[r->n_filters++] = state_filters[i];
    return 0;
}

int creator_documents_thread(void *arg, const struct replay_cancel *cancel)
{
    struct run r = {.in = arg, .cancel = cancel};
    struct replay_err err = {0};
    r.k = r.in->type == REPLAY_INPUT_ALERT ? &alert_kind : &submission_kind;
    replay_backoff_init(&r.backoff, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
    int code = build_filters(&r);
    if (code == 0)
        code = replay_service_client(&r.in->cfg->creator.client, cancel, &r.client, &err);
    if (code == 0)
        code = replay_service_redis(r.in->cfg, false, "queues", cancel, &r.q, &err);
    if (code == 0)
        code = documents_loop(&r);
    else if (code != REPLAY_ECANCELED)
        replay_error("Cannot start the %s thread: %s", r.k->index, err.msg);
    replay_queue_close(r.q);
    replay_alclient_close(r.client);
    free(r.filters);
    free(r.cursor);
    return code == REPLAY_ECANCELED ? 0 : code;
}
