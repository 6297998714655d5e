/* replay-creator-worker: turns each queued alert, submission or list item into a
 * bundle or export file in the output filestore. `threads` workers per enabled
 * input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/app.h"
#include "replay/filestore.h"
#include "replay/log.h"
#include "replay/service.h"
#include "worker.h"

static const struct replay_app_desc desc = {
    .program = "replay-creator-worker",
    .logger = REPLAY_LOGGER_CREATOR_WORKER,
    .summary = "Turns each queued alert, submission or list item into a bundle or export "
               "file in the output filestore.",
    .section = "creator",
};

/* Upstream's thread names: "<Type> process thread #<i>". */
static const char *const type_titles[REPLAY_INPUT_COUNT] = {
    "Alert", "Submission", "Badlist", "Safelist", "Signature", "Workflow",
};

static struct cworker_slot *slots;
static struct cworker_manifest manifest;

static int read_env(unsigned *batch_size, unsigned *quiet_ms)
{
    struct replay_err err = {0};
    unsigned quiet_s = 0;
    if (replay_service_env_uint("REPLAY_BATCH_SIZE", 1000, 1, 100000, batch_size, &err) != 0 ||
        replay_service_env_uint("REPLAY_EXPORT_QUIET_SECONDS", 5, 1, 3600, &quiet_s, &err) != 0) {
        replay_log(REPLAY_LOG_CRITICAL, "Bad configuration: %s", err.msg);
        return REPLAY_ECONFIG;
    }
    *quiet_ms = quiet_s * 1000u;
    return 0;
}

/* The output's directory when it is a local one given by an absolute path (a
 * file:// store opens without I/O), else NULL. The caller closes *fs. */
static const char *local_output(const char *url, struct replay_filestore **fs)
{
    struct replay_err err = {0};
    *fs = NULL;
    if (strncmp(url, "file:", 5) != 0 || replay_filestore_open(url, NULL, fs, &err) != 0)
        return NULL;
    const char *dir = replay_filestore_local_dir(*fs);
    return dir != NULL && dir[0] == '/' ? dir : NULL;
}

/* The working directory holds the temporaries of the list exports, a file://
 * output the bundles: both must be writable (made when missing), before any
 * work is taken; the output must be a filestore URL. */
static int check_dirs(const struct replay_config *cfg)
{
    struct replay_err err = {0};
    unsigned rw = REPLAY_SERVICE_DIR_READ | REPLAY_SERVICE_DIR_WRITE;
    if (replay_filestore_check_url(cfg->creator.output_filestore, &err) != 0) {
        replay_log(REPLAY_LOG_CRITICAL, "Bad configuration: %s", err.msg);
        return REPLAY_ECONFIG;
    }
    struct replay_filestore *fs = NULL;
    const char *out = local_output(cfg->creator.output_filestore, &fs);
    const struct replay_service_dir dirs[] = {
        {"creator.working_directory", cfg->creator.working_directory, rw},
        {"creator.output_filestore", out, rw},
    };
    int code = replay_service_check_directories(dirs, out != NULL ? 2 : 1);
    replay_filestore_close(fs);
    if (code != 0)
        return REPLAY_ECONFIG;
    if (cworker_work_prepare(cfg->creator.working_directory, &err) != 0) {
        replay_log(REPLAY_LOG_CRITICAL, "Bad configuration: %s", err.msg);
        return REPLAY_ECONFIG;
    }
    return 0;
}

static int add_slots(const struct replay_config *cfg, struct replay_supervisor *sup,
                     unsigned batch_size, unsigned quiet_ms)
{
    size_t total = 0, n = 0;
    for (int t = 0; t < REPLAY_INPUT_COUNT; t++)
        total += cfg->creator.inputs[t].enabled ? (size_t)cfg->creator.inputs[t].threads : 0;
    slots = calloc(total > 0 ? total : 1, sizeof(*slots));
    if (slots == NULL)
        return REPLAY_ENOMEM;
    for (int t = 0; t < REPLAY_INPUT_COUNT; t++) {
        const struct replay_input_config *in = &cfg->creator.inputs[t];
        for (int i = 0; in->enabled && i < in->threads; i++, n++) {
            char name[64];
            struct replay_err err = {0};
            slots[n] = (struct cworker_slot){cfg, (enum replay_input_type)t, (unsigned)i,
                                             batch_size, quiet_ms,
                                             manifest.source != NULL ? &manifest : NULL};
            snprintf(name, sizeof(name), "%s process thread #%d", type_titles[t], i);
            int code = replay_supervisor_add(
                sup, name,
                t <= REPLAY_INPUT_SUBMISSION ? cworker_bundles_thread : cworker_batches_thread,
                &slots[n], &err);
            if (code != 0) {
                replay_error("Cannot add thread %s: %s", name, err.msg);
                return code;
            }
        }
    }
    if (n == 0) {
        replay_info("There are no configured input, terminating");
        replay_supervisor_stop(sup);
    }
    return 0;
}

/* creator.manifest: checked (a bad signing key stops the start, exit 2), and
 * the thread that writes the manifests. */
static int add_manifests(const struct replay_config *cfg, struct replay_supervisor *sup)
{
    struct replay_err err = {0};
    if (cworker_manifest_setup(cfg, &manifest, &err) != 0) {
        replay_log(REPLAY_LOG_CRITICAL, "Bad configuration: %s", err.msg);
        return REPLAY_ECONFIG;
    }
    if (manifest.source == NULL)
        return 0;
    replay_info("Manifests of source %s every %u s, %s", manifest.source, manifest.interval_s,
                manifest.key != NULL ? "signed" : "unsigned");
    int code = replay_supervisor_add(sup, "Manifest thread", cworker_manifest_thread, &manifest,
                                     &err);
    if (code != 0)
        replay_error("Cannot add the manifest thread: %s", err.msg);
    return code;
}

static int setup(struct replay_app *app, void *arg)
{
    (void)arg;
    const struct replay_config *cfg = replay_app_config(app);
    unsigned batch_size = 0, quiet_ms = 0;
    int code = read_env(&batch_size, &quiet_ms);
    if (code == 0)
        code = check_dirs(cfg);
    if (code == 0)
        code = add_manifests(cfg, replay_app_supervisor(app));
    if (code == 0)
        code = add_slots(cfg, replay_app_supervisor(app), batch_size, quiet_ms);
    return code;
}

int main(int argc, char **argv)
{
    int code = replay_app_main(&desc, argc, argv, setup, NULL);
    cworker_manifest_teardown(&manifest);
    free(slots);
    return code;
}
