/* trust: sha256 of streams, hashed as they pass (replay/trust.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "replay/atomicfile.h"
#include "replay/trust.h"

#define CHUNK (64u << 10)

struct hasher {
    EVP_MD_CTX *md;
    uint64_t size;
};

static int hasher_init(struct hasher *h)
{
    h->size = 0;
    h->md = EVP_MD_CTX_new();
    return h->md != NULL && EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

static void hasher_update(struct hasher *h, const void *buf, size_t len)
{
    EVP_DigestUpdate(h->md, buf, len);
    h->size += len;
}

static void hasher_final(struct hasher *h, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->md, md, &n);
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

/* Reads fd to its end into h; 0 or the errno of the failed read. */
static int hash_to_end(struct hasher *h, int fd, int out_fd, int *out_errno)
{
    unsigned char *buf = malloc(CHUNK);
    if (buf == NULL)
        return ENOMEM;
    int e = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? errno : 0;
            break;
        }
        hasher_update(h, buf, (size_t)n);
        if (out_fd >= 0 && *out_errno == 0)
            *out_errno = replay_atomicfile_write_fd(out_fd, buf, (size_t)n);
    }
    free(buf);
    return e;
}

void replay_trust_sha256_hex(const void *buf, size_t len, char *hex)
{
    struct hasher h;
    if (hasher_init(&h) == 0)
        hasher_update(&h, buf, len);
    hasher_final(&h, hex);
    EVP_MD_CTX_free(h.md);
}

int replay_trust_sha256_fd(int fd, char *hex, uint64_t *size, struct replay_err *err)
{
    struct hasher h;
    int unused = 0;
    if (hasher_init(&h) != 0) {
        EVP_MD_CTX_free(h.md);
        return replay_err_set(err, REPLAY_ENOMEM, "sha256: out of memory");
    }
    int e = hash_to_end(&h, fd, -1, &unused);
    hasher_final(&h, hex);
    EVP_MD_CTX_free(h.md);
    *size = h.size;
    return e == 0 ? 0 : replay_err_sys(err, REPLAY_EIO, e, "sha256: read");
}

struct relay {
    struct hasher h;
    int in_fd, out_fd;
    int read_errno, write_errno;
};

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    r->read_errno = hash_to_end(&r->h, r->in_fd, r->out_fd, &r->write_errno);
    return NULL;
}

int replay_trust_hash_relay(int out_fd, replay_trust_produce_fn produce, void *ctx, char *hex,
                            uint64_t *size, struct replay_err *err)
{
    struct relay r = {.out_fd = out_fd};
    int p[2] = {-1, -1};
    pthread_t t;
    if (hasher_init(&r.h) != 0 || pipe2(p, O_CLOEXEC) != 0) {
        int e = errno;
        EVP_MD_CTX_free(r.h.md);
        return replay_err_sys(err, REPLAY_EIO, e, "hash a stream: no pipe");
    }
    r.in_fd = p[0];
    int rc = pthread_create(&t, NULL, relay_main, &r);
    if (rc != 0) {
        close(p[0]);
        close(p[1]);
        EVP_MD_CTX_free(r.h.md);
        return replay_err_sys(err, REPLAY_EIO, rc, "hash a stream: no thread");
    }
    rc = produce(ctx, p[1], err);
    close(p[1]); /* the helper sees the end of the stream */
    pthread_join(t, NULL);
    close(p[0]);
    hasher_final(&r.h, hex);
    EVP_MD_CTX_free(r.h.md);
    *size = r.h.size;
    if (rc == 0 && (r.write_errno != 0 || r.read_errno != 0))
        rc = replay_err_sys(err, REPLAY_EIO, r.write_errno ? r.write_errno : r.read_errno,
                            "hash a stream: %s", r.write_errno ? "write" : "read");
    return rc;
}
