/*
 * Fuzz target for the queue module's parsers of outside input: messages read from
 * Redis (replay_queue_item_parse), messages given to a producer (replay_queue_encode)
 * and the Redis URLs it connects to (config's replay_config_redis_url_parse). The
 * first byte picks the parser: 0..6 a queue type, anything else a URL. Checks beyond "no crash": what encode accepts,
 * item_parse accepts with the same id, and encoding is idempotent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay/config.h"
#include "replay/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_url(const uint8_t *data, size_t size)
{
    char *url = malloc(size + 1);
    struct replay_redis_url u;
    if (url == NULL)
        return;
    memcpy(url, data, size);
    url[size] = '\0';
    if (replay_config_redis_url_parse(url, &u, NULL) == 0 && (u.host[0] == '\0' || u.db < 0))
        abort();
    free(url);
}

static void fuzz_message(enum replay_queue_type t, const char *text, size_t size)
{
    struct replay_queue_item *item = NULL, *again = NULL;
    char *enc = NULL, *enc2 = NULL;
    size_t len = 0, len2 = 0;
    if (replay_queue_item_parse(t, text, size, &item, NULL) == 0) {
        size_t raw_len = 0;
        const char *raw = replay_queue_item_json(item, &raw_len);
        if (raw_len != size || memcmp(raw, text, size) != 0 || replay_queue_item_id(item) == NULL)
            abort();
    }
    if (replay_queue_encode(t, text, size, &enc, &len, NULL) == 0) {
        if (item == NULL || replay_queue_item_parse(t, enc, len, &again, NULL) != 0 ||
            strcmp(replay_queue_item_id(item), replay_queue_item_id(again)) != 0)
            abort();
        if (replay_queue_encode(t, enc, len, &enc2, &len2, NULL) != 0 || len2 != len ||
            memcmp(enc, enc2, len) != 0)
            abort();
    }
    replay_queue_item_free(item);
    replay_queue_item_free(again);
    free(enc);
    free(enc2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] < REPLAY_QUEUE_TYPE_COUNT)
        fuzz_message((enum replay_queue_type)data[0], (const char *)data + 1, size - 1);
    else
        fuzz_url(data + 1, size - 1);
    return 0;
}
