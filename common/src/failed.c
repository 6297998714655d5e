/* failed: the failed directory and its <name>.error.json files (failed.h). */
#include "replay/failed.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/atomicfile.h"
#include "replay/isotime.h"

#define COPY_BLOCK (256u * 1024u)

/* Opens the failed directory, creating its last level again if it went away. */
static int open_failed_dir(const char *dir, int *fd, struct replay_err *err)
{
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0 && errno == ENOENT && mkdir(dir, 0750) == 0)
        *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "open the failed directory %s", dir);
    return 0;
}

/* ---- copy across file systems ---- */

struct copy {
    int src;
    const char *name;
    const struct replay_cancel *cancel;
    char *buf;
};

static int write_all(int fd, const char *p, size_t n, struct replay_err *err)
{
    int e = replay_atomicfile_write_fd(fd, p, n);
    return e == 0 ? 0 : replay_err_sys(err, REPLAY_EIO, e, "write a file in the failed directory");
}

/* dir/name into out; true (err set) when it does not fit. */
static bool join(char *out, size_t size, const char *dir, const char *name,
                 struct replay_err *err)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    if (n >= 0 && (size_t)n < size)
        return false;
    replay_err_set(err, REPLAY_ETOOBIG, "%s/%s: path too long", dir, name);
    return true;
}

static int fill_copy(void *ctx, int fd, struct replay_err *err)
{
    struct copy *c = ctx;
    for (;;) {
        if (replay_cancel_requested(c->cancel))
            return replay_err_set(err, REPLAY_ECANCELED, "copy of %s canceled", c->name);
        ssize_t n = read(c->src, c->buf, COPY_BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return replay_err_sys(err, REPLAY_EIO, errno, "read %s", c->name);
        if (n == 0)
            return 0;
        int code = write_all(fd, c->buf, (size_t)n, err);
        if (code != 0)
            return code;
        replay_progress();
    }
}

/* rename(2) could not cross file systems: copy into place, then remove the original. */
static int move_by_copy(int src_dirfd, const char *name, const char *dir,
                        const struct replay_cancel *cancel, struct replay_err *err)
{
    struct copy c = {.name = name, .cancel = cancel};
    struct stat st;
    c.src = openat(src_dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (c.src < 0 && errno == ENOENT)
        return replay_err_set(err, REPLAY_ENOTFOUND, "%s is gone", name);
    if (c.src < 0 && errno != ELOOP)
        return replay_err_sys(err, REPLAY_EIO, errno, "open %s to copy it", name);
    if (c.src < 0 || fstat(c.src, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (c.src >= 0)
            close(c.src);
        return replay_err_set(err, REPLAY_EUNSUPPORTED,
                              "%s is on another file system than %s and is not a regular file: "
                              "left where it is",
                              name, dir);
    }
    char path[PATH_MAX];
    const struct replay_atomicfile_opts o = {.mode = st.st_mode & 07777};
    c.buf = malloc(COPY_BLOCK);
    int code = c.buf == NULL ? replay_err_set(err, REPLAY_ENOMEM, "out of memory")
               : join(path, sizeof(path), dir, name, err)
                   ? REPLAY_ETOOBIG
                   : replay_atomicfile_create(path, &o, REPLAY_ATOMICFILE_REPLACE, fill_copy, &c,
                                              err);
    free(c.buf);
    close(c.src);
    if (code == 0 && unlinkat(src_dirfd, name, 0) != 0 && errno != ENOENT)
        code = replay_err_sys(err, REPLAY_EIO, errno,
                              "remove %s after copying it to %s", name, dir);
    return code;
}

int replay_failed_move(const char *failed_dir, int src_dirfd, const char *name,
                       const struct replay_cancel *cancel, struct replay_err *err)
{
    int dstfd = -1;
    int code = open_failed_dir(failed_dir, &dstfd, err);
    if (code != 0)
        return code;
    if (renameat(src_dirfd, name, dstfd, name) == 0) {
        /* Moved. A failed fsync of the directory only weakens durability at a
         * power cut; reporting it would make the caller look for a moved file. */
        (void)fsync(dstfd);
    } else if (errno == ENOENT) {
        code = replay_err_set(err, REPLAY_ENOTFOUND, "%s is gone", name);
    } else if (errno == EXDEV) {
        code = move_by_copy(src_dirfd, name, failed_dir, cancel, err);
    } else {
        code = replay_err_sys(err, REPLAY_EIO, errno, "move %s to %s", name, failed_dir);
    }
    close(dstfd);
    return code;
}

/* ---- the sidecar ---- */

/* A JSON string of s; non-ASCII bytes become '?' when s is not valid UTF-8. */
static json_t *text(const char *s)
{
    json_t *j = json_string(s != NULL ? s : "");
    if (j != NULL || s == NULL)
        return j;
    char *copy = strdup(s);
    if (copy == NULL)
        return NULL;
    for (char *p = copy; *p != '\0'; p++)
        *p = (unsigned char)*p >= 0x80 ? '?' : *p;
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *items_json(const struct replay_failed_record *rec)
{
    json_t *a = json_array();
    size_t n = rec->n_items < REPLAY_FAILED_MAX_ITEMS ? rec->n_items : REPLAY_FAILED_MAX_ITEMS;
    for (size_t i = 0; a != NULL && i < n; i++) {
        if (json_array_append_new(a, json_pack("{s:o, s:o}", "id", text(rec->items[i].id),
                                               "reason", text(rec->items[i].reason))) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

char *replay_failed_sidecar_json(const char *name, const struct replay_failed_record *rec,
                                 const char *time, const char *host)
{
    if (rec == NULL || rec->reason == NULL)
        return NULL;
    json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "reason", text(rec->reason),
                          "time", text(time), "host", text(host), "component",
                          text(rec->component), "attempts", (json_int_t)rec->attempts,
                          "original_path", text(rec->original_path), "file", text(name));
    size_t failed = rec->items_failed > rec->n_items ? rec->items_failed : rec->n_items;
    if (o != NULL && failed > 0 &&
        (json_object_set_new(o, "items_failed", json_integer((json_int_t)failed)) != 0 ||
         json_object_set_new(o, "items", items_json(rec)) != 0)) {
        json_decref(o);
        o = NULL;
    }
    char *out = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    return out;
}

struct sidecar {
    const char *json;
};

static int fill_sidecar(void *ctx, int fd, struct replay_err *err)
{
    const char *json = ((struct sidecar *)ctx)->json;
    int code = write_all(fd, json, strlen(json), err);
    return code != 0 ? code : write_all(fd, "\n", 1, err);
}

int replay_failed_write_reason(const char *failed_dir, const char *name,
                               const struct replay_failed_record *rec, struct replay_err *err)
{
    char host[256] = "unknown", when[REPLAY_ISOTIME_LEN], side[NAME_MAX + 1];
    struct replay_isotime now;
    if (rec == NULL || rec->reason == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "a failure without a reason");
    gethostname(host, sizeof(host) - 1);
    replay_isotime_now(&now);
    replay_isotime_format(&now, when, sizeof(when));
    /* The name cut so "<name>.error.json" stays a valid file name. */
    snprintf(side, sizeof(side), "%.*s%s",
             (int)(NAME_MAX - strlen(REPLAY_FAILED_SIDECAR_SUFFIX)), name,
             REPLAY_FAILED_SIDECAR_SUFFIX);
    struct sidecar s = {replay_failed_sidecar_json(name, rec, when, host)};
    if (s.json == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    int dirfd = -1;
    char path[PATH_MAX];
    const struct replay_atomicfile_opts o = {.mode = 0640};
    int code = open_failed_dir(failed_dir, &dirfd, err);
    if (code == 0 && join(path, sizeof(path), failed_dir, side, err))
        code = REPLAY_ETOOBIG;
    if (code == 0)
        code = replay_atomicfile_create(path, &o, REPLAY_ATOMICFILE_REPLACE, fill_sidecar, &s,
                                        err);
    if (dirfd >= 0)
        close(dirfd);
    free((char *)s.json);
    return code;
}
