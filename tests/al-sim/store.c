/* store: documents and files of al-sim in a data directory (see store.h). */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "simutil.h"

static const char *const COLL_NAMES[ALSIM_COLL_COUNT] = {
    "alert", "submission", "badlist", "safelist", "signature",
    "workflow", "file", "result", "emptyresult", "error",
};

struct coll {
    pthread_rwlock_t lock;
    json_t *docs; /* id -> document */
};

struct alsim_store {
    char *dir;
    int lock_fd;
    struct coll colls[ALSIM_COLL_COUNT];
    pthread_mutex_t journal_mu;
};

const char *alsim_coll_name(enum alsim_coll c)
{
    return (unsigned)c < ALSIM_COLL_COUNT ? COLL_NAMES[c] : "?";
}

int alsim_coll_from_name(const char *name)
{
    for (int i = 0; name != NULL && i < ALSIM_COLL_COUNT; i++)
        if (strcmp(name, COLL_NAMES[i]) == 0)
            return i;
    return -1;
}

const char *alsim_store_dir(const struct alsim_store *s)
{
    return s->dir;
}

/* File name of a document: the id itself when safe, else its sha256. */
static void doc_name(const char *id, char out[80])
{
    size_t n = strlen(id);
    bool safe = n > 0 && n <= 64 && id[0] != '.';
    for (size_t i = 0; safe && i < n; i++) {
        char c = id[i];
        safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    }
    if (safe) {
        memcpy(out, id, n + 1);
    } else {
        memcpy(out, "h-", 2);
        alsim_sha256_hex(id, n, out + 2);
    }
}

static int doc_path(const struct alsim_store *s, enum alsim_coll c, const char *id, char *out,
                    size_t len)
{
    char name[80];
    doc_name(id, name);
    int n = snprintf(out, len, "%s/docs/%s/%s.json", s->dir, COLL_NAMES[c], name);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int alsim_write_json_atomic(const char *path, const json_t *doc, char err[ALSIM_ERRLEN])
{
    char tmp[4200];
    const char *slash = strrchr(path, '/');
    int dlen = slash != NULL ? (int)(slash - path) : 1;
    snprintf(tmp, sizeof(tmp), "%.*s/.tmp-XXXXXX", dlen, slash != NULL ? path : ".");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, ALSIM_ERRLEN, "create temp file in %.*s: %s", dlen > 300 ? 300 : dlen, path, strerror(errno));
        return -1;
    }
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    int rc = text != NULL ? alsim_write_all(fd, text, strlen(text)) : -1;
    int e = errno;
    free(text);
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        snprintf(err, ALSIM_ERRLEN, "write %.300s: %s", path, strerror(e));
    }
    return rc;
}

static void load_coll(struct alsim_store *s, enum alsim_coll c)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/docs/%s", s->dir, COLL_NAMES[c]);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", interrupted temp files */
        char file[4500];
        snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
        json_error_t je;
        json_t *rec = json_load_file(file, 0, &je);
        json_t *id = json_object_get(rec, "id"), *doc = json_object_get(rec, "doc");
        if (json_is_string(id) && json_is_object(doc))
            json_object_set(s->colls[c].docs, json_string_value(id), doc);
        else
            fprintf(stderr, "al-sim: ignoring unreadable document %.300s: %s\n", file,
                    rec == NULL ? je.text : "not {\"id\", \"doc\"}");
        json_decref(rec);
    }
    closedir(d);
}

static int make_dirs(const char *dir, char err[ALSIM_ERRLEN])
{
    char path[4200];
    const char *subs[] = {"docs", "files", "journal", "tmp", "queues"};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
        if (alsim_mkdirs(path) != 0)
            goto fail;
    }
    for (int c = 0; c < ALSIM_COLL_COUNT; c++) {
        snprintf(path, sizeof(path), "%s/docs/%s", dir, COLL_NAMES[c]);
        if (alsim_mkdirs(path) != 0)
            goto fail;
    }
    return 0;
fail:
    snprintf(err, ALSIM_ERRLEN, "create directory %.300s: %s", path, strerror(errno));
    return -1;
}

static int lock_dir(struct alsim_store *s, char err[ALSIM_ERRLEN])
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/LOCK", s->dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        snprintf(err, ALSIM_ERRLEN, "open %.300s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, ALSIM_ERRLEN, "data directory %.300s is in use by another al-sim process",
                 s->dir);
        return -1;
    }
    return 0;
}

int alsim_store_open(const char *dir, struct alsim_store **out, char err[ALSIM_ERRLEN])
{
    *out = NULL;
    if (dir == NULL || *dir == '\0' || strlen(dir) > 3000) {
        snprintf(err, ALSIM_ERRLEN, "no usable data directory given");
        return -1;
    }
    struct alsim_store *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->dir = strdup(dir)) == NULL) {
        free(s);
        snprintf(err, ALSIM_ERRLEN, "out of memory");
        return -1;
    }
    s->lock_fd = -1;
    pthread_mutex_init(&s->journal_mu, NULL);
    for (int c = 0; c < ALSIM_COLL_COUNT; c++) {
        pthread_rwlock_init(&s->colls[c].lock, NULL);
        s->colls[c].docs = json_object();
    }
    if (make_dirs(dir, err) != 0 || lock_dir(s, err) != 0) {
        alsim_store_close(s);
        return -1;
    }
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s/tmp", dir);
    alsim_rm_tree(tmp);
    for (int c = 0; c < ALSIM_COLL_COUNT; c++)
        load_coll(s, c);
    *out = s;
    return 0;
}

void alsim_store_close(struct alsim_store *s)
{
    if (s == NULL)
        return;
    for (int c = 0; c < ALSIM_COLL_COUNT; c++) {
        json_decref(s->colls[c].docs);
        pthread_rwlock_destroy(&s->colls[c].lock);
    }
    pthread_mutex_destroy(&s->journal_mu);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->dir);
    free(s);
}

json_t *alsim_store_get(struct alsim_store *s, enum alsim_coll c, const char *id)
{
    if (id == NULL)
        return NULL;
    pthread_rwlock_rdlock(&s->colls[c].lock);
    json_t *d = json_incref(json_object_get(s->colls[c].docs, id));
    pthread_rwlock_unlock(&s->colls[c].lock);
    return d;
}

bool alsim_store_exists(struct alsim_store *s, enum alsim_coll c, const char *id)
{
    json_t *d = alsim_store_get(s, c, id);
    json_decref(d);
    return d != NULL;
}

/* Persists and swaps in doc; caller holds the write lock. Takes the reference. */
static int put_locked(struct alsim_store *s, enum alsim_coll c, const char *id, json_t *doc,
                      char err[ALSIM_ERRLEN])
{
    char path[4300];
    json_t *rec = json_pack("{s:s, s:O}", "id", id, "doc", doc);
    int rc = -1;
    if (rec == NULL)
        snprintf(err, ALSIM_ERRLEN, "out of memory storing %s %s", COLL_NAMES[c], id);
    else if (doc_path(s, c, id, path, sizeof(path)) != 0)
        snprintf(err, ALSIM_ERRLEN, "path too long for %s %s", COLL_NAMES[c], id);
    else
        rc = alsim_write_json_atomic(path, rec, err);
    json_decref(rec);
    if (rc == 0 && json_object_set(s->colls[c].docs, id, doc) != 0) {
        snprintf(err, ALSIM_ERRLEN, "out of memory storing %s %s", COLL_NAMES[c], id);
        rc = -1;
    }
    json_decref(doc);
    return rc;
}

int alsim_store_put(struct alsim_store *s, enum alsim_coll c, const char *id, json_t *doc,
                    char err[ALSIM_ERRLEN])
{
    if (id == NULL || *id == '\0' || !json_is_object(doc)) {
        json_decref(doc);
        snprintf(err, ALSIM_ERRLEN, "store %s: empty id or not a JSON object", COLL_NAMES[c]);
        return -1;
    }
    pthread_rwlock_wrlock(&s->colls[c].lock);
    int rc = put_locked(s, c, id, doc, err);
    pthread_rwlock_unlock(&s->colls[c].lock);
    return rc;
}

int alsim_store_update(struct alsim_store *s, enum alsim_coll c, const char *id,
                       alsim_update_fn fn, void *ud, char err[ALSIM_ERRLEN])
{
    int rc = 0;
    pthread_rwlock_wrlock(&s->colls[c].lock);
    json_t *cur = id != NULL ? json_object_get(s->colls[c].docs, id) : NULL;
    json_t *copy = cur != NULL ? json_deep_copy(cur) : NULL;
    if (cur != NULL && copy == NULL) {
        snprintf(err, ALSIM_ERRLEN, "out of memory updating %s %s", COLL_NAMES[c], id);
        rc = -1;
    } else if (copy != NULL && fn(copy, ud)) {
        rc = put_locked(s, c, id, copy, err) == 0 ? 1 : -1;
        copy = NULL;
    }
    json_decref(copy);
    pthread_rwlock_unlock(&s->colls[c].lock);
    return rc;
}

int alsim_store_items(struct alsim_store *s, enum alsim_coll c, alsim_filter_fn filter,
                      void *ud, struct alsim_item **items, size_t *n)
{
    *items = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&s->colls[c].lock);
    size_t cap = json_object_size(s->colls[c].docs), k = 0;
    struct alsim_item *v = calloc(cap ? cap : 1, sizeof(*v));
    const char *id;
    json_t *doc;
    int rc = v != NULL ? 0 : -1;
    if (v != NULL)
        json_object_foreach(s->colls[c].docs, id, doc) {
            if (filter != NULL && !filter(doc, id, ud))
                continue;
            if ((v[k].id = strdup(id)) == NULL) {
                rc = -1;
                break;
            }
            v[k++].doc = json_incref(doc);
        }
    pthread_rwlock_unlock(&s->colls[c].lock);
    if (rc != 0) {
        alsim_items_free(v, k);
        return -1;
    }
    *items = v;
    *n = k;
    return 0;
}

void alsim_items_free(struct alsim_item *items, size_t n)
{
    for (size_t i = 0; items != NULL && i < n; i++) {
        free(items[i].id);
        json_decref(items[i].doc);
    }
    free(items);
}

size_t alsim_store_count(struct alsim_store *s, enum alsim_coll c)
{
    pthread_rwlock_rdlock(&s->colls[c].lock);
    size_t n = json_object_size(s->colls[c].docs);
    pthread_rwlock_unlock(&s->colls[c].lock);
    return n;
}

/* ---- filestore ---- */

bool alsim_sha256_valid(const char *sha256)
{
    if (sha256 == NULL || strlen(sha256) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((sha256[i] >= '0' && sha256[i] <= '9') || (sha256[i] >= 'a' && sha256[i] <= 'f')))
            return false;
    return true;
}

int alsim_blob_path(const struct alsim_store *s, const char *sha256, char *out, size_t len)
{
    if (!alsim_sha256_valid(sha256))
        return -1;
    int n = snprintf(out, len, "%s/files/%s", s->dir, sha256);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

bool alsim_blob_exists(const struct alsim_store *s, const char *sha256, uint64_t *size)
{
    char path[4200];
    struct stat st;
    if (alsim_blob_path(s, sha256, path, sizeof(path)) != 0 || stat(path, &st) != 0)
        return false;
    if (size != NULL)
        *size = (uint64_t)st.st_size;
    return S_ISREG(st.st_mode);
}

int alsim_blob_adopt(struct alsim_store *s, const char *tmp_path, const char *sha256,
                     char err[ALSIM_ERRLEN])
{
    char path[4200];
    if (alsim_blob_path(s, sha256, path, sizeof(path)) != 0) {
        snprintf(err, ALSIM_ERRLEN, "invalid file key '%s'", sha256);
        return -1;
    }
    if (alsim_blob_exists(s, sha256, NULL)) { /* the filestore does not overwrite */
        unlink(tmp_path);
        return 0;
    }
    if (rename(tmp_path, path) != 0) {
        snprintf(err, ALSIM_ERRLEN, "store file %s: %s", sha256, strerror(errno));
        unlink(tmp_path);
        return -1;
    }
    return 0;
}

int alsim_store_tmpfile(struct alsim_store *s, const char *prefix, char *path_out, size_t len)
{
    if (snprintf(path_out, len, "%s/tmp/%s-XXXXXX", s->dir, prefix) >= (int)len)
        return -1;
    return mkostemp(path_out, O_CLOEXEC);
}

/* ---- journals ---- */

int alsim_journal_append(struct alsim_store *s, const char *name, const json_t *rec)
{
    char path[4200], *line = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (line == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/journal/%s.jsonl", s->dir, name);
    pthread_mutex_lock(&s->journal_mu);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int rc = -1;
    if (fd >= 0) {
        size_t n = strlen(line);
        line[n] = '\n'; /* json_dumps left room: we overwrite the NUL and write n+1 */
        rc = alsim_write_all(fd, line, n + 1);
        close(fd);
    }
    pthread_mutex_unlock(&s->journal_mu);
    free(line);
    return rc;
}

json_t *alsim_journal_read(struct alsim_store *s, const char *name)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/journal/%s.jsonl", s->dir, name);
    json_t *out = json_array();
    pthread_mutex_lock(&s->journal_mu);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        json_error_t e;
        json_t *rec;
        while ((rec = json_loadf(f, JSON_DISABLE_EOF_CHECK, &e)) != NULL)
            json_array_append_new(out, rec);
        fclose(f);
    }
    pthread_mutex_unlock(&s->journal_mu);
    return out;
}
