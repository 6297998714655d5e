/* queue_push: producers. A message is validated and encoded as Python's json.dumps
 * (queue_parse.c), then RPUSHed at the tail of its queue (or LPUSHed at its head,
 * to be taken next). */
#include <stdlib.h>

#include "queue_int.h"
#include "replay/lifecycle.h"

static int q_push(struct replay_queue *q, enum replay_queue_type t, char *msg, size_t len,
                  bool head, struct replay_err *err)
{
    int rc = 0;
    if (len > q->opt.max_message)
        rc = replay_err_set(err, REPLAY_ETOOBIG, "push to %s: message of %zu bytes is larger "
                            "than the limit of %zu bytes", replay_queue_key(t), len,
                            q->opt.max_message);
    if (rc == 0) {
        struct replay__q_cmd c;
        replay__q_cmd_init(&c, head ? "LPUSH" : "RPUSH", -1);
        replay__q_arg(&c, head ? "LPUSH" : "RPUSH");
        replay__q_arg(&c, replay_queue_key(t));
        replay__q_argn(&c, msg, len);
        rc = replay__q_exec_int(q, &c, NULL, err);
    }
    free(msg);
    if (rc == 0)
        replay_progress();
    return rc;
}

static int q_rpush(struct replay_queue *q, enum replay_queue_type t, char *msg, size_t len,
                   struct replay_err *err)
{
    return q_push(q, t, msg, len, false, err);
}

/* 0 when there is a connection to push to. */
static int have(const struct replay_queue *q, struct replay_err *err)
{
    return q != NULL ? 0 : replay_err_set(err, REPLAY_EINVAL, "push: no connection");
}

int replay_queue_push(struct replay_queue *q, enum replay_queue_type t, const char *json,
                      size_t len, struct replay_err *err)
{
    char *msg = NULL;
    size_t n = 0;
    int rc = have(q, err);
    rc = rc < 0 ? rc : replay_queue_encode(t, json, len, &msg, &n, err);
    return rc < 0 ? rc : q_rpush(q, t, msg, n, err);
}

int replay_queue_push_alert(struct replay_queue *q, const char *alert_id, const char *reporting_ts,
                            struct replay_err *err)
{
    char *msg = NULL;
    size_t n = 0;
    int rc = have(q, err);
    rc = rc < 0 ? rc : replay_queue_encode_alert(alert_id, reporting_ts, &msg, &n, err);
    return rc < 0 ? rc : q_rpush(q, REPLAY_QUEUE_ALERT, msg, n, err);
}

int replay_queue_push_submission(struct replay_queue *q, const char *sid, const char *completed,
                                 struct replay_err *err)
{
    char *msg = NULL;
    size_t n = 0;
    int rc = have(q, err);
    rc = rc < 0 ? rc : replay_queue_encode_submission(sid, completed, &msg, &n, err);
    return rc < 0 ? rc : q_rpush(q, REPLAY_QUEUE_SUBMISSION, msg, n, err);
}

static int push_file(struct replay_queue *q, const char *path, bool head, struct replay_err *err)
{
    char *msg = NULL;
    size_t n = 0;
    int rc = have(q, err);
    rc = rc < 0 ? rc : replay_queue_encode_file(path, &msg, &n, err);
    return rc < 0 ? rc : q_push(q, REPLAY_QUEUE_FILE, msg, n, head, err);
}

int replay_queue_push_file(struct replay_queue *q, const char *path, struct replay_err *err)
{
    return push_file(q, path, false, err);
}

int replay_queue_push_file_first(struct replay_queue *q, const char *path,
                                 struct replay_err *err)
{
    return push_file(q, path, true, err);
}
