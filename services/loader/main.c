/* replay-loader: Watches the input directory and queues each new bundle or export for import. */
#include "replay/app.h"
#include "replay/log.h"

static const struct replay_app_desc desc = {
    .program = "replay-loader",
    .logger = REPLAY_LOGGER_LOADER,
    .summary = "Watches the input directory and queues each new bundle or export for import.",
    .section = "loader",
    .not_yet = "watching the input directory (this build only loads its configuration and keeps its heartbeat)",
};

int main(int argc, char **argv)
{
    return replay_app_main(&desc, argc, argv, NULL, NULL);
}
