/*
 * Fuzz target for the XML reading of S3 and Azure answers (filestore_xml.c):
 * network input. The input is one answer body, in a buffer of exactly its size
 * (no NUL after it), read as the backends read it: element texts of every tag
 * they look for, with small and large output buffers, the listing walks, and
 * the error mapping of an error answer.
 *
 * Invariants: a text found fits its buffer with its NUL, and is "" when not
 * found; the end pointer lies inside the body; a walk hands out texts no longer
 * than its limit and stops when told; an error answer always gets a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"
#include "replay/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
    size_t maxlen, seen, stop_at;
};

static int visit(const char *text, void *ctx)
{
    struct walk *w = ctx;
    if (strlen(text) > w->maxlen)
        abort();
    return ++w->seen == w->stop_at ? REPLAY_EBUSY : 0;
}

static void texts(const char *xml, size_t len)
{
    static const char *const tags[] = {"Key",     "UploadId", "Code",       "Message",
                                       "IsTruncated", "NextContinuationToken", "NextMarker",
                                       "Name"};
    static const size_t sizes[] = {1, 2, 16, 1024};
    for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            char out[1024];
            memset(out, 'x', sizeof(out));
            const char *end = replay__xml_text(xml, len, tags[t], out, sizes[s]);
            if (end != NULL && (end < xml || end > xml + len))
                abort();
            if (memchr(out, '\0', sizes[s]) == NULL || (end == NULL && out[0] != '\0'))
                abort();
        }
    }
}

static void walks(const char *xml, size_t len)
{
    static const char *const pairs[][2] = {{"Contents", "Key"}, {"Blob", "Name"}};
    for (size_t i = 0; i < 2; i++) {
        struct walk all = {64, 0, 0}, two = {1024, 0, 2};
        if (replay__xml_each(xml, len, pairs[i][0], pairs[i][1], all.maxlen, visit, &all) != 0)
            abort();
        int rc = replay__xml_each(xml, len, pairs[i][0], pairs[i][1], two.maxlen, visit, &two);
        if (rc != (two.seen == 2 ? REPLAY_EBUSY : 0) || two.seen > 2)
            abort();
    }
}

static void error_answer(const char *xml, size_t len, long status)
{
    struct replay__http_buf body = {(char *)xml, len, len + 1, len, false};
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.body = &body;
    x.status = status;
    struct replay_err err = {0};
    int code = replay__fs_http_error(&x, "GET /b/k", "s3://host", &err);
    if (code >= 0 || err.code != code || err.msg[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        replay_log_init("fuzz", REPLAY_LOG_DISABLED, REPLAY_LOG_TEXT, 2);
        quiet = 1;
    }
    if (size > 65536)
        return 0;
    char *xml = malloc(size + 1);
    if (xml == NULL)
        return 0;
    memcpy(xml, data, size);
    texts(xml, size);
    walks(xml, size);
    xml[size] = '\0'; /* the error mapping reads the body as the transport keeps it */
    error_answer(xml, size, size % 2 == 0 ? 403 : 503);
    free(xml);
    return 0;
}
