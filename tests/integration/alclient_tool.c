/* alclient_tool: runs any call of common/alclient against a URL, for the
 * integration scripts (badhttp and al-sim). A test driver, not part of Replay.
 *
 *   alclient_tool [options] URL [options] COMMAND [ARGS...]
 *
 * Success prints the call's result on stdout and exits 0. A failure prints
 * "alclient_tool: <REPLAY_E...> http=<status>: <message>" on stderr and exits 1;
 * bad usage exits 2. JSON arguments starting with '@' are read from that file.
 * Run without arguments for the list of options and commands.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyjson_int.h"
#include "replay/alclient.h"
#include "replay/lifecycle.h"
#include "replay/log.h"

#define MAX_LIST 64

struct tool {
    struct replay_alclient_options o;
    struct replay_alclient_search search;
    struct replay_alclient_import import;
    const char *filters[MAX_LIST];
    const char *rescan[MAX_LIST];
    bool use_alert;
    unsigned cancel_after_ms;
    unsigned repeat;
    struct replay_cancel *cancel;
    struct replay_cancel *done; /* ends the canceler early */
    struct replay_alclient *c;
    struct replay_err err;
};

static const char usage_text[] =
    "usage: alclient_tool [options] URL [options] COMMAND [ARGS...]\n"
    "client: --user U --apikey NAME:SECRET (default $ALCLIENT_APIKEY, else devkey:devpass)\n"
    "        --insecure --ca FILE --attempts N --backoff-base MS --backoff-cap MS\n"
    "        --connect-timeout MS --low-speed-time S --bundle-low-speed-time S\n"
    "        --max-json BYTES --cancel-after MS --repeat N\n"
    "search: --filter Q (repeat) --no-filters --fl FL --sort S --rows N|omit --offset N\n"
    "        --track-total-hits\n"
    "bundle: --use-alert --exist-ok --min-classification C --rescan SERVICE (repeat)\n"
    "        --allow-incomplete --reclassification C --to-ingest\n"
    "commands: check | search INDEX QUERY | stream INDEX QUERY | pending INDEX QUERY MAX\n"
    "          complete INDEX ID | request INDEX ID | get-message TYPE | put-message TYPE JSON\n"
    "          get-checkpoint TYPE | put-checkpoint TYPE VALUE | download ID FILE|-\n"
    "          import FILE | list-get LIST ID | list-add LIST JSON | workflow-add JSON\n"
    "          workflow-update ID JSON\n";

static _Noreturn void usage(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "alclient_tool: %s\n", why);
    fputs(usage_text, stderr);
    exit(2);
}

static int fail(struct tool *t, int rc)
{
    fprintf(stderr, "alclient_tool: %s http=%d: %s\n", replay_err_name(rc),
            replay_alclient_http_status(t->c), t->err.msg);
    return 1;
}

static unsigned long num(const char *s)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        usage("a number was expected");
    return v;
}

/* Options with a value; returns how many argv entries were used (0 = not ours). */
static int option_value(struct tool *t, const char *name, const char *v)
{
    struct replay_alclient_options *o = &t->o;
    if (strcmp(name, "--user") == 0) o->user = v;
    else if (strcmp(name, "--apikey") == 0) o->apikey = v;
    else if (strcmp(name, "--ca") == 0) o->ca_file = v;
    else if (strcmp(name, "--attempts") == 0) o->retry.max_attempts = (unsigned)num(v);
    else if (strcmp(name, "--backoff-base") == 0) o->retry.base_ms = (unsigned)num(v);
    else if (strcmp(name, "--backoff-cap") == 0) o->retry.cap_ms = (unsigned)num(v);
    else if (strcmp(name, "--connect-timeout") == 0) o->connect_timeout_ms = (unsigned)num(v);
    else if (strcmp(name, "--low-speed-time") == 0) o->low_speed_time_s = (unsigned)num(v);
    else if (strcmp(name, "--bundle-low-speed-time") == 0)
        o->bundle_low_speed_time_s = (unsigned)num(v);
    else if (strcmp(name, "--max-json") == 0) o->max_json_bytes = num(v);
    else if (strcmp(name, "--cancel-after") == 0) t->cancel_after_ms = (unsigned)num(v);
    else if (strcmp(name, "--repeat") == 0) t->repeat = (unsigned)num(v);
    else if (strcmp(name, "--fl") == 0) t->search.fl = v;
    else if (strcmp(name, "--sort") == 0) t->search.sort = v;
    else if (strcmp(name, "--offset") == 0) t->search.offset = (long long)num(v);
    else if (strcmp(name, "--rows") == 0)
        t->search.rows = strcmp(v, "omit") == 0 ? REPLAY_ALCLIENT_ROWS_OMIT : (long long)num(v);
    else if (strcmp(name, "--min-classification") == 0) t->import.min_classification = v;
    else if (strcmp(name, "--reclassification") == 0) t->import.reclassification = v;
    else if (strcmp(name, "--filter") == 0 && t->search.n_filters < MAX_LIST) {
        t->filters[t->search.n_filters++] = v;
        t->search.filters = t->filters;
    } else if (strcmp(name, "--rescan") == 0 && t->import.n_rescan < MAX_LIST) {
        t->rescan[t->import.n_rescan++] = v;
        t->import.rescan_services = t->rescan;
    } else
        return 0;
    return 2;
}

static int option_flag(struct tool *t, const char *name)
{
    if (strcmp(name, "--insecure") == 0) t->o.tls_insecure = true;
    else if (strcmp(name, "--track-total-hits") == 0) t->search.track_total_hits = true;
    else if (strcmp(name, "--no-filters") == 0) t->search.filters = t->filters;
    else if (strcmp(name, "--use-alert") == 0) t->use_alert = true;
    else if (strcmp(name, "--exist-ok") == 0) t->import.exist_ok = true;
    else if (strcmp(name, "--allow-incomplete") == 0) t->import.allow_incomplete = true;
    else if (strcmp(name, "--to-ingest") == 0) t->import.to_ingest = true;
    else
        return 0;
    return 1;
}

static int parse_options(struct tool *t, int argc, char **argv, int i)
{
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        int used = option_flag(t, argv[i]);
        if (used == 0 && i + 1 < argc)
            used = option_value(t, argv[i], argv[i + 1]);
        if (used == 0)
            usage("unknown option or missing value");
        i += used;
    }
    return i;
}

/* JSON argument, or '@file' read whole (test inputs are small). */
static char *json_arg(const char *arg)
{
    if (arg[0] != '@')
        return strdup(arg);
    FILE *f = fopen(arg + 1, "rb");
    if (f == NULL)
        usage("cannot open a JSON file argument");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t r;
    while (m != NULL && (r = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(f);
    if (m == NULL || fclose(m) != 0)
        usage("cannot read a JSON file argument");
    return buf;
}

static void print_page(const struct replay_alclient_page *p)
{
    json_t *items = json_array();
    for (size_t i = 0; i < p->n_items; i++)
        json_array_append_new(items, json_loads(p->items[i], JSON_DECODE_ANY, NULL));
    json_t *o = json_pack("{s:I, s:I, s:o, s:o, s:o}", "offset", (json_int_t)p->offset, "rows",
                          (json_int_t)p->rows, "total",
                          p->total < 0 ? json_null() : json_integer(p->total),
                          "next_deep_paging_id",
                          p->next_deep_paging_id ? json_string(p->next_deep_paging_id)
                                                 : json_null(),
                          "items", items);
    char *text = replay__pyjson_dumps(o, 0, NULL);
    printf("%s\n", text ? text : "null");
    free(text);
    json_decref(o);
}

static int print_item(void *ctx, const char *item, size_t len)
{
    (void)ctx;
    fwrite(item, 1, len, stdout);
    fputc('\n', stdout);
    return 0;
}

static int print_text(struct tool *t, int rc, char *text)
{
    if (rc != 0) {
        free(text);
        return fail(t, rc);
    }
    printf("%s\n", text ? text : "null");
    free(text);
    return 0;
}

static int cmd_search(struct tool *t, int argc, char **argv)
{
    if (argc != 2)
        usage("search INDEX QUERY");
    t->search.query = argv[1];
    struct replay_alclient_page page;
    int rc = replay_alclient_search(t->c, argv[0], &t->search, &page, &t->err);
    if (rc == 0)
        print_page(&page);
    replay_alclient_page_clear(&page);
    return rc != 0 ? fail(t, rc) : 0;
}

static int cmd_stream(struct tool *t, int argc, char **argv)
{
    if (argc != 2)
        usage("stream INDEX QUERY");
    uint64_t n = 0;
    int rc = replay_alclient_stream(t->c, argv[0], argv[1], t->search.filters,
                                    t->search.n_filters, t->search.fl, print_item, NULL, &n,
                                    &t->err);
    fprintf(stderr, "streamed %llu items\n", (unsigned long long)n);
    return rc != 0 ? fail(t, rc) : 0;
}

static int cmd_state(struct tool *t, const char *cmd, int argc, char **argv)
{
    int rc;
    if (strcmp(cmd, "pending") == 0) {
        if (argc != 3)
            usage("pending INDEX QUERY MAX_DOCS");
        long long count = 0;
        rc = replay_alclient_set_bulk_pending(t->c, argv[0], argv[1], t->search.filters,
                                              t->search.n_filters, (long long)num(argv[2]),
                                              &count, &t->err);
        if (rc == 0)
            printf("%lld\n", count);
        return rc != 0 ? fail(t, rc) : 0;
    }
    if (argc != 2)
        usage("complete|request INDEX ID");
    bool ok = false;
    if (strcmp(cmd, "complete") == 0) {
        rc = replay_alclient_set_complete(t->c, argv[0], argv[1], &ok, &t->err);
    } else {
        rc = replay_alclient_request_replay(t->c, argv[0], argv[1], &t->err);
        ok = rc == 0;
    }
    if (rc == 0)
        printf("%s\n", ok ? "true" : "false");
    return rc != 0 ? fail(t, rc) : 0;
}

static int cmd_queue(struct tool *t, const char *cmd, int argc, char **argv)
{
    char *text = NULL;
    int rc;
    if (strcmp(cmd, "get-message") == 0 && argc == 1)
        rc = replay_alclient_get_message(t->c, argv[0], &text, &t->err);
    else if (strcmp(cmd, "get-checkpoint") == 0 && argc == 1)
        rc = replay_alclient_get_checkpoint(t->c, argv[0], &text, &t->err);
    else if (strcmp(cmd, "put-checkpoint") == 0 && argc == 2)
        rc = replay_alclient_put_checkpoint(t->c, argv[0], argv[1], &t->err);
    else if (strcmp(cmd, "put-message") == 0 && argc == 2) {
        char *msg = json_arg(argv[1]);
        rc = replay_alclient_put_message(t->c, argv[0], msg, &t->err);
        free(msg);
    } else
        usage("wrong arguments for a queue or checkpoint command");
    if (rc == 0 && text == NULL && cmd[0] == 'p')
        text = strdup("ok");
    return print_text(t, rc, text);
}

static int cmd_download(struct tool *t, int argc, char **argv)
{
    if (argc != 2)
        usage("download ID FILE|-");
    int fd = strcmp(argv[1], "-") == 0 ? 1 : open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        usage("cannot open the output file");
    uint64_t n = 0;
    int rc = replay_alclient_bundle_download(t->c, argv[0], t->use_alert, fd, &n, &t->err);
    if (fd != 1 && close(fd) != 0 && rc == 0)
        rc = replay_err_sys(&t->err, REPLAY_EIO, errno, "close %s", argv[1]);
    fprintf(stderr, "downloaded %llu bytes\n", (unsigned long long)n);
    return rc != 0 ? fail(t, rc) : 0;
}

static int cmd_import(struct tool *t, int argc, char **argv)
{
    if (argc != 1)
        usage("import FILE");
    int fd = open(argv[0], O_RDONLY);
    if (fd < 0)
        usage("cannot open the bundle");
    int rc = replay_alclient_bundle_import(t->c, fd, &t->import, &t->err);
    close(fd);
    return print_text(t, rc, rc == 0 ? strdup("ok") : NULL);
}

static int cmd_list(struct tool *t, const char *cmd, int argc, char **argv)
{
    char *out = NULL, *doc = NULL;
    int rc;
    if (strcmp(cmd, "list-get") == 0 && argc == 2) {
        rc = replay_alclient_list_get(t->c, argv[0], argv[1], &out, &t->err);
    } else if (strcmp(cmd, "list-add") == 0 && argc == 2) {
        doc = json_arg(argv[1]);
        rc = replay_alclient_list_add_update(t->c, argv[0], doc, &out, &t->err);
    } else if (strcmp(cmd, "workflow-add") == 0 && argc == 1) {
        doc = json_arg(argv[0]);
        rc = replay_alclient_workflow_add(t->c, doc, &out, &t->err);
    } else if (strcmp(cmd, "workflow-update") == 0 && argc == 2) {
        doc = json_arg(argv[1]);
        rc = replay_alclient_workflow_update(t->c, argv[0], doc, &out, &t->err);
    } else {
        usage("wrong arguments for a list command");
    }
    free(doc);
    return print_text(t, rc, out);
}

static int run_command(struct tool *t, const char *cmd, int argc, char **argv)
{
    if (strcmp(cmd, "check") == 0) {
        int rc = replay_alclient_check_api(t->c, &t->err);
        return print_text(t, rc, rc == 0 ? strdup("ok") : NULL);
    }
    if (strcmp(cmd, "search") == 0)
        return cmd_search(t, argc, argv);
    if (strcmp(cmd, "stream") == 0)
        return cmd_stream(t, argc, argv);
    if (strcmp(cmd, "pending") == 0 || strcmp(cmd, "complete") == 0 ||
        strcmp(cmd, "request") == 0)
        return cmd_state(t, cmd, argc, argv);
    if (strstr(cmd, "-message") != NULL || strstr(cmd, "-checkpoint") != NULL)
        return cmd_queue(t, cmd, argc, argv);
    if (strcmp(cmd, "download") == 0)
        return cmd_download(t, argc, argv);
    if (strcmp(cmd, "import") == 0)
        return cmd_import(t, argc, argv);
    if (strncmp(cmd, "list-", 5) == 0 || strncmp(cmd, "workflow-", 9) == 0)
        return cmd_list(t, cmd, argc, argv);
    usage("unknown command");
    return 2;
}

static void *canceler(void *arg)
{
    struct tool *t = arg;
    if (replay_cancel_sleep_ms(t->done, t->cancel_after_ms, false) == 0)
        replay_cancel_request(t->cancel);
    return NULL;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to report, not a death */
    static struct tool t;
    replay_log_init("alclient_tool", REPLAY_LOG_INFO, REPLAY_LOG_TEXT, 2);
    t.o.user = "admin";
    t.o.apikey = getenv("ALCLIENT_APIKEY") ? getenv("ALCLIENT_APIKEY") : "devkey:devpass";
    t.search.rows = 25;
    t.repeat = 1;
    int i = parse_options(&t, argc, argv, 1);
    if (i >= argc)
        usage(NULL);
    t.o.host = argv[i];
    i = parse_options(&t, argc, argv, i + 1) - 1; /* options may follow the URL too */
    if (argc - i < 2)
        usage(NULL);
    pthread_t th;
    if (t.cancel_after_ms > 0) {
        t.cancel = replay_cancel_new();
        t.done = replay_cancel_new();
        t.o.cancel = t.cancel;
        if (t.cancel == NULL || t.done == NULL || pthread_create(&th, NULL, canceler, &t) != 0)
            return 1;
    }
    int rc = replay_alclient_open(&t.o, &t.c, &t.err);
    if (rc != 0) {
        fail(&t, rc);
        return 2;
    }
    int status = 0;
    for (unsigned n = 0; n < t.repeat && status == 0; n++) {
        t.err = (struct replay_err){0};
        status = run_command(&t, argv[i + 1], argc - i - 2, argv + i + 2);
    }
    replay_alclient_close(t.c);
    if (t.cancel != NULL) {
        replay_cancel_request(t.done);
        pthread_join(th, NULL);
        replay_cancel_free(t.cancel);
        replay_cancel_free(t.done);
    }
    return status;
}
