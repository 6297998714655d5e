/* cart_digest: RC4 (plain, and a keystream made ahead on a helper thread) and the
 * md5/sha1/sha256/length pipeline of the CaRT codec. */
#include "cart_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

/* ---- RC4 ---- */

void replay__rc4_init(struct replay__rc4 *r, const uint8_t *key, size_t key_len)
{
    for (uint32_t i = 0; i < 256; i++)
        r->s[i] = i;
    uint32_t j = 0;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t t = r->s[i];
        j = (j + t + key[i % key_len]) & 0xff;
        r->s[i] = r->s[j];
        r->s[j] = t;
    }
    r->i = 0;
    r->j = 0;
}

void replay__rc4_xor(struct replay__rc4 *r, const uint8_t *src, uint8_t *dst, size_t len)
{
    uint32_t *s = r->s;
    uint32_t i = r->i, j = r->j;
    for (size_t k = 0; k < len; k++) {
        i = (i + 1) & 0xff;
        uint32_t ti = s[i];
        j = (j + ti) & 0xff;
        uint32_t tj = s[j];
        s[i] = tj;
        s[j] = ti;
        dst[k] = (uint8_t)(src[k] ^ s[(ti + tj) & 0xff]);
    }
    r->i = i;
    r->j = j;
}

/* ---- keystream made ahead ----
 *
 * The RC4 keystream does not depend on the data, so a helper thread can generate
 * it into a ring while the caller's thread deflates or inflates; the caller then
 * only XORs. Slots are filled in order and consumed in order. */

#define KS_SLOT (256 * 1024)
#define KS_SLOTS 4

struct replay__keystream {
    struct replay__rc4 rc4;
    bool threaded;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint8_t *slots[KS_SLOTS];
    bool full[KS_SLOTS];
    unsigned gen;    /* next slot the helper fills */
    unsigned use;    /* slot the caller reads */
    size_t used;     /* bytes of slot `use` consumed (valid while full[use]) */
    bool stop;
};

static void rc4_keystream(struct replay__rc4 *r, uint8_t *dst, size_t len)
{
    uint32_t *s = r->s;
    uint32_t i = r->i, j = r->j;
    for (size_t k = 0; k < len; k++) {
        i = (i + 1) & 0xff;
        uint32_t ti = s[i];
        j = (j + ti) & 0xff;
        uint32_t tj = s[j];
        s[i] = tj;
        s[j] = ti;
        dst[k] = (uint8_t)s[(ti + tj) & 0xff];
    }
    r->i = i;
    r->j = j;
}

static void *ks_main(void *arg)
{
    struct replay__keystream *k = arg;
    pthread_mutex_lock(&k->lock);
    for (;;) {
        while (k->full[k->gen] && !k->stop)
            pthread_cond_wait(&k->cond, &k->lock);
        if (k->stop)
            break;
        uint8_t *slot = k->slots[k->gen];
        pthread_mutex_unlock(&k->lock);
        rc4_keystream(&k->rc4, slot, KS_SLOT);
        pthread_mutex_lock(&k->lock);
        k->full[k->gen] = true;
        k->gen = (k->gen + 1) % KS_SLOTS;
        pthread_cond_broadcast(&k->cond);
    }
    pthread_mutex_unlock(&k->lock);
    return NULL;
}

static int ks_start(struct replay__keystream *k, struct replay_err *err)
{
    for (int i = 0; i < KS_SLOTS; i++) {
        k->slots[i] = malloc(KS_SLOT);
        if (k->slots[i] == NULL)
            return replay_err_set(err, REPLAY_ENOMEM, "cart keystream: out of memory");
    }
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->cond, NULL);
    k->threaded = true;
    int rc = pthread_create(&k->thread, NULL, ks_main, k);
    if (rc != 0)
        return replay_err_sys(err, REPLAY_ENOMEM, rc, "cart keystream: cannot start thread");
    k->started = true;
    return 0;
}

int replay__keystream_new(const uint8_t *key, size_t key_len, bool threaded,
                          struct replay__keystream **out, struct replay_err *err)
{
    *out = NULL;
    struct replay__keystream *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "cart keystream: out of memory");
    replay__rc4_init(&k->rc4, key, key_len);
    int rc = threaded ? ks_start(k, err) : 0;
    if (rc != 0) {
        replay__keystream_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void replay__keystream_xor(struct replay__keystream *k, const uint8_t *src, uint8_t *dst,
                           size_t len)
{
    if (!k->threaded) {
        replay__rc4_xor(&k->rc4, src, dst, len);
        return;
    }
    while (len > 0) {
        if (k->used == 0) { /* wait for the slot to be generated */
            pthread_mutex_lock(&k->lock);
            while (!k->full[k->use])
                pthread_cond_wait(&k->cond, &k->lock);
            pthread_mutex_unlock(&k->lock);
        }
        const uint8_t *ks = k->slots[k->use] + k->used;
        size_t n = KS_SLOT - k->used < len ? KS_SLOT - k->used : len;
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i] ^ ks[i];
        src += n;
        dst += n;
        len -= n;
        k->used += n;
        if (k->used == KS_SLOT) { /* give the slot back */
            pthread_mutex_lock(&k->lock);
            k->full[k->use] = false;
            k->use = (k->use + 1) % KS_SLOTS;
            k->used = 0;
            pthread_cond_broadcast(&k->cond);
            pthread_mutex_unlock(&k->lock);
        }
    }
}

void replay__keystream_free(struct replay__keystream *k)
{
    if (k == NULL)
        return;
    if (k->started) {
        pthread_mutex_lock(&k->lock);
        k->stop = true;
        pthread_cond_broadcast(&k->cond);
        pthread_mutex_unlock(&k->lock);
        pthread_join(k->thread, NULL);
    }
    if (k->threaded) {
        pthread_cond_destroy(&k->cond);
        pthread_mutex_destroy(&k->lock);
    }
    for (int i = 0; i < KS_SLOTS; i++)
        free(k->slots[i]);
    free(k);
}

/* ---- digests ---- */

/* Two helpers share one ring: md5 (the slowest) on one, sha1 and sha256 (SHA-NI
 * makes them fast) on the other, so hashing keeps up with inflate and RC4 on the
 * caller's thread. A slot is free again once every helper has hashed it. */
#define SLOT_SIZE (256 * 1024)
#define N_SLOTS 4 /* 1 MiB of ring: the helpers can lag a few slots behind */
#define N_ALGS 3
#define N_HELPERS 2

struct slot {
    uint8_t *buf;
    size_t len;
    unsigned pending; /* bit h set: helper h has not hashed it yet; 0 = free */
};

struct replay__digest;

struct helper {
    struct replay__digest *d;
    pthread_t thread;
    bool started;
    unsigned bit;
    unsigned next;    /* next slot this helper hashes */
    int first, count; /* its algorithms: ctx[first .. first + count - 1] */
};

struct replay__digest {
    EVP_MD_CTX *ctx[N_ALGS];
    uint64_t length;
    bool threaded;
    bool failed;     /* an EVP call failed (helper or inline) */
    bool finalized;
    /* threaded only: */
    bool sync_init;  /* lock and cond initialised */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct helper helpers[N_HELPERS];
    struct slot slots[N_SLOTS];
    unsigned fill;   /* slot the producer is filling */
    bool stop;       /* no more slots will come */
    bool abort;      /* drop what is left */
};

static const EVP_MD *alg(int k)
{
    switch (k) {
    case 0:
        return EVP_md5();
    case 1:
        return EVP_sha1();
    default:
        return EVP_sha256();
    }
}

static bool hash_block(struct replay__digest *d, int first, int count, const uint8_t *buf,
                       size_t len)
{
    for (int k = first; k < first + count; k++) {
        if (EVP_DigestUpdate(d->ctx[k], buf, len) != 1)
            return false;
    }
    return true;
}

/* Helper thread: hashes its share of each full slot, in ring order, until the
 * producer stops (and nothing is left for it) or aborts. */
static void *helper_main(void *arg)
{
    struct helper *h = arg;
    struct replay__digest *d = h->d;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        struct slot *s = &d->slots[h->next];
        while (!(s->pending & h->bit) && !d->stop && !d->abort)
            pthread_cond_wait(&d->cond, &d->lock);
        if (d->abort || !(s->pending & h->bit))
            break;
        pthread_mutex_unlock(&d->lock);
        bool ok = hash_block(d, h->first, h->count, s->buf, s->len);
        pthread_mutex_lock(&d->lock);
        if (!ok)
            d->failed = true;
        s->pending &= ~h->bit;
        if (s->pending == 0) {
            s->len = 0;
            pthread_cond_broadcast(&d->cond);
        }
        h->next = (h->next + 1) % N_SLOTS;
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

bool replay__digest_threads_pay(void)
{
    return sysconf(_SC_NPROCESSORS_ONLN) > 1;
}

static int start_helpers(struct replay__digest *d, struct replay_err *err)
{
    static const int first[N_HELPERS] = {0, 1}, count[N_HELPERS] = {1, 2};
    for (int k = 0; k < N_SLOTS; k++) {
        d->slots[k].buf = malloc(SLOT_SIZE);
        if (d->slots[k].buf == NULL)
            return replay_err_set(err, REPLAY_ENOMEM, "cart digests: out of memory");
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    d->sync_init = true;
    for (int i = 0; i < N_HELPERS; i++) {
        struct helper *h = &d->helpers[i];
        *h = (struct helper){.d = d, .bit = 1u << i, .first = first[i], .count = count[i]};
        int rc = pthread_create(&h->thread, NULL, helper_main, h);
        if (rc != 0)
            return replay_err_sys(err, REPLAY_ENOMEM, rc, "cart digests: cannot start thread");
        h->started = true;
    }
    return 0;
}

int replay__digest_new(bool threaded, struct replay__digest **out, struct replay_err *err)
{
    *out = NULL;
    struct replay__digest *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "cart digests: out of memory");
    d->threaded = threaded;
    for (int k = 0; k < N_ALGS; k++) {
        d->ctx[k] = EVP_MD_CTX_new();
        if (d->ctx[k] == NULL || EVP_DigestInit_ex(d->ctx[k], alg(k), NULL) != 1) {
            replay__digest_free(d);
            return replay_err_set(err, REPLAY_ENOMEM, "cart digests: cannot set up %s",
                                  EVP_MD_get0_name(alg(k)));
        }
    }
    if (threaded) {
        int rc = start_helpers(d, err);
        if (rc != 0) {
            replay__digest_free(d);
            return rc;
        }
    }
    *out = d;
    return 0;
}

/* Hands the producer's slot to the helpers and waits until the next one is free. */
static void submit_slot(struct replay__digest *d)
{
    pthread_mutex_lock(&d->lock);
    d->slots[d->fill].pending = (1u << N_HELPERS) - 1;
    d->fill = (d->fill + 1) % N_SLOTS;
    pthread_cond_broadcast(&d->cond);
    while (d->slots[d->fill].pending != 0)
        pthread_cond_wait(&d->cond, &d->lock);
    pthread_mutex_unlock(&d->lock);
}

int replay__digest_update(struct replay__digest *d, const void *data, size_t len,
                          struct replay_err *err)
{
    const uint8_t *p = data;
    d->length += len;
    if (!d->threaded) {
        if (len > 0 && !hash_block(d, 0, N_ALGS, p, len))
            d->failed = true;
        return d->failed ? replay_err_set(err, REPLAY_EIO, "cart digests: hashing failed") : 0;
    }
    while (len > 0) {
        /* The producer owns slot `fill` while nothing is pending on it. */
        struct slot *s = &d->slots[d->fill];
        size_t n = SLOT_SIZE - s->len < len ? SLOT_SIZE - s->len : len;
        memcpy(s->buf + s->len, p, n);
        s->len += n;
        p += n;
        len -= n;
        if (s->len == SLOT_SIZE)
            submit_slot(d);
    }
    return 0;
}

static void hex(const unsigned char *md, unsigned n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Ends the helpers: after the last (partial) slot when draining, at once when not. */
static void stop_helpers(struct replay__digest *d, bool drain)
{
    pthread_mutex_lock(&d->lock);
    if (drain && d->slots[d->fill].len > 0)
        d->slots[d->fill].pending = (1u << N_HELPERS) - 1;
    d->stop = true;
    d->abort = !drain;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    for (int i = 0; i < N_HELPERS; i++) {
        if (d->helpers[i].started)
            pthread_join(d->helpers[i].thread, NULL);
        d->helpers[i].started = false;
    }
}

int replay__digest_final(struct replay__digest *d, struct replay_cart_digests *out,
                         struct replay_err *err)
{
    if (d->finalized)
        return replay_err_set(err, REPLAY_EINVAL, "cart digests: already finalized");
    d->finalized = true;
    if (d->sync_init)
        stop_helpers(d, true);
    if (d->failed)
        return replay_err_set(err, REPLAY_EIO, "cart digests: hashing failed");
    char *dst[N_ALGS] = {out->md5, out->sha1, out->sha256};
    for (int k = 0; k < N_ALGS; k++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (EVP_DigestFinal_ex(d->ctx[k], md, &n) != 1)
            return replay_err_set(err, REPLAY_EIO, "cart digests: hashing failed");
        hex(md, n, dst[k]);
    }
    out->length = d->length;
    return 0;
}

void replay__digest_free(struct replay__digest *d)
{
    if (d == NULL)
        return;
    if (d->sync_init) {
        stop_helpers(d, false);
        pthread_cond_destroy(&d->cond);
        pthread_mutex_destroy(&d->lock);
    }
    for (int k = 0; k < N_SLOTS; k++)
        free(d->slots[k].buf);
    for (int k = 0; k < N_ALGS; k++)
        EVP_MD_CTX_free(d->ctx[k]);
    free(d);
}
