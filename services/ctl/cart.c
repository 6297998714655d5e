/*
 * replay-ctl cart: pack, unpack, show or verify CaRT files by hand (formats.md §1).
 * Output files are written under a hidden temp name and renamed when complete, so
 * a failure leaves nothing. Exit codes: 0 ok, 1 bad input or I/O failure, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "replay/cart.h"
#include "replay/redact.h"

#define KEY_TEXT_MAX 1024

struct cart_args {
    const char *cmd;        /* "cart pack", ... for messages */
    const char *input;
    const char *output;
    const char *name;
    const char *header;
    const char *footer;
    uint8_t key[REPLAY_CART_KEY_MAX];
    size_t key_len;         /* 0: default key */
    bool force, fast, nested, require, quiet;
};

static void cart_usage(FILE *f)
{
    fprintf(f,
        "usage: replay-ctl cart pack   [-o OUT] [-f] [-n NAME] [-j JSON] [--footer JSON] [--fast] INPUT\n"
        "       replay-ctl cart unpack [-o OUT] [-f] INPUT\n"
        "       replay-ctl cart info   INPUT\n"
        "       replay-ctl cart verify INPUT\n"
        "\n"
        "  pack    wraps INPUT in a CaRT (default output INPUT.cart); byte-identical to\n"
        "          Assemblyline's cart library unless --fast\n"
        "  unpack  extracts the data (default output: INPUT without .cart, else\n"
        "          INPUT.uncart) once its length and digests matched the footer\n"
        "  info    prints {\"header\":...,\"footer\":...} without decoding the data\n"
        "  verify  decodes everything, checks length and digests, writes no file\n"
        "\n"
        "  -o, --output PATH   output file; '-' is standard output (INPUT '-' is standard input)\n"
        "  -f, --force         replace an existing output file\n"
        "  -n, --name NAME     pack: the header's \"name\" (default: INPUT's file name)\n"
        "  -j, --header JSON   pack: header metadata, a JSON object\n"
        "      --footer JSON   pack: extra footer metadata, a JSON object\n"
        "  -k, --key BASE64    custom RC4 key, base64, NUL-padded to 16 bytes as the cart CLI does\n"
        "      --key-file PATH read the base64 key from a file (keeps it out of ps)\n"
        "      --fast          pack: ISA-L deflate, several times faster; upstream reads it\n"
        "      --nested        allow packing a CaRT, or unpacking a CaRT that holds a CaRT\n"
        "      --require-digests  unpack/verify: fail when the footer has no md5, sha1,\n"
        "                      sha256 or length\n"
        "  -q, --quiet         no summary line\n");
}

static int b64_value(int c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c != '\0' ? strchr(alphabet, c) : NULL;
    return p != NULL ? (int)(p - alphabet) : -1;
}

/* Strict base64 (padding optional, no whitespace inside). Returns bytes or -1. */
static long b64_decode(const char *text, uint8_t *out, size_t cap)
{
    size_t len = strlen(text), n = 0;
    while (len > 0 && text[len - 1] == '=')
        len--;
    if (len % 4 == 1 || strlen(text) - len > 2)
        return -1;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)text[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)n;
}

/* Decodes the key as upstream's CLI does: base64, right-padded with NULs to 16. */
static int set_key(struct cart_args *a, const char *text)
{
    replay_redact_add_secret(text);
    long n = b64_decode(text, a->key, sizeof(a->key));
    if (n <= 0)
        return ctl_fail(a->cmd, 2, "the key is not valid base64 (1 to 256 bytes)");
    a->key_len = (size_t)n < 16 ? 16 : (size_t)n;
    return 0;
}

static int read_key_file(struct cart_args *a, const char *path)
{
    char text[KEY_TEXT_MAX + 1];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return ctl_fail(a->cmd, 2, "cannot read key file %s: %s", path, strerror(errno));
    size_t n = fread(text, 1, KEY_TEXT_MAX, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    if (more)
        return ctl_fail(a->cmd, 2, "key file %s is longer than %d bytes", path, KEY_TEXT_MAX);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    text[n] = '\0';
    return set_key(a, text);
}

enum { OPT_FOOTER = 256, OPT_KEY_FILE, OPT_FAST, OPT_NESTED, OPT_REQUIRE };

static int parse_option(struct cart_args *a, int c)
{
    switch (c) {
    case 'o': a->output = optarg; return 0;
    case 'f': a->force = true; return 0;
    case 'n': a->name = optarg; return 0;
    case 'j': a->header = optarg; return 0;
    case OPT_FOOTER: a->footer = optarg; return 0;
    case 'k': return set_key(a, optarg);
    case OPT_KEY_FILE: return read_key_file(a, optarg);
    case OPT_FAST: a->fast = true; return 0;
    case OPT_NESTED: a->nested = true; return 0;
    case OPT_REQUIRE: a->require = true; return 0;
    case 'q': a->quiet = true; return 0;
    case 'h': cart_usage(stdout); return -1;
    default: cart_usage(stderr); return 2;
    }
}

static int parse_args(struct cart_args *a, int argc, char **argv)
{
    static const struct option longs[] = {
        {"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
        {"name", required_argument, NULL, 'n'}, {"header", required_argument, NULL, 'j'},
        {"footer", required_argument, NULL, OPT_FOOTER}, {"key", required_argument, NULL, 'k'},
        {"key-file", required_argument, NULL, OPT_KEY_FILE}, {"fast", no_argument, NULL, OPT_FAST},
        {"nested", no_argument, NULL, OPT_NESTED},
        {"require-digests", no_argument, NULL, OPT_REQUIRE},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:fn:j:k:qh", longs, NULL)) != -1) {
        int rc = parse_option(a, c);
        if (rc != 0)
            return rc;
    }
    if (optind != argc - 1) {
        cart_usage(stderr);
        return 2;
    }
    a->input = argv[optind];
    return 0;
}

static bool is_stdio(const char *path)
{
    return strcmp(path, "-") == 0;
}

/* Opens INPUT (or takes standard input); *fd is -1 on failure (message printed). */
static int open_input(const struct cart_args *a, int *fd)
{
    *fd = -1;
    if (is_stdio(a->input)) {
        *fd = STDIN_FILENO;
        return 0;
    }
    int f = open(a->input, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return ctl_fail(a->cmd, 1, "cannot open %s: %s", a->input, strerror(errno));
    struct stat st;
    if (fstat(f, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(f);
        return ctl_fail(a->cmd, 1, "%s is a directory", a->input);
    }
    *fd = f;
    return 0;
}

static void close_input(int fd)
{
    if (fd > STDIN_FILENO)
        close(fd);
}

/* Default output path: pack INPUT.cart; unpack INPUT minus .cart, else INPUT.uncart. */
static char *default_output(const struct cart_args *a, bool pack)
{
    size_t len = strlen(a->input);
    char *out = malloc(len + 8);
    if (out == NULL)
        return NULL;
    if (pack)
        snprintf(out, len + 8, "%s.cart", a->input);
    else if (len > 5 && strcmp(a->input + len - 5, ".cart") == 0)
        snprintf(out, len + 8, "%.*s", (int)(len - 5), a->input);
    else
        snprintf(out, len + 8, "%s.uncart", a->input);
    return out;
}

/* Header = {"name": --name}, updated with --header; a missing or empty name
 * becomes INPUT's file name (as upstream's CLI). Returns malloc'd JSON or NULL. */
static char *pack_header(const struct cart_args *a, int *rc)
{
    json_error_t jerr;
    json_t *obj = a->header != NULL ? json_loads(a->header, 0, &jerr) : json_object();
    *rc = 2;
    if (obj == NULL || !json_is_object(obj)) {
        json_decref(obj);
        ctl_fail(a->cmd, 2, "--header must be a JSON object");
        return NULL;
    }
    const char *name = json_string_value(json_object_get(obj, "name"));
    if (a->name != NULL && (a->header == NULL || json_object_get(obj, "name") == NULL))
        json_object_set_new(obj, "name", json_string(a->name));
    else if ((name == NULL || name[0] == '\0') && !is_stdio(a->input)) {
        const char *slash = strrchr(a->input, '/');
        json_object_set_new(obj, "name", json_string(slash != NULL ? slash + 1 : a->input));
    }
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    *rc = text != NULL ? 0 : ctl_fail(a->cmd, 1, "out of memory");
    return text;
}

static void print_summary(const struct cart_args *a, const char *out,
                          const struct replay_cart_digests *d, bool pack)
{
    if (a->quiet || is_stdio(out))
        return;
    printf("%s %s: %llu bytes of data, %llu bytes of CaRT, sha256 %s\n",
           pack ? "packed" : "unpacked", out, (unsigned long long)d->length,
           (unsigned long long)d->cart_size, d->sha256);
}

static int run_pack(struct cart_args *a, int in, const char *out)
{
    int rc = 0;
    char *header = pack_header(a, &rc);
    if (header == NULL)
        return rc;
    struct replay_cart_enc_opts o = {
        .key = a->key_len > 0 ? a->key : NULL, .key_len = a->key_len, .header_json = header,
        .footer_json = a->footer, .mode = a->fast ? REPLAY_CART_FAST : REPLAY_CART_COMPAT,
    };
    unsigned flags = (a->force ? REPLAY_CART_F_OVERWRITE : 0) |
                     (a->nested ? 0 : REPLAY_CART_F_NO_NESTED);
    struct replay_cart_digests d;
    struct replay_err err = {0};
    rc = is_stdio(out) ? replay_cart_pack_fd(in, STDOUT_FILENO, &o, flags, &d, &err)
                       : replay_cart_pack_file(in, out, &o, flags, &d, &err);
    free(header);
    if (rc == REPLAY_EINVAL)
        return ctl_fail(a->cmd, 2, "%s", err.msg);
    if (rc != 0)
        return ctl_fail(a->cmd, 1, "%s: %s", a->input, err.msg);
    print_summary(a, out, &d, true);
    return 0;
}

static struct replay_cart_dec_opts dec_opts(const struct cart_args *a)
{
    struct replay_cart_dec_opts o = {.key = a->key_len > 0 ? a->key : NULL,
                                     .key_len = a->key_len, .require_digests = a->require};
    return o;
}

static int run_unpack(struct cart_args *a, int in, const char *out)
{
    struct replay_cart_dec_opts o = dec_opts(a);
    unsigned flags = (a->force ? REPLAY_CART_F_OVERWRITE : 0) |
                     (a->nested ? 0 : REPLAY_CART_F_NO_NESTED);
    struct replay_cart_digests d;
    struct replay_err err = {0};
    int rc = is_stdio(out) ? replay_cart_unpack_fd(in, STDOUT_FILENO, &o, flags, &d, &err)
                           : replay_cart_unpack_file(in, out, &o, flags, &d, &err);
    if (rc != 0)
        return ctl_fail(a->cmd, 1, "%s: %s", a->input, err.msg);
    print_summary(a, out, &d, false);
    return 0;
}

static int run_info(struct cart_args *a, int in)
{
    struct replay_cart_dec_opts o = dec_opts(a);
    char *header = NULL, *footer = NULL;
    struct replay_err err = {0};
    int rc = replay_cart_info_fd(in, &o, &header, &footer, &err);
    if (rc != 0)
        return ctl_fail(a->cmd, 1, "%s: %s", a->input, err.msg);
    printf("{\"header\":%s,\"footer\":%s}\n", header, footer);
    free(header);
    free(footer);
    return 0;
}

static int run_verify(struct cart_args *a, int in)
{
    struct replay_cart_dec_opts o = dec_opts(a);
    struct replay_cart_digests d;
    char *header = NULL, *footer = NULL;
    struct replay_err err = {0};
    int rc = replay_cart_verify_fd(in, &o, &d, &header, &footer, &err);
    if (rc != 0)
        return ctl_fail(a->cmd, 1, "%s: %s", a->input, err.msg);
    if (!a->quiet)
        printf("{\"header\":%s,\"footer\":%s,\"verified\":{\"length\":%llu,\"md5\":\"%s\","
               "\"sha1\":\"%s\",\"sha256\":\"%s\"}}\n", header, footer,
               (unsigned long long)d.length, d.md5, d.sha1, d.sha256);
    free(header);
    free(footer);
    return 0;
}

static int run(struct cart_args *a, const char *verb)
{
    bool pack = strcmp(verb, "pack") == 0, unpack = strcmp(verb, "unpack") == 0;
    if (!pack && !unpack && (a->output != NULL || a->force || a->nested))
        return ctl_fail(a->cmd, 2, "-o, --force and --nested are for pack and unpack");
    if (strcmp(verb, "info") == 0 && is_stdio(a->input))
        return ctl_fail(a->cmd, 2, "info needs a file, not standard input (use verify)");
    char *out = NULL;
    if ((pack || unpack) && a->output == NULL && !is_stdio(a->input)) {
        out = default_output(a, pack);
        if (out == NULL)
            return ctl_fail(a->cmd, 1, "out of memory");
    }
    const char *dest = a->output != NULL ? a->output : out != NULL ? out : "-";
    int in = -1;
    int rc = open_input(a, &in);
    if (rc == 0) {
        rc = pack     ? run_pack(a, in, dest)
             : unpack ? run_unpack(a, in, dest)
             : strcmp(verb, "info") == 0 ? run_info(a, in)
                                         : run_verify(a, in);
    }
    close_input(in);
    free(out);
    return rc;
}

int ctl_cart(int argc, char **argv, const struct ctl_globals *g)
{
    (void)g;
    static const char *const verbs[] = {"pack", "unpack", "info", "verify"};
    static const char *const cmds[] = {"cart pack", "cart unpack", "cart info", "cart verify"};
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        cart_usage(stdout);
        return 0;
    }
    for (int v = 0; argc >= 2 && v < 4; v++) {
        if (strcmp(argv[1], verbs[v]) != 0)
            continue;
        struct cart_args a = {.cmd = cmds[v]};
        int rc = parse_args(&a, argc - 1, argv + 1);
        if (rc != 0)
            return rc < 0 ? 0 : rc;
        return run(&a, verbs[v]);
    }
    cart_usage(stderr);
    return 2;
}
