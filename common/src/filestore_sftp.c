/*
 * filestore_sftp: sftp:// stores through libcurl (libssh2).
 *
 * Login by password, by private key (?private_key=PATH, optionally
 * ?private_key_pass=), or both. The host key is not checked unless
 * ?validate_host=true, which checks it against ~/.ssh/known_hosts, as upstream.
 * A base of "/" means the login directory, other bases are absolute. Upload
 * sends a dot-prefixed temporary file (directories created as needed), renames
 * it in the same session, then checks its size (a streamed upload: the same,
 * with a body of unknown size read from the stream's pipe). SFTP's rename does not replace
 * an existing name on OpenSSH: a concurrent writer that won shows up as a failed
 * rename over an existing name, which is reported as SKIPPED_EXISTS.
 * Unlike upstream, a custom port is kept on reconnection.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"

struct sftp_store {
    char origin[320]; /* sftp://host:port */
    char base[REPLAY__FS_MAX_PATH]; /* absolute, or relative to the login dir ("" = it) */
    const char *key, *key_pass;     /* borrowed from fs->url */
    bool validate_host;
    char known_hosts[REPLAY__FS_MAX_PATH];
};

static const char *const sftp_options[] = {"private_key", "private_key_pass", "validate_host",
                                           NULL};

static int known_hosts_path(struct sftp_store *s, struct replay_err *err)
{
    const char *home = getenv("HOME");
    if (home == NULL || home[0] == '\0') {
        struct passwd *pw = getpwuid(getuid());
        home = pw != NULL ? pw->pw_dir : NULL;
    }
    if (home == NULL)
        return replay_err_set(err, REPLAY_ECONFIG,
                              "validate_host=true needs a home directory for known_hosts");
    if (snprintf(s->known_hosts, sizeof(s->known_hosts), "%s/.ssh/known_hosts", home) >=
        (int)sizeof(s->known_hosts))
        return replay_err_set(err, REPLAY_ETOOBIG, "known_hosts path too long");
    return 0;
}

static int sftp_parse(struct replay_filestore *fs, struct replay_err *err)
{
    const struct replay__fs_url *u = &fs->url;
    if (u->host[0] == '\0')
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: no host", fs->shown);
    struct sftp_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore: out of memory");
    fs->impl = s;
    s->key = replay__fs_url_opt(u, "private_key");
    s->key_pass = replay__fs_url_opt(u, "private_key_pass");
    s->validate_host = replay__fs_url_bool(u, "validate_host", false);
    int rc = s->validate_host ? known_hosts_path(s, err) : 0;
    if (rc != 0)
        return rc;
    /* "/" is the login directory; "/x" is absolute; trailing '/' dropped. */
    const char *b = strcmp(u->base, "/") == 0 ? "" : u->base;
    if (snprintf(s->base, sizeof(s->base), "%s", b) >= (int)sizeof(s->base))
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: path too long", fs->shown);
    size_t blen = strlen(s->base);
    while (blen > 1 && s->base[blen - 1] == '/')
        s->base[--blen] = '\0';
    return replay__fs_origin("sftp", u->host, u->port != 0 ? u->port : 22, s->origin,
                             sizeof(s->origin), err);
}

static void sftp_close(struct replay_filestore *fs)
{
    free(fs->impl);
    fs->impl = NULL;
}

static CURL *sftp_handle(struct replay_filestore *fs, struct replay_err *err)
{
    struct sftp_store *s = fs->impl;
    CURL *h = replay__fs_curl(fs, true, err);
    if (h == NULL)
        return NULL;
    const struct replay__fs_url *u = &fs->url;
    curl_easy_setopt(h, CURLOPT_USERNAME, u->user);
    long auth = CURLSSH_AUTH_PASSWORD | CURLSSH_AUTH_KEYBOARD;
    if (u->password[0] != '\0')
        curl_easy_setopt(h, CURLOPT_PASSWORD, u->password);
    if (s->key != NULL) {
        auth = CURLSSH_AUTH_PUBLICKEY | (u->password[0] != '\0' ? CURLSSH_AUTH_PASSWORD : 0);
        curl_easy_setopt(h, CURLOPT_SSH_PRIVATE_KEYFILE, s->key);
        /* Empty: libssh2 derives the public key from the private one. */
        curl_easy_setopt(h, CURLOPT_SSH_PUBLIC_KEYFILE, "");
        if (s->key_pass != NULL)
            curl_easy_setopt(h, CURLOPT_KEYPASSWD, s->key_pass);
    }
    curl_easy_setopt(h, CURLOPT_SSH_AUTH_TYPES, auth);
    if (s->validate_host)
        curl_easy_setopt(h, CURLOPT_SSH_KNOWNHOSTS, s->known_hosts);
    return h;
}

/* Full path of a name: base/name, or name alone under the login directory. */
static int path_of(const struct sftp_store *s, const char *name, char *out, size_t outsz,
                   struct replay_err *err)
{
    if (s->base[0] != '\0')
        return replay__fs_join(s->base, name, out, outsz, err);
    char tmp[REPLAY__FS_MAX_PATH];
    int rc = replay__fs_join("x", name, tmp, sizeof(tmp), err); /* same sharding */
    if (rc == 0 && snprintf(out, outsz, "%s", tmp + 2) >= (int)outsz)
        rc = replay_err_set(err, REPLAY_ETOOBIG, "path of %.60s too long", name);
    return rc;
}

/* URL of a path: absolute, or "/~/" for the login directory. */
static int url_of(const struct sftp_store *s, const char *path, bool dir, char *out, size_t outsz,
                  struct replay_err *err)
{
    char enc[REPLAY__FS_MAX_PATH * 3];
    int rc = replay__fs_url_encode(path, true, enc, sizeof(enc), err);
    if (rc != 0)
        return rc;
    size_t elen = strlen(enc);
    int n = snprintf(out, outsz, "%s%s%s%s", s->origin, path[0] == '/' ? "" : "/~/", enc,
                     dir && elen > 0 && enc[elen - 1] != '/' ? "/" : "");
    if (n < 0 || (size_t)n >= outsz)
        return replay_err_set(err, REPLAY_ETOOBIG, "URL of %.60s too long", path);
    return 0;
}

/* Adds `verb "arg1" ["arg2"]` to a quote list, escaping '"' and '\'. */
static int quote_cmd(struct curl_slist **l, const char *verb, const char *a, const char *b,
                     struct replay_err *err)
{
    char cmd[2 * 2 * REPLAY__FS_MAX_PATH + 32];
    size_t o = (size_t)snprintf(cmd, sizeof(cmd), "%s", verb);
    for (int i = 0; i < 2; i++) {
        const char *arg = i == 0 ? a : b;
        if (arg == NULL)
            break;
        cmd[o++] = ' ';
        cmd[o++] = '"';
        for (; *arg != '\0' && o + 4 < sizeof(cmd); arg++) {
            if (*arg == '"' || *arg == '\\')
                cmd[o++] = '\\';
            cmd[o++] = *arg;
        }
        if (*arg != '\0')
            return replay_err_set(err, REPLAY_ETOOBIG, "SFTP command too long");
        cmd[o++] = '"';
    }
    cmd[o] = '\0';
    if (!replay__http_header_add(l, cmd, NULL))
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    return 0;
}

/* Runs quote commands on a body-less request to the login directory; a
 * clean-up runs even after a cancellation (replay__fs_cleanup_request). */
static int run_quote(struct replay_filestore *fs, struct curl_slist *q, const char *what,
                     bool cleanup, struct replay_err *err)
{
    struct sftp_store *s = fs->impl;
    CURL *h = sftp_handle(fs, err);
    if (h == NULL)
        return REPLAY_ENOMEM;
    char url[400];
    snprintf(url, sizeof(url), "%s/~/", s->origin);
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.url = url;
    if (cleanup)
        replay__fs_cleanup_request(&x);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_QUOTE, q);
    return replay__fs_perform(fs, &x, what, err);
}

static int sftp_connect(struct replay_filestore *fs, struct replay_err *err)
{
    return run_quote(fs, NULL, "connect", false, err);
}

static int stat_path(struct replay_filestore *fs, const char *path, bool *found, uint64_t *size,
                     struct replay_err *err)
{
    struct sftp_store *s = fs->impl;
    char url[REPLAY__FS_MAX_PATH * 3 + 400];
    int rc = url_of(s, path, false, url, sizeof(url), err);
    CURL *h = rc == 0 ? sftp_handle(fs, err) : NULL;
    if (h == NULL)
        return rc != 0 ? rc : REPLAY_ENOMEM;
    return replay__fs_remote_size(fs, h, url, found, size, err);
}

static void drop_tmp(struct replay_filestore *fs, const char *tmp)
{
    struct replay_err ignored = {0};
    struct curl_slist *q = NULL;
    if (quote_cmd(&q, "rm", tmp, NULL, &ignored) == 0)
        (void)run_quote(fs, q, "delete temporary", true, &ignored);
    curl_slist_free_all(q);
}

/* Sends x's request body (a file, or a stream of unknown size) to tmp, renamed
 * to path in the same session once the transfer completed. */
static int send_tmp(struct replay_filestore *fs, struct replay__http_xfer *x, const char *tmp,
                    const char *path, struct replay_err *err)
{
    struct sftp_store *s = fs->impl;
    char url[REPLAY__FS_MAX_PATH * 3 + 400];
    struct curl_slist *post = NULL;
    int rc = url_of(s, tmp, false, url, sizeof(url), err);
    if (rc == 0)
        rc = quote_cmd(&post, "rename", tmp, path, err);
    CURL *h = rc == 0 ? sftp_handle(fs, err) : NULL;
    if (h == NULL) {
        curl_slist_free_all(post);
        return rc != 0 ? rc : REPLAY_ENOMEM;
    }
    x->url = url;
    replay__http_set_method(h, "PUT", x); /* libcurl's upload */
    curl_easy_setopt(h, CURLOPT_FTP_CREATE_MISSING_DIRS, (long)CURLFTP_CREATE_DIR_RETRY);
    curl_easy_setopt(h, CURLOPT_POSTQUOTE, post);
    curl_easy_setopt(h, CURLOPT_NEW_FILE_PERMS, 0644L);
    curl_easy_setopt(h, CURLOPT_NEW_DIRECTORY_PERMS, 0755L);
    rc = replay__fs_perform(fs, x, "put", err);
    x->url = NULL;
    curl_slist_free_all(post);
    return rc;
}

/* The rename failed: true when a concurrent writer has taken the name. */
static bool taken_by_other(struct replay_filestore *fs, const char *path)
{
    bool found = false;
    uint64_t got = 0;
    struct replay_err ignored = {0};
    return stat_path(fs, path, &found, &got, &ignored) == 0 && found;
}

/* An upload's temporary and final paths, and its body. */
struct sftp_put {
    char path[REPLAY__FS_MAX_PATH], tmp[REPLAY__FS_MAX_PATH];
    struct replay__http_xfer x;
};

static int put_paths(struct replay_filestore *fs, const char *name, struct sftp_put *u,
                     struct replay_err *err)
{
    replay__http_xfer_init(&u->x);
    int rc = path_of(fs->impl, name, u->path, sizeof(u->path), err);
    return rc != 0 ? rc : replay__fs_tmp_path(u->path, u->tmp, sizeof(u->tmp), err);
}

/* After send_tmp (rc, its message in e): removes the temporary of a failed
 * upload, tells a concurrent writer's win, checks the size of a success. */
static int put_done(struct replay_filestore *fs, struct sftp_put *u, int rc,
                    const struct replay_err *e, enum replay_filestore_outcome *outcome,
                    struct replay_err *err)
{
    if (rc != 0) {
        drop_tmp(fs, u->tmp);
        if (rc == REPLAY_EPROTO && taken_by_other(fs, u->path)) {
            *outcome = REPLAY_FILESTORE_SKIPPED_EXISTS;
            return 0;
        }
        return replay_err_set(err, rc, "%s", e->msg);
    }
    bool found = false;
    uint64_t got = 0;
    rc = stat_path(fs, u->path, &found, &got, err);
    if (rc == 0 && (!found || got != u->x.in_sent))
        rc = replay_err_set(err, REPLAY_EIO, "%s has %llu bytes on the server, sent %llu",
                            u->path, (unsigned long long)got,
                            (unsigned long long)u->x.in_sent);
    return rc;
}

static int sftp_upload(struct replay_filestore *fs, int fd, uint64_t size, const char *name,
                       enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    struct sftp_put u;
    int rc = put_paths(fs, name, &u, err);
    if (rc != 0)
        return rc;
    u.x.in_fd = fd;
    u.x.in_len = size;
    struct replay_err e = {0};
    rc = send_tmp(fs, &u.x, u.tmp, u.path, &e);
    return put_done(fs, &u, rc, &e, outcome, err);
}

static int sftp_consume(struct replay_filestore *fs, struct replay__fs_pipe *in, void *arg,
                        struct replay_err *err)
{
    struct sftp_put *u = arg;
    replay__fs_pipe_body(&u->x, in);
    return send_tmp(fs, &u->x, u->tmp, u->path, err);
}

static int sftp_upload_stream(struct replay_filestore *fs, const char *name,
                              const struct replay__fs_producer *p,
                              enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    struct sftp_put u;
    int rc = put_paths(fs, name, &u, err);
    if (rc != 0)
        return rc;
    struct replay_err e = {0};
    rc = replay__fs_pipe_run(fs, p, sftp_consume, &u, &e);
    return put_done(fs, &u, rc, &e, outcome, err);
}

static int sftp_download(struct replay_filestore *fs, const char *name, int fd,
                         struct replay_err *err)
{
    struct sftp_store *s = fs->impl;
    char path[REPLAY__FS_MAX_PATH], url[REPLAY__FS_MAX_PATH * 3 + 400];
    int rc = path_of(s, name, path, sizeof(path), err);
    if (rc == 0)
        rc = url_of(s, path, false, url, sizeof(url), err);
    CURL *h = rc == 0 ? sftp_handle(fs, err) : NULL;
    if (h == NULL)
        return rc != 0 ? rc : REPLAY_ENOMEM;
    return replay__fs_get_to_fd(fs, url, fd, "get", err);
}

static int sftp_exists(struct replay_filestore *fs, const char *name, bool *exists,
                       struct replay_err *err)
{
    struct sftp_store *s = fs->impl;
    char path[REPLAY__FS_MAX_PATH];
    uint64_t size;
    int rc = path_of(s, name, path, sizeof(path), err);
    return rc != 0 ? rc : stat_path(fs, path, exists, &size, err);
}

static int sftp_remove(struct replay_filestore *fs, const char *name, struct replay_err *err)
{
    struct sftp_store *s = fs->impl;
    char path[REPLAY__FS_MAX_PATH];
    struct curl_slist *q = NULL;
    int rc = path_of(s, name, path, sizeof(path), err);
    if (rc == 0)
        rc = quote_cmd(&q, "rm", path, NULL, err);
    if (rc != 0) {
        curl_slist_free_all(q);
        return rc;
    }
    struct replay_err e = {0};
    rc = run_quote(fs, q, "rm", false, &e);
    curl_slist_free_all(q);
    if (rc == REPLAY_EPROTO) {
        bool there = true;
        int rc2 = sftp_exists(fs, name, &there, err);
        if (rc2 != 0 || !there)
            return rc2;
    }
    if (rc != 0)
        replay_err_set(err, rc, "%s", e.msg);
    return rc;
}

static int sftp_list(struct replay_filestore *fs, replay_filestore_list_fn fn, void *ctx,
                     struct replay_err *err)
{
    struct sftp_store *s = fs->impl;
    char url[REPLAY__FS_MAX_PATH * 3 + 400];
    int rc = url_of(s, s->base, true, url, sizeof(url), err);
    CURL *h = rc == 0 ? sftp_handle(fs, err) : NULL;
    if (h == NULL)
        return rc != 0 ? rc : REPLAY_ENOMEM;
    return replay__fs_list_dir(fs, url, fn, ctx, err);
}

const struct replay__fs_ops replay__fs_sftp_ops = {
    .scheme = "sftp",
    .options = sftp_options,
    .parse = sftp_parse,
    .connect = sftp_connect,
    .close = sftp_close,
    .upload = sftp_upload,
    .upload_stream = sftp_upload_stream,
    .download = sftp_download,
    .exists = sftp_exists,
    .remove = sftp_remove,
    .list = sftp_list,
};
