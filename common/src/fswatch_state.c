/* fswatch: the state file (records with a mark, and the input directory's
 * identity), so a restart remembers what was queued.
 *
 * JSON lines: a header {"replay_fswatch": 1, "root": ..., "root_dev": ...,
 * "root_ino": ..., "tag": ...} (tag optional on reading: older files), then one {"rel", "dev", "ino", "size", "mtime_ns", "mark"}
 * per record. Written whole (atomicfile), read line by line with a cap. */
#include "fswatch_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/atomicfile.h"
#include "replay/log.h"

#define STATE_VERSION 1
#define LINE_MAX_BYTES (6 * PATH_MAX + 512) /* a path escaped as JSON, and numbers */
#define OUT_BLOCK (64u * 1024u)

/* ---- saving ---- */

struct out {
    int fd;
    char buf[OUT_BLOCK];
    size_t len;
};

static int flush(struct out *o, struct replay_err *err)
{
    int e = replay_atomicfile_write_fd(o->fd, o->buf, o->len);
    if (e != 0)
        return replay_err_sys(err, REPLAY_EIO, e, "write the loader's state");
    o->len = 0;
    return 0;
}

/* Appends j as one line (j is released). */
static int put_line(struct out *o, json_t *j, struct replay_err *err)
{
    if (j == NULL)
        return 0; /* a path that is not UTF-8: never queued, nothing to remember */
    if (o->len + LINE_MAX_BYTES > sizeof(o->buf)) {
        int code = flush(o, err);
        if (code != 0) {
            json_decref(j);
            return code;
        }
    }
    size_t n = json_dumpb(j, o->buf + o->len, sizeof(o->buf) - o->len - 1, JSON_COMPACT);
    json_decref(j);
    if (n == 0 || n >= sizeof(o->buf) - o->len - 1)
        return 0;
    o->len += n;
    o->buf[o->len++] = '\n';
    return 0;
}

struct save {
    struct replay_fswatch *w;
    struct out *out;
};

static int fill_state(void *ctx, int fd, struct replay_err *err)
{
    struct save *s = ctx;
    struct replay_fswatch *w = s->w;
    s->out->fd = fd;
    int code = put_line(s->out,
                        json_pack("{s:i, s:s, s:I, s:I, s:s}", "replay_fswatch", STATE_VERSION,
                                  "root", w->root, "root_dev", (json_int_t)w->root_dev,
                                  "root_ino", (json_int_t)w->root_ino, "tag", w->tag),
                        err);
    for (size_t i = 0; code == 0 && i < w->cap; i++) {
        const struct replay__fsw_rec *r = w->slots[i];
        if (r == NULL || r->mark == 0)
            continue;
        json_t *rel = json_stringn(r->rel, r->len);
        code = put_line(s->out,
                        rel == NULL ? NULL
                                    : json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}", "rel", rel,
                                                "dev", (json_int_t)r->dev, "ino",
                                                (json_int_t)r->ino, "size", (json_int_t)r->size,
                                                "mtime_ns", (json_int_t)r->mtime_ns, "mark",
                                                (json_int_t)r->mark),
                        err);
    }
    return code == 0 ? flush(s->out, err) : code;
}

int replay_fswatch_save(struct replay_fswatch *w, const char *path, struct replay_err *err)
{
    struct save s = {w, calloc(1, sizeof(struct out))}; /* len 0 before fill_state reads it */
    const struct replay_atomicfile_opts o = {.mode = 0640};
    int code = s.out != NULL ? replay_atomicfile_create(path, &o, REPLAY_ATOMICFILE_REPLACE,
                                                        fill_state, &s, err)
                             : replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    free(s.out);
    return code;
}

/* ---- loading ---- */

static void forget_all(struct replay_fswatch *w)
{
    for (size_t i = 0; i < w->cap; i++) {
        free(w->slots[i]);
        w->slots[i] = NULL;
    }
    w->count = 0;
    w->root_known = false;
}

void replay_fswatch_set_tag(struct replay_fswatch *w, const char *tag)
{
    snprintf(w->tag, sizeof(w->tag), "%s", tag != NULL ? tag : "");
}

const char *replay_fswatch_tag(const struct replay_fswatch *w)
{
    return w->tag;
}

/* The header line: 1 when it is this root's, 0 for another root's. The tag is
 * optional (files written before it existed). */
static int header(struct replay_fswatch *w, json_t *j)
{
    json_int_t version = 0, dev = 0, ino = 0;
    const char *root = NULL, *tag = "";
    if (json_unpack(j, "{s:I, s:s, s:I, s:I, s?s}", "replay_fswatch", &version, "root", &root,
                    "root_dev", &dev, "root_ino", &ino, "tag", &tag) != 0 ||
        version != STATE_VERSION || strlen(tag) > REPLAY_FSWATCH_TAG_MAX)
        return -1;
    if (strcmp(root, w->root) != 0)
        return 0;
    replay_fswatch_set_tag(w, tag);
    w->root_known = true;
    w->root_dev = (uint64_t)dev;
    w->root_ino = (uint64_t)ino;
    return 1;
}

static int record(struct replay_fswatch *w, json_t *j)
{
    json_int_t dev, ino, size, mtime, mark;
    json_t *rel = NULL;
    if (json_unpack(j, "{s:o, s:I, s:I, s:I, s:I, s:I}", "rel", &rel, "dev", &dev, "ino", &ino,
                    "size", &size, "mtime_ns", &mtime, "mark", &mark) != 0 ||
        !json_is_string(rel))
        return -1;
    const char *s = json_string_value(rel);
    size_t len = json_string_length(rel);
    const char *base = strrchr(s, '/');
    enum replay_names_kind kind = replay_names_classify(base != NULL ? base + 1 : s);
    if (len == 0 || len > UINT16_MAX || strlen(s) != len || s[0] == '/' ||
        kind == REPLAY_NAMES_IGNORED)
        return -1;
    struct replay__fsw_rec *r = replay__fsw_find(w, s, len);
    if (r == NULL && (r = replay__fsw_add(w, s, len)) == NULL)
        return -2;
    *r = (struct replay__fsw_rec){(uint64_t)dev, (uint64_t)ino, size, mtime, mark, 0, 0,
                                  r->hash, r->len, REPLAY__FSW_LOADED, (uint8_t)kind};
    return 0;
}

static int parse_lines(struct replay_fswatch *w, FILE *f, const char *path, size_t *n,
                       struct replay_err *err)
{
    char *line = malloc(LINE_MAX_BYTES + 2);
    int code = line != NULL ? 0 : replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    for (size_t no = 1; code == 0 && fgets(line, LINE_MAX_BYTES + 2, f) != NULL; no++) {
        size_t len = strlen(line);
        json_t *j = len > 0 && line[len - 1] == '\n' ? json_loadb(line, len - 1, 0, NULL) : NULL;
        int r = j == NULL ? -1 : no == 1 ? header(w, j) : record(w, j);
        json_decref(j);
        if (r == 0 && no == 1) {
            replay_info("The loader's state %s is for another input directory: not used", path);
            break;
        }
        if (r == -2)
            code = replay_err_set(err, REPLAY_ENOMEM, "out of memory");
        else if (r < 0)
            code = replay_err_set(err, REPLAY_EFORMAT, "%s: line %zu is not a valid state line",
                                  path, no);
        else if (no > 1)
            (*n)++;
    }
    if (code == 0 && ferror(f))
        code = replay_err_sys(err, REPLAY_EIO, errno, "read %s", path);
    free(line);
    return code;
}

int replay_fswatch_load(struct replay_fswatch *w, const char *path, size_t *loaded,
                        struct replay_err *err)
{
    size_t n = 0;
    if (loaded != NULL)
        *loaded = 0;
    if (w->scanned || w->count != 0)
        return replay_err_set(err, REPLAY_EINVAL, "fswatch: state loaded after a pass");
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (f == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return replay_err_sys(err, REPLAY_EIO, e, "open %s", path);
    }
    int code = parse_lines(w, f, path, &n, err);
    fclose(f);
    if (code != 0)
        forget_all(w);
    else if (loaded != NULL)
        *loaded = n;
    return code;
}
