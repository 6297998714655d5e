/* creator-worker, manifests (issue 16, docs/trust.md).
 *
 * With creator.manifest.interval set, every file a worker puts in the output store
 * is recorded in the persistent Redis (name, size, sha256 hashed as it streamed,
 * type, source ids) before its queue item is acknowledged, so a crash loses no
 * record. The manifest thread, every interval and once more at a clean stop, turns
 * the oldest records into `replay_manifest_<time>_<sequence>.json` (and its
 * `.sig` when a signing key is configured) in the output store, through the
 * queue module's journal: prepared in Redis, uploaded (signature first), then
 * committed, so a crash or another replica never forks the chain or drops a
 * record, and a repeat uploads the same bytes under the same name. Files a worker
 * records while the last manifest is written wait for the next run's first one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/atomicfile.h"
#include "replay/filestore.h"
#include "replay/isotime.h"
#include "replay/log.h"
#include "replay/queue.h"
#include "replay/trust.h"
#include "worker.h"

/* How long the thread's Redis calls wait through an outage before the flush is
 * left to the next interval (and how long the last one may hold a clean stop). */
#define REDIS_GIVE_UP_MS 10000u
/* Manifests written in one flush at most (each lists up to the caps). */
#define FLUSH_MAX_MANIFESTS 64

int cworker_manifest_setup(const struct replay_config *cfg, struct cworker_manifest *m,
                           struct replay_err *err)
{
    const struct replay_manifest_config *c = &cfg->creator.manifest;
    memset(m, 0, sizeof(*m));
    if (c->interval == 0)
        return 0;
    if (c->source_name == NULL)
        return replay_err_set(err, REPLAY_ECONFIG, "creator.manifest.source_name: required when "
                              "creator.manifest.interval is set");
    if (!replay_queue_manifest_source_ok(c->source_name))
        return replay_err_set(err, REPLAY_ECONFIG, "creator.manifest.source_name: 1 to %d of "
                              "A-Z a-z 0-9 . _ -, got \"%.64s\"",
                              REPLAY_QUEUE_MANIFEST_SOURCE_MAX, c->source_name);
    if (c->signing_key != NULL &&
        replay_trust_key_load_private(c->signing_key, &m->key, err) != 0) {
        replay_err_prefix(err, "creator.manifest.signing_key");
        return REPLAY_ECONFIG;
    }
    m->source = c->source_name;
    m->interval_s = (unsigned)c->interval;
    m->cfg = cfg;
    return 0;
}

void cworker_manifest_teardown(struct cworker_manifest *m)
{
    replay_trust_key_free(m->key);
    m->key = NULL;
}

int cworker_manifest_record(const struct cworker_manifest *m, struct replay_queue *pq,
                            const char *name, uint64_t size, const char *sha256,
                            enum replay_input_type type, const char *const *ids, size_t n_ids,
                            struct replay_err *err)
{
    char *entry = NULL;
    size_t len = 0;
    if (n_ids > CWORKER_MANIFEST_MAX_IDS)
        n_ids = CWORKER_MANIFEST_MAX_IDS; /* the ids inform; the name, size and hash prove */
    int code = replay_manifest_entry_encode(name, (int64_t)size, sha256, replay_input_name(type),
                                            ids, n_ids, &entry, &len, err);
    if (code == 0)
        code = replay_queue_manifest_record(pq, m->source, entry, len, err);
    free(entry);
    return code;
}

int cworker_manifest_hash_stored(struct replay_filestore *fs, const char *workdir,
                                 const char *name, char *hex, uint64_t *size,
                                 struct replay_err *err)
{
    char path[PATH_MAX];
    int fd = -1;
    int code = cworker_work_tmpfile(workdir, name, path, sizeof(path), &fd, err);
    if (code != 0)
        return code;
    close(fd);
    code = replay_filestore_download(fs, name, path, err);
    if (code == 0 && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        code = replay_err_sys(err, REPLAY_EIO, errno, "open %s", path);
    if (code == 0)
        code = replay_trust_sha256_fd(fd, hex, size, err);
    if (fd >= 0)
        close(fd);
    unlink(path);
    return code;
}

/* ---- the manifest thread ---- */

struct mrun {
    const struct cworker_manifest *m;
    struct replay_queue *pq;
    struct replay_filestore *fs;
};

struct bytes {
    const void *p;
    size_t len;
};

static int write_bytes(void *ctx, int fd, struct replay_err *err)
{
    const struct bytes *b = ctx;
    int e = replay_atomicfile_write_fd(fd, b->p, b->len);
    return e == 0 ? 0 : replay_err_sys(err, REPLAY_EIO, e, "write");
}

static int put(struct mrun *r, const char *name, const void *p, size_t len,
               struct replay_err *err)
{
    struct bytes b = {p, len};
    int code = replay_filestore_upload_stream(r->fs, name, write_bytes, &b, NULL, err);
    if (code != 0)
        replay_err_prefix(err, "upload %s", name);
    return code;
}

/* Uploads the pending manifest (its signature first: a reader never sees a
 * signed manifest without it) and commits it. */
static int finish_pending(struct mrun *r, const struct replay_queue_manifest_state *st,
                          struct replay_err *err)
{
    char sig_name[REPLAY_MANIFEST_NAME_LEN + 8], sha[REPLAY_TRUST_SHA256_HEX_LEN];
    struct replay_manifest *parsed = NULL;
    int code = replay_manifest_parse(st->pending_bytes, st->pending_len, &parsed, err);
    if (code != 0)
        return code;
    long long sequence = parsed->sequence;
    size_t n_files = parsed->n_files;
    replay_manifest_free(parsed);
    snprintf(sig_name, sizeof(sig_name), "%s" REPLAY_MANIFEST_SIG_SUFFIX, st->pending_name);
    if (st->pending_sig_len > 0)
        code = put(r, sig_name, st->pending_sig, st->pending_sig_len, err);
    if (code == 0)
        code = put(r, st->pending_name, st->pending_bytes, st->pending_len, err);
    replay_trust_sha256_hex(st->pending_bytes, st->pending_len, sha);
    bool committed = false;
    if (code == 0)
        code = replay_queue_manifest_commit(r->pq, r->m->source, st->pending_name, sequence, sha,
                                            st->pending_count, &committed, err);
    if (code == 0 && committed)
        replay_info("Wrote manifest %s: sequence %lld, %zu file(s)%s", st->pending_name,
                    sequence, n_files, st->pending_sig_len > 0 ? ", signed" : "");
    return code;
}

/* The next manifest from the oldest records (as many as the caps allow). *used
 * gets how many records it consumed (a record that cannot be listed is consumed
 * and logged, or it would block every later one). */
static int build(const struct mrun *r, const struct replay_queue_manifest_state *st,
                 struct replay_manifest **out, size_t *used, struct replay_err *err)
{
    char created[REPLAY_ISOTIME_LEN];
    struct replay_isotime now;
    replay_isotime_now(&now);
    replay_isotime_format(&now, created, sizeof(created));
    const char *key = r->m->key != NULL ? replay_trust_key_fingerprint(r->m->key) : NULL;
    int code = replay_manifest_new(r->m->source, st->sequence + 1, created, st->previous_sha256,
                                   key, out, err);
    for (*used = 0; code == 0 && *used < st->n_files; (*used)++) {
        struct replay_err why = {0};
        const char *e = st->files[*used];
        int rc = replay_manifest_add_entry(*out, e, strlen(e), &why);
        if (rc == REPLAY_ETOOBIG && (*out)->n_files > 0)
            break; /* full: the rest go in the next one */
        if (rc != 0)
            replay_error("A recorded file cannot be listed in a manifest (dropped): %s",
                         why.msg);
    }
    return code;
}

static int make_pending(struct mrun *r, const struct replay_queue_manifest_state *st,
                        struct replay_err *err)
{
    struct replay_manifest *m = NULL;
    char *text = NULL, name[REPLAY_MANIFEST_NAME_LEN];
    unsigned char sig[REPLAY_TRUST_SIG_LEN];
    size_t len = 0, used = 0;
    bool prepared = false;
    int code = build(r, st, &m, &used, err);
    if (code == 0)
        code = replay_manifest_serialize(m, &text, &len, err);
    if (code == 0)
        code = replay_manifest_name(m->created, m->sequence, name, sizeof(name), err);
    if (code == 0 && r->m->key != NULL)
        code = replay_trust_sign(r->m->key, text, len, sig, err);
    if (code == 0)
        code = replay_queue_manifest_prepare(r->pq, r->m->source, st->sequence, name, text, len,
                                             sig, r->m->key != NULL ? sizeof(sig) : 0,
                                             (long long)used, &prepared, err);
    replay_manifest_free(m);
    free(text);
    return code;
}

/* Writes manifests until no record is left (or FLUSH_MAX_MANIFESTS). */
static int flush(struct mrun *r, struct replay_err *err)
{
    int code = 0;
    for (int i = 0; code == 0 && i < FLUSH_MAX_MANIFESTS; i++) {
        struct replay_queue_manifest_state st;
        code = replay_queue_manifest_load(r->pq, r->m->source, REPLAY_MANIFEST_MAX_FILES, &st,
                                          err);
        bool idle = code == 0 && st.pending_name == NULL && st.n_files == 0;
        if (code == 0 && st.pending_name != NULL)
            code = finish_pending(r, &st, err);
        else if (code == 0 && !idle)
            code = make_pending(r, &st, err);
        replay_queue_manifest_state_clear(&st);
        if (idle)
            break;
    }
    return code;
}

static int open_thread(struct mrun *r, struct replay_err *err)
{
    const struct replay_config *cfg = r->m->cfg;
    /* No cancel token: the last flush runs after the stop was asked; the give-up
     * and the filestore's timeouts bound it instead. */
    struct replay_queue_options o = {.url = cfg->redis.persistent_url, .role = "manifests",
                                     .give_up_ms = REDIS_GIVE_UP_MS};
    int code = replay_queue_open(&o, &r->pq, err);
    if (code == 0)
        code = replay_filestore_open(cfg->creator.output_filestore, NULL, &r->fs, err);
    return code;
}

int cworker_manifest_thread(void *arg, const struct replay_cancel *cancel)
{
    struct mrun r = {.m = arg};
    struct replay_err err = {0};
    int code = open_thread(&r, &err);
    if (code != 0)
        replay_error("Cannot start the manifest writer: %s", err.msg);
    while (code == 0) {
        bool stopping = replay_cancel_sleep_ms(cancel, r.m->interval_s * 1000ull, true) != 0;
        replay_err_clear(&err);
        if (flush(&r, &err) != 0)
            replay_error("Cannot write the manifest (the files wait for the next one): %s",
                         err.msg);
        replay_progress();
        if (stopping)
            break;
    }
    replay_filestore_close(r.fs);
    replay_queue_close(r.pq);
    return code;
}
