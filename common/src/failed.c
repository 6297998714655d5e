/* failed: the failed directory and its <name>.error.json files (failed.h). */
#include "replay/failed.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
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
    return e == 0 ? 0 : replay_err_sys(err, REPLAY_EIO, e, "write a copy");
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

/* rename(2) could not cross file systems: copy into place as `how` says, then
 * remove the original. */
static int move_by_copy(int src_dirfd, const char *name, const char *dir,
                        enum replay_atomicfile_how how, const struct replay_cancel *cancel,
                        struct replay_err *err)
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
                   : replay_atomicfile_create(path, &o, how, fill_copy, &c, err);
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
        code = move_by_copy(src_dirfd, name, failed_dir, REPLAY_ATOMICFILE_REPLACE, cancel, err);
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

void replay_failed_sidecar_name(const char *name, char *out, size_t size)
{
    /* The name cut so "<name>.error.json" stays a valid file name. */
    snprintf(out, size, "%.*s%s", (int)(NAME_MAX - strlen(REPLAY_FAILED_SIDECAR_SUFFIX)), name,
             REPLAY_FAILED_SIDECAR_SUFFIX);
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
    replay_failed_sidecar_name(name, side, sizeof(side));
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

/* ---- reading a sidecar back ---- */

void replay_failed_info_free(struct replay_failed_info *info)
{
    if (info == NULL)
        return;
    free(info->reason);
    free(info->time);
    free(info->host);
    free(info->component);
    free(info->original_path);
    free(info->file);
    for (size_t i = 0; i < info->n_items; i++) {
        free((char *)info->items[i].id);
        free((char *)info->items[i].reason);
    }
    free(info->items);
    free(info);
}

/* A copy of the string at key, or NULL when missing; -1 (err set) when the
 * value is not a string, -2 when out of memory. */
static int take_string(json_t *o, const char *key, char **out, struct replay_err *err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return replay_err_set(err, REPLAY_EFORMAT, "sidecar: \"%s\" is not a string", key);
    *out = strdup(json_string_value(v));
    return *out != NULL ? 0 : replay_err_set(err, REPLAY_ENOMEM, "out of memory");
}

static int take_integer(json_t *o, const char *key, long long missing, long long *out,
                        struct replay_err *err)
{
    json_t *v = json_object_get(o, key);
    *out = missing;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return replay_err_set(err, REPLAY_EFORMAT, "sidecar: \"%s\" is not a count", key);
    *out = (long long)json_integer_value(v);
    return 0;
}

static int take_items(json_t *o, struct replay_failed_info *info, struct replay_err *err)
{
    json_t *a = json_object_get(o, "items");
    if (a == NULL || json_is_null(a))
        return 0;
    if (!json_is_array(a) || json_array_size(a) > REPLAY_FAILED_MAX_ITEMS)
        return replay_err_set(err, REPLAY_EFORMAT, "sidecar: \"items\" is not an array of at "
                              "most %u entries", REPLAY_FAILED_MAX_ITEMS);
    info->items = calloc(json_array_size(a) + 1, sizeof(*info->items));
    if (info->items == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        char *id = NULL, *why = NULL;
        int code = json_is_object(e) ? take_string(e, "id", &id, err)
                                     : replay_err_set(err, REPLAY_EFORMAT,
                                                      "sidecar: items[%zu] is not an object", i);
        if (code == 0)
            code = take_string(e, "reason", &why, err);
        info->items[i] = (struct replay_failed_item){id, why};
        info->n_items = i + 1;
        if (code != 0)
            return code;
    }
    return 0;
}

static int take_all(json_t *o, struct replay_failed_info *info, struct replay_err *err)
{
    int code = take_string(o, "reason", &info->reason, err);
    if (code == 0 && info->reason == NULL)
        code = replay_err_set(err, REPLAY_EFORMAT, "sidecar: no \"reason\"");
    if (code == 0)
        code = take_string(o, "time", &info->time, err);
    if (code == 0)
        code = take_string(o, "host", &info->host, err);
    if (code == 0)
        code = take_string(o, "component", &info->component, err);
    if (code == 0)
        code = take_string(o, "original_path", &info->original_path, err);
    if (code == 0)
        code = take_string(o, "file", &info->file, err);
    if (code == 0)
        code = take_integer(o, "attempts", -1, &info->attempts, err);
    if (code == 0)
        code = take_integer(o, "items_failed", 0, &info->items_failed, err);
    return code == 0 ? take_items(o, info, err) : code;
}

int replay_failed_parse(const char *text, size_t len, struct replay_failed_info **out,
                        struct replay_err *err)
{
    json_error_t je;
    *out = NULL;
    if (len > REPLAY_FAILED_SIDECAR_MAX)
        return replay_err_set(err, REPLAY_ETOOBIG, "sidecar: larger than %u bytes",
                              REPLAY_FAILED_SIDECAR_MAX);
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return o == NULL ? replay_err_set(err, REPLAY_EFORMAT, "sidecar: invalid JSON at line %d: %s",
                                          je.line, je.text)
                         : replay_err_set(err, REPLAY_EFORMAT, "sidecar: not a JSON object");
    }
    struct replay_failed_info *info = calloc(1, sizeof(*info));
    int code = info != NULL ? take_all(o, info, err)
                            : replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    json_decref(o);
    if (code != 0)
        replay_failed_info_free(info);
    else
        *out = info;
    return code;
}

/* Reads the whole regular file `fd` (borrowed) into a new buffer, capped. */
static int read_capped(int fd, const char *path, char **buf, size_t *len, struct replay_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return replay_err_sys(err, REPLAY_EIO, errno, "read %s", path);
    if (!S_ISREG(st.st_mode))
        return replay_err_set(err, REPLAY_EFORMAT, "%s is not a regular file", path);
    if (st.st_size > (off_t)REPLAY_FAILED_SIDECAR_MAX)
        return replay_err_set(err, REPLAY_ETOOBIG, "%s: larger than %u bytes", path,
                              REPLAY_FAILED_SIDECAR_MAX);
    *buf = malloc((size_t)st.st_size + 1);
    if (*buf == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    *len = 0;
    for (;;) {
        ssize_t n = read(fd, *buf + *len, (size_t)st.st_size + 1 - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return replay_err_sys(err, REPLAY_EIO, errno, "read %s", path);
        if (n == 0)
            return 0;
        *len += (size_t)n;
        if (*len > (size_t)st.st_size)
            return replay_err_set(err, REPLAY_EIO, "read %s: it grew while read", path);
    }
}

int replay_failed_read_reason(const char *failed_dir, const char *name,
                              struct replay_failed_info **out, struct replay_err *err)
{
    char side[NAME_MAX + 1], path[PATH_MAX];
    char *buf = NULL;
    size_t len = 0;
    *out = NULL;
    replay_failed_sidecar_name(name, side, sizeof(side));
    if (join(path, sizeof(path), failed_dir, side, err))
        return REPLAY_ETOOBIG;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? replay_err_set(err, REPLAY_ENOTFOUND, "%s: no such file", path)
                               : replay_err_sys(err, REPLAY_EIO, errno, "open %s", path);
    int code = read_capped(fd, path, &buf, &len, err);
    close(fd);
    if (code == 0)
        code = replay_failed_parse(buf, len, out, err);
    free(buf);
    return code;
}

/* ---- putting a file back ---- */

bool replay_failed_name_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0, s = strlen(REPLAY_FAILED_SIDECAR_SUFFIX);
    return n > 0 && n <= NAME_MAX && name[0] != '.' && strchr(name, '/') == NULL &&
           !(n >= s && strcmp(name + n - s, REPLAY_FAILED_SIDECAR_SUFFIX) == 0);
}

/* Renames without replacing; where the file system cannot (EXDEV, no
 * RENAME_NOREPLACE), copies with atomicfile's no-replace commit. */
static int move_back(int fdir, const char *name, const char *dest_dir, int ddir,
                     const struct replay_cancel *cancel, struct replay_err *err)
{
    if (renameat2(fdir, name, ddir, name, RENAME_NOREPLACE) == 0) {
        /* A new modification time: a loader that still remembers this inode
         * under this name (it failed moments ago) takes it as a new file. */
        (void)utimensat(ddir, name, NULL, AT_SYMLINK_NOFOLLOW);
        (void)fsync(ddir); /* as in replay_failed_move */
        return 0;
    }
    int e = errno;
    if (e == EEXIST)
        return replay_err_set(err, REPLAY_EEXIST, "%s/%s already exists: %s left in the failed "
                              "directory", dest_dir, name, name);
    if (e == ENOENT)
        return replay_err_set(err, REPLAY_ENOTFOUND, "%s is not in the failed directory", name);
    if (e == EXDEV || e == EINVAL || e == ENOSYS || e == EOPNOTSUPP)
        return move_by_copy(fdir, name, dest_dir, REPLAY_ATOMICFILE_NO_REPLACE, cancel, err);
    return replay_err_sys(err, REPLAY_EIO, e, "move %s to %s", name, dest_dir);
}

static int open_dir(const char *dir, const char *what, int *fd, struct replay_err *err)
{
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *fd >= 0 ? 0 : replay_err_sys(err, REPLAY_EIO, errno, "open the %s %s", what, dir);
}

int replay_failed_restore(const char *failed_dir, const char *name, const char *dest_dir,
                          const struct replay_cancel *cancel, struct replay_err *err)
{
    int fdir = -1, ddir = -1;
    struct stat st;
    char side[NAME_MAX + 1];
    if (!replay_failed_name_ok(name))
        return replay_err_set(err, REPLAY_EINVAL, "\"%s\" is not the name of a file of the "
                              "failed directory", name != NULL ? name : "");
    int code = open_dir(failed_dir, "failed directory", &fdir, err);
    if (code == 0)
        code = open_dir(dest_dir, "input directory", &ddir, err);
    if (code == 0 && fstatat(fdir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        code = errno == ENOENT
                   ? replay_err_set(err, REPLAY_ENOTFOUND, "%s is not in the failed directory",
                                    name)
                   : replay_err_sys(err, REPLAY_EIO, errno, "look at %s/%s", failed_dir, name);
    if (code == 0 && !S_ISREG(st.st_mode))
        code = replay_err_set(err, REPLAY_EUNSUPPORTED, "%s/%s is not a regular file",
                              failed_dir, name);
    if (code == 0)
        code = move_back(fdir, name, dest_dir, ddir, cancel, err);
    replay_failed_sidecar_name(name, side, sizeof(side));
    if (code == 0 && unlinkat(fdir, side, 0) != 0 && errno != ENOENT)
        code = replay_err_sys(err, REPLAY_EIO, errno, "%s moved to %s, but its sidecar %s "
                              "could not be removed", name, dest_dir, side);
    if (fdir >= 0)
        close(fdir);
    if (ddir >= 0)
        close(ddir);
    return code;
}
