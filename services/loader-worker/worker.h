/* replay-loader-worker: imports each queued bundle or export into the target
 * (upstream-behaviour.md §5, with the fixes of decisions.md §6, §10, §11).
 * `input_threads` threads "File processor #<i>", each a reliable consumer of
 * replay_file:
 *   process.c  a message: the path checked (inside input_directory), the file
 *              opened without following links or blocking, locked against a
 *              twin message, dispatched; success removes it, a permanent failure
 *              moves it to failed_directory with the reason, a passing one is
 *              tried again holding the message;
 *   bundle.c   .al_bundle: checked (common/archive), then imported;
 *   lists.c    .al_json / .al_json.cart: checked whole, then every document
 *              loaded with upstream's merge rules;
 *   trust.c    loader.manifest (docs/trust.md): manifests verified and recorded
 *              in the audit, every other file checked against them first. */
#ifndef REPLAY_LOADER_WORKER_H
#define REPLAY_LOADER_WORKER_H

#include <stddef.h>

#include "replay/alclient.h"
#include "replay/backoff.h"
#include "replay/config.h"
#include "replay/failed.h"
#include "replay/lifecycle.h"
#include "replay/names.h"
#include "replay/queue.h"
#include "replay/trust.h"

#define LWORKER_COMPONENT "replay-loader-worker"

/* loader.manifest as the threads use it: read at start, then read-only. */
struct lworker_trust {
    bool on;                       /* manifests read, the audit kept */
    bool require;                  /* only what a signed manifest lists is imported */
    long long wait_s, grace_s;
    struct replay_trust_key **keys; /* the trusted public keys */
    size_t n_keys;
};

/* What one thread works on; borrowed from main() for the process's life. */
struct lworker_slot {
    const struct replay_config *cfg;
    unsigned index; /* 0 .. input_threads-1: the thread's number, part of its consumer id */
    const struct lworker_trust *trust;
};

/* One thread's connections. */
struct lworker_run {
    const struct lworker_slot *slot;
    const struct replay_cancel *cancel;
    struct replay_alclient *client;
    struct replay_queue *q;
    struct replay_queue_consumer *consumer;
    struct replay_queue *audit; /* the persistent Redis, when manifests are on */
    struct replay_backoff backoff;
    uint64_t touched_ms; /* last liveness refresh of the consumer */
};

/* The file in hand. */
struct lworker_job {
    struct lworker_run *r;
    const char *path;           /* as queued */
    const char *base;           /* its last component */
    enum replay_names_kind kind;
    int dirfd, fd;              /* its directory and the file, open */
    unsigned attempts;          /* tries of the step that decided the outcome */
    /* documents of an export the target refused (lists.c) */
    struct replay_failed_item *items;
    size_t n_items, items_failed, items_total;
    size_t docs_sources_changed; /* documents whose user sources went as external */
    /* manifests (trust.c) */
    bool waiting;            /* the file waits for its manifest (a manifest, its .sig) */
    char sha256[REPLAY_TRUST_SHA256_HEX_LEN]; /* the file's, once hashed; else "" */
    const char *reason_word; /* the failure's reason in the audit; NULL: "refused" */
    char source[REPLAY_QUEUE_MANIFEST_SOURCE_MAX + 1]; /* who listed or wrote it, or "" */
    long long sequence;      /* a manifest recorded: its sequence, else -1 */
};

int lworker_thread(void *arg, const struct replay_cancel *cancel);

/* Reads loader.manifest into t: the trusted keys loaded (a bad one, or
 * require_signature without a key, is REPLAY_ECONFIG naming the key). */
REPLAY_MUST_CHECK int lworker_trust_setup(const struct replay_config *cfg,
                                          struct lworker_trust *t, struct replay_err *err);
void lworker_trust_free(struct lworker_trust *t);

/* A manifest's signature file, "<base>.sig", into buf (NAME_MAX + 8 bytes). */
void lworker_sig_name(const struct lworker_job *j, char *buf, size_t size);

/* Before a bundle or export is imported: its sha256, and what the manifests say
 * of it. 0 to go on (j->waiting set: it waits instead), REPLAY_EINTEGRITY with the
 * reason when it must not be imported. */
REPLAY_MUST_CHECK int lworker_trust_check(struct lworker_job *j, struct replay_err *err);
/* A manifest: parsed, its signature verified, recorded in the audit. 0 when
 * recorded (or j->waiting: its .sig has not arrived), else the reason. */
REPLAY_MUST_CHECK int lworker_manifest(struct lworker_job *j, struct replay_err *err);
/* After the outcome (loaded: true; failed for good: false): the audit learns of
 * it, a wait ends, a recorded manifest's .sig goes and waiting files wake. 0, or
 * the Redis or file system error (try again). */
REPLAY_MUST_CHECK int lworker_trust_settle(struct lworker_job *j, bool loaded,
                                           struct replay_err *err);
/* The file is gone: if it waited, it waits no more (best effort; logged). */
void lworker_trust_forget(struct lworker_job *j);

/* Checks and imports the bundle open on j->fd. 0, or the code with the reason. */
REPLAY_MUST_CHECK int lworker_bundle(struct lworker_job *j, struct replay_err *err);

/* Checks the export open on j->fd, then loads every document. A document the
 * target refuses does not stop the others: the file then fails with
 * REPLAY_EHTTP, the reason, and the list in j->items. */
REPLAY_MUST_CHECK int lworker_lists(struct lworker_job *j, struct replay_err *err);
/* Frees j->items. */
void lworker_lists_clear(struct lworker_job *j);

/* Refreshes the consumer's liveness record during long work (at most once a
 * minute), so the message is not taken back from a thread that is busy. */
void lworker_touch(struct lworker_run *r);

#endif
