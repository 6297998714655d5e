/* fswatch internals shared by fswatch.c (records, walk), fswatch_wait.c (libuv
 * waits and inotify watches) and fswatch_state.c (the state file). */
#ifndef REPLAY_FSWATCH_INT_H
#define REPLAY_FSWATCH_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "replay/fswatch.h"

/* Record flags. */
#define REPLAY__FSW_SETTLED 0x1u /* unchanged for settle_ms */
#define REPLAY__FSW_REFUSED 0x2u /* not a regular file: never reported (logged once) */
#define REPLAY__FSW_LOADED 0x4u  /* read from the state file, not seen since */

/* One candidate file. The relative path follows the struct. */
struct replay__fsw_rec {
    uint64_t dev, ino;
    int64_t size, mtime_ns;
    int64_t mark;       /* the caller's */
    uint64_t since_ms;  /* replay_now_ms() when these attributes were first seen */
    uint32_t gen;       /* the last pass that saw it */
    uint32_t hash;
    uint16_t len;       /* of rel */
    uint8_t flags;
    uint8_t kind;       /* enum replay_names_kind */
    char rel[];
};

/* An inotify watch on a directory (rel "" is the root). */
struct replay__fsw_watch {
    uv_fs_event_t handle;
    char *rel;
};

struct replay_fswatch {
    struct replay_fswatch_options o;
    char *root;         /* as given, trailing slashes dropped ("/" stays) */
    size_t root_len;
    char **skip;        /* copies of o.skip_dirs */
    /* records: open addressing, linear probing, `cap` a power of two */
    struct replay__fsw_rec **slots;
    size_t cap, count;
    uint64_t seed;
    uint32_t gen;
    bool scanned;
    bool cap_logged;    /* "more than max_files" was said */
    char tag[REPLAY_FSWATCH_TAG_MAX + 1]; /* the owner's word, kept in the state's header */
    /* identity of the input directory */
    bool root_known;
    uint64_t root_dev, root_ino;
    uint64_t root_changed_ms; /* when another directory was first seen there; 0: none */
    /* waiting */
    bool loop_ok;
    uv_loop_t loop;
    uv_timer_t timer;
    struct replay__fsw_watch **watches; /* sorted by rel */
    size_t n_watches;
    char **dirs;        /* directories listed by the last pass (at most max_watches) */
    size_t n_dirs, cap_dirs;
    bool hint;          /* a name appeared or went since the last pass began */
    uint64_t last_end_ms, last_duration_ms;
};

/* The record of rel (len bytes), or NULL. */
struct replay__fsw_rec *replay__fsw_find(struct replay_fswatch *w, const char *rel, size_t len);
/* A new record for rel, attributes zero, not yet in a pass. NULL on ENOMEM. */
struct replay__fsw_rec *replay__fsw_add(struct replay_fswatch *w, const char *rel, size_t len);

/* Starts the libuv loop (REPLAY_EIO when it cannot). */
REPLAY_MUST_CHECK int replay__fsw_loop_open(struct replay_fswatch *w, struct replay_err *err);
/* Watches the directories of the last pass (w->dirs) and no others. */
void replay__fsw_watch_update(struct replay_fswatch *w);
void replay__fsw_loop_close(struct replay_fswatch *w);

#endif
