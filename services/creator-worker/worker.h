/* replay-creator-worker: turns each queued alert, submission or list item into a
 * file in the output filestore (upstream-behaviour.md §3, decisions.md §6-§9).
 * `threads` workers per enabled input, each a reliable queue consumer:
 *   bundles.c  alerts and submissions: the source's bundle, uploaded as
 *              alert_<id>.al_bundle / submission_<sid>.al_bundle, then marked done;
 *   batches.c  badlist, safelist, signature, workflow: batches of documents as
 *              <collection>_<time>.al_json.cart, then the checkpoint;
 *   work.c     the working directory: private temporary files, cleaned at start. */
#ifndef REPLAY_CREATOR_WORKER_H
#define REPLAY_CREATOR_WORKER_H

#include <stdint.h>

#include "replay/config.h"
#include "replay/error.h"
#include "replay/lifecycle.h"

/* What one worker thread works on; borrowed from main() for the process's life. */
struct cworker_slot {
    const struct replay_config *cfg;
    enum replay_input_type type;
    unsigned index;       /* 0 .. threads-1: the thread's number, part of its consumer id */
    unsigned batch_size;  /* REPLAY_BATCH_SIZE: documents per export file */
    unsigned quiet_ms;    /* an export is uploaded once the queue was quiet this long */
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

#endif
