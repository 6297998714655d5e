/* Unit tests of common/trust: Ed25519 keys, signatures and manifests (issue 16). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "replay/trust.h"

struct dir {
    char path[256];
    char key[300];
    char pub[310];
};

static int make_dir(void **state)
{
    struct dir *d = calloc(1, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "%s/test_trust.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(d->path));
    snprintf(d->key, sizeof(d->key), "%s/key", d->path);
    snprintf(d->pub, sizeof(d->pub), "%s/key.pub", d->path);
    *state = d;
    return 0;
}

static int remove_dir(void **state)
{
    struct dir *d = *state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
    assert_int_equal(system(cmd), 0);
    free(d);
    return 0;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* Writes pkey as PEM (private or public) to path, 0600. */
static void write_pkey(const char *path, EVP_PKEY *pkey, bool private_key, const char *pass)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    int ok = private_key ? PEM_write_PKCS8PrivateKey(f, pkey, pass ? EVP_aes_128_cbc() : NULL,
                                                     pass ? (char *)pass : NULL,
                                                     pass ? (int)strlen(pass) : 0, NULL, NULL)
                         : PEM_write_PUBKEY(f, pkey);
    assert_int_equal(ok, 1);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- keys ---- */

static void test_trust_keygen_writes_an_owner_only_private_key_and_its_public_key(void **state)
{
    struct dir *d = *state;
    char fp[REPLAY_TRUST_FINGERPRINT_LEN];
    struct replay_err err = {0};
    assert_int_equal(replay_trust_keygen(d->key, fp, &err), 0);
    struct stat st;
    assert_int_equal(stat(d->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(d->pub, &st), 0);
    assert_int_equal(strncmp(fp, "SHA256:", 7), 0);
    assert_int_equal(strlen(fp), 71);
    assert_non_null(strstr(read_text(d->key), "-----BEGIN PRIVATE KEY-----"));
    assert_non_null(strstr(read_text(d->pub), "-----BEGIN PUBLIC KEY-----"));

    struct replay_trust_key *priv = NULL, *pub = NULL;
    assert_int_equal(replay_trust_key_load_private(d->key, &priv, &err), 0);
    assert_int_equal(replay_trust_key_load_public(d->pub, &pub, &err), 0);
    assert_string_equal(replay_trust_key_fingerprint(priv), fp);
    assert_string_equal(replay_trust_key_fingerprint(pub), fp);
    assert_true(replay_trust_key_is_private(priv));
    assert_false(replay_trust_key_is_private(pub));
    replay_trust_key_free(priv);
    replay_trust_key_free(pub);
    replay_trust_key_free(NULL);
}

static void test_trust_keygen_never_overwrites_a_file(void **state)
{
    struct dir *d = *state;
    char fp[REPLAY_TRUST_FINGERPRINT_LEN];
    struct replay_err err = {0};
    write_text(d->key, "precious\n", 0600);
    assert_int_equal(replay_trust_keygen(d->key, fp, &err), REPLAY_EEXIST);
    assert_non_null(strstr(err.msg, "not overwriting"));
    assert_string_equal(read_text(d->key), "precious\n");
    assert_int_equal(access(d->pub, F_OK), -1);

    /* Only the .pub exists: nothing is written either. */
    assert_int_equal(unlink(d->key), 0);
    write_text(d->pub, "old public\n", 0644);
    memset(&err, 0, sizeof(err));
    assert_int_equal(replay_trust_keygen(d->key, fp, &err), REPLAY_EEXIST);
    assert_int_equal(access(d->key, F_OK), -1);
    assert_string_equal(read_text(d->pub), "old public\n");
}

static void test_trust_fingerprint_is_the_sha256_of_the_raw_public_key(void **state)
{
    struct dir *d = *state;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(pkey);
    write_pkey(d->pub, pkey, false, NULL);
    unsigned char raw[32];
    size_t raw_len = sizeof(raw);
    assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len), 1);
    char expect[REPLAY_TRUST_FINGERPRINT_LEN] = "SHA256:";
    replay_trust_sha256_hex(raw, raw_len, expect + 7);
    struct replay_trust_key *k = NULL;
    assert_int_equal(replay_trust_key_load_public(d->pub, &k, NULL), 0);
    assert_string_equal(replay_trust_key_fingerprint(k), expect);
    replay_trust_key_free(k);
    EVP_PKEY_free(pkey);
    /* A known digest: sha256("abc"). */
    char hex[REPLAY_TRUST_SHA256_HEX_LEN];
    replay_trust_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* A bad key file: the code, a message naming the file and the reason, and none
 * of the file's bytes in the message. */
static void assert_load_refused(const char *path, bool private_key, const char *reason)
{
    struct replay_trust_key *k = (void *)1;
    struct replay_err err = {0};
    int rc = private_key ? replay_trust_key_load_private(path, &k, &err)
                         : replay_trust_key_load_public(path, &k, &err);
    assert_int_equal(rc, REPLAY_ECONFIG);
    assert_null(k);
    assert_non_null(strstr(err.msg, path));
    if (strstr(err.msg, reason) == NULL)
        fail_msg("'%s' does not say '%s'", err.msg, reason);
    assert_null(strstr(err.msg, "MII"));   /* the start of every Ed25519 PEM body */
    assert_null(strstr(err.msg, "-----")); /* no PEM line */
    assert_null(strchr(err.msg, '\n'));
}

static void test_trust_key_load_refuses_what_an_operator_can_get_wrong(void **state)
{
    struct dir *d = *state;
    char fp[REPLAY_TRUST_FINGERPRINT_LEN], other[320];
    assert_int_equal(replay_trust_keygen(d->key, fp, NULL), 0);

    snprintf(other, sizeof(other), "%s/missing", d->path);
    assert_load_refused(other, true, "No such file");
    assert_load_refused(d->path, true, "not a regular file");

    assert_int_equal(chmod(d->key, 0640), 0);
    assert_load_refused(d->key, true, "readable by its owner only (mode 0640");
    assert_int_equal(chmod(d->key, 0604), 0);
    assert_load_refused(d->key, true, "readable by its owner only");
    assert_int_equal(chmod(d->key, 0600), 0);

    /* A public key where a private one belongs, and the other way round. */
    assert_int_equal(chmod(d->pub, 0600), 0);
    assert_load_refused(d->pub, true, "not a PEM private key");
    assert_load_refused(d->key, false, "not a PEM public key");

    snprintf(other, sizeof(other), "%s/garbage", d->path);
    write_text(other, "-----BEGIN PRIVATE KEY-----\nMIIgarbage\n-----END PRIVATE KEY-----\n",
               0600);
    assert_load_refused(other, true, "not a PEM private key");
    write_text(other, "", 0600);
    assert_load_refused(other, true, "not a PEM private key");

    char *big = malloc(REPLAY_TRUST_KEY_FILE_MAX + 2);
    memset(big, 'A', REPLAY_TRUST_KEY_FILE_MAX + 1);
    big[REPLAY_TRUST_KEY_FILE_MAX + 1] = '\0';
    write_text(other, big, 0600);
    free(big);
    assert_load_refused(other, true, "not a PEM key");
}

static void test_trust_key_load_refuses_other_algorithms_and_passphrases(void **state)
{
    struct dir *d = *state;
    char path[320];
    snprintf(path, sizeof(path), "%s/x25519", d->path);
    EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    assert_non_null(x);
    write_pkey(path, x, true, NULL);
    assert_load_refused(path, true, "not an Ed25519 key");
    write_pkey(d->pub, x, false, NULL);
    assert_load_refused(d->pub, false, "not an Ed25519 key");
    EVP_PKEY_free(x);

    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(ed);
    snprintf(path, sizeof(path), "%s/with-passphrase", d->path);
    write_pkey(path, ed, true, "a passphrase");
    assert_load_refused(path, true, "without a passphrase");
    EVP_PKEY_free(ed);
}

/* ---- signatures ---- */

static void test_trust_signature_verifies_and_fails_on_any_change(void **state)
{
    struct dir *d = *state;
    char fp[REPLAY_TRUST_FINGERPRINT_LEN], other_path[320];
    assert_int_equal(replay_trust_keygen(d->key, fp, NULL), 0);
    snprintf(other_path, sizeof(other_path), "%s/other", d->path);
    assert_int_equal(replay_trust_keygen(other_path, fp, NULL), 0);
    struct replay_trust_key *priv = NULL, *pub = NULL, *other = NULL;
    assert_int_equal(replay_trust_key_load_private(d->key, &priv, NULL), 0);
    assert_int_equal(replay_trust_key_load_public(d->pub, &pub, NULL), 0);
    assert_int_equal(replay_trust_key_load_private(other_path, &other, NULL), 0);

    char msg[] = "{\"format\":\"assemblyline-replay-manifest\"}\n";
    unsigned char sig[REPLAY_TRUST_SIG_LEN];
    struct replay_err err = {0};
    assert_int_equal(replay_trust_sign(priv, msg, strlen(msg), sig, &err), 0);
    assert_int_equal(replay_trust_verify(pub, msg, strlen(msg), sig, sizeof(sig), &err), 0);
    assert_int_equal(replay_trust_verify(priv, msg, strlen(msg), sig, sizeof(sig), &err), 0);

    msg[3] ^= 1;
    assert_int_equal(replay_trust_verify(pub, msg, strlen(msg), sig, sizeof(sig), &err),
                     REPLAY_EINTEGRITY);
    assert_non_null(strstr(err.msg, "does not verify"));
    msg[3] ^= 1;
    memset(&err, 0, sizeof(err));
    assert_int_equal(replay_trust_verify(other, msg, strlen(msg), sig, sizeof(sig), &err),
                     REPLAY_EINTEGRITY);
    sig[10] ^= 0x80;
    assert_int_equal(replay_trust_verify(pub, msg, strlen(msg), sig, sizeof(sig), NULL),
                     REPLAY_EINTEGRITY);
    sig[10] ^= 0x80;
    memset(&err, 0, sizeof(err));
    assert_int_equal(replay_trust_verify(pub, msg, strlen(msg), sig, 63, &err), REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "63 bytes"));
    assert_int_equal(replay_trust_verify(pub, msg, strlen(msg), sig, 0, NULL), REPLAY_EFORMAT);
    memset(&err, 0, sizeof(err));
    assert_int_equal(replay_trust_sign(pub, msg, strlen(msg), sig, &err), REPLAY_EINVAL);
    assert_non_null(strstr(err.msg, "no private half"));

    replay_trust_key_free(priv);
    replay_trust_key_free(pub);
    replay_trust_key_free(other);
}

/* ---- manifests ---- */

#define SHA_A "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_B "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define FP "SHA256:" SHA_B
#define CREATED "2026-12-04T13:20:11.123456Z"

static struct replay_manifest *two_file_manifest(void)
{
    struct replay_manifest *m = NULL;
    assert_int_equal(replay_manifest_new("source-a", 7, CREATED, SHA_A, FP, &m, NULL), 0);
    const char *ids[] = {"5KrKd3xQ9mZ1RE1"};
    assert_int_equal(replay_manifest_add(m, "alert_5KrKd3xQ9mZ1RE1.al_bundle", 1234, SHA_A,
                                         "alert", ids, 1, NULL), 0);
    const char *many[] = {"a", "b", "c"};
    assert_int_equal(replay_manifest_add(m, "badlist_2026-12-04T13:20:11Z.al_json.cart", 0,
                                         SHA_B, "badlist", many, 3, NULL), 0);
    return m;
}

static void test_trust_manifest_round_trips_byte_for_byte(void **state)
{
    (void)state;
    struct replay_manifest *m = two_file_manifest(), *back = NULL;
    char *text = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    assert_int_equal(replay_manifest_serialize(m, &text, &len, NULL), 0);
    assert_int_equal(text[len - 1], '\n');
    assert_non_null(strstr(text, "\"format\":\"assemblyline-replay-manifest\",\"version\":1,"));
    assert_int_equal(replay_manifest_parse(text, len, &back, NULL), 0);
    assert_string_equal(back->source, "source-a");
    assert_int_equal(back->sequence, 7);
    assert_string_equal(back->created, CREATED);
    assert_string_equal(back->previous_sha256, SHA_A);
    assert_string_equal(back->key, FP);
    assert_int_equal(back->n_files, 2);
    assert_string_equal(back->files[0].name, "alert_5KrKd3xQ9mZ1RE1.al_bundle");
    assert_int_equal(back->files[0].size, 1234);
    assert_string_equal(back->files[1].type, "badlist");
    assert_int_equal(back->files[1].n_ids, 3);
    assert_string_equal(back->files[1].ids[2], "c");
    assert_int_equal(replay_manifest_serialize(back, &again, &len2, NULL), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(text, again, len);
    free(text);
    free(again);
    replay_manifest_free(m);
    replay_manifest_free(back);
    replay_manifest_free(NULL);
}

static void test_trust_first_unsigned_manifest_has_null_previous_and_key(void **state)
{
    (void)state;
    struct replay_manifest *m = NULL, *back = NULL;
    assert_int_equal(replay_manifest_new("s", 0, CREATED, NULL, NULL, &m, NULL), 0);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(replay_manifest_serialize(m, &text, &len, NULL), 0);
    assert_non_null(strstr(text, "\"previous_sha256\":null,\"key\":null,\"files\":[]"));
    assert_int_equal(replay_manifest_parse(text, len, &back, NULL), 0);
    assert_string_equal(back->previous_sha256, "");
    assert_string_equal(back->key, "");
    free(text);
    replay_manifest_free(m);
    replay_manifest_free(back);
}

/* Parses `text` (a manifest with one file whose fields the caller shaped) and
 * expects refusal with `code` and `reason` in the message. */
static void assert_refused(const char *text, int code, const char *reason)
{
    struct replay_manifest *m = (void *)1;
    struct replay_err err = {0};
    assert_int_equal(replay_manifest_parse(text, strlen(text), &m, &err), code);
    assert_null(m);
    if (strstr(err.msg, reason) == NULL)
        fail_msg("'%s' does not say '%s' (input %.80s)", err.msg, reason, text);
    assert_int_equal(strncmp(err.msg, "manifest: ", 10), 0);
}

#define HEAD "{\"format\":\"assemblyline-replay-manifest\",\"version\":1,\"source\":\"s\","
#define SEQ_ON "\"sequence\":1,\"created\":\"" CREATED "\",\"previous_sha256\":null,\"key\":null,"
#define FILE_(name, size, sha) \
    "{\"name\":" name ",\"size\":" size ",\"sha256\":\"" sha "\",\"type\":\"alert\",\"ids\":[]}"
#define ONE(name, size, sha) HEAD SEQ_ON "\"files\":[" FILE_(name, size, sha) "]}"

static void test_trust_manifest_parse_refuses_bad_input(void **state)
{
    (void)state;
    struct replay_manifest *ok = NULL;
    const char *good = ONE("\"a.al_bundle\"", "5", SHA_A);
    assert_int_equal(replay_manifest_parse(good, strlen(good), &ok, NULL), 0);
    replay_manifest_free(ok);

    assert_refused("not json", REPLAY_EFORMAT, "not JSON");
    assert_refused("", REPLAY_EFORMAT, "not JSON");
    assert_refused("[1,2]", REPLAY_EFORMAT, "not an object of format");
    assert_refused(HEAD SEQ_ON "\"files\":[],\"extra\":1}", REPLAY_EFORMAT, "not an object");
    assert_refused(HEAD SEQ_ON "\"files\":{}}", REPLAY_EFORMAT, "not an object");
    assert_refused(HEAD "\"sequence\":1,\"created\":\"" CREATED "\",\"previous_sha256\":null,"
                   "\"files\":[]}", REPLAY_EFORMAT, "not an object");
    assert_refused(HEAD HEAD SEQ_ON "\"files\":[]}", REPLAY_EFORMAT, "not JSON");
    assert_refused("{\"format\":\"other\",\"version\":1,\"source\":\"s\"," SEQ_ON "\"files\":[]}",
                   REPLAY_EFORMAT, "not a manifest of format");
    assert_refused("{\"format\":\"assemblyline-replay-manifest\",\"version\":2,\"source\":\"s\","
                   SEQ_ON "\"files\":[]}", REPLAY_EFORMAT, "version 1");
    assert_refused(HEAD "\"sequence\":-1,\"created\":\"" CREATED "\",\"previous_sha256\":null,"
                   "\"key\":null,\"files\":[]}", REPLAY_EFORMAT, "sequence: -1 out of range");
    assert_refused(HEAD "\"sequence\":1.5,\"created\":\"" CREATED "\",\"previous_sha256\":null,"
                   "\"key\":null,\"files\":[]}", REPLAY_EFORMAT, "not an object");
    assert_refused(HEAD "\"sequence\":1,\"created\":\"yesterday\",\"previous_sha256\":null,"
                   "\"key\":null,\"files\":[]}", REPLAY_EFORMAT, "yesterday");
    assert_refused(HEAD "\"sequence\":1,\"created\":\"" CREATED "\",\"previous_sha256\":\"ABC\","
                   "\"key\":null,\"files\":[]}", REPLAY_EFORMAT, "previous_sha256: not a sha256");
    assert_refused(HEAD "\"sequence\":1,\"created\":\"" CREATED "\",\"previous_sha256\":null,"
                   "\"key\":\"MD5:00\",\"files\":[]}", REPLAY_EFORMAT, "key: not a key fingerprint");
    assert_refused("{\"format\":\"assemblyline-replay-manifest\",\"version\":1,\"source\":"
                   "\"a\\u0001b\"," SEQ_ON "\"files\":[]}", REPLAY_EFORMAT, "control character");
    assert_refused("{\"format\":\"assemblyline-replay-manifest\",\"version\":1,\"source\":"
                   "\"a\\u0000b\"," SEQ_ON "\"files\":[]}", REPLAY_EFORMAT, "not JSON");

    /* The files. */
    const char *unsafe[] = {"../a.al_bundle", "a/b.al_bundle", "..", ".", "", "a\\\\b",
                            ".a.al_bundle.replay-tmp-abcdefghijkl", "/etc/passwd"};
    for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
        char *text = NULL;
        assert_true(asprintf(&text, ONE("\"%s\"", "5", SHA_A), unsafe[i]) > 0);
        assert_refused(text, REPLAY_EUNSAFE, "files[0]: name: not a plain file name");
        free(text);
    }
    assert_refused(ONE("\"a\\nb\"", "5", SHA_A), REPLAY_EFORMAT, "control character");
    assert_refused(ONE("5", "5", SHA_A), REPLAY_EFORMAT, "files[0]: not an object");
    assert_refused(ONE("\"a\"", "-1", SHA_A), REPLAY_EFORMAT, "size: -1 out of range");
    assert_refused(ONE("\"a\"", "1125899906842625", SHA_A), REPLAY_EFORMAT, "out of range");
    assert_refused(ONE("\"a\"", "99999999999999999999999", SHA_A), REPLAY_EFORMAT, "not JSON");
    assert_refused(ONE("\"a\"", "1e3", SHA_A), REPLAY_EFORMAT, "not an object");
    assert_refused(ONE("\"a\"", "\"5\"", SHA_A), REPLAY_EFORMAT, "not an object");
    assert_refused(ONE("\"a\"", "5", "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"),
                   REPLAY_EFORMAT, "sha256: not a sha256");
    assert_refused(ONE("\"a\"", "5", "ba78"), REPLAY_EFORMAT, "not a sha256");
    assert_refused(HEAD SEQ_ON "\"files\":[{\"name\":\"a\",\"size\":1,\"sha256\":\"" SHA_A
                   "\",\"type\":\"alert\",\"ids\":[1]}]}", REPLAY_EFORMAT, "ids: not a list");
    assert_refused(HEAD SEQ_ON "\"files\":[{\"name\":\"a\",\"size\":1,\"sha256\":\"" SHA_A
                   "\",\"type\":\"alert\"}]}", REPLAY_EFORMAT, "not an object of name");
}

static void test_trust_manifest_parse_refuses_what_passes_a_cap(void **state)
{
    (void)state;
    /* More files than the cap: refused before any is built. */
    size_t n = REPLAY_MANIFEST_MAX_FILES + 1, cap = n * 140 + 512, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, HEAD SEQ_ON "\"files\":[");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s" FILE_("\"f%zu\"", "1", SHA_A),
                                i ? "," : "", i);
    len += (size_t)snprintf(text + len, cap - len, "]}");
    assert_refused(text, REPLAY_ETOOBIG, "files: 10001, at most 10000");

    struct replay_manifest *m = (void *)1;
    struct replay_err err = {0};
    assert_int_equal(replay_manifest_parse(text, REPLAY_MANIFEST_MAX_BYTES + 1, &m, &err),
                     REPLAY_ETOOBIG);
    assert_null(m);
    free(text);

    char name[REPLAY_MANIFEST_MAX_NAME + 10];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    char *longname = NULL;
    assert_true(asprintf(&longname, ONE("\"%s\"", "1", SHA_A), name) > 0);
    assert_refused(longname, REPLAY_EUNSAFE, "not a plain file name");
    free(longname);
}

static void test_trust_manifest_add_stops_at_the_caps_and_leaves_the_manifest_whole(void **state)
{
    (void)state;
    struct replay_manifest *m = NULL;
    assert_int_equal(replay_manifest_new("s", 1, CREATED, NULL, NULL, &m, NULL), 0);
    char name[32];
    for (int i = 0; i < REPLAY_MANIFEST_MAX_FILES; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        assert_int_equal(replay_manifest_add(m, name, i, SHA_A, "alert", NULL, 0, NULL), 0);
    }
    struct replay_err err = {0};
    assert_int_equal(replay_manifest_add(m, "one-more", 1, SHA_A, "alert", NULL, 0, &err),
                     REPLAY_ETOOBIG);
    assert_non_null(strstr(err.msg, "manifest full"));
    assert_int_equal(m->n_files, REPLAY_MANIFEST_MAX_FILES);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(replay_manifest_serialize(m, &text, &len, NULL), 0);
    struct replay_manifest *back = NULL;
    assert_int_equal(replay_manifest_parse(text, len, &back, NULL), 0);
    assert_int_equal(back->n_files, REPLAY_MANIFEST_MAX_FILES);
    free(text);
    replay_manifest_free(back);
    replay_manifest_free(m);

    /* Bad values are refused by the writer too. */
    assert_int_equal(replay_manifest_new("s", -1, CREATED, NULL, NULL, &m, NULL), REPLAY_EFORMAT);
    assert_null(m);
    assert_int_equal(replay_manifest_new("", 1, CREATED, NULL, NULL, &m, NULL), REPLAY_EFORMAT);
    assert_int_equal(replay_manifest_new("s", 1, CREATED, NULL, NULL, &m, NULL), 0);
    assert_int_equal(replay_manifest_add(m, "a", -5, SHA_A, "alert", NULL, 0, NULL),
                     REPLAY_EFORMAT);
    assert_int_equal(replay_manifest_add(m, "a/b", 5, SHA_A, "alert", NULL, 0, NULL),
                     REPLAY_EUNSAFE);
    const char *bad_ids[] = {"ok", "caf\xc3"};
    assert_int_equal(replay_manifest_add(m, "a", 5, SHA_A, "alert", bad_ids, 2, NULL),
                     REPLAY_EFORMAT);
    assert_int_equal(m->n_files, 0);
    replay_manifest_free(m);
}

static void test_trust_manifest_names(void **state)
{
    (void)state;
    char name[REPLAY_MANIFEST_NAME_LEN];
    assert_int_equal(replay_manifest_name(CREATED, 42, name, sizeof(name), NULL), 0);
    assert_string_equal(name, "replay_manifest_2026-12-04T13:20:11.123456Z_42.json");
    assert_int_equal(replay_names_classify(name), REPLAY_NAMES_MANIFEST);
    assert_int_not_equal(replay_names_classify("replay_manifest_x_1.json.sig"), REPLAY_NAMES_MANIFEST);
    assert_int_not_equal(replay_names_classify("alert_x.al_bundle"), REPLAY_NAMES_MANIFEST);
    assert_int_not_equal(replay_names_classify("replay_manifest_.json"), REPLAY_NAMES_MANIFEST);
    assert_int_not_equal(replay_names_classify(".replay_manifest_x_1.json.replay-tmp-abcdefghijkl"), REPLAY_NAMES_MANIFEST);
    assert_int_equal(replay_manifest_name("a/b", 1, name, sizeof(name), NULL), REPLAY_EINVAL);
    assert_int_equal(replay_manifest_name(CREATED, 1, name, 10, NULL), REPLAY_EINVAL);
}

/* ---- hashing streams ---- */

static int produce_text(void *ctx, int fd, struct replay_err *err)
{
    const char *text = ctx;
    for (int i = 0; i < 1000; i++) { /* more than a pipe holds: the helper must keep up */
        if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
            return replay_err_set(err, REPLAY_EIO, "write");
    }
    return 0;
}

static int produce_failure(void *ctx, int fd, struct replay_err *err)
{
    (void)ctx;
    if (write(fd, "abc", 3) != 3)
        return replay_err_set(err, REPLAY_EIO, "write");
    return replay_err_set(err, REPLAY_ECONN, "the source went away");
}

static void test_trust_hash_relay_hashes_what_passes_and_passes_it_on(void **state)
{
    struct dir *d = *state;
    char path[320], hex[REPLAY_TRUST_SHA256_HEX_LEN], again[REPLAY_TRUST_SHA256_HEX_LEN];
    snprintf(path, sizeof(path), "%s/out", d->path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    uint64_t size = 0, size2 = 0;
    char line[] = "a line of a bundle, long enough to fill pipes quickly........\n";
    assert_int_equal(replay_trust_hash_relay(fd, produce_text, line, hex, &size, NULL), 0);
    assert_int_equal(size, 1000 * strlen(line));
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(replay_trust_sha256_fd(fd, again, &size2, NULL), 0);
    assert_int_equal(size2, size);
    assert_string_equal(hex, again);
    close(fd);

    /* The producer's error wins, and what passed is still counted. */
    fd = open(path, O_RDWR | O_TRUNC);
    struct replay_err err = {0};
    assert_int_equal(replay_trust_hash_relay(fd, produce_failure, NULL, hex, &size, &err),
                     REPLAY_ECONN);
    assert_string_equal(err.msg, "the source went away");
    assert_int_equal(size, 3);
    close(fd);

    /* A destination that refuses the bytes: REPLAY_EIO, and the producer was not stuck. */
    fd = open(path, O_RDONLY);
    memset(&err, 0, sizeof(err));
    assert_int_equal(replay_trust_hash_relay(fd, produce_text, line, hex, &size, &err),
                     REPLAY_EIO);
    assert_non_null(strstr(err.msg, "hash a stream: write"));
    assert_int_equal(size, 1000 * strlen(line));
    close(fd);
    memset(&err, 0, sizeof(err));
    assert_int_equal(replay_trust_sha256_fd(-1, hex, &size, &err), REPLAY_EIO);
}

static void test_trust_manifest_entry_is_what_the_manifest_lists(void **state)
{
    (void)state;
    const char *ids[] = {"id-1", "id-2"};
    char *entry = NULL;
    size_t len = 0;
    assert_int_equal(replay_manifest_entry_encode("badlist_x.al_json.cart", 10, SHA_A, "badlist",
                                                  ids, 2, &entry, &len, NULL), 0);
    assert_string_equal(entry, "{\"name\":\"badlist_x.al_json.cart\",\"size\":10,\"sha256\":\""
                        SHA_A "\",\"type\":\"badlist\",\"ids\":[\"id-1\",\"id-2\"]}");
    struct replay_manifest *m = NULL;
    assert_int_equal(replay_manifest_new("s", 1, CREATED, NULL, NULL, &m, NULL), 0);
    assert_int_equal(replay_manifest_add_entry(m, entry, len, NULL), 0);
    assert_int_equal(m->n_files, 1);
    assert_string_equal(m->files[0].ids[1], "id-2");
    free(entry);

    struct replay_err err = {0};
    assert_int_equal(replay_manifest_add_entry(m, "{", 1, &err), REPLAY_EFORMAT);
    assert_non_null(strstr(err.msg, "manifest entry: not JSON"));
    const char *unsafe = "{\"name\":\"../x\",\"size\":1,\"sha256\":\"" SHA_A
                         "\",\"type\":\"alert\",\"ids\":[]}";
    assert_int_equal(replay_manifest_add_entry(m, unsafe, strlen(unsafe), NULL), REPLAY_EUNSAFE);
    assert_int_equal(replay_manifest_entry_encode("a/b", 1, SHA_A, "alert", NULL, 0, &entry, &len,
                                                  NULL), REPLAY_EUNSAFE);
    assert_null(entry);
    assert_int_equal(replay_manifest_entry_encode("a", -1, SHA_A, "alert", NULL, 0, &entry, &len,
                                                  NULL), REPLAY_EFORMAT);
    assert_int_equal(m->n_files, 1);
    replay_manifest_free(m);
}

static void test_trust_read_small_reads_a_regular_file_whole_and_nothing_else(void **state)
{
    struct dir *d = *state;
    char path[320], link[320], *buf = NULL;
    size_t len = 0;
    struct replay_err err = {0};
    snprintf(path, sizeof(path), "%s/m.json", d->path);
    snprintf(link, sizeof(link), "%s/m.json.sig", d->path);
    write_text(path, "{\"a\": 1}", 0644);
    assert_int_equal(replay_trust_read_small(AT_FDCWD, path, 64, &buf, &len, &err), 0);
    assert_int_equal(len, 8);
    assert_string_equal(buf, "{\"a\": 1}");
    free(buf);
    assert_int_equal(replay_trust_read_small(AT_FDCWD, path, 7, &buf, &len, &err),
                     REPLAY_ETOOBIG);
    assert_null(buf);
    assert_int_equal(symlink(path, link), 0);
    replay_err_clear(&err);
    assert_int_equal(replay_trust_read_small(AT_FDCWD, link, 64, &buf, &len, &err),
                     REPLAY_EUNSAFE);
    replay_err_clear(&err);
    assert_int_equal(replay_trust_read_small(AT_FDCWD, d->path, 64, &buf, &len, &err),
                     REPLAY_EUNSAFE);
    replay_err_clear(&err);
    snprintf(path, sizeof(path), "%s/absent", d->path);
    assert_int_equal(replay_trust_read_small(AT_FDCWD, path, 64, &buf, &len, &err),
                     REPLAY_ENOTFOUND);
    assert_null(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_trust_read_small_reads_a_regular_file_whole_and_nothing_else, make_dir,
            remove_dir),
        cmocka_unit_test_setup_teardown(
            test_trust_keygen_writes_an_owner_only_private_key_and_its_public_key, make_dir,
            remove_dir),
        cmocka_unit_test_setup_teardown(test_trust_keygen_never_overwrites_a_file, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_trust_fingerprint_is_the_sha256_of_the_raw_public_key,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(
            test_trust_key_load_refuses_what_an_operator_can_get_wrong, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(
            test_trust_key_load_refuses_other_algorithms_and_passphrases, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_trust_signature_verifies_and_fails_on_any_change,
                                        make_dir, remove_dir),
        cmocka_unit_test(test_trust_manifest_round_trips_byte_for_byte),
        cmocka_unit_test(test_trust_first_unsigned_manifest_has_null_previous_and_key),
        cmocka_unit_test(test_trust_manifest_parse_refuses_bad_input),
        cmocka_unit_test(test_trust_manifest_parse_refuses_what_passes_a_cap),
        cmocka_unit_test(test_trust_manifest_add_stops_at_the_caps_and_leaves_the_manifest_whole),
        cmocka_unit_test(test_trust_manifest_names),
        cmocka_unit_test_setup_teardown(test_trust_hash_relay_hashes_what_passes_and_passes_it_on,
                                        make_dir, remove_dir),
        cmocka_unit_test(test_trust_manifest_entry_is_what_the_manifest_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
