/* fswatch: waiting between passes, woken early by inotify hints (libuv fs events
 * on the directories the last pass listed). */
#include "fswatch_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/log.h"

/* Longest single sleep: how soon a wait notices shutdown. */
#define CANCEL_POLL_MS 200u

int replay__fsw_loop_open(struct replay_fswatch *w, struct replay_err *err)
{
    int rc = uv_loop_init(&w->loop);
    if (rc != 0)
        return replay_err_set(err, REPLAY_EIO, "fswatch: libuv loop: %s", uv_strerror(rc));
    rc = uv_timer_init(&w->loop, &w->timer);
    if (rc != 0) {
        uv_loop_close(&w->loop);
        return replay_err_set(err, REPLAY_EIO, "fswatch: libuv timer: %s", uv_strerror(rc));
    }
    w->loop_ok = true;
    return 0;
}

static void on_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct replay_fswatch *w = h->loop->data;
    /* Only a name appearing or going matters (a write does not settle a file
     * sooner), and dot-files never become candidates. */
    if (status == 0 && (events & UV_RENAME) && (name == NULL || name[0] != '.'))
        w->hint = true;
}

static void on_closed(uv_handle_t *h)
{
    struct replay__fsw_watch *wa = h->data;
    free(wa->rel);
    free(wa);
}

static void unwatch(struct replay__fsw_watch *wa)
{
    uv_fs_event_stop(&wa->handle);
    uv_close((uv_handle_t *)&wa->handle, on_closed);
}

static struct replay__fsw_watch *watch(struct replay_fswatch *w, const char *rel)
{
    char path[PATH_MAX];
    struct replay__fsw_watch *wa = calloc(1, sizeof(*wa));
    if (wa == NULL || (wa->rel = strdup(rel)) == NULL) {
        free(wa);
        return NULL;
    }
    snprintf(path, sizeof(path), "%s%s%s", w->root, rel[0] != '\0' ? "/" : "", rel);
    wa->handle.data = wa;
    if (uv_fs_event_init(&w->loop, &wa->handle) != 0) {
        on_closed((uv_handle_t *)&wa->handle);
        return NULL;
    }
    int rc = uv_fs_event_start(&wa->handle, on_event, path, 0);
    if (rc != 0) {
        /* Out of inotify watches, or the directory went: the periodic pass covers it. */
        replay_debug("No inotify watch on %s: %s", path, uv_strerror(rc));
        uv_close((uv_handle_t *)&wa->handle, on_closed);
        return NULL;
    }
    return wa;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void replay__fsw_watch_update(struct replay_fswatch *w)
{
    if (!w->loop_ok || w->o.max_watches < 0)
        return;
    w->loop.data = w;
    qsort(w->dirs, w->n_dirs, sizeof(*w->dirs), cmp_str);
    struct replay__fsw_watch **next = calloc(w->n_dirs + 1, sizeof(*next));
    if (next == NULL)
        return; /* keep the old watches: they are hints only */
    size_t i = 0, j = 0, n = 0;
    /* Both lists are sorted: keep the common ones, drop the old, add the new. */
    while (i < w->n_watches || j < w->n_dirs) {
        int c = i == w->n_watches ? 1 : j == w->n_dirs ? -1 : strcmp(w->watches[i]->rel, w->dirs[j]);
        if (c < 0) {
            unwatch(w->watches[i++]);
        } else if (c == 0) {
            next[n++] = w->watches[i++];
            j++;
        } else if ((next[n] = watch(w, w->dirs[j++])) != NULL) {
            n++;
        }
    }
    free(w->watches);
    w->watches = next;
    w->n_watches = n;
}

static void on_timer(uv_timer_t *t)
{
    (void)t;
}

int replay_fswatch_wait(struct replay_fswatch *w, uint64_t deadline_ms,
                        const struct replay_cancel *cancel, struct replay_err *err)
{
    uint64_t gap = 2 * w->last_duration_ms;
    gap = gap > REPLAY_FSWATCH_MIN_GAP_MS ? gap : REPLAY_FSWATCH_MIN_GAP_MS;
    w->loop.data = w;
    replay_idle_begin();
    int code = 0;
    for (;;) {
        uint64_t now = replay_now_ms();
        uint64_t early = w->hint ? w->last_end_ms + gap : UINT64_MAX;
        if (replay_cancel_requested(cancel)) {
            code = replay_err_set(err, REPLAY_ECANCELED, "wait canceled by shutdown");
            break;
        }
        if (now >= deadline_ms || now >= early)
            break;
        uint64_t until = deadline_ms < early ? deadline_ms : early;
        until = until < now + CANCEL_POLL_MS ? until : now + CANCEL_POLL_MS;
        /* libuv's clock stood still during the pass: without this the timer would
         * be due already, fire first, and leave UV_RUN_ONCE polling with no timeout. */
        uv_update_time(&w->loop);
        uv_timer_start(&w->timer, on_timer, until - now, 0);
        uv_run(&w->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&w->timer);
    replay_idle_end();
    return code;
}

void replay__fsw_loop_close(struct replay_fswatch *w)
{
    if (!w->loop_ok)
        return;
    for (size_t i = 0; i < w->n_watches; i++)
        unwatch(w->watches[i]);
    free(w->watches);
    w->watches = NULL;
    w->n_watches = 0;
    uv_close((uv_handle_t *)&w->timer, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT); /* runs the close callbacks */
    if (uv_loop_close(&w->loop) != 0)
        replay_warn("fswatch: the libuv loop still had handles at close");
    w->loop_ok = false;
}
