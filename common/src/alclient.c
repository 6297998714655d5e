/* alclient: the transport of the REST client. One curl easy handle per client
 * (its connection cache gives keep-alive), the auth headers, timeouts, the retry
 * loop with back-off, and the streaming of bundles to and from file descriptors.
 * The calls themselves (bodies, answers) are in alclient_calls.c. */
#include "replay/alclient.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alclient_int.h"
#include "pyjson_int.h"
#include "replay/log.h"
#include "replay/redact.h"

#define MAX_HOST_LEN 2048
#define MAX_CRED_LEN 1024
#define MAX_URL_BYTES (256u << 10)
#define ERR_BODY_KEEP (64u << 10) /* bytes of an error answer kept for its message */
#define BODY_KEEP (1u << 20)      /* response buffer kept between calls */
#define LOCAL_MSG_LEN 256

struct replay_alclient {
    CURL *curl;
    struct curl_slist *headers;
    char *host;
    char *user_agent;
    char *ca_file;
    bool tls_insecure;
    long connect_timeout_ms, low_speed_time_s, low_speed_limit, bundle_low_speed_time_s;
    struct replay_alclient_retry retry;
    const struct replay_cancel *cancel;
    uint64_t rng;
    struct replay__abuf body;
    struct replay__abuf url;
    char errbuf[CURL_ERROR_SIZE];
    int last_status;
    char api_error[REPLAY_ERR_MSG_LEN];
};

/* snprintf for messages that may be cut at the buffer's end. */
static void msgf(char *out, size_t outsz, const char *fmt, ...) REPLAY_PRINTF(3, 4);
static void msgf(char *out, size_t outsz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, outsz, fmt, ap);
    va_end(ap);
}

/* ---- process-wide curl initialisation, once ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

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

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    if (line == NULL)
        return REPLAY_ENOMEM;
    snprintf(line, n, "%s: %s", name, value);
    struct curl_slist *nl = curl_slist_append(*list, line);
    free(line);
    if (nl == NULL)
        return REPLAY_ENOMEM;
    *list = nl;
    return 0;
}

/* Content-Type on every request as upstream's session does; "Expect:" turns off
 * curl's 100-continue, which upstream never sends. */
static int build_headers(struct replay_alclient *c, const struct replay_alclient_options *o)
{
    int rc = add_header(&c->headers, "Content-Type", "application/json");
    if (rc == 0)
        rc = add_header(&c->headers, "X-USER", o->user);
    if (rc == 0)
        rc = add_header(&c->headers, "X-APIKEY", o->apikey);
    if (rc == 0) {
        struct curl_slist *nl = curl_slist_append(c->headers, "Expect:");
        rc = nl == NULL ? REPLAY_ENOMEM : 0;
        if (nl != NULL)
            c->headers = nl;
    }
    return rc;
}

static char *dup_or_null(const char *s)
{
    return (s == NULL || s[0] == '\0') ? NULL : strdup(s);
}

static const char *default_ca_file(void)
{
    const char *v = getenv("REQUESTS_CA_BUNDLE");
    if (v == NULL || v[0] == '\0')
        v = getenv("CURL_CA_BUNDLE");
    return v;
}

static void apply_defaults(struct replay_alclient *c, const struct replay_alclient_options *o)
{
#define OR_DEFAULT(v, d) ((v) != 0 ? (v) : (d))
    c->connect_timeout_ms = OR_DEFAULT(o->connect_timeout_ms, REPLAY_ALCLIENT_CONNECT_TIMEOUT_MS);
    c->low_speed_time_s = OR_DEFAULT(o->low_speed_time_s, REPLAY_ALCLIENT_LOW_SPEED_TIME_S);
    c->low_speed_limit = OR_DEFAULT(o->low_speed_limit, REPLAY_ALCLIENT_LOW_SPEED_LIMIT);
    c->bundle_low_speed_time_s =
        OR_DEFAULT(o->bundle_low_speed_time_s, REPLAY_ALCLIENT_BUNDLE_LOW_SPEED_TIME_S);
    c->retry.max_attempts = o->retry.max_attempts;
    c->retry.base_ms = OR_DEFAULT(o->retry.base_ms, REPLAY_ALCLIENT_BACKOFF_BASE_MS);
    c->retry.cap_ms = OR_DEFAULT(o->retry.cap_ms, REPLAY_ALCLIENT_BACKOFF_CAP_MS);
    if (c->retry.cap_ms < c->retry.base_ms)
        c->retry.cap_ms = c->retry.base_ms;
#undef OR_DEFAULT
    c->cancel = o->cancel;
    c->tls_insecure = o->tls_insecure;
    c->rng = (replay_now_ms() ^ (uint64_t)(uintptr_t)c ^ ((uint64_t)getpid() << 32)) | 1u;
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

static int open_strings(struct replay_alclient *c, const struct replay_alclient_options *o)
{
    c->host = strdup(o->host);
    if (o->user_agent != NULL && o->user_agent[0] != '\0' && !has_control(o->user_agent))
        c->user_agent = strdup(o->user_agent);
    else
        c->user_agent = strdup("assemblyline-replay/" REPLAY_VERSION);
    const char *ca = o->ca_file != NULL ? o->ca_file : default_ca_file();
    c->ca_file = dup_or_null(ca);
    if (c->host == NULL || c->user_agent == NULL || (ca != NULL && ca[0] && c->ca_file == NULL))
        return REPLAY_ENOMEM;
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
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return replay_err_set(err, REPLAY_EIO, "alclient: curl_global_init failed: %s",
                              curl_easy_strerror(curl_init_rc));
    struct replay_alclient *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "alclient: out of memory");
    apply_defaults(c, o);
    replay__abuf_init(&c->body, o->max_json_bytes ? o->max_json_bytes
                                                   : REPLAY_ALCLIENT_MAX_JSON_BYTES);
    replay__abuf_init(&c->url, MAX_URL_BYTES);
    rc = open_strings(c, o);
    if (rc == 0)
        rc = build_headers(c, o);
    if (rc == 0 && (c->curl = curl_easy_init()) == NULL)
        rc = REPLAY_EIO;
    if (rc != 0) {
        replay_alclient_close(c);
        return replay_err_set(err, rc, "alclient: cannot create the client: %s",
                              replay_strerror(rc));
    }
    if (c->tls_insecure && strncasecmp(c->host, "https://", 8) == 0) {
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
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    free(c->host);
    free(c->user_agent);
    free(c->ca_file);
    replay__abuf_free(&c->body);
    replay__abuf_free(&c->url);
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

/* ---- one transfer ---- */

enum sink { SINK_UNDECIDED, SINK_MEMORY, SINK_FD };

struct xfer {
    struct replay_alclient *c;
    const struct replay__alclient_req *r;
    enum sink sink;
    bool error_status;      /* the answer is not a 2xx: keep only an excerpt */
    unsigned char magic[4]; /* first bytes of a bundle, checked before writing */
    size_t magic_len;
    uint64_t written;       /* bytes written to the download fd */
    uint64_t up_off;        /* next byte of the upload */
    curl_off_t moved;       /* bytes moved at the last progress report */
    bool canceled;
    int local_code;         /* a callback refused: REPLAY_E* */
    char local_msg[LOCAL_MSG_LEN];
};

static void local_fail(struct xfer *x, int code, int sys_errno, const char *what)
{
    if (x->local_code != 0)
        return;
    x->local_code = code;
    if (sys_errno != 0)
        msgf(x->local_msg, sizeof(x->local_msg), "%s: %s", what, strerror(sys_errno));
    else
        msgf(x->local_msg, sizeof(x->local_msg), "%s", what);
}

static void choose_sink(struct xfer *x)
{
    long status = 0;
    const char *ctype = NULL;
    curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->c->curl, CURLINFO_CONTENT_TYPE, &ctype);
    x->error_status = status < 200 || status >= 300;
    bool json = ctype != NULL && strncasecmp(ctype, "application/json", 16) == 0;
    x->sink = (x->r->download && !x->error_status && !json) ? SINK_FD : SINK_MEMORY;
}

static int write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Bundle bytes: the first four must be CaRT's magic before anything is written. */
static int fd_sink(struct xfer *x, const char *data, size_t n)
{
    int fd = x->r->download_fd, e;
    if (x->magic_len < sizeof(x->magic)) {
        size_t take = sizeof(x->magic) - x->magic_len;
        take = take < n ? take : n;
        memcpy(x->magic + x->magic_len, data, take);
        x->magic_len += take;
        data += take;
        n -= take;
        if (x->magic_len < sizeof(x->magic))
            return 0;
        if (memcmp(x->magic, "CART", 4) != 0) {
            local_fail(x, REPLAY_EPROTO, 0, "the answer is not a CaRT file");
            return -1;
        }
        if ((e = write_all(fd, x->magic, sizeof(x->magic))) != 0) {
            local_fail(x, REPLAY_EIO, e, "write bundle");
            return -1;
        }
        x->written += sizeof(x->magic);
    }
    if (n > 0 && (e = write_all(fd, data, n)) != 0) {
        local_fail(x, REPLAY_EIO, e, "write bundle");
        return -1;
    }
    x->written += n;
    return 0;
}

static int memory_sink(struct xfer *x, const char *data, size_t n)
{
    struct replay__abuf *b = &x->c->body;
    if (x->error_status || x->r->download) {
        size_t room = b->len < ERR_BODY_KEEP ? ERR_BODY_KEEP - b->len : 0;
        /* an excerpt is enough for the message; failing to keep it is no error */
        int kept = room > 0 ? replay__abuf_add(b, data, n < room ? n : room) : 0;
        (void)kept;
        return 0;
    }
    int rc = replay__abuf_add(b, data, n);
    if (rc == REPLAY_ETOOBIG) {
        char what[96];
        snprintf(what, sizeof(what), "the answer is larger than %zu bytes", b->max);
        local_fail(x, rc, 0, what);
    } else if (rc != 0) {
        local_fail(x, rc, 0, "out of memory for the answer");
    }
    return rc;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (x->sink == SINK_UNDECIDED)
        choose_sink(x);
    int rc = x->sink == SINK_FD ? fd_sink(x, data, n) : memory_sink(x, data, n);
    return rc == 0 ? n : 0;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    uint64_t left = x->r->upload_size - x->up_off;
    size_t want = size * nitems;
    if (want > left)
        want = (size_t)left;
    if (want == 0)
        return 0;
    ssize_t n;
    do {
        n = pread(x->r->upload_fd, buf, want, (off_t)x->up_off);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        local_fail(x, REPLAY_EIO, n < 0 ? errno : 0,
                   n < 0 ? "read bundle" : "read bundle: the file shrank during the upload");
        return CURL_READFUNC_ABORT;
    }
    x->up_off += (uint64_t)n;
    return (size_t)n;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct xfer *x = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->r->upload_size)
        return CURL_SEEKFUNC_FAIL;
    x->up_off = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    struct xfer *x = ud;
    if (replay_cancel_requested(x->c->cancel)) {
        x->canceled = true;
        return 1;
    }
    if (dlnow + ulnow != x->moved) {
        x->moved = dlnow + ulnow;
        replay_progress();
    }
    return 0;
}

/* Options of one attempt; curl_easy_reset keeps the connection cache. */
static CURLcode set_common(struct replay_alclient *c, struct xfer *x, const char *url)
{
    CURL *h = c->curl;
    bool bundle = x->r->download || x->r->upload;
    CURLcode e = CURLE_OK;
#define SET(opt, val)                                   \
    do {                                                \
        if (e == CURLE_OK)                              \
            e = curl_easy_setopt(h, opt, val);          \
    } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_HTTPHEADER, c->headers);
    SET(CURLOPT_USERAGENT, c->user_agent);
    SET(CURLOPT_ACCEPT_ENCODING, "gzip, deflate");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    SET(CURLOPT_LOW_SPEED_LIMIT, c->low_speed_limit);
    SET(CURLOPT_LOW_SPEED_TIME, bundle ? c->bundle_low_speed_time_s : c->low_speed_time_s);
    SET(CURLOPT_SSL_VERIFYPEER, c->tls_insecure ? 0L : 1L);
    SET(CURLOPT_SSL_VERIFYHOST, c->tls_insecure ? 0L : 2L);
    if (c->ca_file != NULL)
        SET(CURLOPT_CAINFO, c->ca_file);
    SET(CURLOPT_ERRORBUFFER, c->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_XFERINFOFUNCTION, on_progress);
    SET(CURLOPT_XFERINFODATA, x);
    SET(CURLOPT_NOPROGRESS, 0L);
#undef SET
    return e;
}

static CURLcode set_method(struct replay_alclient *c, struct xfer *x, const char *body,
                           size_t body_len)
{
    CURL *h = c->curl;
    const struct replay__alclient_req *r = x->r;
    CURLcode e = CURLE_OK;
    if (strcmp(r->method, "GET") == 0)
        return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    if (r->upload) {
        e = curl_easy_setopt(h, CURLOPT_POST, 1L);
        if (e == CURLE_OK)
            e = curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        if (e == CURLE_OK)
            e = curl_easy_setopt(h, CURLOPT_READDATA, x);
        if (e == CURLE_OK)
            e = curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        if (e == CURLE_OK)
            e = curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
        if (e == CURLE_OK)
            e = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->upload_size);
    } else {
        e = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        if (e == CURLE_OK)
            e = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
    }
    if (e == CURLE_OK && strcmp(r->method, "POST") != 0)
        e = curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    return e;
}

/* ---- what an attempt came to ---- */

struct outcome {
    enum replay__alclient_verdict verdict;
    int code;
    char msg[REPLAY_ERR_MSG_LEN];
};

static enum replay__alclient_transport transport_class(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return REPLAY__AL_T_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return REPLAY__AL_T_TIMEOUT;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return REPLAY__AL_T_BROKEN;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
        return REPLAY__AL_T_TLS;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_CONTENT_ENCODING:
        return REPLAY__AL_T_PROTOCOL;
    default:
        return REPLAY__AL_T_OTHER;
    }
}

static void transport_outcome(struct replay_alclient *c, struct xfer *x, CURLcode rc,
                              const char *prefix, struct outcome *o)
{
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    c->last_status = (int)status;
    if (x->canceled) {
        o->verdict = REPLAY__AL_FAIL;
        o->code = REPLAY_ECANCELED;
        msgf(o->msg, sizeof(o->msg), "%s: canceled by shutdown", prefix);
        return;
    }
    if (x->local_code != 0) {
        o->verdict = REPLAY__AL_FAIL;
        o->code = x->local_code;
        msgf(o->msg, sizeof(o->msg), "%s: %s", prefix, x->local_msg);
        return;
    }
    o->verdict = replay__alclient_classify_transport(transport_class(rc), &o->code);
    char cause[CURL_ERROR_SIZE + 64];
    replay_redact(c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc), cause, sizeof(cause));
    msgf(o->msg, sizeof(o->msg), "%s: %s", prefix, cause);
}

static void remember_answer(struct replay_alclient *c, long status, const char *message)
{
    c->last_status = (int)status;
    replay_redact(message, c->api_error, sizeof(c->api_error));
}

static void status_detail(struct replay_alclient *c, long status,
                          const struct replay__alclient_envelope *env, char *out, size_t outsz)
{
    if (status >= 300 && status < 400) {
        char *loc = NULL, shown[512];
        curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &loc);
        msgf(out, outsz, "redirect to %s not followed",
                 loc ? replay_redact_url(loc, shown, sizeof(shown)) : "(no location)");
    } else if (env->valid && env->message[0] != '\0') {
        replay_redact(env->message, out, outsz);
    } else if (c->body.len > 0) {
        char ex[300];
        replay__alclient_excerpt(c->body.p, c->body.len, ex, sizeof(ex));
        replay_redact(ex, out, outsz);
    } else {
        msgf(out, outsz, "(empty answer)");
    }
}

/* A 2xx: is the body what the call wanted? */
static void check_success(struct replay_alclient *c, struct xfer *x,
                          const struct replay__alclient_envelope *env, struct outcome *o,
                          const char *prefix)
{
    const char *why = NULL;
    char ex[200] = "";
    if (x->r->download) {
        if (x->sink != SINK_FD || x->magic_len < sizeof(x->magic))
            why = env->valid ? "a JSON envelope came back where a bundle was expected"
                             : "the answer is not a CaRT file";
    } else if (!env->valid || env->response == NULL) {
        why = "the answer is not an Assemblyline JSON envelope";
        if (c->body.len > 0)
            replay__alclient_excerpt(c->body.p, c->body.len, ex, sizeof(ex));
    }
    if (why == NULL)
        return;
    o->verdict = REPLAY__AL_FAIL;
    o->code = REPLAY_EPROTO;
    msgf(o->msg, sizeof(o->msg), "%s: HTTP %d: %s%s%s", prefix, c->last_status, why,
             ex[0] ? ": " : "", ex);
}

static void status_outcome(struct replay_alclient *c, struct xfer *x,
                           struct replay__alclient_envelope *env, const char *prefix,
                           struct outcome *o)
{
    long status = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (x->sink != SINK_FD)
        replay__alclient_envelope_parse(c->body.p, c->body.len, env);
    remember_answer(c, status, env->message);
    o->verdict = replay__alclient_classify_status(status, env->valid, env->message,
                                                  x->r->missing_403, &o->code);
    if (o->verdict == REPLAY__AL_OK) {
        check_success(c, x, env, o, prefix);
        return;
    }
    char detail[REPLAY_ERR_MSG_LEN];
    status_detail(c, status, env, detail, sizeof(detail));
    msgf(o->msg, sizeof(o->msg), "%s: HTTP %ld: %s", prefix, status, detail);
}

static void attempt(struct replay_alclient *c, struct xfer *x, const char *url,
                    const char *body, size_t body_len, struct replay__alclient_envelope *env,
                    const char *prefix, struct outcome *o)
{
    replay__abuf_reset(&c->body, BODY_KEEP);
    replay__alclient_envelope_free(env);
    c->errbuf[0] = '\0';
    c->last_status = 0;
    c->api_error[0] = '\0';
    curl_easy_reset(c->curl);
    CURLcode rc = set_common(c, x, url);
    if (rc == CURLE_OK)
        rc = set_method(c, x, body, body_len);
    if (rc == CURLE_OK) {
        replay_idle_begin(); /* bounded by our timeouts; bytes moved report progress */
        rc = curl_easy_perform(c->curl);
        replay_idle_end();
    }
    if (rc != CURLE_OK || x->canceled || x->local_code != 0)
        transport_outcome(c, x, rc, prefix, o);
    else
        status_outcome(c, x, env, prefix, o);
}

/* ---- the retry loop ---- */

static uint64_t next_random(struct replay_alclient *c)
{
    /* xorshift64*: jitter only, no need for quality */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 2685821657736338717ULL;
}

struct download_start {
    bool seekable;
    off_t offset;
};

/* Before a retry, a download goes back to where it started. */
static int rewind_download(const struct replay__alclient_req *r, const struct xfer *x,
                           const struct download_start *ds, const char *cause,
                           struct replay_err *err)
{
    if (!r->download || x->written == 0)
        return 0;
    if (!ds->seekable)
        return replay_err_set(err, REPLAY_EIO,
                              "%s; cannot retry: the output cannot be rewound", cause);
    if (lseek(r->download_fd, ds->offset, SEEK_SET) < 0 ||
        ftruncate(r->download_fd, ds->offset) != 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "%s; cannot retry: rewind the output",
                              cause);
    return 0;
}

/* A failed download leaves the output as it found it, when it can. */
static void discard_download(const struct replay__alclient_req *r, struct xfer *x,
                             const struct download_start *ds)
{
    if (!r->download || x->written == 0 || !ds->seekable)
        return;
    if (lseek(r->download_fd, ds->offset, SEEK_SET) >= 0 &&
        ftruncate(r->download_fd, ds->offset) == 0)
        x->written = 0;
    if (r->downloaded != NULL)
        *r->downloaded = x->written;
}

static int back_off(struct replay_alclient *c, unsigned attempt_no, const struct outcome *o,
                    struct replay_err *err)
{
    uint64_t ms = replay__alclient_backoff_ms(attempt_no, c->retry.base_ms, c->retry.cap_ms,
                                              next_random(c));
    if (attempt_no <= 3 || attempt_no % 10 == 0)
        replay_warn("%s (%s); retry %u in %llu ms", o->msg, replay_err_name(o->code),
                    attempt_no, (unsigned long long)ms);
    if (replay_cancel_sleep_ms(c->cancel, ms, true) != 0)
        return replay_err_set(err, REPLAY_ECANCELED, "%s; canceled while waiting to retry",
                              o->msg);
    return 0;
}

static int build_url(struct replay_alclient *c, const struct replay__alclient_req *r,
                     struct replay_err *err)
{
    replay__abuf_reset(&c->url, MAX_URL_BYTES);
    int rc = replay__alclient_url(&c->url, c->host, r->root, r->segments, r->n_segments,
                                  r->params, r->n_params);
    if (rc == 0)
        return 0;
    if (rc != REPLAY_EUNSAFE)
        return replay_err_set(err, rc, "%s %s/api/v4/...: cannot build the URL: %s", r->method,
                              c->host, replay_strerror(rc));
    for (size_t i = 0; i < r->n_segments; i++) {
        struct replay__abuf scratch;
        replay__abuf_init(&scratch, MAX_URL_BYTES);
        int src = replay__alclient_segment(&scratch, r->segments[i]);
        replay__abuf_free(&scratch);
        if (src != REPLAY_EUNSAFE)
            continue;
        char shown[128];
        replay__alclient_excerpt(r->segments[i], strlen(r->segments[i]), shown, sizeof(shown));
        return replay_err_set(err, REPLAY_EUNSAFE,
                              "%s: unsafe path argument \"%s\" (empty, \".\", \"..\", or holds "
                              "'/', '?', '#' or '%%')", r->method, shown);
    }
    return replay_err_set(err, REPLAY_EUNSAFE, "%s: unsafe path argument", r->method);
}

static int run_attempts(struct replay_alclient *c, const struct replay__alclient_req *r,
                        const char *body, size_t body_len, const char *prefix,
                        struct replay__alclient_envelope *env, struct replay_err *err)
{
    struct download_start ds = {false, 0};
    if (r->download) {
        ds.offset = lseek(r->download_fd, 0, SEEK_CUR);
        ds.seekable = ds.offset >= 0;
    }
    for (unsigned n = 1;; n++) {
        if (replay_cancel_requested(c->cancel))
            return replay_err_set(err, REPLAY_ECANCELED, "%s: canceled by shutdown", prefix);
        struct xfer x = {.c = c, .r = r};
        struct outcome o = {REPLAY__AL_FAIL, REPLAY_EIO, ""};
        attempt(c, &x, c->url.p, body, body_len, env, prefix, &o);
        if (r->download && r->downloaded != NULL)
            *r->downloaded = x.written;
        if (o.verdict == REPLAY__AL_OK) {
            if (n > 1)
                replay_info("%s succeeded after %u attempts", prefix, n);
            return 0;
        }
        if (o.verdict == REPLAY__AL_FAIL || (c->retry.max_attempts != 0 &&
                                             n >= c->retry.max_attempts)) {
            discard_download(r, &x, &ds);
            if (o.verdict == REPLAY__AL_FAIL)
                return replay_err_set(err, o.code, "%s", o.msg);
            return replay_err_set(err, o.code, "%s (gave up after %u attempt%s)", o.msg, n,
                                  n == 1 ? "" : "s");
        }
        int rc = rewind_download(r, &x, &ds, o.msg, err);
        if (rc == 0)
            rc = back_off(c, n, &o, err);
        if (rc != 0)
            return rc;
        if (r->download && r->downloaded != NULL)
            *r->downloaded = 0;
    }
}

int replay__alclient_request(struct replay_alclient *c, const struct replay__alclient_req *r,
                             struct replay__alclient_envelope *env, struct replay_err *err)
{
    replay__alclient_envelope_parse(NULL, 0, env);
    int rc = build_url(c, r, err);
    if (rc != 0)
        return rc;
    char *body = NULL;
    size_t body_len = 0;
    if (r->body != NULL && (body = replay__pyjson_dumps(r->body, 0, &body_len)) == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "%s: cannot encode the request body "
                              "(not valid UTF-8, or nested too deeply)", r->method);
    char shown[1024], prefix[1100];
    msgf(prefix, sizeof(prefix), "%s %s", r->method,
             replay_redact_url(c->url.p, shown, sizeof(shown)));
    rc = run_attempts(c, r, body, body_len, prefix, env, err);
    free(body);
    return rc;
}
