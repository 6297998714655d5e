/*
 * replay-ctl: the operator's command line. main.c dispatches on the first word to
 * one command per file (config.c, cart.c, queues.c, ...). A command gets the words
 * after its name and the global options, and returns the process exit code
 * (0 ok, 1 failure, 2 bad usage or configuration; decisions.md §14).
 */
#ifndef REPLAY_CTL_H
#define REPLAY_CTL_H

struct ctl_globals {
    const char *config_path; /* --config, or NULL for the default lookup */
};

struct ctl_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv, const struct ctl_globals *g);
};

int ctl_config(int argc, char **argv, const struct ctl_globals *g);
int ctl_queues(int argc, char **argv, const struct ctl_globals *g);
int ctl_cart(int argc, char **argv, const struct ctl_globals *g);

/* Prints "replay-ctl <cmd>: <message>" to stderr (secrets masked) and returns code. */
int ctl_fail(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
