/*
 * Fuzz target for the filestore's parsers of configuration input: the first
 * byte picks which one gets the rest.
 *   even: a filestore URL (urlparse/parse_qs rules, then every scheme's option
 *         checks, without any I/O)
 *   odd:  an object name (name checks, then the upstream location join)
 * The network's input has its own targets: fuzz_filestore_xml (S3/Azure
 * answers) and fuzz_filestore_list (FTP/SFTP listings).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filestore_int.h"
#include "replay/filestore.h"
#include "replay/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    if (data[0] % 2 == 0)
        fuzz_url(s);
    else
        fuzz_name(s);
    free(s);
    return 0;
}
