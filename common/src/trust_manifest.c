/* trust: manifests built, serialized, parsed and named (replay/trust.h). The
 * parser builds through replay_manifest_new/_add, so a manifest read is held to
 * exactly the checks of one written. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "replay/atomicfile.h"
#include "replay/isotime.h"
#include "replay/trust.h"

/* What one file adds to the serialized form besides its strings. */
#define FILE_OVERHEAD 160u

/* A string a manifest may hold: 1..max bytes, valid UTF-8 (jansson checks it),
 * no control characters. */
static int check_string(const char *what, const char *s, size_t max, struct replay_err *err)
{
    if (s == NULL || s[0] == '\0')
        return replay_err_set(err, REPLAY_EFORMAT, "%s: missing or empty", what);
    size_t len = strlen(s);
    if (len > max)
        return replay_err_set(err, REPLAY_ETOOBIG, "%s: %zu bytes, at most %zu", what, len, max);
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return replay_err_set(err, REPLAY_EFORMAT, "%s: holds a control character", what);
    }
    json_t *probe = json_string(s);
    if (probe == NULL)
        return replay_err_set(err, REPLAY_EFORMAT, "%s: not valid UTF-8", what);
    json_decref(probe);
    return 0;
}

static bool is_lower_hex(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

static int check_sha256(const char *what, const char *s, struct replay_err *err)
{
    if (s == NULL || !is_lower_hex(s, 64))
        return replay_err_set(err, REPLAY_EFORMAT, "%s: not a sha256 (64 lowercase hex digits)",
                              what);
    return 0;
}

bool replay_manifest_file_name_is_safe(const char *name)
{
    return name != NULL && name[0] != '\0' && strlen(name) <= REPLAY_MANIFEST_MAX_NAME &&
           strchr(name, '/') == NULL && strchr(name, '\\') == NULL && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0 && !replay_atomicfile_is_tmp_name(name);
}

void replay_manifest_free(struct replay_manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_files; i++) {
        struct replay_manifest_file *f = &m->files[i];
        for (size_t j = 0; j < f->n_ids; j++)
            free(f->ids[j]);
        free(f->ids);
        free(f->name);
        free(f->type);
    }
    free(m->files);
    free(m->source);
    free(m->created);
    free(m);
}

static int check_header(const char *source, int64_t sequence, const char *created,
                        const char *previous_sha256, const char *key, struct replay_err *err)
{
    int rc = check_string("source", source, REPLAY_MANIFEST_MAX_NAME, err);
    struct replay_isotime t;
    if (rc == 0 && (sequence < 0 || sequence > REPLAY_MANIFEST_MAX_SEQUENCE))
        rc = replay_err_set(err, REPLAY_EFORMAT, "sequence: %" PRId64 " out of range", sequence);
    if (rc == 0)
        rc = check_string("created", created, REPLAY_MANIFEST_MAX_STRING, err);
    if (rc == 0 && replay_isotime_parse(created, strlen(created), &t, err) != 0) {
        replay_err_prefix(err, "created");
        rc = REPLAY_EFORMAT;
    }
    if (rc == 0 && previous_sha256 != NULL)
        rc = check_sha256("previous_sha256", previous_sha256, err);
    if (rc == 0 && key != NULL && (strncmp(key, "SHA256:", 7) != 0 || !is_lower_hex(key + 7, 64)))
        rc = replay_err_set(err, REPLAY_EFORMAT, "key: not a key fingerprint (SHA256:<hex>)");
    return rc;
}

int replay_manifest_new(const char *source, int64_t sequence, const char *created,
                        const char *previous_sha256, const char *key,
                        struct replay_manifest **out, struct replay_err *err)
{
    *out = NULL;
    int rc = check_header(source, sequence, created, previous_sha256, key, err);
    if (rc != 0)
        return rc;
    struct replay_manifest *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->source = strdup(source)) == NULL ||
        (m->created = strdup(created)) == NULL) {
        replay_manifest_free(m);
        return replay_err_set(err, REPLAY_ENOMEM, "manifest: out of memory");
    }
    m->sequence = sequence;
    snprintf(m->previous_sha256, sizeof(m->previous_sha256), "%s",
             previous_sha256 != NULL ? previous_sha256 : "");
    snprintf(m->key, sizeof(m->key), "%s", key != NULL ? key : "");
    m->approx_bytes = 256 + 2 * (strlen(source) + strlen(created));
    *out = m;
    return 0;
}

/* Checks one file's values and what it would add; *bytes gets its share. */
static int check_file(const struct replay_manifest *m, const char *name, int64_t size,
                      const char *sha256, const char *type, const char *const *ids,
                      size_t n_ids, size_t *bytes, struct replay_err *err)
{
    if (!replay_manifest_file_name_is_safe(name))
        return replay_err_set(err, REPLAY_EUNSAFE, "name: not a plain file name");
    int rc = check_string("name", name, REPLAY_MANIFEST_MAX_NAME, err);
    if (rc == 0 && (size < 0 || size > REPLAY_MANIFEST_MAX_FILE_SIZE))
        rc = replay_err_set(err, REPLAY_EFORMAT, "size: %" PRId64 " out of range", size);
    if (rc == 0)
        rc = check_sha256("sha256", sha256, err);
    if (rc == 0)
        rc = check_string("type", type, REPLAY_MANIFEST_MAX_STRING, err);
    *bytes = FILE_OVERHEAD + 2 * (strlen(name) + (type != NULL ? strlen(type) : 0));
    for (size_t i = 0; rc == 0 && i < n_ids; i++) {
        rc = check_string("ids", ids[i], REPLAY_MANIFEST_MAX_STRING, err);
        *bytes += rc == 0 ? 4 + 2 * strlen(ids[i]) : 0;
    }
    if (rc == 0 && (m->n_files >= REPLAY_MANIFEST_MAX_FILES ||
                    n_ids > REPLAY_MANIFEST_MAX_IDS - m->n_ids ||
                    *bytes > REPLAY_MANIFEST_MAX_BYTES - m->approx_bytes))
        rc = replay_err_set(err, REPLAY_ETOOBIG, "manifest full (at most %d files, %d ids, "
                            "%u bytes)", REPLAY_MANIFEST_MAX_FILES, REPLAY_MANIFEST_MAX_IDS,
                            REPLAY_MANIFEST_MAX_BYTES);
    return rc;
}

/* Copies the file's strings into f; on failure f holds what was copied. */
static int copy_file(struct replay_manifest_file *f, const char *name, const char *type,
                     const char *const *ids, size_t n_ids)
{
    if ((f->name = strdup(name)) == NULL || (f->type = strdup(type)) == NULL)
        return -1;
    if (n_ids > 0 && (f->ids = calloc(n_ids, sizeof(*f->ids))) == NULL)
        return -1;
    for (; f->n_ids < n_ids; f->n_ids++) {
        if ((f->ids[f->n_ids] = strdup(ids[f->n_ids])) == NULL)
            return -1;
    }
    return 0;
}

int replay_manifest_add(struct replay_manifest *m, const char *name, int64_t size,
                        const char *sha256, const char *type, const char *const *ids,
                        size_t n_ids, struct replay_err *err)
{
    size_t bytes = 0;
    int rc = check_file(m, name, size, sha256, type, ids, n_ids, &bytes, err);
    if (rc != 0)
        return rc;
    if (m->n_files == m->files_cap) { /* doubles: adding n files copies O(n) */
        size_t cap = m->files_cap > 0 ? 2 * m->files_cap : 16;
        struct replay_manifest_file *grown = realloc(m->files, cap * sizeof(*grown));
        if (grown == NULL)
            return replay_err_set(err, REPLAY_ENOMEM, "manifest: out of memory");
        m->files = grown;
        m->files_cap = cap;
    }
    struct replay_manifest_file *f = &m->files[m->n_files++];
    memset(f, 0, sizeof(*f));
    f->size = size;
    memcpy(f->sha256, sha256, sizeof(f->sha256));
    if (copy_file(f, name, type, ids, n_ids) != 0)
        return replay_err_set(err, REPLAY_ENOMEM, "manifest: out of memory");
    m->n_ids += n_ids;
    m->approx_bytes += bytes;
    return 0;
}

/* ---- serialize ---- */

static json_t *str_or_null(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *file_json(const struct replay_manifest_file *f)
{
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < f->n_ids; i++)
        json_array_append_new(ids, json_string(f->ids[i]));
    return json_pack("{s:s, s:I, s:s, s:s, s:o*}", "name", f->name, "size", (json_int_t)f->size,
                     "sha256", f->sha256, "type", f->type, "ids", ids);
}

int replay_manifest_serialize(const struct replay_manifest *m, char **out, size_t *len,
                              struct replay_err *err)
{
    *out = NULL;
    json_t *files = json_array();
    bool complete = files != NULL;
    for (size_t i = 0; complete && i < m->n_files; i++)
        complete = json_array_append_new(files, file_json(&m->files[i])) == 0;
    json_t *o = json_pack("{s:s, s:i, s:s, s:I, s:s, s:o, s:o, s:o*}", "format",
                          REPLAY_MANIFEST_FORMAT, "version", REPLAY_MANIFEST_VERSION, "source",
                          m->source, "sequence", (json_int_t)m->sequence, "created", m->created,
                          "previous_sha256", str_or_null(m->previous_sha256), "key",
                          str_or_null(m->key), "files", files);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    size_t n = text != NULL ? strlen(text) : 0;
    char *buf = text != NULL ? malloc(n + 2) : NULL;
    if (buf == NULL || !complete) {
        free(text);
        free(buf);
        return replay_err_set(err, REPLAY_ENOMEM, "manifest: out of memory");
    }
    memcpy(buf, text, n);
    buf[n++] = '\n';
    buf[n] = '\0';
    free(text);
    if (n > REPLAY_MANIFEST_MAX_BYTES) {
        free(buf);
        return replay_err_set(err, REPLAY_ETOOBIG, "manifest: %zu bytes, at most %u", n,
                              REPLAY_MANIFEST_MAX_BYTES);
    }
    *out = buf;
    *len = n;
    return 0;
}

int replay_manifest_entry_encode(const char *name, int64_t size, const char *sha256,
                                 const char *type, const char *const *ids, size_t n_ids,
                                 char **out, size_t *len, struct replay_err *err)
{
    struct replay_manifest one = {0};
    struct replay_manifest_file f = {.name = (char *)name, .size = size, .type = (char *)type,
                                     .ids = (char **)ids, .n_ids = n_ids};
    size_t bytes = 0;
    *out = NULL;
    int rc = check_file(&one, name, size, sha256, type, ids, n_ids, &bytes, err);
    if (rc != 0)
        return rc;
    memcpy(f.sha256, sha256, sizeof(f.sha256));
    json_t *o = file_json(&f);
    *out = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (*out == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "manifest entry: out of memory");
    *len = strlen(*out);
    return 0;
}

/* ---- parse ---- */

/* True when object o has exactly the n keys named. */
static bool has_exactly(const json_t *o, const char *const *keys, size_t n)
{
    if (!json_is_object(o) || json_object_size(o) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (json_object_get(o, keys[i]) == NULL)
            return false;
    }
    return true;
}

/* The string at key, NULL for JSON null (when allowed) or another type (*bad). */
static const char *get_str(const json_t *o, const char *key, bool nullable, bool *bad)
{
    const json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return json_string_value(v);
    if (!(nullable && json_is_null(v)))
        *bad = true;
    return NULL;
}

static int parse_file(struct replay_manifest *m, const json_t *o, struct replay_err *err)
{
    static const char *const keys[] = {"name", "size", "sha256", "type", "ids"};
    const json_t *ids = json_object_get(o, "ids"), *size = json_object_get(o, "size");
    bool bad = !has_exactly(o, keys, 5) || !json_is_integer(size) || !json_is_array(ids);
    const char *name = get_str(o, "name", false, &bad);
    const char *sha = get_str(o, "sha256", false, &bad);
    const char *type = get_str(o, "type", false, &bad);
    size_t n_ids = json_array_size(ids);
    if (bad)
        return replay_err_set(err, REPLAY_EFORMAT, "not an object of name, size, sha256, type "
                              "and ids of the right types");
    if (n_ids > REPLAY_MANIFEST_MAX_IDS)
        return replay_err_set(err, REPLAY_ETOOBIG, "ids: %zu, at most %d", n_ids,
                              REPLAY_MANIFEST_MAX_IDS);
    const char **list = calloc(n_ids + 1, sizeof(*list));
    if (list == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_ids; i++) {
        list[i] = json_string_value(json_array_get(ids, i));
        bad = bad || list[i] == NULL;
    }
    int rc = bad ? replay_err_set(err, REPLAY_EFORMAT, "ids: not a list of strings")
                 : replay_manifest_add(m, name, (int64_t)json_integer_value(size), sha, type,
                                       list, n_ids, err);
    free(list);
    return rc;
}

int replay_manifest_add_entry(struct replay_manifest *m, const char *entry, size_t len,
                              struct replay_err *err)
{
    json_error_t jerr;
    json_t *o = json_loadb(entry, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = o != NULL ? parse_file(m, o, err)
                       : replay_err_set(err, REPLAY_EFORMAT, "not JSON (column %d)", jerr.column);
    json_decref(o);
    if (rc != 0 && rc != REPLAY_ETOOBIG)
        replay_err_prefix(err, "manifest entry");
    return rc;
}

static int parse_object(const json_t *o, struct replay_manifest **out, struct replay_err *err)
{
    static const char *const keys[] = {"format", "version", "source", "sequence",
                                       "created", "previous_sha256", "key", "files"};
    const json_t *files = json_object_get(o, "files"), *seq = json_object_get(o, "sequence");
    bool bad = !has_exactly(o, keys, 8) || !json_is_integer(seq) || !json_is_array(files);
    const char *format = get_str(o, "format", false, &bad);
    const char *source = get_str(o, "source", false, &bad);
    const char *created = get_str(o, "created", false, &bad);
    const char *prev = get_str(o, "previous_sha256", true, &bad);
    const char *key = get_str(o, "key", true, &bad);
    if (bad)
        return replay_err_set(err, REPLAY_EFORMAT, "not an object of format, version, source, "
                              "sequence, created, previous_sha256, key and files");
    if (strcmp(format, REPLAY_MANIFEST_FORMAT) != 0 ||
        json_integer_value(json_object_get(o, "version")) != REPLAY_MANIFEST_VERSION)
        return replay_err_set(err, REPLAY_EFORMAT, "not a manifest of format %s version %d",
                              REPLAY_MANIFEST_FORMAT, REPLAY_MANIFEST_VERSION);
    if (json_array_size(files) > REPLAY_MANIFEST_MAX_FILES)
        return replay_err_set(err, REPLAY_ETOOBIG, "files: %zu, at most %d",
                              json_array_size(files), REPLAY_MANIFEST_MAX_FILES);
    int rc = replay_manifest_new(source, (int64_t)json_integer_value(seq), created, prev, key,
                                 out, err);
    for (size_t i = 0; rc == 0 && i < json_array_size(files); i++) {
        if ((rc = parse_file(*out, json_array_get(files, i), err)) != 0)
            replay_err_prefix(err, "files[%zu]", i);
    }
    return rc;
}

int replay_manifest_parse(const void *buf, size_t len, struct replay_manifest **out,
                          struct replay_err *err)
{
    *out = NULL;
    if (len > REPLAY_MANIFEST_MAX_BYTES)
        return replay_err_set(err, REPLAY_ETOOBIG, "manifest: %zu bytes, at most %u", len,
                              REPLAY_MANIFEST_MAX_BYTES);
    json_error_t jerr;
    json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL)
        return replay_err_set(err, REPLAY_EFORMAT, "manifest: not JSON (line %d, column %d)",
                              jerr.line, jerr.column);
    int rc = parse_object(o, out, err);
    json_decref(o);
    if (rc != 0) {
        replay_err_prefix(err, "manifest");
        replay_manifest_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- names ---- */

int replay_manifest_name(const char *created, int64_t sequence, char *out, size_t outsz,
                         struct replay_err *err)
{
    int n = snprintf(out, outsz, REPLAY_MANIFEST_PREFIX "%s_%" PRId64 REPLAY_MANIFEST_SUFFIX,
                     created, sequence);
    if (n < 0 || (size_t)n >= outsz || strchr(created, '/') != NULL)
        return replay_err_set(err, REPLAY_EINVAL, "manifest name: bad time or no room");
    return 0;
}

