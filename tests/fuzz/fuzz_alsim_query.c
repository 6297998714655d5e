/*
 * Fuzz target: al-sim's Lucene-subset query parser and evaluator (tests/al-sim/
 * query.c), which reads the query and filters of every search, bulk pending and
 * workflow request, and its sort parser (sort.c), which reads the sort of every
 * search. Any input must parse or fail with a message; a parsed query must
 * evaluate against a document with nested objects, flat dotted keys, arrays,
 * dates, numbers, booleans and nulls, and a parsed sort must be checked against
 * the alert mapping and order documents, without crashing or leaking.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "query.h"
#include "sort.h"

static bool is_date(const char *field, void *ud)
{
    (void)ud;
    return strcmp(field, "reporting_ts") == 0 || strcmp(field, "times.completed") == 0;
}

static const char DOC[] =
    "{\"alert_id\": \"A1\", \"reporting_ts\": \"2024-05-01T10:00:00.123456Z\", \"score\": 5,"
    " \"ok\": true, \"none\": null, \"label\": [\"a\", \"b-c\"], \"times\": {\"completed\": 0},"
    " \"metadata\": {\"replay\": \"pending\", \"bundle.loaded\": \"2024\"},"
    " \"files\": [{\"sha256\": \"x\"}, {\"sha256\": \"y\", \"n\": 1.5}], \"title\": \"Hello World\"}";

/* The input as a sort: parsed, checked, and used on two documents. */
static void fuzz_sort(const char *text, json_t *doc)
{
    struct alsim_sort s;
    char err[ALSIM_SORT_ERR_LEN];
    if (alsim_sort_parse(text, &s, err) != 0) {
        if (err[0] == '\0')
            abort();
        return;
    }
    if (alsim_sort_check(&s, ALSIM_ALERT, err) != 0 && err[0] == '\0')
        abort();
    struct alsim_item items[2] = {{strdup("B"), json_incref(doc)}, {strdup("A"), json_object()}};
    if (alsim_sort_items(items, 2, ALSIM_ALERT, &s, err) != 0)
        abort(); /* only ENOMEM fails */
    for (int i = 0; i < 2; i++) {
        free(items[i].id);
        json_decref(items[i].doc);
    }
    alsim_sort_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *doc;
    if (doc == NULL)
        doc = json_loads(DOC, 0, NULL);
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct alsim_query_opts opts = {.now_ms = 1714564800000LL, .is_date = is_date};
    struct alsim_query *q = NULL;
    char err[ALSIM_QUERY_ERR_LEN];
    if (alsim_query_parse(text, &opts, &q, err) == 0) {
        (void)alsim_query_match(q, doc, "DOCID");
        alsim_query_free(q);
    } else if (err[0] == '\0') {
        abort(); /* a failure always says why */
    }
    fuzz_sort(text, doc);
    free(text);
    return 0;
}
