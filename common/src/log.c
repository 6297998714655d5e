/* log: formats one line per event and writes it with a single write(2). */
#include "replay/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pyjson_int.h"
#include "replay/redact.h"

/* A message escapes to at most 6 bytes per byte (\u00XX, \ufffd; text: \xNN); the header
 * (logger and host name escaped, thread name) takes less than 4 KiB; the rest is for
 * structured fields. */
#define LINE_MAX_BYTES (REPLAY_LOG_MAX_MESSAGE * 6 + 16384)

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

/* One line, built in a fixed buffer. The header and the message always fit (see
 * LINE_MAX_BYTES); a structured field that does not is left out, whole, so the line
 * stays valid JSON. The last LINE_CLOSE bytes are kept for the closing brackets and
 * the newline. */
#define LINE_CLOSE 8
struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
    bool full; /* a put did not fit; the caller rolls back to its mark */
};

_Static_assert(LINE_MAX_BYTES - LINE_CLOSE >
                   6 * (REPLAY_LOG_MAX_MESSAGE + 2 * sizeof(log_state.logger) +
                        sizeof(log_state.hostname) + 64 /* thread name */) + 1024,
               "the header and the message of a line always fit");

static void line_put(struct line *l, const char *s, size_t n)
{
    if (l->full || l->len + n > sizeof(l->buf) - LINE_CLOSE) {
        l->full = true;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void line_sink(void *ctx, const char *s, size_t n)
{
    line_put(ctx, s, n);
}

static void line_printf(struct line *l, const char *fmt, ...) REPLAY_PRINTF(2, 3);
static void line_printf(struct line *l, const char *fmt, ...)
{
    if (l->full)
        return;
    /* The terminating NUL may land in the closing reserve; it is not part of the line. */
    size_t room = sizeof(l->buf) - LINE_CLOSE - l->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, room + 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n > room)
        l->full = true;
    else
        l->len += (size_t)n;
}

/* A JSON string literal exactly as Python's json.dumps writes the str (one escaper
 * for the library: pyjson's). Bytes that are not UTF-8 become U+FFFD. */
static void line_json_string(struct line *l, const char *s)
{
    (void)replay__pyjson_escape(s, strlen(s), REPLAY__PYJSON_REPLACE, line_sink, l);
}

/* Text for a terminal: a control character (a newline in a file name, an escape
 * sequence in a server's message) is written as \n, \r, \t or \xNN, and so is a
 * byte that is not UTF-8, so a line is one line of text and cannot move the cursor
 * or forge another. */
static void line_text_string(struct line *l, const char *s)
{
    size_t len = strlen(s), plain = 0, i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c >= 0x20 && c != 0x7f ? replay__pyjson_utf8_len(s + i, len - i) : 0;
        if (n > 0) {
            i += n;
            continue;
        }
        line_put(l, s + plain, i - plain);
        char esc[5];
        int e = c == '\n'   ? snprintf(esc, sizeof(esc), "\\n")
                : c == '\r' ? snprintf(esc, sizeof(esc), "\\r")
                : c == '\t' ? snprintf(esc, sizeof(esc), "\\t")
                            : snprintf(esc, sizeof(esc), "\\x%02x", c);
        line_put(l, esc, (size_t)e);
        plain = ++i;
    }
    line_put(l, s + plain, i - plain);
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

/* One structured field, JSON or text. */
static void line_field(struct line *l, bool json, const struct replay_log_field *f)
{
    char value[1024];
    if (f->str != NULL)
        replay_redact(f->str, value, sizeof(value));
    if (json) {
        line_json_string(l, f->key);
        line_put(l, ": ", 2);
        if (f->str != NULL)
            line_json_string(l, value);
        else
            line_printf(l, "%lld", f->num);
    } else if (f->str != NULL) {
        line_printf(l, " %s=", f->key);
        line_text_string(l, value);
    } else {
        line_printf(l, " %s=%lld", f->key, f->num);
    }
}

/* Appends into the reserve kept for the end of the line. */
static void line_close(struct line *l, const char *s)
{
    size_t n = strlen(s);
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

/* The thread name and the fields: JSON in a "replay" object, text as key=value.
 * The first field that does not fit is left out, with those after it. */
static void line_fields(struct line *l, bool json, const struct replay_log_field *f, size_t n)
{
    if (n == 0 && thread_name[0] == '\0')
        return;
    bool first = true;
    if (json)
        line_put(l, ", \"replay\": { ", 14);
    if (thread_name[0] != '\0') {
        if (json) {
            line_put(l, "\"thread\": ", 10);
            line_json_string(l, thread_name);
        } else {
            line_printf(l, " [thread=%s]", thread_name);
        }
        first = false;
    }
    for (size_t i = 0; i < n; i++) {
        size_t mark = l->len;
        if (json && !first)
            line_put(l, ", ", 2);
        line_field(l, json, &f[i]);
        if (l->full) {
            l->len = mark;
            l->full = false;
            break;
        }
        first = false;
    }
    if (json)
        line_close(l, " }");
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
    line_fields(l, true, f, n);
    line_close(l, "}");
}

static void line_text(struct line *l, enum replay_log_level level, const char *when,
                      const char *msg, const struct replay_log_field *f, size_t n)
{
    line_printf(l, "%-16s %8s %s %d %40s | ", when, replay_log_level_name(level),
                log_state.hostname, (int)getpid(), log_state.logger);
    line_text_string(l, msg);
    line_fields(l, false, f, n);
}

/* Writes all of buf: again after EINTR and short writes, and after waiting when a
 * non-blocking fd is full. Returns 0, or -1 on another error (the rest is lost). */
static int write_all(int fd, const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            (void)poll(&p, 1, 1000);
        } else if (w == 0 || errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* Writes the whole line, however many write(2) calls it takes (short writes,
 * EINTR, a full non-blocking pipe), under a process-wide lock, so lines of
 * different threads never mix even past PIPE_BUF. A line cut by a write error
 * is ended by a newline before the next one, which then starts on its own line. */
static void line_write(const struct line *l)
{
    static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
    static bool last_cut;
    pthread_mutex_lock(&write_lock);
    int fd = log_state.fd;
    if (last_cut)
        (void)write_all(fd, "\n", 1);
    last_cut = write_all(fd, l->buf, l->len) != 0;
    pthread_mutex_unlock(&write_lock);
}

static void log_emit(enum replay_log_level level, const struct replay_log_field *f,
                     size_t n, const char *fmt, va_list ap) REPLAY_PRINTF(4, 0);
static void log_emit(enum replay_log_level level, const struct replay_log_field *f,
                     size_t n, const char *fmt, va_list ap)
{
    if (level < (enum replay_log_level)atomic_load(&log_state.level) ||
        atomic_load(&log_state.level) >= REPLAY_LOG_DISABLED)
        return;
    char msg[REPLAY_LOG_MAX_MESSAGE];
    char when[64];
    static _Thread_local struct line l;
    /* Masked before it is cut, or the cut could leave the start of a secret. */
    replay_redact_vformat(msg, sizeof(msg), fmt, ap);
    format_time(when, sizeof(when));
    l.len = 0;
    l.full = false;
    if (atomic_load(&log_state.format) == REPLAY_LOG_TEXT)
        line_text(&l, level, when, msg, f, n);
    else
        line_json(&l, level, when, msg, f, n);
    line_close(&l, "\n");
    line_write(&l);
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
