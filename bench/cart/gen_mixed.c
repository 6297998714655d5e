/*
 * gen_mixed: writes N MiB of "mixed compressibility" data to stdout for the CaRT
 * benchmark: one MiB in three is random bytes, the other two are JSON-like text
 * (records with hex digests, words, numbers, timestamps), as Assemblyline bundles
 * hold. Deterministic (fixed seed), so runs compare.
 *
 *   gen_mixed MIB > file
 */
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024u * 1024u)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void fill_random(unsigned char *buf, size_t len)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = rng();
        memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
    }
}

static const char *const words[] = {
    "submission", "result", "service", "Extract", "PEFile", "YARA", "antivirus",
    "Characterize", "classification", "TLP:CLEAR", "heuristic", "signature", "section",
    "malicious", "suspicious", "info", "safe", "network.static.domain", "file.pe.imports",
    "archive", "executable/windows/pe32", "document/office/word", "text/json",
    "score", "depth", "children", "truncated", "sha256", "name", "size", "type",
};
#define N_WORDS (sizeof(words) / sizeof(words[0]))

static size_t hex(char *out, unsigned nbytes)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < nbytes; i++) {
        unsigned b = (unsigned)(rng() & 0xff);
        out[2 * i] = digits[b >> 4];
        out[2 * i + 1] = digits[b & 15];
    }
    return 2 * (size_t)nbytes;
}

/* One JSON-like record; returns its length (at most about 600 bytes). */
static size_t record(char *out)
{
    size_t n = 0;
    n += (size_t)sprintf(out + n, "{\"sha256\": \"");
    n += hex(out + n, 32);
    n += (size_t)sprintf(out + n, "\", \"md5\": \"");
    n += hex(out + n, 16);
    n += (size_t)sprintf(out + n, "\", \"size\": %" PRIu64 ", \"created\": \"2026-%02u-%02uT%02u:%02u:%02u.%06uZ\", "
                         "\"type\": \"%s\", \"tags\": [",
                         rng() % 10000000, (unsigned)(rng() % 12 + 1), (unsigned)(rng() % 28 + 1),
                         (unsigned)(rng() % 24), (unsigned)(rng() % 60), (unsigned)(rng() % 60),
                         (unsigned)(rng() % 1000000), words[rng() % N_WORDS]);
    unsigned ntags = (unsigned)(rng() % 6);
    for (unsigned i = 0; i < ntags; i++)
        n += (size_t)sprintf(out + n, "%s\"%s.%s\"", i ? ", " : "", words[rng() % N_WORDS],
                             words[rng() % N_WORDS]);
    n += (size_t)sprintf(out + n, "], \"score\": %u, \"description\": \"%s %s %s %s\"}, ",
                         (unsigned)(rng() % 2001), words[rng() % N_WORDS],
                         words[rng() % N_WORDS], words[rng() % N_WORDS], words[rng() % N_WORDS]);
    return n;
}

static void fill_text(unsigned char *buf, size_t len)
{
    char rec[1024];
    size_t pos = 0;
    while (pos < len) {
        size_t n = record(rec);
        if (n > len - pos)
            n = len - pos;
        memcpy(buf + pos, rec, n);
        pos += n;
    }
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to report, not a death */
    if (argc != 2 || atol(argv[1]) <= 0) {
        fprintf(stderr, "usage: gen_mixed MIB > file\n");
        return 2;
    }
    long mib = atol(argv[1]);
    unsigned char *buf = malloc(MIB);
    if (buf == NULL)
        return 1;
    for (long i = 0; i < mib; i++) {
        if (i % 3 == 2)
            fill_random(buf, MIB);
        else
            fill_text(buf, MIB);
        if (fwrite(buf, 1, MIB, stdout) != MIB) {
            perror("gen_mixed: write");
            free(buf);
            return 1;
        }
    }
    free(buf);
    return 0;
}
