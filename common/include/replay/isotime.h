/*
 * isotime: the timestamps Assemblyline writes and Replay compares.
 *
 * Assemblyline stores times as UTC ISO-8601 strings, "YYYY-MM-DDTHH:MM:SS.ffffffZ",
 * and leaves the fraction out when the microseconds are exactly 0 (Python's
 * isoformat, formats.md §3.3). Replay copies them into queries, checkpoints, file
 * names and metadata, and compares them to find the newest item of a batch.
 *
 * Parsing accepts what a server or a hand-written config may give: the date and
 * time with seconds, an optional fraction of 1 to 9 digits, and "Z" or a
 * "+HH:MM"/"-HH:MM"/"+HHMM" offset. Comparisons are of instants (offsets applied,
 * fraction digits of any count), so "...56.1Z" equals "...56.100000Z".
 *
 * Pure functions (the clock excepted); thread-safe.
 */
#ifndef REPLAY_ISOTIME_H
#define REPLAY_ISOTIME_H

#include <stddef.h>
#include <stdint.h>

#include "replay/error.h"

/* Room for any formatted time, terminator included. */
#define REPLAY_ISOTIME_LEN 32

/* An instant: seconds since the epoch (UTC) and nanoseconds (0..999999999). */
struct replay_isotime {
    int64_t sec;
    int32_t nsec;
};

/* The current wall-clock time. */
void replay_isotime_now(struct replay_isotime *out);

/* Writes Assemblyline's form of t into buf (size >= REPLAY_ISOTIME_LEN):
 * microseconds, "Z", no fraction when they are 0. Returns buf. Years outside
 * 0001..9999 are clamped (no Assemblyline time is there). */
char *replay_isotime_format(const struct replay_isotime *t, char *buf, size_t size);

/* Parses `len` bytes of s (NUL not needed). REPLAY_EFORMAT names the text (cut
 * to 64 characters) and what is wrong. */
REPLAY_MUST_CHECK int replay_isotime_parse(const char *s, size_t len, struct replay_isotime *out,
                                           struct replay_err *err);

/* <0, 0, >0 as a is before, equal to, or after b. */
int replay_isotime_cmp(const struct replay_isotime *a, const struct replay_isotime *b);

/* Compares two time texts as instants into *cmp. NULL, "" and "*" (Lucene's open
 * bound, the start value of a checkpoint) come before every time. REPLAY_EFORMAT
 * when a text is neither. */
REPLAY_MUST_CHECK int replay_isotime_cmp_text(const char *a, const char *b, int *cmp,
                                              struct replay_err *err);

#endif
