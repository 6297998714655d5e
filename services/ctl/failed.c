/*
 * replay-ctl failed: the files the loader-worker gave up on (docs/operations.md,
 * "The failed directory"). `list` shows them newest failure first with the reason
 * from their `<name>.error.json`; `show` one of them whole; `retry` moves files
 * back into the loader's input directory (common/failed: a rename, or a copy that
 * appears whole across file systems; a file of that name already in the input
 * directory is never replaced) and removes their sidecars, so the loader queues
 * them again. Directories come from the configuration (loader.failed_directory,
 * loader.input_directory). Exit codes: 0 ok, 1 a directory or file that cannot be
 * read or moved, 2 usage or configuration (a name with '/' or '..' included).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "replay/failed.h"

#define CMD "failed"
/* Files listed at most: a failed directory this full needs another tool first. */
#define FAILED_LIST_MAX 100000u
#define REASON_SHOWN 90

struct failed_args {
    bool json, all;
    const char *verb;
    char **names;
    int n_names;
};

static void failed_usage(FILE *f)
{
    fprintf(f,
        "usage: replay-ctl failed list [--json]\n"
        "       replay-ctl failed show NAME [--json]\n"
        "       replay-ctl failed retry NAME... [--json]\n"
        "       replay-ctl failed retry --all [--json]\n"
        "\n"
        "  list   the files of loader.failed_directory, newest failure first, with the\n"
        "         reason their NAME.error.json gives\n"
        "  show   everything the NAME.error.json of one file says (refused documents too)\n"
        "  retry  moves each NAME (or every file with --all) back into\n"
        "         loader.input_directory and removes its .error.json, so the loader\n"
        "         queues it again; do it once the cause is fixed. A file of the same name\n"
        "         already in the input directory is never replaced: that file is\n"
        "         reported and left in the failed directory. NAME is a base name (no '/',\n"
        "         not a dot-file, not a .error.json)\n"
        "  --json the same as JSON\n"
        "\n"
        "Exit codes: 0 ok; 1 a directory, file or sidecar that cannot be read, or a file\n"
        "not retried; 2 bad usage or configuration.\n");
}

static int parse_args(int argc, char **argv, struct failed_args *a)
{
    static const struct option longs[] = {
        {"json", no_argument, NULL, 'j'}, {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'j': a->json = true; break;
        case 'a': a->all = true; break;
        case 'h': return 1;
        default: return 2;
        }
    }
    if (optind >= argc)
        return 2;
    a->verb = argv[optind];
    a->names = argv + optind + 1;
    a->n_names = argc - optind - 1;
    if (strcmp(a->verb, "list") == 0)
        return a->n_names == 0 && !a->all ? 0 : 2;
    if (strcmp(a->verb, "show") == 0)
        return a->n_names == 1 && !a->all ? 0 : 2;
    if (strcmp(a->verb, "retry") == 0)
        return (a->n_names > 0) != a->all ? 0 : 2;
    return 2;
}

/* ---- collecting ---- */

struct entry {
    json_t *o;
    struct timespec when; /* the sidecar's mtime (the failure), else the file's ctime */
};

static int newest_first(const void *x, const void *y)
{
    const struct timespec *a = &((const struct entry *)x)->when;
    const struct timespec *b = &((const struct entry *)y)->when;
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? 1 : -1;
    return a->tv_nsec < b->tv_nsec ? 1 : a->tv_nsec > b->tv_nsec ? -1 : 0;
}

/* The sidecar's fields (or why it cannot be read) into `o`. */
static void add_reason(const char *dir, const char *name, json_t *o)
{
    struct replay_failed_info *info = NULL;
    struct replay_err err = {0};
    if (replay_failed_read_reason(dir, name, &info, &err) != 0) {
        json_object_set_new(o, "sidecar_error", json_string(err.msg));
        return;
    }
    json_object_set_new(o, "reason", json_string(info->reason));
    json_object_set_new(o, "time", info->time ? json_string(info->time) : json_null());
    json_object_set_new(o, "host", info->host ? json_string(info->host) : json_null());
    json_object_set_new(o, "component",
                        info->component ? json_string(info->component) : json_null());
    json_object_set_new(o, "original_path",
                        info->original_path ? json_string(info->original_path) : json_null());
    json_object_set_new(o, "attempts",
                        info->attempts >= 0 ? json_integer(info->attempts) : json_null());
    json_object_set_new(o, "items_failed", json_integer(info->items_failed));
    json_t *items = json_array();
    for (size_t i = 0; i < info->n_items; i++)
        json_array_append_new(items, json_pack("{s:s?, s:s?}", "id", info->items[i].id,
                                               "reason", info->items[i].reason));
    json_object_set_new(o, "items", items);
    replay_failed_info_free(info);
}

/* One file of the failed directory as an entry; false when it is not one. */
static bool entry_of(int dfd, const char *dir, const char *name, struct entry *e)
{
    struct stat st, side;
    char sname[NAME_MAX + 1];
    if (!replay_failed_name_ok(name) || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode))
        return false;
    replay_failed_sidecar_name(name, sname, sizeof(sname));
    e->when = fstatat(dfd, sname, &side, AT_SYMLINK_NOFOLLOW) == 0 ? side.st_mtim : st.st_ctim;
    e->o = json_pack("{s:s, s:I}", "name", name, "size", (json_int_t)st.st_size);
    add_reason(dir, name, e->o);
    return e->o != NULL;
}

static int read_entries(DIR *d, const char *dir, struct entry *list, size_t *n)
{
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL && *n < FAILED_LIST_MAX) {
        if (entry_of(dirfd(d), dir, de->d_name, &list[*n]))
            (*n)++;
        errno = 0;
    }
    return errno;
}

int ctl_failed_collect(const char *dir, json_t *out, struct replay_err *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return replay_err_sys(err, REPLAY_EIO, errno, "cannot read the failed directory %s",
                              dir);
    struct entry *list = calloc(FAILED_LIST_MAX, sizeof(*list));
    size_t n = 0;
    int e = list != NULL ? read_entries(d, dir, list, &n) : ENOMEM;
    closedir(d);
    qsort(list, n, sizeof(*list), newest_first);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, list[i].o);
    free(list);
    return e == 0 ? 0
                  : replay_err_sys(err, REPLAY_EIO, e, "cannot read the failed directory %s",
                                   dir);
}

/* ---- list, show ---- */

static void print_row(json_t *o)
{
    const char *why = json_object_get(o, "reason") != NULL ? ctl_str(o, "reason")
                                                             : ctl_str(o, "sidecar_error");
    const char *when = ctl_str(o, "time");
    printf("  %-44s %12lld  %-27s %.*s%s\n", ctl_str(o, "name"), ctl_int(o, "size"),
           when[0] != '\0' ? when : "-", REASON_SHOWN, why,
           strlen(why) > REASON_SHOWN ? "..." : "");
}

static int list(const struct replay_config *cfg, const struct failed_args *a)
{
    struct replay_err err = {0};
    const char *dir = cfg->loader.failed_directory;
    json_t *files = json_array();
    int rc = ctl_failed_collect(dir, files, &err);
    if (rc == 0 && a->json) {
        json_t *o = json_pack("{s:s, s:I, s:O}", "failed_directory", dir, "count",
                              (json_int_t)json_array_size(files), "files", files);
        ctl_print_json(o);
        json_decref(o);
    } else if (rc == 0) {
        size_t i;
        json_t *f;
        printf("failed directory %s: %zu file(s)\n", dir, json_array_size(files));
        if (json_array_size(files) > 0)
            printf("  %-44s %12s  %-27s %s\n", "file", "bytes", "failed at", "reason");
        json_array_foreach(files, i, f)
            print_row(f);
    }
    json_decref(files);
    return rc == 0 ? 0 : ctl_fail(CMD, 1, "%s", err.msg);
}

static void print_show(json_t *o)
{
    static const char *keys[] = {"reason", "time", "host", "component", "attempts",
                                 "original_path", "items_failed"};
    printf("%-14s %s\n%-14s %lld\n", "file", ctl_str(o, "name"), "bytes", ctl_int(o, "size"));
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        json_t *v = json_object_get(o, keys[k]);
        if (json_is_string(v))
            printf("%-14s %s\n", keys[k], json_string_value(v));
        else if (json_is_integer(v))
            printf("%-14s %lld\n", keys[k], (long long)json_integer_value(v));
    }
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(o, "items"), i, it)
        printf("  refused %s: %s\n", ctl_str(it, "id"), ctl_str(it, "reason"));
}

static int show(const struct replay_config *cfg, const struct failed_args *a)
{
    const char *dir = cfg->loader.failed_directory, *name = a->names[0];
    struct entry e = {0};
    int dfd = -1;
    if (!replay_failed_name_ok(name))
        return ctl_fail(CMD, 2, "\"%s\" is not the name of a file of the failed directory", name);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return ctl_fail(CMD, 1, "cannot read the failed directory %s: %s", dir, strerror(errno));
    bool found = entry_of(dfd, dir, name, &e);
    close(dfd);
    if (!found)
        return ctl_fail(CMD, 1, "%s: no such file in the failed directory %s", name, dir);
    const char *bad = json_string_value(json_object_get(e.o, "sidecar_error"));
    if (a->json)
        ctl_print_json(e.o);
    else
        print_show(e.o);
    int code = bad != NULL ? ctl_fail(CMD, 1, "%s", bad) : 0;
    json_decref(e.o);
    return code;
}

/* ---- retry ---- */

static bool retry_one(const struct replay_config *cfg, const char *name, json_t *report,
                      bool quiet)
{
    struct replay_err err = {0};
    int rc = replay_failed_restore(cfg->loader.failed_directory, name,
                                   cfg->loader.input_directory, NULL, &err);
    json_array_append_new(report, json_pack("{s:s, s:b, s:s?}", "name", name, "retried",
                                            rc == 0, "error", rc == 0 ? NULL : err.msg));
    if (rc != 0)
        ctl_fail(CMD, 1, "%s not retried: %s", name, err.msg);
    else if (!quiet)
        printf("retried %s: moved to %s\n", name, cfg->loader.input_directory);
    return rc == 0;
}

static int retry(const struct replay_config *cfg, const struct failed_args *a)
{
    struct replay_err err = {0};
    json_t *names = json_array(), *report = json_array();
    int code = 0;
    for (int i = 0; i < a->n_names; i++) {
        if (!replay_failed_name_ok(a->names[i]))
            code = ctl_fail(CMD, 2, "\"%s\" is not the name of a file of the failed directory",
                            a->names[i]);
        json_array_append_new(names, json_pack("{s:s}", "name", a->names[i]));
    }
    if (code == 0 && a->all && ctl_failed_collect(cfg->loader.failed_directory, names, &err) != 0)
        code = ctl_fail(CMD, 1, "%s", err.msg);
    bool go = code == 0;
    for (size_t i = 0; go && i < json_array_size(names); i++) {
        if (!retry_one(cfg, ctl_str(json_array_get(names, i), "name"), report, a->json))
            code = 1;
    }
    if (a->json && go)
        ctl_print_json(report);
    else if (go && json_array_size(names) == 0)
        printf("nothing to retry: %s holds no file\n", cfg->loader.failed_directory);
    json_decref(names);
    json_decref(report);
    return code;
}

int ctl_failed(int argc, char **argv, const struct ctl_globals *g)
{
    struct failed_args a = {0};
    struct replay_config *cfg = NULL;
    int prc = parse_args(argc, argv, &a);
    if (prc != 0) {
        failed_usage(prc == 1 ? stdout : stderr);
        return prc == 1 ? 0 : 2;
    }
    if (ctl_load_config(CMD, g, &cfg) != 0)
        return 2;
    int rc = strcmp(a.verb, "list") == 0 ? list(cfg, &a)
             : strcmp(a.verb, "show") == 0 ? show(cfg, &a)
                                           : retry(cfg, &a);
    replay_config_free(cfg);
    return rc;
}
