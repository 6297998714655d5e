/* error: codes, their texts, and the first-message-wins error buffer. */
#include "replay/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *replay_strerror(int code)
{
    switch (code) {
#define REPLAY_ERR_TEXT(name, value, text) case value: return text;
        REPLAY_ERRORS(REPLAY_ERR_TEXT)
#undef REPLAY_ERR_TEXT
    }
    return "unknown error";
}

const char *replay_err_name(int code)
{
    switch (code) {
#define REPLAY_ERR_NAME(name, value, text) case value: return "REPLAY_" #name;
        REPLAY_ERRORS(REPLAY_ERR_NAME)
#undef REPLAY_ERR_NAME
    }
    return "REPLAY_UNKNOWN";
}

static void err_vformat(struct replay_err *err, int code, int sys_errno,
                        const char *fmt, va_list ap) REPLAY_PRINTF(4, 0);
static void err_vformat(struct replay_err *err, int code, int sys_errno,
                        const char *fmt, va_list ap)
{
    err->code = code;
    err->sys_errno = sys_errno;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    if (sys_errno != 0) {
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(sys_errno));
    }
}

int replay_err_set(struct replay_err *err, int code, const char *fmt, ...)
{
    if (err == NULL || err->code != 0)
        return code;
    va_list ap;
    va_start(ap, fmt);
    err_vformat(err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int replay_err_sys(struct replay_err *err, int code, int sys_errno, const char *fmt, ...)
{
    if (err == NULL || err->code != 0)
        return code;
    va_list ap;
    va_start(ap, fmt);
    err_vformat(err, code, sys_errno, fmt, ap);
    va_end(ap);
    return code;
}

void replay_err_prefix(struct replay_err *err, const char *fmt, ...)
{
    if (err == NULL || err->code == 0)
        return;
    char joined[REPLAY_ERR_MSG_LEN];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(joined, sizeof(joined), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > sizeof(joined) - 1)
        len = sizeof(joined) - 1;
    /* Append ": " and the old message by hand, truncating at the buffer's end. */
    const char *parts[2] = {": ", err->msg};
    for (int i = 0; i < 2; i++) {
        size_t plen = strlen(parts[i]);
        size_t room = sizeof(joined) - 1 - len;
        if (plen > room)
            plen = room;
        memcpy(joined + len, parts[i], plen);
        len += plen;
    }
    joined[len] = '\0';
    memcpy(err->msg, joined, len + 1);
}

void replay_err_clear(struct replay_err *err)
{
    if (err == NULL)
        return;
    err->code = 0;
    err->sys_errno = 0;
    err->msg[0] = '\0';
}
