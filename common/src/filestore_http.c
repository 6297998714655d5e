/*
 * filestore_http: http:// and https:// stores, read-only, over libcurl.
 *
 * As upstream: objects live at scheme://host:port + base/name (64-character
 * names sharded like file://); Basic authentication when both user and password
 * are set; ?pki= is a PEM file holding the client certificate and its key;
 * ?verify=false skips the TLS check. exists is a HEAD (a status below 400 means
 * present), download a GET that follows redirects (to http/https only, without
 * sending credentials to another host). Upload and delete fail as upstream's
 * do; listing is not possible.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"
#include "replay/redact.h"

#define HTTP_MAX_REDIRECTS 5L

struct http_store {
    char origin[320];
    const char *pki; /* borrowed from fs->url */
    bool verify;
};

static const char *const http_options[] = {"pki", "verify", NULL};

static int http_parse(struct replay_filestore *fs, struct replay_err *err)
{
    const struct replay__fs_url *u = &fs->url;
    if (u->host[0] == '\0')
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: no host", fs->shown);
    struct http_store *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore: out of memory");
    fs->impl = h;
    bool tls = strcmp(u->scheme, "https") == 0;
    h->pki = replay__fs_url_opt(u, "pki");
    h->verify = replay__fs_url_bool(u, "verify", true);
    return replay__fs_origin(u->scheme, u->host, u->port != 0 ? u->port : (tls ? 443 : 80),
                             h->origin, sizeof(h->origin), err);
}

static void http_close(struct replay_filestore *fs)
{
    free(fs->impl);
    fs->impl = NULL;
}

/* Prepares the store's handle and x for `method` on the URL of `name` (written
 * to url, which x borrows). */
static int http_prepare(struct replay_filestore *fs, const char *name, const char *method,
                        char *url, size_t urlsz, struct replay__http_xfer *x,
                        struct replay_err *err)
{
    struct http_store *s = fs->impl;
    char path[REPLAY__FS_MAX_PATH], enc[REPLAY__FS_MAX_PATH * 3];
    int rc = replay__fs_join(fs->url.base, name, path, sizeof(path), err);
    if (rc == 0)
        rc = replay__fs_url_encode(path, true, enc, sizeof(enc), err);
    if (rc != 0)
        return rc;
    if (snprintf(url, urlsz, "%s%s%s", s->origin, enc[0] == '/' ? "" : "/", enc) >= (int)urlsz)
        return replay_err_set(err, REPLAY_ETOOBIG, "URL of %.60s too long", name);
    CURL *h = replay__fs_curl(fs, s->verify, err);
    if (h == NULL)
        return REPLAY_ENOMEM;
    if (fs->url.user[0] != '\0' && fs->url.password[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, fs->url.user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, fs->url.password);
    }
    if (s->pki != NULL) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, s->pki);
        curl_easy_setopt(h, CURLOPT_SSLKEY, s->pki);
    }
    if (strcmp(method, "GET") == 0) { /* downloads follow redirects, as upstream's */
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, HTTP_MAX_REDIRECTS);
    }
    replay__http_xfer_init(x);
    x->url = url;
    x->method = method;
    return 0;
}

static int read_only(struct replay_filestore *fs, struct replay_err *err)
{
    return replay_err_set(err, REPLAY_EUNSUPPORTED,
                          "%s: READ ONLY TRANSPORT: Method not implemented", fs->shown);
}

static int http_upload(struct replay_filestore *fs, int fd, uint64_t size, const char *name,
                       enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    (void)fd;
    (void)size;
    (void)name;
    (void)outcome;
    return read_only(fs, err);
}

static int http_remove(struct replay_filestore *fs, const char *name, struct replay_err *err)
{
    (void)name;
    return read_only(fs, err);
}

static int http_list(struct replay_filestore *fs, replay_filestore_list_fn fn, void *ctx,
                     struct replay_err *err)
{
    (void)fn;
    (void)ctx;
    return replay_err_set(err, REPLAY_EUNSUPPORTED, "%s: an HTTP store cannot be listed",
                          fs->shown);
}

static int http_download(struct replay_filestore *fs, const char *name, int fd,
                         struct replay_err *err)
{
    char url[REPLAY__FS_MAX_PATH * 3 + 400], shown[REPLAY__FS_MAX_PATH * 3 + 400];
    struct replay__http_xfer x;
    int rc = http_prepare(fs, name, "GET", url, sizeof(url), &x, err);
    if (rc != 0)
        return rc;
    x.out_fd = fd;
    rc = replay__fs_perform(fs, &x, "GET", err);
    if (rc == 0 && (x.status < 200 || x.status >= 300)) {
        replay_redact_url(url, shown, sizeof(shown));
        rc = replay__fs_http_error(&x, "GET", shown, err);
    }
    return rc;
}

static int http_exists(struct replay_filestore *fs, const char *name, bool *exists,
                       struct replay_err *err)
{
    char url[REPLAY__FS_MAX_PATH * 3 + 400];
    struct replay__http_xfer x;
    int rc = http_prepare(fs, name, "HEAD", url, sizeof(url), &x, err);
    if (rc == 0)
        rc = replay__fs_perform(fs, &x, "HEAD", err);
    if (rc != 0)
        return rc;
    *exists = x.status < 400;
    if (x.status == 401 || x.status == 403 || x.status >= 500)
        return replay__fs_http_error(&x, "HEAD", fs->shown, err);
    return 0;
}

const struct replay__fs_ops replay__fs_http_ops = {
    .scheme = "http",
    .options = http_options,
    .parse = http_parse,
    .connect = NULL,
    .close = http_close,
    .upload = http_upload,
    .download = http_download,
    .exists = http_exists,
    .remove = http_remove,
    .list = http_list,
};
