/* replay-ctl: output and set-up shared by the commands (ctl.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "replay/redact.h"

int ctl_fail(const char *cmd, int code, const char *fmt, ...)
{
    char safe[4096];
    va_list ap;
    va_start(ap, fmt);
    replay_redact_vformat(safe, sizeof(safe), fmt, ap);
    va_end(ap);
    fprintf(stderr, "replay-ctl %s: %s\n", cmd, safe);
    return code;
}

int ctl_fail_code(int rc)
{
    return rc == REPLAY_ECONFIG || rc == REPLAY_EUNSUPPORTED ? 2 : 1;
}

void ctl_print_json(const json_t *o)
{
    char *s = json_dumps(o, JSON_INDENT(2));
    printf("%s\n", s != NULL ? s : "null");
    free(s);
}

const char *ctl_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

long long ctl_int(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

int ctl_seconds_arg(const char *text, long *out)
{
    char *end = NULL;
    *out = strtol(text, &end, 10);
    return *end == '\0' && *out >= 1 && *out <= 86400 ? 0 : 2;
}

int ctl_load_config(const char *cmd, const struct ctl_globals *g, struct replay_config **cfg)
{
    struct replay_err err = {0};
    if (replay_config_load(g->config_path, cfg, &err) == 0)
        return 0;
    return ctl_fail(cmd, 2, "%s", err.msg);
}
