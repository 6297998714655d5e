/*
 * filestore_curl: what the curl-based backends share on top of the http module
 * (http_int.h), which owns libcurl itself: the store's transport made on first
 * use with the store's options, failures that name the store, the mapping of
 * S3/Azure error answers to REPLAY_E* codes, and the FTP/SFTP helpers (size of a
 * remote file, directory listings; their parser is filestore_list.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"
#include "replay/redact.h"


void replay__fs_http_close(struct replay_filestore *fs)
{
    if (fs != NULL) {
        replay__http_close(fs->http);
        fs->http = NULL;
    }
}

CURL *replay__fs_curl(struct replay_filestore *fs, bool verify, struct replay_err *err)
{
    const struct replay_filestore_opts *o = &fs->opts;
    if (fs->http == NULL) {
        struct replay__http_opts ho = {
            .cancel = o->cancel,
            .connect_timeout_ms = o->connect_timeout_ms,
            .low_speed_time_s = o->low_speed_time_s,
            .low_speed_limit = o->low_speed_bytes,
            .tls_insecure = !verify,
            .protocols = "ftp,ftps,sftp,http,https",
            .max_send_speed = o->max_send_speed,
            .max_recv_speed = o->max_recv_speed,
        };
        if (replay__http_open(&ho, &fs->http, err) != 0)
            return NULL;
    }
    return replay__http_easy(fs->http);
}

int replay__fs_perform(struct replay_filestore *fs, struct replay__http_xfer *x, const char *what,
                       struct replay_err *err)
{
    char prefix[REPLAY__FS_SHOWN_MAX + 200];
    snprintf(prefix, sizeof(prefix), "%s %s", what, fs->shown);
    return replay__http_perform(fs->http, x, prefix, err);
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

void replay__fs_cleanup_request(struct replay__http_xfer *x)
{
    x->ignore_cancel = true;
    x->timeout_ms = REPLAY__FS_CLEANUP_MS;
}

void replay__fs_body_set(struct replay__http_xfer *x, const struct replay__fs_body *b)
{
    x->in_mem = b->mem;
    x->in_fd = b->mem != NULL ? -1 : b->fd;
    x->in_off = b->off;
    x->in_len = b->len;
}

int replay__fs_get_to_fd(struct replay_filestore *fs, const char *url, int fd, const char *what,
                         struct replay_err *err)
{
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.url = url;
    x.out_fd = fd;
    return replay__fs_perform(fs, &x, what, err);
}

/* Copies an XML element's text from an error body, made printable. */
static void error_field(const struct replay__http_buf *body, const char *tag, char *out,
                        size_t outsz)
{
    out[0] = '\0';
    if (body == NULL || body->p == NULL)
        return;
    if (replay__xml_text(body->p, body->len, tag, out, outsz) == NULL) {
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

int replay__fs_http_error(const struct replay__http_xfer *x, const char *what, const char *shown,
                          struct replay_err *err)
{
    char code[128], msg[256], clean[300];
    error_field(x->body, "Code", code, sizeof(code));
    error_field(x->body, "Message", msg, sizeof(msg));
    replay_redact(msg, clean, sizeof(clean));
    if (code[0] != '\0')
        return replay_err_set(err, http_status_class(x->status), "%s %s: [%ld] %s: %s", what,
                              shown, x->status, code, clean);
    return replay_err_set(err, http_status_class(x->status), "%s %s: [%ld] %s", what, shown,
                          x->status, x->reason[0] != '\0' ? x->reason : "HTTP error");
}

void replay__fs_rest_init(struct replay__fs_rest *r)
{
    memset(r, 0, sizeof(*r));
    replay__http_xfer_init(&r->x);
    replay__http_buf_init(&r->body, REPLAY__FS_BODY_MAX);
}

void replay__fs_rest_free(struct replay__fs_rest *r)
{
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    replay__http_buf_free(&r->body);
}

int replay__fs_rest_run(struct replay_filestore *fs, struct replay__fs_rest *r,
                        const char *method, const char *url, struct replay_err *err)
{
    r->x.headers = r->headers;
    if (r->x.body == NULL) {
        r->x.body_truncate = true;
        r->x.body = &r->body;
    }
    r->x.url = url;
    r->x.method = method;
    return replay__fs_perform(fs, &r->x, r->what, err);
}

int replay__fs_rest_fail(struct replay_filestore *fs, const struct replay__fs_rest *r,
                         struct replay_err *err)
{
    return replay__fs_http_error(&r->x, r->what, fs->shown, err);
}

/* ---- ftp and sftp helpers ------------------------------------------------------------ */

int replay__fs_remote_size(struct replay_filestore *fs, CURL *h, const char *url, bool *found,
                           uint64_t *size, struct replay_err *err)
{
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.url = url;
    *found = false;
    *size = 0;
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    struct replay_err e = {0};
    int rc = replay__fs_perform(fs, &x, "stat", &e);
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

/* The listing's bytes go to the line splitter; a stop by the caller's callback
 * is reported as such. */
struct list_sink {
    struct replay__fs_lister *lister;
    struct replay__http_xfer *x;
};

static int list_sink(void *ctx, const char *p, size_t len)
{
    struct list_sink *k = ctx;
    int rc = replay__fs_lister_feed(k->lister, p, len);
    if (rc != 0)
        replay__http_xfer_fail(k->x, rc, 0, "stopped by the listing callback");
    return rc;
}

int replay__fs_list_dir(struct replay_filestore *fs, const char *url,
                        replay_filestore_list_fn fn, void *ctx, struct replay_err *err)
{
    struct replay__fs_lister *l = malloc(sizeof(*l));
    if (l == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "list: out of memory");
    replay__fs_lister_init(l, fn, ctx);
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    struct list_sink k = {l, &x};
    x.url = url;
    x.sink = list_sink;
    x.sink_ctx = &k;
    int rc = replay__fs_perform(fs, &x, "list", err);
    if (rc == 0 && (rc = replay__fs_lister_end(l)) != 0)
        replay_err_set(err, rc, "list %s: stopped by the listing callback", fs->shown);
    free(l);
    return rc;
}
