/*
 * filestore_s3: s3:// stores (AWS S3 and compatible servers) over libcurl,
 * signed with libcurl's AWS SigV4.
 *
 * As upstream: keys are the base name of the object name, at the root of bucket
 * ?s3_bucket= (default "al-storage"); the URL path is not used; the endpoint is
 * https://host:443 (http://host:80 with ?use_ssl=false), the URL's port
 * replacing the number; no host means AWS; the bucket is checked at open and
 * created when missing (unless read-only).
 *
 * Uploads stream with "x-amz-content-sha256: UNSIGNED-PAYLOAD" as one PUT (S3
 * and MinIO make a PUT visible only once complete), or, above the multipart
 * threshold (by default S3's 5 GiB single-PUT limit), as a multipart upload that
 * becomes visible only when completed and is aborted on failure. Both carry
 * "If-None-Match: *", so S3 itself refuses to replace an existing key (servers
 * that ignore the header behave like upstream). A streamed upload reads parts
 * of stream_part_size from the stream's pipe into one buffer and sends each as
 * it fills (retried from memory), completing the multipart upload only after
 * the end of a successful stream and aborting it otherwise; a stream shorter
 * than one part is one PUT.
 *
 * libcurl signs the canonical request from the URL as written, so every URL here
 * is built canonical: path segments encoded with AWS's rules, query parameters
 * sorted, each with '='.
 *
 * Credentials: the URL's user and password; without them the environment's
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN); without
 * those, anonymous requests. ?boto_defaults=true takes the endpoint from
 * AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (else AWS) and the credentials from
 * the environment only. Instance-profile and web-identity credentials are not
 * fetched.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY__FS_WITH_CURL 1
#include "filestore_int.h"
#include "replay/log.h"
#include "replay/redact.h"

#define S3_DEFAULT_BUCKET "al-storage"
#define S3_DEFAULT_REGION "us-east-1"
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_MAX_SINGLE_PUT (5ull << 30)
#define S3_DEFAULT_THRESHOLD S3_MAX_SINGLE_PUT
#define S3_DEFAULT_PART (64ull << 20)
#define S3_MIN_PART (5ull << 20)
#define S3_MAX_PARTS 10000u
#define S3_LIST_MAX (8u << 20) /* one page of 1000 keys is far below this */
#define S3_URL_MAX (REPLAY__FS_MAX_PATH * 3 + 1024)

struct s3_store {
    char endpoint[512]; /* scheme://host[:port] (virtual-hosted: bucket.host) */
    char prefix[800];   /* endpoint, plus "/bucket" when path-style */
    char bucket[256];
    char region[64];
    char sigv4[128];
    const char *access, *secret, *token; /* borrowed: URL or environment */
    bool verify, debug;
};

static const char *const s3_options[] = {"s3_bucket",   "aws_region",       "use_ssl",
                                         "verify",      "boto_defaults",    "use_batch_delete",
                                         "debug",       NULL};

/* ---- parse -------------------------------------------------------------------- */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static bool dns_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (const char *c = b; *c != '\0'; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return false;
    }
    return b[0] != '-' && b[n - 1] != '-';
}

static bool aws_host(const char *host)
{
    size_t n = strlen(host), s = strlen("amazonaws.com");
    return n >= s && strcmp(host + n - s, "amazonaws.com") == 0;
}

static int set_endpoint(struct replay_filestore *fs, struct s3_store *s, bool boto,
                        struct replay_err *err)
{
    const struct replay__fs_url *u = &fs->url;
    const char *env_ep = boto ? env("AWS_ENDPOINT_URL_S3") : NULL;
    if (boto && env_ep == NULL)
        env_ep = env("AWS_ENDPOINT_URL");
    bool ssl = replay__fs_url_bool(u, "use_ssl", true);
    char host[300];
    int port = u->port;
    if (env_ep != NULL) {
        if (snprintf(s->endpoint, sizeof(s->endpoint), "%s", env_ep) >= (int)sizeof(s->endpoint))
            return replay_err_set(err, REPLAY_ECONFIG, "AWS_ENDPOINT_URL too long");
        size_t n = strlen(s->endpoint);
        while (n > 0 && s->endpoint[n - 1] == '/')
            s->endpoint[--n] = '\0';
    } else {
        if (!boto && u->host[0] != '\0')
            snprintf(host, sizeof(host), "%s", u->host);
        else if (strcmp(s->region, S3_DEFAULT_REGION) != 0)
            snprintf(host, sizeof(host), "s3.%s.amazonaws.com", s->region);
        else
            snprintf(host, sizeof(host), "s3.amazonaws.com");
        if (boto || port == 0)
            port = ssl ? 443 : 80;
        bool vhost = aws_host(host) && dns_bucket(s->bucket);
        char full[600];
        snprintf(full, sizeof(full), "%s%s%s", vhost ? s->bucket : "", vhost ? "." : "", host);
        int rc = replay__fs_origin(ssl ? "https" : "http", full, port, s->endpoint,
                                   sizeof(s->endpoint), err);
        if (rc != 0)
            return rc;
        if (vhost) {
            snprintf(s->prefix, sizeof(s->prefix), "%s", s->endpoint);
            return 0;
        }
    }
    char enc[400];
    int rc = replay__fs_url_encode(s->bucket, false, enc, sizeof(enc), err);
    if (rc != 0)
        return rc;
    int n = snprintf(s->prefix, sizeof(s->prefix), "%s/%s", s->endpoint, enc);
    if (n < 0 || (size_t)n >= sizeof(s->prefix))
        return replay_err_set(err, REPLAY_ECONFIG, "S3 endpoint too long");
    return 0;
}

static int set_credentials(struct replay_filestore *fs, struct s3_store *s, bool boto,
                           struct replay_err *err)
{
    const struct replay__fs_url *u = &fs->url;
    if (!boto && (u->user[0] != '\0' || u->password[0] != '\0')) {
        if (u->user[0] == '\0' || u->password[0] == '\0')
            return replay_err_set(err, REPLAY_ECONFIG,
                                  "filestore URL %s: S3 needs both an access key and a secret",
                                  fs->shown);
        s->access = u->user;
        s->secret = u->password;
        return 0;
    }
    s->access = env("AWS_ACCESS_KEY_ID");
    s->secret = env("AWS_SECRET_ACCESS_KEY");
    s->token = env("AWS_SESSION_TOKEN");
    if (s->access == NULL || s->secret == NULL)
        s->access = s->secret = s->token = NULL;
    replay_redact_add_secret(s->secret);
    replay_redact_add_secret(s->token);
    return 0;
}

static int s3_parse(struct replay_filestore *fs, struct replay_err *err)
{
    const struct replay__fs_url *u = &fs->url;
    struct s3_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "filestore: out of memory");
    fs->impl = s;
    bool boto = replay__fs_url_bool(u, "boto_defaults", false);
    const char *bucket = replay__fs_url_opt(u, "s3_bucket");
    const char *region = replay__fs_url_opt(u, "aws_region");
    if (region == NULL && boto)
        region = env("AWS_REGION") != NULL ? env("AWS_REGION") : env("AWS_DEFAULT_REGION");
    snprintf(s->bucket, sizeof(s->bucket), "%s", bucket != NULL ? bucket : S3_DEFAULT_BUCKET);
    snprintf(s->region, sizeof(s->region), "%s", region != NULL ? region : S3_DEFAULT_REGION);
    if (strlen(s->bucket) > 255 || strchr(s->bucket, '/') != NULL ||
        strlen(region != NULL ? region : "") >= sizeof(s->region) ||
        strchr(s->region, ':') != NULL)
        return replay_err_set(err, REPLAY_ECONFIG, "filestore URL %s: bad s3_bucket or aws_region",
                              fs->shown);
    snprintf(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", s->region);
    s->verify = replay__fs_url_bool(u, "verify", true);
    s->debug = replay__fs_url_bool(u, "debug", false);
    int rc = set_credentials(fs, s, boto, err);
    return rc != 0 ? rc : set_endpoint(fs, s, boto, err);
}

static void s3_close(struct replay_filestore *fs)
{
    free(fs->impl);
    fs->impl = NULL;
}

/* ---- requests ------------------------------------------------------------------- */

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* One S3 request: the request and its URL. */
struct s3_call {
    struct replay__fs_rest r;
    char url[S3_URL_MAX];
};

static void call_init(struct s3_call *c)
{
    replay__fs_rest_init(&c->r);
    c->url[0] = '\0';
}

static void call_free(struct s3_call *c)
{
    replay__fs_rest_free(&c->r);
}

static bool add_header(struct s3_call *c, const char *name, const char *value)
{
    return replay__http_header_add(&c->r.headers, name, value);
}

/* Builds the URL: prefix [/key] [?query]. The query must be canonical. */
static int call_url(struct s3_store *s, struct s3_call *c, const char *key, const char *query,
                    struct replay_err *err)
{
    char enc[REPLAY__FS_MAX_PATH * 3];
    enc[0] = '\0';
    if (key != NULL) {
        int rc = replay__fs_url_encode(key, false, enc, sizeof(enc), err);
        if (rc != 0)
            return rc;
    }
    int n = snprintf(c->url, sizeof(c->url), "%s%s%s%s%s", s->prefix, key != NULL ? "/" : "",
                     enc, query != NULL ? "?" : "", query != NULL ? query : "");
    if (n < 0 || (size_t)n >= sizeof(c->url))
        return replay_err_set(err, REPLAY_ETOOBIG, "S3 URL too long");
    return 0;
}

/* Runs a request. payload_sha: hex SHA-256 of the body, or UNSIGNED-PAYLOAD. */
static int s3_run(struct replay_filestore *fs, struct s3_call *c, const char *method,
                  const char *payload_sha, struct replay_err *err)
{
    struct s3_store *s = fs->impl;
    CURL *h = replay__fs_curl(fs, s->verify, err);
    if (h == NULL)
        return REPLAY_ENOMEM;
    /* No "Expect:" line to drop 100-continue: libcurl would sign the header it
     * then does not send, and S3 would refuse the signature. */
    bool ok = add_header(c, "x-amz-content-sha256", payload_sha);
    if (s->token != NULL)
        ok = ok && add_header(c, "x-amz-security-token", s->token);
    if (!ok)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    if (s->access != NULL) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, s->access);
        curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret);
    }
    snprintf(c->r.what, sizeof(c->r.what), "%s %.120s", method, c->url + strlen(s->endpoint));
    int rc = replay__fs_rest_run(fs, &c->r, method, c->url, err);
    if (s->debug)
        replay_debug("filestore %s: %s -> %ld", fs->shown, c->r.what, c->r.x.status);
    return rc;
}

static int s3_fail(struct replay_filestore *fs, struct s3_call *c, struct replay_err *err)
{
    return replay__fs_rest_fail(fs, &c->r, err);
}

/* ---- bucket ------------------------------------------------------------------------ */

static int create_bucket(struct replay_filestore *fs, struct replay_err *err)
{
    struct s3_store *s = fs->impl;
    struct s3_call c;
    call_init(&c);
    char xml[256] = "", sha[65];
    if (strcmp(s->region, S3_DEFAULT_REGION) != 0)
        snprintf(xml, sizeof(xml),
                 "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                 "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
                 s->region);
    sha256_hex(xml, strlen(xml), sha);
    c.r.x.in_mem = xml;
    c.r.x.in_len = strlen(xml);
    int rc = call_url(s, &c, NULL, NULL, err);
    if (rc == 0)
        rc = s3_run(fs, &c, "PUT", sha, err);
    if (rc == 0 && c.r.x.status != 200 && c.r.x.status != 409)
        rc = s3_fail(fs, &c, err);
    if (rc == 0)
        replay_info("filestore %s: created bucket %s", fs->shown, s->bucket);
    call_free(&c);
    return rc;
}

static int s3_connect(struct replay_filestore *fs, struct replay_err *err)
{
    struct s3_store *s = fs->impl;
    if (s->access == NULL)
        replay_warn("filestore %s: no S3 credentials in the URL or the environment; requests "
                    "are anonymous", fs->shown);
    struct s3_call c;
    call_init(&c);
    c.r.x.want_header = "x-amz-bucket-region";
    int rc = call_url(s, &c, NULL, NULL, err);
    if (rc == 0)
        rc = s3_run(fs, &c, "HEAD", S3_EMPTY_SHA256, err);
    if (rc == 0 && c.r.x.status == 404 && !fs->read_only) {
        call_free(&c);
        return create_bucket(fs, err);
    }
    if (rc == 0 && c.r.x.status == 301 && c.r.x.header_value[0] != '\0')
        rc = replay_err_set(err, REPLAY_ECONFIG, "%s %s: bucket %s is in region %s, set aws_region",
                            c.r.what, fs->shown, s->bucket, c.r.x.header_value);
    else if (rc == 0 && c.r.x.status != 200)
        rc = s3_fail(fs, &c, err);
    call_free(&c);
    return rc;
}

/* ---- objects ------------------------------------------------------------------------- */

static int put_single(struct replay_filestore *fs, const struct replay__fs_body *b,
                      const char *key, enum replay_filestore_outcome *outcome,
                      struct replay_err *err)
{
    struct s3_call c;
    call_init(&c);
    replay__fs_body_set(&c.r.x, b);
    int rc = call_url(fs->impl, &c, key, NULL, err);
    bool ok = add_header(&c, "If-None-Match", "*") &&
              add_header(&c, "Content-Type", "application/octet-stream");
    if (rc == 0 && !ok)
        rc = replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    if (rc == 0)
        rc = s3_run(fs, &c, "PUT", "UNSIGNED-PAYLOAD", err);
    if (rc == 0 && c.r.x.status == 412)
        *outcome = REPLAY_FILESTORE_SKIPPED_EXISTS;
    else if (rc == 0 && c.r.x.status == 409)
        rc = replay_err_set(err, REPLAY_EAGAIN, "%s %s: [409] concurrent write, try again",
                            c.r.what, fs->shown);
    else if (rc == 0 && c.r.x.status != 200)
        rc = s3_fail(fs, &c, err);
    call_free(&c);
    return rc;
}

/* State of a multipart upload. */
struct multipart {
    char upload_id[1024];
    char upload_id_enc[3 * 1024];
    uint64_t part_size;
    unsigned n_parts;
    unsigned cap_parts;
    char (*etags)[80]; /* cap_parts entries, n_parts used */
};

/* Room for the ETag of part n_parts + 1 (grows up to S3_MAX_PARTS). */
static int mp_room(struct multipart *m, struct replay_err *err)
{
    if (m->n_parts < m->cap_parts)
        return 0;
    unsigned cap = m->cap_parts != 0 ? m->cap_parts * 2 : 64;
    if (cap > S3_MAX_PARTS)
        cap = S3_MAX_PARTS;
    void *p = realloc(m->etags, cap * sizeof(*m->etags));
    if (p == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    m->etags = p;
    m->cap_parts = cap;
    return 0;
}

static int mp_create(struct replay_filestore *fs, const char *key, struct multipart *m,
                     struct replay_err *err)
{
    struct s3_call c;
    call_init(&c);
    int rc = call_url(fs->impl, &c, key, "uploads=", err);
    if (rc == 0)
        rc = s3_run(fs, &c, "POST", S3_EMPTY_SHA256, err);
    if (rc == 0 && c.r.x.status != 200)
        rc = s3_fail(fs, &c, err);
    if (rc == 0 && (c.r.body.p == NULL ||
                    replay__xml_text(c.r.body.p, c.r.body.len, "UploadId", m->upload_id,
                                     sizeof(m->upload_id)) == NULL ||
                    m->upload_id[0] == '\0'))
        rc = replay_err_set(err, REPLAY_EPROTO, "%s %s: no UploadId in the answer", c.r.what,
                            fs->shown);
    if (rc == 0)
        rc = replay__fs_url_encode(m->upload_id, false, m->upload_id_enc,
                                   sizeof(m->upload_id_enc), err);
    call_free(&c);
    return rc;
}

/* Sends part i (from 0) with body b and keeps its ETag. */
static int mp_part(struct replay_filestore *fs, const struct replay__fs_body *b, const char *key,
                   struct multipart *m, unsigned i, struct replay_err *err)
{
    struct s3_call c;
    call_init(&c);
    char query[3 * 1024 + 64];
    snprintf(query, sizeof(query), "partNumber=%u&uploadId=%s", i + 1, m->upload_id_enc);
    replay__fs_body_set(&c.r.x, b);
    c.r.x.want_header = "etag";
    int rc = call_url(fs->impl, &c, key, query, err);
    if (rc == 0)
        rc = s3_run(fs, &c, "PUT", "UNSIGNED-PAYLOAD", err);
    if (rc == 0 && c.r.x.status != 200)
        rc = s3_fail(fs, &c, err);
    if (rc == 0 && (c.r.x.header_value[0] == '\0' ||
                    strlen(c.r.x.header_value) >= sizeof(m->etags[i]) ||
                    strpbrk(c.r.x.header_value, "<>&") != NULL))
        rc = replay_err_set(err, REPLAY_EPROTO, "%s %s: no usable ETag for part %u", c.r.what,
                            fs->shown, i + 1);
    if (rc == 0)
        memcpy(m->etags[i], c.r.x.header_value, strlen(c.r.x.header_value) + 1);
    call_free(&c);
    return rc;
}

/* The CompleteMultipartUpload document; caller frees. */
static char *mp_document(const struct multipart *m, size_t *len)
{
    size_t cap = 64 + (size_t)m->n_parts * 140;
    char *xml = malloc(cap);
    if (xml == NULL)
        return NULL;
    size_t o = (size_t)snprintf(xml, cap, "<CompleteMultipartUpload>");
    for (unsigned i = 0; i < m->n_parts; i++)
        o += (size_t)snprintf(xml + o, cap - o,
                              "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>", i + 1,
                              m->etags[i]);
    o += (size_t)snprintf(xml + o, cap - o, "</CompleteMultipartUpload>");
    *len = o;
    return xml;
}

static int mp_complete(struct replay_filestore *fs, const char *key, struct multipart *m,
                       enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    struct s3_call c;
    call_init(&c);
    size_t len = 0;
    char *xml = mp_document(m, &len), sha[65], query[3 * 1024 + 16];
    if (xml == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    sha256_hex(xml, len, sha);
    snprintf(query, sizeof(query), "uploadId=%s", m->upload_id_enc);
    c.r.x.in_mem = xml;
    c.r.x.in_len = len;
    int rc = call_url(fs->impl, &c, key, query, err);
    if (rc == 0 && !(add_header(&c, "If-None-Match", "*") &&
                     add_header(&c, "Content-Type", "application/xml")))
        rc = replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    if (rc == 0)
        rc = s3_run(fs, &c, "POST", sha, err);
    if (rc == 0 && c.r.x.status == 412)
        *outcome = REPLAY_FILESTORE_SKIPPED_EXISTS;
    else if (rc == 0 && (c.r.x.status != 200 ||
                         (c.r.body.p != NULL && strstr(c.r.body.p, "<Error>") != NULL)))
        rc = s3_fail(fs, &c, err);
    call_free(&c);
    free(xml);
    return rc;
}

/* Best effort: a multipart upload left behind is invisible, but its parts take
 * room until a bucket lifecycle rule removes them, so say so. */
static void mp_abort(struct replay_filestore *fs, const char *key, const struct multipart *m)
{
    struct s3_call c;
    call_init(&c);
    struct replay_err e = {0};
    char query[3 * 1024 + 16];
    snprintf(query, sizeof(query), "uploadId=%s", m->upload_id_enc);
    replay__fs_cleanup_request(&c.r.x);
    int rc = call_url(fs->impl, &c, key, query, &e);
    if (rc == 0)
        rc = s3_run(fs, &c, "DELETE", S3_EMPTY_SHA256, &e);
    if (rc == 0 && c.r.x.status != 204 && c.r.x.status != 200 && c.r.x.status != 404)
        rc = s3_fail(fs, &c, &e);
    if (rc != 0)
        replay_warn("filestore: multipart upload of %s not aborted, its parts stay on the "
                    "server (invisible): %s", key, e.msg);
    call_free(&c);
}

static int put_multipart(struct replay_filestore *fs, int fd, uint64_t size, const char *key,
                         enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    struct multipart *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    m->part_size = fs->opts.part_size != 0 ? fs->opts.part_size : S3_DEFAULT_PART;
    if (m->part_size < S3_MIN_PART)
        m->part_size = S3_MIN_PART;
    if ((size + m->part_size - 1) / m->part_size > S3_MAX_PARTS)
        m->part_size = ((size / S3_MAX_PARTS) | ((1u << 20) - 1)) + 1;
    m->n_parts = (unsigned)((size + m->part_size - 1) / m->part_size);
    m->cap_parts = m->n_parts;
    m->etags = calloc(m->n_parts, sizeof(*m->etags));
    int rc = m->etags == NULL ? replay_err_set(err, REPLAY_ENOMEM, "out of memory")
                              : mp_create(fs, key, m, err);
    bool created = rc == 0;
    for (unsigned i = 0; rc == 0 && i < m->n_parts; i++) {
        uint64_t off = (uint64_t)i * m->part_size;
        struct replay__fs_body b = {NULL, fd, off,
                                    size - off < m->part_size ? size - off : m->part_size};
        rc = mp_part(fs, &b, key, m, i, err);
    }
    if (rc == 0)
        rc = mp_complete(fs, key, m, outcome, err);
    if (created && (rc != 0 || *outcome == REPLAY_FILESTORE_SKIPPED_EXISTS))
        mp_abort(fs, key, m);
    free(m->etags);
    free(m);
    return rc;
}

static int s3_upload(struct replay_filestore *fs, int fd, uint64_t size, const char *name,
                     enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    uint64_t threshold =
        fs->opts.multipart_threshold != 0 ? fs->opts.multipart_threshold : S3_DEFAULT_THRESHOLD;
    if (threshold > S3_MAX_SINGLE_PUT)
        threshold = S3_MAX_SINGLE_PUT;
    const char *key = replay__fs_basename(name);
    if (size > threshold && size > S3_MIN_PART)
        return put_multipart(fs, fd, size, key, outcome, err);
    struct replay__fs_body b = {NULL, fd, 0, size};
    return put_single(fs, &b, key, outcome, err);
}

/* A streamed upload: the parts are in memory one at a time. */
struct s3_stream {
    const char *key;
    struct multipart m;
    bool created; /* m is an upload to complete, or to abort */
    enum replay_filestore_outcome *outcome;
};

static int stream_whole(struct replay_filestore *fs, void *arg, const struct replay__fs_body *b,
                        struct replay_err *err)
{
    struct s3_stream *st = arg;
    return put_single(fs, b, st->key, st->outcome, err);
}

static int stream_begin(struct replay_filestore *fs, void *arg, struct replay_err *err)
{
    struct s3_stream *st = arg;
    int rc = mp_create(fs, st->key, &st->m, err);
    st->created = rc == 0;
    return rc;
}

static int stream_part(struct replay_filestore *fs, void *arg, unsigned i,
                       const struct replay__fs_body *b, struct replay_err *err)
{
    struct s3_stream *st = arg;
    st->m.n_parts = i;
    int rc = mp_room(&st->m, err);
    return rc != 0 ? rc : mp_part(fs, b, st->key, &st->m, i, err);
}

static int stream_commit(struct replay_filestore *fs, void *arg, unsigned n,
                         struct replay_err *err)
{
    struct s3_stream *st = arg;
    st->m.n_parts = n;
    return mp_complete(fs, st->key, &st->m, st->outcome, err);
}

static const struct replay__fs_part_ops s3_parts = {
    "PUT part",   S3_MAX_PARTS, S3_MIN_PART,   S3_MAX_SINGLE_PUT,
    stream_whole, stream_begin, stream_part, stream_commit,
};

static int s3_upload_stream(struct replay_filestore *fs, const char *name,
                            const struct replay__fs_producer *p,
                            enum replay_filestore_outcome *outcome, struct replay_err *err)
{
    struct s3_stream *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return replay_err_set(err, REPLAY_ENOMEM, "out of memory");
    st->key = replay__fs_basename(name);
    st->outcome = outcome;
    int rc = replay__fs_stream_parts(fs, p, &s3_parts, st, err);
    if (st->created && (rc != 0 || *outcome == REPLAY_FILESTORE_SKIPPED_EXISTS))
        mp_abort(fs, st->key, &st->m);
    free(st->m.etags);
    free(st);
    return rc;
}

static int s3_download(struct replay_filestore *fs, const char *name, int fd,
                       struct replay_err *err)
{
    struct s3_call c;
    call_init(&c);
    c.r.x.out_fd = fd;
    int rc = call_url(fs->impl, &c, replay__fs_basename(name), NULL, err);
    if (rc == 0)
        rc = s3_run(fs, &c, "GET", S3_EMPTY_SHA256, err);
    if (rc == 0 && c.r.x.status != 200)
        rc = s3_fail(fs, &c, err);
    call_free(&c);
    return rc;
}

static int s3_exists(struct replay_filestore *fs, const char *name, bool *exists,
                     struct replay_err *err)
{
    struct s3_call c;
    call_init(&c);
    int rc = call_url(fs->impl, &c, replay__fs_basename(name), NULL, err);
    if (rc == 0)
        rc = s3_run(fs, &c, "HEAD", S3_EMPTY_SHA256, err);
    if (rc == 0) {
        *exists = c.r.x.status == 200;
        if (c.r.x.status != 200 && c.r.x.status != 404)
            rc = s3_fail(fs, &c, err);
    }
    call_free(&c);
    return rc;
}

static int s3_remove(struct replay_filestore *fs, const char *name, struct replay_err *err)
{
    struct s3_call c;
    call_init(&c);
    int rc = call_url(fs->impl, &c, replay__fs_basename(name), NULL, err);
    if (rc == 0)
        rc = s3_run(fs, &c, "DELETE", S3_EMPTY_SHA256, err);
    if (rc == 0 && c.r.x.status != 204 && c.r.x.status != 200 && c.r.x.status != 404)
        rc = s3_fail(fs, &c, err);
    call_free(&c);
    return rc;
}

struct list_ctx {
    replay_filestore_list_fn fn;
    void *ctx;
};

static int list_key(const char *key, void *ud)
{
    struct list_ctx *l = ud;
    if (strchr(key, '/') != NULL)
        return 0; /* not reachable through base-name keys */
    return l->fn(key, l->ctx);
}

/* One page; *token is the continuation token in and out ("" = none). */
static int list_page(struct replay_filestore *fs, char *token, size_t tokensz,
                     struct list_ctx *l, struct replay_err *err)
{
    struct s3_call c;
    call_init(&c);
    c.r.body.max = S3_LIST_MAX;
    c.r.x.body = &c.r.body;
    char enc[3 * 1024], query[3 * 1024 + 64];
    int rc = replay__fs_url_encode(token, false, enc, sizeof(enc), err);
    if (rc == 0)
        snprintf(query, sizeof(query), "%s%s%slist-type=2&max-keys=1000",
                 token[0] != '\0' ? "continuation-token=" : "", enc, token[0] != '\0' ? "&" : "");
    if (rc == 0)
        rc = call_url(fs->impl, &c, NULL, query, err);
    if (rc == 0)
        rc = s3_run(fs, &c, "GET", S3_EMPTY_SHA256, err);
    if (rc == 0 && c.r.x.status != 200)
        rc = s3_fail(fs, &c, err);
    if (rc == 0 && c.r.body.p != NULL)
        rc = replay__xml_each(c.r.body.p, c.r.body.len, "Contents", "Key", REPLAY__FS_MAX_NAME,
                              list_key, l);
    char truncated[16] = "";
    if (rc == 0 && c.r.body.p != NULL)
        replay__xml_text(c.r.body.p, c.r.body.len, "IsTruncated", truncated, sizeof(truncated));
    token[0] = '\0';
    if (rc == 0 && strcmp(truncated, "true") == 0 &&
        (replay__xml_text(c.r.body.p, c.r.body.len, "NextContinuationToken", token, tokensz) ==
             NULL ||
         token[0] == '\0'))
        rc = replay_err_set(err, REPLAY_EPROTO, "%s %s: truncated listing without a token",
                            c.r.what, fs->shown);
    call_free(&c);
    return rc;
}

static int s3_list(struct replay_filestore *fs, replay_filestore_list_fn fn, void *ctx,
                   struct replay_err *err)
{
    struct list_ctx l = {fn, ctx};
    char token[1024] = "";
    do {
        int rc = list_page(fs, token, sizeof(token), &l, err);
        if (rc != 0)
            return rc;
    } while (token[0] != '\0');
    return 0;
}

const struct replay__fs_ops replay__fs_s3_ops = {
    .scheme = "s3",
    .options = s3_options,
    .parse = s3_parse,
    .connect = s3_connect,
    .close = s3_close,
    .upload = s3_upload,
    .upload_stream = s3_upload_stream,
    .download = s3_download,
    .exists = s3_exists,
    .remove = s3_remove,
    .list = s3_list,
};
