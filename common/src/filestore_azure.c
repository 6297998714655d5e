/*
 * filestore_azure: azure:// stores, Azure Blob's REST API over libcurl.
 *
 * URL: azure://<account>.blob.core.windows.net[:port]/<container>[/<base path>]
 * as upstream: the endpoint is https://host[:port], the container the first path
 * segment, blobs are "<base path>/<base name of the object name>" (the whole
 * relative name with ?allow_directory_access=true), and the container is checked
 * at open and created when missing (?initalize_container=true, the default, and
 * not read-only).
 *
 * Our additions, for emulators and private endpoints: when the host is an IP
 * address or "localhost" the first path segment is the account (path-style, as
 * Azure's SDKs do for Azurite); ?use_ssl=false uses http; ?verify=false skips
 * the TLS check; ?sas_token= gives a SAS token. Credentials: ?access_key= is the
 * account key (SharedKey signing, HMAC-SHA256 with libcrypto), or a SAS token
 * when it contains "sig="; nothing is anonymous access. Azure AD sign-in
 * (tenant_id/client_id/client_secret, use_default_credentials) is not built and
 * fails at open with a message saying so.
 *
 * Upload: one Put Blob up to the threshold (by default Azure's 5000 MiB limit for
 * one Put Blob), else Put Block for each part then Put Block List, so nothing is
 * visible before the commit.
 * Both carry "If-None-Match: *": the service refuses to replace a blob. A
 * streamed upload reads blocks of stream_part_size from the stream's pipe into
 * one buffer and sends each as it fills (retried from memory), committing the
 * block list only after the end of a successful stream; a stream shorter than
 * one block is one Put Blob.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"
#include "replay/backoff.h"
#include "replay/log.h"
#include "replay/redact.h"

#define AZ_VERSION "2021-08-06"
#define AZ_MAX_SINGLE_PUT (5000ull << 20)
#define AZ_DEFAULT_THRESHOLD AZ_MAX_SINGLE_PUT
#define AZ_DEFAULT_BLOCK (32ull << 20)
#define AZ_MAX_BLOCK (4000ull << 20)
#define AZ_MAX_BLOCKS 50000u
#define AZ_LIST_MAX (8u << 20)
#define AZ_URL_MAX (REPLAY__FS_MAX_PATH * 3 + 2048)
#define AZ_MAX_QUERY 8

struct az_store {
    char origin[400];  /* scheme://host:port */
    char root[700];    /* origin[/account]/container, encoded */
    char account[128];
    char container[256];
    char base_path[REPLAY__FS_MAX_PATH]; /* without slashes at either end */
    unsigned char key[128];
    size_t key_len; /* 0: no account key */
    char sas[2048]; /* SAS token without '?', "" for none */
    bool allow_dirs, init_container, verify;
};

static const char *const az_options[] = {
    "access_key",       "tenant_id",  "client_id", "client_secret", "use_default_credentials",
    "allow_directory_access", "initalize_container", "sas_token", "use_ssl", "verify", NULL};

/* ---- parse ---------------------------------------------------------------------- */

static bool ip_or_localhost(const char *host)
{
    if (strcmp(host, "localhost") == 0 || strchr(host, ':') != NULL)
        return true;
    for (const char *c = host; *c != '\0'; c++) {
        if (!((*c >= '0' && *c <= '9') || *c == '.'))
            return false;
    }
    return host[0] != '\0';
}

static int set_key(struct replay_filestore *fs, struct az_store *a, const char *key,
                   struct replay_err *err)
{
    size_t n = strlen(key);
    unsigned char buf[4 * 64];
    if (n == 0 || n % 4 != 0 || n > sizeof(buf))
        goto bad;
    int len = EVP_DecodeBlock(buf, (const unsigned char *)key, (int)n);
    if (len < 0)
        goto bad;
    len -= (key[n - 1] == '=') + (n > 1 && key[n - 2] == '=');
    if (len <= 0 || (size_t)len > sizeof(a->key))
        goto bad;
    memcpy(a->key, buf, (size_t)len);
    a->key_len = (size_t)len;
    return 0;
bad:
    return replay_err_set(err, REPLAY_ECONFIG,
                          "filestore URL %s: access_key is neither a base64 account key nor a "
                          "SAS token",
                          fs->shown);
}

static int set_credentials(struct replay_filestore *fs, struct az_store *a,
                           struct replay_err *err)
{
    const struct replay__fs_url *u = &fs->url;
    const char *key = replay__fs_url_opt(u, "access_key");
    const char *sas = replay__fs_url_opt(u, "sas_token");
    bool aad = replay__fs_url_opt(u, "tenant_id") != NULL &&
               replay__fs_url_opt(u, "client_id") != NULL;
    if (replay__fs_url_bool(u, "use_default_credentials", false) ||
        (aad && key == NULL && sas == NULL))
        return replay_err_set(err, REPLAY_EUNSUPPORTED,
                              "filestore URL %s: Azure AD sign-in (use_default_credentials, "
                              "tenant_id/client_id/client_secret) is not supported; use "
                              "access_key (account key or SAS token) or sas_token",
                              fs->shown);
    if (key != NULL && strstr(key, "sig=") != NULL)
        sas = key, key = NULL;
    if (sas != NULL) {
        if (sas[0] == '?')
            sas++;
        if (snprintf(a->sas, sizeof(a->sas), "%s", sas) >= (int)sizeof(a->sas) ||
            strpbrk(a->sas, " #") != NULL)
            return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: bad SAS token",
                                  fs->shown);
        replay_redact_add_secret(a->sas);
        return 0;
    }
    return key != NULL ? set_key(fs, a, key, err) : 0;
}

/* Account, container and base path from host and path. */
static int set_location(struct replay_filestore *fs, struct az_store *a, struct replay_err *err)
{
    const struct replay__fs_url *u = &fs->url;
    const char *p = u->base;
    while (*p == '/')
        p++;
    bool path_style = ip_or_localhost(u->host);
    size_t n;
    if (path_style) {
        n = strcspn(p, "/");
        snprintf(a->account, sizeof(a->account), "%.*s", (int)n, p);
        p += n;
        while (*p == '/')
            p++;
    } else {
        n = strcspn(u->host, ".");
        snprintf(a->account, sizeof(a->account), "%.*s", (int)n, u->host);
    }
    n = strcspn(p, "/");
    snprintf(a->container, sizeof(a->container), "%.*s", (int)n, p);
    p += n;
    while (*p == '/')
        p++;
    snprintf(a->base_path, sizeof(a->base_path), "%s", p);
    n = strlen(a->base_path);
    while (n > 0 && a->base_path[n - 1] == '/')
        a->base_path[--n] = '\0';
    if (a->account[0] == '\0' || a->container[0] == '\0')
        return replay_err_set(err, REPLAY_ECONFIG,
                              "filestore URL %s: no %s (azure://<account host>/<container>)",
                              fs->shown, a->account[0] == '\0' ? "account" : "container");
    char enc_acc[400], enc_cont[800];
    int rc = replay__fs_url_encode(a->account, false, enc_acc, sizeof(enc_acc), err);
    if (rc == 0)
        rc = replay__fs_url_encode(a->container, false, enc_cont, sizeof(enc_cont), err);
    if (rc != 0)
        return rc;
    int n2 = snprintf(a->root, sizeof(a->root), "%s%s%s/%s", a->origin, path_style ? "/" : "",
                      path_style ? enc_acc : "", enc_cont);
    if (n2 < 0 || (size_t)n2 >= sizeof(a->root))
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: too long", fs->shown);
    return 0;
}

static int az_parse(struct replay_filestore *fs, struct replay_err *err)
{
    const struct replay__fs_url *u = &fs->url;
    if (u->host[0] == '\0')
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: no host", fs->shown);
    struct az_store *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore: out of memory");
    fs->impl = a;
    bool ssl = replay__fs_url_bool(u, "use_ssl", true);
    a->verify = replay__fs_url_bool(u, "verify", true);
    a->allow_dirs = replay__fs_url_bool(u, "allow_directory_access", false);
    a->init_container = replay__fs_url_bool(u, "initalize_container", true);
    int rc = replay__fs_origin(ssl ? "https" : "http", u->host,
                               u->port != 0 ? u->port : (ssl ? 443 : 80), a->origin,
                               sizeof(a->origin), err);
    if (rc == 0)
        rc = set_location(fs, a, err);
    return rc != 0 ? rc : set_credentials(fs, a, err);
}

static void az_close(struct replay_filestore *fs)
{
    struct az_store *a = fs->impl;
    if (a != NULL)
        OPENSSL_cleanse(a->key, sizeof(a->key));
    free(a);
    fs->impl = NULL;
}

/* ---- requests ----------------------------------------------------------------------- */

struct az_param {
    const char *name, *value; /* value not encoded */
};

struct az_call {
    struct replay__fs_rest r;
    struct az_param q[AZ_MAX_QUERY]; /* sorted by name by the caller */
    size_t nq;
    const char *blob;          /* NULL for container requests */
    const char *content_type;  /* for requests with a body */
    const char *if_none_match; /* "*" or NULL */
    const char *blob_type;     /* x-ms-blob-type or NULL */
    char url[AZ_URL_MAX];
    char path[AZ_URL_MAX]; /* the encoded path of url, for signing */
};

static void call_init(struct az_call *c)
{
    memset(c, 0, sizeof(*c));
    replay__fs_rest_init(&c->r);
}

static void call_free(struct az_call *c)
{
    replay__fs_rest_free(&c->r);
}

static void rfc1123_now(char *out, size_t outsz)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(out, outsz, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int build_url(struct az_store *a, struct az_call *c, struct replay_err *err)
{
    char enc[REPLAY__FS_MAX_PATH * 3] = "";
    if (c->blob != NULL) {
        int rc = replay__fs_url_encode(c->blob, true, enc, sizeof(enc), err);
        if (rc != 0)
            return rc;
    }
    size_t o = (size_t)snprintf(c->url, sizeof(c->url), "%s%s%s", a->root,
                                c->blob != NULL ? "/" : "", enc);
    snprintf(c->path, sizeof(c->path), "%s", c->url + strlen(a->origin));
    for (size_t i = 0; i < c->nq && o < sizeof(c->url); i++) {
        char v[3 * 1024];
        int rc = replay__fs_url_encode(c->q[i].value, false, v, sizeof(v), err);
        if (rc != 0)
            return rc;
        o += (size_t)snprintf(c->url + o, sizeof(c->url) - o, "%c%s=%s", i == 0 ? '?' : '&',
                              c->q[i].name, v);
    }
    if (a->sas[0] != '\0' && o < sizeof(c->url))
        o += (size_t)snprintf(c->url + o, sizeof(c->url) - o, "%c%s", c->nq == 0 ? '?' : '&',
                              a->sas);
    if (o >= sizeof(c->url))
        return replay_err_set(err, REPLAY_ETOOBIG, "Azure URL too long");
    return 0;
}

/* SharedKey: base64(HMAC-SHA256(key, string-to-sign)). */
static int sign(struct az_store *a, struct az_call *c, const char *method, const char *date,
                char *auth, size_t authsz, struct replay_err *err)
{
    char len[32] = "";
    if (c->r.x.in_len > 0)
        snprintf(len, sizeof(len), "%llu", (unsigned long long)c->r.x.in_len);
    size_t cap = 4096 + strlen(c->path);
    char *sts = malloc(cap);
    if (sts == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    size_t o = (size_t)snprintf(sts, cap,
                                "%s\n\n\n%s\n\n%s\n\n\n\n%s\n\n\n%s%s%sx-ms-date:%s\n"
                                "x-ms-version:" AZ_VERSION "\n/%s%s",
                                method, len, c->content_type != NULL ? c->content_type : "",
                                c->if_none_match != NULL ? c->if_none_match : "",
                                c->blob_type != NULL ? "x-ms-blob-type:" : "",
                                c->blob_type != NULL ? c->blob_type : "",
                                c->blob_type != NULL ? "\n" : "", date, a->account, c->path);
    for (size_t i = 0; i < c->nq && o < cap; i++)
        o += (size_t)snprintf(sts + o, cap - o, "\n%s:%s", c->q[i].name, c->q[i].value);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    int rc = 0;
    if (o >= cap || HMAC(EVP_sha256(), a->key, (int)a->key_len, (unsigned char *)sts, o, md,
                         &mdlen) == NULL)
        rc = replay_err_set(err, REPLAY_EIO, "Azure request signing failed");
    else
        EVP_EncodeBlock(b64, md, (int)mdlen);
    free(sts);
    if (rc == 0)
        snprintf(auth, authsz, "Authorization: SharedKey %s:%s", a->account, (char *)b64);
    return rc;
}

static bool add_header(struct az_call *c, const char *name, const char *value)
{
    return replay__http_header_add(&c->r.headers, name, value);
}

static int set_headers(struct az_store *a, struct az_call *c, const char *method,
                       struct replay_err *err)
{
    char date[64], auth[300];
    rfc1123_now(date, sizeof(date));
    bool ok = add_header(c, "x-ms-date", date) && add_header(c, "x-ms-version", AZ_VERSION);
    if (c->blob_type != NULL)
        ok = ok && add_header(c, "x-ms-blob-type", c->blob_type);
    if (c->content_type != NULL)
        ok = ok && add_header(c, "Content-Type", c->content_type);
    if (c->if_none_match != NULL)
        ok = ok && add_header(c, "If-None-Match", c->if_none_match);
    if (c->r.x.in_fd < 0)
        ok = ok && add_header(c, "Expect:", NULL);
    if (!ok)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    if (a->key_len == 0)
        return 0;
    int rc = sign(a, c, method, date, auth, sizeof(auth), err);
    if (rc == 0 && !add_header(c, auth, NULL))
        rc = replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    return rc;
}

static int az_run(struct replay_filestore *fs, struct az_call *c, const char *method,
                  struct replay_err *err)
{
    struct az_store *a = fs->impl;
    int rc = build_url(a, c, err);
    if (rc == 0)
        rc = set_headers(a, c, method, err);
    if (rc != 0)
        return rc;
    if (replay__fs_curl(fs, a->verify, err) == NULL)
        return REPLAY_ENOMEM;
    snprintf(c->r.what, sizeof(c->r.what), "%s %.150s", method, c->path);
    return replay__fs_rest_run(fs, &c->r, method, c->url, err);
}

static int az_fail(struct replay_filestore *fs, struct az_call *c, struct replay_err *err)
{
    return replay__fs_rest_fail(fs, &c->r, err);
}

/* ---- container -------------------------------------------------------------------------- */

static int create_container(struct replay_filestore *fs, struct replay_err *err)
{
    struct az_call c;
    call_init(&c);
    c.q[c.nq++] = (struct az_param){"restype", "container"};
    int rc = az_run(fs, &c, "PUT", err);
    if (rc == 0 && c.r.x.status != 201 && c.r.x.status != 409)
        rc = az_fail(fs, &c, err);
    if (rc == 0 && c.r.x.status == 201)
        replay_info("filestore %s: created container %s", fs->shown,
                    ((struct az_store *)fs->impl)->container);
    call_free(&c);
    return rc;
}

static int az_connect(struct replay_filestore *fs, struct replay_err *err)
{
    struct az_store *a = fs->impl;
    struct az_call c;
    call_init(&c);
    c.q[c.nq++] = (struct az_param){"restype", "container"};
    int rc = az_run(fs, &c, "HEAD", err);
    long status = c.r.x.status;
    if (rc == 0 && status == 404 && a->init_container && !fs->read_only) {
        call_free(&c);
        return create_container(fs, err);
    }
    if (rc == 0 && status == 403 && a->sas[0] != '\0') {
        replay_warn("filestore %s: the SAS token cannot read the container's properties; "
                    "assuming container %s exists", fs->shown, a->container);
    } else if (rc == 0 && status != 200) {
        rc = az_fail(fs, &c, err);
    }
    call_free(&c);
    return rc;
}

/* ---- blobs ---------------------------------------------------------------------------- */

static int blob_name(struct az_store *a, const char *name, char *out, size_t outsz,
                     struct replay_err *err)
{
    const char *n = a->allow_dirs ? name : replay__fs_basename(name);
    int len = snprintf(out, outsz, "%s%s%s", a->base_path, a->base_path[0] != '\0' ? "/" : "", n);
    if (len < 0 || (size_t)len >= outsz)
        return replay_err_set(err, REPLAY_ETOOBIG, "blob name of %.60s too long", name);
    return 0;
}

static int put_blob(struct replay_filestore *fs, const struct replay__fs_body *b,
                    const char *blob, enum replay_filestore_outcome *outcome,
                    struct replay_err *err)
{
    struct az_call c;
    call_init(&c);
    c.blob = blob;
    c.blob_type = "BlockBlob";
    c.content_type = "application/octet-stream";
    c.if_none_match = "*";
    replay__fs_body_set(&c.r.x, b);
    int rc = az_run(fs, &c, "PUT", err);
    if (rc == 0 && (c.r.x.status == 409 || c.r.x.status == 412))
        *outcome = REPLAY_FILESTORE_SKIPPED_EXISTS;
    else if (rc == 0 && c.r.x.status != 201)
        rc = az_fail(fs, &c, err);
    call_free(&c);
    return rc;
}

/* Tells one upload's blocks from a concurrent one's (17 bytes with the NUL). */
static void block_prefix(char prefix[17])
{
    snprintf(prefix, 17, "%016llx", (unsigned long long)replay_random_u64());
}

/* Block ids: base64 of "<16 hex>-<7 digits>", equal lengths as Azure requires. */
static void block_id(const char *prefix, unsigned i, char out[64])
{
    char raw[32];
    snprintf(raw, sizeof(raw), "%s-%07u", prefix, i);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)raw, (int)strlen(raw));
}

static int put_block(struct replay_filestore *fs, const struct replay__fs_body *b,
                     const char *blob, const char *id, struct replay_err *err)
{
    struct az_call c;
    call_init(&c);
    c.blob = blob;
    c.content_type = "application/octet-stream";
    c.q[c.nq++] = (struct az_param){"blockid", id};
    c.q[c.nq++] = (struct az_param){"comp", "block"};
    replay__fs_body_set(&c.r.x, b);
    int rc = az_run(fs, &c, "PUT", err);
    if (rc == 0 && c.r.x.status != 201)
        rc = az_fail(fs, &c, err);
    call_free(&c);
    return rc;
}

static int put_block_list(struct replay_filestore *fs, const char *blob, const char *prefix,
                          unsigned n, enum replay_filestore_outcome *outcome,
                          struct replay_err *err)
{
    size_t cap = 128 + (size_t)n * 64;
    char *xml = malloc(cap);
    if (xml == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    size_t o = (size_t)snprintf(xml, cap, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for (unsigned i = 0; i < n; i++) {
        char id[64];
        block_id(prefix, i, id);
        o += (size_t)snprintf(xml + o, cap - o, "<Latest>%s</Latest>", id);
    }
    o += (size_t)snprintf(xml + o, cap - o, "</BlockList>");
    struct az_call c;
    call_init(&c);
    c.blob = blob;
    c.content_type = "application/xml";
    c.if_none_match = "*";
    c.q[c.nq++] = (struct az_param){"comp", "blocklist"};
    c.r.x.in_mem = xml;
    c.r.x.in_len = o;
    int rc = az_run(fs, &c, "PUT", err);
    if (rc == 0 && (c.r.x.status == 409 || c.r.x.status == 412))
        *outcome = REPLAY_FILESTORE_SKIPPED_EXISTS;
    else if (rc == 0 && c.r.x.status != 201)
        rc = az_fail(fs, &c, err);
    call_free(&c);
    free(xml);
    return rc;
}

static int put_blocks(struct replay_filestore *fs, int fd, uint64_t size, const char *blob,
                      enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    uint64_t part = fs->opts.part_size != 0 ? fs->opts.part_size : AZ_DEFAULT_BLOCK;
    if ((size + part - 1) / part > AZ_MAX_BLOCKS)
        part = ((size / AZ_MAX_BLOCKS) | ((1u << 20) - 1)) + 1;
    if (part > AZ_MAX_BLOCK)
        return replay_err_set(err, REPLAY_ETOOBIG, "%llu bytes is too large for a block blob",
                              (unsigned long long)size);
    unsigned n = (unsigned)((size + part - 1) / part);
    char prefix[17];
    block_prefix(prefix);
    int rc = 0;
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        char id[64];
        block_id(prefix, i, id);
        uint64_t off = (uint64_t)i * part;
        struct replay__fs_body b = {NULL, fd, off, size - off < part ? size - off : part};
        rc = put_block(fs, &b, blob, id, err);
    }
    /* Uncommitted blocks are invisible and expire on their own if we fail here. */
    return rc != 0 ? rc : put_block_list(fs, blob, prefix, n, outcome, err);
}

static int az_upload(struct replay_filestore *fs, int fd, uint64_t size, const char *name,
                     enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    char blob[REPLAY__FS_MAX_PATH];
    int rc = blob_name(fs->impl, name, blob, sizeof(blob), err);
    if (rc != 0)
        return rc;
    uint64_t threshold =
        fs->opts.multipart_threshold != 0 ? fs->opts.multipart_threshold : AZ_DEFAULT_THRESHOLD;
    if (threshold > AZ_MAX_SINGLE_PUT)
        threshold = AZ_MAX_SINGLE_PUT;
    if (size > threshold)
        return put_blocks(fs, fd, size, blob, outcome, err);
    struct replay__fs_body b = {NULL, fd, 0, size};
    return put_blob(fs, &b, blob, outcome, err);
}

/* A streamed upload: the blocks are in memory one at a time. */
struct az_stream {
    char blob[REPLAY__FS_MAX_PATH];
    char prefix[17];
    enum replay_filestore_outcome *outcome;
};

static int stream_whole(struct replay_filestore *fs, void *arg, const struct replay__fs_body *b,
                        struct replay_err *err)
{
    struct az_stream *st = arg;
    return put_blob(fs, b, st->blob, st->outcome, err);
}

static int stream_block(struct replay_filestore *fs, void *arg, unsigned i,
                        const struct replay__fs_body *b, struct replay_err *err)
{
    struct az_stream *st = arg;
    char id[64];
    block_id(st->prefix, i, id);
    return put_block(fs, b, st->blob, id, err);
}

/* On failure nothing calls this: the blocks stay uncommitted, invisible, and
 * the service drops them. */
static int stream_commit(struct replay_filestore *fs, void *arg, unsigned n,
                         struct replay_err *err)
{
    struct az_stream *st = arg;
    return put_block_list(fs, st->blob, st->prefix, n, st->outcome, err);
}

static const struct replay__fs_part_ops az_parts = {
    "Put Block",  AZ_MAX_BLOCKS, 1, AZ_MAX_BLOCK, stream_whole, NULL, stream_block,
    stream_commit,
};

static int az_upload_stream(struct replay_filestore *fs, const char *name,
                            const struct replay__fs_producer *p,
                            enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    struct az_stream st = {.outcome = outcome};
    block_prefix(st.prefix);
    int rc = blob_name(fs->impl, name, st.blob, sizeof(st.blob), err);
    return rc != 0 ? rc : replay__fs_stream_parts(fs, p, &az_parts, &st, err);
}

static int az_download(struct replay_filestore *fs, const char *name, int fd,
                       struct replay_err *err)
{
    char blob[REPLAY__FS_MAX_PATH];
    int rc = blob_name(fs->impl, name, blob, sizeof(blob), err);
    if (rc != 0)
        return rc;
    struct az_call c;
    call_init(&c);
    c.blob = blob;
    c.r.x.out_fd = fd;
    rc = az_run(fs, &c, "GET", err);
    if (rc == 0 && c.r.x.status != 200)
        rc = az_fail(fs, &c, err);
    call_free(&c);
    return rc;
}

static int az_exists(struct replay_filestore *fs, const char *name, bool *exists,
                     struct replay_err *err)
{
    char blob[REPLAY__FS_MAX_PATH];
    int rc = blob_name(fs->impl, name, blob, sizeof(blob), err);
    if (rc != 0)
        return rc;
    struct az_call c;
    call_init(&c);
    c.blob = blob;
    rc = az_run(fs, &c, "HEAD", err);
    if (rc == 0) {
        *exists = c.r.x.status == 200;
        if (c.r.x.status != 200 && c.r.x.status != 404)
            rc = az_fail(fs, &c, err);
    }
    call_free(&c);
    return rc;
}

static int az_remove(struct replay_filestore *fs, const char *name, struct replay_err *err)
{
    char blob[REPLAY__FS_MAX_PATH];
    int rc = blob_name(fs->impl, name, blob, sizeof(blob), err);
    if (rc != 0)
        return rc;
    struct az_call c;
    call_init(&c);
    c.blob = blob;
    rc = az_run(fs, &c, "DELETE", err);
    if (rc == 0 && c.r.x.status != 202 && c.r.x.status != 200 && c.r.x.status != 404)
        rc = az_fail(fs, &c, err);
    call_free(&c);
    return rc;
}

struct list_ctx {
    replay_filestore_list_fn fn;
    void *ctx;
    size_t strip; /* length of "<base path>/" */
};

static int list_blob(const char *name, void *ud)
{
    struct list_ctx *l = ud;
    if (strlen(name) <= l->strip)
        return 0;
    return l->fn(name + l->strip, l->ctx);
}

static int list_page(struct replay_filestore *fs, char *marker, size_t markersz,
                     struct list_ctx *l, struct replay_err *err)
{
    struct az_store *a = fs->impl;
    char prefix[REPLAY__FS_MAX_PATH + 2];
    snprintf(prefix, sizeof(prefix), "%s%s", a->base_path, a->base_path[0] != '\0' ? "/" : "");
    struct az_call c;
    call_init(&c);
    c.r.body.max = AZ_LIST_MAX;
    c.r.x.body = &c.r.body;
    c.q[c.nq++] = (struct az_param){"comp", "list"};
    c.q[c.nq++] = (struct az_param){"delimiter", "/"};
    if (marker[0] != '\0')
        c.q[c.nq++] = (struct az_param){"marker", marker};
    c.q[c.nq++] = (struct az_param){"maxresults", "1000"};
    if (prefix[0] != '\0')
        c.q[c.nq++] = (struct az_param){"prefix", prefix};
    c.q[c.nq++] = (struct az_param){"restype", "container"};
    int rc = az_run(fs, &c, "GET", err);
    if (rc == 0 && c.r.x.status != 200)
        rc = az_fail(fs, &c, err);
    if (rc == 0 && c.r.body.p != NULL)
        rc = replay__xml_each(c.r.body.p, c.r.body.len, "Blob", "Name", REPLAY__FS_MAX_PATH,
                              list_blob, l);
    char next[1024] = "";
    if (rc == 0 && c.r.body.p != NULL &&
        replay__xml_text(c.r.body.p, c.r.body.len, "NextMarker", next, sizeof(next)) == NULL)
        next[0] = '\0';
    snprintf(marker, markersz, "%s", next);
    call_free(&c);
    return rc;
}

static int az_list(struct replay_filestore *fs, replay_filestore_list_fn fn, void *ctx,
                   struct replay_err *err)
{
    struct az_store *a = fs->impl;
    struct list_ctx l = {fn, ctx, a->base_path[0] != '\0' ? strlen(a->base_path) + 1 : 0};
    char marker[1024] = "";
    do {
        int rc = list_page(fs, marker, sizeof(marker), &l, err);
        if (rc != 0)
            return rc;
    } while (marker[0] != '\0');
    return 0;
}

const struct replay__fs_ops replay__fs_azure_ops = {
    .scheme = "azure",
    .options = az_options,
    .parse = az_parse,
    .connect = az_connect,
    .close = az_close,
    .upload = az_upload,
    .upload_stream = az_upload_stream,
    .download = az_download,
    .exists = az_exists,
    .remove = az_remove,
    .list = az_list,
};
