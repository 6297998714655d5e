/* replay-ctl: the operator's command line; dispatches to one file per command. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "replay/log.h"

static const struct ctl_command commands[] = {
    {"config", "print the effective configuration (secrets masked), or --check it", ctl_config},
    {"queues", "depth of queues, processing and :bad lists; --requeue-bad TYPE", ctl_queues},
    {"status", "queues, checkpoints, failed files and heartbeats at a glance", ctl_status},
    {"failed", "list, show or retry the files of the failed directory", ctl_failed},
    {"request", "mark alerts or submissions `requested` at the source", ctl_request},
    {"verify", "check bundles and exports (digests, members, results.json) offline", ctl_verify},
    {"cart", "pack, unpack, show or verify CaRT files", ctl_cart},
    {"keygen", "make the Ed25519 key pair that signs manifests", ctl_keygen},
    {"audit", "what the manifests promised and what never arrived, per source", ctl_audit},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: replay-ctl [--config PATH] COMMAND [ARGS...]\n"
               "       replay-ctl --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'replay-ctl COMMAND --help' describes a command.\n"
               "Exit codes: 0 ok, 1 failure, 2 bad usage or configuration.\n");
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to report, not a death */
    struct ctl_globals g = {0};
    int i = 1;
    replay_log_init(REPLAY_LOGGER_CTL, REPLAY_LOG_WARNING, REPLAY_LOG_TEXT, 2);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("replay-ctl %s\n", REPLAY_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            g.config_path = argv[++i];
        } else {
            fprintf(stderr, "replay-ctl: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t c = 0; c < N_COMMANDS; c++) {
        if (strcmp(argv[i], commands[c].name) == 0)
            return commands[c].run(argc - i, argv + i, &g);
    }
    fprintf(stderr, "replay-ctl: unknown command %s\n", argv[i]);
    usage(stderr);
    return 2;
}
