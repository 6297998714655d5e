/* queue_manifest: the manifest journal in the persistent Redis (replay/queue.h,
 * docs/trust.md): recorded files, the chain's head, the pending manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_int.h"

bool replay_queue_manifest_source_ok(const char *source)
{
    size_t n = source != NULL ? strlen(source) : 0;
    if (n == 0 || n > REPLAY_QUEUE_MANIFEST_SOURCE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = source[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The source's key `replay_manifest:<source>:<what>` into buf. */
static int manifest_key(const char *source, const char *what, char *buf, size_t size,
                        struct replay_err *err)
{
    if (!replay_queue_manifest_source_ok(source))
        return replay_err_set(err, REPLAY_EINVAL, "manifest journal: bad source name (1 to %d "
                              "of A-Z a-z 0-9 . _ -)", REPLAY_QUEUE_MANIFEST_SOURCE_MAX);
    snprintf(buf, size, REPLAY_QUEUE_MANIFEST_PREFIX "%s:%s", source, what);
    return 0;
}

int replay_queue_manifest_record(struct replay_queue *q, const char *source, const char *entry,
                                 size_t len, struct replay_err *err)
{
    char key[REPLAY__Q_KEY_MAX];
    int rc = manifest_key(source, "files", key, sizeof(key), err);
    if (rc != 0)
        return rc;
    struct replay__q_cmd cmd;
    replay__q_cmd_init(&cmd, "record a file for the manifest", -1);
    replay__q_arg(&cmd, "RPUSH");
    replay__q_arg(&cmd, key);
    replay__q_argn(&cmd, entry, len);
    return replay__q_exec_int(q, &cmd, NULL, err);
}

void replay_queue_manifest_state_clear(struct replay_queue_manifest_state *st)
{
    for (size_t i = 0; i < st->n_files; i++)
        free(st->files[i]);
    free(st->files);
    free(st->previous_sha256);
    free(st->pending_name);
    free(st->pending_bytes);
    free(st->pending_sig);
    memset(st, 0, sizeof(*st));
}

static char *dup_bytes(const char *s, size_t len)
{
    char *p = malloc(len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* A stored integer field: digits only. */
static int parse_count(const redisReply *v, long long *out)
{
    char *end = NULL;
    *out = strtoll(v->str, &end, 10);
    return v->len > 0 && v->len < 20 && end == v->str + v->len && *out >= 0 ? 0 : -1;
}

/* One field of the state hash into st; -1 for a value this module never writes. */
static int state_field(const redisReply *k, const redisReply *v,
                       struct replay_queue_manifest_state *st)
{
    char **text = NULL;
    if (strcmp(k->str, "sequence") == 0)
        return parse_count(v, &st->sequence);
    if (strcmp(k->str, "pending_count") == 0)
        return parse_count(v, &st->pending_count);
    if (strcmp(k->str, "previous_sha256") == 0)
        text = &st->previous_sha256;
    else if (strcmp(k->str, "pending_name") == 0)
        text = &st->pending_name;
    else if (strcmp(k->str, "pending_bytes") == 0)
        text = &st->pending_bytes, st->pending_len = v->len;
    else if (strcmp(k->str, "pending_sig") == 0)
        text = &st->pending_sig, st->pending_sig_len = v->len;
    else
        return 0; /* a field of a later version: not ours to judge */
    free(*text);
    *text = dup_bytes(v->str, v->len);
    return *text != NULL ? 0 : -1;
}

static int load_replies(const redisReply *hash, const redisReply *list, const char *key,
                        struct replay_queue_manifest_state *st, struct replay_err *err)
{
    for (size_t i = 0; i + 1 < hash->elements; i += 2) {
        if (state_field(hash->element[i], hash->element[i + 1], st) != 0)
            return replay_err_set(err, REPLAY_EFORMAT, "manifest journal %s: field %.32s "
                                  "holds what Replay never writes", key, hash->element[i]->str);
    }
    if (st->pending_name != NULL && st->pending_bytes == NULL)
        return replay_err_set(err, REPLAY_EFORMAT, "manifest journal %s: a pending manifest "
                              "without its bytes", key);
    st->files = calloc(list->elements + 1, sizeof(*st->files));
    if (st->files == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "manifest journal: out of memory");
    for (; st->n_files < list->elements; st->n_files++) {
        const redisReply *e = list->element[st->n_files];
        if ((st->files[st->n_files] = dup_bytes(e->str, e->len)) == NULL)
            return replay_err_set(err, REPLAY_ENOMEM, "manifest journal: out of memory");
    }
    return 0;
}

int replay_queue_manifest_load(struct replay_queue *q, const char *source, size_t max_files,
                               struct replay_queue_manifest_state *st, struct replay_err *err)
{
    char state_key[REPLAY__Q_KEY_MAX], files_key[REPLAY__Q_KEY_MAX], last[24];
    memset(st, 0, sizeof(*st));
    int rc = manifest_key(source, "state", state_key, sizeof(state_key), err);
    if (rc == 0)
        rc = manifest_key(source, "files", files_key, sizeof(files_key), err);
    if (rc != 0 || max_files == 0)
        return rc;
    struct replay__q_cmd cmds[2];
    redisReply *r[2] = {NULL, NULL};
    snprintf(last, sizeof(last), "%zu", max_files - 1);
    replay__q_cmd_init(&cmds[0], "read the manifest state", -1);
    replay__q_arg(&cmds[0], "HGETALL");
    replay__q_arg(&cmds[0], state_key);
    replay__q_cmd_init(&cmds[1], "read the recorded files", -1);
    replay__q_arg(&cmds[1], "LRANGE");
    replay__q_arg(&cmds[1], files_key);
    replay__q_arg(&cmds[1], "0");
    replay__q_arg(&cmds[1], last);
    if ((rc = replay__q_exec_n(q, cmds, 2, REPLAY__Q_WAIT, r, err)) != 0)
        return rc;
    rc = replay__q_expect(q, "HGETALL", r[0], "[*s]", err);
    if (rc == 0)
        rc = replay__q_expect(q, "LRANGE", r[1], "[*s]", err);
    if (rc == 0)
        rc = load_replies(r[0], r[1], state_key, st, err);
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    return rc;
}

/* Runs a journal script on argc arguments (numkeys first; lens[i] bytes each)
 * into *result. */
static int run_script(struct replay_queue *q, int script, const char *what,
                      const char *const *argv, const size_t *lens, int argc, long long *result,
                      struct replay_err *err)
{
    struct replay__q_cmd cmd;
    replay__q_cmd_init(&cmd, what, script);
    for (int i = 0; i < argc; i++)
        replay__q_argn(&cmd, argv[i], lens[i]);
    return replay__q_exec_int(q, &cmd, result, err);
}

int replay_queue_manifest_prepare(struct replay_queue *q, const char *source,
                                  long long read_sequence, const char *name, const char *bytes,
                                  size_t len, const unsigned char *sig, size_t sig_len,
                                  long long count, bool *prepared, struct replay_err *err)
{
    char key[REPLAY__Q_KEY_MAX], seq[24], n[24];
    long long stored = 0;
    *prepared = false;
    int rc = manifest_key(source, "state", key, sizeof(key), err);
    if (rc != 0)
        return rc;
    snprintf(seq, sizeof(seq), "%lld", read_sequence);
    snprintf(n, sizeof(n), "%lld", count);
    const char *argv[] = {"1", key, seq, name, bytes, (const char *)sig, n};
    const size_t lens[] = {1, strlen(key), strlen(seq), strlen(name), len, sig_len, strlen(n)};
    rc = run_script(q, REPLAY__QS_MANIFEST_PREPARE, "prepare a manifest", argv, lens, 7, &stored,
                    err);
    *prepared = rc == 0 && stored == 1;
    return rc;
}

int replay_queue_manifest_commit(struct replay_queue *q, const char *source, const char *name,
                                 long long sequence, const char *sha256, long long count,
                                 bool *committed, struct replay_err *err)
{
    char state_key[REPLAY__Q_KEY_MAX], files_key[REPLAY__Q_KEY_MAX], seq[24], n[24];
    long long done = 0;
    int rc = manifest_key(source, "state", state_key, sizeof(state_key), err);
    if (rc == 0)
        rc = manifest_key(source, "files", files_key, sizeof(files_key), err);
    if (rc != 0)
        return rc;
    snprintf(seq, sizeof(seq), "%lld", sequence);
    snprintf(n, sizeof(n), "%lld", count);
    const char *argv[] = {"2", state_key, files_key, name, seq, sha256, n};
    const size_t lens[] = {1, strlen(state_key), strlen(files_key), strlen(name), strlen(seq),
                           strlen(sha256), strlen(n)};
    rc = run_script(q, REPLAY__QS_MANIFEST_COMMIT, "commit a manifest", argv, lens, 7, &done, err);
    if (committed != NULL)
        *committed = rc == 0 && done == 1;
    return rc;
}
