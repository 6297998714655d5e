/*
 * filestore_ftp: ftp:// and ftps:// stores through libcurl.
 *
 * Paths are absolute from the server's root, as upstream's ftplib transport
 * uses them (a chrooted server makes that the user's root). Upload sends the
 * file to a dot-prefixed temporary name in the destination directory
 * (directories created as needed), renames it with RNFR/RNTO in the same
 * session, then checks the size on the server; a streamed upload does the same
 * with a body of unknown size read from the stream's pipe, renamed only once the
 * producer succeeded and the transfer completed. FTPS is explicit (AUTH TLS, then
 * PROT P for data), forced by the ftps scheme or ?use_tls=true; unlike
 * upstream, the server certificate is verified unless ?verify=false.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"
#include "replay/log.h"

struct ftp_store {
    char origin[320]; /* ftp://host:port */
    char base[REPLAY__FS_MAX_PATH];
    bool tls, verify;
};

static const char *const ftp_options[] = {"use_tls", "verify", NULL};

static int ftp_parse(struct replay_filestore *fs, struct replay_err *err)
{
    const struct replay__fs_url *u = &fs->url;
    if (u->host[0] == '\0')
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: no host", fs->shown);
    struct ftp_store *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore: out of memory");
    fs->impl = f;
    f->tls = strcmp(u->scheme, "ftps") == 0 || replay__fs_url_bool(u, "use_tls", false);
    f->verify = replay__fs_url_bool(u, "verify", true);
    if (snprintf(f->base, sizeof(f->base), "%s", u->base) >= (int)sizeof(f->base) ||
        f->base[0] != '/')
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: bad path", fs->shown);
    return replay__fs_origin("ftp", u->host, u->port != 0 ? u->port : 21, f->origin,
                             sizeof(f->origin), err);
}

static void ftp_close(struct replay_filestore *fs)
{
    free(fs->impl);
    fs->impl = NULL;
}

static CURL *ftp_handle(struct replay_filestore *fs, struct replay_err *err)
{
    struct ftp_store *f = fs->impl;
    CURL *h = replay__fs_curl(fs, f->verify, err);
    if (h == NULL)
        return NULL;
    if (fs->url.user[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_USERNAME, fs->url.user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, fs->url.password);
    }
    if (f->tls)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    /* Whole paths in SIZE/RETR: a missing directory is then a missing file.
     * Uploads and listings switch back to CWD (directory creation, LIST). */
    curl_easy_setopt(h, CURLOPT_FTP_FILEMETHOD, (long)CURLFTPMETHOD_NOCWD);
    return h;
}

/* URL of an absolute server path: "%2F" makes libcurl start from the root. */
static int url_of(const struct ftp_store *f, const char *path, bool dir, char *out, size_t outsz,
                  struct replay_err *err)
{
    char enc[REPLAY__FS_MAX_PATH * 3];
    int rc = replay__fs_url_encode(path + 1, true, enc, sizeof(enc), err);
    if (rc != 0)
        return rc;
    int n = snprintf(out, outsz, "%s/%%2F%s%s", f->origin, enc,
                     dir && (enc[0] == '\0' || enc[strlen(enc) - 1] != '/') ? "/" : "");
    if (n < 0 || (size_t)n >= outsz)
        return replay_err_set(err, REPLAY_ETOOBIG, "URL of %.60s too long", path);
    return 0;
}

static int quote_cmd(struct curl_slist **l, const char *verb, const char *path,
                     struct replay_err *err)
{
    char cmd[REPLAY__FS_MAX_PATH + 16];
    if (snprintf(cmd, sizeof(cmd), "%s %s", verb, path) >= (int)sizeof(cmd))
        return replay_err_set(err, REPLAY_ETOOBIG, "FTP command too long");
    if (!replay__http_header_add(l, cmd, NULL))
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    return 0;
}

/* Best effort: the upload failed, do not leave the temporary file behind. */
static void drop_tmp(struct replay_filestore *fs, const char *tmp)
{
    struct replay_err ignored = {0};
    struct ftp_store *f = fs->impl;
    struct curl_slist *q = NULL;
    CURL *h = ftp_handle(fs, &ignored);
    if (h == NULL || quote_cmd(&q, "DELE", tmp, &ignored) != 0) {
        curl_slist_free_all(q);
        return;
    }
    char url[400];
    snprintf(url, sizeof(url), "%s/", f->origin);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_QUOTE, q);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    replay__fs_cleanup_request(&x);
    x.url = url;
    if (replay__fs_perform(fs, &x, "delete temporary", &ignored) != 0)
        replay_debug("filestore %s: temporary %s left behind: %s", fs->shown, tmp, ignored.msg);
    curl_slist_free_all(q);
}

static int check_size(struct replay_filestore *fs, const char *path, uint64_t size,
                      struct replay_err *err)
{
    struct ftp_store *f = fs->impl;
    char url[REPLAY__FS_MAX_PATH * 3 + 400];
    bool found;
    uint64_t got;
    CURL *h = ftp_handle(fs, err);
    if (h == NULL)
        return REPLAY_ENOMEM;
    int rc = url_of(f, path, false, url, sizeof(url), err);
    if (rc == 0)
        rc = replay__fs_remote_size(fs, h, url, &found, &got, err);
    if (rc == 0 && (!found || got != size))
        rc = replay_err_set(err, REPLAY_EIO, "%s has %llu bytes on the server, sent %llu", path,
                            found ? (unsigned long long)got : 0ULL, (unsigned long long)size);
    return rc;
}

/* Sends x's request body (a file, or a stream of unknown size) to tmp, renamed
 * to path in the same session once the transfer completed. */
static int send_tmp(struct replay_filestore *fs, struct replay__http_xfer *x, const char *tmp,
                    const char *path, struct replay_err *err)
{
    struct ftp_store *f = fs->impl;
    char url[REPLAY__FS_MAX_PATH * 3 + 400];
    struct curl_slist *pre = NULL, *post = NULL;
    CURL *h = ftp_handle(fs, err);
    if (h == NULL)
        return REPLAY_ENOMEM;
    int rc = url_of(f, tmp, false, url, sizeof(url), err);
    if (rc == 0 && !replay__http_header_add(&pre, "*SITE UMASK 002", NULL))
        rc = replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    if (rc == 0)
        rc = quote_cmd(&post, "RNFR", tmp, err);
    if (rc == 0)
        rc = quote_cmd(&post, "RNTO", path, err);
    if (rc == 0) {
        x->url = url;
        replay__http_set_method(h, "PUT", x); /* libcurl's upload: STOR */
        curl_easy_setopt(h, CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR_RETRY);
        curl_easy_setopt(h, CURLOPT_FTP_FILEMETHOD, (long)CURLFTPMETHOD_MULTICWD);
        curl_easy_setopt(h, CURLOPT_QUOTE, pre);
        curl_easy_setopt(h, CURLOPT_POSTQUOTE, post);
        rc = replay__fs_perform(fs, x, "STOR", err);
        x->url = NULL;
    }
    curl_slist_free_all(pre);
    curl_slist_free_all(post);
    return rc;
}

static int ftp_upload(struct replay_filestore *fs, int fd, uint64_t size, const char *name,
                      enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    (void)outcome;
    struct ftp_store *f = fs->impl;
    char path[REPLAY__FS_MAX_PATH], tmp[REPLAY__FS_MAX_PATH];
    int rc = replay__fs_join(f->base, name, path, sizeof(path), err);
    if (rc == 0)
        rc = replay__fs_tmp_path(path, tmp, sizeof(tmp), err);
    if (rc != 0)
        return rc;
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.in_fd = fd;
    x.in_len = size;
    rc = send_tmp(fs, &x, tmp, path, err);
    if (rc != 0) {
        drop_tmp(fs, tmp);
        return rc;
    }
    return check_size(fs, path, size, err);
}

/* A streamed upload: the temporary's paths, and what was sent. */
struct ftp_stream {
    char path[REPLAY__FS_MAX_PATH], tmp[REPLAY__FS_MAX_PATH];
    uint64_t sent;
};

static int ftp_consume(struct replay_filestore *fs, struct replay__fs_pipe *in, void *arg,
                       struct replay_err *err)
{
    struct ftp_stream *st = arg;
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    replay__fs_pipe_body(&x, in);
    int rc = send_tmp(fs, &x, st->tmp, st->path, err);
    st->sent = x.in_sent;
    return rc;
}

static int ftp_upload_stream(struct replay_filestore *fs, const char *name,
                             const struct replay__fs_producer *p,
                             enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    (void)outcome;
    struct ftp_store *f = fs->impl;
    struct ftp_stream st;
    int rc = replay__fs_join(f->base, name, st.path, sizeof(st.path), err);
    if (rc == 0)
        rc = replay__fs_tmp_path(st.path, st.tmp, sizeof(st.tmp), err);
    if (rc != 0)
        return rc;
    rc = replay__fs_pipe_run(fs, p, ftp_consume, &st, err);
    if (rc != 0) {
        drop_tmp(fs, st.tmp);
        return rc;
    }
    return check_size(fs, st.path, st.sent, err);
}

#define URL_MAX (REPLAY__FS_MAX_PATH * 3 + 400)

/* The URL of a name's file (url, URL_MAX bytes), with the handle prepared. */
static CURL *name_handle(struct replay_filestore *fs, const char *name, char *url, int *rc,
                         struct replay_err *err)
{
    struct ftp_store *f = fs->impl;
    char path[REPLAY__FS_MAX_PATH];
    *rc = replay__fs_join(f->base, name, path, sizeof(path), err);
    if (*rc == 0)
        *rc = url_of(f, path, false, url, URL_MAX, err);
    CURL *h = *rc == 0 ? ftp_handle(fs, err) : NULL;
    if (h == NULL && *rc == 0)
        *rc = REPLAY_ENOMEM;
    return h;
}

static int ftp_download(struct replay_filestore *fs, const char *name, int fd,
                        struct replay_err *err)
{
    char url[URL_MAX];
    int rc;
    if (name_handle(fs, name, url, &rc, err) == NULL)
        return rc;
    return replay__fs_get_to_fd(fs, url, fd, "RETR", err);
}

static int ftp_exists(struct replay_filestore *fs, const char *name, bool *exists,
                      struct replay_err *err)
{
    char url[URL_MAX];
    uint64_t size;
    int rc;
    CURL *h = name_handle(fs, name, url, &rc, err);
    return h == NULL ? rc : replay__fs_remote_size(fs, h, url, exists, &size, err);
}

static int ftp_remove(struct replay_filestore *fs, const char *name, struct replay_err *err)
{
    struct ftp_store *f = fs->impl;
    char path[REPLAY__FS_MAX_PATH], url[400];
    struct curl_slist *q = NULL;
    int rc = replay__fs_join(f->base, name, path, sizeof(path), err);
    if (rc == 0)
        rc = quote_cmd(&q, "DELE", path, err);
    CURL *h = rc == 0 ? ftp_handle(fs, err) : NULL;
    if (h == NULL) {
        curl_slist_free_all(q);
        return rc != 0 ? rc : REPLAY_ENOMEM;
    }
    snprintf(url, sizeof(url), "%s/", f->origin);
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.url = url;
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_QUOTE, q);
    struct replay_err e = {0};
    rc = replay__fs_perform(fs, &x, "DELE", &e);
    curl_slist_free_all(q);
    if (rc == REPLAY_EPROTO && x.status == 550) {
        /* Refused: fine if the name is not there (any more). */
        bool there = true;
        int rc2 = ftp_exists(fs, name, &there, err);
        if (rc2 != 0)
            return rc2;
        if (!there)
            return 0;
    }
    if (rc != 0)
        replay_err_set(err, rc, "%s", e.msg);
    return rc;
}

static int ftp_list(struct replay_filestore *fs, replay_filestore_list_fn fn, void *ctx,
                    struct replay_err *err)
{
    struct ftp_store *f = fs->impl;
    char url[REPLAY__FS_MAX_PATH * 3 + 400];
    int rc = url_of(f, f->base, true, url, sizeof(url), err);
    CURL *h = rc == 0 ? ftp_handle(fs, err) : NULL;
    if (h == NULL)
        return rc != 0 ? rc : REPLAY_ENOMEM;
    struct replay_err e = {0};
    curl_easy_setopt(h, CURLOPT_FTP_FILEMETHOD, (long)CURLFTPMETHOD_MULTICWD);
    rc = replay__fs_list_dir(fs, url, fn, ctx, &e);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (rc == REPLAY_EAUTH && code == 550)
        return replay_err_set(err, REPLAY_ENOTFOUND, "list: directory %s not found", f->base);
    if (rc != 0)
        replay_err_set(err, rc, "%s", e.msg);
    return rc;
}

const struct replay__fs_ops replay__fs_ftp_ops = {
    .scheme = "ftp",
    .options = ftp_options,
    .parse = ftp_parse,
    .connect = NULL,
    .close = ftp_close,
    .upload = ftp_upload,
    .upload_stream = ftp_upload_stream,
    .download = ftp_download,
    .exists = ftp_exists,
    .remove = ftp_remove,
    .list = ftp_list,
};
