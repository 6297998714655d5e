/* replay-loader-worker: imports each queued file into the target Assemblyline, or
 * moves it to the failed directory with the reason (worker.h says how). */
#include <stdio.h>
#include <stdlib.h>

#include "replay/app.h"
#include "replay/log.h"
#include "replay/service.h"
#include "worker.h"

static const struct replay_app_desc desc = {
    .program = "replay-loader-worker",
    .logger = REPLAY_LOGGER_LOADER_WORKER,
    .summary = "Imports each queued file into the target Assemblyline, or moves it to the "
               "failed directory with the reason.",
    .section = "loader",
};

static struct lworker_slot *slots;
static struct lworker_trust trust;

/* The worker removes loaded files from the input directory and moves refused ones
 * into the failed directory: both must be writable. */
static int check_dirs(const struct replay_loader_config *l)
{
    unsigned rw = REPLAY_SERVICE_DIR_READ | REPLAY_SERVICE_DIR_WRITE;
    const struct replay_service_dir dirs[] = {
        {"loader.input_directory", l->input_directory, rw},
        {"loader.failed_directory", l->failed_directory, rw},
    };
    return replay_service_check_directories(dirs, 2);
}

static int setup(struct replay_app *app, void *arg)
{
    (void)arg;
    const struct replay_config *cfg = replay_app_config(app);
    struct replay_err terr = {0};
    int code = check_dirs(&cfg->loader);
    int n = cfg->loader.input_threads;
    if (code == 0 && lworker_trust_setup(cfg, &trust, &terr) != 0) {
        replay_log(REPLAY_LOG_CRITICAL, "Bad configuration: %s", terr.msg);
        code = REPLAY_ECONFIG;
    }
    if (code == 0 && trust.on)
        replay_info("Manifests on: %zu trusted key(s), signatures %s, a file waits %lld s for "
                    "its manifest",
                    trust.n_keys, trust.require ? "required" : "not required", trust.wait_s);
    if (code == 0 && (slots = calloc((size_t)n, sizeof(*slots))) == NULL)
        code = REPLAY_ENOMEM;
    for (int i = 0; code == 0 && i < n; i++) {
        char name[48];
        struct replay_err err = {0};
        slots[i] = (struct lworker_slot){cfg, (unsigned)i, &trust};
        snprintf(name, sizeof(name), "File processor #%d", i);
        code = replay_supervisor_add(replay_app_supervisor(app), name, lworker_thread, &slots[i],
                                     &err);
        if (code != 0)
            replay_error("Cannot add thread %s: %s", name, err.msg);
    }
    return code;
}

int main(int argc, char **argv)
{
    int code = replay_app_main(&desc, argc, argv, setup, NULL);
    free(slots);
    lworker_trust_free(&trust);
    return code;
}
