/* log: formats one line per event and writes it with a single write(2). */
#include "replay/log.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "replay/redact.h"

#define LINE_MAX_BYTES (REPLAY_LOG_MAX_MESSAGE * 7 + 4096)

static struct {
    char logger[128];
    char hostname[256];
    char ip[INET_ADDRSTRLEN];
    int fd;
    atomic_int level;
    atomic_int format;
} log_state = {
    .logger = "assemblyline.replay",
    .hostname = "localhost",
    .ip = "x.x.x.x",
    .fd = 2,
    .level = REPLAY_LOG_INFO,
    .format = REPLAY_LOG_JSON,
};

static _Thread_local char thread_name[64];

/* First non-loopback IPv4 address, found without DNS (an air-gapped resolver can hang). */
static void find_ip(char *out, size_t outsz)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return;
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
            (i->ifa_flags & IFF_LOOPBACK))
            continue;
        struct sockaddr_in sin;
        memcpy(&sin, i->ifa_addr, sizeof(sin));
        inet_ntop(AF_INET, &sin.sin_addr, out, (socklen_t)outsz);
        break;
    }
    freeifaddrs(ifs);
}

void replay_log_init(const char *logger, enum replay_log_level level,
                     enum replay_log_format format, int fd)
{
    if (logger != NULL)
        snprintf(log_state.logger, sizeof(log_state.logger), "%s", logger);
    if (gethostname(log_state.hostname, sizeof(log_state.hostname)) != 0)
        snprintf(log_state.hostname, sizeof(log_state.hostname), "localhost");
    log_state.hostname[sizeof(log_state.hostname) - 1] = '\0';
    find_ip(log_state.ip, sizeof(log_state.ip));
    log_state.fd = fd;
    atomic_store(&log_state.level, level);
    atomic_store(&log_state.format, format);
}

void replay_log_set_level(enum replay_log_level level)
{
    atomic_store(&log_state.level, level);
}

enum replay_log_level replay_log_get_level(void)
{
    return (enum replay_log_level)atomic_load(&log_state.level);
}

void replay_log_set_format(enum replay_log_format format)
{
    atomic_store(&log_state.format, format);
}

void replay_log_set_thread_name(const char *name)
{
    snprintf(thread_name, sizeof(thread_name), "%s", name != NULL ? name : "");
}

static const struct {
    const char *name;
    enum replay_log_level level;
} level_names[] = {
    {"DEBUG", REPLAY_LOG_DEBUG},       {"INFO", REPLAY_LOG_INFO},
    {"WARNING", REPLAY_LOG_WARNING},   {"WARN", REPLAY_LOG_WARNING},
    {"ERROR", REPLAY_LOG_ERROR},       {"CRITICAL", REPLAY_LOG_CRITICAL},
    {"DISABLED", REPLAY_LOG_DISABLED},
};

int replay_log_parse_level(const char *text, enum replay_log_level *out)
{
    for (size_t i = 0; text != NULL && i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(text, level_names[i].name) == 0) {
            *out = level_names[i].level;
            return 0;
        }
    }
    return REPLAY_EINVAL;
}

int replay_log_parse_format(const char *text, enum replay_log_format *out)
{
    if (text != NULL && strcasecmp(text, "json") == 0) {
        *out = REPLAY_LOG_JSON;
        return 0;
    }
    if (text != NULL && strcasecmp(text, "text") == 0) {
        *out = REPLAY_LOG_TEXT;
        return 0;
    }
    return REPLAY_EINVAL;
}

const char *replay_log_level_name(enum replay_log_level level)
{
    switch (level) {
    case REPLAY_LOG_DEBUG: return "DEBUG";
    case REPLAY_LOG_INFO: return "INFO";
    case REPLAY_LOG_WARNING: return "WARNING";
    case REPLAY_LOG_ERROR: return "ERROR";
    case REPLAY_LOG_CRITICAL: return "CRITICAL";
    case REPLAY_LOG_DISABLED: return "DISABLED";
    }
    return "INFO";
}

/* A growing line buffer with a fixed ceiling: output past it is dropped. */
struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void line_put(struct line *l, const char *s, size_t n)
{
    if (l->len + n > sizeof(l->buf) - 2)
        n = sizeof(l->buf) - 2 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void line_printf(struct line *l, const char *fmt, ...) REPLAY_PRINTF(2, 3);
static void line_printf(struct line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof(l->buf) - 2 - l->len;
    int n = vsnprintf(l->buf + l->len, room + 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < room ? (size_t)n : room;
}

/* A JSON string literal, ASCII-only as Python's json.dumps (ensure_ascii) writes it. */
static void line_json_string(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    line_put(l, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        char esc[8];
        switch (*c) {
        case '"': line_put(l, "\\\"", 2); continue;
        case '\\': line_put(l, "\\\\", 2); continue;
        case '\n': line_put(l, "\\n", 2); continue;
        case '\r': line_put(l, "\\r", 2); continue;
        case '\t': line_put(l, "\\t", 2); continue;
        case '\b': line_put(l, "\\b", 2); continue;
        case '\f': line_put(l, "\\f", 2); continue;
        default: break;
        }
        if (*c < 0x20 || *c >= 0x7f) {
            /* Bytes are escaped one by one: the message is not required to be UTF-8. */
            esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[*c >> 4]; esc[5] = hex[*c & 15];
            line_put(l, esc, 6);
        } else {
            line_put(l, (const char *)c, 1);
        }
    }
    line_put(l, "\"", 1);
}

static void format_time(char *out, size_t outsz)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, outsz, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + n, outsz - n, ",%03d", (int)(tv.tv_usec / 1000));
}

static void line_json_fields(struct line *l, const struct replay_log_field *f, size_t n)
{
    if (n == 0 && thread_name[0] == '\0')
        return;
    char value[1024];
    line_put(l, ", \"replay\": { ", 14);
    int first = 1;
    if (thread_name[0] != '\0') {
        line_put(l, "\"thread\": ", 10);
        line_json_string(l, thread_name);
        first = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!first)
            line_put(l, ", ", 2);
        first = 0;
        line_json_string(l, f[i].key);
        line_put(l, ": ", 2);
        if (f[i].str != NULL) {
            replay_redact(f[i].str, value, sizeof(value));
            line_json_string(l, value);
        } else {
            line_printf(l, "%lld", f[i].num);
        }
    }
    line_put(l, " }", 2);
}

static void line_json(struct line *l, enum replay_log_level level, const char *when,
                      const char *msg, const struct replay_log_field *f, size_t n)
{
    line_printf(l, "{\"@timestamp\": \"%s\", \"event\": { \"module\": \"assemblyline\", "
                   "\"dataset\": ", when);
    line_json_string(l, log_state.logger);
    line_printf(l, " }, \"host\": { \"ip\": \"%s\", \"hostname\": ", log_state.ip);
    line_json_string(l, log_state.hostname);
    line_printf(l, " }, \"log\": { \"level\": \"%s\", \"logger\": ", replay_log_level_name(level));
    line_json_string(l, log_state.logger);
    line_printf(l, " }, \"process\": { \"pid\": \"%d\" }, \"message\": ", (int)getpid());
    line_json_string(l, msg);
    line_json_fields(l, f, n);
    line_put(l, "}", 1);
}

static void line_text(struct line *l, enum replay_log_level level, const char *when,
                      const char *msg, const struct replay_log_field *f, size_t n)
{
    char value[1024];
    line_printf(l, "%-16s %8s %s %d %40s | %s", when, replay_log_level_name(level), log_state.hostname,
                (int)getpid(), log_state.logger, msg);
    if (thread_name[0] != '\0')
        line_printf(l, " [thread=%s]", thread_name);
    for (size_t i = 0; i < n; i++) {
        if (f[i].str != NULL) {
            replay_redact(f[i].str, value, sizeof(value));
            line_printf(l, " %s=%s", f[i].key, value);
        } else {
            line_printf(l, " %s=%lld", f[i].key, f[i].num);
        }
    }
}

static void log_emit(enum replay_log_level level, const struct replay_log_field *f,
                     size_t n, const char *fmt, va_list ap) REPLAY_PRINTF(4, 0);
static void log_emit(enum replay_log_level level, const struct replay_log_field *f,
                     size_t n, const char *fmt, va_list ap)
{
    if (level < (enum replay_log_level)atomic_load(&log_state.level) ||
        atomic_load(&log_state.level) >= REPLAY_LOG_DISABLED)
        return;
    char raw[REPLAY_LOG_MAX_MESSAGE];
    char msg[REPLAY_LOG_MAX_MESSAGE];
    char when[64];
    static _Thread_local struct line l;
    vsnprintf(raw, sizeof(raw), fmt, ap);
    replay_redact(raw, msg, sizeof(msg));
    format_time(when, sizeof(when));
    l.len = 0;
    if (atomic_load(&log_state.format) == REPLAY_LOG_TEXT)
        line_text(&l, level, when, msg, f, n);
    else
        line_json(&l, level, when, msg, f, n);
    l.buf[l.len++] = '\n';
    /* One write per line; a short write on a pipe is finished, not interleaved. */
    size_t off = 0;
    while (off < l.len) {
        ssize_t w = write(log_state.fd, l.buf + off, l.len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

void replay_log(enum replay_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emit(level, NULL, 0, fmt, ap);
    va_end(ap);
}

void replay_log_fields(enum replay_log_level level, const struct replay_log_field *fields,
                       size_t n_fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_emit(level, fields, n_fields, fmt, ap);
    va_end(ap);
}
