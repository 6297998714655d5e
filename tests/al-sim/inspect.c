/* inspect: the /_sim/ test hooks outside Assemblyline's API (health, counts,
 * documents, queues, checkpoints, import records, files, the request log,
 * fault control, online seeding) and the request log itself. */
#include "alsim.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seed.h"
#include "simtime.h"

#define REQLOG_MAX 2000

struct alsim_reqlog {
    pthread_mutex_t mu;
    json_t *ring[REQLOG_MAX];
    size_t next, n;
};

int alsim_reqlog_new(struct alsim_reqlog **out)
{
    struct alsim_reqlog *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return -1;
    pthread_mutex_init(&l->mu, NULL);
    *out = l;
    return 0;
}

static void reqlog_clear(struct alsim_reqlog *l)
{
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < REQLOG_MAX; i++) {
        json_decref(l->ring[i]);
        l->ring[i] = NULL;
    }
    l->next = l->n = 0;
    pthread_mutex_unlock(&l->mu);
}

void alsim_reqlog_free(struct alsim_reqlog *l)
{
    if (l == NULL)
        return;
    reqlog_clear(l);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static json_t *hdr(struct alsim_req *r, const char *name)
{
    const char *v = alsim_req_header(r, name);
    return v != NULL ? json_string(v) : json_null();
}

/* What a test may want to assert about a request; never the API key. */
void alsim_reqlog_add(struct alsim_req *r, int status)
{
    struct alsim_reqlog *l = r->sim->reqlog;
    if (r->path != NULL && strncmp(r->path, "/_sim/", 6) == 0)
        return;
    char ts[ALSIM_ISO_LEN];
    alsim_iso_now(ts);
    json_t *e = json_pack("{s:s,s:s,s:s,s:i,s:o,s:o,s:o,s:o,s:b,s:b,s:b,s:I,s:o}",
                          "time", ts, "method", r->method, "uri",
                          r->raw_uri != NULL ? r->raw_uri : "", "status", status,
                          "content_type", hdr(r, "Content-Type"),
                          "user_agent", hdr(r, "User-Agent"), "x_user", hdr(r, "X-USER"),
                          "xsrf", hdr(r, "X-XSRF-TOKEN"),
                          "apikey_sent", alsim_req_header(r, "X-APIKEY") != NULL,
                          "cookie_sent", alsim_req_header(r, "Cookie") != NULL,
                          "fault", r->fault != NULL,
                          "body_bytes", (json_int_t)(r->sink == SINK_FILE ? r->body_size
                                                                          : r->body_len),
                          "user", r->user != NULL ? json_string(r->user->name) : json_null());
    if (e == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    json_decref(l->ring[l->next]);
    l->ring[l->next] = e;
    l->next = (l->next + 1) % REQLOG_MAX;
    if (l->n < REQLOG_MAX)
        l->n++;
    pthread_mutex_unlock(&l->mu);
}

static json_t *reqlog_json(struct alsim_reqlog *l)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&l->mu);
    size_t start = (l->next + REQLOG_MAX - l->n) % REQLOG_MAX;
    for (size_t i = 0; i < l->n; i++)
        json_array_append(arr, l->ring[(start + i) % REQLOG_MAX]);
    pthread_mutex_unlock(&l->mu);
    return arr;
}

/* ---------- /_sim/ ---------- */

static void plain(struct alsim_resp *out, int status, json_t *v)
{
    char *text = v != NULL ? alsim_json_text(v) : NULL;
    json_decref(v);
    if (text == NULL)
        text = strdup("{\"error\":\"out of memory\"}");
    alsim_reply_raw(out, status, "application/json", text, text != NULL ? strlen(text) : 0);
}

static void sim_error(struct alsim_resp *out, int status, const char *msg)
{
    plain(out, status, json_pack("{s:s}", "error", msg));
}

static json_t *stats(struct alsim *sim)
{
    json_t *colls = json_object(), *queues = json_object();
    for (int c = 0; c < ALSIM_COLL_COUNT; c++)
        json_object_set_new(colls, alsim_coll_name(c),
                            json_integer((json_int_t)alsim_store_count(sim->store, c)));
    for (int t = 0; t < ALSIM_Q_COUNT; t++)
        json_object_set_new(queues, alsim_qtype_name(t),
                            json_integer((json_int_t)alsim_queue_len(sim->queues, t)));
    json_t *quota = json_object();
    for (size_t i = 0; i < sim->cfg.n_users; i++)
        json_object_set_new(quota, sim->cfg.users[i].name,
                            json_integer(alsim_quota_slots(sim, &sim->cfg.users[i])));
    return json_pack("{s:o,s:o,s:I,s:i,s:o,s:o}", "collections", colls, "queues", queues,
                     "snapshots", (json_int_t)alsim_snapshots_count(sim->snaps),
                     "inflight", atomic_load(&sim->inflight), "quota", quota, "faults",
                     alsim_faults_json(sim->faults));
}

static void get_doc(struct alsim_req *r, struct alsim_resp *out, const char *coll, const char *id)
{
    int c = alsim_coll_from_name(coll);
    json_t *doc = c >= 0 ? alsim_store_get(r->sim->store, c, id) : NULL;
    if (doc == NULL)
        sim_error(out, 404, "no such document");
    else
        plain(out, 200, doc);
}

static void get_docs(struct alsim_req *r, struct alsim_resp *out, const char *coll)
{
    int c = alsim_coll_from_name(coll);
    struct alsim_item *items = NULL;
    size_t n = 0;
    if (c < 0 || alsim_store_items(r->sim->store, c, NULL, NULL, &items, &n) != 0) {
        sim_error(out, 404, "no such collection");
        return;
    }
    json_t *all = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set(all, items[i].id, items[i].doc);
    alsim_items_free(items, n);
    plain(out, 200, all);
}

static void put_doc(struct alsim_req *r, struct alsim_resp *out, const char *coll, const char *id)
{
    int c = alsim_coll_from_name(coll);
    json_error_t e;
    json_t *doc = r->body != NULL ? json_loadb(r->body, r->body_len, 0, &e) : NULL;
    char err[ALSIM_ERRLEN];
    if (c < 0)
        sim_error(out, 404, "no such collection");
    else if (!json_is_object(doc))
        sim_error(out, 400, "the body must be a JSON object");
    else if (alsim_store_put(r->sim->store, c, id, json_incref(doc), err) != 0)
        sim_error(out, 500, err);
    else
        plain(out, 200, json_pack("{s:b}", "success", 1));
    json_decref(doc);
}

static void get_blob(struct alsim_req *r, struct alsim_resp *out, const char *sha256)
{
    char path[4200];
    struct stat st;
    int fd = alsim_blob_path(r->sim->store, sha256, path, sizeof(path)) == 0
                 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        sim_error(out, 404, "no such file");
        return;
    }
    out->status = 200;
    out->ctype = "application/octet-stream";
    out->fd = fd;
    out->fd_size = (uint64_t)st.st_size;
}

static void faults(struct alsim_req *r, struct alsim_resp *out)
{
    if (strcmp(r->method, "DELETE") == 0) {
        alsim_faults_clear(r->sim->faults);
    } else if (strcmp(r->method, "POST") == 0) {
        json_error_t e;
        json_t *body = r->body != NULL ? json_loadb(r->body, r->body_len, 0, &e) : NULL;
        json_t *list = json_object_get(body, "faults"), *f;
        size_t i;
        char err[ALSIM_ERRLEN] = "";
        if (!json_is_array(list)) {
            json_decref(body);
            sim_error(out, 400, "expected {\"faults\": [\"kind=503,count=2\", ...]}");
            return;
        }
        if (json_is_true(json_object_get(body, "replace")))
            alsim_faults_clear(r->sim->faults);
        json_array_foreach(list, i, f)
            if (!json_is_string(f) || alsim_faults_add(r->sim->faults, json_string_value(f), err) != 0)
                break;
        json_decref(body);
        if (err[0] != '\0' || i < json_array_size(list)) {
            sim_error(out, 400, err[0] != '\0' ? err : "faults must be strings");
            return;
        }
    }
    plain(out, 200, alsim_faults_json(r->sim->faults));
}

static void seed(struct alsim_req *r, struct alsim_resp *out)
{
    struct alsim_seed_opts o;
    json_error_t e;
    json_t *body = r->body != NULL ? json_loadb(r->body, r->body_len, 0, &e) : json_object();
    json_t *summary = NULL;
    char err[ALSIM_ERRLEN];
    alsim_seed_defaults(&o);
    if (!json_is_object(body) || alsim_seed_opts_from_json(body, &o, err) != 0)
        sim_error(out, 400, json_is_object(body) ? err : "the body must be a JSON object");
    else if (alsim_seed_run(r->sim->store, &o, &summary, err) != 0)
        sim_error(out, 500, err);
    else
        plain(out, 200, summary);
    json_decref(body);
}

static void queue_view(struct alsim_req *r, struct alsim_resp *out, const char *type)
{
    int t = alsim_qtype_from_name(type);
    if (t < 0) {
        sim_error(out, 404, "no such queue");
        return;
    }
    json_t *items = alsim_queue_peek(r->sim->queues, t);
    plain(out, 200, json_pack("{s:I,s:o}", "length", (json_int_t)json_array_size(items),
                              "items", items));
}

/* Splits "a/b/c" into at most 3 parts (modifies s). */
static int split(char *s, char *parts[3])
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, "/", &save); tok != NULL && n < 3;
         tok = strtok_r(NULL, "/", &save))
        parts[n++] = tok;
    return n;
}

static void sim_get(struct alsim_req *r, struct alsim_resp *out, char *p[3], int n)
{
    struct alsim *sim = r->sim;
    if (n == 1 && strcmp(p[0], "health") == 0)
        plain(out, 200, json_pack("{s:b,s:s,s:i,s:s}", "ok", 1, "mode",
                                  sim->cfg.mode == ALSIM_UPSTREAM ? "upstream" : "intended",
                                  "port", sim->port, "data", sim->cfg.data_dir));
    else if (n == 1 && strcmp(p[0], "stats") == 0)
        plain(out, 200, stats(sim));
    else if (n == 3 && strcmp(p[0], "doc") == 0)
        get_doc(r, out, p[1], p[2]);
    else if (n == 2 && strcmp(p[0], "docs") == 0)
        get_docs(r, out, p[1]);
    else if (n == 2 && strcmp(p[0], "queue") == 0)
        queue_view(r, out, p[1]);
    else if (n == 1 && strcmp(p[0], "checkpoints") == 0)
        plain(out, 200, alsim_checkpoints_all(sim->queues));
    else if (n == 1 && (strcmp(p[0], "imports") == 0 || strcmp(p[0], "rescans") == 0))
        plain(out, 200, alsim_journal_read(sim->store, p[0]));
    else if (n == 2 && strcmp(p[0], "blob") == 0)
        get_blob(r, out, p[1]);
    else if (n == 1 && strcmp(p[0], "requests") == 0)
        plain(out, 200, reqlog_json(sim->reqlog));
    else if (n == 1 && strcmp(p[0], "faults") == 0)
        faults(r, out);
    else
        sim_error(out, 404, "unknown /_sim/ path (see tests/al-sim/README.md)");
}

void alsim_h_sim(struct alsim_req *r, struct alsim_resp *out)
{
    char *rest = strdup(r->params[0] != NULL ? r->params[0] : ""), *p[3] = {NULL};
    int n = rest != NULL ? split(rest, p) : 0;
    if (strcmp(r->method, "GET") == 0)
        sim_get(r, out, p, n);
    else if (n == 1 && strcmp(p[0], "faults") == 0)
        faults(r, out);
    else if (n == 1 && strcmp(p[0], "requests") == 0 && strcmp(r->method, "DELETE") == 0) {
        reqlog_clear(r->sim->reqlog);
        plain(out, 200, json_pack("{s:b}", "success", 1));
    } else if (n == 1 && strcmp(p[0], "sessions") == 0 && strcmp(r->method, "DELETE") == 0) {
        alsim_sessions_clear(r->sim->sessions);
        plain(out, 200, json_pack("{s:b}", "success", 1));
    } else if (n == 1 && strcmp(p[0], "seed") == 0 && strcmp(r->method, "POST") == 0)
        seed(r, out);
    else if (n == 3 && strcmp(p[0], "doc") == 0 && strcmp(r->method, "PUT") == 0)
        put_doc(r, out, p[1], p[2]);
    else
        sim_error(out, 404, "unknown /_sim/ path or method (see tests/al-sim/README.md)");
    free(rest);
}
