/* queue: persistent replay queues and checkpoints of al-sim (see queue.h). */
#include "queue.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "simutil.h"

static const char *const QNAMES[ALSIM_Q_COUNT] = {
    "alert", "submission", "badlist", "safelist", "signature", "workflow", "file",
};

struct msg {
    struct msg *next;
    char text[];
};

struct queue {
    struct msg *head, *tail;
    size_t len, log_ops;
    int log_fd;
    char path[4200];
    pthread_cond_t cv;
};

struct alsim_queues {
    pthread_mutex_t mu;
    bool stopping;
    struct queue q[ALSIM_Q_COUNT];
    json_t *checkpoints;
    char cp_path[4200];
};

const char *alsim_qtype_name(enum alsim_qtype t)
{
    return (unsigned)t < ALSIM_Q_COUNT ? QNAMES[t] : "?";
}

int alsim_qtype_from_name(const char *name)
{
    for (int i = 0; name != NULL && i < ALSIM_Q_COUNT; i++)
        if (strcmp(name, QNAMES[i]) == 0)
            return i;
    return -1;
}

static bool append_msg(struct queue *q, const char *text, size_t n)
{
    struct msg *m = malloc(sizeof(*m) + n + 1);
    if (m == NULL)
        return false;
    memcpy(m->text, text, n);
    m->text[n] = '\0';
    m->next = NULL;
    if (q->tail != NULL)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->len++;
    return true;
}

static struct msg *take_msg(struct queue *q)
{
    struct msg *m = q->head;
    if (m == NULL)
        return NULL;
    q->head = m->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->len--;
    return m;
}

/* Rewrites the log with the current messages only; caller holds the lock. */
static int compact(struct queue *q)
{
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", q->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int rc = 0;
    for (struct msg *m = q->head; m != NULL && rc == 0; m = m->next)
        rc = alsim_write_all(fd, "+", 1) || alsim_write_all(fd, m->text, strlen(m->text)) ||
             alsim_write_all(fd, "\n", 1) ? -1 : 0;
    if (close(fd) != 0 || rc != 0 || rename(tmp, q->path) != 0) {
        unlink(tmp);
        return -1;
    }
    if (q->log_fd >= 0)
        close(q->log_fd);
    q->log_fd = open(q->path, O_WRONLY | O_APPEND | O_CLOEXEC);
    q->log_ops = 0;
    return q->log_fd >= 0 ? 0 : -1;
}

static void replay_log(struct queue *q)
{
    FILE *f = fopen(q->path, "r");
    if (f == NULL)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (line[0] == '+')
            append_msg(q, line + 1, (size_t)n - 1);
        else if (line[0] == '-')
            free(take_msg(q));
    }
    free(line);
    fclose(f);
}

static int load_checkpoints(struct alsim_queues *qs)
{
    json_error_t e;
    qs->checkpoints = json_load_file(qs->cp_path, 0, &e);
    if (!json_is_object(qs->checkpoints)) {
        json_decref(qs->checkpoints);
        qs->checkpoints = json_object();
    }
    return qs->checkpoints != NULL ? 0 : -1;
}

int alsim_queues_open(const char *data_dir, struct alsim_queues **out, char err[ALSIM_ERRLEN])
{
    *out = NULL;
    struct alsim_queues *qs = calloc(1, sizeof(*qs));
    if (qs == NULL) {
        snprintf(err, ALSIM_ERRLEN, "out of memory");
        return -1;
    }
    pthread_mutex_init(&qs->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (int t = 0; t < ALSIM_Q_COUNT; t++) {
        pthread_cond_init(&qs->q[t].cv, &ca);
        qs->q[t].log_fd = -1;
    }
    pthread_condattr_destroy(&ca);
    snprintf(qs->cp_path, sizeof(qs->cp_path), "%s/queues/checkpoints.json", data_dir);
    for (int t = 0; t < ALSIM_Q_COUNT; t++) {
        struct queue *q = &qs->q[t];
        snprintf(q->path, sizeof(q->path), "%s/queues/%s.log", data_dir, QNAMES[t]);
        replay_log(q);
        if (compact(q) != 0) {
            snprintf(err, ALSIM_ERRLEN, "write queue log %.300s: %s", q->path, strerror(errno));
            alsim_queues_close(qs);
            return -1;
        }
    }
    if (load_checkpoints(qs) != 0) {
        snprintf(err, ALSIM_ERRLEN, "out of memory");
        alsim_queues_close(qs);
        return -1;
    }
    *out = qs;
    return 0;
}

void alsim_queues_close(struct alsim_queues *qs)
{
    if (qs == NULL)
        return;
    for (int t = 0; t < ALSIM_Q_COUNT; t++) {
        struct msg *m;
        while ((m = take_msg(&qs->q[t])) != NULL)
            free(m);
        if (qs->q[t].log_fd >= 0)
            close(qs->q[t].log_fd);
        pthread_cond_destroy(&qs->q[t].cv);
    }
    json_decref(qs->checkpoints);
    pthread_mutex_destroy(&qs->mu);
    free(qs);
}

void alsim_queues_stop(struct alsim_queues *qs)
{
    pthread_mutex_lock(&qs->mu);
    qs->stopping = true;
    for (int t = 0; t < ALSIM_Q_COUNT; t++)
        pthread_cond_broadcast(&qs->q[t].cv);
    pthread_mutex_unlock(&qs->mu);
}

/* Logs one operation; compacts when the log is mostly history. Lock held. */
static int log_op(struct queue *q, const char *text)
{
    int rc = 0;
    if (text != NULL)
        rc = alsim_write_all(q->log_fd, "+", 1) || alsim_write_all(q->log_fd, text, strlen(text)) ||
             alsim_write_all(q->log_fd, "\n", 1) ? -1 : 0;
    else
        rc = alsim_write_all(q->log_fd, "-\n", 2);
    if (rc == 0 && ++q->log_ops > 1000 && q->log_ops > 2 * q->len)
        rc = compact(q);
    return rc;
}

int alsim_queue_push(struct alsim_queues *qs, enum alsim_qtype t, const char *json_text,
                     char err[ALSIM_ERRLEN])
{
    struct queue *q = &qs->q[t];
    if (strchr(json_text, '\n') != NULL) {
        snprintf(err, ALSIM_ERRLEN, "queue message must be compact JSON");
        return -1;
    }
    pthread_mutex_lock(&qs->mu);
    int rc = append_msg(q, json_text, strlen(json_text)) ? 0 : -1;
    if (rc != 0)
        snprintf(err, ALSIM_ERRLEN, "out of memory queueing a %s message", QNAMES[t]);
    else if ((rc = log_op(q, json_text)) != 0)
        snprintf(err, ALSIM_ERRLEN, "write queue log %.300s: %s", q->path, strerror(errno));
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&qs->mu);
    return rc;
}

char *alsim_queue_pop(struct alsim_queues *qs, enum alsim_qtype t, int64_t timeout_ms)
{
    struct queue *q = &qs->q[t];
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&qs->mu);
    while (q->head == NULL && !qs->stopping)
        if (pthread_cond_timedwait(&q->cv, &qs->mu, &deadline) == ETIMEDOUT)
            break;
    struct msg *m = take_msg(q);
    if (m != NULL && log_op(q, NULL) != 0)
        fprintf(stderr, "al-sim: write queue log %s: %s\n", q->path, strerror(errno));
    pthread_mutex_unlock(&qs->mu);
    if (m == NULL)
        return NULL;
    memmove(m, m->text, strlen(m->text) + 1); /* hand out the text as a plain string */
    return (char *)m;
}

size_t alsim_queue_len(struct alsim_queues *qs, enum alsim_qtype t)
{
    pthread_mutex_lock(&qs->mu);
    size_t n = qs->q[t].len;
    pthread_mutex_unlock(&qs->mu);
    return n;
}

json_t *alsim_queue_peek(struct alsim_queues *qs, enum alsim_qtype t)
{
    json_t *out = json_array();
    pthread_mutex_lock(&qs->mu);
    for (struct msg *m = qs->q[t].head; m != NULL && out != NULL; m = m->next) {
        json_error_t e;
        json_t *v = json_loads(m->text, JSON_DECODE_ANY, &e);
        json_array_append_new(out, v != NULL ? v : json_string(m->text));
    }
    pthread_mutex_unlock(&qs->mu);
    return out;
}

json_t *alsim_checkpoint_get(struct alsim_queues *qs, const char *name)
{
    pthread_mutex_lock(&qs->mu);
    json_t *v = json_incref(json_object_get(qs->checkpoints, name));
    pthread_mutex_unlock(&qs->mu);
    return v;
}

int alsim_checkpoint_set(struct alsim_queues *qs, const char *name, const json_t *value,
                         char err[ALSIM_ERRLEN])
{
    pthread_mutex_lock(&qs->mu);
    int rc = json_object_set_new(qs->checkpoints, name, json_deep_copy(value));
    if (rc != 0)
        snprintf(err, ALSIM_ERRLEN, "out of memory storing a checkpoint");
    else
        rc = alsim_write_json_atomic(qs->cp_path, qs->checkpoints, err);
    pthread_mutex_unlock(&qs->mu);
    return rc;
}

json_t *alsim_checkpoints_all(struct alsim_queues *qs)
{
    pthread_mutex_lock(&qs->mu);
    json_t *v = json_deep_copy(qs->checkpoints);
    pthread_mutex_unlock(&qs->mu);
    return v;
}
