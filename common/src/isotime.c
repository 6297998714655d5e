/* isotime: Assemblyline's ISO-8601 timestamps, formatted, parsed and compared. */
#include "replay/isotime.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SECONDS_PER_DAY 86400

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's civil algorithm),
 * so parsing needs neither timegm() nor the TZ environment. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

void replay_isotime_now(struct replay_isotime *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    out->sec = ts.tv_sec;
    out->nsec = (int32_t)ts.tv_nsec;
}

char *replay_isotime_format(const struct replay_isotime *t, char *buf, size_t size)
{
    /* 0001-01-01 and 9999-12-31T23:59:59 bound what "%04d" can write. */
    const int64_t lo = days_from_civil(1, 1, 1) * SECONDS_PER_DAY;
    const int64_t hi = days_from_civil(10000, 1, 1) * SECONDS_PER_DAY - 1;
    int64_t sec = t->sec < lo ? lo : t->sec > hi ? hi : t->sec;
    time_t tt = (time_t)sec;
    struct tm tm;
    gmtime_r(&tt, &tm);
    long usec = t->nsec / 1000;
    if (usec == 0)
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
    return buf;
}

/* Reads exactly n digits at *p (advancing it) into *out. */
static bool digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || **p < '0' || **p > '9')
            return false;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return true;
}

static bool expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

/* ".fffffffff" (1 to 9 digits) into nanoseconds; absent is 0. */
static bool fraction(const char **p, const char *end, int32_t *nsec)
{
    *nsec = 0;
    if (*p >= end || **p != '.')
        return true;
    (*p)++;
    int n = 0;
    int32_t v = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (++n > 9)
            return false;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    for (int i = n; i < 9; i++)
        v *= 10;
    *nsec = v;
    return n > 0;
}

/* "Z", "+HH:MM", "-HH:MM" or "+HHMM" into seconds east of UTC. */
static bool offset(const char **p, const char *end, int *east)
{
    if (expect(p, end, 'Z') || expect(p, end, 'z')) {
        *east = 0;
        return true;
    }
    if (*p >= end || (**p != '+' && **p != '-'))
        return false;
    int sign = **p == '-' ? -1 : 1, hh, mm;
    (*p)++;
    if (!digits(p, end, 2, &hh))
        return false;
    (void)expect(p, end, ':');
    if (!digits(p, end, 2, &mm) || hh > 23 || mm > 59)
        return false;
    *east = sign * (hh * 3600 + mm * 60);
    return true;
}

int replay_isotime_parse(const char *s, size_t len, struct replay_isotime *out,
                         struct replay_err *err)
{
    const char *p = s, *end = s + len;
    int y, mo, d, h, mi, se, east = 0;
    int32_t nsec = 0;
    bool ok = s != NULL && digits(&p, end, 4, &y) && expect(&p, end, '-') &&
              digits(&p, end, 2, &mo) && expect(&p, end, '-') && digits(&p, end, 2, &d) &&
              (expect(&p, end, 'T') || expect(&p, end, 't') || expect(&p, end, ' ')) &&
              digits(&p, end, 2, &h) && expect(&p, end, ':') && digits(&p, end, 2, &mi) &&
              expect(&p, end, ':') && digits(&p, end, 2, &se) && fraction(&p, end, &nsec) &&
              offset(&p, end, &east) && p == end;
    ok = ok && mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) && h <= 23 &&
         mi <= 59 && se <= 59;
    if (!ok)
        return replay_err_set(err, REPLAY_EFORMAT,
                              "\"%.*s\" is not an ISO-8601 time (YYYY-MM-DDTHH:MM:SS[.f]Z)",
                              (int)(len > 64 ? 64 : len), s != NULL ? s : "");
    out->sec = days_from_civil(y, mo, d) * SECONDS_PER_DAY + h * 3600 + mi * 60 + se - east;
    out->nsec = nsec;
    return 0;
}

int replay_isotime_cmp(const struct replay_isotime *a, const struct replay_isotime *b)
{
    if (a->sec != b->sec)
        return a->sec < b->sec ? -1 : 1;
    return (a->nsec > b->nsec) - (a->nsec < b->nsec);
}

static bool open_bound(const char *s)
{
    return s == NULL || s[0] == '\0' || strcmp(s, "*") == 0;
}

int replay_isotime_cmp_text(const char *a, const char *b, int *cmp, struct replay_err *err)
{
    struct replay_isotime ta, tb;
    bool oa = open_bound(a), ob = open_bound(b);
    if ((!oa && replay_isotime_parse(a, strlen(a), &ta, err) != 0) ||
        (!ob && replay_isotime_parse(b, strlen(b), &tb, err) != 0))
        return REPLAY_EFORMAT;
    if (oa || ob)
        *cmp = (int)ob - (int)oa;
    else
        *cmp = replay_isotime_cmp(&ta, &tb);
    return 0;
}
