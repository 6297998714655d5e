/* trust: Ed25519 keys, fingerprints and signatures (replay/trust.h). */
#include "replay/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "replay/atomicfile.h"

#define ED25519_RAW_LEN 32

struct replay_trust_key {
    EVP_PKEY *pkey;
    bool is_private;
    char fingerprint[REPLAY_TRUST_FINGERPRINT_LEN];
};

/* A passphrase is never asked for (a service has no terminal): refuse it. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* Reads the whole key file (capped) into buf; checks it is a regular file and,
 * for a private key, that only its owner may read it. */
static int read_key_file(const char *path, bool private_key, unsigned char *buf, size_t *len,
                         struct replay_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return replay_err_sys(err, REPLAY_ECONFIG, errno, "key file %s: cannot open", path);
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = replay_err_sys(err, REPLAY_ECONFIG, errno, "key file %s: cannot stat", path);
    } else if (!S_ISREG(st.st_mode)) {
        rc = replay_err_set(err, REPLAY_ECONFIG, "key file %s: not a regular file", path);
    } else if (private_key && (st.st_mode & 077) != 0) {
        rc = replay_err_set(err, REPLAY_ECONFIG,
                            "key file %s: a private key must be readable by its owner only "
                            "(mode %04o; chmod 600 it)", path, (unsigned)(st.st_mode & 07777));
    } else if ((size_t)st.st_size > REPLAY_TRUST_KEY_FILE_MAX) {
        rc = replay_err_set(err, REPLAY_ECONFIG, "key file %s: %lld bytes, not a PEM key "
                            "(at most %u)", path, (long long)st.st_size,
                            REPLAY_TRUST_KEY_FILE_MAX);
    }
    size_t got = 0;
    while (rc == 0 && got < REPLAY_TRUST_KEY_FILE_MAX) {
        ssize_t n = read(fd, buf + got, REPLAY_TRUST_KEY_FILE_MAX - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = replay_err_sys(err, REPLAY_ECONFIG, errno, "key file %s: cannot read", path);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return rc;
}

static int key_finish(EVP_PKEY *pkey, bool is_private, const char *path,
                      struct replay_trust_key **out, struct replay_err *err)
{
    unsigned char raw[ED25519_RAW_LEN];
    size_t raw_len = sizeof(raw);
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        return replay_err_set(err, REPLAY_ECONFIG, "key file %s: not an Ed25519 key "
                              "(make one with replay-ctl keygen)", path);
    }
    struct replay_trust_key *k = calloc(1, sizeof(*k));
    if (k == NULL || EVP_PKEY_get_raw_public_key(pkey, raw, &raw_len) != 1 ||
        raw_len != ED25519_RAW_LEN) {
        EVP_PKEY_free(pkey);
        free(k);
        return replay_err_set(err, REPLAY_ENOMEM, "key file %s: cannot read the public key",
                              path);
    }
    k->pkey = pkey;
    k->is_private = is_private;
    memcpy(k->fingerprint, "SHA256:", 7);
    replay_trust_sha256_hex(raw, raw_len, k->fingerprint + 7);
    *out = k;
    return 0;
}

static int key_load(const char *path, bool private_key, struct replay_trust_key **out,
                    struct replay_err *err)
{
    *out = NULL;
    unsigned char *buf = malloc(REPLAY_TRUST_KEY_FILE_MAX);
    if (buf == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "key file %s: out of memory", path);
    size_t len = 0;
    int rc = read_key_file(path, private_key, buf, &len, err);
    EVP_PKEY *pkey = NULL;
    if (rc == 0) {
        BIO *bio = BIO_new_mem_buf(buf, (int)len);
        if (bio != NULL)
            pkey = private_key ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                               : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
        BIO_free(bio);
        /* OpenSSL's own reasons may quote the input; ours never do. */
        ERR_clear_error();
        if (pkey == NULL)
            rc = replay_err_set(err, REPLAY_ECONFIG, "key file %s: not a PEM %s key%s", path,
                                private_key ? "private" : "public",
                                private_key ? " without a passphrase" : "");
    }
    OPENSSL_cleanse(buf, REPLAY_TRUST_KEY_FILE_MAX);
    free(buf);
    return rc == 0 ? key_finish(pkey, private_key, path, out, err) : rc;
}

int replay_trust_key_load_private(const char *path, struct replay_trust_key **out,
                                  struct replay_err *err)
{
    return key_load(path, true, out, err);
}

int replay_trust_key_load_public(const char *path, struct replay_trust_key **out,
                                 struct replay_err *err)
{
    return key_load(path, false, out, err);
}

const char *replay_trust_key_fingerprint(const struct replay_trust_key *k)
{
    return k->fingerprint;
}

bool replay_trust_key_is_private(const struct replay_trust_key *k)
{
    return k->is_private;
}

void replay_trust_key_free(struct replay_trust_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

int replay_trust_sign(const struct replay_trust_key *k, const void *msg, size_t len,
                      unsigned char *sig, struct replay_err *err)
{
    if (!k->is_private)
        return replay_err_set(err, REPLAY_EINVAL, "sign: key %s has no private half",
                              k->fingerprint);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sig_len = REPLAY_TRUST_SIG_LEN;
    int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &sig_len, msg, len) == 1 &&
             sig_len == REPLAY_TRUST_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok ? 0 : replay_err_set(err, REPLAY_EIO, "sign with key %s: OpenSSL failed",
                                   k->fingerprint);
}

int replay_trust_verify(const struct replay_trust_key *k, const void *msg, size_t len,
                        const unsigned char *sig, size_t sig_len, struct replay_err *err)
{
    if (sig_len != REPLAY_TRUST_SIG_LEN)
        return replay_err_set(err, REPLAY_EFORMAT, "signature of %zu bytes, expected %d",
                              sig_len, REPLAY_TRUST_SIG_LEN);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int v = -1;
    if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1)
        v = EVP_DigestVerify(ctx, sig, sig_len, msg, len);
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    if (v == 1)
        return 0;
    return replay_err_set(err, REPLAY_EINTEGRITY, "signature does not verify with key %s",
                          k->fingerprint);
}

/* ---- keygen ---- */

struct pem_bytes {
    char *data;
    long len;
};

static int fill_pem(void *ctx, int fd, struct replay_err *err)
{
    const struct pem_bytes *p = ctx;
    int e = replay_atomicfile_write_fd(fd, p->data, (size_t)p->len);
    return e == 0 ? 0 : replay_err_sys(err, REPLAY_EIO, e, "write key");
}

/* The PEM text of pkey's private (PKCS#8) or public half into a memory BIO. */
static BIO *pem_of(EVP_PKEY *pkey, bool private_key)
{
    BIO *bio = BIO_new(BIO_s_secmem());
    int ok = bio != NULL && (private_key ? PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL,
                                                                          0, NULL, NULL)
                                         : PEM_write_bio_PUBKEY(bio, pkey));
    if (!ok) {
        BIO_free(bio);
        return NULL;
    }
    return bio;
}

static int write_pem(const char *path, EVP_PKEY *pkey, bool private_key, struct replay_err *err)
{
    BIO *bio = pem_of(pkey, private_key);
    if (bio == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "keygen %s: cannot encode the key", path);
    struct pem_bytes p = {NULL, 0};
    p.len = BIO_get_mem_data(bio, &p.data);
    struct replay_atomicfile_opts o = {.mode = private_key ? 0600 : 0644};
    int rc = replay_atomicfile_create(path, &o, REPLAY_ATOMICFILE_NO_REPLACE, fill_pem, &p, err);
    BIO_free(bio);
    if (rc != 0)
        replay_err_prefix(err, "keygen %s", path);
    return rc;
}

static int refuse_existing(const char *path, struct replay_err *err)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        return replay_err_set(err, REPLAY_EEXIST, "keygen: %s exists; not overwriting it", path);
    return 0;
}

int replay_trust_keygen(const char *path, char *fingerprint, struct replay_err *err)
{
    char pub[4096];
    if ((size_t)snprintf(pub, sizeof(pub), "%s.pub", path) >= sizeof(pub))
        return replay_err_set(err, REPLAY_ETOOBIG, "keygen: path too long");
    int rc = refuse_existing(path, err);
    if (rc == 0)
        rc = refuse_existing(pub, err);
    if (rc != 0)
        return rc;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (pkey == NULL)
        return replay_err_set(err, REPLAY_EIO, "keygen: OpenSSL cannot make an Ed25519 key");
    rc = write_pem(path, pkey, true, err);
    if (rc == 0 && (rc = write_pem(pub, pkey, false, err)) != 0)
        unlink(path); /* a private key without its public half is of no use */
    if (rc != 0) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    struct replay_trust_key *k = NULL;
    rc = key_finish(pkey, true, path, &k, err); /* owns pkey from here */
    if (rc == 0)
        memcpy(fingerprint, k->fingerprint, REPLAY_TRUST_FINGERPRINT_LEN);
    replay_trust_key_free(k);
    return rc;
}

int replay_trust_read_small(int dirfd, const char *name, size_t max, char **out, size_t *len,
                            struct replay_err *err)
{
    struct stat st;
    *out = NULL;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENAMETOOLONG
                   ? replay_err_set(err, REPLAY_ENOTFOUND, "%s is not there", name)
               : errno == ELOOP ? replay_err_set(err, REPLAY_EUNSAFE, "%s is a symbolic link", name)
                                : replay_err_sys(err, REPLAY_EIO, errno, "open %s", name);
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = replay_err_sys(err, REPLAY_EIO, errno, "stat %s", name);
    else if (!S_ISREG(st.st_mode))
        rc = replay_err_set(err, REPLAY_EUNSAFE, "%s is not a regular file", name);
    else if ((uint64_t)st.st_size > max)
        rc = replay_err_set(err, REPLAY_ETOOBIG, "%s holds %lld bytes, more than %zu", name,
                            (long long)st.st_size, max);
    else if ((*out = malloc((size_t)st.st_size + 1)) == NULL)
        rc = replay_err_set(err, REPLAY_ENOMEM, "read %s: out of memory", name);
    size_t got = 0;
    while (rc == 0 && got < (size_t)st.st_size) {
        ssize_t n = pread(fd, *out + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = replay_err_sys(err, REPLAY_EIO, n < 0 ? errno : EIO, "read %s", name);
        else
            got += (size_t)n;
    }
    close(fd);
    if (rc != 0) {
        free(*out);
        *out = NULL;
    } else {
        (*out)[got] = '\0';
    }
    *len = got;
    return rc;
}
