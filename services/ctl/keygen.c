/*
 * replay-ctl keygen: makes the Ed25519 key pair that signs manifests (issue 16,
 * docs/trust.md). OUT gets the private key (mode 0600), OUT.pub the public key
 * to copy to the target side; neither replaces an existing file. Prints the
 * public key's fingerprint, never the key. Exit codes: 0 made, 1 not made, 2 bad
 * usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "replay/trust.h"

#define CMD "keygen"

static void keygen_usage(FILE *f)
{
    fprintf(f,
        "usage: replay-ctl keygen OUT\n"
        "\n"
        "  Makes an Ed25519 key pair for signed manifests: OUT, the private key\n"
        "  (PEM, PKCS#8, mode 0600), for creator.manifest.signing_key on the source\n"
        "  side; OUT.pub, the public key (PEM), for loader.manifest.trusted_keys on the\n"
        "  target side. Never overwrites a file. Prints the key's fingerprint\n"
        "  (SHA256:<hex>), the name manifests give the key that signed them.\n"
        "\n"
        "Exit codes: 0 made; 1 not made; 2 bad usage.\n");
}

int ctl_keygen(int argc, char **argv, const struct ctl_globals *g)
{
    static const struct option longs[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    (void)g;
    int c;
    optind = 1;
    opterr = 0;
    if ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        keygen_usage(c == 'h' ? stdout : stderr);
        return c == 'h' ? 0 : 2;
    }
    if (optind + 1 != argc || argv[optind][0] == '\0') {
        keygen_usage(stderr);
        return 2;
    }
    char fingerprint[REPLAY_TRUST_FINGERPRINT_LEN];
    struct replay_err err = {0};
    if (replay_trust_keygen(argv[optind], fingerprint, &err) != 0)
        return ctl_fail(CMD, 1, "%s", err.msg);
    printf("%s\n", fingerprint);
    fprintf(stderr, "private key: %s (keep it on the source side)\npublic key: %s.pub\n",
            argv[optind], argv[optind]);
    return 0;
}
