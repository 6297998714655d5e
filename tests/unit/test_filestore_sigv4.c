/* Unit test of the S3 backend's requests against AWS's SigV4 rules.
 *
 * s3rver (the integration tests' S3 server) does not check SigV4 signatures, so
 * this test checks them itself: a loopback responder plays S3 for one store
 * (bucket check, HEAD of an awkward key, a two-page listing, a multipart upload)
 * and, for every request received, recomputes the canonical request and the
 * signature from the wire as AWS does (segments decoded and re-encoded, query
 * parameters decoded, re-encoded and sorted) with an independent HMAC chain. */
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/filestore.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define MAX_REQ 16

struct responder {
    int lfd, port;
    int n;                  /* requests handled */
    char heads[MAX_REQ][4096];
    int list_pages;
};

static int read_head(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, 1);
        if (r <= 0)
            return -1;
        n++;
        buf[n] = '\0';
        if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0)
            return 0;
    }
    return -1;
}

static const char *header(const char *head, const char *name, char *out, size_t outsz)
{
    size_t nlen = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n")) {
        if (strncasecmp(l + 2, name, nlen) == 0 && l[2 + nlen] == ':') {
            const char *v = l + 3 + nlen;
            while (*v == ' ')
                v++;
            size_t vlen = strcspn(v, "\r");
            snprintf(out, outsz, "%.*s", (int)vlen, v);
            return out;
        }
    }
    return NULL;
}

/* The S3 answer to one request. */
static const char *answer(struct responder *r, const char *head, char *buf, size_t bufsz)
{
    if (strncmp(head, "POST ", 5) == 0 && strstr(head, "?uploads=") != NULL)
        return "<InitiateMultipartUploadResult><UploadId>up/load+id=1~</UploadId>"
               "</InitiateMultipartUploadResult>";
    if (strncmp(head, "GET ", 4) == 0 && strstr(head, "list-type=2") != NULL) {
        if (r->list_pages++ == 0)
            return "<ListBucketResult><Contents><Key>one</Key></Contents><IsTruncated>true"
                   "</IsTruncated><NextContinuationToken>tok+en/=x y</NextContinuationToken>"
                   "</ListBucketResult>";
        return "<ListBucketResult><Contents><Key>two</Key></Contents><IsTruncated>false"
               "</IsTruncated></ListBucketResult>";
    }
    (void)buf;
    (void)bufsz;
    return "";
}

static void serve_one(struct responder *r, int fd)
{
    char *head = r->heads[r->n < MAX_REQ ? r->n : MAX_REQ - 1];
    if (read_head(fd, head, sizeof(r->heads[0])) != 0)
        return;
    r->n++;
    char v[64], buf[64];
    if (header(head, "Expect", v, sizeof(v)) != NULL)
        (void)!write(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    long len = header(head, "Content-Length", v, sizeof(v)) != NULL ? atol(v) : 0;
    for (char sink[8192]; len > 0;) {
        ssize_t got = read(fd, sink, len < (long)sizeof(sink) ? (size_t)len : sizeof(sink));
        if (got <= 0)
            break;
        len -= got;
    }
    const char *body = answer(r, head, buf, sizeof(buf));
    bool is_head = strncmp(head, "HEAD ", 5) == 0;
    /* Keys starting with "new" do not exist yet. */
    int status = is_head && strstr(head, "/my-bucket/new") != NULL ? 404 : 200;
    char reply[1024];
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 %d X\r\nETag: \"etag-%d\"\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     status, r->n, is_head ? (size_t)0 : strlen(body), is_head ? "" : body);
    (void)!write(fd, reply, (size_t)n);
}

static void *serve(void *arg)
{
    struct responder *r = arg;
    for (;;) {
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        serve_one(r, fd);
        close(fd);
    }
}

/* ---- the independent SigV4 check ---------------------------------------------- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes then encodes with AWS's rules (unreserved kept, %XX upper-case). */
static void aws_reencode(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < len + 1 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (unsigned char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            out[o++] = (char)c;
        else
            o += (size_t)sprintf(out + o, "%%%02X", c);
    }
    out[o] = '\0';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void canonical_query(const char *q, char *out)
{
    char *pairs[32];
    int n = 0;
    out[0] = '\0';
    while (q != NULL && *q != '\0' && n < 32) {
        size_t plen = strcspn(q, "&");
        const char *eq = memchr(q, '=', plen);
        size_t klen = eq != NULL ? (size_t)(eq - q) : plen;
        char *p = malloc(3 * plen + 4);
        aws_reencode(q, klen, p);
        strcat(p, "=");
        if (eq != NULL)
            aws_reencode(eq + 1, plen - klen - 1, p + strlen(p));
        pairs[n++] = p;
        q += plen + (q[plen] == '&');
    }
    qsort(pairs, (size_t)n, sizeof(pairs[0]), cmp_str);
    for (int i = 0; i < n; i++) {
        if (i > 0)
            strcat(out, "&");
        strcat(out, pairs[i]);
        free(pairs[i]);
    }
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &len);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

static void check_signature(const char *head)
{
    char method[16], target[2048], auth[1024], date[32], sha[80], line[4096];
    assert_int_equal(sscanf(head, "%15s %2047s", method, target), 2);
    assert_non_null(header(head, "Authorization", auth, sizeof(auth)));
    assert_non_null(header(head, "x-amz-date", date, sizeof(date)));
    assert_non_null(header(head, "x-amz-content-sha256", sha, sizeof(sha)));
    char scope[128], signed_h[256], sig[80];
    assert_int_equal(sscanf(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/%127[^,], "
                                  "SignedHeaders=%255[^,], Signature=%79s",
                            scope, signed_h, sig),
                     3);
    assert_non_null(strstr(scope, "/eu-west-1/s3/aws4_request"));
    assert_non_null(strstr(signed_h, "host"));
    assert_non_null(strstr(signed_h, "x-amz-content-sha256"));
    /* canonical URI and query */
    char *q = strchr(target, '?');
    if (q != NULL)
        *q++ = '\0';
    char uri[6144] = "", seg[2048], cq[6144];
    for (char *p = target + 1, *slash;; p = slash + 1) {
        slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        aws_reencode(p, len, seg);
        strcat(uri, "/");
        strcat(uri, seg);
        if (slash == NULL)
            break;
    }
    canonical_query(q, cq);
    /* canonical headers in SignedHeaders order */
    char ch[2048] = "", names[256];
    snprintf(names, sizeof(names), "%s", signed_h);
    for (char *save = NULL, *h = strtok_r(names, ";", &save); h != NULL;
         h = strtok_r(NULL, ";", &save)) {
        char v[512];
        if (header(head, h, v, sizeof(v)) == NULL)
            fail_msg("signed header %s not in the request: %s", h, head);
        snprintf(line, sizeof(line), "%s:%s\n", h, v);
        strcat(ch, line);
    }
    char *creq = malloc(16384), digest_hex[65], sts[512];
    snprintf(creq, 16384, "%s\n%s\n%s\n%s\n%s\n%s", method, uri, cq, ch, signed_h, sha);
    unsigned char d[32];
    unsigned int dlen = 32;
    EVP_Digest(creq, strlen(creq), d, &dlen, EVP_sha256(), NULL);
    free(creq);
    hex(d, 32, digest_hex);
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope, digest_hex);
    unsigned char k1[32], k2[32], k3[32], k4[32], s[32];
    char day[9];
    snprintf(day, sizeof(day), "%.8s", scope);
    hmac("AWS4" SECRET, strlen("AWS4" SECRET), day, k1);
    hmac(k1, 32, "eu-west-1", k2);
    hmac(k2, 32, "s3", k3);
    hmac(k3, 32, "aws4_request", k4);
    hmac(k4, 32, sts, s);
    char want[65];
    hex(s, 32, want);
    if (strcmp(want, sig) != 0)
        fail_msg("SigV4 mismatch for %s %s?%s (canonical query '%s')", method, target,
                 q != NULL ? q : "", cq);
}

static int keep(const char *name, void *ctx)
{
    strcat(ctx, name);
    strcat(ctx, ",");
    return 0;
}

static void test_filestore_s3_requests_carry_valid_sigv4_signatures(void **state)
{
    (void)state;
    static struct responder r;
    r.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(r.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(r.lfd, 8), 0);
    assert_int_equal(getsockname(r.lfd, (struct sockaddr *)&a, &alen), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve, &r), 0);

    char url[512], src[] = "/tmp/test_filestore_sigv4.XXXXXX";
    snprintf(url, sizeof(url),
             "s3://AKIDEXAMPLE:wJalrXUtnFEMI%%2FK7MDENG%%2BbPxRfiCYEXAMPLEKEY@127.0.0.1:%d/"
             "?s3_bucket=my-bucket&use_ssl=false&aws_region=eu-west-1",
             ntohs(a.sin_port));
    int fd = mkstemp(src);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 6 << 20), 0);
    close(fd);
    struct replay_filestore_opts opts = {.max_attempts = 1, .multipart_threshold = 1,
                                         .part_size = 5 << 20};
    struct replay_filestore *fs = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay_filestore_open(url, &opts, &fs, &err), 0);
    bool there = false;
    assert_int_equal(replay_filestore_exists(fs, "dir/na me+é~(1).bin", &there, &err), 0);
    assert_true(there);
    char names[64] = "";
    assert_int_equal(replay_filestore_list(fs, keep, names, &err), 0);
    assert_string_equal(names, "one,two,");
    enum replay_filestore_outcome o;
    assert_int_equal(replay_filestore_upload(fs, src, "big file.bin", &o, &err), 0);
    assert_int_equal(o, REPLAY_FILESTORE_SKIPPED_EXISTS);
    /* 6 MiB in parts of 5 MiB: create, two parts, complete. */
    if (replay_filestore_upload(fs, src, "new file.bin", &o, &err) != 0)
        fail_msg("multipart upload: %s", err.msg);
    assert_int_equal(o, REPLAY_FILESTORE_UPLOADED);
    replay_filestore_close(fs);
    unlink(src);
    shutdown(r.lfd, SHUT_RDWR);
    close(r.lfd);
    pthread_join(th, NULL);

    /* open, exists, 2 list pages, exists, exists, create, 2 parts, complete */
    assert_int_equal(r.n, 10);
    for (int i = 0; i < r.n; i++)
        check_signature(r.heads[i]);
    assert_non_null(strstr(r.heads[1], "HEAD /my-bucket/na%20me%2B%C3%A9~%281%29.bin "));
    assert_non_null(strstr(r.heads[3], "continuation-token=tok%2Ben%2F%3Dx%20y&list-type=2"));
    assert_non_null(strstr(r.heads[6], "POST /my-bucket/new%20file.bin?uploads= "));
    assert_non_null(strstr(r.heads[7], "?partNumber=1&uploadId=up%2Fload%2Bid%3D1~ "));
    assert_non_null(strstr(r.heads[9], "POST /my-bucket/new%20file.bin?uploadId=up%2Fload"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filestore_s3_requests_carry_valid_sigv4_signatures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
