/* replay-creator-worker: turns each queued alert, submission or list item into a
 * file in the output filestore (upstream-behaviour.md §3, decisions.md §6-§9).
 * `threads` workers per enabled input, each a reliable queue consumer:
 *   bundles.c  alerts and submissions: the source's bundle, uploaded as
 *              alert_<id>.al_bundle / submission_<sid>.al_bundle, then marked done;
 *   batches.c  badlist, safelist, signature, workflow: batches of documents as
 *              <collection>_<time>.al_json.cart, then the checkpoint;
 *   work.c     the working directory: private temporary files, cleaned at start;
 *   manifest.c with creator.manifest: every uploaded file recorded, manifests
 *              (signed when a key is configured) written by one more thread. */
#ifndef REPLAY_CREATOR_WORKER_H
#define REPLAY_CREATOR_WORKER_H

#include <stdint.h>

#include "replay/config.h"
#include "replay/error.h"
#include "replay/lifecycle.h"

struct replay_filestore;
struct replay_queue;
struct replay_trust_key;

/* Source ids a record keeps at most (a batch may hold more documents). */
#define CWORKER_MANIFEST_MAX_IDS 10000

/* The manifests of this process (creator.manifest); read-only once set up. */
struct cworker_manifest {
    const struct replay_config *cfg;
    const char *source;           /* NULL when manifests are off */
    struct replay_trust_key *key; /* NULL when unsigned */
    unsigned interval_s;
};

/* What one worker thread works on; borrowed from main() for the process's life. */
struct cworker_slot {
    const struct replay_config *cfg;
    enum replay_input_type type;
    unsigned index;       /* 0 .. threads-1: the thread's number, part of its consumer id */
    unsigned batch_size;  /* REPLAY_BATCH_SIZE: documents per export file */
    unsigned quiet_ms;    /* an export is uploaded once the queue was quiet this long */
    const struct cworker_manifest *manifest; /* NULL when manifests are off */
};

int cworker_bundles_thread(void *arg, const struct replay_cancel *cancel);
int cworker_batches_thread(void *arg, const struct replay_cancel *cancel);

/* Removes from the working directory (it exists: main checks it) what this host's earlier
 * runs left there (their temporary files). */
REPLAY_MUST_CHECK int cworker_work_prepare(const char *dir, struct replay_err *err);

/* Opens a new private temporary file in the working directory for `name`; its
 * path goes to path (size >= PATH_MAX). The caller unlinks it when done. */
REPLAY_MUST_CHECK int cworker_work_tmpfile(const char *dir, const char *name, char *path,
                                           size_t size, int *fd, struct replay_err *err);

/* ---- manifest.c ---- */

/* Checks creator.manifest and loads the signing key: REPLAY_ECONFIG naming the key
 * (a bad key file is exit 2). m->source stays NULL when manifests are off.
 * Release with cworker_manifest_teardown. */
REPLAY_MUST_CHECK int cworker_manifest_setup(const struct replay_config *cfg,
                                             struct cworker_manifest *m,
                                             struct replay_err *err);
void cworker_manifest_teardown(struct cworker_manifest *m);
/* Records a file now in the output store, on `pq` (a persistent-Redis handle of
 * the calling thread), before its item is acknowledged. */
REPLAY_MUST_CHECK int cworker_manifest_record(const struct cworker_manifest *m,
                                              struct replay_queue *pq, const char *name,
                                              uint64_t size, const char *sha256,
                                              enum replay_input_type type,
                                              const char *const *ids, size_t n_ids,
                                              struct replay_err *err);
/* The sha256 and size of `name` read back from the store, through a private file
 * of the working directory (a file an earlier try uploaded, which this one found
 * there). */
REPLAY_MUST_CHECK int cworker_manifest_hash_stored(struct replay_filestore *fs,
                                                   const char *workdir, const char *name,
                                                   char *hex, uint64_t *size,
                                                   struct replay_err *err);
/* The manifest writer (arg: the struct cworker_manifest). */
int cworker_manifest_thread(void *arg, const struct replay_cancel *cancel);

#endif
