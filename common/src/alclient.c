/* alclient: the client side of the REST transport. The libcurl work (handle,
 * timeouts, TLS, progress, cancel, retries with back-off) is the http module's;
 * here are what only this client has: the auth headers, the envelope and the
 * status verdicts of each answer (al-rest-api.md §2.4), and bundles streamed to
 * a file descriptor only once they look like CaRT files.
 * The calls themselves (bodies, answers) are in alclient_calls.c. */
#include "replay/alclient.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "alclient_int.h"
#include "pyjson_int.h"
#include "replay/atomicfile.h"
#include "replay/log.h"
#include "replay/redact.h"

#define MAX_HOST_LEN 2048
#define MAX_CRED_LEN 1024
#define MAX_URL_BYTES (256u << 10)
#define BODY_KEEP (1u << 20) /* response buffer kept between calls */

struct replay_alclient {
    struct replay__http *http;
    struct curl_slist *headers;
    char *host;
    long bundle_low_speed_time_s;
    struct replay__http_retry retry;
    struct replay__http_buf body;
    struct replay__http_buf url;
    int last_status;
    char api_error[REPLAY_ERR_MSG_LEN];
};

/* ---- options and open/close ---- */

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

static int check_options(const struct replay_alclient_options *o, struct replay_err *err)
{
    if (o == NULL || o->host == NULL || o->host[0] == '\0')
        return replay_err_set(err, REPLAY_EINVAL, "alclient: no host given");
    if ((strncasecmp(o->host, "http://", 7) != 0 && strncasecmp(o->host, "https://", 8) != 0) ||
        strlen(o->host) > MAX_HOST_LEN || has_control(o->host) || strchr(o->host, ' ')) {
        char cut[512], shown[512];
        replay__alclient_excerpt(o->host, strlen(o->host), cut, sizeof(cut));
        replay_redact_url(cut, shown, sizeof(shown));
        return replay_err_set(err, REPLAY_EINVAL,
                              "alclient: host \"%s\" is not an http:// or https:// URL", shown);
    }
    if (o->user == NULL || o->user[0] == '\0' || strlen(o->user) > MAX_CRED_LEN ||
        has_control(o->user))
        return replay_err_set(err, REPLAY_EINVAL,
                              "alclient: user must be a non-empty single-line name");
    if (o->apikey == NULL || strchr(o->apikey, ':') == NULL || o->apikey[0] == ':' ||
        strlen(o->apikey) > MAX_CRED_LEN || has_control(o->apikey))
        return replay_err_set(err, REPLAY_EINVAL,
                              "alclient: apikey must be \"<keyname>:<secret>\" on one line");
    return 0;
}

static void register_secrets(const struct replay_alclient_options *o)
{
    replay_redact_add_secret(o->apikey);
    replay_redact_add_secret(strchr(o->apikey, ':') + 1);
    replay_redact_add_url_secrets(o->host);
}

/* Content-Type on every request as upstream's session does; "Expect:" turns off
 * curl's 100-continue, which upstream never sends. */
static int build_headers(struct replay_alclient *c, const struct replay_alclient_options *o)
{
    struct curl_slist **l = &c->headers;
    bool ok = replay__http_header_add(l, "Content-Type", "application/json") &&
              replay__http_header_add(l, "X-USER", o->user) &&
              replay__http_header_add(l, "X-APIKEY", o->apikey) &&
              replay__http_header_add(l, "Expect:", NULL);
    return ok ? 0 : REPLAY_ENOMEM;
}

static const char *default_ca_file(void)
{
    const char *v = getenv("REQUESTS_CA_BUNDLE");
    if (v == NULL || v[0] == '\0')
        v = getenv("CURL_CA_BUNDLE");
    return v;
}

/* The transport's settings; zero fields of `o` take this client's defaults. */
static void http_options(const struct replay_alclient_options *o, struct replay__http_opts *h)
{
#define OR_DEFAULT(v, d) ((v) != 0 ? (long)(v) : (long)(d))
    memset(h, 0, sizeof(*h));
    h->cancel = o->cancel;
    h->connect_timeout_ms = OR_DEFAULT(o->connect_timeout_ms, REPLAY_ALCLIENT_CONNECT_TIMEOUT_MS);
    h->low_speed_time_s = OR_DEFAULT(o->low_speed_time_s, REPLAY_ALCLIENT_LOW_SPEED_TIME_S);
    h->low_speed_limit = OR_DEFAULT(o->low_speed_limit, REPLAY_ALCLIENT_LOW_SPEED_LIMIT);
    h->tls_insecure = o->tls_insecure;
    h->ca_file = o->ca_file != NULL ? o->ca_file : default_ca_file();
    h->protocols = "http,https";
    h->accept_encoding = "gzip, deflate"; /* as upstream's requests */
    if (o->user_agent != NULL && !has_control(o->user_agent))
        h->user_agent = o->user_agent;
#undef OR_DEFAULT
}

static void retry_policy(struct replay_alclient *c, const struct replay_alclient_options *o)
{
    c->retry.max_attempts = o->retry.max_attempts;
    c->retry.base_ms = o->retry.base_ms ? o->retry.base_ms : REPLAY_ALCLIENT_BACKOFF_BASE_MS;
    c->retry.cap_ms = o->retry.cap_ms ? o->retry.cap_ms : REPLAY_ALCLIENT_BACKOFF_CAP_MS;
    if (c->retry.cap_ms < c->retry.base_ms)
        c->retry.cap_ms = c->retry.base_ms;
    c->retry.cancel = o->cancel;
    c->bundle_low_speed_time_s = o->bundle_low_speed_time_s
                                     ? (long)o->bundle_low_speed_time_s
                                     : (long)REPLAY_ALCLIENT_BUNDLE_LOW_SPEED_TIME_S;
}

void replay_alclient_options_from_config(struct replay_alclient_options *o,
                                         const struct replay_client_config *cc)
{
    memset(o, 0, sizeof(*o));
    if (cc == NULL)
        return;
    o->host = cc->host;
    o->user = cc->user;
    o->apikey = cc->apikey;
    o->tls_insecure = !cc->verify;
}

static int open_parts(struct replay_alclient *c, const struct replay_alclient_options *o,
                      struct replay_err *err)
{
    struct replay__http_opts ho;
    http_options(o, &ho);
    int rc = replay__http_open(&ho, &c->http, err);
    if (rc != 0)
        return rc;
    c->host = strdup(o->host);
    if (c->host == NULL || build_headers(c, o) != 0)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    size_t n = strlen(c->host);
    while (n > 0 && c->host[n - 1] == '/')
        c->host[--n] = '\0';
    return 0;
}

int replay_alclient_open(const struct replay_alclient_options *o, struct replay_alclient **out,
                         struct replay_err *err)
{
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "alclient: no output pointer");
    *out = NULL;
    int rc = check_options(o, err);
    if (rc != 0)
        return rc;
    register_secrets(o);
    struct replay_alclient *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "alclient: out of memory");
    retry_policy(c, o);
    replay__http_buf_init(&c->body, o->max_json_bytes ? o->max_json_bytes
                                                      : REPLAY_ALCLIENT_MAX_JSON_BYTES);
    replay__http_buf_init(&c->url, MAX_URL_BYTES);
    rc = open_parts(c, o, err);
    if (rc != 0) {
        replay_alclient_close(c);
        replay_err_prefix(err, "alclient: cannot create the client: ");
        return rc;
    }
    if (o->tls_insecure && strncasecmp(c->host, "https://", 8) == 0) {
        char shown[MAX_HOST_LEN + 1];
        replay_warn("TLS certificate verification is disabled for %s (verify: false)",
                    replay_redact_url(c->host, shown, sizeof(shown)));
    }
    *out = c;
    return 0;
}

void replay_alclient_close(struct replay_alclient *c)
{
    if (c == NULL)
        return;
    replay__http_close(c->http);
    curl_slist_free_all(c->headers);
    free(c->host);
    replay__http_buf_free(&c->body);
    replay__http_buf_free(&c->url);
    free(c);
}

int replay_alclient_http_status(const struct replay_alclient *c)
{
    return c == NULL ? 0 : c->last_status;
}

const char *replay_alclient_api_error(const struct replay_alclient *c)
{
    return c == NULL ? "" : c->api_error;
}

/* ---- one request and its attempts ---- */

/* Where a download started, so a retry or a failure can go back there. */
struct download_start {
    bool seekable;
    off_t offset;
};

struct call {
    struct replay_alclient *c;
    const struct replay__alclient_req *r;
    char *body;                          /* json.dumps of r->body, or NULL */
    size_t body_len;
    const char *prefix;                  /* "<METHOD> <URL, redacted>" */
    struct replay__alclient_envelope *env;
    struct download_start ds;
    struct replay__http_xfer x;
    bool to_fd;             /* the answer is a bundle going to download_fd */
    unsigned char magic[4]; /* first bytes of a bundle, checked before writing */
    size_t magic_len;
    uint64_t written;       /* bytes written to download_fd */
};

/* A 2xx bundle answer: the first four bytes must be CaRT's magic before anything
 * is written. A JSON answer is kept in memory instead, for the message. */
static int bundle_sink(void *ctx, const char *data, size_t n)
{
    struct call *k = ctx;
    if (!k->to_fd && strncasecmp(k->x.content_type, "application/json", 16) == 0)
        return replay__http_buf_add_some(&k->c->body, data, n, REPLAY__HTTP_ERROR_BODY_KEEP);
    k->to_fd = true;
    int fd = k->r->download_fd, e;
    if (k->magic_len < sizeof(k->magic)) {
        size_t take = sizeof(k->magic) - k->magic_len;
        take = take < n ? take : n;
        memcpy(k->magic + k->magic_len, data, take);
        k->magic_len += take;
        data += take;
        n -= take;
        if (k->magic_len < sizeof(k->magic))
            return 0;
        if (memcmp(k->magic, "CART", 4) != 0) {
            replay__http_xfer_fail(&k->x, REPLAY_EPROTO, 0, "the answer is not a CaRT file");
            return REPLAY_EPROTO;
        }
        if ((e = replay_atomicfile_write_fd(fd, k->magic, sizeof(k->magic))) == 0)
            k->written += sizeof(k->magic);
    } else {
        e = 0;
    }
    if (e == 0 && n > 0 && (e = replay_atomicfile_write_fd(fd, data, n)) == 0)
        k->written += n;
    if (e != 0) {
        replay__http_xfer_fail(&k->x, REPLAY_EIO, e, "write bundle");
        return REPLAY_EIO;
    }
    return 0;
}

static void remember_answer(struct replay_alclient *c, long status, const char *message)
{
    c->last_status = (int)status;
    replay_redact(message, c->api_error, sizeof(c->api_error));
}

static void status_detail(const struct call *k, const struct replay__alclient_envelope *env,
                          char *out, size_t outsz)
{
    const struct replay__http_buf *body = &k->c->body;
    if (k->x.status >= 300 && k->x.status < 400) {
        char shown[512];
        snprintf(out, outsz, "redirect to %s not followed",
                 k->x.header_value[0] != '\0'
                     ? replay_redact_url(k->x.header_value, shown, sizeof(shown))
                     : "(no location)");
    } else if (env->valid && env->message[0] != '\0') {
        /* The server's words, as printable as a body's: they reach terminals. */
        char ex[REPLAY_ERR_MSG_LEN];
        replay__alclient_excerpt(env->message, strlen(env->message), ex, sizeof(ex));
        replay_redact(ex, out, outsz);
    } else if (body->len > 0) {
        char ex[300];
        replay__alclient_excerpt(body->p, body->len, ex, sizeof(ex));
        replay_redact(ex, out, outsz);
    } else {
        snprintf(out, outsz, "(empty answer)");
    }
}

/* A 2xx: is the body what the call wanted? */
static int check_success(const struct call *k, const struct replay__alclient_envelope *env,
                         struct replay_err *err)
{
    const struct replay__http_buf *body = &k->c->body;
    const char *why = NULL;
    char ex[200] = "";
    if (k->r->download) {
        if (!k->to_fd || k->magic_len < sizeof(k->magic))
            why = env->valid ? "a JSON envelope came back where a bundle was expected"
                             : "the answer is not a CaRT file";
    } else if (!env->valid || env->response == NULL) {
        why = "the answer is not an Assemblyline JSON envelope";
        if (body->len > 0)
            replay__alclient_excerpt(body->p, body->len, ex, sizeof(ex));
    }
    if (why == NULL)
        return 0;
    return replay_err_set(err, REPLAY_EPROTO, "%s: HTTP %ld: %s%s%s", k->prefix, k->x.status,
                          why, ex[0] ? ": " : "", ex);
}

/* The verdict on an answer that came back (al-rest-api.md §2.4). */
static int judge_answer(struct call *k, bool *again, struct replay_err *err)
{
    struct replay_alclient *c = k->c;
    struct replay__alclient_envelope *env = k->env;
    if (!k->to_fd)
        replay__alclient_envelope_parse(c->body.p, c->body.len, env);
    remember_answer(c, k->x.status, env->message);
    int code = 0;
    enum replay__alclient_verdict v = replay__alclient_classify_status(
        k->x.status, env->valid, env->message, k->r->missing_403, &code);
    if (v == REPLAY__AL_OK)
        return check_success(k, env, err);
    *again = v == REPLAY__AL_RETRY;
    char detail[REPLAY_ERR_MSG_LEN];
    status_detail(k, env, detail, sizeof(detail));
    return replay_err_set(err, code, "%s: HTTP %ld: %s", k->prefix, k->x.status, detail);
}

/* Before another attempt a download goes back to where it started; an output
 * that cannot be rewound ends the retries. */
static int prepare_retry(struct call *k, int rc, bool *again, struct replay_err *err)
{
    const struct replay__alclient_req *r = k->r;
    if (!r->download || k->written == 0)
        return rc;
    int e = 0;
    if (k->ds.seekable && lseek(r->download_fd, k->ds.offset, SEEK_SET) >= 0 &&
        ftruncate(r->download_fd, k->ds.offset) == 0) {
        k->written = 0;
        return rc;
    }
    if (k->ds.seekable)
        e = errno;
    *again = false;
    char cause[REPLAY_ERR_MSG_LEN];
    snprintf(cause, sizeof(cause), "%s", err->msg);
    replay_err_clear(err);
    if (e != 0)
        return replay_err_sys(err, REPLAY_EIO, e, "%s; cannot retry: rewind the output", cause);
    return replay_err_set(err, REPLAY_EIO, "%s; cannot retry: the output cannot be rewound",
                          cause);
}

/* A failed download leaves the output as it found it, when it can. */
static void discard_download(struct call *k)
{
    const struct replay__alclient_req *r = k->r;
    if (r->download && k->written > 0 && k->ds.seekable &&
        lseek(r->download_fd, k->ds.offset, SEEK_SET) >= 0 &&
        ftruncate(r->download_fd, k->ds.offset) == 0)
        k->written = 0;
}

static void setup_xfer(struct call *k)
{
    struct replay_alclient *c = k->c;
    const struct replay__alclient_req *r = k->r;
    struct replay__http_xfer *x = &k->x;
    replay__http_xfer_init(x);
    x->url = c->url.p;
    x->method = r->method;
    x->headers = c->headers;
    x->body = &c->body;
    x->want_header = "location";
    if (r->download || r->upload)
        x->low_speed_time_s = c->bundle_low_speed_time_s;
    if (r->upload) {
        x->in_fd = r->upload_fd;
        x->in_len = r->upload_size;
    } else if (k->body != NULL) {
        x->in_mem = k->body;
        x->in_len = k->body_len;
    }
    if (r->download) {
        x->sink = bundle_sink;
        x->sink_ctx = k;
    }
}

static int attempt(void *ctx, unsigned n, bool *again, struct replay_err *err)
{
    (void)n;
    struct call *k = ctx;
    struct replay_alclient *c = k->c;
    replay__http_buf_reset(&c->body, BODY_KEEP);
    replay__alclient_envelope_free(k->env);
    c->last_status = 0;
    c->api_error[0] = '\0';
    k->to_fd = false;
    k->magic_len = 0;
    replay__http_easy(c->http);
    setup_xfer(k);
    int rc = replay__http_perform(c->http, &k->x, k->prefix, err);
    if (rc != 0) {
        c->last_status = k->x.http_status ? (int)k->x.status : 0;
        *again = replay__http_transient(rc);
    } else {
        rc = judge_answer(k, again, err);
    }
    if (k->r->downloaded != NULL)
        *k->r->downloaded = k->written;
    return rc != 0 && *again ? prepare_retry(k, rc, again, err) : rc;
}

static int build_url(struct replay_alclient *c, const struct replay__alclient_req *r,
                     struct replay_err *err)
{
    replay__http_buf_reset(&c->url, MAX_URL_BYTES);
    int rc = replay__alclient_url(&c->url, c->host, r->root, r->segments, r->n_segments,
                                  r->params, r->n_params);
    if (rc == 0)
        return 0;
    if (rc != REPLAY_EUNSAFE)
        return replay_err_set(err, rc, "%s %s/api/v4/...: cannot build the URL: %s", r->method,
                              c->host, replay_strerror(rc));
    for (size_t i = 0; i < r->n_segments; i++) {
        if (!replay__alclient_segment_unsafe(r->segments[i]))
            continue;
        char shown[128];
        replay__alclient_excerpt(r->segments[i], strlen(r->segments[i]), shown, sizeof(shown));
        return replay_err_set(err, REPLAY_EUNSAFE,
                              "%s: unsafe path argument \"%s\" (empty, \".\", \"..\", or holds "
                              "'/', '?', '#' or '%%')", r->method, shown);
    }
    return replay_err_set(err, REPLAY_EUNSAFE, "%s: unsafe path argument", r->method);
}

int replay__alclient_request(struct replay_alclient *c, const struct replay__alclient_req *r,
                             struct replay__alclient_envelope *env, struct replay_err *err)
{
    replay__alclient_envelope_parse(NULL, 0, env);
    int rc = build_url(c, r, err);
    if (rc != 0)
        return rc;
    struct call k = {.c = c, .r = r, .env = env};
    if (r->body != NULL && (k.body = replay__pyjson_dumps(r->body, 0, &k.body_len)) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "%s: cannot encode the request body "
                              "(not valid UTF-8, or nested too deeply)", r->method);
    char shown[1024], prefix[1100];
    snprintf(prefix, sizeof(prefix), "%s %s", r->method,
             replay_redact_url(c->url.p, shown, sizeof(shown)));
    k.prefix = prefix;
    if (r->download) {
        k.ds.offset = lseek(r->download_fd, 0, SEEK_CUR);
        k.ds.seekable = k.ds.offset >= 0;
    }
    rc = replay__http_retry(&c->retry, prefix, attempt, &k, err);
    if (rc != 0)
        discard_download(&k);
    if (r->download && r->downloaded != NULL)
        *r->downloaded = k.written;
    free(k.body);
    return rc;
}
