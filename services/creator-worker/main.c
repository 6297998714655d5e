/* replay-creator-worker: Turns each queued item into a bundle or JSON export in the output filestore. */
#include "replay/app.h"
#include "replay/log.h"

static const struct replay_app_desc desc = {
    .program = "replay-creator-worker",
    .logger = REPLAY_LOGGER_CREATOR_WORKER,
    .summary = "Turns each queued item into a bundle or JSON export in the output filestore.",
    .section = "creator",
    .not_yet = "creating bundles and exports (this build only loads its configuration and keeps its heartbeat)",
};

int main(int argc, char **argv)
{
    return replay_app_main(&desc, argc, argv, NULL, NULL);
}
