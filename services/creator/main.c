/* replay-creator: Finds alerts, submissions and list items ready to replay in the source Assemblyline and queues them. */
#include "replay/app.h"
#include "replay/log.h"

static const struct replay_app_desc desc = {
    .program = "replay-creator",
    .logger = REPLAY_LOGGER_CREATOR,
    .summary = "Finds alerts, submissions and list items ready to replay in the source Assemblyline and queues them.",
    .section = "creator",
    .not_yet = "finding and queueing items (this build only loads its configuration and keeps its heartbeat)",
};

int main(int argc, char **argv)
{
    return replay_app_main(&desc, argc, argv, NULL, NULL);
}
