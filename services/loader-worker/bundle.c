/* replay-loader-worker: .al_bundle files (formats.md §2, al-rest-api.md §5.9).
 *
 * The bundle is checked first, from the open file (common/archive: CaRT type and
 * digests, safe tar members, caps, results.json): a bundle that fails is never
 * sent. Then it is imported from the same descriptor with upstream's flags:
 * exist_ok, min_classification, rescan_services, reclassification, to_ingest.
 * Connection failures and 502/503/504 are retried by the client for ever; a 500
 * up to REPLAY_SERVICE_MAX_500 times (then the file fails with the server's
 * message); a 4xx fails it at once. */
#include <stdio.h>

#include "replay/archive.h"
#include "replay/service.h"
#include "worker.h"

static int step_import(void *ctx, int *status, struct replay_err *err)
{
    struct lworker_job *j = ctx;
    const struct replay_loader_config *l = &j->r->slot->cfg->loader;
    struct replay_alclient_import o = {
        .exist_ok = true,
        .min_classification = l->min_classification,
        .rescan_services = (const char *const *)l->rescan.items,
        .n_rescan = l->rescan.count,
        .reclassification = l->reclassification,
        .to_ingest = true,
    };
    j->attempts++;
    int code = replay_alclient_bundle_import(j->r->client, j->fd, &o, err);
    *status = replay_alclient_http_status(j->r->client);
    return code;
}

int lworker_bundle(struct lworker_job *j, struct replay_err *err)
{
    struct replay_archive_summary sum;
    char what[REPLAY_NAMES_LEN + 16];
    j->attempts = 1;
    int code = replay_archive_check_fd(j->fd, NULL, j->r->cancel, &sum, err);
    if (code != 0)
        return code;
    lworker_touch(j->r);
    j->attempts = 0;
    snprintf(what, sizeof(what), "import %s", j->base);
    return replay_service_retry(&j->r->backoff, j->r->cancel, step_import, j, what, err);
}
