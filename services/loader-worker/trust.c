/* replay-loader-worker: loader.manifest (docs/trust.md).
 *
 * A manifest is read whole (8 MiB at most), parsed strictly, and its signature
 * `<name>.sig` checked with the trusted key whose fingerprint it names; then it is
 * recorded in the audit (the persistent Redis) in one step that also refuses a
 * sequence seen before (a replay) and a hash that does not link to its
 * neighbours (a broken chain). Its files are promised from then on.
 *
 * Any other file is hashed before it is imported, and looked up: listed with
 * these exact bytes, listed under its name with other bytes, or not listed. With
 * require_signature only the first is imported; the others wait (their manifest
 * may still be on its way: a source writes the files before the manifest that
 * lists them) and, once `wait` is over, fail as `tampered` or `unsigned`. A file
 * that waits does not hold a thread: its message is acknowledged, the file stays,
 * and the loader queues it again when it is due or when a manifest is recorded.
 * A signed manifest whose .sig has not arrived waits the same way.
 *
 * Without require_signature nothing waits and everything imports as before; the
 * audit still learns what arrived and what no manifest lists. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "replay/log.h"
#include "worker.h"

/* A .sig is 64 bytes; anything much bigger is not one. */
#define SIG_FILE_MAX 1024

/* ---- setup ---- */

int lworker_trust_setup(const struct replay_config *cfg, struct lworker_trust *t,
                        struct replay_err *err)
{
    const struct replay_loader_manifest_config *m = &cfg->loader.manifest;
    memset(t, 0, sizeof(*t));
    t->on = replay_loader_manifest_on(m);
    t->require = m->require_signature;
    t->wait_s = m->wait;
    t->grace_s = m->grace;
    if (t->require && m->trusted_keys.count == 0)
        return replay_err_set(err, REPLAY_ECONFIG, "loader.manifest.require_signature needs at "
                              "least one key in loader.manifest.trusted_keys");
    t->keys = calloc(m->trusted_keys.count + 1, sizeof(*t->keys));
    if (t->keys == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "trusted keys: out of memory");
    for (size_t i = 0; i < m->trusted_keys.count; i++) {
        struct replay_err kerr = {0};
        if (replay_trust_key_load_public(m->trusted_keys.items[i], &t->keys[i], &kerr) != 0)
            return replay_err_set(err, REPLAY_ECONFIG, "loader.manifest.trusted_keys[%zu]: %s", i,
                                  kerr.msg);
        t->n_keys = i + 1;
    }
    return 0;
}

void lworker_trust_free(struct lworker_trust *t)
{
    for (size_t i = 0; i < t->n_keys; i++)
        replay_trust_key_free(t->keys[i]);
    free(t->keys);
    memset(t, 0, sizeof(*t));
}

static const struct replay_trust_key *trusted_key(const struct lworker_trust *t,
                                                  const char *fingerprint)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        if (strcmp(replay_trust_key_fingerprint(t->keys[i]), fingerprint) == 0)
            return t->keys[i];
    }
    return NULL;
}

void lworker_sig_name(const struct lworker_job *j, char *buf, size_t size)
{
    snprintf(buf, size, "%s" REPLAY_MANIFEST_SIG_SUFFIX, j->base);
}

/* ---- waiting ---- */

static long long now_s(void)
{
    return (long long)time(NULL);
}

/* Fails the file with `word` when its wait is over, else marks it waiting. */
static int wait_or_fail(struct lworker_job *j, const char *word, const char *why,
                        struct replay_err *err)
{
    const struct lworker_trust *t = j->r->slot->trust;
    long long now = now_s(), since = now;
    long long due = now + replay_queue_audit_recheck_s(t->wait_s);
    int rc = replay_queue_audit_wait(j->r->audit, j->path, now, due, &since, err);
    if (rc != 0)
        return rc;
    if (now - since < t->wait_s) {
        j->waiting = true;
        return 0;
    }
    j->reason_word = word;
    return replay_err_set(err, REPLAY_EINTEGRITY, "%s: %s (waited %lld s)", word, why,
                          now - since);
}

/* ---- bundles and exports ---- */

static int hash_file(struct lworker_job *j, uint64_t *size, struct replay_err *err)
{
    int rc = replay_trust_sha256_fd(j->fd, j->sha256, size, err);
    if (rc == 0 && lseek(j->fd, 0, SEEK_SET) != 0)
        rc = replay_err_sys(err, REPLAY_EIO, errno, "rewind %s", j->path);
    if (rc != 0)
        j->sha256[0] = '\0';
    return rc;
}

int lworker_trust_check(struct lworker_job *j, struct replay_err *err)
{
    const struct lworker_trust *t = j->r->slot->trust;
    struct replay_queue_audit_promise p;
    uint64_t size = 0;
    int rc = hash_file(j, &size, err);
    if (rc == 0)
        rc = replay_queue_audit_lookup(j->r->audit, j->base, j->sha256, &p, err);
    if (rc != 0)
        return rc;
    if (p.listing == REPLAY_QUEUE_AUDIT_LISTED) {
        snprintf(j->source, sizeof(j->source), "%s", p.source);
        if ((uint64_t)p.size == size)
            return 0;
        j->reason_word = "tampered";
        return replay_err_set(err, REPLAY_EINTEGRITY, "tampered: %llu bytes, manifest %lld of "
                              "%s lists %lld with the same sha256", (unsigned long long)size,
                              p.sequence, p.source, p.size);
    }
    if (p.listing == REPLAY_QUEUE_AUDIT_OTHER) {
        snprintf(j->source, sizeof(j->source), "%s", p.source);
        if (!t->require) {
            replay_warn("%s: its sha256 %s is not what the manifests list under its name "
                        "(imported: require_signature is off)", j->path, j->sha256);
            return 0;
        }
        char why[REPLAY_ERR_MSG_LEN];
        snprintf(why, sizeof(why), "its sha256 %s differs from what manifest %lld of %s lists "
                 "under its name (%lld bytes)", j->sha256, p.sequence, p.source, p.size);
        return wait_or_fail(j, "tampered", why, err);
    }
    if (!t->require)
        return 0;
    return wait_or_fail(j, "unsigned", "no manifest signed by a trusted key lists it", err);
}

/* ---- manifests ---- */

/* Sets the reason word and a permanent error for a manifest refused. */
static int refuse(struct lworker_job *j, const char *word, const char *detail,
                  struct replay_err *err)
{
    j->reason_word = word;
    replay_err_clear(err); /* the reason below replaces the detail it quotes */
    return replay_err_set(err, REPLAY_EINTEGRITY, "%s: %s", word, detail);
}

/* The manifest's signature: *verified when a trusted key checked it. 0 to go on
 * (j->waiting: its .sig is not there yet). */
static int check_signature(struct lworker_job *j, const struct replay_manifest *m,
                           const char *bytes, size_t len, bool *verified, struct replay_err *err)
{
    const struct lworker_trust *t = j->r->slot->trust;
    char sig_name[NAME_MAX + 8], detail[REPLAY_ERR_MSG_LEN];
    *verified = false;
    if (m->key[0] == '\0')
        return t->require ? refuse(j, "unsigned", "the manifest is not signed", err) : 0;
    const struct replay_trust_key *k = trusted_key(t, m->key);
    if (k == NULL && t->n_keys == 0)
        return 0; /* no key to check with: recorded as not verified */
    if (k == NULL) {
        snprintf(detail, sizeof(detail), "signed by %s, which is not a trusted key", m->key);
        return refuse(j, "unknown-key", detail, err);
    }
    lworker_sig_name(j, sig_name, sizeof(sig_name));
    char *sig = NULL;
    size_t sig_len = 0;
    int rc = replay_trust_read_small(j->dirfd, sig_name, SIG_FILE_MAX, &sig, &sig_len, err);
    if (rc == REPLAY_ENOTFOUND) {
        replay_err_clear(err);
        snprintf(detail, sizeof(detail), "its signature %s never arrived", sig_name);
        return wait_or_fail(j, "unsigned", detail, err);
    }
    if (rc == REPLAY_EIO || rc == REPLAY_ENOMEM)
        return rc;
    if (rc == 0)
        rc = replay_trust_verify(k, bytes, len, (const unsigned char *)sig, sig_len, err);
    free(sig);
    if (rc != 0) {
        snprintf(detail, sizeof(detail), "%s", err->msg);
        return refuse(j, "bad-signature", detail, err);
    }
    *verified = true;
    return 0;
}

/* The audit's view of the manifest's files: [[name, sha256, entry JSON], ...]. */
static char *files_json(const struct replay_manifest *m, long long now)
{
    json_t *all = json_array();
    for (size_t i = 0; all != NULL && i < m->n_files; i++) {
        const struct replay_manifest_file *f = &m->files[i];
        char *entry = NULL;
        json_t *e = json_pack("{s:s, s:I, s:I, s:I, s:s}", "source", m->source, "sequence",
                              (json_int_t)m->sequence, "size", (json_int_t)f->size, "promised",
                              (json_int_t)now, "type", f->type);
        if (e != NULL)
            entry = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(e);
        if (entry == NULL || json_array_append_new(all, json_pack("[s, s, s]", f->name, f->sha256,
                                                                  entry)) != 0) {
            free(entry);
            json_decref(all);
            return NULL;
        }
        free(entry);
    }
    char *text = all != NULL ? json_dumps(all, JSON_COMPACT) : NULL;
    json_decref(all);
    return text;
}

static char *info_json(const struct lworker_job *j, const struct replay_manifest *m,
                       bool verified, long long now)
{
    json_t *o = json_pack("{s:s, s:s, s:o, s:b, s:I, s:I}", "name", j->base, "created",
                          m->created, "key", m->key[0] ? json_string(m->key) : json_null(),
                          "verified", verified, "files", (json_int_t)m->n_files, "recorded",
                          (json_int_t)now);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return text;
}

static int record(struct lworker_job *j, const struct replay_manifest *m, const char *sha256,
                  bool verified, struct replay_err *err)
{
    long long now = now_s();
    char detail[REPLAY_ERR_MSG_LEN];
    char *files = files_json(m, now), *info = info_json(j, m, verified, now);
    struct replay_queue_audit_manifest am = {
        .source = m->source, .sequence = m->sequence, .sha256 = sha256,
        .previous_sha256 = m->previous_sha256, .info = info, .files = files,
        .files_len = files != NULL ? strlen(files) : 0, .verified = verified, .now = now,
    };
    enum replay_queue_audit_verdict v = REPLAY_QUEUE_AUDIT_ACCEPTED;
    int rc = files != NULL && info != NULL
                 ? replay_queue_audit_accept(j->r->audit, &am, &v, err)
                 : replay_err_set(err, REPLAY_ENOMEM, "manifest: out of memory");
    free(files);
    free(info);
    if (rc != 0)
        return rc;
    if (v == REPLAY_QUEUE_AUDIT_REPLAYED) {
        snprintf(detail, sizeof(detail), "sequence %lld of source %s was recorded before",
                 (long long)m->sequence, m->source);
        return refuse(j, "replayed", detail, err);
    }
    if (v == REPLAY_QUEUE_AUDIT_CHAIN) {
        snprintf(detail, sizeof(detail), "sequence %lld of source %s does not link to the "
                 "manifests around it (previous_sha256 or its own hash differs)",
                 (long long)m->sequence, m->source);
        return refuse(j, "broken-chain", detail, err);
    }
    j->sequence = m->sequence;
    replay_info("Manifest %s: sequence %lld of %s, %zu file(s), %s", j->base,
                (long long)m->sequence, m->source, m->n_files, verified ? "signature verified" : "signature not checked");
    return 0;
}

int lworker_manifest(struct lworker_job *j, struct replay_err *err)
{
    struct replay_manifest *m = NULL;
    char *bytes = NULL, sha256[REPLAY_TRUST_SHA256_HEX_LEN], detail[REPLAY_ERR_MSG_LEN];
    size_t len = 0;
    bool verified = false;
    int rc = replay_trust_read_small(j->dirfd, j->base, REPLAY_MANIFEST_MAX_BYTES, &bytes, &len, err);
    if (rc == REPLAY_ETOOBIG || rc == REPLAY_EUNSAFE) {
        snprintf(detail, sizeof(detail), "%s", err->msg);
        rc = refuse(j, "malformed", detail, err);
    }
    if (rc == 0 && replay_manifest_parse(bytes, len, &m, err) != 0) {
        snprintf(detail, sizeof(detail), "%s", err->msg);
        rc = refuse(j, "malformed", detail, err);
    }
    if (rc == 0 && !replay_queue_manifest_source_ok(m->source))
        rc = refuse(j, "malformed", "the source name is not 1 to 64 of A-Z a-z 0-9 . _ -", err);
    if (rc == 0) {
        snprintf(j->source, sizeof(j->source), "%s", m->source);
        rc = check_signature(j, m, bytes, len, &verified, err);
    }
    if (rc == 0 && !j->waiting) {
        replay_trust_sha256_hex(bytes, len, sha256);
        rc = record(j, m, sha256, verified, err);
    }
    replay_manifest_free(m);
    free(bytes);
    return rc;
}

/* ---- after the outcome ---- */

static int settle_manifest(struct lworker_job *j, struct replay_err *err)
{
    char sig_name[NAME_MAX + 8];
    lworker_sig_name(j, sig_name, sizeof(sig_name));
    if (unlinkat(j->dirfd, sig_name, 0) != 0 && errno != ENOENT)
        return replay_err_sys(err, REPLAY_EIO, errno, "remove %s", sig_name);
    int rc = replay_queue_audit_done(j->r->audit, j->source, j->sequence, err);
    if (rc == 0)
        rc = replay_queue_audit_unwait(j->r->audit, j->path, err);
    return rc != 0 ? rc : replay_queue_audit_wake(j->r->audit, err);
}

void lworker_trust_forget(struct lworker_job *j)
{
    struct replay_err err = {0};
    if (j->r->slot->trust->on && replay_queue_audit_unwait(j->r->audit, j->path, &err) != 0 &&
        err.code != REPLAY_ECANCELED)
        replay_warn("Cannot forget the wait of %s (it is looked at again later): %s", j->path,
                    err.msg);
}

int lworker_trust_settle(struct lworker_job *j, bool loaded, struct replay_err *err)
{
    if (!j->r->slot->trust->on)
        return 0;
    if (loaded && j->kind == REPLAY_NAMES_MANIFEST)
        return settle_manifest(j, err);
    int rc = 0;
    if (!loaded)
        rc = replay_queue_audit_failure(j->r->audit, j->reason_word ? j->reason_word : "refused",
                                        j->source, err);
    if (rc == 0 && j->sha256[0] != '\0') /* (its wait ends with it) */
        return replay_queue_audit_arrived(j->r->audit, j->base, j->sha256, j->path, now_s(), err);
    return rc != 0 ? rc : replay_queue_audit_unwait(j->r->audit, j->path, err);
}
