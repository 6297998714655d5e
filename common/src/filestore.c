/*
 * filestore: picks a backend by URL scheme and implements what is common to all
 * of them: option defaults, name checks, upstream's FileStore semantics
 * (exists-then-upload, read-only skips), the local side of downloads (an atomic
 * file of replay/atomicfile.h) and retries of transient failures.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"
#include "replay/atomicfile.h"
#include "replay/log.h"
#include "replay/redact.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 30000
#define DEFAULT_LOW_SPEED_TIME_S 60
#define DEFAULT_LOW_SPEED_BYTES 1
#define DEFAULT_MAX_ATTEMPTS 3
#define RETRY_FIRST_DELAY_MS 250
#define RETRY_MAX_DELAY_MS 4000

static const struct {
    const char *scheme;
    const struct replay__fs_ops *ops;
} backends[] = {
    {"file", &replay__fs_file_ops},   {"ftp", &replay__fs_ftp_ops},
    {"ftps", &replay__fs_ftp_ops},    {"sftp", &replay__fs_sftp_ops},
    {"s3", &replay__fs_s3_ops},       {"azure", &replay__fs_azure_ops},
    {"http", &replay__fs_http_ops},   {"https", &replay__fs_http_ops},
};

static const struct replay__fs_ops *find_ops(const char *scheme)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strcmp(backends[i].scheme, scheme) == 0)
            return backends[i].ops;
    }
    return NULL;
}

/* ---- names ----------------------------------------------------------------- */

static int check_component(const char *c, size_t len, const char *name, struct replay_err *err)
{
    if (len == 0)
        return replay_err_set(err, REPLAY_EUNSAFE, "object name '%s' has an empty component",
                              name);
    if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
        return replay_err_set(err, REPLAY_EUNSAFE, "object name '%s' has a '.' or '..' component",
                              name);
    if (len > REPLAY__FS_MAX_COMPONENT)
        return replay_err_set(err, REPLAY_EUNSAFE,
                              "object name '%.60s...' has a component over %d bytes", name,
                              REPLAY__FS_MAX_COMPONENT);
    return 0;
}

int replay__fs_check_name(const char *name, struct replay_err *err)
{
    if (name == NULL || name[0] == '\0')
        return replay_err_set(err, REPLAY_EUNSAFE, "object name is empty");
    size_t len = strlen(name);
    if (len > REPLAY__FS_MAX_NAME)
        return replay_err_set(err, REPLAY_EUNSAFE, "object name '%.60s...' is over %d bytes",
                              name, REPLAY__FS_MAX_NAME);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return replay_err_set(err, REPLAY_EUNSAFE,
                                  "object name has a control character or '\\' at byte %zu", i);
    }
    if (name[0] == '/')
        return replay_err_set(err, REPLAY_EUNSAFE, "object name '%s' is absolute", name);
    const char *c = name;
    for (;;) {
        size_t n = strcspn(c, "/");
        int rc = check_component(c, n, name, err);
        if (rc != 0)
            return rc;
        if (c[n] == '\0')
            return 0;
        c += n + 1;
    }
}

const char *replay__fs_basename(const char *name)
{
    const char *slash = strrchr(name, '/');
    return slash != NULL ? slash + 1 : name;
}

int replay__fs_join(const char *base, const char *name, char *out, size_t outsz,
                    struct replay_err *err)
{
    size_t blen = strlen(base);
    const char *sep = blen > 0 && base[blen - 1] == '/' ? "" : "/";
    int n;
    if (strlen(name) == 64 && strchr(name, '/') == NULL)
        n = snprintf(out, outsz, "%s%s%c/%c/%c/%c/%s", base, sep, name[0], name[1], name[2],
                     name[3], name);
    else
        n = snprintf(out, outsz, "%s%s%s", base, sep, name);
    if (n < 0 || (size_t)n >= outsz)
        return replay_err_set(err, REPLAY_ETOOBIG, "path of '%.60s' under '%.60s' is too long",
                              name, base);
    return 0;
}

int replay__fs_tmp_path(const char *path, char *out, size_t outsz, struct replay_err *err)
{
    const char *base = replay__fs_basename(path);
    char tmp[REPLAY_ATOMICFILE_TMP_NAME_MAX];
    replay_atomicfile_tmp_name(base, tmp, sizeof(tmp));
    int n = snprintf(out, outsz, "%.*s%s", (int)(base - path), path, tmp);
    if (n < 0 || (size_t)n >= outsz)
        return replay_err_set(err, REPLAY_ETOOBIG, "temporary path beside %.60s too long", path);
    return 0;
}

/* ---- open and close ---------------------------------------------------------- */

static void fill_defaults(struct replay_filestore_opts *o, const struct replay_filestore_opts *in)
{
    memset(o, 0, sizeof(*o));
    if (in != NULL)
        *o = *in;
    if (o->connect_timeout_ms <= 0)
        o->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if (o->low_speed_time_s <= 0)
        o->low_speed_time_s = DEFAULT_LOW_SPEED_TIME_S;
    if (o->low_speed_bytes <= 0)
        o->low_speed_bytes = DEFAULT_LOW_SPEED_BYTES;
    if (o->max_attempts <= 0)
        o->max_attempts = DEFAULT_MAX_ATTEMPTS;
}

static bool option_known(const struct replay__fs_ops *ops, const char *key)
{
    if (strcmp(key, "read_only") == 0)
        return true;
    for (const char *const *o = ops->options; o != NULL && *o != NULL; o++) {
        if (strcmp(*o, key) == 0)
            return true;
    }
    return false;
}

static void warn_unknown_options(const struct replay_filestore *fs)
{
    for (size_t i = 0; i < fs->url.n_query; i++) {
        const char *key = fs->url.query[i].key;
        if (!option_known(fs->ops, key))
            replay_warn("filestore %s: option '%.64s' is not used by %s and is ignored",
                        fs->shown, key, fs->url.scheme);
    }
}

/* Parses the URL and the backend's options: everything but the I/O. */
static int store_new(const char *url, const struct replay_filestore_opts *opts,
                     struct replay_filestore **out, struct replay_err *err)
{
    *out = NULL;
    struct replay_filestore *fs = calloc(1, sizeof(*fs));
    if (fs == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore: out of memory");
    int rc = replay__fs_url_parse(url, &fs->url, err);
    if (rc != 0) {
        free(fs);
        return rc;
    }
    replay_redact_url(url, fs->shown, sizeof(fs->shown));
    fill_defaults(&fs->opts, opts);
    fs->ops = find_ops(fs->url.scheme);
    fs->read_only = replay__fs_url_bool(&fs->url, "read_only", false);
    rc = fs->ops->parse(fs, err);
    if (rc != 0) {
        replay_filestore_close(fs);
        return rc;
    }
    *out = fs;
    return 0;
}

int replay_filestore_check_url(const char *url, struct replay_err *err)
{
    struct replay_filestore *fs;
    int rc = store_new(url, NULL, &fs, err);
    if (rc != 0)
        return rc;
    warn_unknown_options(fs);
    replay_filestore_close(fs);
    return 0;
}

int replay_filestore_open(const char *url, const struct replay_filestore_opts *opts,
                          struct replay_filestore **out, struct replay_err *err)
{
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "filestore open: no result pointer");
    *out = NULL;
    if (url != NULL)
        replay_redact_add_url_secrets(url);
    struct replay_filestore *fs;
    int rc = store_new(url, opts, &fs, err);
    if (rc != 0)
        return rc;
    warn_unknown_options(fs);
    if (fs->ops->connect != NULL) {
        rc = fs->ops->connect(fs, err);
        if (rc != 0) {
            replay_filestore_close(fs);
            return rc;
        }
    }
    *out = fs;
    return 0;
}

void replay_filestore_close(struct replay_filestore *fs)
{
    if (fs == NULL)
        return;
    if (fs->ops != NULL && fs->ops->close != NULL)
        fs->ops->close(fs);
    replay__fs_http_close(fs);
    replay__fs_url_clear(&fs->url);
    free(fs);
}

const char *replay_filestore_url(const struct replay_filestore *fs)
{
    return fs != NULL ? fs->shown : "";
}

const char *replay_filestore_scheme(const struct replay_filestore *fs)
{
    return fs != NULL ? fs->ops->scheme : "";
}

const char *replay_filestore_local_dir(const struct replay_filestore *fs)
{
    return fs != NULL && strcmp(fs->ops->scheme, "file") == 0 ? fs->url.base : NULL;
}

bool replay_filestore_read_only(const struct replay_filestore *fs)
{
    return fs != NULL && fs->read_only;
}

/* ---- retries ------------------------------------------------------------------ */

/* Transport failures and busy servers; everything else is final. */
bool replay__fs_transient(int code)
{
    return replay__http_transient(code) || code == REPLAY_EAGAIN;
}

/* Runs an attempt function with the store's policy: its back-off, attempts and
 * cancel token. */
static int store_retry(struct replay_filestore *fs, const char *what_op,
                       replay__http_attempt_fn fn, void *ctx, struct replay_err *err)
{
    struct replay__http_retry policy = {(unsigned)fs->opts.max_attempts, RETRY_FIRST_DELAY_MS,
                                        RETRY_MAX_DELAY_MS, fs->opts.cancel};
    char what[REPLAY__FS_SHOWN_MAX + 64];
    snprintf(what, sizeof(what), "%s %s", what_op, fs->shown);
    return replay__http_retry(&policy, what, fn, ctx, err);
}

struct plain_attempt {
    int (*fn)(void *ctx, struct replay_err *err);
    void *ctx;
};

static int plain_attempt(void *ctx, unsigned n, bool *again, struct replay_err *err)
{
    (void)n;
    struct plain_attempt *a = ctx;
    int rc = a->fn(a->ctx, err);
    *again = rc != 0 && replay__fs_transient(rc);
    return rc;
}

int replay__fs_retry(struct replay_filestore *fs, const char *what,
                     int (*fn)(void *ctx, struct replay_err *err), void *ctx,
                     struct replay_err *err)
{
    struct plain_attempt a = {fn, ctx};
    return store_retry(fs, what, plain_attempt, &a, err);
}

/* One operation with its arguments, so that retry() can repeat it. */
struct call {
    struct replay_filestore *fs;
    const char *what;
    const char *name;
    int fd;
    uint64_t size;
    enum replay_filestore_outcome outcome;
    bool exists;
    replay_filestore_list_fn list_fn;
    void *list_ctx;
    size_t listed; /* names already handed to list_fn: no retry after the first */
    int (*run)(struct call *c, struct replay_err *err);
};

static int attempt(void *ctx, unsigned n, bool *again, struct replay_err *err)
{
    (void)n;
    struct call *c = ctx;
    int rc = c->run(c, err);
    *again = rc != 0 && replay__fs_transient(rc) && c->listed == 0;
    return rc;
}

static int retry(struct call *c, struct replay_err *err)
{
    return store_retry(c->fs, c->what, attempt, c, err);
}

static int check_args(struct replay_filestore *fs, const char *name, const char *what,
                      struct replay_err *err)
{
    if (fs == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "filestore %s: no store", what);
    int rc = replay__fs_check_name(name, err);
    if (rc != 0)
        replay_err_prefix(err, "%s on %s", what, fs->shown);
    return rc;
}

/* ---- upload -------------------------------------------------------------------- */

static int run_upload(struct call *c, struct replay_err *err)
{
    int rc = c->fs->ops->exists(c->fs, c->name, &c->exists, err);
    if (rc != 0)
        return rc;
    if (c->exists) {
        c->outcome = REPLAY_FILESTORE_SKIPPED_EXISTS;
        return 0;
    }
    c->outcome = REPLAY_FILESTORE_UPLOADED;
    return c->fs->ops->upload(c->fs, c->fd, c->size, c->name, &c->outcome, err);
}

static int open_source(const char *path, int *fd, uint64_t *size, struct replay_err *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return replay_err_sys(err, errno == ENOENT ? REPLAY_ENOTFOUND : REPLAY_EIO, errno,
                              "upload: open %s", path);
    struct stat st;
    int rc = 0;
    if (fstat(*fd, &st) != 0) /* st holds nothing then: errno says why */
        rc = replay_err_sys(err, REPLAY_EIO, errno, "upload: stat %s", path);
    else if (!S_ISREG(st.st_mode))
        rc = replay_err_set(err, REPLAY_EINVAL, "upload: %s is not a regular file", path);
    if (rc != 0) {
        close(*fd);
        *fd = -1;
        return rc;
    }
    *size = (uint64_t)st.st_size;
    return 0;
}

int replay_filestore_upload(struct replay_filestore *fs, const char *local_path, const char *name,
                            enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    int rc = check_args(fs, name, "upload", err);
    if (rc != 0)
        return rc;
    if (fs->read_only) {
        if (outcome != NULL)
            *outcome = REPLAY_FILESTORE_SKIPPED_READ_ONLY;
        return 0;
    }
    struct call c = {.fs = fs, .what = "upload", .name = name, .fd = -1, .run = run_upload};
    if (local_path == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "upload %s: no local file", name);
    rc = open_source(local_path, &c.fd, &c.size, err);
    if (rc == 0) {
        uint64_t t0 = replay_now_ms();
        rc = retry(&c, err);
        close(c.fd);
        if (rc == 0)
            replay_debug("filestore %s: %s %s (%llu bytes, %llu ms)", fs->shown,
                         c.outcome == REPLAY_FILESTORE_UPLOADED ? "uploaded" : "skipped existing",
                         name, (unsigned long long)c.size,
                         (unsigned long long)(replay_now_ms() - t0));
    }
    if (rc != 0)
        replay_err_prefix(err, "upload %s to %s", name, fs->shown);
    if (outcome != NULL)
        *outcome = c.outcome;
    return rc;
}

/* ---- download ------------------------------------------------------------------ */

static int run_download(struct call *c, struct replay_err *err)
{
    if (ftruncate(c->fd, 0) != 0 || lseek(c->fd, 0, SEEK_SET) != 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "download: truncate temporary file");
    return c->fs->ops->download(c->fs, c->name, c->fd, err);
}

int replay_filestore_download(struct replay_filestore *fs, const char *name,
                              const char *local_path, struct replay_err *err)
{
    int rc = check_args(fs, name, "download", err);
    if (rc != 0)
        return rc;
    if (local_path == NULL || local_path[0] == '\0')
        return replay_err_set(err, REPLAY_EINVAL, "download %s: no local path", name);
    /* The local side of every scheme: a temporary beside local_path, in place
     * only once the whole object is there. */
    struct replay_atomicfile_opts ao = {.mode = 0640, .make_dirs = true,
                                        .cancel = fs->opts.cancel};
    struct replay_atomicfile *f = NULL;
    struct call c = {.fs = fs, .what = "download", .name = name, .fd = -1, .run = run_download};
    rc = replay_atomicfile_open(local_path, &ao, &f, err);
    if (rc == 0) {
        c.fd = replay_atomicfile_fd(f);
        rc = retry(&c, err);
    }
    if (rc == 0)
        rc = replay_atomicfile_commit(f, REPLAY_ATOMICFILE_REPLACE, err);
    replay_atomicfile_close(f);
    if (rc != 0)
        replay_err_prefix(err, "download %s from %s", name, fs->shown);
    return rc;
}

/* ---- exists, delete, list ---------------------------------------------------------- */

static int run_exists(struct call *c, struct replay_err *err)
{
    return c->fs->ops->exists(c->fs, c->name, &c->exists, err);
}

int replay_filestore_exists(struct replay_filestore *fs, const char *name, bool *exists,
                            struct replay_err *err)
{
    if (exists != NULL)
        *exists = false;
    int rc = check_args(fs, name, "exists", err);
    if (rc != 0)
        return rc;
    struct call c = {.fs = fs, .what = "exists", .name = name, .run = run_exists};
    rc = retry(&c, err);
    if (rc != 0)
        replay_err_prefix(err, "exists %s on %s", name, fs->shown);
    else if (exists != NULL)
        *exists = c.exists;
    return rc;
}

static int run_delete(struct call *c, struct replay_err *err)
{
    return c->fs->ops->remove(c->fs, c->name, err);
}

int replay_filestore_delete(struct replay_filestore *fs, const char *name, struct replay_err *err)
{
    int rc = check_args(fs, name, "delete", err);
    if (rc != 0 || fs->read_only)
        return rc;
    struct call c = {.fs = fs, .what = "delete", .name = name, .run = run_delete};
    rc = retry(&c, err);
    if (rc != 0)
        replay_err_prefix(err, "delete %s on %s", name, fs->shown);
    return rc;
}

/* Hands a backend's name to the caller unless it is a temporary or unusable. */
static int list_filter(const char *name, void *ctx)
{
    struct call *c = ctx;
    if (replay_atomicfile_is_tmp_name(replay__fs_basename(name)))
        return 0;
    struct replay_err e = {0};
    if (replay__fs_check_name(name, &e) != 0) {
        replay_warn("filestore %s: listed name skipped: %s", c->fs->shown, e.msg);
        return 0;
    }
    c->listed++;
    return c->list_fn(name, c->list_ctx);
}

static int run_list(struct call *c, struct replay_err *err)
{
    return c->fs->ops->list(c->fs, list_filter, c, err);
}

int replay_filestore_list(struct replay_filestore *fs, replay_filestore_list_fn fn, void *ctx,
                          struct replay_err *err)
{
    if (fs == NULL || fn == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "filestore list: no store or no callback");
    struct call c = {.fs = fs, .what = "list", .list_fn = fn, .list_ctx = ctx, .run = run_list};
    int rc = retry(&c, err);
    if (rc != 0)
        replay_err_prefix(err, "list %s", fs->shown);
    return rc;
}

/* ---- streamed upload ------------------------------------------------------------ */

int replay__fs_produce(const struct replay__fs_producer *p, int fd, struct replay_err *err)
{
    struct replay_err why = {0};
    int rc = p->fn(p->ctx, fd, &why);
    if (rc == 0)
        return 0;
    if (rc > 0 || strcmp(replay_err_name(rc), "REPLAY_UNKNOWN") == 0)
        rc = REPLAY_EIO;
    bool fresh = err != NULL && err->code == 0;
    replay_err_set(err, rc, "the producer failed: %s",
                   why.msg[0] != '\0' ? why.msg : replay_strerror(rc));
    if (fresh)
        err->sys_errno = why.sys_errno;
    return rc;
}

bool replay_filestore_stream_seekable(const struct replay_filestore *fs)
{
    return fs != NULL && fs->ops->stream_seekable;
}

/* Read-only and existing names are skipped before anything is produced. */
static int stream_skips(struct replay_filestore *fs, const char *name,
                        enum replay_filestore_outcome *outcome, bool *skip,
                        struct replay_err *err)
{
    *skip = true;
    if (fs->read_only) {
        *outcome = REPLAY_FILESTORE_SKIPPED_READ_ONLY;
        return 0;
    }
    if (fs->ops->upload_stream == NULL)
        return replay_err_set(err, REPLAY_EUNSUPPORTED,
                              "READ ONLY TRANSPORT: Method not implemented");
    struct call c = {.fs = fs, .what = "exists", .name = name, .run = run_exists};
    int rc = retry(&c, err);
    if (rc == 0 && c.exists)
        *outcome = REPLAY_FILESTORE_SKIPPED_EXISTS;
    *skip = rc != 0 || c.exists;
    return rc;
}

int replay_filestore_upload_stream(struct replay_filestore *fs, const char *name,
                                   replay_filestore_produce_fn produce, void *ctx,
                                   enum replay_filestore_outcome *outcome,
                                   struct replay_err *err)
{
    enum replay_filestore_outcome o = REPLAY_FILESTORE_UPLOADED;
    int rc = check_args(fs, name, "stream upload", err);
    if (rc != 0)
        return rc;
    bool skip = false;
    if (produce == NULL)
        rc = replay_err_set(err, REPLAY_EINVAL, "no producer");
    else
        rc = stream_skips(fs, name, &o, &skip, err);
    if (rc == 0 && !skip) {
        struct replay__fs_producer p = {produce, ctx};
        uint64_t t0 = replay_now_ms();
        rc = fs->ops->upload_stream(fs, name, &p, &o, err);
        if (rc == 0)
            replay_debug("filestore %s: %s %s (streamed, %llu ms)", fs->shown,
                         o == REPLAY_FILESTORE_UPLOADED ? "uploaded" : "skipped existing", name,
                         (unsigned long long)(replay_now_ms() - t0));
    }
    if (rc != 0)
        replay_err_prefix(err, "stream upload %s to %s", name, fs->shown);
    if (outcome != NULL)
        *outcome = o;
    return rc;
}
