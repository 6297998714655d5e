/*
 * app: what every Replay executable does before and after its own work.
 *
 * replay_app_init() handles the common command line (--help, --version,
 * --config PATH, --print-config, --log-format json|text, --log-level LEVEL), sets
 * up logging (component logger name, formats.md §7.1), loads the configuration,
 * logs its warnings, checks the client section the component needs, and builds
 * the supervisor. A bad configuration is one clear message and exit code 2,
 * before anything connects anywhere (decisions.md §14).
 *
 * The main.c then adds its threads to replay_app_supervisor() and calls
 * replay_app_run(), which logs "Started", runs the supervisor until a signal and
 * returns the exit code: 0 after a clean drain, 1 otherwise. When threads are
 * still running after it returns (second signal, drain deadline passed),
 * replay_app_threads_left() is true and main must leave with _exit() without
 * freeing anything.
 */
#ifndef REPLAY_APP_H
#define REPLAY_APP_H

#include <stdbool.h>

#include "replay/config.h"
#include "replay/supervisor.h"

struct replay_app_desc {
    const char *program;  /* "replay-loader" */
    const char *logger;   /* REPLAY_LOGGER_LOADER */
    const char *summary;  /* one line for --help */
    const char *section;  /* "creator" or "loader": the client section it needs */
};

struct replay_app;

/* Returns true when the program should go on to run; false when it should exit
 * now with *exit_code (after --help, --version, --print-config: 0; bad usage or
 * configuration: 2; other start-up failures: 1). On true, *out is set and freed
 * with replay_app_free(). */
bool replay_app_init(struct replay_app **out, const struct replay_app_desc *d, int argc,
                     char **argv, int *exit_code);

/* Borrowed, valid until replay_app_free(). */
const struct replay_config *replay_app_config(const struct replay_app *a);
struct replay_supervisor *replay_app_supervisor(struct replay_app *a);

/* Runs until stopped; returns the process exit code. */
int replay_app_run(struct replay_app *a);
bool replay_app_threads_left(const struct replay_app *a);
void replay_app_free(struct replay_app *a);

#endif
