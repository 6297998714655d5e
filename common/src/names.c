/* names: Replay's file names, made and recognised in one place. */
#include "replay/names.h"

#include <stdio.h>
#include <string.h>

static bool id_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c == '-';
}

bool replay_names_id_is_safe(const char *id)
{
    if (id == NULL || id[0] == '\0')
        return false;
    size_t n = 0;
    for (; id[n] != '\0'; n++) {
        if (n == REPLAY_NAMES_MAX_ID || !id_char(id[n]))
            return false;
    }
    return true;
}

/* A printable excerpt of untrusted text for a message. */
static void shown(const char *s, char *out, size_t size)
{
    size_t i = 0;
    for (; s != NULL && s[i] != '\0' && i + 1 < size; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[i] = '\0';
}

static bool is_list(enum replay_input_type t)
{
    return t == REPLAY_INPUT_BADLIST || t == REPLAY_INPUT_SAFELIST ||
           t == REPLAY_INPUT_SIGNATURE || t == REPLAY_INPUT_WORKFLOW;
}

int replay_names_bundle(enum replay_input_type t, const char *id, char *buf, size_t size,
                        struct replay_err *err)
{
    if (t != REPLAY_INPUT_ALERT && t != REPLAY_INPUT_SUBMISSION)
        return replay_err_set(err, REPLAY_EINVAL, "bundle name: only alerts and submissions "
                                                  "have bundles");
    if (!replay_names_id_is_safe(id)) {
        char what[72];
        shown(id, what, sizeof(what));
        return replay_err_set(err, REPLAY_EUNSAFE,
                              "%s id \"%s\" is not safe in a file name (expected 1 to %d "
                              "characters of [0-9A-Za-z_-])",
                              replay_input_name(t), what, REPLAY_NAMES_MAX_ID);
    }
    int n = snprintf(buf, size, "%s_%s%s", replay_input_name(t), id, REPLAY_NAMES_BUNDLE_SUFFIX);
    if (n < 0 || (size_t)n >= size)
        return replay_err_set(err, REPLAY_EINVAL, "bundle name: buffer too small");
    return 0;
}

int replay_names_batch(enum replay_input_type t, const struct replay_isotime *when, char *buf,
                       size_t size, struct replay_err *err)
{
    if (!is_list(t))
        return replay_err_set(err, REPLAY_EINVAL, "batch name: only badlist, safelist, "
                                                  "signature and workflow are exported in "
                                                  "batches");
    char iso[REPLAY_ISOTIME_LEN];
    int n = snprintf(buf, size, "%s_%s%s", replay_input_name(t),
                     replay_isotime_format(when, iso, sizeof(iso)),
                     REPLAY_NAMES_JSON_CART_SUFFIX);
    if (n < 0 || (size_t)n >= size)
        return replay_err_set(err, REPLAY_EINVAL, "batch name: buffer too small");
    return 0;
}

/* True when base ends with suffix and has at least one character before it. */
static bool has_suffix(const char *base, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len > n && memcmp(base + len - n, suffix, n) == 0;
}

enum replay_names_kind replay_names_classify(const char *base)
{
    if (base == NULL || base[0] == '\0' || base[0] == '.' || strchr(base, '/') != NULL)
        return REPLAY_NAMES_IGNORED;
    size_t len = strlen(base), pl = strlen(REPLAY_NAMES_MANIFEST_PREFIX);
    if (strncmp(base, REPLAY_NAMES_MANIFEST_PREFIX, pl) == 0 &&
        has_suffix(base + pl, len - pl, REPLAY_NAMES_MANIFEST_SUFFIX))
        return REPLAY_NAMES_MANIFEST;
    if (has_suffix(base, len, REPLAY_NAMES_BUNDLE_SUFFIX))
        return REPLAY_NAMES_BUNDLE;
    if (has_suffix(base, len, REPLAY_NAMES_JSON_CART_SUFFIX))
        return REPLAY_NAMES_JSON_CART;
    if (has_suffix(base, len, REPLAY_NAMES_JSON_SUFFIX))
        return REPLAY_NAMES_JSON;
    return REPLAY_NAMES_IGNORED;
}

int replay_names_collection(const char *base, enum replay_input_type *out,
                            struct replay_err *err)
{
    const char *us = base != NULL ? strchr(base, '_') : NULL;
    size_t n = us != NULL ? (size_t)(us - base) : 0;
    for (int t = 0; us != NULL && t < REPLAY_INPUT_COUNT; t++) {
        const char *name = replay_input_name((enum replay_input_type)t);
        if (is_list((enum replay_input_type)t) && strlen(name) == n &&
            memcmp(base, name, n) == 0) {
            *out = (enum replay_input_type)t;
            return 0;
        }
    }
    char what[72];
    shown(base, what, sizeof(what));
    return replay_err_set(err, REPLAY_EFORMAT,
                          "\"%s\" is not named after a list collection (expected badlist_, "
                          "safelist_, signature_ or workflow_ before the time)",
                          what);
}

const char *replay_names_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}
