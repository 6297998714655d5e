/*
 * queue (internal): what the files of the queue module share. Not public API.
 *
 *   queue_parse.c       names, consumer ids, message validation and encoding (pure)
 *   queue_conn.c        one Redis connection that waits out outages: commands,
 *                       pipelining, script loading, reply shapes, open/close
 *   queue_scripts.c     the Lua scripts (common/src/lua/queue_*.lua, embedded at build time)
 *   queue_push.c        producers
 *   queue_consumer.c    the reliable consumer: processing lists, acknowledgements,
 *                       recovery, :bad lists
 *   queue_checkpoint.c  checkpoints (persistent Redis)
 *   queue_manifest.c    the manifest journal (persistent Redis)
 *   queue_audit.c       the target's audit of manifests (persistent Redis)
 *   queue_audit_report.c  the audit read whole, as JSON (replay-ctl audit, the loader)
 *   queue_views.c       operator views (replay-ctl queues)
 */
#ifndef REPLAY_QUEUE_INT_H
#define REPLAY_QUEUE_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "replay/config.h"
#include "replay/queue.h"

struct replay_queue_item {
    enum replay_queue_type type;
    char *raw;  /* the bytes as stored in Redis, NUL-terminated */
    size_t len; /* without the terminator */
    char *id;   /* alert_id, sid, id, or the decoded path */
    char *date; /* the type's date field, or NULL */
    /* Set by queue_consumer.c while the item is held: popped, not yet acknowledged. */
    struct replay_queue_consumer *owner;
    struct replay_queue_item *held_prev, *held_next; /* the owner's held items */
};

/* True when `id` may name a consumer: 1..REPLAY_QUEUE_CONSUMER_ID_MAX characters of
 * [A-Za-z0-9._:@-] (safe in key names, SCAN patterns and JSON without escaping). */
bool replay__queue_consumer_id_ok(const char *id);
/* The field of a queue's JSON object messages that holds the document's id
 * (alert_id, sid, id); NULL for the file queue, whose messages are strings. */
const char *replay__queue_id_field(enum replay_queue_type t);
bool replay__queue_consumer_id_char(char c);

/* Frees the fields of an item (not its owner link). */
void replay__queue_item_destroy(struct replay_queue_item *item);

/* ---- the audit (queue_audit.c) ---- */

/* "replay_audit:<what>" or, with a source (checked), "replay_audit:<source>:<what>". */
REPLAY_MUST_CHECK int replay__queue_audit_key(const char *source, const char *what, char *buf,
                                              size_t size, struct replay_err *err);
/* A promise's entry JSON ({"source", "sequence", "size", ...}) into out. */
REPLAY_MUST_CHECK int replay__queue_audit_entry(const char *json,
                                                struct replay_queue_audit_promise *out,
                                                struct replay_err *err);

/* ---- Lua scripts: every move between lists is one of these, so it is atomic ---- */

enum replay__q_script {
    REPLAY__QS_POP, REPLAY__QS_PARK, REPLAY__QS_ACK, REPLAY__QS_RELEASE,
    REPLAY__QS_RETURN_OWN, REPLAY__QS_RECOVER_DEAD, REPLAY__QS_TOUCH, REPLAY__QS_CLOSE,
    REPLAY__QS_RECONCILE, REPLAY__QS_REQUEUE_BAD, REPLAY__QS_BAD_PREVIEW,
    REPLAY__QS_CHECKPOINT_ADVANCE, REPLAY__QS_IN_FLIGHT, REPLAY__QS_MANIFEST_PREPARE,
    REPLAY__QS_MANIFEST_COMMIT, REPLAY__QS_AUDIT_ACCEPT, REPLAY__QS_AUDIT_ARRIVE,
    REPLAY__QS_AUDIT_WAKE, REPLAY__QS_AUDIT_FORGET, REPLAY__QS_COUNT
};

/* The text of each script (the consumer scripts begin with queue_prelude.lua). */
extern const char *const replay__q_scripts[REPLAY__QS_COUNT];

/* ---- the connection ---- */

#define REPLAY__Q_KEY_MAX 256
#define REPLAY__Q_ACK_BATCH 64 /* acknowledgements sent together at most */
/* Arguments of one command: the most a consumer script takes plus a full batch of
 * acknowledgements (replay_queue_ack keeps a batch at REPLAY__Q_ACK_BATCH). */
#define REPLAY__Q_MAX_ARGS (16 + REPLAY__Q_ACK_BATCH)

struct replay_queue {
    struct replay_queue_options opt; /* defaults applied; url not kept */
    struct replay_redis_url target;
    char safe_url[256]; /* password masked, for messages */
    char role[32];
    redisContext *ctx;              /* NULL while disconnected */
    unsigned long generation;       /* successful connects so far */
    unsigned long loaded[REPLAY__QS_COUNT]; /* generation in which each script was loaded */
    char sha[REPLAY__QS_COUNT][41];
    uint64_t outage_since; /* replay_now_ms() of this connection's outage start, or 0 */
    unsigned outage_tries;
};

/* One command. argv and len point at the caller's buffers until it has run. */
struct replay__q_cmd {
    const char *what; /* names the operation in messages */
    int script;       /* -1, or the script run with EVALSHA */
    int argc;
    const char *argv[REPLAY__Q_MAX_ARGS];
    size_t len[REPLAY__Q_MAX_ARGS];
};

/* Flags of replay__q_exec: wait through outages (until canceled or give_up_ms),
 * or make one attempt whatever the cancel token says (closing). */
enum { REPLAY__Q_WAIT = 0, REPLAY__Q_ONCE = 1 };

/* Starts a command; a script (>= 0) is sent as EVALSHA <sha>, then the arguments
 * the caller adds (numkeys first). */
void replay__q_cmd_init(struct replay__q_cmd *c, const char *what, int script);
void replay__q_argn(struct replay__q_cmd *c, const char *s, size_t len);
void replay__q_arg(struct replay__q_cmd *c, const char *s);

/* Runs n commands in one round trip until they succeed, fail for good, are
 * canceled or give up; on 0 the replies are in out[0..n) (caller frees each with
 * freeReplyObject), else none. */
REPLAY_MUST_CHECK int replay__q_exec_n(struct replay_queue *q, struct replay__q_cmd *cmds,
                                       size_t n, unsigned flags, redisReply **out,
                                       struct replay_err *err);
REPLAY_MUST_CHECK int replay__q_exec(struct replay_queue *q, struct replay__q_cmd *c,
                                     unsigned flags, redisReply **out, struct replay_err *err);
/* replay__q_exec (waiting) for a reply of the given shape (replay__q_reply_is). */
REPLAY_MUST_CHECK int replay__q_exec_shape(struct replay_queue *q, struct replay__q_cmd *c,
                                           const char *shape, redisReply **out,
                                           struct replay_err *err);
/* replay__q_exec_shape for an integer; value may be NULL. */
REPLAY_MUST_CHECK int replay__q_exec_int(struct replay_queue *q, struct replay__q_cmd *c,
                                         long long *value, struct replay_err *err);

/* One command (no script) from a NULL-terminated list of string arguments, run as
 * replay__q_exec_shape: its reply of the given shape into *out (caller frees). */
REPLAY_MUST_CHECK int replay__q_command(struct replay_queue *q, const char *what,
                                        const char *shape, redisReply **out,
                                        struct replay_err *err, ...);
REPLAY_MUST_CHECK int replay__q_command_v(struct replay_queue *q, const char *what,
                                          const char *shape, redisReply **out,
                                          struct replay_err *err, va_list ap);

/* ---- reply shapes: every reply is checked before a field of it is read ---- */

/* Whether r has the shape: i integer, s string, S string or nil, n nil, t status,
 * ? string, nil or integer, [...] an array of exactly those elements, where '*'
 * before the last one means "every remaining element is one"; alternatives are
 * separated by '|'. Examples: "i|[ii]", "[s[*s]]". */
bool replay__q_reply_is(const redisReply *r, const char *shape);
/* REPLAY_EPROTO "<what> on Redis at <url>: unexpected reply: <what came>". */
REPLAY_MUST_CHECK int replay__q_unexpected(const struct replay_queue *q, const char *what,
                                           const redisReply *r, struct replay_err *err);
/* 0 when r has the shape, else replay__q_unexpected (r is not freed). */
REPLAY_MUST_CHECK int replay__q_expect(const struct replay_queue *q, const char *what,
                                       const redisReply *r, const char *shape,
                                       struct replay_err *err);

#endif
