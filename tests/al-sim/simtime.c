/* simtime: ISO dates, epoch millis and ES date math for al-sim (see simtime.h). */
#include "simtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_S 1000LL
#define MS_PER_MIN (60 * MS_PER_S)
#define MS_PER_H (60 * MS_PER_MIN)
#define MS_PER_DAY (24 * MS_PER_H)
/* Keep instants well inside int64 and inside years 0..9999 arithmetic. */
#define MAX_ABS_MS (400000LL * 366 * MS_PER_DAY)

struct civil {
    int64_t y;
    int m, d, hh, mm, ss, ms;
};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, struct civil *c)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c->d = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->m = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->y = yoe + era * 400 + (c->m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void civil_from_ms(int64_t ms, struct civil *c)
{
    int64_t days = floor_div(ms, MS_PER_DAY);
    int64_t rem = ms - days * MS_PER_DAY;
    civil_from_days(days, c);
    c->hh = (int)(rem / MS_PER_H);
    c->mm = (int)(rem / MS_PER_MIN % 60);
    c->ss = (int)(rem / MS_PER_S % 60);
    c->ms = (int)(rem % MS_PER_S);
}

static int64_t ms_from_civil(const struct civil *c)
{
    return days_from_civil(c->y, c->m, c->d) * MS_PER_DAY + c->hh * MS_PER_H +
           c->mm * MS_PER_MIN + c->ss * MS_PER_S + c->ms;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int64_t alsim_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t alsim_now_ms(void)
{
    return alsim_now_us() / 1000;
}

void alsim_iso_from_us(int64_t us, char out[ALSIM_ISO_LEN])
{
    int64_t ms = floor_div(us, 1000);
    int64_t frac = us - floor_div(us, 1000000) * 1000000;
    struct civil c;
    civil_from_ms(ms, &c);
    if (frac == 0)
        snprintf(out, ALSIM_ISO_LEN, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)c.y, c.m,
                 c.d, c.hh, c.mm, c.ss);
    else
        snprintf(out, ALSIM_ISO_LEN, "%04lld-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                 (long long)c.y, c.m, c.d, c.hh, c.mm, c.ss, (long long)frac);
}

void alsim_iso_now(char out[ALSIM_ISO_LEN])
{
    alsim_iso_from_us(alsim_now_us(), out);
}

/* Reads exactly n digits at s[*pos]. */
static bool digits(const char *s, size_t len, size_t *pos, int n, int *val)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*pos >= len || s[*pos] < '0' || s[*pos] > '9')
            return false;
        v = v * 10 + (s[(*pos)++] - '0');
    }
    *val = v;
    return true;
}

static bool at(const char *s, size_t len, size_t pos, char c)
{
    return pos < len && s[pos] == c;
}

/* Fraction after '.' or ',': 1..9 digits, truncated to milliseconds. */
static bool parse_fraction(const char *s, size_t len, size_t *pos, int *ms)
{
    int n = 0, v = 0;
    while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
        if (n < 3)
            v = v * 10 + (s[*pos] - '0');
        n++;
        (*pos)++;
    }
    if (n == 0 || n > 9)
        return false;
    for (int i = n; i < 3; i++)
        v *= 10;
    *ms = v;
    return true;
}

/* Z, +HH, +HHMM or +HH:MM; sets *off_ms (to subtract from the local time). */
static bool parse_offset(const char *s, size_t len, size_t *pos, int64_t *off_ms)
{
    *off_ms = 0;
    if (*pos == len)
        return true;
    if (s[*pos] == 'Z') {
        (*pos)++;
        return true;
    }
    if (s[*pos] != '+' && s[*pos] != '-')
        return false;
    int sign = s[(*pos)++] == '-' ? -1 : 1, hh = 0, mm = 0;
    if (!digits(s, len, pos, 2, &hh) || hh > 18)
        return false;
    if (at(s, len, *pos, ':'))
        (*pos)++;
    if (*pos < len && !digits(s, len, pos, 2, &mm))
        return false;
    if (mm > 59)
        return false;
    *off_ms = sign * (hh * MS_PER_H + mm * MS_PER_MIN);
    return true;
}

static bool parse_clock(const char *s, size_t len, size_t *pos, struct civil *c)
{
    if (!digits(s, len, pos, 2, &c->hh) || c->hh > 23)
        return false;
    if (!at(s, len, *pos, ':'))
        return true;
    (*pos)++;
    if (!digits(s, len, pos, 2, &c->mm) || c->mm > 59)
        return false;
    if (!at(s, len, *pos, ':'))
        return true;
    (*pos)++;
    if (!digits(s, len, pos, 2, &c->ss) || c->ss > 59)
        return false;
    if (at(s, len, *pos, '.') || at(s, len, *pos, ',')) {
        (*pos)++;
        return parse_fraction(s, len, pos, &c->ms);
    }
    return true;
}

static int parse_iso(const char *s, size_t len, int64_t *ms)
{
    struct civil c = {.m = 1, .d = 1};
    size_t pos = 0;
    int y = 0;
    int64_t off = 0;
    if (!digits(s, len, &pos, 4, &y))
        return -1;
    c.y = y;
    if (at(s, len, pos, '-')) {
        pos++;
        if (!digits(s, len, &pos, 2, &c.m) || c.m < 1 || c.m > 12)
            return -1;
        if (at(s, len, pos, '-')) {
            pos++;
            if (!digits(s, len, &pos, 2, &c.d) || c.d < 1 || c.d > days_in_month(c.y, c.m))
                return -1;
        }
    }
    if (at(s, len, pos, 'T')) {
        pos++;
        if (!parse_clock(s, len, &pos, &c))
            return -1;
    }
    if (!parse_offset(s, len, &pos, &off) || pos != len)
        return -1;
    *ms = ms_from_civil(&c) - off;
    return 0;
}

static int parse_epoch_millis(const char *s, size_t len, int64_t *ms)
{
    size_t i = 0;
    int64_t v = 0;
    bool neg = len > 0 && s[0] == '-';
    if (neg)
        i++;
    if (i == len || len - i > 15)
        return -1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *ms = neg ? -v : v;
    return 0;
}

int alsim_parse_date(const char *s, size_t len, int64_t *ms)
{
    if (s == NULL || len == 0)
        return -1;
    if (len != 4 && parse_epoch_millis(s, len, ms) == 0)
        return 0;
    return parse_iso(s, len, ms);
}

static bool unit_ms(char u, int64_t *ms)
{
    switch (u) {
    case 'w': *ms = 7 * MS_PER_DAY; return true;
    case 'd': *ms = MS_PER_DAY; return true;
    case 'h':
    case 'H': *ms = MS_PER_H; return true;
    case 'm': *ms = MS_PER_MIN; return true;
    case 's': *ms = MS_PER_S; return true;
    default: return false;
    }
}

static int add_months(int64_t *ms, int64_t months)
{
    struct civil c;
    civil_from_ms(*ms, &c);
    int64_t total = c.y * 12 + (c.m - 1) + months;
    c.y = floor_div(total, 12);
    c.m = (int)(total - c.y * 12) + 1;
    if (c.y < 0 || c.y > 9999)
        return -1;
    if (c.d > days_in_month(c.y, c.m))
        c.d = days_in_month(c.y, c.m);
    *ms = ms_from_civil(&c);
    return 0;
}

static int apply_add(int64_t *ms, char unit, int64_t n)
{
    int64_t step = 0, delta = 0;
    if (unit == 'y' || unit == 'M') {
        if (n > 120000 || n < -120000)
            return -1;
        return add_months(ms, unit == 'y' ? n * 12 : n);
    }
    if (!unit_ms(unit, &step) || __builtin_mul_overflow(n, step, &delta) ||
        __builtin_add_overflow(*ms, delta, ms))
        return -1;
    return (*ms > MAX_ABS_MS || *ms < -MAX_ABS_MS) ? -1 : 0;
}

/* Rounds down to the unit; with round_up, to the last millisecond of the unit. */
static int apply_round(int64_t *ms, char unit, bool round_up)
{
    struct civil c;
    civil_from_ms(*ms, &c);
    int64_t start = 0, next = 0;
    if (unit == 'y' || unit == 'M') {
        c.m = unit == 'y' ? 1 : c.m;
        c.d = 1;
        c.hh = c.mm = c.ss = c.ms = 0;
        start = next = ms_from_civil(&c);
        if (add_months(&next, unit == 'y' ? 12 : 1) != 0)
            return -1;
    } else if (unit == 'w') {
        int64_t days = floor_div(*ms, MS_PER_DAY);
        int64_t dow = ((days % 7) + 7 + 3) % 7; /* 1970-01-01 was a Thursday; Monday = 0 */
        start = (days - dow) * MS_PER_DAY;
        next = start + 7 * MS_PER_DAY;
    } else {
        int64_t step = 0;
        if (!unit_ms(unit, &step))
            return -1;
        start = floor_div(*ms, step) * step;
        next = start + step;
    }
    *ms = round_up ? next - 1 : start;
    return 0;
}

/* One step "+3d", "-1M" or "/d" at expr[*pos]. */
static int datemath_step(const char *s, size_t len, size_t *pos, int64_t *ms, bool round_up)
{
    char op = s[(*pos)++];
    if (op == '/') {
        if (*pos >= len)
            return -1;
        return apply_round(ms, s[(*pos)++], round_up);
    }
    if (op != '+' && op != '-')
        return -1;
    int64_t n = 0;
    bool any = false;
    while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
        if (n > 100000000)
            return -1;
        n = n * 10 + (s[(*pos)++] - '0');
        any = true;
    }
    if (!any)
        n = 1;
    if (*pos >= len)
        return -1;
    return apply_add(ms, s[(*pos)++], op == '-' ? -n : n);
}

int alsim_parse_datemath(const char *s, size_t len, int64_t now_ms, bool round_up, int64_t *ms)
{
    if (s == NULL || len == 0)
        return -1;
    size_t pos = 0;
    int64_t v = 0;
    if (len >= 3 && memcmp(s, "now", 3) == 0) {
        v = now_ms;
        pos = 3;
    } else {
        const char *bars = NULL;
        for (size_t i = 0; i + 1 < len; i++)
            if (s[i] == '|' && s[i + 1] == '|') {
                bars = s + i;
                break;
            }
        if (bars == NULL)
            return alsim_parse_date(s, len, ms);
        if (alsim_parse_date(s, (size_t)(bars - s), &v) != 0)
            return -1;
        pos = (size_t)(bars - s) + 2;
    }
    while (pos < len)
        if (datemath_step(s, len, &pos, &v, round_up) != 0)
            return -1;
    *ms = v;
    return 0;
}
