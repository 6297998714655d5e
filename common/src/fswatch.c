/* fswatch: records of candidate files and the walk of the input directory
 * (fswatch.h). */
#include "fswatch_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "replay/log.h"

#define INITIAL_SLOTS 1024u
/* A walk reports progress (for the heartbeat) every this many entries: a pass
 * over a large tree on a slow NFS server may take minutes. */
#define PROGRESS_EVERY 1024u

/* ---- records ---- */

static uint32_t hash_of(const struct replay_fswatch *w, const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ w->seed; /* FNV-1a, seeded per process */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

struct replay__fsw_rec *replay__fsw_find(struct replay_fswatch *w, const char *rel, size_t len)
{
    uint32_t h = hash_of(w, rel, len);
    for (size_t i = h & (w->cap - 1);; i = (i + 1) & (w->cap - 1)) {
        struct replay__fsw_rec *r = w->slots[i];
        if (r == NULL)
            return NULL;
        if (r->hash == h && r->len == len && memcmp(r->rel, rel, len) == 0)
            return r;
    }
}

static void place(struct replay__fsw_rec **slots, size_t cap, struct replay__fsw_rec *r)
{
    size_t i = r->hash & (cap - 1);
    while (slots[i] != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = r;
}

static bool grow(struct replay_fswatch *w)
{
    size_t cap = w->cap * 2;
    struct replay__fsw_rec **slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return false;
    for (size_t i = 0; i < w->cap; i++) {
        if (w->slots[i] != NULL)
            place(slots, cap, w->slots[i]);
    }
    free(w->slots);
    w->slots = slots;
    w->cap = cap;
    return true;
}

struct replay__fsw_rec *replay__fsw_add(struct replay_fswatch *w, const char *rel, size_t len)
{
    if ((w->count + 1) * 10 > w->cap * 7 && !grow(w))
        return NULL;
    struct replay__fsw_rec *r = calloc(1, sizeof(*r) + len + 1);
    if (r == NULL)
        return NULL;
    memcpy(r->rel, rel, len);
    r->len = (uint16_t)len;
    r->hash = hash_of(w, rel, len);
    place(w->slots, w->cap, r);
    w->count++;
    return r;
}

/* Removes slot i, shifting back the records of its probe chain (no tombstones). */
static void remove_at(struct replay_fswatch *w, size_t i)
{
    size_t mask = w->cap - 1;
    free(w->slots[i]);
    w->slots[i] = NULL;
    w->count--;
    for (size_t j = (i + 1) & mask; w->slots[j] != NULL; j = (j + 1) & mask) {
        size_t home = w->slots[j]->hash & mask;
        /* The record at j may move to i unless its home lies in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            w->slots[i] = w->slots[j];
            w->slots[j] = NULL;
            i = j;
        }
    }
}

/* ---- the walk ---- */

struct skip_id {
    bool set;
    uint64_t dev, ino;
};

struct walk {
    struct replay_fswatch *w;
    replay_fswatch_settled_fn fn;
    void *ctx;
    struct replay_fswatch_pass *p;
    struct replay_err *err;
    int code;            /* the callback's error: ends the walk */
    char path[PATH_MAX]; /* root '/' rel */
    size_t len;
    unsigned depth;
    uint64_t now_ms;
    uint64_t entries;    /* names listed, for progress reports */
    bool full;           /* stat every candidate, settled or not */
    struct skip_id *skip;
};

static const char *rel_of(const struct walk *k)
{
    return k->path + k->w->root_len + 1;
}

/* The pass is incomplete; the first reason is kept, printable. */
static void incomplete(struct walk *k, const char *fmt, ...) REPLAY_PRINTF(2, 3);
static void incomplete(struct walk *k, const char *fmt, ...)
{
    k->p->errors++;
    k->p->complete = false;
    if (k->p->first_error[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->p->first_error, sizeof(k->p->first_error), fmt, ap);
    va_end(ap);
    for (char *c = k->p->first_error; *c != '\0'; c++)
        *c = (unsigned char)*c < 0x20 ? '?' : *c;
}

static void walk_error(struct walk *k, const char *what, int e)
{
    incomplete(k, "cannot %s %s: %s", what, k->path, strerror(e));
}

static bool push_name(struct walk *k, const char *name)
{
    size_t n = strlen(name);
    if (k->len + 1 + n + 1 > sizeof(k->path)) {
        walk_error(k, "walk into", ENAMETOOLONG);
        return false;
    }
    k->path[k->len++] = '/';
    memcpy(k->path + k->len, name, n + 1);
    k->len += n;
    return true;
}

static void remember_dir(struct walk *k)
{
    struct replay_fswatch *w = k->w;
    if (w->o.max_watches < 0 || w->n_dirs >= (size_t)w->o.max_watches)
        return;
    if (w->n_dirs == w->cap_dirs) {
        size_t cap = w->cap_dirs ? w->cap_dirs * 2 : 16;
        char **d = realloc(w->dirs, cap * sizeof(*d));
        if (d == NULL)
            return; /* a hint fewer; the periodic pass still sees everything */
        w->dirs = d;
        w->cap_dirs = cap;
    }
    const char *rel = k->len > w->root_len ? rel_of(k) : "";
    if ((w->dirs[w->n_dirs] = strdup(rel)) != NULL)
        w->n_dirs++;
}

static void walk_dir(struct walk *k, int dfd);

static bool skipped_dir(const struct walk *k, const struct stat *st)
{
    for (size_t i = 0; i < k->w->o.n_skip_dirs; i++) {
        if (k->skip[i].set && k->skip[i].dev == (uint64_t)st->st_dev &&
            k->skip[i].ino == (uint64_t)st->st_ino)
            return true;
    }
    return false;
}

static void descend(struct walk *k, int dfd, const char *name)
{
    struct stat st;
    if (k->depth >= k->w->o.max_depth) {
        replay_debug("Not walking into %s: deeper than %u levels", k->path, k->w->o.max_depth);
        return;
    }
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* ELOOP/ENOTDIR: a symbolic link to a directory, never followed. */
        if (errno != ENOENT && errno != ELOOP && errno != ENOTDIR)
            walk_error(k, "open", errno);
        return;
    }
    if (fstat(fd, &st) != 0) {
        walk_error(k, "stat", errno);
        close(fd);
        return;
    }
    if (skipped_dir(k, &st)) {
        close(fd);
        return;
    }
    k->depth++;
    walk_dir(k, fd);
    k->depth--;
}

static const char *refusal(mode_t mode)
{
    if (S_ISLNK(mode))
        return "a symbolic link (it could point anywhere)";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Hands a settled record to the callback; a new mark is kept. */
static void report(struct walk *k, struct replay__fsw_rec *r)
{
    struct replay_fswatch_file f = {k->path, rel_of(k), (enum replay_names_kind)r->kind,
                                    r->dev, r->ino, r->size, r->mtime_ns, r->mark};
    k->p->settled++;
    if (k->fn == NULL)
        return;
    k->code = k->fn(k->ctx, &f, k->err);
    if (f.mark != r->mark) {
        r->mark = f.mark;
        k->p->changed = true;
    }
}

static bool same_file(const struct replay__fsw_rec *r, const struct stat *st)
{
    int64_t mtime = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    return r->dev == (uint64_t)st->st_dev && r->ino == (uint64_t)st->st_ino &&
           r->size == (int64_t)st->st_size && r->mtime_ns == mtime;
}

/* A new file to the caller: new attributes, settling starts over, mark reset. */
static void restart(struct walk *k, struct replay__fsw_rec *r, const struct stat *st)
{
    r->dev = (uint64_t)st->st_dev;
    r->ino = (uint64_t)st->st_ino;
    r->size = (int64_t)st->st_size;
    r->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    r->since_ms = k->now_ms;
    r->flags = 0;
    if (r->mark != 0) {
        r->mark = 0;
        k->p->changed = true;
    }
}

static struct replay__fsw_rec *record_for(struct walk *k, enum replay_names_kind kind,
                                          const struct stat *st)
{
    struct replay_fswatch *w = k->w;
    const char *rel = rel_of(k);
    size_t len = strlen(rel);
    struct replay__fsw_rec *r = replay__fsw_find(w, rel, len);
    if (r != NULL)
        return r;
    if (w->count >= w->o.max_files || len > UINT16_MAX) {
        if (!w->cap_logged)
            replay_warn("More than %zu candidate files in %s: the others wait until some are "
                        "gone",
                        w->o.max_files, w->root);
        w->cap_logged = true;
        return NULL;
    }
    if ((r = replay__fsw_add(w, rel, len)) == NULL) {
        walk_error(k, "remember", ENOMEM);
        return NULL;
    }
    r->kind = (uint8_t)kind;
    restart(k, r, st);
    return r;
}

/* A candidate file, stat'ed. */
static void observe(struct walk *k, enum replay_names_kind kind, const struct stat *st)
{
    struct replay__fsw_rec *r = record_for(k, kind, st);
    if (r == NULL)
        return;
    r->gen = k->w->gen;
    k->p->candidates++;
    if (!S_ISREG(st->st_mode)) {
        if (!(r->flags & REPLAY__FSW_REFUSED))
            replay_warn("Not queueing %s: it is %s", k->path, refusal(st->st_mode));
        restart(k, r, st);
        r->flags |= REPLAY__FSW_REFUSED;
        return;
    }
    if (!same_file(r, st) || (r->flags & REPLAY__FSW_REFUSED))
        restart(k, r, st);
    else if (r->flags & REPLAY__FSW_LOADED)
        r->flags = REPLAY__FSW_SETTLED; /* queued before a restart, unchanged since */
    if (!(r->flags & REPLAY__FSW_SETTLED) && k->now_ms - r->since_ms >= k->w->o.settle_ms)
        r->flags |= REPLAY__FSW_SETTLED;
    if (r->flags & REPLAY__FSW_SETTLED) {
        report(k, r);
        return;
    }
    uint64_t due = r->since_ms + k->w->o.settle_ms;
    if (k->p->next_settle_ms == 0 || due < k->p->next_settle_ms)
        k->p->next_settle_ms = due;
}

/* A settled file whose readdir inode still matches: seen, no stat needed. */
static bool seen_unchanged(struct walk *k, uint64_t d_ino)
{
    const char *rel = rel_of(k);
    struct replay__fsw_rec *r = replay__fsw_find(k->w, rel, strlen(rel));
    if (r == NULL || r->flags != REPLAY__FSW_SETTLED || r->ino != d_ino)
        return false;
    r->gen = k->w->gen;
    k->p->candidates++;
    report(k, r);
    return true;
}

static void entry(struct walk *k, int dfd, const struct dirent *e)
{
    enum replay_names_kind kind = replay_names_classify(e->d_name);
    struct stat st;
    if (e->d_type == DT_DIR) {
        descend(k, dfd, e->d_name);
        return;
    }
    if (kind == REPLAY_NAMES_IGNORED && e->d_type != DT_UNKNOWN)
        return;
    if (e->d_type == DT_REG && !k->full && seen_unchanged(k, (uint64_t)e->d_ino))
        return;
    if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) /* ENOENT: gone since it was listed */
            walk_error(k, "stat", errno);
        return;
    }
    if (S_ISDIR(st.st_mode))
        descend(k, dfd, e->d_name);
    else if (kind != REPLAY_NAMES_IGNORED)
        observe(k, kind, &st);
}

/* Lists the directory open on dfd (taken over) and everything below it. */
static void walk_dir(struct walk *k, int dfd)
{
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        walk_error(k, "list", errno);
        close(dfd);
        return;
    }
    k->p->dirs++;
    remember_dir(k);
    while (k->code == 0) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0)
                walk_error(k, "list", errno);
            break;
        }
        if (++k->entries % PROGRESS_EVERY == 0)
            replay_progress();
        if (e->d_name[0] == '.')
            continue;
        size_t len = k->len;
        if (push_name(k, e->d_name))
            entry(k, dirfd(d), e);
        k->len = len;
        k->path[len] = '\0';
    }
    closedir(d);
}

/* ---- a pass ---- */

/* Is the input directory the one seen before? Passes stay incomplete for
 * root_grace_ms after it changed (a mount may be missing). */
static void check_root(struct walk *k, const struct stat *st)
{
    struct replay_fswatch *w = k->w;
    bool same = w->root_dev == (uint64_t)st->st_dev && w->root_ino == (uint64_t)st->st_ino;
    if (!w->root_known || same) {
        if (w->root_changed_ms != 0)
            replay_info("The input directory %s is the one seen before again", w->root);
        w->root_known = true;
        w->root_changed_ms = 0;
    } else if (w->root_changed_ms == 0) {
        w->root_changed_ms = k->now_ms;
        replay_warn("The input directory %s is not the directory seen before (a mount may be "
                    "missing): files seen before are kept for %llu s",
                    w->root, (unsigned long long)(w->o.root_grace_ms / 1000));
    }
    if (w->root_changed_ms != 0 && k->now_ms - w->root_changed_ms >= w->o.root_grace_ms) {
        replay_warn("The input directory %s stayed another directory for %llu s: accepting it "
                    "(files seen only before are forgotten)",
                    w->root, (unsigned long long)(w->o.root_grace_ms / 1000));
        w->root_changed_ms = 0;
    }
    if (w->root_changed_ms != 0) {
        incomplete(k, "the input directory %s is not the directory seen before (a mount may "
                      "be missing)",
                   w->root);
    } else {
        w->root_dev = (uint64_t)st->st_dev;
        w->root_ino = (uint64_t)st->st_ino;
    }
}

static void forget_unseen(struct replay_fswatch *w, struct replay_fswatch_pass *p)
{
    for (size_t i = 0; i < w->cap;) {
        struct replay__fsw_rec *r = w->slots[i];
        if (r == NULL || r->gen == w->gen) {
            i++;
            continue;
        }
        p->changed = p->changed || r->mark != 0;
        p->forgotten++;
        remove_at(w, i); /* another record may now be at i: look again */
    }
}

static void lookup_skip_dirs(const struct replay_fswatch *w, struct skip_id *ids)
{
    for (size_t i = 0; i < w->o.n_skip_dirs; i++) {
        struct stat st;
        ids[i].set = stat(w->skip[i], &st) == 0;
        ids[i].dev = ids[i].set ? (uint64_t)st.st_dev : 0;
        ids[i].ino = ids[i].set ? (uint64_t)st.st_ino : 0;
    }
}

static void free_dirs(struct replay_fswatch *w)
{
    for (size_t i = 0; i < w->n_dirs; i++)
        free(w->dirs[i]);
    w->n_dirs = 0;
}

int replay_fswatch_scan(struct replay_fswatch *w, replay_fswatch_settled_fn fn, void *ctx,
                        struct replay_fswatch_pass *out, struct replay_err *err)
{
    struct replay_fswatch_pass p = {.complete = true};
    struct walk k = {.w = w, .fn = fn, .ctx = ctx, .p = &p, .err = err, .depth = 0};
    struct stat st;
    k.now_ms = replay_now_ms();
    k.full = (w->gen + 1) % w->o.full_every == 0;
    k.skip = calloc(w->o.n_skip_dirs + 1, sizeof(*k.skip));
    if (k.skip == NULL) {
        if (out != NULL)
            *out = (struct replay_fswatch_pass){0};
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    }
    w->gen++;
    w->scanned = true;
    w->hint = false;
    free_dirs(w);
    lookup_skip_dirs(w, k.skip);
    memcpy(k.path, w->root, w->root_len + 1);
    k.len = w->root_len;
    int fd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        walk_error(&k, "open the input directory", errno);
        if (fd >= 0)
            close(fd);
    } else {
        check_root(&k, &st);
        walk_dir(&k, fd);
    }
    free(k.skip);
    if (k.code != 0)
        p.complete = false;
    if (p.complete)
        forget_unseen(w, &p);
    p.tracked = w->count;
    p.duration_ms = replay_now_ms() - k.now_ms;
    w->last_end_ms = k.now_ms + p.duration_ms;
    w->last_duration_ms = p.duration_ms;
    replay__fsw_watch_update(w);
    if (out != NULL)
        *out = p;
    return k.code;
}

/* ---- open and close ---- */

static int copy_options(struct replay_fswatch *w, const struct replay_fswatch_options *o)
{
    w->o = *o;
    w->o.max_files = o->max_files ? o->max_files : REPLAY_FSWATCH_MAX_FILES;
    w->o.max_depth = o->max_depth ? o->max_depth : REPLAY_FSWATCH_MAX_DEPTH;
    w->o.max_watches = o->max_watches ? o->max_watches : (int)REPLAY_FSWATCH_MAX_WATCHES;
    w->o.full_every = o->full_every ? o->full_every : REPLAY_FSWATCH_FULL_EVERY;
    w->root = strdup(o->root);
    w->skip = calloc(o->n_skip_dirs + 1, sizeof(*w->skip));
    if (w->root == NULL || w->skip == NULL)
        return REPLAY_ENOMEM;
    for (size_t i = 0; i < o->n_skip_dirs; i++) {
        if ((w->skip[i] = strdup(o->skip_dirs[i])) == NULL)
            return REPLAY_ENOMEM;
    }
    w->o.skip_dirs = NULL;
    w->root_len = strlen(w->root);
    while (w->root_len > 1 && w->root[w->root_len - 1] == '/')
        w->root[--w->root_len] = '\0';
    w->cap = INITIAL_SLOTS;
    w->slots = calloc(w->cap, sizeof(*w->slots));
    if (getrandom(&w->seed, sizeof(w->seed), 0) != (ssize_t)sizeof(w->seed))
        w->seed = (uint64_t)getpid() * 2654435761u;
    return w->slots != NULL ? 0 : REPLAY_ENOMEM;
}

int replay_fswatch_open(const struct replay_fswatch_options *o, struct replay_fswatch **out,
                        struct replay_err *err)
{
    *out = NULL;
    if (o == NULL || o->root == NULL || o->root[0] == '\0' || strlen(o->root) >= PATH_MAX / 2)
        return replay_err_set(err, REPLAY_EINVAL, "fswatch: no usable input directory");
    struct replay_fswatch *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    int code = copy_options(w, o);
    if (code != 0)
        code = replay_err_set(err, code, "out of memory");
    if (code == 0)
        code = replay__fsw_loop_open(w, err);
    if (code != 0) {
        replay_fswatch_close(w);
        return code;
    }
    *out = w;
    return 0;
}

void replay_fswatch_close(struct replay_fswatch *w)
{
    if (w == NULL)
        return;
    replay__fsw_loop_close(w);
    free_dirs(w);
    free(w->dirs);
    for (size_t i = 0; i < w->cap; i++)
        free(w->slots[i]);
    free(w->slots);
    for (size_t i = 0; w->skip != NULL && i < w->o.n_skip_dirs; i++)
        free(w->skip[i]);
    free(w->skip);
    free(w->root);
    free(w);
}
