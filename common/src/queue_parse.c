/* queue_parse: the pure half of the queue module: names, consumer ids, message
 * validation and Python-identical encoding. No I/O, so it is unit-tested and fuzzed
 * from memory. (Redis URLs are config's: config_redis.c.) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "pyjson_int.h"
#include "queue_int.h"
#include "replay/queue.h"

#define PYJSON_MAX_DEPTH 1000 /* pyjson refuses deeper values, as Python would */

static const char *const type_names[REPLAY_QUEUE_TYPE_COUNT] = {
    "alert", "submission", "badlist", "safelist", "signature", "workflow", "file",
};
static const char *const type_keys[REPLAY_QUEUE_TYPE_COUNT] = {
    "replay_alert",     "replay_submission", "replay_badlist", "replay_safelist",
    "replay_signature", "replay_workflow",   "replay_file",
};
static const char *const date_fields[REPLAY_QUEUE_TYPE_COUNT] = {
    "reporting_ts", "times.completed", "updated", "updated", "last_modified", "last_edit", NULL,
};

static bool type_ok(enum replay_queue_type t)
{
    return (int)t >= 0 && t < REPLAY_QUEUE_TYPE_COUNT;
}

const char *replay_queue_type_name(enum replay_queue_type t)
{
    return type_ok(t) ? type_names[t] : NULL;
}

const char *replay_queue_key(enum replay_queue_type t)
{
    return type_ok(t) ? type_keys[t] : NULL;
}

const char *replay__queue_id_field(enum replay_queue_type t)
{
    if (!type_ok(t) || t == REPLAY_QUEUE_FILE)
        return NULL;
    return t == REPLAY_QUEUE_ALERT ? "alert_id" : t == REPLAY_QUEUE_SUBMISSION ? "sid" : "id";
}

const char *replay_queue_date_field(enum replay_queue_type t)
{
    return type_ok(t) ? date_fields[t] : NULL;
}

int replay_queue_type_parse(const char *name, enum replay_queue_type *out, struct replay_err *err)
{
    if (name == NULL || out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "queue type: none given");
    for (int i = 0; i < REPLAY_QUEUE_TYPE_COUNT; i++) {
        if (strcmp(name, type_names[i]) == 0 || strcmp(name, type_keys[i]) == 0) {
            *out = (enum replay_queue_type)i;
            return 0;
        }
    }
    return replay_err_set(err, REPLAY_EINVAL,
                          "unknown queue type \"%.64s\" (expected alert, submission, badlist, "
                          "safelist, signature, workflow or file)",
                          name);
}

/* ---- consumer ids ---- */

bool replay__queue_consumer_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
}

bool replay__queue_consumer_id_ok(const char *id)
{
    if (id == NULL || id[0] == '\0')
        return false;
    size_t n = 0;
    for (; id[n] != '\0'; n++) {
        if (n >= REPLAY_QUEUE_CONSUMER_ID_MAX || !replay__queue_consumer_id_char(id[n]))
            return false;
    }
    return true;
}

int replay_queue_consumer_id(const char *component, unsigned index, char *buf, size_t size,
                             struct replay_err *err)
{
    char host[256] = "localhost";
    if (component == NULL || buf == NULL || size == 0)
        return replay_err_set(err, REPLAY_EINVAL, "consumer id: no component or buffer");
    if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    int n = snprintf(buf, size, "%s:%s:%u", host, component, index);
    if (n < 0 || (size_t)n >= size || n > REPLAY_QUEUE_CONSUMER_ID_MAX) {
        buf[0] = '\0';
        return replay_err_set(err, REPLAY_EINVAL,
                              "consumer id for %.64s #%u: longer than %d characters", component,
                              index, REPLAY_QUEUE_CONSUMER_ID_MAX);
    }
    for (char *p = buf; *p != '\0'; p++) {
        if (!replay__queue_consumer_id_char(*p))
            *p = '_';
    }
    return 0;
}

/* ---- messages ---- */

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* A required non-empty string member of object v. */
static int need_string(const json_t *v, const char *key, const char *what, const char **out,
                       struct replay_err *err)
{
    const json_t *m = json_object_get(v, key);
    if (m == NULL)
        return replay_err_set(err, REPLAY_EFORMAT, "%s message without \"%s\"", what, key);
    if (!json_is_string(m) || json_string_length(m) == 0)
        return replay_err_set(err, REPLAY_EFORMAT, "%s message: \"%s\" must be a non-empty "
                              "string, got %s", what, key, json_is_string(m) ? "\"\"" :
                              json_kind(m));
    *out = json_string_value(m);
    return 0;
}

/* An optional string member (null counts as absent). */
static int opt_string(const json_t *v, const char *key, const char *what, const char **out,
                      struct replay_err *err)
{
    const json_t *m = json_object_get(v, key);
    *out = NULL;
    if (m == NULL || json_is_null(m))
        return 0;
    if (!json_is_string(m))
        return replay_err_set(err, REPLAY_EFORMAT, "%s message: \"%s\" must be a string, got %s",
                              what, key, json_kind(m));
    *out = json_string_value(m);
    return 0;
}

static int check_submission(const json_t *v, const char **id, const char **date,
                            struct replay_err *err)
{
    int rc = need_string(v, replay__queue_id_field(REPLAY_QUEUE_SUBMISSION), "submission", id,
                         err);
    if (rc < 0)
        return rc;
    const json_t *times = json_object_get(v, "times");
    if (times == NULL || json_is_null(times))
        return 0;
    if (!json_is_object(times))
        return replay_err_set(err, REPLAY_EFORMAT, "submission message: \"times\" must be an "
                              "object, got %s", json_kind(times));
    return opt_string(times, "completed", "submission", date, err);
}

/* Checks that v has the shape of queue t; *id and *date point into v. */
static int check_shape(enum replay_queue_type t, const json_t *v, const char **id,
                       const char **date, struct replay_err *err)
{
    const char *name = type_names[t];
    *id = *date = NULL;
    if (t == REPLAY_QUEUE_FILE) {
        if (!json_is_string(v) || json_string_length(v) == 0)
            return replay_err_set(err, REPLAY_EFORMAT, "file message must be a non-empty JSON "
                                  "string (a path), got %s", json_is_string(v) ? "\"\"" :
                                  json_kind(v));
        *id = json_string_value(v);
        return 0;
    }
    if (!json_is_object(v))
        return replay_err_set(err, REPLAY_EFORMAT, "%s message must be a JSON object, got %s",
                              name, json_kind(v));
    if (t == REPLAY_QUEUE_SUBMISSION)
        return check_submission(v, id, date, err);
    int rc = need_string(v, replay__queue_id_field(t), name, id, err);
    if (rc < 0)
        return rc;
    return opt_string(v, date_fields[t], name, date, err);
}

static size_t json_depth(const json_t *v)
{
    size_t deepest = 0, d;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            if ((d = json_depth(m)) > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) {
            if ((d = json_depth(m)) > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

static int load_json(const char *json, size_t len, json_t **out, struct replay_err *err)
{
    json_error_t je;
    *out = json_loadb(json, len, JSON_DECODE_ANY, &je);
    if (*out == NULL)
        return replay_err_set(err, REPLAY_EFORMAT, "not valid JSON: %s (line %d, column %d)",
                              je.text, je.line, je.column);
    return 0;
}

/* Shape check, then Python's bytes. Takes ownership of v (also on failure). */
static int dump_checked(enum replay_queue_type t, json_t *v, char **out, size_t *out_len,
                        struct replay_err *err)
{
    const char *id, *date;
    size_t len = 0;
    int rc = check_shape(t, v, &id, &date, err);
    if (rc == 0 && json_depth(v) > PYJSON_MAX_DEPTH)
        rc = replay_err_set(err, REPLAY_EFORMAT, "%s message nested deeper than %d levels",
                            type_names[t], PYJSON_MAX_DEPTH);
    if (rc == 0 && (*out = replay__pyjson_dumps(v, 0, &len)) == NULL)
        rc = replay_err_set(err, REPLAY_ENOMEM, "encoding a %s message: out of memory",
                            type_names[t]);
    if (rc == 0 && len > REPLAY_QUEUE_MAX_MESSAGE) {
        free(*out);
        *out = NULL;
        rc = replay_err_set(err, REPLAY_ETOOBIG, "%s message of %zu bytes is larger than the "
                            "limit of %u bytes", type_names[t], len, REPLAY_QUEUE_MAX_MESSAGE);
    }
    json_decref(v);
    if (rc == 0 && out_len != NULL)
        *out_len = len;
    return rc;
}

int replay_queue_encode(enum replay_queue_type t, const char *json, size_t len, char **out,
                        size_t *out_len, struct replay_err *err)
{
    json_t *v = NULL;
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "encode: no output");
    *out = NULL;
    if (!type_ok(t) || json == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "encode: bad queue type or no text");
    /* Input far above the limit cannot shrink under it by losing white space. */
    if (len > 4 * (size_t)REPLAY_QUEUE_MAX_MESSAGE)
        return replay_err_set(err, REPLAY_ETOOBIG, "%s message of %zu bytes is larger than "
                              "the limit of %u bytes", type_names[t], len,
                              REPLAY_QUEUE_MAX_MESSAGE);
    int rc = load_json(json, len, &v, err);
    if (rc < 0)
        return rc;
    return dump_checked(t, v, out, out_len, err);
}

/* json_string() that reports invalid UTF-8 by name. */
static int utf8_string(const char *s, const char *what, json_t **out, struct replay_err *err)
{
    *out = json_string(s);
    if (*out == NULL)
        return replay_err_set(err, REPLAY_EFORMAT, "%s is not valid UTF-8", what);
    return 0;
}

/* Sets obj[key] = string s (s NULL: nothing). Frees obj on failure. */
static int put_string(json_t *obj, const char *key, const char *s, const char *what,
                      struct replay_err *err)
{
    json_t *v = NULL;
    if (s == NULL)
        return 0;
    int rc = utf8_string(s, what, &v, err);
    if (rc == 0 && json_object_set_new(obj, key, v) != 0)
        rc = replay_err_set(err, REPLAY_ENOMEM, "encoding %s: out of memory", what);
    if (rc < 0)
        json_decref(obj);
    return rc;
}

int replay_queue_encode_alert(const char *alert_id, const char *reporting_ts, char **out,
                              size_t *out_len, struct replay_err *err)
{
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "encode alert: no output");
    *out = NULL;
    json_t *obj = json_object();
    if (obj == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "encode alert: out of memory");
    int rc = put_string(obj, "alert_id", alert_id == NULL ? "" : alert_id, "alert_id", err);
    if (rc == 0)
        rc = put_string(obj, "reporting_ts", reporting_ts, "reporting_ts", err);
    return rc < 0 ? rc : dump_checked(REPLAY_QUEUE_ALERT, obj, out, out_len, err);
}

int replay_queue_encode_submission(const char *sid, const char *completed, char **out,
                                   size_t *out_len, struct replay_err *err)
{
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "encode submission: no output");
    *out = NULL;
    json_t *obj = json_object(), *times = NULL;
    if (obj == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "encode submission: out of memory");
    int rc = put_string(obj, "sid", sid == NULL ? "" : sid, "sid", err);
    if (rc == 0 && completed != NULL) {
        times = json_object();
        if (times == NULL) {
            json_decref(obj);
            return replay_err_set(err, REPLAY_ENOMEM, "encode submission: out of memory");
        }
        if ((rc = put_string(times, "completed", completed, "times.completed", err)) < 0) {
            json_decref(obj); /* put_string freed times */
            return rc;
        }
        if (json_object_set_new(obj, "times", times) != 0) {
            json_decref(obj);
            return replay_err_set(err, REPLAY_ENOMEM, "encode submission: out of memory");
        }
    }
    return rc < 0 ? rc : dump_checked(REPLAY_QUEUE_SUBMISSION, obj, out, out_len, err);
}

int replay_queue_encode_file(const char *path, char **out, size_t *out_len,
                             struct replay_err *err)
{
    json_t *v = NULL;
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "encode file: no output");
    *out = NULL;
    int rc = utf8_string(path == NULL ? "" : path, "file path", &v, err);
    return rc < 0 ? rc : dump_checked(REPLAY_QUEUE_FILE, v, out, out_len, err);
}

/* ---- items ---- */

void replay__queue_item_destroy(struct replay_queue_item *item)
{
    free(item->raw);
    free(item->id);
    free(item->date);
    free(item);
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *oom = true;
    return d;
}

int replay_queue_item_parse(enum replay_queue_type t, const char *raw, size_t len,
                            struct replay_queue_item **out, struct replay_err *err)
{
    json_t *v = NULL;
    const char *id, *date;
    bool oom = false;
    if (out == NULL)
        return replay_err_set(err, REPLAY_EINVAL, "parse message: no output");
    *out = NULL;
    if (!type_ok(t) || (raw == NULL && len > 0))
        return replay_err_set(err, REPLAY_EINVAL, "parse message: bad queue type or no bytes");
    int rc = load_json(raw == NULL ? "" : raw, len, &v, err);
    if (rc < 0)
        return rc;
    if ((rc = check_shape(t, v, &id, &date, err)) < 0) {
        json_decref(v);
        return rc;
    }
    struct replay_queue_item *item = calloc(1, sizeof(*item));
    if (item != NULL) {
        item->type = t;
        item->len = len;
        item->raw = malloc(len + 1);
        item->id = dup_or_null(id, &oom);
        item->date = dup_or_null(date, &oom);
    }
    json_decref(v);
    if (item == NULL || item->raw == NULL || oom) {
        if (item != NULL)
            replay__queue_item_destroy(item);
        return replay_err_set(err, REPLAY_ENOMEM, "parse message: out of memory");
    }
    if (len > 0)
        memcpy(item->raw, raw, len);
    item->raw[len] = '\0';
    *out = item;
    return 0;
}

enum replay_queue_type replay_queue_item_type(const struct replay_queue_item *item)
{
    return item->type;
}

const char *replay_queue_item_json(const struct replay_queue_item *item, size_t *len)
{
    if (len != NULL)
        *len = item->len;
    return item->raw;
}

const char *replay_queue_item_id(const struct replay_queue_item *item)
{
    return item->id;
}

const char *replay_queue_item_date(const struct replay_queue_item *item)
{
    return item->date;
}
