/* replay-creator-worker: Turns each queued item into a bundle or JSON export in the output filestore. */
#include <unistd.h>

#include "replay/app.h"
#include "replay/log.h"

static const struct replay_app_desc desc = {
    .program = "replay-creator-worker",
    .logger = REPLAY_LOGGER_CREATOR_WORKER,
    .summary = "Turns each queued item into a bundle or JSON export in the output filestore.",
    .section = "creator",
};

int main(int argc, char **argv)
{
    struct replay_app *app = NULL;
    int code;
    if (!replay_app_init(&app, &desc, argc, argv, &code))
        return code;
    replay_warn("Not built yet: creating bundles and exports (this build only loads its configuration and keeps its heartbeat)");
    code = replay_app_run(app);
    if (replay_app_threads_left(app))
        _exit(code);
    replay_app_free(app);
    return code;
}
