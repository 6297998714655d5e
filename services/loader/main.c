/* replay-loader: Watches the input directory and queues each new bundle or export for import. */
#include <unistd.h>

#include "replay/app.h"
#include "replay/log.h"

static const struct replay_app_desc desc = {
    .program = "replay-loader",
    .logger = REPLAY_LOGGER_LOADER,
    .summary = "Watches the input directory and queues each new bundle or export for import.",
    .section = "loader",
};

int main(int argc, char **argv)
{
    struct replay_app *app = NULL;
    int code;
    if (!replay_app_init(&app, &desc, argc, argv, &code))
        return code;
    replay_warn("Not built yet: watching the input directory (this build only loads its configuration and keeps its heartbeat)");
    code = replay_app_run(app);
    if (replay_app_threads_left(app))
        _exit(code);
    replay_app_free(app);
    return code;
}
