/* fields: lookups in the collections' mappings (see fields.h). */
#include "fields.h"

#include <stdlib.h>
#include <string.h>

/* Dynamic templates of the models: a path under `prefix` is a field of `type`. */
static const struct {
    enum alsim_coll coll;
    const char *prefix;
    enum alsim_ftype type;
} DYNAMIC[] = {
    {ALSIM_ALERT, "metadata.", ALSIM_F_WILDCARD},
    {ALSIM_SUBMISSION, "metadata.", ALSIM_F_WILDCARD},
    {ALSIM_RESULT, "result.sections.tags.file.rule.", ALSIM_F_KEYWORD},
    {ALSIM_RESULT, "result.sections.safelisted_tags.", ALSIM_F_KEYWORD},
};

static int by_name(const void *key, const void *elem)
{
    return strcmp(key, ((const struct alsim_field *)elem)->name);
}

enum alsim_ftype alsim_field_type(enum alsim_coll c, const char *field, bool *doc_values)
{
    if (doc_values != NULL)
        *doc_values = false;
    if ((unsigned)c >= ALSIM_COLL_COUNT || field == NULL)
        return ALSIM_F_NONE;
    const struct alsim_field_table *t = &ALSIM_FIELD_TABLES[c];
    const struct alsim_field *f = bsearch(field, t->v, t->n, sizeof(*t->v), by_name);
    if (f != NULL) {
        if (doc_values != NULL)
            *doc_values = f->doc_values;
        return f->type;
    }
    for (size_t i = 0; i < sizeof(DYNAMIC) / sizeof(DYNAMIC[0]); i++) {
        size_t n = strlen(DYNAMIC[i].prefix);
        if (DYNAMIC[i].coll == c && strncmp(field, DYNAMIC[i].prefix, n) == 0 &&
            field[n] != '\0') {
            if (doc_values != NULL)
                *doc_values = true;
            return DYNAMIC[i].type;
        }
    }
    return ALSIM_F_NONE;
}

const char *alsim_ftype_name(enum alsim_ftype t)
{
    switch (t) {
    case ALSIM_F_NONE: return "";
    case ALSIM_F_KEYWORD: return "keyword";
    case ALSIM_F_WILDCARD: return "wildcard";
    case ALSIM_F_DATE: return "date";
    case ALSIM_F_INTEGER: return "integer";
    case ALSIM_F_LONG: return "long";
    case ALSIM_F_FLOAT: return "float";
    case ALSIM_F_BOOLEAN: return "boolean";
    case ALSIM_F_IP: return "ip";
    case ALSIM_F_TEXT: return "text";
    }
    return "";
}
