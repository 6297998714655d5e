/*
 * simtime: time values as Assemblyline and Elasticsearch use them in al-sim.
 *
 * Instants are int64 milliseconds since the Unix epoch (UTC), the precision at
 * which Elasticsearch compares `date` fields (al-rest-api.md §6.1). Text forms:
 *  - ISO-8601 as ES's date_optional_time reads it: YYYY[-MM[-DD[THH[:MM[:SS[.f+]]]]]]
 *    with an optional Z or +HH:MM / -HHMM / +HH offset (no offset = UTC); extra
 *    fraction digits beyond milliseconds are truncated;
 *  - epoch_millis: all digits, with an optional leading '-';
 *  - date math: an anchor ("now", or a date followed by "||") and then any
 *    number of +N<unit>, -N<unit> and /<unit> steps, units y M w d h H m s
 *    (m = minute, M = month). Rounding rounds down, or up to the last
 *    millisecond of the unit when `round_up` is set (ES: gt and lte bounds).
 * Output is Assemblyline's now_as_iso form: YYYY-MM-DDTHH:MM:SS.ffffffZ, with
 * the fraction left out when the microseconds are exactly 0 (formats.md §3.3).
 *
 * Pure functions, no state; thread-safe.
 */
#ifndef ALSIM_SIMTIME_H
#define ALSIM_SIMTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALSIM_ISO_LEN 40 /* room for any formatted time */

/* Wall clock in microseconds / milliseconds since the epoch. */
int64_t alsim_now_us(void);
int64_t alsim_now_ms(void);

/* Formats epoch microseconds as Assemblyline's ISO form into out. */
void alsim_iso_from_us(int64_t us, char out[ALSIM_ISO_LEN]);
/* Now, in that form. */
void alsim_iso_now(char out[ALSIM_ISO_LEN]);

/* Parses an ISO date or epoch millis (whole of s[0..len)). 0 and *ms on success, -1 if
 * the text is not a date. */
int alsim_parse_date(const char *s, size_t len, int64_t *ms);
/* Parses date math (or a plain date) against `now_ms`. 0 on success, -1 otherwise. */
int alsim_parse_datemath(const char *s, size_t len, int64_t now_ms, bool round_up,
                         int64_t *ms);

#endif
