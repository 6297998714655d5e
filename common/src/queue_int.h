/*
 * queue (internal): what queue.c (Redis I/O) and queue_parse.c (pure parsing and
 * encoding) share. Not part of the public API.
 */
#ifndef REPLAY_QUEUE_INT_H
#define REPLAY_QUEUE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "replay/queue.h"

struct replay_queue_item {
    enum replay_queue_type type;
    char *raw;  /* the bytes as stored in Redis, NUL-terminated */
    size_t len; /* without the terminator */
    char *id;   /* alert_id, sid, id, or the decoded path */
    char *date; /* the type's date field, or NULL */
    /* Set by queue.c while the item is held: popped, not yet acknowledged. */
    struct replay_queue_consumer *owner;
    struct replay_queue_item *held_prev, *held_next; /* the owner's held items */
};

/* True when `id` may name a consumer: 1..REPLAY_QUEUE_CONSUMER_ID_MAX characters of
 * [A-Za-z0-9._:@-] (safe in key names, SCAN patterns and JSON without escaping). */
bool replay__queue_consumer_id_ok(const char *id);
bool replay__queue_consumer_id_char(char c);

/* Frees the fields of an item (not its owner link). */
void replay__queue_item_destroy(struct replay_queue_item *item);

#endif
