/* queue: one Redis connection that waits out outages, the reliable consumer on top
 * of it (Lua scripts for every move), checkpoints and the operator views. The pure
 * parsing and encoding are in queue_parse.c. */
#include "replay/queue.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "pyjson_int.h"
#include "queue_int.h"
#include "replay/log.h"
#include "replay/redact.h"

#define ACK_BATCH 64           /* acknowledgements sent together at most */
#define ACK_BYTES (1u << 20)   /* ... or this many bytes of them */
#define MAX_ARGS (16 + ACK_BATCH) /* replay_queue_ack keeps n_acks <= ACK_BATCH */
#define TOUCH_EVERY_MS 1000    /* liveness record refreshed at most this often */
#define KEY_MAX 256
#define REQUEUE_BATCH "100"  /* bad entries moved per script call (keeps Redis responsive) */
#define SCAN_COUNT "500"
#define RELOAD_TRIES 3       /* NOSCRIPT (SCRIPT FLUSH by hand): reload, then an outage */

/* ---- Lua scripts: every move between lists is one of these, so it is atomic ---- */

/* The consumer scripts share one layout and a prelude.
 * KEYS: 1 queue, 2 processing list, 3 :bad list, 4 liveness records, 5 last operations.
 * ARGV: 1 consumer id, 2 operation id, 3 "1" to refresh the liveness record, then the
 * script's own arguments, then the values of acknowledgements not sent yet.
 * Idempotence: each run stores "<kind><op id>" in KEYS[5]; a retry of the same
 * operation (its reply was lost with the connection) finds it and does nothing
 * again. kind 'i' means "moved an item to the processing list", so a retried pop
 * returns that item (the tail of the processing list) instead of taking another. */
#define LUA_PRELUDE                                                                      \
    "local prev = redis.call('HGET', KEYS[5], ARGV[1])\n"                                \
    "local function again() return prev and string.sub(prev, 2) == ARGV[2] end\n"        \
    "local function done(kind) redis.call('HSET', KEYS[5], ARGV[1], kind .. ARGV[2]) end\n" \
    "local function touch()\n"                                                           \
    "  if ARGV[3] ~= '1' then return end\n"                                              \
    "  local t = redis.call('TIME')\n"                                                   \
    "  redis.call('HSET', KEYS[4], ARGV[1], t[1] * 1000 + math.floor(t[2] / 1000))\n"    \
    "end\n"                                                                              \
    "local function acks(first)\n"                                                       \
    "  local missing = 0\n"                                                              \
    "  for i = first, #ARGV do\n"                                                        \
    "    if redis.call('LREM', KEYS[2], -1, ARGV[i]) == 0 then missing = missing + 1 end\n" \
    "  end\n"                                                                            \
    "  return missing\n"                                                                 \
    "end\n"

enum script_id {
    S_POP, S_PARK, S_ACK, S_RELEASE, S_RETURN_OWN, S_RECOVER_DEAD, S_TOUCH, S_CLOSE,
    S_RECONCILE, S_REQUEUE_BAD, S_BAD_PREVIEW, S_CHECKPOINT_ADVANCE, S_COUNT
};

static const char *const scripts[S_COUNT] = {
    /* S_POP: ARGV 4 max bytes, 5 time, 6.. acks. Takes the head of the queue without
     * blocking into the processing list, or parks it in :bad when too big.
     * Returns {kind, value or size, acks missing, items left in the queue}: kind 0
     * empty, 1 parked, 2 item. */
    [S_POP] = LUA_PRELUDE
    "if again() then\n"
    "  local left = redis.call('LLEN', KEYS[1])\n"
    "  if string.sub(prev, 1, 1) == 'i' then\n"
    "    return {2, redis.call('LINDEX', KEYS[2], -1), 0, left}\n"
    "  end\n"
    "  return {1, 0, 0, left}\n"
    "end\n"
    "touch()\n"
    "local missing = acks(6)\n"
    "local v = redis.call('LPOP', KEYS[1])\n"
    "if not v then done('n') return {0, false, missing, 0} end\n"
    "local max = tonumber(ARGV[4])\n"
    "if #v > max then\n"
    "  redis.call('RPUSH', KEYS[3], '{\"reason\": \"message of ' .. #v .. ' bytes is larger "
    "than the limit of ' .. max .. ' bytes\", \"consumer\": \"' .. ARGV[1] .. '\", \"time\": "
    "\"' .. ARGV[5] .. '\", \"size\": ' .. #v .. '}\\n' .. v)\n"
    "  done('n')\n"
    "  return {1, #v, missing, redis.call('LLEN', KEYS[1])}\n"
    "end\n"
    "redis.call('RPUSH', KEYS[2], v)\n"
    "done('i')\n"
    "return {2, v, missing, redis.call('LLEN', KEYS[1])}\n",
    /* S_PARK: ARGV 4 mode, 5 the value (mode "value") or the length of the tail item
     * (mode "tail": too big to send back), 6 the header, 7.. acks. -> :bad. */
    [S_PARK] = LUA_PRELUDE
    "if again() then return {1, 0} end\n"
    "touch()\n"
    "local missing = acks(7)\n"
    "local v, n = ARGV[5], 0\n"
    "if ARGV[4] == 'tail' then\n"
    "  v = redis.call('LINDEX', KEYS[2], -1)\n"
    "  if v and #v == tonumber(ARGV[5]) then n = 1 redis.call('RPOP', KEYS[2]) end\n"
    "else\n"
    "  n = redis.call('LREM', KEYS[2], -1, v)\n"
    "end\n"
    "if n > 0 then redis.call('RPUSH', KEYS[3], ARGV[6] .. '\\n' .. v) end\n"
    "done('n')\n"
    "return {n, missing}\n",
    /* S_ACK: ARGV 4.. acks. */
    [S_ACK] = LUA_PRELUDE
    "if again() then return 0 end\n"
    "touch()\n"
    "local missing = acks(4)\n"
    "done('n')\n"
    "return missing\n",
    /* S_RELEASE: ARGV 4 the value, 5.. acks. Processing list -> head of the queue. */
    [S_RELEASE] = LUA_PRELUDE
    "if again() then return {1, 0} end\n"
    "touch()\n"
    "local missing = acks(5)\n"
    "local n = redis.call('LREM', KEYS[2], -1, ARGV[4])\n"
    "if n > 0 then redis.call('LPUSH', KEYS[1], ARGV[4]) end\n"
    "done('n')\n"
    "return {n, missing}\n",
    /* S_RETURN_OWN: ARGV 4.. acks. The whole processing list back to the head of the
     * queue, oldest first in the queue. */
    [S_RETURN_OWN] = LUA_PRELUDE
    "if again() then return 0 end\n"
    "touch()\n"
    "acks(4)\n"
    "local n = 0\n"
    "while redis.call('LMOVE', KEYS[2], KEYS[1], 'RIGHT', 'LEFT') do n = n + 1 end\n"
    "done('n')\n"
    "return n\n",
    /* S_RECOVER_DEAD: KEYS queue, liveness records, last operations; ARGV self id, dead
     * after (ms), prefix of the processing lists. The lists are named from the records
     * (a single Redis, not a cluster). */
    [S_RECOVER_DEAD] =
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "local all = redis.call('HGETALL', KEYS[2])\n"
    "local dead, items = 0, 0\n"
    "for i = 1, #all, 2 do\n"
    "  local seen = tonumber(all[i + 1])\n"
    "  if all[i] ~= ARGV[1] and (seen == nil or now - seen > tonumber(ARGV[2])) then\n"
    "    while redis.call('LMOVE', ARGV[3] .. all[i], KEYS[1], 'RIGHT', 'LEFT') do\n"
    "      items = items + 1\n"
    "    end\n"
    "    redis.call('HDEL', KEYS[2], all[i])\n"
    "    redis.call('HDEL', KEYS[3], all[i])\n"
    "    dead = dead + 1\n"
    "  end\n"
    "end\n"
    "return {dead, items}\n",
    /* S_TOUCH: KEYS liveness records; ARGV id. */
    [S_TOUCH] =
    "local t = redis.call('TIME')\n"
    "redis.call('HSET', KEYS[1], ARGV[1], t[1] * 1000 + math.floor(t[2] / 1000))\n"
    "return 1\n",
    /* S_CLOSE: ARGV 4.. acks. Forgets the consumer when its processing list is empty. */
    [S_CLOSE] = LUA_PRELUDE
    "acks(4)\n"
    "if redis.call('LLEN', KEYS[2]) > 0 then done('n') return 0 end\n"
    "redis.call('HDEL', KEYS[4], ARGV[1])\n"
    "redis.call('HDEL', KEYS[5], ARGV[1])\n"
    "return 1\n",
    /* S_RECONCILE: ARGV 4 items of ours known to be in the processing list, 5 "1" if
     * the tail is an item just received. A BLMOVE whose reply was lost left its item
     * just before that: every such extra goes back to the head of the queue, in order.
     * Idempotent by construction (a second run finds no extra). */
    [S_RECONCILE] =
    "local got = tonumber(ARGV[5])\n"
    "local extra = redis.call('LLEN', KEYS[2]) - tonumber(ARGV[4]) - got\n"
    "local moved = 0\n"
    "while extra > 0 do\n"
    "  local v = redis.call('LINDEX', KEYS[2], -1 - got)\n"
    "  if not v then break end\n"
    "  redis.call('LREM', KEYS[2], -1, v)\n"
    "  redis.call('LPUSH', KEYS[1], v)\n"
    "  extra = extra - 1\n"
    "  moved = moved + 1\n"
    "end\n"
    "return moved\n",
    /* S_REQUEUE_BAD: KEYS bad, queue; ARGV batch size. */
    [S_REQUEUE_BAD] =
    "local n = 0\n"
    "while n < tonumber(ARGV[1]) do\n"
    "  local e = redis.call('LPOP', KEYS[1])\n"
    "  if not e then break end\n"
    "  local nl = string.find(e, '\\n', 1, true)\n"
    "  if nl and string.sub(e, 1, 11) == '{\"reason\": ' then e = string.sub(e, nl + 1) end\n"
    "  redis.call('RPUSH', KEYS[2], e)\n"
    "  n = n + 1\n"
    "end\n"
    "return n\n",
    /* S_BAD_PREVIEW: KEYS bad; ARGV index, preview bytes. {header, prefix, full length}. */
    [S_BAD_PREVIEW] =
    "local e = redis.call('LINDEX', KEYS[1], ARGV[1])\n"
    "if not e then return false end\n"
    "local nl = string.find(e, '\\n', 1, true)\n"
    "local h, s = '', 1\n"
    "if nl and string.sub(e, 1, 11) == '{\"reason\": ' then h = string.sub(e, 1, nl - 1) "
    "s = nl + 1 end\n"
    "return {h, string.sub(e, s, s + tonumber(ARGV[2]) - 1), #e - s + 1}\n",
    /* S_CHECKPOINT_ADVANCE: KEYS hash; ARGV field, encoded value, decoded value. */
    [S_CHECKPOINT_ADVANCE] =
    "local function key(s)\n"
    "  if s == nil or s == '' or s == '*' then return '' end\n"
    "  local d, f = string.match(s, '^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)%.?(%d*)Z$')\n"
    "  if not d then return s end\n"
    "  return d .. '.' .. f .. string.rep('0', 9 - #f)\n"
    "end\n"
    "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if cur and cur ~= '' then\n"
    "  local ok, dec = pcall(cjson.decode, cur)\n"
    "  if ok and type(dec) == 'string' and key(ARGV[3]) <= key(dec) then return 0 end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n",
};

/* ---- process-wide outage log: one warning per Redis, however many connections ---- */

#define OUTAGE_SLOTS 16
static pthread_mutex_t outage_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char url[256];
    int connections;
} outages[OUTAGE_SLOTS];

/* Counts one more connection in an outage of url; true when it is the first. */
static bool outage_enter(const char *url)
{
    bool first = true;
    int free_slot = -1;
    pthread_mutex_lock(&outage_lock);
    for (int i = 0; i < OUTAGE_SLOTS; i++) {
        if (outages[i].connections > 0 && strcmp(outages[i].url, url) == 0) {
            first = outages[i].connections++ == 0;
            free_slot = -2;
            break;
        }
        if (outages[i].connections == 0 && free_slot == -1)
            free_slot = i;
    }
    if (free_slot >= 0) {
        snprintf(outages[free_slot].url, sizeof(outages[free_slot].url), "%s", url);
        outages[free_slot].connections = 1;
    }
    pthread_mutex_unlock(&outage_lock);
    return first;
}

/* One connection fewer in the outage of url; true when it was the last. */
static bool outage_leave(const char *url)
{
    bool last = true;
    pthread_mutex_lock(&outage_lock);
    for (int i = 0; i < OUTAGE_SLOTS; i++) {
        if (outages[i].connections > 0 && strcmp(outages[i].url, url) == 0) {
            last = --outages[i].connections == 0;
            break;
        }
    }
    pthread_mutex_unlock(&outage_lock);
    return last;
}

/* ---- the connection ---- */

struct replay_queue {
    struct replay_queue_options opt; /* defaults applied; url not kept */
    struct replay_queue_url target;
    char safe_url[256]; /* password masked, for messages */
    char role[32];
    redisContext *ctx;
    unsigned long generation;       /* successful connects so far */
    unsigned long loaded[S_COUNT];  /* generation in which each script was loaded */
    char sha[S_COUNT][41];
    uint64_t outage_since; /* replay_now_ms() of this connection's outage start, or 0 */
    unsigned outage_tries;
    uint32_t rng;
};

struct cmd {
    const char *what; /* names the operation in messages */
    int script;       /* -1, or the script run with EVALSHA */
    int argc;
    const char *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
};

enum { Q_WAIT = 0, Q_ONCE = 1 };

static void cmd_init(struct cmd *c, const char *what, int script)
{
    memset(c, 0, sizeof(*c));
    c->what = what;
    c->script = script;
    if (script >= 0)
        c->argc = 2; /* EVALSHA <sha>, filled at send time; numkeys comes first */
}

static void cmd_argn(struct cmd *c, const char *s, size_t len)
{
    c->argv[c->argc] = s;
    c->len[c->argc] = len;
    c->argc++;
}

static void cmd_arg(struct cmd *c, const char *s)
{
    cmd_argn(c, s, strlen(s));
}

static struct timeval ms_tv(unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000u), (suseconds_t)(ms % 1000u) * 1000};
    return tv;
}

static void q_drop(struct replay_queue *q)
{
    if (q->ctx != NULL)
        redisFree(q->ctx);
    q->ctx = NULL;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Errors that mean "Redis is not ready yet": wait and try again. */
static bool transient_error(const char *msg)
{
    static const char *const prefixes[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN",
                                           "READONLY", "CLUSTERDOWN", "OOM"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (starts_with(msg, prefixes[i]))
            return true;
    }
    return false;
}

/* Sorts a reply: 0 (kept in *out), REPLAY_EAGAIN (why: Redis not ready),
 * REPLAY_ENOTFOUND (NOSCRIPT) or a final error in err. Frees it unless 0. */
static int q_classify(struct replay_queue *q, redisReply *r, const char *what, redisReply **out,
                      char *why, size_t whysz, struct replay_err *err)
{
    *out = NULL;
    if (r->type != REDIS_REPLY_ERROR) {
        *out = r;
        return 0;
    }
    int rc = REPLAY_EAGAIN;
    if (transient_error(r->str))
        snprintf(why, whysz, "%s", r->str);
    else if (starts_with(r->str, "NOAUTH") || starts_with(r->str, "WRONGPASS"))
        rc = replay_err_set(err, REPLAY_EAUTH, "%s on Redis at %s: credentials refused: %s",
                            what, q->safe_url, r->str);
    else if (starts_with(r->str, "NOSCRIPT"))
        rc = REPLAY_ENOTFOUND; /* the caller loads the script again */
    else
        rc = replay_err_set(err, REPLAY_EPROTO, "%s on Redis at %s: %s", what, q->safe_url,
                            r->str);
    freeReplyObject(r);
    return rc;
}

/* ---- reply shapes: every reply is checked before a field of it is read ---- */

/* A shape: i integer, s string, S string or nil, n nil, t status, ? string, nil or
 * integer, [...] an array of exactly those elements, where '*' before the last one
 * means "every remaining element is one"; alternatives are separated by '|'. A
 * shape is always consumed whole, whether it matches or not. */
static bool shape_match(const redisReply *r, const char **p);

static bool array_match(const redisReply *r, const char **p)
{
    bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY;
    size_t n = ok ? r->elements : 0, i = 0;
    while (**p != ']' && **p != '\0') {
        if (**p == '*') { /* the rest of the elements, each of the next shape */
            const char *each = ++*p;
            for (; i < n; i++) {
                const char *again = each;
                ok = shape_match(r->element[i], &again) && ok;
            }
            (void)shape_match(NULL, p); /* consumes it */
            continue;
        }
        ok = shape_match(i < n ? r->element[i] : NULL, p) && ok;
        i++;
    }
    if (**p == ']')
        (*p)++;
    return ok && i == n;
}

static bool shape_match(const redisReply *r, const char **p)
{
    int t = r != NULL ? r->type : -1;
    char c = **p;
    if (c != '\0')
        (*p)++;
    switch (c) {
    case 'i': return t == REDIS_REPLY_INTEGER;
    case 's': return t == REDIS_REPLY_STRING;
    case 'S': return t == REDIS_REPLY_STRING || t == REDIS_REPLY_NIL;
    case 'n': return t == REDIS_REPLY_NIL;
    case 't': return t == REDIS_REPLY_STATUS;
    case '?': return t == REDIS_REPLY_STRING || t == REDIS_REPLY_NIL || t == REDIS_REPLY_INTEGER;
    case '[': return array_match(r, p);
    default: return false;
    }
}

static bool reply_is(const redisReply *r, const char *shape)
{
    for (const char *alt = shape; alt != NULL; alt = strchr(alt, '|')) {
        alt += *alt == '|';
        const char *p = alt;
        if (shape_match(r, &p) && (*p == '\0' || *p == '|'))
            return true;
    }
    return false;
}

__attribute__((format(printf, 3, 4))) static void put(char *buf, size_t size, const char *fmt,
                                                      ...)
{
    size_t n = strnlen(buf, size);
    va_list ap;
    va_start(ap, fmt);
    if (n + 1 < size)
        vsnprintf(buf + n, size - n, fmt, ap);
    va_end(ap);
}

/* Appends to buf a short account of a reply (what came, for messages): its type,
 * the first bytes of a text (non-printable bytes as '?'), the first elements of
 * an array. */
static void describe(const redisReply *r, int depth, char *buf, size_t size)
{
    static const size_t text_max = 32, elements_max = 4;
    char text[33];
    size_t k = 0;
    switch (r->type) {
    case REDIS_REPLY_INTEGER: put(buf, size, "integer %lld", r->integer); return;
    case REDIS_REPLY_NIL: put(buf, size, "nil"); return;
    case REDIS_REPLY_ARRAY:
        put(buf, size, "array of %zu", r->elements);
        for (size_t i = 0; depth == 0 && i < r->elements && i < elements_max; i++) {
            put(buf, size, i == 0 ? " [" : ", ");
            describe(r->element[i], depth + 1, buf, size);
        }
        if (depth == 0 && r->elements > 0)
            put(buf, size, r->elements > elements_max ? ", ...]" : "]");
        return;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        for (; k < r->len && k < text_max; k++)
            text[k] = r->str[k] >= 0x20 && r->str[k] < 0x7f ? r->str[k] : '?';
        text[k] = '\0';
        put(buf, size, "%s \"%s%s\"", r->type == REDIS_REPLY_STRING   ? "string"
                                     : r->type == REDIS_REPLY_STATUS ? "status"
                                                                     : "error",
            text, r->len > text_max ? "..." : "");
        return;
    default: put(buf, size, "reply of type %d", r->type); return;
    }
}

/* A reply of another shape than the command gives: REPLAY_EPROTO naming what came. */
static int q_unexpected(const struct replay_queue *q, const char *what, const redisReply *r,
                        struct replay_err *err)
{
    char got[192] = "";
    describe(r, 0, got, sizeof(got));
    return replay_err_set(err, REPLAY_EPROTO, "%s on Redis at %s: unexpected reply: %s", what,
                          q->safe_url, got);
}

/* 0 when r has the shape, else q_unexpected (r is not freed). */
static int q_expect(const struct replay_queue *q, const char *what, const redisReply *r,
                    const char *shape, struct replay_err *err)
{
    return reply_is(r, shape) ? 0 : q_unexpected(q, what, r, err);
}

/* A lost connection: the reason in why, the context dropped. */
static int q_lost(struct replay_queue *q, char *why, size_t whysz)
{
    snprintf(why, whysz, "%s", q->ctx->errstr[0] != '\0' ? q->ctx->errstr : "connection lost");
    q_drop(q);
    return REPLAY_EAGAIN;
}

/* Sends one command on the live connection and sorts its reply (q_classify). */
static int q_send(struct replay_queue *q, int argc, const char **argv, const size_t *len,
                  const char *what, redisReply **out, char *why, size_t whysz,
                  struct replay_err *err)
{
    redisReply *r = redisCommandArgv(q->ctx, argc, argv, len);
    *out = NULL;
    return r == NULL ? q_lost(q, why, whysz) : q_classify(q, r, what, out, why, whysz, err);
}

static void err_copy(struct replay_err *err, const struct replay_err *from, int code)
{
    if (err != NULL && err->code == 0) {
        *err = *from;
        err->code = code;
    }
}

/* AUTH (with the user when the URL names one) and SELECT (when db is not 0). */
static int q_auth_select(struct replay_queue *q, char *why, size_t whysz, struct replay_err *err)
{
    const struct replay_queue_url *t = &q->target;
    struct replay_err e = {0};
    redisReply *r = NULL;
    int rc = 0;
    if (t->password[0] != '\0') {
        const char *argv[3] = {"AUTH", t->user, t->password};
        size_t len[3] = {4, strlen(t->user), strlen(t->password)};
        int skip = t->user[0] == '\0' ? 1 : 0; /* AUTH <password> without a user */
        argv[skip] = "AUTH";
        len[skip] = 4;
        rc = q_send(q, 3 - skip, argv + skip, len + skip, "AUTH", &r, why, whysz, &e);
        if (rc == REPLAY_EPROTO || rc == REPLAY_EAUTH)
            rc = REPLAY_EAUTH; /* the server's own words are in e */
        else if (rc == 0)
            rc = q_expect(q, "AUTH", r, "t", &e);
        freeReplyObject(r);
        if (rc < 0 && rc != REPLAY_EAGAIN)
            err_copy(err, &e, rc);
        if (rc < 0)
            return rc;
    }
    if (t->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", t->db);
        const char *argv[2] = {"SELECT", db};
        size_t len[2] = {6, strlen(db)};
        rc = q_send(q, 2, argv, len, "SELECT", &r, why, whysz, &e);
        if (rc == REPLAY_EPROTO)
            rc = REPLAY_ECONFIG; /* a database the server does not have */
        else if (rc == 0)
            rc = q_expect(q, "SELECT", r, "t", &e);
        freeReplyObject(r);
        if (rc < 0 && rc != REPLAY_EAGAIN)
            err_copy(err, &e, rc);
    }
    return rc;
}

static int q_connect(struct replay_queue *q, char *why, size_t whysz, struct replay_err *err)
{
    struct timeval ct = ms_tv(q->opt.connect_timeout_ms);
    q->ctx = q->target.is_unix ? redisConnectUnixWithTimeout(q->target.host, ct)
                               : redisConnectWithTimeout(q->target.host, q->target.port, ct);
    if (q->ctx == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "connect to Redis: out of memory");
    if (q->ctx->err != 0) {
        snprintf(why, whysz, "%s", q->ctx->errstr);
        q_drop(q);
        return REPLAY_EAGAIN;
    }
    if (!q->target.is_unix)
        redisEnableKeepAlive(q->ctx);
    redisSetTimeout(q->ctx, ms_tv(q->opt.command_timeout_ms));
    int rc = q_auth_select(q, why, whysz, err);
    if (rc < 0 && q->ctx != NULL)
        q_drop(q);
    if (rc == 0)
        q->generation++;
    return rc;
}

/* Loads script s on this connection (once per connection). */
static int q_load_script(struct replay_queue *q, int s, char *why, size_t whysz,
                         struct replay_err *err)
{
    const char *argv[3] = {"SCRIPT", "LOAD", scripts[s]};
    size_t len[3] = {6, 4, strlen(scripts[s])};
    redisReply *r = NULL;
    int rc = q_send(q, 3, argv, len, "SCRIPT LOAD", &r, why, whysz, err);
    if (rc < 0)
        return rc;
    if (r->type != REDIS_REPLY_STRING || r->len != 40) {
        rc = q_unexpected(q, "SCRIPT LOAD", r, err);
        freeReplyObject(r);
        return rc;
    }
    memcpy(q->sha[s], r->str, 40);
    q->sha[s][40] = '\0';
    q->loaded[s] = q->generation;
    freeReplyObject(r);
    return 0;
}

/* Loads the scripts the commands need on this connection; fills EVALSHA <sha>. */
static int q_prepare(struct replay_queue *q, struct cmd *cmds, size_t n, char *why,
                     size_t whysz, struct replay_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int s = cmds[i].script, rc = 0;
        if (s < 0)
            continue;
        if (q->loaded[s] != q->generation && (rc = q_load_script(q, s, why, whysz, err)) < 0)
            return rc;
        cmds[i].argv[0] = "EVALSHA";
        cmds[i].len[0] = 7;
        cmds[i].argv[1] = q->sha[s];
        cmds[i].len[1] = 40;
    }
    return 0;
}

/* Sends the commands in one write and reads every reply (pipelining). 0 with all
 * replies in out[], else none: the first final error, else REPLAY_EAGAIN, else
 * REPLAY_ENOTFOUND when only scripts were missing (they are marked for loading). */
static int q_roundtrip(struct replay_queue *q, struct cmd *cmds, size_t n, redisReply **out,
                       char *why, size_t whysz, struct replay_err *err)
{
    int rc = 0;
    bool noscript = false;
    for (size_t i = 0; i < n; i++) {
        if (redisAppendCommandArgv(q->ctx, cmds[i].argc, cmds[i].argv, cmds[i].len) != REDIS_OK)
            return replay_err_set(err, REPLAY_ENOMEM, "%s: out of memory", cmds[i].what);
    }
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(q->ctx, &r) != REDIS_OK) {
            for (size_t k = 0; k < i; k++)
                freeReplyObject(out[k]);
            return q_lost(q, why, whysz);
        }
        int c = q_classify(q, r, cmds[i].what, &out[i], why, whysz, err);
        if (c == REPLAY_ENOTFOUND) {
            noscript = true;
            q->loaded[cmds[i].script] = 0;
        } else if (c != 0 && (rc == 0 || rc == REPLAY_EAGAIN)) {
            rc = c;
        }
    }
    if (rc == 0 && noscript)
        rc = REPLAY_ENOTFOUND;
    for (size_t i = 0; rc != 0 && i < n; i++) {
        freeReplyObject(out[i]);
        out[i] = NULL;
    }
    return rc;
}

/* One attempt: connect if needed, load scripts if needed, send, read. */
static int q_attempt(struct replay_queue *q, struct cmd *cmds, size_t n, redisReply **out,
                     char *why, size_t whysz, struct replay_err *err)
{
    int rc = 0;
    if (q->ctx == NULL && (rc = q_connect(q, why, whysz, err)) < 0)
        return rc;
    for (int tries = 0; tries < RELOAD_TRIES; tries++) {
        if ((rc = q_prepare(q, cmds, n, why, whysz, err)) < 0)
            return rc;
        if ((rc = q_roundtrip(q, cmds, n, out, why, whysz, err)) != REPLAY_ENOTFOUND)
            return rc;
    }
    snprintf(why, whysz, "scripts keep disappearing (SCRIPT FLUSH?)");
    q_drop(q);
    return REPLAY_EAGAIN;
}

static void q_outage_begin(struct replay_queue *q, const char *why)
{
    q->outage_tries++;
    if (q->outage_since != 0)
        return;
    q->outage_since = replay_now_ms();
    if (outage_enter(q->safe_url))
        replay_warn("No connection to Redis at %s (%s), retrying with backoff up to %u ms: %s",
                    q->safe_url, q->role, q->opt.backoff_max_ms, why);
}

static void q_outage_end(struct replay_queue *q)
{
    if (q->outage_since == 0)
        return;
    uint64_t ms = replay_now_ms() - q->outage_since;
    if (outage_leave(q->safe_url))
        replay_info("Reconnected to Redis at %s (%s) after %" PRIu64 ".%01" PRIu64
                    " s (%u attempts)",
                    q->safe_url, q->role, ms / 1000u, (ms % 1000u) / 100u, q->outage_tries);
    q->outage_since = 0;
    q->outage_tries = 0;
}

/* Half the delay plus a random part of the other half (xorshift; no shared state). */
static uint64_t q_jitter(struct replay_queue *q, uint64_t delay)
{
    q->rng ^= q->rng << 13;
    q->rng ^= q->rng >> 17;
    q->rng ^= q->rng << 5;
    return delay / 2 + (delay > 1 ? q->rng % (delay / 2 + 1) : 0);
}

/* Runs the n commands (one round trip) until they succeed, fail for good, are
 * canceled, or give up; the replies in out[0..n). */
static int q_exec_n(struct replay_queue *q, struct cmd *cmds, size_t n, unsigned flags,
                    redisReply **out, struct replay_err *err)
{
    uint64_t delay = q->opt.backoff_min_ms;
    char why[256] = "";
    const struct cmd *c = &cmds[n - 1];
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (;;) {
        if (!(flags & Q_ONCE) && replay_cancel_requested(q->opt.cancel))
            return replay_err_set(err, REPLAY_ECANCELED, "%s on Redis at %s: canceled by "
                                  "shutdown", c->what, q->safe_url);
        int rc = q_attempt(q, cmds, n, out, why, sizeof(why), err);
        if (rc != REPLAY_EAGAIN) {
            if (q->ctx != NULL) /* Redis answered: whatever it said, it is back */
                q_outage_end(q);
            return rc;
        }
        q_outage_begin(q, why);
        uint64_t down = replay_now_ms() - q->outage_since;
        if ((flags & Q_ONCE) || (q->opt.give_up_ms != 0 && down >= q->opt.give_up_ms))
            return replay_err_set(err, REPLAY_ECONN, "%s: no connection to Redis at %s for "
                                  "%" PRIu64 " ms: %s", c->what, q->safe_url, down, why);
        (void)replay_cancel_sleep_ms(q->opt.cancel, q_jitter(q, delay), true);
        delay = delay * 2 > q->opt.backoff_max_ms ? q->opt.backoff_max_ms : delay * 2;
    }
}

static int q_exec(struct replay_queue *q, struct cmd *c, unsigned flags, redisReply **out,
                  struct replay_err *err)
{
    return q_exec_n(q, c, 1, flags, out, err);
}

/* q_exec for a reply of the given shape (see shape_match). */
static int q_exec_shape(struct replay_queue *q, struct cmd *c, const char *shape,
                        redisReply **out, struct replay_err *err)
{
    int rc = q_exec(q, c, Q_WAIT, out, err);
    if (rc == 0 && (rc = q_expect(q, c->what, *out, shape, err)) < 0) {
        freeReplyObject(*out);
        *out = NULL;
    }
    return rc;
}

static int q_exec_int(struct replay_queue *q, struct cmd *c, long long *value,
                      struct replay_err *err)
{
    redisReply *r = NULL;
    int rc = q_exec_shape(q, c, "i", &r, err);
    if (rc == 0 && value != NULL)
        *value = r->integer;
    freeReplyObject(r);
    return rc;
}

static void apply_defaults(struct replay_queue_options *o)
{
    if (o->connect_timeout_ms == 0)
        o->connect_timeout_ms = 5000;
    if (o->command_timeout_ms == 0)
        o->command_timeout_ms = 15000;
    if (o->wait_slice_ms == 0)
        o->wait_slice_ms = 500;
    if (o->command_timeout_ms < o->wait_slice_ms + 1000)
        o->command_timeout_ms = o->wait_slice_ms + 1000; /* a blocking wait is not an outage */
    if (o->backoff_min_ms == 0)
        o->backoff_min_ms = 50;
    if (o->backoff_max_ms < o->backoff_min_ms)
        o->backoff_max_ms = o->backoff_min_ms > 5000 ? o->backoff_min_ms : 5000;
    if (o->max_message == 0)
        o->max_message = REPLAY_QUEUE_MAX_MESSAGE;
    if (o->dead_after_ms == 0)
        o->dead_after_ms = 900000;
    if (o->recover_interval_ms == 0)
        o->recover_interval_ms = 60000;
}

int replay_queue_open(const struct replay_queue_options *opt, struct replay_queue **out,
                      struct replay_err *err)
{
    if (out == NULL || opt == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "open Redis: no options or output");
    *out = NULL;
    struct replay_queue *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "open Redis: out of memory");
    int rc = replay_queue_url_parse(opt->url, &q->target, err);
    if (rc < 0) {
        free(q);
        return rc;
    }
    replay_redact_add_url_secrets(opt->url);
    replay_redact_add_secret(q->target.password);
    replay_redact_url(opt->url, q->safe_url, sizeof(q->safe_url));
    snprintf(q->role, sizeof(q->role), "%s", opt->role != NULL ? opt->role : "redis");
    q->opt = *opt;
    q->opt.url = NULL;
    q->opt.role = NULL;
    apply_defaults(&q->opt);
    q->rng = (uint32_t)(replay_now_ms() ^ ((uintptr_t)q >> 4) ^ ((uint32_t)getpid() << 16)) | 1u;
    struct cmd c;
    cmd_init(&c, "PING", -1);
    cmd_arg(&c, "PING");
    redisReply *r = NULL;
    if ((rc = q_exec_shape(q, &c, "t", &r, err)) < 0) {
        replay_queue_close(q);
        return rc;
    }
    freeReplyObject(r);
    *out = q;
    return 0;
}

void replay_queue_close(struct replay_queue *q)
{
    if (q == NULL)
        return;
    if (q->outage_since != 0)
        (void)outage_leave(q->safe_url);
    q_drop(q);
    free(q);
}

/* ---- producing ---- */

static int q_rpush(struct replay_queue *q, enum replay_queue_type t, char *msg, size_t len,
                   struct replay_err *err)
{
    int rc = 0;
    if (len > q->opt.max_message)
        rc = replay_err_set(err, REPLAY_ETOOBIG, "push to %s: message of %zu bytes is larger "
                            "than the limit of %zu bytes", replay_queue_key(t), len,
                            q->opt.max_message);
    if (rc == 0) {
        struct cmd c;
        cmd_init(&c, "RPUSH", -1);
        cmd_arg(&c, "RPUSH");
        cmd_arg(&c, replay_queue_key(t));
        cmd_argn(&c, msg, len);
        rc = q_exec_int(q, &c, NULL, err);
    }
    free(msg);
    if (rc == 0)
        replay_progress();
    return rc;
}

int replay_queue_push(struct replay_queue *q, enum replay_queue_type t, const char *json,
                      size_t len, struct replay_err *err)
{
    char *msg = NULL;
    size_t n = 0;
    if (q == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "push: no connection");
    int rc = replay_queue_encode(t, json, len, &msg, &n, err);
    return rc < 0 ? rc : q_rpush(q, t, msg, n, err);
}

int replay_queue_push_alert(struct replay_queue *q, const char *alert_id,
                            const char *reporting_ts, struct replay_err *err)
{
    char *msg = NULL;
    size_t n = 0;
    if (q == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "push: no connection");
    int rc = replay_queue_encode_alert(alert_id, reporting_ts, &msg, &n, err);
    return rc < 0 ? rc : q_rpush(q, REPLAY_QUEUE_ALERT, msg, n, err);
}

int replay_queue_push_submission(struct replay_queue *q, const char *sid, const char *completed,
                                 struct replay_err *err)
{
    char *msg = NULL;
    size_t n = 0;
    if (q == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "push: no connection");
    int rc = replay_queue_encode_submission(sid, completed, &msg, &n, err);
    return rc < 0 ? rc : q_rpush(q, REPLAY_QUEUE_SUBMISSION, msg, n, err);
}

int replay_queue_push_file(struct replay_queue *q, const char *path, struct replay_err *err)
{
    char *msg = NULL;
    size_t n = 0;
    if (q == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "push: no connection");
    int rc = replay_queue_encode_file(path, &msg, &n, err);
    return rc < 0 ? rc : q_rpush(q, REPLAY_QUEUE_FILE, msg, n, err);
}

/* ---- consuming ---- */

struct pending_ack {
    char *raw;
    size_t len;
};

struct replay_queue_consumer {
    struct replay_queue *q;
    enum replay_queue_type type;
    char id[REPLAY_QUEUE_CONSUMER_ID_MAX + 1];
    const char *queue_key;
    char processing_key[KEY_MAX];
    char processing_prefix[64];
    char bad_key[KEY_MAX];
    char consumers_key[KEY_MAX];
    char ops_key[KEY_MAX];
    char max[24];                    /* max_message as text, for the pop script */
    struct replay_queue_item *held;  /* handed out, not acknowledged (linked list) */
    size_t n_held;
    size_t n_leaked;                 /* freed unacknowledged: still in the processing list */
    struct pending_ack acks[ACK_BATCH]; /* acknowledged, not yet sent */
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
    snprintf(c->processing_key, KEY_MAX, "%s%s", c->processing_prefix, c->id);
    snprintf(c->bad_key, KEY_MAX, "%s:bad", k);
    snprintf(c->consumers_key, KEY_MAX, "%s:consumers", k);
    snprintf(c->ops_key, KEY_MAX, "%s:ops", k);
    snprintf(c->max, sizeof(c->max), "%zu", c->q->opt.max_message);
}

static bool touch_due(const struct replay_queue_consumer *c)
{
    return replay_now_ms() - c->last_touch >= TOUCH_EVERY_MS;
}

/* Starts a consumer script: numkeys, the five keys, id, a new operation id, touch. */
static void consumer_cmd(struct replay_queue_consumer *c, struct cmd *cmd, const char *what,
                         int script)
{
    uint64_t now = replay_now_ms();
    bool touch = touch_due(c);
    cmd_init(cmd, what, script);
    cmd_arg(cmd, "5");
    cmd_arg(cmd, c->queue_key);
    cmd_arg(cmd, c->processing_key);
    cmd_arg(cmd, c->bad_key);
    cmd_arg(cmd, c->consumers_key);
    cmd_arg(cmd, c->ops_key);
    cmd_arg(cmd, c->id);
    snprintf(c->opid, sizeof(c->opid), "%08" PRIx32 "-%lu", c->session, ++c->op);
    cmd_arg(cmd, c->opid);
    cmd_arg(cmd, touch ? "1" : "0");
    if (touch)
        c->last_touch = now;
}

/* Appends the pending acknowledgements (sent with this command). */
static void cmd_acks(struct replay_queue_consumer *c, struct cmd *cmd)
{
    for (size_t i = 0; i < c->n_acks; i++)
        cmd_argn(cmd, c->acks[i].raw, c->acks[i].len);
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
static int consumer_exec(struct replay_queue_consumer *c, struct cmd *cmd, unsigned flags,
                         long long *result, struct replay_err *err)
{
    redisReply *r = NULL;
    int rc = q_exec(c->q, cmd, flags, &r, err);
    if (rc < 0)
        return rc;
    long long value = 0, missing = 0;
    if ((rc = q_expect(c->q, cmd->what, r, "i|[ii]", err)) == 0) {
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
    struct cmd cmd;
    long long n = 0;
    consumer_cmd(c, &cmd, "return own processing list", S_RETURN_OWN);
    cmd_acks(c, &cmd);
    int rc = consumer_exec(c, &cmd, Q_WAIT, &n, err);
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
    struct cmd cmd;
    char dead_after[24];
    redisReply *r = NULL;
    snprintf(dead_after, sizeof(dead_after), "%u", c->q->opt.dead_after_ms);
    cmd_init(&cmd, "recover dead consumers", S_RECOVER_DEAD);
    cmd_arg(&cmd, "3");
    cmd_arg(&cmd, c->queue_key);
    cmd_arg(&cmd, c->consumers_key);
    cmd_arg(&cmd, c->ops_key);
    cmd_arg(&cmd, c->id);
    cmd_arg(&cmd, dead_after);
    cmd_arg(&cmd, c->processing_prefix);
    int rc = q_exec_shape(c->q, &cmd, "[ii]", &r, err);
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
    c->session = (uint32_t)(replay_now_ms() * 2654435761u) ^ q->rng ^ (uint32_t)getpid();
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
        struct cmd cmd;
        struct replay_err ignored = {0};
        consumer_cmd(c, &cmd, "close consumer", S_CLOSE);
        cmd_acks(c, &cmd);
        c->last_touch = 0;
        if (consumer_exec(c, &cmd, Q_ONCE, NULL, &ignored) < 0 && c->n_acks > 0)
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
static int park(struct replay_queue_consumer *c, const char *value, size_t len,
                const char *reason, struct replay_err *err)
{
    struct cmd cmd;
    char lenbuf[24];
    long long n = 0;
    char *header = bad_header(c->id, reason, len);
    if (header == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "park a bad message: out of memory");
    snprintf(lenbuf, sizeof(lenbuf), "%zu", len);
    consumer_cmd(c, &cmd, "move a bad message to its :bad list", S_PARK);
    cmd_arg(&cmd, value != NULL ? "value" : "tail");
    if (value != NULL)
        cmd_argn(&cmd, value, len);
    else
        cmd_arg(&cmd, lenbuf);
    cmd_arg(&cmd, header);
    cmd_acks(c, &cmd);
    int rc = consumer_exec(c, &cmd, Q_WAIT, &n, err);
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
    struct cmd cmd;
    char when[40];
    redisReply *r = NULL;
    iso_now(when, sizeof(when));
    consumer_cmd(c, &cmd, "pop", S_POP);
    cmd_arg(&cmd, c->max);
    cmd_arg(&cmd, when);
    cmd_acks(c, &cmd);
    /* {0 empty, nil}, {1 parked, its size}, {2 item, the item or nil}, missing, left */
    int rc = q_exec_shape(c->q, &cmd, "[i?ii]", &r, err);
    if (rc < 0)
        return rc;
    const redisReply *v = r->element[1];
    *kind = r->element[0]->integer;
    if (!reply_is(v, *kind == 0 ? "n" : *kind == 1 ? "i" : *kind == 2 ? "S" : "")) {
        rc = q_unexpected(c->q, cmd.what, r, err);
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
    struct cmd cmd;
    char known[24];
    long long moved = 0;
    snprintf(known, sizeof(known), "%zu", c->n_held + c->n_leaked + c->n_acks);
    consumer_cmd(c, &cmd, "reconcile the processing list", S_RECONCILE);
    cmd_arg(&cmd, known);
    cmd_arg(&cmd, got ? "1" : "0");
    int rc = q_exec_int(c->q, &cmd, &moved, err);
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
static int wait_replies(struct replay_queue_consumer *c, redisReply **r, size_t n,
                        bool plain_lrem, const char *secs, struct replay_err *err)
{
    const redisReply *ack = n == 3 ? r[0] : NULL, *len = r[n - 1];
    char what[KEY_MAX + 64];
    snprintf(what, sizeof(what), "BLMOVE %s %s", c->queue_key, secs);
    int rc = ack != NULL ? q_expect(c->q, "acknowledge", ack, "i", err) : 0;
    if (rc == 0)
        rc = q_expect(c->q, what, r[n - 2], "S", err);
    if (rc == 0)
        rc = q_expect(c->q, "LLEN", len, "i", err);
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
static bool wait_acks(struct replay_queue_consumer *c, struct cmd *cmd)
{
    if (c->n_acks == 1 && !touch_due(c)) {
        cmd_init(cmd, "acknowledge", -1);
        cmd_arg(cmd, "LREM");
        cmd_arg(cmd, c->processing_key);
        cmd_arg(cmd, "-1");
        cmd_acks(c, cmd);
        return true;
    }
    consumer_cmd(c, cmd, "acknowledge", S_ACK);
    cmd_acks(c, cmd);
    return false;
}

/* Waits up to ms for an item with BLMOVE into the processing list. The pending
 * acknowledgements go first and LLEN after, in the same round trip. */
static int pop_wait(struct replay_queue_consumer *c, uint64_t ms,
                    struct replay_queue_item **out, struct replay_err *err)
{
    struct cmd cmds[3];
    char secs[32];
    redisReply *r[3] = {NULL, NULL, NULL};
    size_t n = 0;
    unsigned long generation = c->q->generation;
    bool plain_lrem = false;
    snprintf(secs, sizeof(secs), "%" PRIu64 ".%03" PRIu64, ms / 1000u, ms % 1000u);
    if (c->n_acks > 0 || touch_due(c))
        plain_lrem = wait_acks(c, &cmds[n++]);
    cmd_init(&cmds[n], "BLMOVE", -1);
    cmd_arg(&cmds[n], "BLMOVE");
    cmd_arg(&cmds[n], c->queue_key);
    cmd_arg(&cmds[n], c->processing_key);
    cmd_arg(&cmds[n], "LEFT");
    cmd_arg(&cmds[n], "RIGHT");
    cmd_arg(&cmds[n++], secs);
    cmd_init(&cmds[n], "LLEN", -1);
    cmd_arg(&cmds[n], "LLEN");
    cmd_arg(&cmds[n++], c->queue_key);
    replay_idle_begin();
    int rc = q_exec_n(c->q, cmds, n, Q_WAIT, r, err);
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
    struct cmd cmd;
    consumer_cmd(c, &cmd, "acknowledge", S_ACK);
    cmd_acks(c, &cmd);
    return consumer_exec(c, &cmd, Q_WAIT, NULL, err);
}

/* The pending batch holds as much as one command may carry. */
static bool acks_full(const struct replay_queue_consumer *c)
{
    return c->n_acks >= ACK_BATCH || c->ack_bytes >= ACK_BYTES;
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
    struct cmd cmd;
    long long n = 0;
    int rc = check_held(c, item, "release", err);
    if (rc < 0)
        return rc;
    consumer_cmd(c, &cmd, "release", S_RELEASE);
    cmd_argn(&cmd, item->raw, item->len);
    cmd_acks(c, &cmd);
    if ((rc = consumer_exec(c, &cmd, Q_WAIT, &n, err)) < 0)
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
    struct cmd cmd;
    if (c == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "touch: no consumer");
    cmd_init(&cmd, "touch", S_TOUCH);
    cmd_arg(&cmd, "1");
    cmd_arg(&cmd, c->consumers_key);
    cmd_arg(&cmd, c->id);
    int rc = q_exec_int(c->q, &cmd, NULL, err);
    if (rc == 0)
        c->last_touch = replay_now_ms();
    return rc;
}

/* ---- checkpoints ---- */

static bool list_type(enum replay_queue_type t)
{
    return t == REPLAY_QUEUE_BADLIST || t == REPLAY_QUEUE_SAFELIST ||
           t == REPLAY_QUEUE_SIGNATURE || t == REPLAY_QUEUE_WORKFLOW;
}

static int checkpoint_args(struct replay_queue *q, enum replay_queue_type t, const char *op,
                           struct replay_err *err)
{
    if (q == NULL || !list_type(t))
        return replay_err_set(err, REPLAY_EINVAL, "%s checkpoint: only badlist, safelist, "
                              "signature and workflow have one", op);
    return 0;
}

/* Decodes a stored checkpoint (a JSON string) into *out. */
static int checkpoint_decode(enum replay_queue_type t, const char *s, size_t len, char **out,
                             struct replay_err *err)
{
    json_t *v = json_loadb(s, len, JSON_DECODE_ANY, NULL);
    if (v == NULL || !json_is_string(v)) {
        json_decref(v);
        return replay_err_set(err, REPLAY_EFORMAT, "checkpoint \"%s\" in %s is not a JSON "
                              "string: %.64s", replay_queue_type_name(t),
                              REPLAY_QUEUE_CHECKPOINTS_KEY, s);
    }
    *out = strdup(json_string_value(v));
    json_decref(v);
    return *out == NULL ? replay_err_set(err, REPLAY_ENOMEM, "checkpoint: out of memory") : 0;
}

int replay_queue_checkpoint_get(struct replay_queue *q, enum replay_queue_type t, char **out,
                                struct replay_err *err)
{
    struct cmd cmd;
    redisReply *r = NULL;
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "read checkpoint: no output");
    *out = NULL;
    int rc = checkpoint_args(q, t, "read", err);
    if (rc < 0)
        return rc;
    cmd_init(&cmd, "HGET " REPLAY_QUEUE_CHECKPOINTS_KEY, -1);
    cmd_arg(&cmd, "HGET");
    cmd_arg(&cmd, REPLAY_QUEUE_CHECKPOINTS_KEY);
    cmd_arg(&cmd, replay_queue_type_name(t));
    if ((rc = q_exec_shape(q, &cmd, "S", &r, err)) < 0)
        return rc;
    if (r->type == REDIS_REPLY_NIL || r->len == 0) {
        *out = strdup("*");
        rc = *out == NULL ? replay_err_set(err, REPLAY_ENOMEM, "checkpoint: out of memory") : 0;
    } else {
        rc = checkpoint_decode(t, r->str, r->len, out, err);
    }
    freeReplyObject(r);
    return rc;
}

static char *checkpoint_encode(const char *value)
{
    json_t *v = json_string(value);
    char *s = v != NULL ? replay__pyjson_dumps(v, 0, NULL) : NULL;
    json_decref(v);
    return s;
}

static int checkpoint_write(struct replay_queue *q, enum replay_queue_type t, const char *value,
                            bool conditional, long long *stored, struct replay_err *err)
{
    struct cmd cmd;
    int rc = checkpoint_args(q, t, "write", err);
    if (rc < 0)
        return rc;
    if (value == NULL || value[0] == '\0')
        return replay_err_set(err, REPLAY_EINVAL, "write checkpoint %s: empty value",
                              replay_queue_type_name(t));
    char *enc = checkpoint_encode(value);
    if (enc == NULL)
        return replay_err_set(err, REPLAY_EFORMAT, "write checkpoint %s: value is not valid "
                              "UTF-8", replay_queue_type_name(t));
    if (conditional) {
        cmd_init(&cmd, "advance checkpoint", S_CHECKPOINT_ADVANCE);
        cmd_arg(&cmd, "1");
    } else {
        cmd_init(&cmd, "HSET " REPLAY_QUEUE_CHECKPOINTS_KEY, -1);
        cmd_arg(&cmd, "HSET");
    }
    cmd_arg(&cmd, REPLAY_QUEUE_CHECKPOINTS_KEY);
    cmd_arg(&cmd, replay_queue_type_name(t));
    cmd_arg(&cmd, enc);
    if (conditional)
        cmd_arg(&cmd, value);
    rc = q_exec_int(q, &cmd, stored, err);
    free(enc);
    return rc;
}

int replay_queue_checkpoint_set(struct replay_queue *q, enum replay_queue_type t,
                                const char *value, struct replay_err *err)
{
    return checkpoint_write(q, t, value, false, NULL, err);
}

int replay_queue_checkpoint_advance(struct replay_queue *q, enum replay_queue_type t,
                                    const char *value, bool *advanced, struct replay_err *err)
{
    long long stored = 0;
    int rc = checkpoint_write(q, t, value, true, &stored, err);
    if (advanced != NULL)
        *advanced = rc == 0 && stored == 1;
    return rc;
}

/* ---- operator views ---- */

static int q_llen(struct replay_queue *q, const char *key, long long *n, struct replay_err *err)
{
    struct cmd cmd;
    cmd_init(&cmd, "LLEN", -1);
    cmd_arg(&cmd, "LLEN");
    cmd_arg(&cmd, key);
    return q_exec_int(q, &cmd, n, err);
}

/* Server time in ms (TIME), for ages of liveness records. */
static int q_time_ms(struct replay_queue *q, long long *ms, struct replay_err *err)
{
    struct cmd cmd;
    redisReply *r = NULL;
    cmd_init(&cmd, "TIME", -1);
    cmd_arg(&cmd, "TIME");
    int rc = q_exec_shape(q, &cmd, "[ss]", &r, err); /* seconds, microseconds */
    if (rc == 0)
        *ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
    freeReplyObject(r);
    return rc;
}

/* The liveness records of a queue: HGETALL. */
static int q_records(struct replay_queue *q, enum replay_queue_type t, redisReply **out,
                     struct replay_err *err)
{
    struct cmd cmd;
    char key[KEY_MAX];
    snprintf(key, sizeof(key), "%s:consumers", replay_queue_key(t));
    cmd_init(&cmd, "HGETALL", -1);
    cmd_arg(&cmd, "HGETALL");
    cmd_arg(&cmd, key);
    return q_exec_shape(q, &cmd, "[*s]", out, err); /* field, value, ... */
}

static long long record_unseen(const redisReply *records, const char *id, long long now)
{
    for (size_t i = 0; i + 1 < records->elements; i += 2) {
        if (strcmp(records->element[i]->str, id) == 0)
            return now - atoll(records->element[i + 1]->str);
    }
    return -1;
}

/* One SCAN page: reports each processing list; remembers its consumer in ids. */
static int scan_page(struct replay_queue *q, const char *prefix, char *cursor,
                     const redisReply *records, long long now, replay_queue_processing_cb cb,
                     void *ud, struct replay_err *err)
{
    struct cmd cmd;
    char pattern[KEY_MAX + 2];
    redisReply *r = NULL;
    snprintf(pattern, sizeof(pattern), "%s*", prefix);
    cmd_init(&cmd, "SCAN", -1);
    cmd_arg(&cmd, "SCAN");
    cmd_arg(&cmd, cursor);
    cmd_arg(&cmd, "MATCH");
    cmd_arg(&cmd, pattern);
    cmd_arg(&cmd, "COUNT");
    cmd_arg(&cmd, SCAN_COUNT);
    int rc = q_exec_shape(q, &cmd, "[s[*s]]", &r, err); /* cursor, keys */
    if (rc < 0)
        return rc;
    const redisReply *next = r->element[0], *keys = r->element[1];
    bool ok = next->len > 0 && next->len < 32 && strspn(next->str, "0123456789") == next->len;
    for (size_t i = 0; ok && i < keys->elements; i++)
        ok = starts_with(keys->element[i]->str, prefix);
    if (!ok) {
        rc = q_unexpected(q, cmd.what, r, err);
        freeReplyObject(r);
        return rc;
    }
    memcpy(cursor, next->str, next->len + 1);
    for (size_t i = 0; i < keys->elements && rc == 0; i++) {
        const char *key = keys->element[i]->str, *id = key + strlen(prefix);
        long long depth = 0;
        if ((rc = q_llen(q, key, &depth, err)) == 0)
            cb(id, depth, record_unseen(records, id, now), ud);
    }
    freeReplyObject(r);
    return rc;
}

int replay_queue_each_processing(struct replay_queue *q, enum replay_queue_type t,
                                 replay_queue_processing_cb cb, void *ud, struct replay_err *err)
{
    char prefix[KEY_MAX], cursor[32] = "0";
    redisReply *records = NULL;
    long long now = 0;
    if (q == NULL || cb == NULL || replay_queue_key(t) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "processing lists: bad arguments");
    snprintf(prefix, sizeof(prefix), "%s:processing:", replay_queue_key(t));
    int rc = q_time_ms(q, &now, err);
    if (rc == 0)
        rc = q_records(q, t, &records, err);
    /* Lists first (SCAN may repeat a key: harmless for a view), then records without one. */
    do {
        if (rc == 0)
            rc = scan_page(q, prefix, cursor, records, now, cb, ud, err);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    for (size_t i = 0; rc == 0 && i + 1 < records->elements; i += 2) {
        const char *id = records->element[i]->str;
        long long depth = 0;
        char key[KEY_MAX * 2];
        snprintf(key, sizeof(key), "%s%s", prefix, id);
        if ((rc = q_llen(q, key, &depth, err)) == 0 && depth == 0)
            cb(id, 0, now - atoll(records->element[i + 1]->str), ud);
    }
    freeReplyObject(records);
    return rc;
}

struct sum {
    long long depth, records;
};

static void add_depth(const char *consumer, long long depth, long long unseen_ms, void *ud)
{
    struct sum *s = ud;
    (void)consumer;
    s->depth += depth;
    s->records += unseen_ms >= 0 ? 1 : 0;
}

int replay_queue_counts(struct replay_queue *q, enum replay_queue_type t,
                        struct replay_queue_counts *out, struct replay_err *err)
{
    char bad[KEY_MAX];
    struct sum s = {0, 0};
    if (q == NULL || out == NULL || replay_queue_key(t) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "queue counts: bad arguments");
    memset(out, 0, sizeof(*out));
    snprintf(bad, sizeof(bad), "%s:bad", replay_queue_key(t));
    int rc = q_llen(q, replay_queue_key(t), &out->queued, err);
    if (rc == 0)
        rc = q_llen(q, bad, &out->bad, err);
    if (rc == 0)
        rc = replay_queue_each_processing(q, t, add_depth, &s, err);
    out->processing = s.depth;
    out->consumers = s.records;
    return rc;
}

int replay_queue_each_bad(struct replay_queue *q, enum replay_queue_type t, size_t limit,
                          size_t preview, replay_queue_bad_cb cb, void *ud,
                          struct replay_err *err)
{
    char bad[KEY_MAX], index[24], pbuf[24];
    if (q == NULL || cb == NULL || replay_queue_key(t) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "bad list: bad arguments");
    snprintf(bad, sizeof(bad), "%s:bad", replay_queue_key(t));
    snprintf(pbuf, sizeof(pbuf), "%zu", preview);
    for (size_t i = 0; i < limit; i++) {
        struct cmd cmd;
        redisReply *r = NULL;
        snprintf(index, sizeof(index), "%zu", i);
        cmd_init(&cmd, "read a :bad entry", S_BAD_PREVIEW);
        cmd_arg(&cmd, "1");
        cmd_arg(&cmd, bad);
        cmd_arg(&cmd, index);
        cmd_arg(&cmd, pbuf);
        /* {header, first bytes, full length}, or nil past the end */
        int rc = q_exec_shape(q, &cmd, "n|[ssi]", &r, err);
        if (rc < 0)
            return rc;
        bool end = r->type == REDIS_REPLY_NIL;
        if (!end)
            cb(r->element[0]->str, r->element[1]->str, r->element[1]->len,
               r->element[2]->integer, ud);
        freeReplyObject(r);
        if (end)
            break;
    }
    return 0;
}

int replay_queue_requeue_bad(struct replay_queue *q, enum replay_queue_type t, long long *moved,
                             struct replay_err *err)
{
    char bad[KEY_MAX];
    long long total = 0, n = 0;
    if (moved != NULL)
        *moved = 0;
    if (q == NULL || replay_queue_key(t) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "requeue bad: bad arguments");
    snprintf(bad, sizeof(bad), "%s:bad", replay_queue_key(t));
    do {
        struct cmd cmd;
        cmd_init(&cmd, "requeue :bad entries", S_REQUEUE_BAD);
        cmd_arg(&cmd, "2");
        cmd_arg(&cmd, bad);
        cmd_arg(&cmd, replay_queue_key(t));
        cmd_arg(&cmd, REQUEUE_BATCH);
        int rc = q_exec_int(q, &cmd, &n, err);
        if (rc < 0)
            return rc;
        total += n;
        if (moved != NULL)
            *moved = total;
    } while (n > 0);
    return 0;
}
