/* replay-creator: finds the alerts, submissions and list items ready to replay in
 * the source Assemblyline and queues them (upstream-behaviour.md §2, with the
 * fixes of decisions.md §6). One thread per enabled input:
 *   documents.c  alerts and submissions: search, mark pending, queue; recovery of
 *                documents left pending;
 *   lists.c      badlist, safelist, signature, workflow: stream what changed since
 *                the checkpoint, queue it, wait when nothing did. */
#ifndef REPLAY_CREATOR_H
#define REPLAY_CREATOR_H

#include "replay/config.h"
#include "replay/lifecycle.h"

/* What one thread works on; borrowed from main() for the process's life. */
struct creator_input {
    const struct replay_config *cfg;
    enum replay_input_type type;
    unsigned empty_wait_s; /* EMPTY_WAIT_TIME: idle wait when a pass found nothing */
};

/* Thread bodies (replay_thread_fn): alerts and submissions, and the four lists. */
int creator_documents_thread(void *arg, const struct replay_cancel *cancel);
int creator_lists_thread(void *arg, const struct replay_cancel *cancel);

#endif
