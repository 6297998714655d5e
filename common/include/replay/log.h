/*
 * log: leveled log lines in Assemblyline's formats, never with secrets.
 *
 * Two formats (formats.md §7.2):
 *  - JSON lines (the default, as Assemblyline's log_as_json), the upstream shape
 *    exactly, plus an optional "replay" object holding structured fields
 *    (ids, file names, durations) and the thread name;
 *  - text for terminals: "<time> <LEVEL:8> <host> <pid> <logger:40> | <message>".
 * Lines go to stderr by default. A line is written whole under a process-wide
 * lock, retried after EINTR and short writes, so lines from many threads never
 * interleave, however long (even past PIPE_BUF on a pipe). Every message and field
 * value passes through redact before it is written.
 *
 * JSON strings are escaped by pyjson's escaper, as Python's json.dumps writes them:
 * code points as \uXXXX, surrogate pairs above the BMP ("caf\u00e9"). A message or
 * field that is not valid UTF-8 has each maximal invalid subpart replaced by U+FFFD
 * (\ufffd), as Python's bytes.decode("utf-8", errors="replace"); the text format
 * writes UTF-8 as it is, and control characters and bytes that are not UTF-8 as
 * \n, \r, \t or \xNN (a newline in a file name cannot forge a line, nor an escape
 * sequence reach a terminal).
 *
 * The logger name is the component's (e.g. "assemblyline.replay_loader.worker").
 * Thread-safe after replay_log_init(), which the process calls once before it
 * starts threads. A message longer than REPLAY_LOG_MAX_MESSAGE - 1 bytes is cut
 * there, after its secrets were masked, so a cut never shows part of a secret.
 * Structured fields that do not fit in the line are left out, whole.
 */
#ifndef REPLAY_LOG_H
#define REPLAY_LOG_H

#include <stddef.h>

#include "replay/error.h"

enum replay_log_level {
    REPLAY_LOG_DEBUG = 10,
    REPLAY_LOG_INFO = 20,
    REPLAY_LOG_WARNING = 30,
    REPLAY_LOG_ERROR = 40,
    REPLAY_LOG_CRITICAL = 50,
    REPLAY_LOG_DISABLED = 100,
};

enum replay_log_format {
    REPLAY_LOG_JSON,
    REPLAY_LOG_TEXT,
};

#define REPLAY_LOG_MAX_MESSAGE 8192

/* A structured field. When `str` is NULL the field is the integer `num`. */
struct replay_log_field {
    const char *key;
    const char *str;
    long long num;
};

/* Sets the logger name (copied), level, format and output fd (2 = stderr). */
void replay_log_init(const char *logger, enum replay_log_level level,
                     enum replay_log_format format, int fd);
void replay_log_set_level(enum replay_log_level level);
enum replay_log_level replay_log_get_level(void);
void replay_log_set_format(enum replay_log_format format);

/* Names the calling thread in its log lines (copied into thread-local storage). */
void replay_log_set_thread_name(const char *name);

/* "DEBUG", "INFO", "WARNING"/"WARN", "ERROR", "CRITICAL", "DISABLED" (any case).
 * Returns 0 or REPLAY_EINVAL. */
REPLAY_MUST_CHECK int replay_log_parse_level(const char *text, enum replay_log_level *out);
/* "DEBUG", "INFO", ... for a level (static text). */
const char *replay_log_level_name(enum replay_log_level level);
/* "json" or "text" (any case). Returns 0 or REPLAY_EINVAL. */
REPLAY_MUST_CHECK int replay_log_parse_format(const char *text, enum replay_log_format *out);

void replay_log(enum replay_log_level level, const char *fmt, ...) REPLAY_PRINTF(2, 3);
void replay_log_fields(enum replay_log_level level, const struct replay_log_field *fields,
                       size_t n_fields, const char *fmt, ...) REPLAY_PRINTF(4, 5);

#define replay_debug(...) replay_log(REPLAY_LOG_DEBUG, __VA_ARGS__)
#define replay_info(...) replay_log(REPLAY_LOG_INFO, __VA_ARGS__)
#define replay_warn(...) replay_log(REPLAY_LOG_WARNING, __VA_ARGS__)
#define replay_error(...) replay_log(REPLAY_LOG_ERROR, __VA_ARGS__)

/* Component logger names of formats.md §7.1. */
#define REPLAY_LOGGER_CREATOR "assemblyline.replay_creator"
#define REPLAY_LOGGER_CREATOR_WORKER "assemblyline.replay_creator.worker"
#define REPLAY_LOGGER_LOADER "assemblyline.replay_loader"
#define REPLAY_LOGGER_LOADER_WORKER "assemblyline.replay_loader.worker"
#define REPLAY_LOGGER_CTL "assemblyline.replay_ctl"

#endif
