/* replay-loader-worker: Imports each queued file into the target Assemblyline, or moves it to the failed directory with the reason. */
#include "replay/app.h"
#include "replay/log.h"

static const struct replay_app_desc desc = {
    .program = "replay-loader-worker",
    .logger = REPLAY_LOGGER_LOADER_WORKER,
    .summary = "Imports each queued file into the target Assemblyline, or moves it to the failed directory with the reason.",
    .section = "loader",
    .not_yet = "importing files (this build only loads its configuration and keeps its heartbeat)",
};

int main(int argc, char **argv)
{
    return replay_app_main(&desc, argc, argv, NULL, NULL);
}
