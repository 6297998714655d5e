/* replay-loader-worker: .al_json and .al_json.cart files, a JSON array of badlist,
 * safelist, signature or workflow documents (formats.md §3.4, al-rest-api.md §7.4).
 *
 * The file is read twice from its descriptor, never held in memory nor unpacked
 * to disk: first checked whole (the CaRT's digests, the array's syntax), so a
 * corrupt or cut file loads nothing; then each document is taken as it streams
 * by (common/jsonstream), parsed on its own, and loaded as upstream's load_json
 * does, but every document of the file (upstream stops after the first one it
 * creates, §11 B5):
 *   - its `id` is taken out and the target's copy asked for;
 *   - badlist, safelist: the target's `enabled` is kept, and `user` sources of
 *     other accounts go as `external` ones (user_sources_as_external); signature:
 *     its `status`;
 *     workflow: its `enabled` when `edited_by` differs;
 *   - written with the list's add_update, or a workflow's update.
 * A workflow added to a real server gets a new random id (§11 B10), so a workflow
 * the target does not know by id is looked up by its exact name, and that one is
 * updated: replaying the same workflows twice leaves one copy of each.
 * Passing failures are retried per document; a document the target refuses (4xx,
 * or a 500 that stays) is recorded and the rest go on; the file then fails with
 * the list. */
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/archive.h"
#include "replay/jsonstream.h"
#include "replay/log.h"
#include "replay/service.h"
#include "worker.h"

/* ---- reading the export ---- */

/* Streams the whole export (common/archive: digests, syntax) to fn. */
static int stream_export(struct lworker_job *j, replay_jsonstream_item_fn fn, void *ctx,
                         struct replay_err *err)
{
    return replay_archive_export_fd(j->fd, j->kind == REPLAY_NAMES_JSON_CART, fn, ctx,
                                    j->r->cancel, &j->items_total, NULL, err);
}

/* ---- one document ---- */

struct doc {
    struct lworker_job *j;
    const char *collection; /* "badlist", ... */
    json_t *item;           /* the document, `id` taken out */
    const char *id;
};

/* Copies `key` of the target's copy into the item (when the copy has it). */
static void keep(json_t *item, json_t *stored, const char *key)
{
    json_t *v = json_object_get(stored, key);
    if (v != NULL)
        json_object_set(item, key, v);
}

/* A real server's add_update accepts a `user` source only when it is named
 * after the caller (al-rest-api.md §5.10), so an entry several analysts listed
 * on the source could never be replayed through the API. Their sources go as
 * `external` sources of the same name, reason and classification (the replay
 * account needs signature_import for those, as for any feed's): who listed the
 * hash and why reaches the target. Returns how many were changed. */
static size_t user_sources_as_external(json_t *item, const char *caller)
{
    size_t changed = 0, i;
    json_t *src;
    json_array_foreach(json_object_get(item, "sources"), i, src) {
        const char *type = json_string_value(json_object_get(src, "type"));
        const char *name = json_string_value(json_object_get(src, "name"));
        if (type != NULL && strcmp(type, "user") == 0 && name != NULL &&
            (caller == NULL || strcmp(name, caller) != 0)) {
            json_object_set_new(src, "type", json_string("external"));
            changed++;
        }
    }
    return changed;
}

/* upstream's merge: what the target's operators changed stays. */
static void merge(const struct doc *d, json_t *stored)
{
    const char *caller = d->j->r->slot->cfg->loader.client.user;
    bool hashlist = strcmp(d->collection, "badlist") == 0 ||
                    strcmp(d->collection, "safelist") == 0;
    if (hashlist && user_sources_as_external(d->item, caller) > 0)
        d->j->docs_sources_changed++;
    if (stored == NULL)
        return;
    if (strcmp(d->collection, "signature") == 0) {
        keep(d->item, stored, "status");
    } else if (strcmp(d->collection, "workflow") != 0) {
        keep(d->item, stored, "enabled");
    } else {
        json_t *mine = json_object_get(d->item, "edited_by");
        json_t *theirs = json_object_get(stored, "edited_by");
        if (!json_equal(mine, theirs))
            keep(d->item, stored, "enabled");
    }
}

/* `name:"<name>"` with the phrase's special characters escaped. */
static char *name_query(const char *name)
{
    size_t n = strlen(name);
    char *q = malloc(2 * n + 16);
    if (q == NULL)
        return NULL;
    char *p = q + sprintf(q, "name:\"");
    for (const char *s = name; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            *p++ = '\\';
        *p++ = *s;
    }
    strcpy(p, "\"");
    return q;
}

/* The target's workflow of the same name (a real server gave it another id), if
 * any: *stored and *id set (the caller releases them), else both NULL. */
static int workflow_by_name(struct doc *d, json_t **stored, char **id, int *status,
                            struct replay_err *err)
{
    const char *name = json_string_value(json_object_get(d->item, "name"));
    *stored = NULL;
    *id = NULL;
    if (name == NULL)
        return 0; /* the target will say what is missing */
    char *query = name_query(name);
    if (query == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    struct replay_alclient_search s = {.query = query, .fl = "*", .rows = 2};
    struct replay_alclient_page page;
    int code = replay_alclient_search(d->j->r->client, "workflow", &s, &page, err);
    *status = replay_alclient_http_status(d->j->r->client);
    if (code == 0 && page.n_items > 0) {
        *stored = json_loads(page.items[0], 0, NULL);
        const char *wid = json_string_value(json_object_get(*stored, "workflow_id"));
        *id = wid != NULL ? strdup(wid) : NULL;
        if (page.n_items > 1)
            replay_warn("More than one workflow is named \"%s\" on the target: updating %s", name,
                        *id != NULL ? *id : "(none)");
    }
    replay_alclient_page_clear(&page);
    free(query);
    return code;
}

/* Writes the merged document: a workflow updated under `target_id` or added. */
static int write_doc(struct doc *d, const char *target_id, int *status, struct replay_err *err)
{
    struct replay_alclient *c = d->j->r->client;
    char *body = json_dumps(d->item, JSON_COMPACT);
    int code;
    if (body == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    if (strcmp(d->collection, "workflow") != 0)
        code = replay_alclient_list_add_update(c, d->collection, body, NULL, err);
    else if (target_id != NULL)
        code = replay_alclient_workflow_update(c, target_id, body, NULL, err);
    else
        code = replay_alclient_workflow_add(c, body, NULL, err);
    *status = replay_alclient_http_status(c);
    free(body);
    return code;
}

/* One try: the target's copy, the merge, the write. Retried as a whole. */
static int step_doc(void *ctx, int *status, struct replay_err *err)
{
    struct doc *d = ctx;
    struct replay_alclient *c = d->j->r->client;
    char *text = NULL, *target_id = NULL;
    json_t *stored = NULL;
    int code = replay_alclient_list_get(c, d->collection, d->id, &text, err);
    *status = replay_alclient_http_status(c);
    if (code == 0) {
        stored = json_loads(text, 0, NULL);
        target_id = strcmp(d->collection, "workflow") == 0 ? strdup(d->id) : NULL;
    } else if (code == REPLAY_ENOTFOUND) {
        replay_err_clear(err);
        code = strcmp(d->collection, "workflow") == 0
                   ? workflow_by_name(d, &stored, &target_id, status, err)
                   : 0;
    }
    if (code == 0) {
        merge(d, stored);
        code = write_doc(d, target_id, status, err);
    }
    json_decref(stored);
    free(text);
    free(target_id);
    return code;
}

/* ---- the documents of the file ---- */

static int refused(struct lworker_job *j, const char *id, const char *reason)
{
    j->items_failed++;
    replay_warn("Not loaded: document %s of %s: %s", id, j->path, reason);
    if (j->n_items >= REPLAY_FAILED_MAX_ITEMS)
        return 0;
    struct replay_failed_item *it = realloc(j->items, (j->n_items + 1) * sizeof(*it));
    if (it == NULL)
        return REPLAY_ENOMEM;
    j->items = it;
    it[j->n_items].id = strdup(id);
    it[j->n_items].reason = strdup(reason);
    if (it[j->n_items].id == NULL || it[j->n_items].reason == NULL) {
        free((char *)it[j->n_items].id);
        free((char *)it[j->n_items].reason);
        return REPLAY_ENOMEM;
    }
    j->n_items++;
    return 0;
}

struct load {
    struct lworker_job *j;
    const char *collection;
};

/* The document of `it` without its `id`, and the id in *id (malloc'd: "#<index>"
 * when the document has none), or NULL and the reason it cannot be loaded (in
 * `jerr`'s text when jansson cannot read it, e.g. a number past a double). */
static json_t *take_doc(const struct replay_jsonstream_item *it, char **id, const char **why,
                        json_error_t *jerr)
{
    json_t *doc = it->json != NULL ? json_loadb(it->json, it->len, JSON_DECODE_ANY, jerr) : NULL;
    json_t *jid = json_object_get(doc, "id");
    *why = it->json == NULL              ? it->skipped
           : doc == NULL                 ? jerr->text
           : !json_is_object(doc)        ? "not a JSON object"
           : json_string_length(jid) == 0 ? "no \"id\""
                                         : NULL;
    if (*why == NULL)
        *id = strdup(json_string_value(jid));
    else if (asprintf(id, "#%zu", it->index) < 0)
        *id = NULL;
    if (*why != NULL || *id == NULL) {
        json_decref(doc);
        return NULL;
    }
    json_object_del(doc, "id");
    return doc;
}

static int load_doc(void *ctx, const struct replay_jsonstream_item *it, struct replay_err *err)
{
    struct load *l = ctx;
    char *id = NULL, what[320];
    const char *why = NULL;
    struct doc d = {.j = l->j, .collection = l->collection};
    struct replay_err derr = {0};
    json_error_t jerr;
    d.item = take_doc(it, &id, &why, &jerr);
    d.id = id;
    int code = id == NULL ? replay_err_set(err, REPLAY_ENOMEM, "out of memory") : 0;
    if (code == 0 && d.item == NULL) {
        code = refused(l->j, id, why);
    } else if (code == 0) {
        snprintf(what, sizeof(what), "load %s %.200s", l->collection, id);
        code = replay_service_retry(&l->j->r->backoff, l->j->r->cancel, step_doc, &d, what,
                                    &derr);
        code = code == 0 || code == REPLAY_ECANCELED ? code : refused(l->j, id, derr.msg);
        replay_progress();
        lworker_touch(l->j->r);
    }
    json_decref(d.item);
    free(id);
    if (code == REPLAY_ECANCELED)
        return replay_err_set(err, code, "canceled by shutdown");
    return code == 0 ? 0 : replay_err_set(err, REPLAY_ENOMEM, "out of memory");
}

int lworker_lists(struct lworker_job *j, struct replay_err *err)
{
    enum replay_input_type t;
    int code = replay_names_collection(j->base, &t, err);
    j->attempts = 1;
    if (code == 0)
        code = stream_export(j, NULL, NULL, err); /* all of it is sound, or nothing loads */
    if (code != 0)
        return code;
    struct load l = {j, replay_input_name(t)};
    code = stream_export(j, load_doc, &l, err);
    if (code == 0 && j->items_failed > 0)
        code = replay_err_set(err, REPLAY_EHTTP, "%zu of %zu document(s) not loaded (first: "
                                                 "%s: %s)",
                              j->items_failed, j->items_total, j->items[0].id,
                              j->items[0].reason);
    else if (code == 0)
        replay_info("Loaded %zu %s document(s) from %s", j->items_total, l.collection, j->path);
    if (j->docs_sources_changed > 0)
        replay_info("%zu %s document(s) of %s had user sources of other accounts: sent as "
                    "external sources (a target takes user sources from the caller only)",
                    j->docs_sources_changed, l.collection, j->path);
    return code;
}

void lworker_lists_clear(struct lworker_job *j)
{
    for (size_t i = 0; i < j->n_items; i++) {
        free((char *)j->items[i].id);
        free((char *)j->items[i].reason);
    }
    free(j->items);
    j->items = NULL;
    j->n_items = j->items_failed = 0;
}
