/*
 * queue: the replay queues and checkpoints behind /api/v4/replay/queue/ and
 * /api/v4/replay/checkpoint/, kept under <data>/queues/ so they survive a restart.
 *
 * Seven FIFO queues (alert, submission, badlist, safelist, signature, workflow,
 * file) hold compact JSON texts. Each queue has an append-only log
 * (queues/<type>.log: "+<json>" per push, "-" per pop), replayed and compacted
 * at open and compacted again when it grows past twice the queue length.
 * Checkpoints are one JSON object, queues/checkpoints.json, rewritten atomically.
 *
 * Pops wait on a condition variable; alsim_queues_stop() wakes every waiter and
 * makes later pops return at once (shutdown). Thread-safe.
 */
#ifndef ALSIM_QUEUE_H
#define ALSIM_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

enum alsim_qtype {
    ALSIM_Q_ALERT,
    ALSIM_Q_SUBMISSION,
    ALSIM_Q_BADLIST,
    ALSIM_Q_SAFELIST,
    ALSIM_Q_SIGNATURE,
    ALSIM_Q_WORKFLOW,
    ALSIM_Q_FILE,
    ALSIM_Q_COUNT
};

struct alsim_queues;

const char *alsim_qtype_name(enum alsim_qtype t);
/* Queue type by name, or -1. */
int alsim_qtype_from_name(const char *name);

int alsim_queues_open(const char *data_dir, struct alsim_queues **out, char err[ALSIM_ERRLEN]);
void alsim_queues_close(struct alsim_queues *q);
/* Wakes all waiting pops; later pops do not wait. */
void alsim_queues_stop(struct alsim_queues *q);

/* Appends a message (compact JSON text, copied). */
int alsim_queue_push(struct alsim_queues *q, enum alsim_qtype t, const char *json_text,
                     char err[ALSIM_ERRLEN]);
/* Oldest message (malloc'd JSON text, caller frees), waiting up to timeout_ms;
 * NULL after the timeout or on stop. */
char *alsim_queue_pop(struct alsim_queues *q, enum alsim_qtype t, int64_t timeout_ms);
size_t alsim_queue_len(struct alsim_queues *q, enum alsim_qtype t);
/* All messages, oldest first, parsed (new array). */
json_t *alsim_queue_peek(struct alsim_queues *q, enum alsim_qtype t);

/* New reference to the stored checkpoint of `name`, or NULL. */
json_t *alsim_checkpoint_get(struct alsim_queues *q, const char *name);
/* Stores a checkpoint value (any JSON; the reference stays the caller's). */
int alsim_checkpoint_set(struct alsim_queues *q, const char *name, const json_t *value,
                         char err[ALSIM_ERRLEN]);
/* All checkpoints (new reference). */
json_t *alsim_checkpoints_all(struct alsim_queues *q);

#endif
