/*
 * queue: Replay's Redis lists and checkpoints, byte-compatible with Assemblyline,
 * consumed so that nothing is lost.
 *
 * What it is for. The four services talk only through seven Redis lists,
 * `replay_<type>` for the types alert, submission, badlist, safelist, signature,
 * workflow and file (formats.md §4, decisions.md §1-§3). Producers RPUSH one
 * message per item; the bytes are exactly Python's json.dumps of the message, so a
 * Python Replay on the same Redis reads what we push and we read what it pushes.
 * Checkpoints of the list exports live in the hash `replay_checkpoints` (persistent
 * Redis) with JSON string values, quotes included. The creator-worker's manifest
 * journal (issue 16) lives there too, under `replay_manifest:<source>:*` (below).
 *
 * Messages cross this API as JSON text, validated per type:
 *   alert       object with a non-empty string "alert_id" ("reporting_ts": string)
 *   submission  object with a non-empty string "sid" ("times": {"completed": string})
 *   badlist, safelist, signature, workflow
 *               the whole document, an object with a non-empty string "id"; its date
 *               field (updated, updated, last_modified, last_edit) a string if present
 *   file        a bare JSON string: the path of a bundle or export
 * Other keys are kept as they are. Typed helpers build the common messages.
 *
 * Reliable consumption (decisions.md §3). A consumer (one thread's use of one
 * queue, named by a caller-chosen id that is stable across restarts of the same
 * process slot, see replay_queue_consumer_id) moves each item atomically into
 * `replay_<type>:processing:<id>` (a Lua script, or BLMOVE while waiting), hands it
 * to the caller, and removes it only when the caller acknowledges it after the
 * item's effect is durable. A consumer may hold many items (a list exporter holds
 * its batch until the upload). Acknowledgements travel with the consumer's next
 * Redis call (normally the next pop, at once; at the latest every 64 items, 1 MiB,
 * or at close), so a steady consumer pays one round trip per item.
 *
 * Liveness: the hash `replay_<type>:consumers` (field = id, value = last seen,
 * Redis server time in ms), refreshed by the consumer's calls at most once a
 * second and by replay_queue_touch(). When a consumer opens it returns everything
 * in its own processing list to the head of the queue; when it opens and every
 * recover_interval_ms while it pops, it does the same for the lists of consumers
 * not seen for dead_after_ms (their records are deleted). Every move is one atomic
 * command (a Lua script, or BLMOVE), so an item is always in exactly one list. Lost
 * replies cannot duplicate or lose a move: each consumer script records its
 * operation id in `replay_<type>:ops` and a retried call does not act twice; after
 * a reconnect the consumer returns to the queue any item a cut BLMOVE left in its
 * list unseen. (A lone acknowledgement goes as a plain LREM; repeated after a lost
 * reply it can only remove a byte-identical twin, whose effect is durable already.)
 *
 * Bad messages are never dropped: a message that is not JSON, has the wrong shape
 * for its queue, or is larger than max_message is moved to `replay_<type>:bad` as
 * one entry: a header line, the JSON object {"reason": ..., "consumer": ...,
 * "time": ..., "size": ...} (no newline inside), then "\n", then the original bytes
 * unchanged. replay_queue_requeue_bad() strips the header and puts the original
 * back at the tail of the queue.
 *
 * Redis going away is normal weather: every operation waits through an outage,
 * reconnecting with capped exponential backoff and jitter (idle for the heartbeat),
 * logs one warning when the outage starts and one line when it ends, drops
 * nothing, and stops with REPLAY_ECANCELED once the cancel token is requested.
 * Blocking waits for work last at most wait_slice_ms, so shutdown is prompt; they
 * are bracketed by replay_idle_begin()/_end(), and replay_progress() is called
 * after each handled item. Items are delivered at least once: a reply lost in an
 * outage can make a push happen twice, never zero times. Every reply is checked
 * against the type and shape its command gives before it is used: anything else
 * (a proxy, another server on the port) is REPLAY_EPROTO naming what came.
 *
 * URLs: redis://[[user]:password@]host[:port][/db], unix://[[user]:password@]/path
 * [?db=N], parsed by config (replay_config_redis_url_parse, config.h), which also
 * refuses rediss:// (REPLAY_EUNSUPPORTED: this build's hiredis has no TLS). The
 * password is registered with redact when a connection opens.
 *
 * Thread-safety: the pure functions (names, encoding, item parsing) are
 * thread-safe. A struct replay_queue is one connection: it, its consumers and
 * their items belong to one thread at a time (each worker thread opens its own).
 *
 * Ownership is stated at each prototype. Strings passed in are borrowed for the
 * call only. Out-parameters are NULL on failure.
 */
#ifndef REPLAY_QUEUE_H
#define REPLAY_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "replay/error.h"
#include "replay/lifecycle.h"

/* The seven queues. The first six have the values of enum replay_input_type. */
enum replay_queue_type {
    REPLAY_QUEUE_ALERT,
    REPLAY_QUEUE_SUBMISSION,
    REPLAY_QUEUE_BADLIST,
    REPLAY_QUEUE_SAFELIST,
    REPLAY_QUEUE_SIGNATURE,
    REPLAY_QUEUE_WORKFLOW,
    REPLAY_QUEUE_FILE,
    REPLAY_QUEUE_TYPE_COUNT
};

#define REPLAY_QUEUE_CHECKPOINTS_KEY "replay_checkpoints"
/* Default largest message pushed or accepted (a signature document can be large). */
#define REPLAY_QUEUE_MAX_MESSAGE (16u << 20)
#define REPLAY_QUEUE_CONSUMER_ID_MAX 128

/* ---- names (pure) ---- */

/* "alert", ..., "file"; NULL for a value out of range. */
const char *replay_queue_type_name(enum replay_queue_type t);
/* "replay_alert", ..., "replay_file"; NULL for a value out of range. */
const char *replay_queue_key(enum replay_queue_type t);
/* Date field a consumer checkpoints on: "reporting_ts", "times.completed",
 * "updated", "updated", "last_modified", "last_edit"; NULL for file. */
const char *replay_queue_date_field(enum replay_queue_type t);
/* Accepts "alert" or "replay_alert" (and so on). REPLAY_EINVAL names the word. */
REPLAY_MUST_CHECK int replay_queue_type_parse(const char *name, enum replay_queue_type *out,
                                              struct replay_err *err);

/* ---- messages (pure) ---- */

/* Validates `json` (len bytes, NUL not needed) for queue `t` and returns in *out
 * the bytes Python's json.dumps gives for the same value (caller frees *out;
 * *out_len may be NULL). REPLAY_EFORMAT with the reason when the text is not JSON
 * or has the wrong shape, REPLAY_ETOOBIG above REPLAY_QUEUE_MAX_MESSAGE. */
REPLAY_MUST_CHECK int replay_queue_encode(enum replay_queue_type t, const char *json, size_t len,
                                          char **out, size_t *out_len, struct replay_err *err);
/* {"alert_id": ..., "reporting_ts": ...}; reporting_ts NULL leaves it out. */
REPLAY_MUST_CHECK int replay_queue_encode_alert(const char *alert_id, const char *reporting_ts,
                                                char **out, size_t *out_len,
                                                struct replay_err *err);
/* {"sid": ..., "times": {"completed": ...}}; completed NULL leaves "times" out. */
REPLAY_MUST_CHECK int replay_queue_encode_submission(const char *sid, const char *completed,
                                                     char **out, size_t *out_len,
                                                     struct replay_err *err);
/* "<path>" as a JSON string. The path must be valid UTF-8 (REPLAY_EFORMAT). */
REPLAY_MUST_CHECK int replay_queue_encode_file(const char *path, char **out, size_t *out_len,
                                               struct replay_err *err);

/* One message taken from a queue (or parsed from bytes). Read with the accessors. */
struct replay_queue_item;

/* Parses raw queue bytes as a message of type `t`. Caller frees *out with
 * replay_queue_item_free(). REPLAY_EFORMAT with the reason for bad input. Applies
 * no size limit of its own (consumers check max_message first). */
REPLAY_MUST_CHECK int replay_queue_item_parse(enum replay_queue_type t, const char *raw,
                                              size_t len, struct replay_queue_item **out,
                                              struct replay_err *err);
enum replay_queue_type replay_queue_item_type(const struct replay_queue_item *item);
/* The message bytes exactly as stored (NUL-terminated; borrowed from the item). */
const char *replay_queue_item_json(const struct replay_queue_item *item, size_t *len);
/* alert_id, sid, id, or the decoded path of a file message (borrowed). */
const char *replay_queue_item_id(const struct replay_queue_item *item);
/* The type's date field (replay_queue_date_field) or NULL when absent (borrowed). */
const char *replay_queue_item_date(const struct replay_queue_item *item);
/* Frees an item. An item popped and neither acknowledged, released nor rejected
 * stays in the processing list and is returned to the queue by the consumer's
 * next pop (or its next start). NULL does nothing. */
void replay_queue_item_free(struct replay_queue_item *item);

/* ---- connection ---- */

struct replay_queue_options {
    const char *url;                   /* required; borrowed for the call */
    const char *role;                  /* names the connection in logs: "queues" */
    const struct replay_cancel *cancel; /* NULL: never canceled; must outlive the handle */
    unsigned connect_timeout_ms;       /* 0 -> 5000 */
    unsigned command_timeout_ms;       /* 0 -> 15000: a slower reply counts as an outage */
    unsigned wait_slice_ms;            /* 0 -> 500: longest single blocking wait */
    unsigned backoff_min_ms;           /* 0 -> 50 */
    unsigned backoff_max_ms;           /* 0 -> 5000 */
    unsigned give_up_ms;               /* 0 -> wait through outages forever; else
                                          REPLAY_ECONN once an outage lasts this long */
    size_t max_message;                /* 0 -> REPLAY_QUEUE_MAX_MESSAGE */
    unsigned dead_after_ms;            /* 0 -> 900000: a consumer not seen this long is dead */
    unsigned recover_interval_ms;      /* 0 -> 60000: how often a consumer recovers the dead */
};

struct replay_queue;

/* Parses the URL (replay_config_redis_url_parse; registers its password with
 * redact), connects, AUTHs and SELECTs, waiting through an outage as every
 * operation does. Caller closes *out with replay_queue_close(). Errors:
 * REPLAY_ECONFIG (bad URL or db), REPLAY_EUNSUPPORTED (rediss://), REPLAY_EAUTH
 * (credentials refused), REPLAY_ECONN (give_up_ms passed), REPLAY_ECANCELED,
 * REPLAY_ENOMEM. */
REPLAY_MUST_CHECK int replay_queue_open(const struct replay_queue_options *opt,
                                        struct replay_queue **out, struct replay_err *err);
/* Closes the connection. Consumers of q must be closed first. NULL does nothing. */
void replay_queue_close(struct replay_queue *q);

/* ---- the epoch of the queue Redis ---- */

/* The key REPLAY_QUEUE_EPOCH_KEY of the queue Redis holds a random token, set
 * when missing. A Redis that lost its data (restarted without persistence,
 * flushed, replaced) lost the token too, and gets a new one from the next
 * service that asks. A service that remembers the token it saw and later finds
 * another knows that every queued message, processing list and liveness record
 * went with the data, and queues its work again (upstream loses it until a
 * restart: upstream-behaviour.md §7). The key is an extension of ours; upstream
 * ignores it. */
#define REPLAY_QUEUE_EPOCH_KEY "replay_epoch"
#define REPLAY_QUEUE_EPOCH_LEN 33 /* 32 hex digits and the terminator */

/* The current token into out, creating it (SET NX) when there is none; *created
 * (may be NULL) tells whether this call made it. Waits through outages as every
 * operation does. */
REPLAY_MUST_CHECK int replay_queue_epoch(struct replay_queue *q, char out[REPLAY_QUEUE_EPOCH_LEN],
                                         bool *created, struct replay_err *err);
/* For a service that watches the epoch: reads it into `seen` and sets *lost when
 * `seen` held another one (an empty `seen`, the first call, is never a loss). */
REPLAY_MUST_CHECK int replay_queue_epoch_check(struct replay_queue *q,
                                               char seen[REPLAY_QUEUE_EPOCH_LEN], bool *lost,
                                               struct replay_err *err);

/* ---- producing ---- */

/* Validates, encodes (replay_queue_encode) and RPUSHes one message. REPLAY_EFORMAT,
 * REPLAY_ETOOBIG (above max_message), REPLAY_ECANCELED, REPLAY_ECONN, REPLAY_EPROTO. */
REPLAY_MUST_CHECK int replay_queue_push(struct replay_queue *q, enum replay_queue_type t,
                                        const char *json, size_t len, struct replay_err *err);
REPLAY_MUST_CHECK int replay_queue_push_alert(struct replay_queue *q, const char *alert_id,
                                              const char *reporting_ts, struct replay_err *err);
REPLAY_MUST_CHECK int replay_queue_push_submission(struct replay_queue *q, const char *sid,
                                                   const char *completed,
                                                   struct replay_err *err);
REPLAY_MUST_CHECK int replay_queue_push_file(struct replay_queue *q, const char *path,
                                             struct replay_err *err);
/* The same at the head of replay_file (LPUSH): taken next. For manifests, which
 * the files they list wait for. */
REPLAY_MUST_CHECK int replay_queue_push_file_first(struct replay_queue *q, const char *path,
                                                   struct replay_err *err);

/* ---- consuming ---- */

struct replay_queue_consumer;

/* Writes "<hostname>:<component>:<index>" into buf (characters a consumer id may not
 * hold become '_'): stable across restarts of the same pod and thread slot.
 * REPLAY_EINVAL if it does not fit in `size` or REPLAY_QUEUE_CONSUMER_ID_MAX. */
REPLAY_MUST_CHECK int replay_queue_consumer_id(const char *component, unsigned index, char *buf,
                                               size_t size, struct replay_err *err);

/* Starts consuming queue `t` of q as consumer `id` (1 to REPLAY_QUEUE_CONSUMER_ID_MAX
 * characters of [A-Za-z0-9._:@-]): refreshes its liveness record, returns its own
 * processing list to the queue and recovers the lists of dead consumers (logged
 * when not empty). q is borrowed and must outlive the consumer. Caller closes *out
 * with replay_queue_consumer_close(). */
REPLAY_MUST_CHECK int replay_queue_consumer_open(struct replay_queue *q, enum replay_queue_type t,
                                                 const char *id,
                                                 struct replay_queue_consumer **out,
                                                 struct replay_err *err);
/* Sends pending acknowledgements and deletes the liveness record when nothing is
 * left in the processing list (one attempt, no waiting, also after cancellation),
 * then frees. Items still held stay in the processing list for the next start (the
 * caller still frees them). NULL does nothing. */
void replay_queue_consumer_close(struct replay_queue_consumer *c);

/* Waits up to wait_ms for the next valid message and moves it into this consumer's
 * processing list. 0 with *out set: the caller owns the item (free it with
 * replay_queue_item_free, after replay_queue_ack once its effect is durable).
 * 0 with *out NULL: nothing arrived in time. Bad messages met on the way are moved
 * to the :bad list and logged, not returned. Items already held stay held.
 * REPLAY_ECANCELED; REPLAY_ECONN (give_up_ms); REPLAY_EPROTO; REPLAY_ENOMEM. */
REPLAY_MUST_CHECK int replay_queue_pop(struct replay_queue_consumer *c, unsigned wait_ms,
                                       struct replay_queue_item **out, struct replay_err *err);
/* The item's effect is durable: it leaves the processing list with the consumer's
 * next Redis call (see above; a crash before that delivers it once more, which
 * idempotent effects absorb). The item stays the caller's to free. An item no
 * longer there when the removal runs (returned to the queue because this consumer
 * looked dead, or lost with a Redis that does not persist) is logged as a warning.
 * REPLAY_EINVAL for an item this consumer does not hold. A batch (64 items or
 * 1 MiB) is sent as it fills; one that cannot be sent (canceled, Redis away past
 * give_up_ms, a protocol error) waits for the next call, and the acknowledgement
 * that finds it still full and unsendable fails with that call's error
 * (REPLAY_ECANCELED, REPLAY_ECONN, REPLAY_EPROTO): the item stays held, to be
 * acknowledged again, or freed and delivered again. No acknowledgement is dropped
 * unsaid: the worst case (close without Redis) is a warning and a second delivery. */
REPLAY_MUST_CHECK int replay_queue_ack(struct replay_queue_consumer *c,
                                       struct replay_queue_item *item, struct replay_err *err);
/* Gives the item back, unprocessed, to the head of its queue (e.g. at shutdown). */
REPLAY_MUST_CHECK int replay_queue_release(struct replay_queue_consumer *c,
                                           struct replay_queue_item *item,
                                           struct replay_err *err);
/* Moves the item to the :bad list with `reason` (e.g. an id not safe as a file name). */
REPLAY_MUST_CHECK int replay_queue_reject(struct replay_queue_consumer *c,
                                          struct replay_queue_item *item, const char *reason,
                                          struct replay_err *err);
/* Refreshes the liveness record during long work, so the consumer is not taken for
 * dead (only needed when one item takes longer than dead_after_ms). */
REPLAY_MUST_CHECK int replay_queue_touch(struct replay_queue_consumer *c,
                                         struct replay_err *err);

/* ---- checkpoints (a handle on the persistent Redis) ---- */

/* The stored checkpoint of a list type (badlist, safelist, signature, workflow),
 * JSON-decoded: "*" when absent or empty. Caller frees *out. REPLAY_EINVAL for
 * another type, REPLAY_EFORMAT when the stored value is not a JSON string. */
REPLAY_MUST_CHECK int replay_queue_checkpoint_get(struct replay_queue *q,
                                                  enum replay_queue_type t, char **out,
                                                  struct replay_err *err);
/* Stores json.dumps(value) (the quotes included), unconditionally. */
REPLAY_MUST_CHECK int replay_queue_checkpoint_set(struct replay_queue *q,
                                                  enum replay_queue_type t, const char *value,
                                                  struct replay_err *err);
/* Stores value only if it is later than the stored one (ISO-8601 "...Z" dates
 * compared as times, whatever their fraction digits; "*" and absent are earliest),
 * atomically, so many exporters of one type never move it back. *advanced (may be
 * NULL) tells whether it was stored. */
REPLAY_MUST_CHECK int replay_queue_checkpoint_advance(struct replay_queue *q,
                                                      enum replay_queue_type t,
                                                      const char *value, bool *advanced,
                                                      struct replay_err *err);

/* ---- the manifest journal (a handle on the persistent Redis; docs/trust.md) ----
 * What a creator-worker uploaded and no manifest lists yet, and the head of its
 * manifests' chain, per source name: the list `replay_manifest:<source>:files`
 * (one entry per uploaded file, JSON written by the caller, oldest first) and the
 * hash `replay_manifest:<source>:state` (fields sequence, previous_sha256, and
 * while a manifest is between its making and its upload pending_name,
 * pending_bytes, pending_sig, pending_count). A manifest is made in two steps,
 * each one atomic script, so writers on many hosts and a crash at any point
 * neither fork the chain nor lose a file: prepare (only one manifest can be
 * pending, and only on the sequence its writer read), upload (by whoever finds
 * it pending: no-overwrite uploads make a repeat harmless), commit (only for the
 * pending manifest). The source name is 1..REPLAY_QUEUE_MANIFEST_SOURCE_MAX of
 * [A-Za-z0-9._-]. */

#define REPLAY_QUEUE_MANIFEST_PREFIX "replay_manifest:"
#define REPLAY_QUEUE_MANIFEST_SOURCE_MAX 64

struct replay_queue_manifest_state {
    long long sequence;      /* of the last manifest uploaded; 0 before the first */
    char *previous_sha256;   /* its sha256 (hex), NULL before the first */
    char *pending_name;      /* a prepared manifest not committed yet, or NULL */
    char *pending_bytes;     /* its bytes (pending_len of them) */
    size_t pending_len;
    char *pending_sig;       /* its signature (pending_sig_len bytes; 0 when unsigned) */
    size_t pending_sig_len;
    long long pending_count; /* how many recorded files it lists */
    char **files;            /* the oldest recorded entries (n_files) */
    size_t n_files;
};

/* True when `source` may name a source (the rule above). */
bool replay_queue_manifest_source_ok(const char *source);
/* Appends one entry (len bytes) to the source's recorded files. */
REPLAY_MUST_CHECK int replay_queue_manifest_record(struct replay_queue *q, const char *source,
                                                   const char *entry, size_t len,
                                                   struct replay_err *err);
/* Reads the state and at most max_files of the oldest recorded entries into *st
 * (release with replay_queue_manifest_state_clear, also on failure).
 * REPLAY_EFORMAT when a stored field is not what this module writes. */
REPLAY_MUST_CHECK int replay_queue_manifest_load(struct replay_queue *q, const char *source,
                                                 size_t max_files,
                                                 struct replay_queue_manifest_state *st,
                                                 struct replay_err *err);
void replay_queue_manifest_state_clear(struct replay_queue_manifest_state *st);
/* Stores a manifest as pending (the script's rule above); *prepared says whether
 * it was (false: another writer's is pending or the sequence moved: load again). */
REPLAY_MUST_CHECK int replay_queue_manifest_prepare(struct replay_queue *q, const char *source,
                                                    long long read_sequence, const char *name,
                                                    const char *bytes, size_t len,
                                                    const unsigned char *sig, size_t sig_len,
                                                    long long count, bool *prepared,
                                                    struct replay_err *err);
/* Commits the pending manifest `name` once it is in the output store: the chain's
 * head becomes (sequence, sha256), its `count` entries leave the list. *committed
 * (may be NULL) is false when `name` was no longer pending (done already). */
REPLAY_MUST_CHECK int replay_queue_manifest_commit(struct replay_queue *q, const char *source,
                                                   const char *name, long long sequence,
                                                   const char *sha256, long long count,
                                                   bool *committed, struct replay_err *err);

/* ---- the audit of manifests (the target's side; a handle on the persistent Redis;
 * docs/trust.md) ----
 * What verified manifests promised and what arrived, kept by the loader-worker
 * and read by the loader (its warnings) and `replay-ctl audit`:
 *   replay_audit:sources             set: the source names seen
 *   replay_audit:<source>:manifests  hash: sha:<seq>, prev:<seq> (hex, '' for none),
 *                                    info:<seq> (JSON for the operator), done:<seq>
 *                                    (its input file is removed)
 *   replay_audit:<source>:summary    hash: count, first, last, last_at, unverified
 *   replay_audit:promised            hash: "<name>/<sha256>" -> the entry's JSON
 *                                    {"source", "sequence", "size", "promised"}
 *   replay_audit:names               hash: name -> the sha256s promised under it
 *   replay_audit:pending             zset: "<name>/<sha256>" promised, not arrived
 *                                    (score: when it was promised)
 *   replay_audit:arrived             hash: "<name>/<sha256>" -> when it arrived
 *   replay_audit:unlisted            zset: arrived, no manifest lists it (score:
 *                                    when it arrived)
 *   replay_audit:failures            hash: "<reason>\t<source>" -> count ('' source:
 *                                    not known)
 *   replay_audit:waiting             zset: path of a file waiting for its manifest
 *                                    (or a manifest for its .sig) -> when it is due
 *                                    to be looked at again
 *   replay_audit:waiting_since       hash: that path -> when its wait began
 *   replay_audit:warned              set: "gap <source> <seq>", "missing <name>/<sha>"
 *                                    the loader warned about (once each)
 * Times are epoch seconds. Sources follow replay_queue_manifest_source_ok. */

#define REPLAY_QUEUE_AUDIT_PREFIX "replay_audit:"
/* Most paths replay_queue_audit_due hands over at once; most files listed by
 * name in a report (per list; the counts are complete). */
#define REPLAY_QUEUE_AUDIT_BATCH 1000

/* What replay_queue_audit_accept made of a manifest. */
enum replay_queue_audit_verdict {
    REPLAY_QUEUE_AUDIT_ACCEPTED = 1, /* recorded */
    REPLAY_QUEUE_AUDIT_AGAIN = 2,    /* recorded before, its file not removed yet */
    REPLAY_QUEUE_AUDIT_REPLAYED = -1, /* its sequence was seen: other bytes, or done */
    REPLAY_QUEUE_AUDIT_CHAIN = -2,    /* its neighbours name other hashes */
};

struct replay_queue_audit_manifest {
    const char *source;
    long long sequence;
    const char *sha256;          /* of its bytes */
    const char *previous_sha256; /* "" for none */
    const char *info;            /* JSON: what replay-ctl audit shows of it */
    const char *files;           /* JSON array of [name, sha256, entry JSON] */
    size_t files_len;
    bool verified;               /* its signature was checked */
    long long now;
};

/* Records a verified manifest and its promises in one atomic step (the rules of
 * queue_audit_accept.lua); *verdict says what happened. */
REPLAY_MUST_CHECK int replay_queue_audit_accept(struct replay_queue *q,
                                                const struct replay_queue_audit_manifest *m,
                                                enum replay_queue_audit_verdict *verdict,
                                                struct replay_err *err);
/* Marks the manifest's input file removed: the same bytes again are a replay. */
REPLAY_MUST_CHECK int replay_queue_audit_done(struct replay_queue *q, const char *source,
                                              long long sequence, struct replay_err *err);

/* What the manifests say of a file. */
enum replay_queue_audit_listing {
    REPLAY_QUEUE_AUDIT_UNLISTED = 0, /* no manifest names it */
    REPLAY_QUEUE_AUDIT_LISTED,       /* a manifest lists these exact bytes */
    REPLAY_QUEUE_AUDIT_OTHER,        /* manifests list the name with other bytes */
};

struct replay_queue_audit_promise {
    /* LISTED: the promise of these bytes; OTHER: of the first bytes promised under
     * the name */
    enum replay_queue_audit_listing listing;
    char source[REPLAY_QUEUE_MANIFEST_SOURCE_MAX + 1]; /* who promised it */
    long long sequence;                                /* in which manifest */
    long long size;                                    /* how many bytes */
};

/* Looks the file (its base name and the sha256 of its bytes) up. */
REPLAY_MUST_CHECK int replay_queue_audit_lookup(struct replay_queue *q, const char *name,
                                                const char *sha256,
                                                struct replay_queue_audit_promise *out,
                                                struct replay_err *err);
/* Records that the file (its base name, the sha256 of its bytes, its path) arrived
 * and was decided: no longer pending, nor waiting (queue_audit_arrive.lua). */
REPLAY_MUST_CHECK int replay_queue_audit_arrived(struct replay_queue *q, const char *name,
                                                 const char *sha256, const char *path,
                                                 long long now, struct replay_err *err);
/* Counts a failure by its reason (one word) and source ("" when not known). */
REPLAY_MUST_CHECK int replay_queue_audit_failure(struct replay_queue *q, const char *reason,
                                                 const char *source, struct replay_err *err);

/* The file at `path` waits: looked at again at `due`; *since gets when its wait
 * began (now, the first time). */
REPLAY_MUST_CHECK int replay_queue_audit_wait(struct replay_queue *q, const char *path,
                                              long long now, long long due, long long *since,
                                              struct replay_err *err);
/* The file at `path` waits no more (decided, or gone). */
REPLAY_MUST_CHECK int replay_queue_audit_unwait(struct replay_queue *q, const char *path,
                                                struct replay_err *err);
/* Every waiting file is due now (a manifest was recorded). */
REPLAY_MUST_CHECK int replay_queue_audit_wake(struct replay_queue *q, struct replay_err *err);
/* The waiting files due at `now` (at most REPLAY_QUEUE_AUDIT_BATCH) into *paths
 * (caller frees with replay_queue_audit_paths_free) and *n. */
REPLAY_MUST_CHECK int replay_queue_audit_due(struct replay_queue *q, long long now,
                                             char ***paths, size_t *n, struct replay_err *err);
/* `path` was queued again: it is next due at `due`, unless its worker decides
 * first (and ends the wait, or sets its own due time). Never removes it, so a
 * worker's new wait cannot be lost to this call. */
REPLAY_MUST_CHECK int replay_queue_audit_postpone(struct replay_queue *q, const char *path,
                                                  long long due, struct replay_err *err);
/* How long a file waiting `wait_s` in all is left before it is looked at again
 * (a tenth of it, from 1 s to a minute). */
long long replay_queue_audit_recheck_s(long long wait_s);
void replay_queue_audit_paths_free(char **paths, size_t n);

/* The audit as JSON text into *json (caller frees): per source its manifests
 * (count, first, last, unverified, gaps), the files promised and not arrived
 * `grace` seconds after their manifest (missing) and the others (awaiting), the
 * files no manifest lists, failures by reason (docs/trust.md shows the shape).
 * Lists hold REPLAY_QUEUE_AUDIT_BATCH entries at most; counts are complete. */
REPLAY_MUST_CHECK int replay_queue_audit_report(struct replay_queue *q, long long now,
                                                long long grace, char **json,
                                                struct replay_err *err);
/* Forgets the files that arrived before `cutoff` (epoch s): their promise and
 * arrival (queue_audit_forget.lua), a thousand per step so Redis stays
 * responsive. *forgotten gets how many. Manifests' records stay, so a manifest
 * sent again is still a replay; a forgotten file sent again is one no manifest
 * lists. */
REPLAY_MUST_CHECK int replay_queue_audit_forget(struct replay_queue *q, long long cutoff,
                                                long long *forgotten, struct replay_err *err);
/* Adds `what` ("gap <source> <seq>", "missing <name>/<sha256>") to the warned set;
 * *first is true when it was not there (warn now). */
REPLAY_MUST_CHECK int replay_queue_audit_warn_once(struct replay_queue *q, const char *what,
                                                   bool *first, struct replay_err *err);

/* ---- operator views (replay-ctl queues) ---- */

struct replay_queue_counts {
    long long queued;     /* LLEN replay_<type> */
    long long processing; /* sum over the processing lists */
    long long bad;        /* LLEN replay_<type>:bad */
    long long consumers;  /* liveness records */
};

REPLAY_MUST_CHECK int replay_queue_counts(struct replay_queue *q, enum replay_queue_type t,
                                          struct replay_queue_counts *out,
                                          struct replay_err *err);

/* Called once per processing list or liveness record: `consumer` (borrowed for the
 * call), its list length, and milliseconds since it was last seen (-1: no record). */
typedef void (*replay_queue_processing_cb)(const char *consumer, long long depth,
                                           long long unseen_ms, void *ud);
/* Enumerates processing lists (SCAN) and liveness records of queue t. */
REPLAY_MUST_CHECK int replay_queue_each_processing(struct replay_queue *q,
                                                   enum replay_queue_type t,
                                                   replay_queue_processing_cb cb, void *ud,
                                                   struct replay_err *err);

/* Called per :bad entry: its header line, the first bytes of the original message
 * (at most `preview`), and the original's full length. Buffers borrowed for the call. */
typedef void (*replay_queue_bad_cb)(const char *header, const char *message, size_t message_len,
                                    long long full_len, void *ud);
/* Shows up to `limit` entries of replay_<type>:bad from the oldest, without
 * transferring more than `preview` bytes of each message. */
REPLAY_MUST_CHECK int replay_queue_each_bad(struct replay_queue *q, enum replay_queue_type t,
                                            size_t limit, size_t preview, replay_queue_bad_cb cb,
                                            void *ud, struct replay_err *err);
/* Moves every entry of replay_<type>:bad back to the tail of replay_<type> in its
 * order, header removed (original bytes unchanged), atomically per entry. *moved
 * (may be NULL) gets the count. */
REPLAY_MUST_CHECK int replay_queue_requeue_bad(struct replay_queue *q, enum replay_queue_type t,
                                               long long *moved, struct replay_err *err);

/* ---- what is still on its way (the creator's start-up recovery) ---- */

struct replay_queue_idset; /* a sorted set of ids */

/* The ids of the messages of queue t (not the file queue) waiting in replay_<type>
 * or held in any processing list, read in one atomic step (so a message moving from
 * the queue to a consumer is seen once). More than `max` messages: REPLAY_ETOOBIG
 * and nothing read. Messages without a usable id are left out. */
REPLAY_MUST_CHECK int replay_queue_in_flight(struct replay_queue *q, enum replay_queue_type t,
                                             size_t max, struct replay_queue_idset **out,
                                             struct replay_err *err);
bool replay_queue_idset_has(const struct replay_queue_idset *s, const char *id);
size_t replay_queue_idset_size(const struct replay_queue_idset *s);
void replay_queue_idset_free(struct replay_queue_idset *s);

#endif
