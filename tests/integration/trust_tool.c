/*
 * trust_tool: a small command line over replay/trust.h for the trust
 * integration tests (not installed).
 *
 *   trust_tool sign PRIVATE_KEY FILE SIG        writes FILE's raw 64-byte signature to SIG
 *   trust_tool verify PUBLIC_KEY FILE SIG       exit 0 verified, 1 not
 *   trust_tool fingerprint PUBLIC_KEY           prints SHA256:<hex>
 *   trust_tool manifest FILE                    parses FILE as a manifest; prints
 *                                               "sequence N files N" or the reason
 *
 * Exit codes: 0 done, 1 failed (the reason on stderr), 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/trust.h"

#define FILE_MAX (64u << 20)

/* Reads all of path (at most FILE_MAX bytes); NULL with a message on failure. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(FILE_MAX + 1);
    *len = f != NULL && buf != NULL ? fread(buf, 1, FILE_MAX + 1, f) : 0;
    bool ok = f != NULL && buf != NULL && !ferror(f) && *len <= FILE_MAX;
    if (f != NULL)
        fclose(f);
    if (!ok) {
        fprintf(stderr, "trust_tool: cannot read %s\n", path);
        free(buf);
        return NULL;
    }
    return buf;
}

static int fail(const struct replay_err *err)
{
    fprintf(stderr, "trust_tool: %s\n", err->msg);
    return 1;
}

static int sign_or_verify(bool sign, const char *key_path, const char *path, const char *sig_path)
{
    struct replay_err err = {0};
    struct replay_trust_key *k = NULL;
    size_t len = 0, sig_len = 0;
    unsigned char *msg = slurp(path, &len), *sig = NULL;
    unsigned char made[REPLAY_TRUST_SIG_LEN];
    int code = 1;
    int rc = sign ? replay_trust_key_load_private(key_path, &k, &err)
                  : replay_trust_key_load_public(key_path, &k, &err);
    if (rc != 0 || msg == NULL) {
        code = rc != 0 ? fail(&err) : 1;
    } else if (sign) {
        FILE *out = NULL;
        if (replay_trust_sign(k, msg, len, made, &err) != 0)
            fail(&err);
        else if ((out = fopen(sig_path, "wb")) != NULL && fwrite(made, 1, sizeof(made), out) == 64)
            code = 0;
        if (out != NULL && fclose(out) != 0)
            code = 1;
    } else if ((sig = slurp(sig_path, &sig_len)) != NULL) {
        code = replay_trust_verify(k, msg, len, sig, sig_len, &err) == 0 ? 0 : fail(&err);
    }
    free(msg);
    free(sig);
    replay_trust_key_free(k);
    return code;
}

static int fingerprint(const char *key_path)
{
    struct replay_err err = {0};
    struct replay_trust_key *k = NULL;
    if (replay_trust_key_load_public(key_path, &k, &err) != 0)
        return fail(&err);
    printf("%s\n", replay_trust_key_fingerprint(k));
    replay_trust_key_free(k);
    return 0;
}

static int manifest(const char *path)
{
    struct replay_err err = {0};
    struct replay_manifest *m = NULL;
    size_t len = 0;
    unsigned char *buf = slurp(path, &len);
    if (buf == NULL)
        return 1;
    int code = replay_manifest_parse(buf, len, &m, &err) == 0 ? 0 : fail(&err);
    if (code == 0)
        printf("sequence %lld files %zu\n", (long long)m->sequence, m->n_files);
    replay_manifest_free(m);
    free(buf);
    return code;
}

int main(int argc, char **argv)
{
    if (argc == 5 && (strcmp(argv[1], "sign") == 0 || strcmp(argv[1], "verify") == 0))
        return sign_or_verify(strcmp(argv[1], "sign") == 0, argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "fingerprint") == 0)
        return fingerprint(argv[2]);
    if (argc == 3 && strcmp(argv[1], "manifest") == 0)
        return manifest(argv[2]);
    fprintf(stderr, "usage: trust_tool sign KEY FILE SIG | verify PUB FILE SIG | "
                    "fingerprint PUB | manifest FILE\n");
    return 2;
}
