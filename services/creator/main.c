/* replay-creator: finds alerts, submissions and list items ready to replay in the
 * source Assemblyline and queues them. One thread per enabled input. */
#include "creator.h"
#include "replay/app.h"
#include "replay/log.h"
#include "replay/service.h"

static const struct replay_app_desc desc = {
    .program = "replay-creator",
    .logger = REPLAY_LOGGER_CREATOR,
    .summary = "Finds alerts, submissions and list items ready to replay in the source "
               "Assemblyline and queues them.",
    .section = "creator",
};

/* Upstream's thread names, in the order of enum replay_input_type. */
static const char *const thread_names[REPLAY_INPUT_COUNT] = {
    "Load Alerts", "Load Submissions", "Load Badlists",
    "Load Safelists", "Load Signatures", "Load Workflows",
};

static struct creator_input inputs[REPLAY_INPUT_COUNT];

static int setup(struct replay_app *app, void *arg)
{
    (void)arg;
    const struct replay_config *cfg = replay_app_config(app);
    struct replay_supervisor *sup = replay_app_supervisor(app);
    struct replay_err err = {0};
    unsigned wait_s;
    if (replay_service_env_uint("EMPTY_WAIT_TIME", 30, 0, 86400, &wait_s, &err) != 0) {
        replay_log(REPLAY_LOG_CRITICAL, "Bad configuration: %s", err.msg);
        return REPLAY_ECONFIG;
    }
    int enabled = 0;
    for (int t = 0; t < REPLAY_INPUT_COUNT; t++) {
        if (!cfg->creator.inputs[t].enabled)
            continue;
        inputs[t] = (struct creator_input){cfg, (enum replay_input_type)t, wait_s};
        replay_thread_fn fn = t == REPLAY_INPUT_ALERT || t == REPLAY_INPUT_SUBMISSION
                                  ? creator_documents_thread
                                  : creator_lists_thread;
        int code = replay_supervisor_add(sup, thread_names[t], fn, &inputs[t], &err);
        if (code != 0) {
            replay_error("Cannot add thread %s: %s", thread_names[t], err.msg);
            return code;
        }
        enabled++;
    }
    if (enabled == 0) {
        replay_info("There are no configured input, terminating");
        replay_supervisor_stop(sup);
    }
    return 0;
}

int main(int argc, char **argv)
{
    return replay_app_main(&desc, argc, argv, setup, NULL);
}
