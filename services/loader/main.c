/* replay-loader: watches the input directory and queues each complete bundle or
 * export for import, once (loader.h says how). */
#include "loader.h"
#include "replay/app.h"
#include "replay/log.h"
#include "replay/service.h"

static const struct replay_app_desc desc = {
    .program = "replay-loader",
    .logger = REPLAY_LOGGER_LOADER,
    .summary = "Watches the input directory and queues each new bundle or export for import.",
    .section = "loader",
};

/* The loader lists the input directory and keeps its state in the working one;
 * the failed directory is only skipped (the worker writes it), so it must be an
 * absolute path to compare. */
static int check_dirs(const struct replay_loader_config *l)
{
    const struct replay_service_dir dirs[] = {
        {"loader.input_directory", l->input_directory, REPLAY_SERVICE_DIR_READ},
        {"loader.working_directory", l->working_directory,
         REPLAY_SERVICE_DIR_READ | REPLAY_SERVICE_DIR_WRITE},
        {"loader.failed_directory", l->failed_directory, 0},
    };
    return replay_service_check_directories(dirs, sizeof(dirs) / sizeof(dirs[0]));
}

static int setup(struct replay_app *app, void *arg)
{
    (void)arg;
    const struct replay_config *cfg = replay_app_config(app);
    struct replay_err err = {0};
    int code = check_dirs(&cfg->loader);
    if (code == 0)
        code = replay_supervisor_add(replay_app_supervisor(app), "File loader", loader_thread,
                                     (void *)cfg, &err);
    if (code != 0 && code != REPLAY_ECONFIG)
        replay_error("Cannot add thread File loader: %s", err.msg);
    return code;
}

int main(int argc, char **argv)
{
    return replay_app_main(&desc, argc, argv, setup, NULL);
}
