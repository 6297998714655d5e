/* classification: Assemblyline's default classification levels (TLP), enough
 * for normalising and raising classifications on import (see alsim.h). */
#include "alsim.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

struct level {
    int lvl;
    const char *name, *short_name;
    const char *aliases[6];
};

/* assemblyline-base's default classification.yml (enforce: false). */
static const struct level LEVELS[] = {
    {100, "TLP:CLEAR", "TLP:C", {"UNRESTRICTED", "UNCLASSIFIED", "U", "TLP:W", "TLP:WHITE", NULL}},
    {110, "TLP:GREEN", "TLP:G", {NULL}},
    {120, "TLP:AMBER", "TLP:A", {NULL}},
    {125, "TLP:AMBER+STRICT", "TLP:A+S", {"RESTRICTED", NULL}},
};
#define N_LEVELS (sizeof(LEVELS) / sizeof(LEVELS[0]))

static const struct level *find_level(const char *up)
{
    for (size_t i = 0; i < N_LEVELS; i++) {
        if (strcmp(up, LEVELS[i].name) == 0 || strcmp(up, LEVELS[i].short_name) == 0)
            return &LEVELS[i];
        for (int a = 0; LEVELS[i].aliases[a] != NULL; a++)
            if (strcmp(up, LEVELS[i].aliases[a]) == 0)
                return &LEVELS[i];
    }
    return NULL;
}

/* Level of text (upper-cased, trimmed, before any "//"), and the rest. */
static const struct level *parse(const char *text, char *rest, size_t rest_len, char err[512])
{
    char up[256];
    size_t n = 0;
    while (*text == ' ')
        text++;
    for (; *text != '\0' && n + 1 < sizeof(up); text++)
        up[n++] = (char)toupper((unsigned char)*text);
    while (n > 0 && up[n - 1] == ' ')
        n--;
    up[n] = '\0';
    char *sep = strstr(up, "//");
    snprintf(rest, rest_len, "%s", sep != NULL ? sep : "");
    if (sep != NULL)
        *sep = '\0';
    const struct level *l = find_level(up);
    if (l == NULL)
        snprintf(err, 512, "Classification level '%s' was not found in your classification "
                 "definition.", up);
    return l;
}

int alsim_classification_normalize(const char *text, char *out, size_t len, char err[512])
{
    char rest[256];
    const struct level *l = parse(text != NULL ? text : "", rest, sizeof(rest), err);
    if (l == NULL)
        return -1;
    snprintf(out, len, "%s%s", l->name, rest);
    return 0;
}

int alsim_classification_max(const char *a, const char *b, char *out, size_t len, char err[512])
{
    char ra[256], rb[256];
    const struct level *la = parse(a != NULL ? a : "", ra, sizeof(ra), err);
    const struct level *lb = la != NULL ? parse(b != NULL ? b : "", rb, sizeof(rb), err) : NULL;
    if (la == NULL || lb == NULL)
        return -1;
    if (lb->lvl > la->lvl)
        snprintf(out, len, "%s%s", lb->name, rb);
    else
        snprintf(out, len, "%s%s", la->name, la->lvl == lb->lvl && ra[0] == '\0' ? rb : ra);
    return 0;
}
