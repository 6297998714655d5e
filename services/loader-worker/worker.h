/* replay-loader-worker: imports each queued bundle or export into the target
 * (upstream-behaviour.md §5, with the fixes of decisions.md §6, §10, §11).
 * `input_threads` threads "File processor #<i>", each a reliable consumer of
 * replay_file:
 *   process.c  a message: the path checked (inside input_directory), the file
 *              opened without following links or blocking, locked against a
 *              twin message, dispatched; success removes it, a permanent failure
 *              moves it to failed_directory with the reason, a passing one is
 *              tried again holding the message;
 *   bundle.c   .al_bundle: checked (common/archive), then imported;
 *   lists.c    .al_json / .al_json.cart: checked whole, then every document
 *              loaded with upstream's merge rules. */
#ifndef REPLAY_LOADER_WORKER_H
#define REPLAY_LOADER_WORKER_H

#include <stddef.h>

#include "replay/alclient.h"
#include "replay/backoff.h"
#include "replay/config.h"
#include "replay/failed.h"
#include "replay/lifecycle.h"
#include "replay/names.h"
#include "replay/queue.h"

#define LWORKER_COMPONENT "replay-loader-worker"

/* What one thread works on; borrowed from main() for the process's life. */
struct lworker_slot {
    const struct replay_config *cfg;
    unsigned index; /* 0 .. input_threads-1: the thread's number, part of its consumer id */
};

/* One thread's connections. */
struct lworker_run {
    const struct lworker_slot *slot;
    const struct replay_cancel *cancel;
    struct replay_alclient *client;
    struct replay_queue *q;
    struct replay_queue_consumer *consumer;
    struct replay_backoff backoff;
    uint64_t touched_ms; /* last liveness refresh of the consumer */
};

/* The file in hand. */
struct lworker_job {
    struct lworker_run *r;
    const char *path;           /* as queued */
    const char *base;           /* its last component */
    enum replay_names_kind kind;
    int dirfd, fd;              /* its directory and the file, open */
    unsigned attempts;          /* tries of the step that decided the outcome */
    /* documents of an export the target refused (lists.c) */
    struct replay_failed_item *items;
    size_t n_items, items_failed, items_total;
    size_t docs_sources_changed; /* documents whose user sources went as external */
};

int lworker_thread(void *arg, const struct replay_cancel *cancel);

/* Checks and imports the bundle open on j->fd. 0, or the code with the reason. */
REPLAY_MUST_CHECK int lworker_bundle(struct lworker_job *j, struct replay_err *err);

/* Checks the export open on j->fd, then loads every document. A document the
 * target refuses does not stop the others: the file then fails with
 * REPLAY_EHTTP, the reason, and the list in j->items. */
REPLAY_MUST_CHECK int lworker_lists(struct lworker_job *j, struct replay_err *err);
/* Frees j->items. */
void lworker_lists_clear(struct lworker_job *j);

/* Refreshes the consumer's liveness record during long work (at most once a
 * minute), so the message is not taken back from a thread that is busy. */
void lworker_touch(struct lworker_run *r);

#endif
