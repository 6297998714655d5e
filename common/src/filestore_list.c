/*
 * filestore_list: the parser of FTP and SFTP directory listings (ls -l and DOS
 * styles), network input: a splitter that takes the listing as it streams in,
 * in chunks of any size, and a line parser that keeps regular files only. No
 * I/O, so the unit tests and a fuzz target feed it from memory.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "filestore_int.h"

static bool is_month(const char *t)
{
    static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec"};
    if (strlen(t) != 3)
        return false;
    for (size_t i = 0; i < 12; i++) {
        if (strcasecmp(t, months[i]) == 0)
            return true;
    }
    return false;
}

static bool all_digits(const char *t)
{
    if (*t == '\0')
        return false;
    for (; *t != '\0'; t++) {
        if (*t < '0' || *t > '9')
            return false;
    }
    return true;
}

#define LIST_MAX_TOKENS 12

/* Splits up to max tokens at runs of spaces; *rest points at what follows. */
static size_t tokens(char *line, char **tok, size_t max, char **rest)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            break;
        tok[n++] = p;
        p += strcspn(p, " \t");
        if (*p == '\0')
            break;
        *p++ = '\0';
    }
    while (*p == ' ' || *p == '\t')
        p++;
    *rest = p;
    return n;
}

/* "-rw-r--r-- 1 u g 5 Nov 28 01:30 name": the name follows month, day, time. */
static int parse_unix_line(char *line, const char **name)
{
    char type = line[0];
    char *tok[LIST_MAX_TOKENS], *rest = NULL;
    char *p = line;
    for (size_t i = 0; i < LIST_MAX_TOKENS; i++) {
        size_t n = tokens(p, tok, 1, &rest);
        if (n == 0)
            return 0;
        if (i >= 3 && is_month(tok[0])) {
            char *day, *when;
            if (tokens(rest, &day, 1, &rest) != 1 || !all_digits(day))
                return 0;
            if (tokens(rest, &when, 1, &rest) != 1)
                return 0;
            if (*rest == '\0' || type != '-')
                return 0;
            *name = rest;
            return 1;
        }
        p = rest;
    }
    return 0;
}

/* "11-28-26  01:30AM  <DIR>  name" or "11-28-26  01:30AM  1234 name". */
static int parse_dos_line(char *line, const char **name)
{
    char *tok[3], *rest;
    if (tokens(line, tok, 3, &rest) != 3 || *rest == '\0')
        return 0;
    if (strchr(tok[0], '-') == NULL || strchr(tok[1], ':') == NULL || !all_digits(tok[2]))
        return 0;
    *name = rest;
    return 1;
}

int replay__fs_parse_list_line(char *line, const char **name)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        line[--len] = '\0';
    if (len < 2)
        return 0;
    if (strchr("-dlbcps", line[0]) != NULL && strchr("-r", line[1]) != NULL)
        return parse_unix_line(line, name);
    if (line[0] >= '0' && line[0] <= '9')
        return parse_dos_line(line, name);
    return 0;
}

/* The splitter keeps at most one line; a longer line is skipped whole (no file
 * name is that long), and a NUL in a line makes it no file line. */
void replay__fs_lister_init(struct replay__fs_lister *l, replay_filestore_list_fn fn, void *ctx)
{
    l->len = 0;
    l->skipping = false;
    l->fn = fn;
    l->ctx = ctx;
}

static int lister_line(struct replay__fs_lister *l)
{
    size_t len = l->len;
    bool skip = l->skipping || memchr(l->line, '\0', len) != NULL;
    l->len = 0;
    l->skipping = false;
    if (skip)
        return 0;
    l->line[len] = '\0';
    const char *name;
    if (replay__fs_parse_list_line(l->line, &name) != 1)
        return 0;
    return l->fn(name, l->ctx);
}

int replay__fs_lister_feed(struct replay__fs_lister *l, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            int rc = lister_line(l);
            if (rc != 0)
                return rc;
        } else if (l->len + 1 < sizeof(l->line)) {
            l->line[l->len++] = p[i];
        } else {
            l->skipping = true;
        }
    }
    return 0;
}

int replay__fs_lister_end(struct replay__fs_lister *l)
{
    return l->len > 0 || l->skipping ? lister_line(l) : 0;
}
