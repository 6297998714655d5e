/*
 * Fuzz target for the FTP/SFTP directory listing parser (filestore_list.c):
 * network input. The input is a listing; its first byte picks how it is cut
 * into chunks, as the network cuts it. Each line also goes through the line
 * parser alone.
 *
 * Invariants: every name handed out is non-empty, has no line feed, does not
 * end with the CR of a CRLF line end and does not start with a blank; the names do not depend on the chunking (the
 * same as when the listing comes in one piece); a stop from the callback stops
 * the listing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filestore_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct names {
    uint64_t digest; /* of every name, in order */
    size_t n, stop_at;
};

static int collect(const char *name, void *ctx)
{
    struct names *s = ctx;
    size_t len = strlen(name);
    if (len == 0 || name[0] == ' ' || name[0] == '\t' || strchr(name, '\n') != NULL ||
        name[len - 1] == '\r')
        abort(); /* (a CR inside a name stays: the filestore refuses such names later) */
    for (const char *c = name;; c++) {
        s->digest = (s->digest ^ (unsigned char)*c) * 1099511628211ULL;
        if (*c == '\0')
            break;
    }
    return ++s->n == s->stop_at ? REPLAY_EBUSY : 0;
}

static int run(const char *p, size_t n, size_t chunk, struct names *s)
{
    struct replay__fs_lister *l = malloc(sizeof(*l));
    if (l == NULL)
        abort();
    replay__fs_lister_init(l, collect, s);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < n; off += chunk)
        rc = replay__fs_lister_feed(l, p + off, n - off < chunk ? n - off : chunk);
    if (rc == 0)
        rc = replay__fs_lister_end(l);
    free(l);
    return rc;
}

static void lines(const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl != NULL ? (size_t)(nl - p) : n;
        char *line = malloc(len + 1);
        if (line == NULL)
            abort();
        memcpy(line, p, len);
        line[len] = '\0';
        const char *name = NULL;
        if (replay__fs_parse_list_line(line, &name) == 1 &&
            (name < line || name >= line + len || name[0] == '\0'))
            abort();
        free(line);
        p += len + (nl != NULL);
        n -= len + (nl != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct names whole = {14695981039346656037ULL, 0, 0};
    struct names cut = whole;
    if (run(p, n, n + 1, &whole) != 0 || run(p, n, chunk, &cut) != 0)
        abort();
    if (whole.n != cut.n || whole.digest != cut.digest)
        abort(); /* the chunking changed what was listed */
    if (whole.n > 0) {
        struct names stop = {0, 0, 1};
        if (run(p, n, chunk, &stop) != REPLAY_EBUSY || stop.n != 1)
            abort();
    }
    lines(p, n);
    return 0;
}
