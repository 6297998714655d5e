/* queue_checkpoint: the list exports' checkpoints in the hash replay_checkpoints
 * (persistent Redis), stored as upstream does: json.dumps of the date, quotes
 * included. Advancing is one script, so concurrent exporters never move it back. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pyjson_int.h"
#include "queue_int.h"

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
    struct replay__q_cmd cmd;
    redisReply *r = NULL;
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "read checkpoint: no output");
    *out = NULL;
    int rc = checkpoint_args(q, t, "read", err);
    if (rc < 0)
        return rc;
    replay__q_cmd_init(&cmd, "HGET " REPLAY_QUEUE_CHECKPOINTS_KEY, -1);
    replay__q_arg(&cmd, "HGET");
    replay__q_arg(&cmd, REPLAY_QUEUE_CHECKPOINTS_KEY);
    replay__q_arg(&cmd, replay_queue_type_name(t));
    if ((rc = replay__q_exec_shape(q, &cmd, "S", &r, err)) < 0)
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
    struct replay__q_cmd cmd;
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
        replay__q_cmd_init(&cmd, "advance checkpoint", REPLAY__QS_CHECKPOINT_ADVANCE);
        replay__q_arg(&cmd, "1");
    } else {
        replay__q_cmd_init(&cmd, "HSET " REPLAY_QUEUE_CHECKPOINTS_KEY, -1);
        replay__q_arg(&cmd, "HSET");
    }
    replay__q_arg(&cmd, REPLAY_QUEUE_CHECKPOINTS_KEY);
    replay__q_arg(&cmd, replay_queue_type_name(t));
    replay__q_arg(&cmd, enc);
    if (conditional)
        replay__q_arg(&cmd, value);
    rc = replay__q_exec_int(q, &cmd, stored, err);
    free(enc);
    return rc;
}

int replay_queue_checkpoint_set(struct replay_queue *q, enum replay_queue_type t, const char *value,
                                struct replay_err *err)
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
