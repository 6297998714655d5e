/* queue_consumer: the reliable consumer (decisions.md §3). Items move atomically
 * (Lua scripts, BLMOVE) into the consumer's processing list and leave it when the
 * caller acknowledges them; acknowledgements travel with the next call; the lists
 * of the consumer itself and of dead consumers go back to the queue; bad messages
 * go to :bad with the reason. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "pyjson_int.h"
#include "queue_int.h"
#include "replay/backoff.h"
#include "replay/lifecycle.h"
#include "replay/log.h"

#define ACK_BYTES (1u << 20) /* a batch of acknowledgements holds at most this many bytes */
#define TOUCH_EVERY_MS 1000  /* liveness record refreshed at most this often */

struct pending_ack {
    char *raw;
    size_t len;
};

struct replay_queue_consumer {
    struct replay_queue *q;
    enum replay_queue_type type;
    char id[REPLAY_QUEUE_CONSUMER_ID_MAX + 1];
    const char *queue_key;
    char processing_key[REPLAY__Q_KEY_MAX];
    char processing_prefix[64];
    char bad_key[REPLAY__Q_KEY_MAX];
    char consumers_key[REPLAY__Q_KEY_MAX];
    char ops_key[REPLAY__Q_KEY_MAX];
    char max[24];                    /* max_message as text, for the pop script */
    struct replay_queue_item *held;  /* handed out, not acknowledged (linked list) */
    size_t n_held;
    size_t n_leaked;                 /* freed unacknowledged: still in the processing list */
    struct pending_ack acks[REPLAY__Q_ACK_BATCH]; /* acknowledged, not yet sent */
    size_t n_acks, ack_bytes;
    bool reconcile;                  /* a BLMOVE reply may have been lost */
    long long hint;                  /* items seen left in the queue; -1 unknown */
    unsigned long generation;        /* q->generation when last reconciled */
    uint64_t last_recover, last_touch;
    uint32_t session;                /* makes operation ids unique across restarts */
    unsigned long op;
    char opid[40];
};

static void iso_now(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, size - k, ".%06ldZ", ts.tv_nsec / 1000);
}

/* The :bad header line: {"reason": ..., "consumer": ..., "time": ..., "size": N}. */
static char *bad_header(const char *consumer, const char *reason, size_t size)
{
    char when[40], clean[REPLAY_ERR_MSG_LEN];
    size_t i = 0;
    for (; reason[i] != '\0' && i + 1 < sizeof(clean); i++) /* ASCII, one line */
        clean[i] = (reason[i] >= 0x20 && reason[i] < 0x7f) ? reason[i] : '?';
    clean[i] = '\0';
    iso_now(when, sizeof(when));
    json_t *h = json_pack("{s:s, s:s, s:s, s:I}", "reason", clean, "consumer", consumer, "time",
                          when, "size", (json_int_t)size);
    char *s = h != NULL ? replay__pyjson_dumps(h, 0, NULL) : NULL;
    json_decref(h);
    return s;
}

static void consumer_keys(struct replay_queue_consumer *c)
{
    const char *k = replay_queue_key(c->type);
    c->queue_key = k;
    snprintf(c->processing_prefix, sizeof(c->processing_prefix), "%s:processing:", k);
    snprintf(c->processing_key, REPLAY__Q_KEY_MAX, "%s%s", c->processing_prefix, c->id);
    snprintf(c->bad_key, REPLAY__Q_KEY_MAX, "%s:bad", k);
    snprintf(c->consumers_key, REPLAY__Q_KEY_MAX, "%s:consumers", k);
    snprintf(c->ops_key, REPLAY__Q_KEY_MAX, "%s:ops", k);
    snprintf(c->max, sizeof(c->max), "%zu", c->q->opt.max_message);
}

static bool touch_due(const struct replay_queue_consumer *c)
{
    return replay_now_ms() - c->last_touch >= TOUCH_EVERY_MS;
}

/* Starts a consumer script: numkeys, the five keys, id, a new operation id, touch. */
static void consumer_cmd(struct replay_queue_consumer *c, struct replay__q_cmd *cmd,
                         const char *what, int script)
{
    uint64_t now = replay_now_ms();
    bool touch = touch_due(c);
    replay__q_cmd_init(cmd, what, script);
    replay__q_arg(cmd, "5");
    replay__q_arg(cmd, c->queue_key);
    replay__q_arg(cmd, c->processing_key);
    replay__q_arg(cmd, c->bad_key);
    replay__q_arg(cmd, c->consumers_key);
    replay__q_arg(cmd, c->ops_key);
    replay__q_arg(cmd, c->id);
    snprintf(c->opid, sizeof(c->opid), "%08" PRIx32 "-%lu", c->session, ++c->op);
    replay__q_arg(cmd, c->opid);
    replay__q_arg(cmd, touch ? "1" : "0");
    if (touch)
        c->last_touch = now;
}

/* Appends the pending acknowledgements (sent with this command). */
static void cmd_acks(struct replay_queue_consumer *c, struct replay__q_cmd *cmd)
{
    for (size_t i = 0; i < c->n_acks; i++)
        replay__q_argn(cmd, c->acks[i].raw, c->acks[i].len);
}

/* After a command that carried the acknowledgements succeeded. */
static void acks_sent(struct replay_queue_consumer *c, long long missing)
{
    if (missing > 0)
        replay_warn("%lld of %zu acknowledged item(s) were no longer in %s (returned to the "
                    "queue while this consumer was taken for dead, or lost by a Redis restart "
                    "without persistence): they may be processed again", missing, c->n_acks,
                    c->processing_key);
    for (size_t i = 0; i < c->n_acks; i++)
        free(c->acks[i].raw);
    c->n_acks = 0;
    c->ack_bytes = 0;
}

/* Runs a consumer script whose reply is an integer (or {integer, missing}). */
static int consumer_exec(struct replay_queue_consumer *c, struct replay__q_cmd *cmd, unsigned flags,
                         long long *result, struct replay_err *err)
{
    redisReply *r = NULL;
    int rc = replay__q_exec(c->q, cmd, flags, &r, err);
    if (rc < 0)
        return rc;
    long long value = 0, missing = 0;
    if ((rc = replay__q_expect(c->q, cmd->what, r, "i|[ii]", err)) == 0) {
        bool pair = r->type == REDIS_REPLY_ARRAY;
        value = pair ? r->element[0]->integer : r->integer;
        missing = pair ? r->element[1]->integer : 0;
    }
    freeReplyObject(r);
    if (rc == 0) {
        acks_sent(c, missing);
        if (result != NULL)
            *result = value;
    }
    return rc;
}

/* Returns the own processing list to the head of the queue (nothing may be held). */
static int return_own(struct replay_queue_consumer *c, struct replay_err *err)
{
    struct replay__q_cmd cmd;
    long long n = 0;
    consumer_cmd(c, &cmd, "return own processing list", REPLAY__QS_RETURN_OWN);
    cmd_acks(c, &cmd);
    int rc = consumer_exec(c, &cmd, REPLAY__Q_WAIT, &n, err);
    if (rc < 0)
        return rc;
    c->n_leaked = 0;
    c->reconcile = false;
    c->generation = c->q->generation;
    if (n > 0)
        replay_info("Returned %lld unacknowledged item(s) of consumer %s to %s", n, c->id,
                    c->queue_key);
    return 0;
}

/* Returns the processing lists of consumers not seen for dead_after_ms. */
static int recover_dead(struct replay_queue_consumer *c, struct replay_err *err)
{
    struct replay__q_cmd cmd;
    char dead_after[24];
    redisReply *r = NULL;
    snprintf(dead_after, sizeof(dead_after), "%u", c->q->opt.dead_after_ms);
    replay__q_cmd_init(&cmd, "recover dead consumers", REPLAY__QS_RECOVER_DEAD);
    replay__q_arg(&cmd, "3");
    replay__q_arg(&cmd, c->queue_key);
    replay__q_arg(&cmd, c->consumers_key);
    replay__q_arg(&cmd, c->ops_key);
    replay__q_arg(&cmd, c->id);
    replay__q_arg(&cmd, dead_after);
    replay__q_arg(&cmd, c->processing_prefix);
    int rc = replay__q_exec_shape(c->q, &cmd, "[ii]", &r, err);
    if (rc < 0)
        return rc;
    c->last_recover = replay_now_ms();
    if (r->element[0]->integer > 0)
        replay_warn("Returned %lld item(s) of %lld consumer(s) of %s not seen for %u s to the "
                    "queue", r->element[1]->integer, r->element[0]->integer, c->queue_key,
                    c->q->opt.dead_after_ms / 1000u);
    freeReplyObject(r);
    return 0;
}

int replay_queue_consumer_open(struct replay_queue *q, enum replay_queue_type t, const char *id,
                               struct replay_queue_consumer **out, struct replay_err *err)
{
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "consumer: no output");
    *out = NULL;
    if (q == NULL || replay_queue_key(t) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "consumer: no connection or bad queue type");
    if (!replay__queue_consumer_id_ok(id))
        return replay_err_set(err, REPLAY_EINVAL, "consumer id \"%.140s\": must be 1 to %d "
                              "characters of A-Z a-z 0-9 . _ : @ -", id == NULL ? "" : id,
                              REPLAY_QUEUE_CONSUMER_ID_MAX);
    struct replay_queue_consumer *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "consumer: out of memory");
    c->q = q;
    c->type = t;
    snprintf(c->id, sizeof(c->id), "%s", id);
    c->session = (uint32_t)(replay_now_ms() * 2654435761u) ^ (uint32_t)replay_random_u64() ^ (uint32_t)getpid();
    c->hint = -1;
    consumer_keys(c);
    int rc = return_own(c, err);
    if (rc == 0)
        rc = recover_dead(c, err);
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void unlink_held(struct replay_queue_consumer *c, struct replay_queue_item *item)
{
    if (item->held_prev != NULL)
        item->held_prev->held_next = item->held_next;
    else
        c->held = item->held_next;
    if (item->held_next != NULL)
        item->held_next->held_prev = item->held_prev;
    item->held_prev = item->held_next = NULL;
    item->owner = NULL;
    c->n_held--;
}

void replay_queue_consumer_close(struct replay_queue_consumer *c)
{
    if (c == NULL)
        return;
    while (c->held != NULL) /* they stay in the processing list for the next start */
        unlink_held(c, c->held);
    if (c->q->ctx != NULL || c->n_acks > 0) { /* one try, also during shutdown */
        struct replay__q_cmd cmd;
        struct replay_err ignored = {0};
        consumer_cmd(c, &cmd, "close consumer", REPLAY__QS_CLOSE);
        cmd_acks(c, &cmd);
        c->last_touch = 0;
        if (consumer_exec(c, &cmd, REPLAY__Q_ONCE, NULL, &ignored) < 0 && c->n_acks > 0)
            replay_warn("%zu acknowledgement(s) of %s could not be sent (%s): the items will "
                        "be delivered again", c->n_acks, c->processing_key, ignored.msg);
    }
    acks_sent(c, 0);
    free(c);
}

void replay_queue_item_free(struct replay_queue_item *item)
{
    if (item == NULL)
        return;
    if (item->owner != NULL) { /* still in the processing list: give it back soon */
        struct replay_queue_consumer *c = item->owner;
        unlink_held(c, item);
        c->n_leaked++;
    }
    replay__queue_item_destroy(item);
}

/* Moves a bad message from the processing list to :bad (by value, or the tail item
 * of length len when value is NULL), and logs why. */
static int park(struct replay_queue_consumer *c, const char *value, size_t len, const char *reason,
                struct replay_err *err)
{
    struct replay__q_cmd cmd;
    char lenbuf[24];
    long long n = 0;
    char *header = bad_header(c->id, reason, len);
    if (header == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "park a bad message: out of memory");
    snprintf(lenbuf, sizeof(lenbuf), "%zu", len);
    consumer_cmd(c, &cmd, "move a bad message to its :bad list", REPLAY__QS_PARK);
    replay__q_arg(&cmd, value != NULL ? "value" : "tail");
    if (value != NULL)
        replay__q_argn(&cmd, value, len);
    else
        replay__q_arg(&cmd, lenbuf);
    replay__q_arg(&cmd, header);
    cmd_acks(c, &cmd);
    int rc = consumer_exec(c, &cmd, REPLAY__Q_WAIT, &n, err);
    free(header);
    if (rc < 0)
        return rc;
    if (n > 0)
        replay_warn("Moved a message of %zu bytes from %s to %s: %s", len, c->queue_key,
                    c->bad_key, reason);
    else
        replay_warn("A bad message of %zu bytes was no longer in %s (returned to %s?): %s", len,
                    c->processing_key, c->queue_key, reason);
    replay_progress();
    return 0;
}

static void hold(struct replay_queue_consumer *c, struct replay_queue_item *item)
{
    item->owner = c;
    c->n_held++;
    item->held_prev = NULL;
    item->held_next = c->held;
    if (c->held != NULL)
        c->held->held_prev = item;
    c->held = item;
}

/* A message now in the processing list: hand it out, or park it. */
static int accept_message(struct replay_queue_consumer *c, const char *raw, size_t len,
                          struct replay_queue_item **out, struct replay_err *err)
{
    struct replay_err why = {0};
    char reason[REPLAY_ERR_MSG_LEN];
    if (len > c->q->opt.max_message) { /* only after a BLMOVE: the pop script checks */
        snprintf(reason, sizeof(reason), "message of %zu bytes is larger than the limit of "
                 "%zu bytes", len, c->q->opt.max_message);
        return park(c, NULL, len, reason, err);
    }
    int rc = replay_queue_item_parse(c->type, raw, len, out, &why);
    if (rc == REPLAY_ENOMEM)
        return replay_err_set(err, rc, "%s", why.msg);
    if (rc < 0)
        return park(c, raw, len, why.msg, err);
    hold(c, *out);
    return 0;
}

/* The pop script: an item in *out, else *kind says 0 empty or 1 parked. */
static int pop_nowait(struct replay_queue_consumer *c, struct replay_queue_item **out,
                      long long *kind, struct replay_err *err)
{
    struct replay__q_cmd cmd;
    char when[40];
    redisReply *r = NULL;
    iso_now(when, sizeof(when));
    consumer_cmd(c, &cmd, "pop", REPLAY__QS_POP);
    replay__q_arg(&cmd, c->max);
    replay__q_arg(&cmd, when);
    cmd_acks(c, &cmd);
    /* {0 empty, nil}, {1 parked, its size}, {2 item, the item or nil}, missing, left */
    int rc = replay__q_exec_shape(c->q, &cmd, "[i?ii]", &r, err);
    if (rc < 0)
        return rc;
    const redisReply *v = r->element[1];
    *kind = r->element[0]->integer;
    if (!replay__q_reply_is(v, *kind == 0 ? "n" : *kind == 1 ? "i" : *kind == 2 ? "S" : "")) {
        rc = replay__q_unexpected(c->q, cmd.what, r, err);
        freeReplyObject(r);
        return rc;
    }
    acks_sent(c, r->element[2]->integer);
    c->hint = r->element[3]->integer;
    if (*kind == 2 && v->type == REDIS_REPLY_STRING)
        rc = accept_message(c, v->str, v->len, out, err);
    else if (*kind == 2) /* a retried pop whose item is gone: look again */
        *kind = 1;
    else if (*kind == 1)
        replay_warn("Moved a message of %lld bytes from %s to %s: larger than the limit of %zu "
                    "bytes", v->integer, c->queue_key, c->bad_key, c->q->opt.max_message);
    freeReplyObject(r);
    return rc;
}

/* After a reconnect: a BLMOVE whose reply was lost may have moved an item nobody was
 * handed. Everything in the processing list beyond what we know of (held, freed
 * unacknowledged, acknowledgements not sent, and the tail item when `got` says one
 * was just received and is not held yet) goes back to the head of the queue. */
static int reconcile(struct replay_queue_consumer *c, bool got, struct replay_err *err)
{
    struct replay__q_cmd cmd;
    char known[24];
    long long moved = 0;
    snprintf(known, sizeof(known), "%zu", c->n_held + c->n_leaked + c->n_acks);
    consumer_cmd(c, &cmd, "reconcile the processing list", REPLAY__QS_RECONCILE);
    replay__q_arg(&cmd, known);
    replay__q_arg(&cmd, got ? "1" : "0");
    int rc = replay__q_exec_int(c->q, &cmd, &moved, err);
    if (rc < 0)
        return rc;
    c->reconcile = false;
    c->generation = c->q->generation;
    if (moved > 0)
        replay_info("Returned %lld item(s) whose delivery to %s was cut by a reconnect to %s",
                    moved, c->id, c->queue_key);
    return 0;
}

/* Reads the replies of pop_wait's round trip: acknowledgements, BLMOVE, LLEN. */
static int wait_replies(struct replay_queue_consumer *c, redisReply **r, size_t n, bool plain_lrem,
                        const char *secs, struct replay_err *err)
{
    const redisReply *ack = n == 3 ? r[0] : NULL, *len = r[n - 1];
    char what[REPLAY__Q_KEY_MAX + 64];
    snprintf(what, sizeof(what), "BLMOVE %s %s", c->queue_key, secs);
    int rc = ack != NULL ? replay__q_expect(c->q, "acknowledge", ack, "i", err) : 0;
    if (rc == 0)
        rc = replay__q_expect(c->q, what, r[n - 2], "S", err);
    if (rc == 0)
        rc = replay__q_expect(c->q, "LLEN", len, "i", err);
    if (rc < 0)
        return rc;
    if (ack != NULL) /* LREM answers how many it removed, the script how many it missed */
        acks_sent(c, plain_lrem ? (ack->integer == 0 ? 1 : 0) : ack->integer);
    c->hint = len->integer;
    return 0;
}

/* The acknowledgements sent ahead of a BLMOVE. One alone (the steady case) is a plain
 * LREM: cheaper than a script, and a repeat after a lost reply can only remove a
 * byte-identical copy, whose twin's effect is durable already. Several, or a due
 * liveness refresh, go through the script. Returns whether it is a plain LREM. */
static bool wait_acks(struct replay_queue_consumer *c, struct replay__q_cmd *cmd)
{
    if (c->n_acks == 1 && !touch_due(c)) {
        replay__q_cmd_init(cmd, "acknowledge", -1);
        replay__q_arg(cmd, "LREM");
        replay__q_arg(cmd, c->processing_key);
        replay__q_arg(cmd, "-1");
        cmd_acks(c, cmd);
        return true;
    }
    consumer_cmd(c, cmd, "acknowledge", REPLAY__QS_ACK);
    cmd_acks(c, cmd);
    return false;
}

/* Waits up to ms for an item with BLMOVE into the processing list. The pending
 * acknowledgements go first and LLEN after, in the same round trip. */
static int pop_wait(struct replay_queue_consumer *c, uint64_t ms, struct replay_queue_item **out,
                    struct replay_err *err)
{
    struct replay__q_cmd cmds[3];
    char secs[32];
    redisReply *r[3] = {NULL, NULL, NULL};
    size_t n = 0;
    unsigned long generation = c->q->generation;
    bool plain_lrem = false;
    snprintf(secs, sizeof(secs), "%" PRIu64 ".%03" PRIu64, ms / 1000u, ms % 1000u);
    if (c->n_acks > 0 || touch_due(c))
        plain_lrem = wait_acks(c, &cmds[n++]);
    replay__q_cmd_init(&cmds[n], "BLMOVE", -1);
    replay__q_arg(&cmds[n], "BLMOVE");
    replay__q_arg(&cmds[n], c->queue_key);
    replay__q_arg(&cmds[n], c->processing_key);
    replay__q_arg(&cmds[n], "LEFT");
    replay__q_arg(&cmds[n], "RIGHT");
    replay__q_arg(&cmds[n++], secs);
    replay__q_cmd_init(&cmds[n], "LLEN", -1);
    replay__q_arg(&cmds[n], "LLEN");
    replay__q_arg(&cmds[n++], c->queue_key);
    replay_idle_begin();
    int rc = replay__q_exec_n(c->q, cmds, n, REPLAY__Q_WAIT, r, err);
    replay_idle_end();
    if (rc == 0)
        rc = wait_replies(c, r, n, plain_lrem, secs, err);
    bool got = rc == 0 && r[n - 2]->type == REDIS_REPLY_STRING;
    if (c->q->generation != generation || rc < 0)
        c->reconcile = true; /* also when the replies made no sense: count again */
    if (rc == 0 && c->reconcile)
        rc = reconcile(c, got, err);
    if (got) /* in the processing list whatever happened: hand it out or park it */
        rc = rc < 0 ? rc : accept_message(c, r[n - 2]->str, r[n - 2]->len, out, err);
    for (size_t i = 0; i < n; i++)
        freeReplyObject(r[i]);
    return rc;
}

/* Before a pop: settle a cut BLMOVE; give back items freed unacknowledged; recover
 * dead consumers. */
static int housekeeping(struct replay_queue_consumer *c, struct replay_err *err)
{
    int rc = 0;
    if (c->reconcile || c->generation != c->q->generation)
        rc = reconcile(c, false, err);
    if (rc == 0 && c->n_leaked > 0 && c->n_held == 0)
        rc = return_own(c, err);
    if (rc == 0 && replay_now_ms() - c->last_recover >= c->q->opt.recover_interval_ms)
        rc = recover_dead(c, err);
    return rc;
}

/* Takes the next item: with the pop script while the queue is known to hold some
 * (a message over the limit is parked there without crossing the network), else
 * with a blocking BLMOVE in slices of wait_slice_ms. At least one try per call. */
int replay_queue_pop(struct replay_queue_consumer *c, unsigned wait_ms,
                     struct replay_queue_item **out, struct replay_err *err)
{
    if (out == NULL || c == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "pop: no consumer or output");
    *out = NULL;
    uint64_t deadline = replay_now_ms() + wait_ms;
    for (;;) {
        long long kind = 0;
        int rc = housekeeping(c, err);
        if (rc == 0 && c->hint != 0)
            rc = pop_nowait(c, out, &kind, err);
        if (rc < 0 || *out != NULL)
            return rc;
        if (kind != 0 || c->hint > 0)
            continue; /* a bad message was parked, or more came: look again at once */
        uint64_t now = replay_now_ms();
        uint64_t slice = deadline > now ? deadline - now : 1;
        if (slice > c->q->opt.wait_slice_ms)
            slice = c->q->opt.wait_slice_ms;
        if ((rc = pop_wait(c, slice, out, err)) < 0 || *out != NULL)
            return rc;
        if (c->hint == 0 && replay_now_ms() >= deadline)
            return 0;
    }
}

static int check_held(struct replay_queue_consumer *c, struct replay_queue_item *item,
                      const char *op, struct replay_err *err)
{
    if (c == NULL || item == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "%s: no consumer or item", op);
    if (item->owner != c)
        return replay_err_set(err, REPLAY_EINVAL, "%s of %s: the item is not held by consumer "
                              "%s (acknowledged already?)", op, item->id, c->id);
    return 0;
}

/* Sends the pending acknowledgements now (the batch is full). */
static int flush_acks(struct replay_queue_consumer *c, struct replay_err *err)
{
    struct replay__q_cmd cmd;
    consumer_cmd(c, &cmd, "acknowledge", REPLAY__QS_ACK);
    cmd_acks(c, &cmd);
    return consumer_exec(c, &cmd, REPLAY__Q_WAIT, NULL, err);
}

/* The pending batch holds as much as one command may carry. */
static bool acks_full(const struct replay_queue_consumer *c)
{
    return c->n_acks >= REPLAY__Q_ACK_BATCH || c->ack_bytes >= ACK_BYTES;
}

int replay_queue_ack(struct replay_queue_consumer *c, struct replay_queue_item *item,
                     struct replay_err *err)
{
    int rc = check_held(c, item, "acknowledge", err);
    if (rc < 0)
        return rc;
    /* A full batch that could not be sent before (canceled, Redis away past
     * give_up_ms, a protocol error) leaves first; if it still cannot, this item
     * stays held and unacknowledged, so the batch never outgrows acks[]. */
    if (acks_full(c) && (rc = flush_acks(c, err)) < 0)
        return rc;
    char *copy = malloc(item->len + 1);
    if (copy == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "acknowledge: out of memory");
    memcpy(copy, item->raw, item->len + 1);
    c->acks[c->n_acks++] = (struct pending_ack){copy, item->len};
    c->ack_bytes += item->len;
    unlink_held(c, item);
    replay_progress();
    if (acks_full(c)) {
        /* The acknowledgement is taken either way: a batch that cannot leave now
         * goes with the next call that reaches Redis (or at close). */
        struct replay_err later = {0};
        (void)flush_acks(c, &later);
    }
    return 0;
}

int replay_queue_release(struct replay_queue_consumer *c, struct replay_queue_item *item,
                         struct replay_err *err)
{
    struct replay__q_cmd cmd;
    long long n = 0;
    int rc = check_held(c, item, "release", err);
    if (rc < 0)
        return rc;
    consumer_cmd(c, &cmd, "release", REPLAY__QS_RELEASE);
    replay__q_argn(&cmd, item->raw, item->len);
    cmd_acks(c, &cmd);
    if ((rc = consumer_exec(c, &cmd, REPLAY__Q_WAIT, &n, err)) < 0)
        return rc;
    if (n == 0)
        replay_warn("Released %s %s, which was no longer in %s", replay_queue_type_name(c->type),
                    item->id, c->processing_key);
    unlink_held(c, item);
    replay_progress();
    return 0;
}

int replay_queue_reject(struct replay_queue_consumer *c, struct replay_queue_item *item,
                        const char *reason, struct replay_err *err)
{
    int rc = check_held(c, item, "reject", err);
    if (rc < 0)
        return rc;
    if ((rc = park(c, item->raw, item->len, reason != NULL ? reason : "rejected", err)) < 0)
        return rc;
    unlink_held(c, item);
    return 0;
}

int replay_queue_touch(struct replay_queue_consumer *c, struct replay_err *err)
{
    struct replay__q_cmd cmd;
    if (c == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "touch: no consumer");
    replay__q_cmd_init(&cmd, "touch", REPLAY__QS_TOUCH);
    replay__q_arg(&cmd, "1");
    replay__q_arg(&cmd, c->consumers_key);
    replay__q_arg(&cmd, c->id);
    int rc = replay__q_exec_int(c->q, &cmd, NULL, err);
    if (rc == 0)
        c->last_touch = replay_now_ms();
    return rc;
}
