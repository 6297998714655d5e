/*
 * filestore_curl: what every libcurl-based backend shares. One easy handle per
 * store (so connections are reused), reset before each request and given the
 * same timeouts, TLS and cancel/progress settings; the data callbacks (upload
 * from a file with pread, download to a file or to a capped buffer, header
 * capture); and the mapping of libcurl and HTTP failures to REPLAY_E* codes
 * with one-line messages that never hold a secret.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"
#include "replay/lifecycle.h"
#include "replay/redact.h"

#define DEFAULT_BODY_MAX (64u * 1024u)
/* libcurl's transfer buffers (64 KiB and 16 KiB by default): larger ones mean
 * fewer callbacks and system calls per MiB; they are allocated once per handle. */
#define XFER_BUFFER (512L * 1024L)
#define LIST_LINE_MAX 4096

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void replay__fs_curl_free(struct replay_filestore *fs)
{
    if (fs != NULL && fs->curl != NULL) {
        curl_easy_cleanup(fs->curl);
        fs->curl = NULL;
    }
}

void replay__fs_req_init(struct replay__fs_req *req)
{
    memset(req, 0, sizeof(*req));
    req->in_fd = -1;
    req->out_fd = -1;
}

void replay__fs_buf_free(struct replay__fs_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->overflow = false;
}

/* Appends to a capped buffer. Returns false when the cap was hit. */
static bool buf_append(struct replay__fs_buf *b, const char *p, size_t len)
{
    size_t max = b->max != 0 ? b->max : DEFAULT_BODY_MAX;
    if (b->len + len > max) {
        b->overflow = true;
        if (!b->truncate)
            return false;
        len = max - b->len;
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        if (cap > max + 1)
            cap = max + 1;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return false;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return true;
}

bool replay__fs_slist_add(struct curl_slist **list, const char *s)
{
    struct curl_slist *l = curl_slist_append(*list, s);
    if (l == NULL)
        return false;
    *list = l;
    return true;
}

CURL *replay__fs_curl(struct replay_filestore *fs, bool verify, struct replay_err *err)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        replay_err_set(err, REPLAY_EIO, "libcurl initialisation failed: %s",
                       curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    if (fs->curl == NULL)
        fs->curl = curl_easy_init();
    else
        curl_easy_reset(fs->curl);
    CURL *h = fs->curl;
    if (h == NULL) {
        replay_err_set(err, REPLAY_ENOMEM, "libcurl: cannot make a handle");
        return NULL;
    }
    const struct replay_filestore_opts *o = &fs->opts;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bytes);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
    curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, o->low_speed_time_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "ftp,ftps,sftp,http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "assemblyline-replay/" REPLAY_VERSION);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, XFER_BUFFER);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, XFER_BUFFER);
    if (o->max_send_speed > 0)
        curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)o->max_send_speed);
    if (o->max_recv_speed > 0)
        curl_easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)o->max_recv_speed);
    return h;
}

/* "scheme://host:port" with IPv6 hosts in brackets. */
int replay__fs_origin(const char *scheme, const char *host, int port, char *out, size_t outsz,
                      struct replay_err *err)
{
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(out, outsz, "%s://%s%s%s:%d", scheme, v6 ? "[" : "", host, v6 ? "]" : "",
                     port);
    if (n < 0 || (size_t)n >= outsz)
        return replay_err_set(err, REPLAY_ETOOBIG, "host name too long");
    return 0;
}

/* ---- data callbacks ---------------------------------------------------------- */

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
    struct replay__fs_req *req = ud;
    uint64_t left = req->in_len - req->in_sent;
    size_t want = size * n < left ? size * n : (size_t)left;
    if (want == 0)
        return 0;
    if (req->in_mem != NULL) {
        memcpy(p, req->in_mem + req->in_off + req->in_sent, want);
        req->in_sent += want;
        return want;
    }
    ssize_t r;
    do {
        r = pread(req->in_fd, p, want, (off_t)(req->in_off + req->in_sent));
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        req->read_failed = true;
        req->shrunk = r == 0;
        req->sys_errno = r < 0 ? errno : 0;
        return CURL_READFUNC_ABORT;
    }
    req->in_sent += (uint64_t)r;
    return (size_t)r;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    struct replay__fs_req *req = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > req->in_len)
        return CURL_SEEKFUNC_CANTSEEK;
    req->in_sent = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

static bool http_ok(const struct replay__fs_req *req)
{
    return !req->is_http || (req->status >= 200 && req->status < 300);
}

static bool write_all(int fd, const char *p, size_t len, int *sys_errno)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            *sys_errno = w < 0 ? errno : EIO;
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    return true;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    struct replay__fs_req *req = ud;
    size_t len = size * n;
    if (req->sink != NULL && http_ok(req)) {
        req->sink_rc = req->sink(p, len, req->sink_ctx);
        return req->sink_rc == 0 ? len : 0;
    }
    if (req->out_fd >= 0 && http_ok(req))
        return write_all(req->out_fd, p, len, &req->sys_errno) ? len : 0;
    if (req->body != NULL && !buf_append(req->body, p, len))
        return 0;
    return len;
}

/* Copies the value of a "Name: value" header line when Name is wanted. */
static void capture_header(struct replay__fs_req *req, const char *p, size_t len)
{
    size_t nlen = strlen(req->want_header);
    if (len <= nlen || p[nlen] != ':' || strncasecmp(p, req->want_header, nlen) != 0)
        return;
    const char *v = p + nlen + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vlen = (size_t)(end - v);
    if (vlen >= sizeof(req->header_value))
        vlen = sizeof(req->header_value) - 1;
    memcpy(req->header_value, v, vlen);
    req->header_value[vlen] = '\0';
}

/* "HTTP/1.1 404 Not Found": the status and the reason phrase. */
static void capture_status(struct replay__fs_req *req, const char *p, size_t len)
{
    const char *sp = memchr(p, ' ', len);
    if (sp == NULL || len - (size_t)(sp - p) < 4)
        return;
    long status = strtol(sp + 1, NULL, 10);
    if (status < 100 || status > 999)
        return;
    req->status = status;
    const char *r = sp + 4, *end = p + len;
    while (r < end && *r == ' ')
        r++;
    while (end > r && (end[-1] == '\r' || end[-1] == '\n'))
        end--;
    size_t rlen = (size_t)(end - r) < sizeof(req->reason) - 1 ? (size_t)(end - r)
                                                             : sizeof(req->reason) - 1;
    for (size_t i = 0; i < rlen; i++)
        req->reason[i] = (unsigned char)r[i] < 0x20 ? ' ' : r[i];
    req->reason[rlen] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct replay__fs_req *req = ud;
    size_t len = size * n;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0)
        capture_status(req, p, len);
    else if (req->want_header != NULL)
        capture_header(req, p, len);
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)ultotal;
    struct replay__fs_req *req = ud;
    if (replay_cancel_requested(req->fs->opts.cancel)) {
        req->canceled = true;
        return 1;
    }
    uint64_t moved = (uint64_t)dlnow + (uint64_t)ulnow;
    if (moved != req->last_bytes) {
        req->last_bytes = moved;
        replay_progress();
    }
    return 0;
}

/* ---- perform and error mapping ------------------------------------------------------ */

static int curl_code_class(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_FTP_ACCEPT_FAILED:
    case CURLE_FTP_CANT_GET_HOST:
    case CURLE_FTP_WEIRD_PASV_REPLY:
    case CURLE_FTP_WEIRD_227_FORMAT:
    case CURLE_SSH:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
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
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return REPLAY_EAUTH;
    case CURLE_REMOTE_FILE_NOT_FOUND:
        return REPLAY_ENOTFOUND;
    case CURLE_REMOTE_DISK_FULL:
    case CURLE_UPLOAD_FAILED:
    case CURLE_READ_ERROR:
    case CURLE_WRITE_ERROR:
        return REPLAY_EIO;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return REPLAY_EINVAL;
    case CURLE_OUT_OF_MEMORY:
        return REPLAY_ENOMEM;
    default:
        return REPLAY_EPROTO;
    }
}

/* Failures that our own callbacks caused. Returns 0 when rc is not one. */
static int callback_failure(CURLcode rc, const struct replay__fs_req *req, const char *what,
                            const char *shown, struct replay_err *err)
{
    if (req->canceled)
        return replay_err_set(err, REPLAY_ECANCELED, "%s %s: canceled", what, shown);
    if (req->read_failed && req->shrunk)
        return replay_err_set(err, REPLAY_EIO, "%s %s: local file shrank while being sent", what,
                              shown);
    if (req->read_failed)
        return replay_err_sys(err, REPLAY_EIO, req->sys_errno, "%s %s: reading local file", what,
                              shown);
    if (rc != CURLE_WRITE_ERROR)
        return 0;
    if (req->sink_rc != 0)
        return replay_err_set(err, req->sink_rc, "%s %s: stopped by the listing callback", what,
                              shown);
    if (req->body != NULL && req->body->overflow)
        return replay_err_set(err, REPLAY_ETOOBIG, "%s %s: answer larger than %zu bytes", what,
                              shown, req->body->max != 0 ? req->body->max : DEFAULT_BODY_MAX);
    if (req->sys_errno != 0)
        return replay_err_sys(err, REPLAY_EIO, req->sys_errno, "%s %s: writing local file",
                              what, shown);
    return 0;
}

int replay__fs_perform(CURL *h, struct replay__fs_req *req, const char *what, const char *shown,
                       struct replay_err *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    req->status = 0;
    req->reason[0] = '\0';
    req->in_sent = 0;
    req->canceled = req->read_failed = req->shrunk = false;
    req->sys_errno = req->sink_rc = 0;
    if (req->in_fd >= 0 || req->in_mem != NULL) {
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, req);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, req);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, req);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, req);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (req->headers != NULL)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, req->headers);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    req->status = code;
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    if (rc == CURLE_OK)
        return 0;
    int mine = callback_failure(rc, req, what, shown, err);
    if (mine != 0)
        return mine;
    char why[CURL_ERROR_SIZE + 32];
    replay_redact(errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc), why, sizeof(why));
    return replay_err_set(err, curl_code_class(rc), "%s %s: %s", what, shown, why);
}

int replay__fs_get_to_fd(struct replay_filestore *fs, CURL *h, const char *url, int fd,
                         const char *what, struct replay_err *err)
{
    struct replay__fs_req req;
    replay__fs_req_init(&req);
    req.fs = fs;
    req.out_fd = fd;
    curl_easy_setopt(h, CURLOPT_URL, url);
    return replay__fs_perform(h, &req, what, fs->shown, err);
}

/* Copies an XML element's text from an error body, made printable. */
static void error_field(const struct replay__fs_buf *body, const char *tag, char *out,
                        size_t outsz)
{
    out[0] = '\0';
    if (body == NULL || body->data == NULL)
        return;
    if (replay__xml_text(body->data, body->len, tag, out, outsz) == NULL) {
        out[0] = '\0';
        return;
    }
    for (char *c = out; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    }
}

static int http_status_class(long status)
{
    switch (status) {
    case 401:
    case 403:
        return REPLAY_EAUTH;
    case 404:
    case 410:
        return REPLAY_ENOTFOUND;
    case 409:
    case 412:
        return REPLAY_EEXIST;
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
        return REPLAY_EAGAIN;
    default:
        return REPLAY_EHTTP;
    }
}

int replay__fs_http_error(const struct replay__fs_req *req, const struct replay__fs_buf *body,
                          const char *what, const char *shown, struct replay_err *err)
{
    char code[128], msg[256], clean[300];
    error_field(body, "Code", code, sizeof(code));
    error_field(body, "Message", msg, sizeof(msg));
    replay_redact(msg, clean, sizeof(clean));
    if (code[0] != '\0')
        return replay_err_set(err, http_status_class(req->status), "%s %s: [%ld] %s: %s", what,
                              shown, req->status, code, clean);
    return replay_err_set(err, http_status_class(req->status), "%s %s: [%ld] %s", what, shown,
                          req->status, req->reason[0] != '\0' ? req->reason : "HTTP error");
}

void replay__fs_set_method(CURL *h, const char *method, struct replay__fs_req *req)
{
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) {
        if (req->in_fd < 0 && req->in_mem == NULL) {
            req->in_mem = "";
            req->in_len = 0;
        }
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->in_len);
        if (strcmp(method, "POST") == 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
}

/* ---- ftp and sftp helpers ------------------------------------------------------------ */

int replay__fs_remote_size(struct replay_filestore *fs, CURL *h, const char *url, bool *found,
                           uint64_t *size, struct replay_err *err)
{
    struct replay__fs_req req;
    replay__fs_req_init(&req);
    req.fs = fs;
    *found = false;
    *size = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    struct replay_err e = {0};
    int rc = replay__fs_perform(h, &req, "stat", fs->shown, &e);
    if (rc == REPLAY_ENOTFOUND)
        return 0;
    if (rc != 0) {
        replay_err_set(err, rc, "%s", e.msg);
        return rc;
    }
    curl_off_t len = -1;
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    *found = true;
    *size = len > 0 ? (uint64_t)len : 0;
    return 0;
}

static bool is_month(const char *t)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    if (strlen(t) != 3)
        return false;
    for (size_t i = 0; i < 12; i++) {
        if (strcasecmp(t, months[i]) == 0)
            return true;
    }
    return false;
}

static bool all_digits(const char *t)
{
    if (*t == '\0')
        return false;
    for (; *t != '\0'; t++) {
        if (*t < '0' || *t > '9')
            return false;
    }
    return true;
}

#define LIST_MAX_TOKENS 12

/* Splits up to max tokens at runs of spaces; *rest points at what follows. */
static size_t tokens(char *line, char **tok, size_t max, char **rest)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        tok[n++] = p;
        p += strcspn(p, " \t");
        if (*p == '\0')
            break;
        *p++ = '\0';
    }
    while (*p == ' ' || *p == '\t')
        p++;
    *rest = p;
    return n;
}

/* "-rw-r--r-- 1 u g 5 Nov 28 01:30 name": the name follows month, day, time. */
static int parse_unix_line(char *line, const char **name)
{
    char type = line[0];
    char *tok[LIST_MAX_TOKENS], *rest = NULL;
    char *p = line;
    for (size_t i = 0; i < LIST_MAX_TOKENS; i++) {
        size_t n = tokens(p, tok, 1, &rest);
        if (n == 0)
            return 0;
        if (i >= 3 && is_month(tok[0])) {
            char *day, *when;
            if (tokens(rest, &day, 1, &rest) != 1 || !all_digits(day))
                return 0;
            if (tokens(rest, &when, 1, &rest) != 1)
                return 0;
            if (*rest == '\0' || type != '-')
                return 0;
            *name = rest;
            return 1;
        }
        p = rest;
    }
    return 0;
}

/* "11-28-26  01:30AM  <DIR>  name" or "11-28-26  01:30AM  1234 name". */
static int parse_dos_line(char *line, const char **name)
{
    char *tok[3], *rest;
    if (tokens(line, tok, 3, &rest) != 3 || *rest == '\0')
        return 0;
    if (strchr(tok[0], '-') == NULL || strchr(tok[1], ':') == NULL || !all_digits(tok[2]))
        return 0;
    *name = rest;
    return 1;
}

int replay__fs_parse_list_line(char *line, const char **name)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        line[--len] = '\0';
    if (len < 2)
        return 0;
    if (strchr("-dlbcps", line[0]) != NULL && strchr("-r", line[1]) != NULL)
        return parse_unix_line(line, name);
    if (line[0] >= '0' && line[0] <= '9')
        return parse_dos_line(line, name);
    return 0;
}

struct list_state {
    char line[LIST_LINE_MAX];
    size_t len;
    bool skipping; /* inside a line longer than the buffer */
    replay_filestore_list_fn fn;
    void *ctx;
};

static int list_line(struct list_state *s)
{
    s->line[s->len] = '\0';
    s->len = 0;
    const char *name;
    if (replay__fs_parse_list_line(s->line, &name) != 1)
        return 0;
    return s->fn(name, s->ctx);
}

static int list_sink(const char *p, size_t len, void *ctx)
{
    struct list_state *s = ctx;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            int rc = s->skipping ? 0 : list_line(s);
            s->skipping = false;
            s->len = 0;
            if (rc != 0)
                return rc;
        } else if (s->len + 1 < sizeof(s->line)) {
            s->line[s->len++] = p[i];
        } else {
            s->skipping = true;
        }
    }
    return 0;
}

int replay__fs_list_dir(struct replay_filestore *fs, CURL *h, const char *url,
                        replay_filestore_list_fn fn, void *ctx, struct replay_err *err)
{
    struct list_state *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "list: out of memory");
    s->fn = fn;
    s->ctx = ctx;
    struct replay__fs_req req;
    replay__fs_req_init(&req);
    req.fs = fs;
    req.sink = list_sink;
    req.sink_ctx = s;
    curl_easy_setopt(h, CURLOPT_URL, url);
    int rc = replay__fs_perform(h, &req, "list", fs->shown, err);
    if (rc == 0 && s->len > 0 && !s->skipping)
        rc = list_line(s); /* a last line without a newline */
    free(s);
    return rc;
}
