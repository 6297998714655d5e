/* replay-creator: Finds alerts, submissions and list items ready to replay in the source Assemblyline and queues them. */
#include <unistd.h>

#include "replay/app.h"
#include "replay/log.h"

static const struct replay_app_desc desc = {
    .program = "replay-creator",
    .logger = REPLAY_LOGGER_CREATOR,
    .summary = "Finds alerts, submissions and list items ready to replay in the source Assemblyline and queues them.",
    .section = "creator",
};

int main(int argc, char **argv)
{
    struct replay_app *app = NULL;
    int code;
    if (!replay_app_init(&app, &desc, argc, argv, &code))
        return code;
    replay_warn("Not built yet: finding and queueing items (this build only loads its configuration and keeps its heartbeat)");
    code = replay_app_run(app);
    if (replay_app_threads_left(app))
        _exit(code);
    replay_app_free(app);
    return code;
}
