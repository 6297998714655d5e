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
 * A main.c normally calls only replay_app_main(): SIGPIPE ignored first (a peer
 * that closes while we write is an error to handle, not a death), init, its setup
 * callback (which adds the component's threads to the supervisor), run, and the
 * exit code: 0 after a clean drain, 1 otherwise. When threads are still running at
 * the end (second signal, drain deadline passed) it leaves with _exit() without
 * freeing anything, since running threads still use it. The separate steps below
 * are public for tests and tools.
 */
#ifndef REPLAY_APP_H
#define REPLAY_APP_H

#include <stdbool.h>

#include "replay/config.h"
#include "replay/supervisor.h"

struct replay_app;

struct replay_app_desc {
    const char *program;  /* "replay-loader" */
    const char *logger;   /* REPLAY_LOGGER_LOADER */
    const char *summary;  /* one line for --help */
    const char *section;  /* "creator" or "loader": the client section it needs */
    const char *not_yet;  /* NULL, or what the component does not do yet (logged) */
};

/* Adds the component's threads; returns 0 or an error (logged; exit code 2 for
 * REPLAY_ECONFIG, a setting or directory the setup refused, else 1). */
typedef int (*replay_app_setup_fn)(struct replay_app *app, void *arg);

/* The whole life of a service process; returns its exit code. */
int replay_app_main(const struct replay_app_desc *d, int argc, char **argv,
                    replay_app_setup_fn setup, void *arg);

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
