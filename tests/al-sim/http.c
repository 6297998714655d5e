/* http: libmicrohttpd glue of al-sim: request life cycle, bodies, responses,
 * fault injection on the wire (see alsim.h). */
#include "alsim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "replay/log.h"
#include "simtime.h"
#include "simutil.h"

static struct MHD_Daemon *g_daemon; /* one server per process */
static char *g_tls_cert, *g_tls_key; /* PEM text, while the server runs */
#define TLS_PEM_MAX (64 * 1024)
/* How long a stop waits for requests in progress to be answered. */
#define STOP_GRACE_MS 3000
const char *alsim_server_version = ALSIM_VERSION_DEFAULT;

/* ---------- responses ---------- */

char *alsim_json_text(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

void alsim_resp_clear(struct alsim_resp *r)
{
    free(r->body);
    if (r->fd >= 0)
        close(r->fd);
    for (int i = 0; i < r->nhdr; i++) {
        free(r->hdr_name[i]);
        free(r->hdr_value[i]);
    }
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

void alsim_resp_header(struct alsim_resp *out, const char *name, const char *value)
{
    if (out->nhdr >= ALSIM_MAX_HEADERS)
        return;
    out->hdr_name[out->nhdr] = strdup(name);
    out->hdr_value[out->nhdr] = strdup(value);
    out->nhdr++;
}

void alsim_reply_raw(struct alsim_resp *out, int status, const char *ctype, char *body, size_t len)
{
    free(out->body);
    out->status = status;
    out->ctype = ctype;
    out->body = body;
    out->len = len;
}

static void reply_v(struct alsim_resp *out, int status, json_t *api_response, const char *fmt,
                    va_list ap) __attribute__((format(printf, 4, 0)));
static void reply_v(struct alsim_resp *out, int status, json_t *api_response, const char *fmt,
                    va_list ap)
{
    char msg[4096] = "";
    if (fmt != NULL)
        vsnprintf(msg, sizeof(msg), fmt, ap);
    json_t *env = json_object();
    json_object_set_new(env, "api_response", api_response != NULL ? api_response : json_string(""));
    json_object_set_new(env, "api_error_message", json_string(msg));
    json_object_set_new(env, "api_server_version", json_string(alsim_server_version));
    json_object_set_new(env, "api_status_code", json_integer(status));
    char *text = alsim_json_text(env);
    json_decref(env);
    if (text == NULL) { /* only on ENOMEM or invalid UTF-8 in a message */
        text = strdup("{\"api_error_message\":\"Internal Server Error\",\"api_response\":\"\","
                      "\"api_server_version\":\"" ALSIM_VERSION_DEFAULT "\",\"api_status_code\":500}");
        status = 500;
    }
    alsim_reply_raw(out, status, "application/json", text, text != NULL ? strlen(text) : 0);
}

void alsim_reply(struct alsim_resp *out, int status, json_t *api_response, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_v(out, status, api_response, fmt, ap);
    va_end(ap);
}

void alsim_reply_500(struct alsim_resp *out)
{
    alsim_reply(out, 500, NULL, "Internal Server Error");
}

void alsim_reply_denied(struct alsim_req *r, struct alsim_resp *out, const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    json_t *cfg = json_pack("{s:{s:b,s:b,s:b},s:{s:b,s:b,s:b,s:b,s:b}}",
                            "auth", "allow_2fa", 1, "allow_apikeys", 1, "allow_security_tokens", 1,
                            "ui", "allow_url_submissions", 1, "read_only",
                            r->sim->cfg.read_only, "tos", 0, "tos_lockout", 0,
                            "tos_lockout_notify", 0);
    alsim_reply(out, 403, cfg, "Access Denied (%s) [%s]", r->path, why);
}

/* ---------- request helpers ---------- */

struct arg_find {
    const char *name;
    const char *value;
    bool found;
};

static enum MHD_Result find_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct arg_find *f = cls;
    if (key != NULL && strcmp(key, f->name) == 0) {
        f->value = value != NULL ? value : "";
        f->found = true;
        return MHD_NO;
    }
    return MHD_YES;
}

const char *alsim_req_arg(struct alsim_req *r, const char *name)
{
    struct arg_find f = {.name = name};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, find_arg, &f);
    return f.found ? f.value : NULL;
}

struct arg_each {
    const char *name;
    void (*fn)(const char *value, void *ud);
    void *ud;
};

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    struct arg_each *e = cls;
    if (key != NULL && strcmp(key, e->name) == 0)
        e->fn(value != NULL ? value : "", e->ud);
    return MHD_YES;
}

void alsim_req_args_each(struct alsim_req *r, const char *name,
                         void (*fn)(const char *value, void *ud), void *ud)
{
    struct arg_each e = {.name = name, .fn = fn, .ud = ud};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_arg, &e);
}

const char *alsim_req_header(struct alsim_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Werkzeug's is_json: application/json or application/<x>+json, any parameters. */
static bool is_json_type(const char *ct)
{
    if (ct == NULL)
        return false;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

json_t *alsim_req_json(struct alsim_req *r, struct alsim_resp *out)
{
    if (!is_json_type(alsim_req_header(r, "Content-Type"))) {
        alsim_reply(out, 200, NULL, "415 Unsupported Media Type: Did not attempt to load JSON "
                    "data because the request Content-Type was not 'application/json'.");
        return NULL;
    }
    json_error_t e;
    json_t *v = r->body_len > 0 ? json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &e) : NULL;
    if (v == NULL)
        alsim_reply(out, 400, NULL, "No data block provided or data block not in JSON format.'");
    return v;
}

bool alsim_sleep_ms(struct alsim *sim, int64_t ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&sim->mu);
    while (!atomic_load(&sim->stopping))
        if (pthread_cond_timedwait(&sim->stop_cv, &sim->mu, &deadline) == ETIMEDOUT)
            break;
    bool stopped = atomic_load(&sim->stopping);
    pthread_mutex_unlock(&sim->mu);
    return !stopped;
}

/* ---------- request setup ---------- */

static const char HTML_405[] =
    "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n"
    "<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n";

static void early_redirect(struct alsim_req *r)
{
    const char *host = alsim_req_header(r, "Host");
    const char *q = strchr(r->raw_uri != NULL ? r->raw_uri : "", '?');
    char loc[8192];
    snprintf(loc, sizeof(loc), "http://%.200s%.3000s/%.3000s", host != NULL ? host : "localhost",
             r->path, q != NULL ? q : "");
    char *html = malloc(2 * sizeof(loc) + 512);
    if (html != NULL)
        snprintf(html, 2 * sizeof(loc) + 512, "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
                 "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the "
                 "target URL: <a href=\"%s\">%s</a>. If not, click the link.\n", loc, loc);
    alsim_reply_raw(&r->early, 308, "text/html; charset=utf-8", html, html ? strlen(html) : 0);
    alsim_resp_header(&r->early, "Location", loc);
}

static void early_not_routed(struct alsim_req *r, int st, const char *allow)
{
    r->has_early = true;
    if (st == 404) {
        alsim_reply(&r->early, 404, NULL, "Api does not exist (%s)", r->path);
    } else if (st == 308) {
        early_redirect(r);
    } else if (strcmp(r->method, "OPTIONS") == 0) {
        alsim_reply_raw(&r->early, 200, "text/html; charset=utf-8", strdup(""), 0);
        alsim_resp_header(&r->early, "Allow", allow);
    } else {
        char *html = strdup(HTML_405);
        alsim_reply_raw(&r->early, 405, "text/html; charset=utf-8", html, html ? strlen(html) : 0);
        alsim_resp_header(&r->early, "Allow", allow);
    }
}

/* Read-only mode, authentication, roles and quota, in Assemblyline's order. */
static void check_access(struct alsim_req *r)
{
    const struct alsim_route *rt = r->route;
    if ((rt->flags & ROUTE_WRITE) && r->sim->cfg.read_only) {
        r->has_early = true;
        alsim_reply_denied(r, &r->early, "API not allowed in read-only mode");
        return;
    }
    if (!(rt->flags & ROUTE_AUTH))
        return;
    if (!alsim_auth_request(r)) {
        r->has_early = true;
        return;
    }
    uint32_t need = alsim_roles_mask(rt->roles);
    if (need != 0 && (r->roles & need) == 0) {
        r->has_early = true;
        char list[512];
        size_t k = 0;
        for (const char *p = rt->roles; *p != '\0' && k + 3 < sizeof(list); p++) {
            list[k++] = *p;
            if (*p == ',')
                list[k++] = ' ';
        }
        list[k] = '\0';
        alsim_reply_denied(r, &r->early, "API %s requires one of the following roles: %s",
                           r->path, list);
        return;
    }
    if (!alsim_quota_enter(r))
        r->has_early = true;
}

static void open_sink(struct alsim_req *r)
{
    r->sink = SINK_MEM;
    if (r->has_early || (r->fault != NULL && r->fault->kind == FAULT_HTTP)) {
        r->sink = SINK_DISCARD;
    } else if (r->route != NULL && (r->route->flags & ROUTE_FILE)) {
        r->body_fd = alsim_store_tmpfile(r->sim->store, "upload", r->body_path,
                                         sizeof(r->body_path));
        r->sink = SINK_FILE;
        if (r->body_fd < 0) {
            r->body_error = true;
            r->sink = SINK_DISCARD;
            replay_error("al-sim: cannot create an upload file: %s", strerror(errno));
        }
    }
}

static void setup(struct alsim_req *r, const char *url, const char *method)
{
    struct alsim *sim = r->sim;
    r->now_ms = alsim_now_ms();
    snprintf(r->method, sizeof(r->method), "%s", method);
    r->path = strdup(url != NULL ? url : "/");
    if (r->path == NULL)
        return;
    bool sim_path = strncmp(r->path, "/_sim/", 6) == 0;
    if (!sim_path)
        r->fault = alsim_faults_take(sim->faults, r->method, r->path);
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    char allow[128] = "";
    int st = alsim_route_find(sim, m, r->path, &r->route, r->params, allow, sizeof(allow));
    if (st != 0)
        early_not_routed(r, st, allow);
    else if (!(r->route->flags & ROUTE_SIM))
        check_access(r);
    open_sink(r);
}

static void sink_data(struct alsim_req *r, const char *data, size_t n)
{
    if (r->sink == SINK_DISCARD || r->body_too_big || r->body_error)
        return;
    if (r->sink == SINK_FILE) {
        r->body_size += n;
        if (r->body_size > r->sim->cfg.max_import_body)
            r->body_too_big = true;
        else if (alsim_write_all(r->body_fd, data, n) != 0)
            r->body_error = true;
        return;
    }
    if (r->body_len + n > r->sim->cfg.max_json_body) {
        r->body_too_big = true;
        return;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = (r->body_len + n + 1) * 2;
        if (cap > r->sim->cfg.max_json_body + 1)
            cap = r->sim->cfg.max_json_body + 1;
        char *b = realloc(r->body, cap);
        if (b == NULL) {
            r->body_error = true;
            return;
        }
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

/* ---------- sending, with body faults ---------- */

struct reader {
    struct alsim *sim;
    int fd;
    char *buf;
    uint64_t size;
    struct alsim_fault ft;
    bool stalled;
};

static ssize_t reader_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct reader *rd = cls;
    uint64_t half = rd->size / 2;
    if (pos >= rd->size)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (rd->ft.kind == FAULT_TRUNCATE && pos >= half)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (rd->ft.kind == FAULT_STALL_BODY && pos >= half && !rd->stalled) {
        rd->stalled = true;
        if (!alsim_sleep_ms(rd->sim, rd->ft.ms))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = (size_t)(rd->size - pos) < max ? (size_t)(rd->size - pos) : max;
    if ((rd->ft.kind == FAULT_TRUNCATE || rd->ft.kind == FAULT_STALL_BODY) && pos < half &&
        n > half - pos)
        n = (size_t)(half - pos);
    if (rd->ft.kind == FAULT_SLOW) {
        size_t chunk = rd->ft.rate / 10 > 0 ? (size_t)(rd->ft.rate / 10) : 1;
        n = n < chunk ? n : chunk;
        if (!alsim_sleep_ms(rd->sim, 100))
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (n == 0) /* a 1-byte body cut in half: nothing before the cut */
        return rd->ft.kind == FAULT_TRUNCATE ? MHD_CONTENT_READER_END_WITH_ERROR : 0;
    if (rd->buf != NULL) {
        memcpy(buf, rd->buf + pos, n);
        return (ssize_t)n;
    }
    ssize_t got = pread(rd->fd, buf, n, (off_t)pos);
    return got > 0 ? got : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void reader_free(void *cls)
{
    struct reader *rd = cls;
    if (rd->fd >= 0)
        close(rd->fd);
    free(rd->buf);
    free(rd);
}

static bool body_fault(const struct alsim_fault *f)
{
    return f != NULL && (f->kind == FAULT_STALL_BODY || f->kind == FAULT_TRUNCATE ||
                         f->kind == FAULT_SLOW);
}

static struct MHD_Response *make_response(struct alsim_req *r, struct alsim_resp *out)
{
    struct MHD_Response *resp = NULL;
    if (body_fault(r->fault)) {
        struct reader *rd = calloc(1, sizeof(*rd));
        if (rd == NULL)
            return NULL;
        rd->sim = r->sim;
        rd->ft = *r->fault;
        rd->fd = out->fd;
        rd->buf = out->body;
        rd->size = out->fd >= 0 ? out->fd_size : out->len;
        out->fd = -1;
        out->body = NULL;
        resp = MHD_create_response_from_callback(rd->size, 64 * 1024, reader_cb, rd, reader_free);
        if (resp == NULL)
            reader_free(rd);
    } else if (out->fd >= 0) {
        resp = MHD_create_response_from_fd64(out->fd_size, out->fd);
        if (resp != NULL)
            out->fd = -1;
    } else {
        resp = MHD_create_response_from_buffer(out->len, out->body != NULL ? out->body : (char *)"",
                                               out->body != NULL ? MHD_RESPMEM_MUST_FREE
                                                                 : MHD_RESPMEM_PERSISTENT);
        if (resp != NULL)
            out->body = NULL;
    }
    if (resp == NULL)
        return NULL;
    if (out->ctype != NULL)
        MHD_add_response_header(resp, "Content-Type", out->ctype);
    for (int i = 0; i < out->nhdr; i++)
        if (out->hdr_name[i] != NULL && out->hdr_value[i] != NULL)
            MHD_add_response_header(resp, out->hdr_name[i], out->hdr_value[i]);
    return resp;
}

static enum MHD_Result send_response(struct alsim_req *r, struct alsim_resp *out)
{
    struct MHD_Connection *conn = r->conn;
    if (out->status == 0)
        alsim_reply_500(out);
    struct MHD_Response *resp = make_response(r, out);
    alsim_reqlog_add(r, out->status);
    if (resp == NULL) {
        alsim_resp_clear(out);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)out->status, resp);
    MHD_destroy_response(resp);
    alsim_resp_clear(out);
    return ok;
}

static void dispatch(struct alsim_req *r, struct alsim_resp *out)
{
    if (r->fault != NULL && r->fault->kind == FAULT_HTTP) {
        alsim_fault_reply(r->fault, out);
        return;
    }
    if (r->fault != NULL && r->fault->kind == FAULT_STALL)
        alsim_sleep_ms(r->sim, r->fault->ms);
    if (r->has_early) {
        *out = r->early;
        memset(&r->early, 0, sizeof(r->early));
        r->early.fd = -1;
        r->has_early = false;
    } else if (r->body_too_big) {
        alsim_reply(out, 413, NULL, "413 Request Entity Too Large: The data value transmitted "
                    "exceeds the capacity limit.");
    } else if (r->body_error) {
        alsim_reply_500(out);
    } else {
        r->route->fn(r, out);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)cls;
    (void)version;
    struct alsim_req *r = *con_cls;
    if (r == NULL)
        return MHD_NO;
    if (!r->started) {
        /* Going down: a request that arrives on a kept-alive connection now is
         * refused as a stopped server would, or clients would keep it busy for
         * the whole grace period. */
        if (atomic_load(&r->sim->stopping))
            return MHD_NO;
        r->started = true;
        r->conn = conn;
        setup(r, url, method);
        if (r->path == NULL)
            return MHD_NO;
        if (r->fault != NULL && r->fault->kind == FAULT_DROP) {
            alsim_reqlog_add(r, 0);
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        sink_data(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    struct alsim_resp out = {.fd = -1};
    bool counted = r->route == NULL || !(r->route->flags & ROUTE_SIM); /* API calls only */
    if (counted)
        atomic_fetch_add(&r->sim->inflight, 1);
    dispatch(r, &out);
    alsim_quota_leave(r); /* upstream ends the quota when the answer is made, not sent */
    if (counted)
        atomic_fetch_sub(&r->sim->inflight, 1);
    if (out.drop) {
        alsim_reqlog_add(r, 0);
        alsim_resp_clear(&out);
        return MHD_NO;
    }
    return send_response(r, &out);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    struct alsim_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->sim = cls;
    pthread_mutex_lock(&r->sim->mu);
    r->sim->live++;
    pthread_mutex_unlock(&r->sim->mu);
    r->raw_uri = strdup(uri != NULL ? uri : "");
    r->body_fd = -1;
    r->early.fd = -1;
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct alsim_req *r = *con_cls;
    if (r == NULL)
        return;
    alsim_quota_leave(r);
    if (r->body_fd >= 0)
        close(r->body_fd);
    if (r->body_path[0] != '\0')
        unlink(r->body_path);
    alsim_resp_clear(&r->early);
    for (int i = 0; i < ALSIM_MAX_PARAMS; i++)
        free(r->params[i]);
    free(r->fault);
    free(r->body);
    free(r->path);
    free(r->raw_uri);
    struct alsim *sim = r->sim;
    free(r);
    *con_cls = NULL;
    pthread_mutex_lock(&sim->mu);
    if (--sim->live == 0)
        pthread_cond_broadcast(&sim->stop_cv); /* alsim_server_stop() waits for it */
    pthread_mutex_unlock(&sim->mu);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    replay_debug("al-sim: libmicrohttpd: %s", line);
}

/* ---------- server ---------- */

static int bind_addr(const char *bind, int port, struct sockaddr_storage *ss, bool *v6)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, bind, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, bind, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return 0;
    }
    return -1;
}

/* A whole PEM file, NUL-terminated as libmicrohttpd wants it; NULL on failure. */
static char *read_pem(const char *path, char err[ALSIM_ERRLEN])
{
    FILE *f = fopen(path, "rb");
    char *buf = f != NULL ? calloc(1, TLS_PEM_MAX + 1) : NULL;
    size_t n = buf != NULL ? fread(buf, 1, TLS_PEM_MAX + 1, f) : 0;
    bool ok = buf != NULL && n > 0 && n <= TLS_PEM_MAX && !ferror(f);
    if (f != NULL)
        fclose(f);
    if (!ok) {
        snprintf(err, ALSIM_ERRLEN, "cannot read the PEM file %s (missing, empty or over %d bytes)",
                 path, TLS_PEM_MAX);
        free(buf);
        return NULL;
    }
    return buf;
}

/* HTTPS options (the certificate and key in memory), or none. */
static int tls_options(const struct alsim_config *cfg, struct MHD_OptionItem opts[3],
                       unsigned *flags, char err[ALSIM_ERRLEN])
{
    opts[0] = opts[1] = opts[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    if (cfg->tls_cert == NULL)
        return 0;
    g_tls_cert = read_pem(cfg->tls_cert, err);
    g_tls_key = g_tls_cert != NULL ? read_pem(cfg->tls_key, err) : NULL;
    if (g_tls_key == NULL)
        return -1;
    opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, g_tls_cert};
    opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, g_tls_key};
    *flags |= MHD_USE_TLS;
    return 0;
}

int alsim_server_start(struct alsim *sim, char err[ALSIM_ERRLEN])
{
    struct sockaddr_storage ss;
    struct MHD_OptionItem tls[3];
    bool v6 = false;
    if (bind_addr(sim->cfg.bind, sim->cfg.port, &ss, &v6) != 0) {
        snprintf(err, ALSIM_ERRLEN, "bind address '%s' is not an IPv4 or IPv6 address",
                 sim->cfg.bind);
        return -1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC | (v6 ? MHD_USE_IPv6 : 0);
    if (tls_options(&sim->cfg, tls, &flags, err) != 0)
        return -1;
    g_daemon = MHD_start_daemon(flags, (uint16_t)sim->cfg.port, NULL, NULL, on_request, sim,
                                MHD_OPTION_ARRAY, tls,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                MHD_OPTION_URI_LOG_CALLBACK, on_uri, sim,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, sim,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)2048,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
                                MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)512,
                                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                MHD_OPTION_END);
    if (g_daemon == NULL) {
        snprintf(err, ALSIM_ERRLEN, "cannot listen on %s port %d (in use, or not allowed)",
                 sim->cfg.bind, sim->cfg.port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g_daemon, MHD_DAEMON_INFO_BIND_PORT);
    sim->port = info != NULL ? info->port : sim->cfg.port;
    return 0;
}

/* Waits until every request has been answered (waits and stalls end at once
 * once stopping is set), at most STOP_GRACE_MS. */
static void wait_answered(struct alsim *sim)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += STOP_GRACE_MS / 1000;
    pthread_mutex_lock(&sim->mu);
    while (sim->live > 0)
        if (pthread_cond_timedwait(&sim->stop_cv, &sim->mu, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&sim->mu);
}

void alsim_server_stop(struct alsim *sim)
{
    pthread_mutex_lock(&sim->mu);
    atomic_store(&sim->stopping, true);
    pthread_cond_broadcast(&sim->stop_cv);
    pthread_mutex_unlock(&sim->mu);
    alsim_queues_stop(sim->queues);
    if (g_daemon != NULL) {
        MHD_socket listener = MHD_quiesce_daemon(g_daemon);
        wait_answered(sim); /* long polls answer null rather than being cut */
        MHD_stop_daemon(g_daemon);
        g_daemon = NULL;
        if (listener != MHD_INVALID_SOCKET)
            close(listener);
    }
    free(g_tls_cert);
    free(g_tls_key);
    g_tls_cert = g_tls_key = NULL;
}
