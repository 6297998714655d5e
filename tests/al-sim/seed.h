/*
 * seed: test data for al-sim: submissions with real files (random bytes),
 * results and errors, alerts on some of them, and badlist, safelist, signature
 * and workflow items, written straight into a store (offline with
 * `al-sim seed`, or online through POST /_sim/seed).
 *
 * Everything is derived from a seed number, so the same options give the same
 * ids and bytes. Files are written in 64 KiB blocks: a multi-GiB file costs no
 * memory. Not thread-safe per store call sequence, but the store itself is.
 */
#ifndef ALSIM_SEED_H
#define ALSIM_SEED_H

#include <stdint.h>

#include <jansson.h>

#include "store.h"

struct alsim_seed_opts {
    long submissions;         /* number of submissions */
    long files_per_submission;/* files in each (1 root + extracted children) */
    int64_t file_size;        /* bytes of each ordinary file */
    int64_t large_file;       /* bytes of one extra large file in the first submission (0 = none) */
    long results_per_file;    /* service results per file */
    long errors_per_submission;
    long alerts;              /* the first N submissions get an alert */
    long badlist, safelist, signatures, workflows;
    const char *submission_state; /* NULL, "requested", "pending" or "done" */
    const char *alert_state;
    const char *classification;
    int64_t start_us;         /* time of the first item (epoch µs); 0 = now - count s */
    int64_t spacing_ms;       /* between consecutive items */
    uint64_t rng_seed;        /* 0 = from the clock */
};

void alsim_seed_defaults(struct alsim_seed_opts *o);
/* Reads options from a JSON object (same names as the command line, with '_').
 * -1 with err on an unknown key or a bad value. */
int alsim_seed_opts_from_json(const json_t *j, struct alsim_seed_opts *o, char err[ALSIM_ERRLEN]);
/* Creates the data. *summary (new object) lists the ids created. */
int alsim_seed_run(struct alsim_store *s, const struct alsim_seed_opts *o, json_t **summary,
                   char err[ALSIM_ERRLEN]);

#endif
