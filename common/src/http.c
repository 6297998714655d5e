/* http: the one libcurl layer of libreplay (http_int.h): global init, handles,
 * transfers with their data callbacks, failure classification, retries. */
#include "http_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "replay/atomicfile.h"
#include "replay/backoff.h"
#include "replay/log.h"
#include "replay/redact.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 30000L
#define DEFAULT_LOW_SPEED_TIME_S 60L
#define DEFAULT_LOW_SPEED_LIMIT 1L
/* libcurl's transfer buffers (16 KiB and 64 KiB by default): larger ones mean
 * fewer callbacks and system calls per MiB; allocated once per handle. */
#define XFER_BUFFER (512L * 1024L)
#define BUF_FIRST 1024

/* ---- buffers ------------------------------------------------------------------- */

void replay__http_buf_init(struct replay__http_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void replay__http_buf_free(struct replay__http_buf *b)
{
    if (b == NULL)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->overflow = false;
}

void replay__http_buf_reset(struct replay__http_buf *b, size_t keep)
{
    if (b->cap > keep) {
        replay__http_buf_free(b);
        return;
    }
    b->len = 0;
    b->overflow = false;
    if (b->p != NULL)
        b->p[0] = '\0';
}

int replay__http_buf_add(struct replay__http_buf *b, const void *data, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return REPLAY_ETOOBIG;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : BUF_FIRST;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        char *np = realloc(b->p, cap);
        if (np == NULL)
            return REPLAY_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int replay__http_buf_str(struct replay__http_buf *b, const char *s)
{
    return replay__http_buf_add(b, s, strlen(s));
}

int replay__http_buf_add_some(struct replay__http_buf *b, const void *data, size_t n,
                              size_t limit)
{
    if (limit > b->max)
        limit = b->max;
    size_t room = b->len < limit ? limit - b->len : 0;
    if (n > room) {
        b->overflow = true;
        n = room;
    }
    return n > 0 ? replay__http_buf_add(b, data, n) : 0;
}

/* ---- handles --------------------------------------------------------------------- */

struct replay__http {
    CURL *curl;
    const struct replay_cancel *cancel;
    long connect_timeout_ms, low_speed_time_s, low_speed_limit;
    bool tls_insecure;
    char *ca_file, *protocols, *user_agent, *accept_encoding;
    uint64_t max_send_speed, max_recv_speed;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long or_default(long v, long dflt)
{
    return v > 0 ? v : dflt;
}

/* strdup of a non-empty string, or of `dflt`; false on ENOMEM. */
static bool copy_opt(char **dst, const char *s, const char *dflt)
{
    const char *v = s != NULL && s[0] != '\0' ? s : dflt;
    *dst = v != NULL ? strdup(v) : NULL;
    return v == NULL || *dst != NULL;
}

int replay__http_open(const struct replay__http_opts *o, struct replay__http **out,
                      struct replay_err *err)
{
    static const struct replay__http_opts none;
    *out = NULL;
    if (o == NULL)
        o = &none;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return replay_err_set(err, REPLAY_EIO, "libcurl initialisation failed: %s",
                              curl_easy_strerror(global_rc));
    struct replay__http *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "http: out of memory");
    h->cancel = o->cancel;
    h->connect_timeout_ms = or_default(o->connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS);
    h->low_speed_time_s = or_default(o->low_speed_time_s, DEFAULT_LOW_SPEED_TIME_S);
    h->low_speed_limit = or_default(o->low_speed_limit, DEFAULT_LOW_SPEED_LIMIT);
    h->tls_insecure = o->tls_insecure;
    h->max_send_speed = o->max_send_speed;
    h->max_recv_speed = o->max_recv_speed;
    bool ok = copy_opt(&h->ca_file, o->ca_file, NULL) &&
              copy_opt(&h->protocols, o->protocols, "http,https") &&
              copy_opt(&h->user_agent, o->user_agent, "assemblyline-replay/" REPLAY_VERSION) &&
              copy_opt(&h->accept_encoding, o->accept_encoding, NULL);
    if (ok)
        h->curl = curl_easy_init();
    if (!ok || h->curl == NULL) {
        replay__http_close(h);
        return replay_err_set(err, ok ? REPLAY_EIO : REPLAY_ENOMEM,
                              "http: cannot make a libcurl handle");
    }
    *out = h;
    return 0;
}

void replay__http_close(struct replay__http *h)
{
    if (h == NULL)
        return;
    if (h->curl != NULL)
        curl_easy_cleanup(h->curl);
    free(h->ca_file);
    free(h->protocols);
    free(h->user_agent);
    free(h->accept_encoding);
    free(h);
}

const struct replay_cancel *replay__http_cancel(const struct replay__http *h)
{
    return h != NULL ? h->cancel : NULL;
}

CURL *replay__http_easy(struct replay__http *h)
{
    CURL *c = h->curl;
    curl_easy_reset(c); /* keeps the connection cache */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, h->protocols);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
    if (h->accept_encoding != NULL)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, h->accept_encoding);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, h->low_speed_limit);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->low_speed_time_s);
    curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, h->low_speed_time_s);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->tls_insecure ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->tls_insecure ? 0L : 2L);
    if (h->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, XFER_BUFFER);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, XFER_BUFFER);
    if (h->max_send_speed > 0)
        curl_easy_setopt(c, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)h->max_send_speed);
    if (h->max_recv_speed > 0)
        curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)h->max_recv_speed);
    return c;
}

bool replay__http_header_add(struct curl_slist **list, const char *name, const char *value)
{
    char *line = NULL;
    if (value != NULL && asprintf(&line, "%s: %s", name, value) < 0)
        return false;
    struct curl_slist *l = curl_slist_append(*list, line != NULL ? line : name);
    free(line);
    if (l == NULL)
        return false;
    *list = l;
    return true;
}

/* ---- transfers: data callbacks ------------------------------------------------------ */

void replay__http_xfer_init(struct replay__http_xfer *x)
{
    memset(x, 0, sizeof(*x));
    x->in_fd = -1;
    x->out_fd = -1;
}

void replay__http_xfer_fail(struct replay__http_xfer *x, int code, int sys_errno,
                            const char *why)
{
    if (x->fail_code != 0)
        return;
    x->fail_code = code;
    x->fail_errno = sys_errno;
    snprintf(x->fail_why, sizeof(x->fail_why), "%s", why);
}

/* A body of unknown length: as much as the source gives, 0 at its end. */
static size_t read_source(struct replay__http_xfer *x, char *p, size_t n)
{
    size_t got = 0;
    int rc = x->in_source(x->in_source_ctx, p, n, &got);
    if (rc != 0) {
        replay__http_xfer_fail(x, rc, 0, "stopped by the sender");
        return CURL_READFUNC_ABORT;
    }
    x->in_sent += got;
    return got;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
    struct replay__http_xfer *x = ud;
    if (x->in_source != NULL)
        return read_source(x, p, size * n);
    uint64_t left = x->in_len - x->in_sent;
    size_t want = size * n < left ? size * n : (size_t)left;
    if (want == 0)
        return 0;
    if (x->in_mem != NULL) {
        memcpy(p, x->in_mem + x->in_off + x->in_sent, want);
        x->in_sent += want;
        return want;
    }
    ssize_t r;
    do {
        r = pread(x->in_fd, p, want, (off_t)(x->in_off + x->in_sent));
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        replay__http_xfer_fail(x, REPLAY_EIO, r < 0 ? errno : 0,
                               r < 0 ? "reading the local file"
                                     : "the local file shrank while being sent");
        return CURL_READFUNC_ABORT;
    }
    x->in_sent += (uint64_t)r;
    return (size_t)r;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct replay__http_xfer *x = ud;
    if (x->in_source != NULL) /* read once: what was sent is gone */
        return CURL_SEEKFUNC_CANTSEEK;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->in_len)
        return CURL_SEEKFUNC_CANTSEEK;
    x->in_sent = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* Where the answer body goes: the caller's sink or fd (a 2xx answer, or any
 * answer of a protocol without statuses), else the memory buffer. */
static bool wanted_body(const struct replay__http_xfer *x)
{
    return !x->http_status || (x->status >= 200 && x->status < 300);
}

static int to_memory(struct replay__http_xfer *x, const char *p, size_t n)
{
    struct replay__http_buf *b = x->body;
    if (b == NULL)
        return 0;
    if (!wanted_body(x))
        return replay__http_buf_add_some(b, p, n, REPLAY__HTTP_ERROR_BODY_KEEP);
    if (x->body_truncate)
        return replay__http_buf_add_some(b, p, n, b->max);
    int rc = replay__http_buf_add(b, p, n);
    if (rc == REPLAY_ETOOBIG) {
        char why[96];
        snprintf(why, sizeof(why), "the answer is larger than %zu bytes", b->max);
        replay__http_xfer_fail(x, rc, 0, why);
    } else if (rc != 0) {
        replay__http_xfer_fail(x, rc, 0, "out of memory for the answer");
    }
    return rc;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    struct replay__http_xfer *x = ud;
    size_t len = size * n;
    int rc;
    if (x->sink != NULL && wanted_body(x)) {
        rc = x->sink(x->sink_ctx, p, len);
        if (rc != 0)
            replay__http_xfer_fail(x, rc, 0, "stopped by the receiver");
    } else if (x->out_fd >= 0 && wanted_body(x)) {
        rc = replay_atomicfile_write_fd(x->out_fd, p, len);
        if (rc != 0)
            replay__http_xfer_fail(x, REPLAY_EIO, rc, "writing the local file");
    } else {
        rc = to_memory(x, p, len);
    }
    if (rc != 0)
        return 0;
    x->out_written += len;
    return len;
}

/* Copies the value of a "Name: value" line into out when Name is `name`. */
static void capture_header(const char *name, const char *p, size_t len, char *out,
                           size_t outsz)
{
    size_t nlen = strlen(name);
    if (len <= nlen || p[nlen] != ':' || strncasecmp(p, name, nlen) != 0)
        return;
    const char *v = p + nlen + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vlen = (size_t)(end - v) < outsz - 1 ? (size_t)(end - v) : outsz - 1;
    for (size_t i = 0; i < vlen; i++)
        out[i] = (unsigned char)v[i] < 0x20 ? ' ' : v[i];
    out[vlen] = '\0';
}

/* "HTTP/1.1 404 Not Found": a new answer starts (after a 100 or a redirect). */
static void capture_status(struct replay__http_xfer *x, const char *p, size_t len)
{
    const char *sp = memchr(p, ' ', len);
    if (sp == NULL || len - (size_t)(sp - p) < 4)
        return;
    long status = strtol(sp + 1, NULL, 10);
    if (status < 100 || status > 999)
        return;
    x->status = status;
    x->http_status = true;
    x->header_value[0] = x->content_type[0] = '\0';
    const char *r = sp + 4, *end = p + len;
    while (r < end && *r == ' ')
        r++;
    while (end > r && (end[-1] == '\r' || end[-1] == '\n'))
        end--;
    size_t rlen = (size_t)(end - r) < sizeof(x->reason) - 1 ? (size_t)(end - r)
                                                           : sizeof(x->reason) - 1;
    for (size_t i = 0; i < rlen; i++)
        x->reason[i] = (unsigned char)r[i] < 0x20 ? ' ' : r[i];
    x->reason[rlen] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct replay__http_xfer *x = ud;
    size_t len = size * n;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        capture_status(x, p, len);
        return len;
    }
    capture_header("content-type", p, len, x->content_type, sizeof(x->content_type));
    if (x->want_header != NULL)
        capture_header(x->want_header, p, len, x->header_value, sizeof(x->header_value));
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    struct replay__http_xfer *x = ud;
    if (!x->ignore_cancel && replay_cancel_requested(x->h->cancel)) {
        x->canceled = true;
        return 1;
    }
    uint64_t moved = (uint64_t)dlnow + (uint64_t)ulnow;
    if (moved != x->moved) {
        x->moved = moved;
        replay_progress();
    }
    return 0;
}

static bool has_body(const struct replay__http_xfer *x)
{
    return x->in_source != NULL || x->in_mem != NULL || x->in_fd >= 0;
}

void replay__http_set_method(CURL *c, const char *method, struct replay__http_xfer *x)
{
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (!has_body(x) && strcmp(method, "DELETE") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else {
        if (!has_body(x)) {
            x->in_mem = "";
            x->in_len = 0;
        }
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
                         x->in_source != NULL ? (curl_off_t)-1 : (curl_off_t)x->in_len);
        if (strcmp(method, "PUT") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
}

/* ---- perform and classification ------------------------------------------------------- */

int replay__http_classify(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return 0;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSH:
    case CURLE_FTP_ACCEPT_FAILED:
    case CURLE_FTP_CANT_GET_HOST:
    case CURLE_FTP_WEIRD_PASV_REPLY:
    case CURLE_FTP_WEIRD_227_FORMAT:
        return REPLAY_ECONN;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_FTP_ACCEPT_TIMEOUT:
        return REPLAY_ETIMEDOUT;
    case CURLE_LOGIN_DENIED:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_AUTH_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return REPLAY_EAUTH;
    case CURLE_REMOTE_FILE_NOT_FOUND:
        return REPLAY_ENOTFOUND;
    case CURLE_REMOTE_DISK_FULL:
    case CURLE_UPLOAD_FAILED:
    case CURLE_READ_ERROR:
    case CURLE_WRITE_ERROR:
    case CURLE_FAILED_INIT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return REPLAY_EIO;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return REPLAY_EINVAL;
    case CURLE_OUT_OF_MEMORY:
        return REPLAY_ENOMEM;
    case CURLE_ABORTED_BY_CALLBACK:
        return REPLAY_ECANCELED;
    default: /* TLS handshake, unexpected answers, FTP/SFTP command failures */
        return REPLAY_EPROTO;
    }
}

bool replay__http_transient(int code)
{
    return code == REPLAY_ECONN || code == REPLAY_ETIMEDOUT;
}

/* Failures our own callbacks caused, reported before libcurl's own words. */
static int callback_failure(const struct replay__http_xfer *x, const char *what,
                            struct replay_err *err)
{
    if (x->canceled)
        return replay_err_set(err, REPLAY_ECANCELED, "%s: canceled by shutdown", what);
    if (x->fail_code == 0)
        return 0;
    if (x->fail_errno != 0)
        return replay_err_sys(err, x->fail_code, x->fail_errno, "%s: %s", what, x->fail_why);
    return replay_err_set(err, x->fail_code, "%s: %s", what, x->fail_why);
}

static void set_callbacks(CURL *c, struct replay__http_xfer *x)
{
    if (has_body(x)) {
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, x);
        curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(c, CURLOPT_SEEKDATA, x);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    if (x->headers != NULL)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->headers);
    if (x->low_speed_time_s > 0)
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, x->low_speed_time_s);
    if (x->timeout_ms > 0)
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->timeout_ms);
}

static void reset_results(struct replay__http_xfer *x, struct replay__http *h)
{
    x->h = h;
    x->status = 0;
    x->http_status = false;
    x->header_value[0] = x->content_type[0] = x->reason[0] = '\0';
    x->in_sent = x->out_written = x->moved = 0;
    x->canceled = false;
    x->fail_code = x->fail_errno = 0;
    x->fail_why[0] = '\0';
}

int replay__http_perform(struct replay__http *h, struct replay__http_xfer *x, const char *what,
                         struct replay_err *err)
{
    CURL *c = h->curl;
    char errbuf[CURL_ERROR_SIZE] = "";
    reset_results(x, h);
    if (x->url != NULL)
        curl_easy_setopt(c, CURLOPT_URL, x->url);
    if (x->method != NULL)
        replay__http_set_method(c, x->method, x);
    set_callbacks(c, x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    replay_idle_begin(); /* bounded by the timeouts; moving bytes reports progress */
    CURLcode rc = curl_easy_perform(c);
    replay_idle_end();
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (!x->http_status) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        x->status = code;
    }
    int mine = callback_failure(x, what, err);
    if (mine != 0 || rc == CURLE_OK)
        return mine;
    char why[CURL_ERROR_SIZE + 32];
    replay_redact(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc), why, sizeof(why));
    return replay_err_set(err, replay__http_classify(rc), "%s: %s", what, why);
}

/* ---- retries ---------------------------------------------------------------------------- */

/* Waits before retry n; REPLAY_ECANCELED when the wait was cut short. */
static int back_off(const struct replay__http_retry *p, struct replay_backoff *b, unsigned n,
                    const struct replay_err *last)
{
    uint64_t ms = replay_backoff_next_ms(b);
    if (n <= 3 || n % 10 == 0)
        replay_warn("%s (%s); retry %u in %llu ms", last->msg, replay_err_name(last->code), n,
                    (unsigned long long)ms);
    return replay_cancel_sleep_ms(p->cancel, ms, true);
}

/* Hands the last attempt's failure to the caller, with `suffix` appended. */
static int pass_on(struct replay_err *err, int code, const struct replay_err *last,
                   const char *suffix)
{
    bool fresh = err != NULL && err->code == 0;
    replay_err_set(err, code, "%s%s", last->msg, suffix);
    if (fresh)
        err->sys_errno = last->sys_errno;
    return code;
}

int replay__http_retry(const struct replay__http_retry *p, const char *what,
                       replay__http_attempt_fn fn, void *ctx, struct replay_err *err)
{
    struct replay_backoff b;
    replay_backoff_init(&b, p->base_ms, p->cap_ms);
    for (unsigned n = 1;; n++) {
        if (replay_cancel_requested(p->cancel))
            return replay_err_set(err, REPLAY_ECANCELED, "%s: canceled by shutdown", what);
        struct replay_err last = {0};
        bool again = false;
        int rc = fn(ctx, n, &again, &last);
        if (rc == 0) {
            if (n > 1)
                replay_info("%s succeeded after %u attempts", what, n);
            return 0;
        }
        if (last.code == 0)
            replay_err_set(&last, rc, "%s: %s", what, replay_strerror(rc));
        if (!again)
            return pass_on(err, rc, &last, "");
        if (p->max_attempts != 0 && n >= p->max_attempts) {
            char suffix[48];
            snprintf(suffix, sizeof(suffix), " (gave up after %u attempt%s)", n,
                     n == 1 ? "" : "s");
            return pass_on(err, rc, &last, suffix);
        }
        if (back_off(p, &b, n, &last) != 0)
            return pass_on(err, REPLAY_ECANCELED, &last, "; canceled while waiting to retry");
    }
}
