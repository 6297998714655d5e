/*
 * Fuzz target for the filestore's parsers of outside input: the first byte picks
 * which one gets the rest.
 *   0: a filestore URL (urlparse/parse_qs rules, then every scheme's option
 *      checks, without any I/O)
 *   1: an object name (name checks, then the upstream location join)
 *   2: an S3/Azure XML answer (element text, entity decoding, listing walk)
 *   3: a line of an FTP/SFTP directory listing
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filestore_int.h"
#include "replay/filestore.h"
#include "replay/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(const char *text, void *ctx)
{
    (*(size_t *)ctx) += strlen(text);
    return 0;
}

static void fuzz_url(const char *s)
{
    struct replay__fs_url u;
    struct replay_err err = {0};
    if (replay__fs_url_parse(s, &u, &err) == 0) {
        (void)replay__fs_url_opt(&u, "access_key");
        (void)replay__fs_url_bool(&u, "read_only", false);
        replay__fs_url_clear(&u);
    }
    replay_err_clear(&err);
    if (replay_filestore_check_url(s, &err) != 0 && err.msg[0] == '\0')
        abort(); /* every failure explains itself */
}

static void fuzz_name(const char *s)
{
    char out[REPLAY__FS_MAX_PATH], enc[REPLAY__FS_MAX_PATH * 3];
    if (replay__fs_check_name(s, NULL) != 0)
        return;
    if (replay__fs_join("/base", s, out, sizeof(out), NULL) == 0 &&
        replay__fs_url_encode(out, true, enc, sizeof(enc), NULL) == 0 && enc[0] != '/')
        abort(); /* the join of an absolute base stays absolute */
    (void)replay__fs_basename(s);
}

static void fuzz_xml(const char *s, size_t len)
{
    char out[256];
    size_t total = 0;
    (void)replay__xml_text(s, len, "Key", out, sizeof(out));
    (void)replay__xml_text(s, len, "UploadId", out, sizeof(out));
    (void)replay__xml_each(s, len, "Contents", "Key", 64, count, &total);
    (void)replay__xml_each(s, len, "Blob", "Name", 64, count, &total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        replay_log_init("fuzz", REPLAY_LOG_DISABLED, REPLAY_LOG_TEXT, 2);
        quiet = 1;
    }
    if (size < 1 || size > 65536)
        return 0;
    char *s = malloc(size);
    if (s == NULL)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    const char *name;
    switch (data[0] % 4) {
    case 0:
        fuzz_url(s);
        break;
    case 1:
        fuzz_name(s);
        break;
    case 2:
        fuzz_xml(s, size - 1); /* not NUL-terminated for the parser */
        break;
    default:
        (void)replay__fs_parse_list_line(s, &name);
        break;
    }
    free(s);
    return 0;
}
