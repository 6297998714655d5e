/* Unit tests of the http module (common/src/http_int.h), the one libcurl layer of
 * alclient and filestore: the capped buffer, the classification of
 * libcurl's failures, the back-off and retry loop, and transfers against a
 * small HTTP responder on loopback run by the test itself. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http_int.h"
#include "replay/atomicfile.h"
#include "replay/log.h"

static int quiet(void **state)
{
    (void)state;
    replay_log_init("test", REPLAY_LOG_DISABLED, REPLAY_LOG_TEXT, 2);
    return 0;
}

/* ---- buffer and write_all ---- */

static void test_http_buf_refuses_past_its_cap_and_keeps_content(void **state)
{
    (void)state;
    struct replay__http_buf b;
    replay__http_buf_init(&b, 8);
    assert_int_equal(replay__http_buf_str(&b, "12345"), 0);
    assert_int_equal(replay__http_buf_str(&b, "6789"), REPLAY_ETOOBIG);
    assert_string_equal(b.p, "12345");
    assert_int_equal(replay__http_buf_str(&b, "678"), 0);
    assert_string_equal(b.p, "12345678");
    assert_int_equal(b.len, 8);
    replay__http_buf_reset(&b, 1 << 20);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    replay__http_buf_free(&b);
    replay__http_buf_free(&b); /* twice is harmless */
    replay__http_buf_free(NULL);
}

static void test_http_buf_add_some_keeps_a_prefix_and_marks_the_cut(void **state)
{
    (void)state;
    struct replay__http_buf b;
    replay__http_buf_init(&b, 100);
    assert_int_equal(replay__http_buf_add_some(&b, "abcdef", 6, 4), 0);
    assert_string_equal(b.p, "abcd");
    assert_true(b.overflow);
    assert_int_equal(replay__http_buf_add_some(&b, "xyz", 3, 4), 0);
    assert_string_equal(b.p, "abcd");
    replay__http_buf_reset(&b, 0);
    assert_false(b.overflow);
    /* the buffer's own cap wins over a larger limit */
    replay__http_buf_init(&b, 3);
    assert_int_equal(replay__http_buf_add_some(&b, "abcdef", 6, 1000), 0);
    assert_string_equal(b.p, "abc");
    replay__http_buf_free(&b);
}

/* ---- classification, back-off, retries ---- */

static void test_http_classify_maps_each_curl_failure_to_one_code(void **state)
{
    (void)state;
    struct {
        CURLcode rc;
        int code;
        bool transient;
    } cases[] = {
        {CURLE_OK, 0, false},
        {CURLE_COULDNT_CONNECT, REPLAY_ECONN, true},
        {CURLE_COULDNT_RESOLVE_HOST, REPLAY_ECONN, true},
        {CURLE_RECV_ERROR, REPLAY_ECONN, true},
        {CURLE_GOT_NOTHING, REPLAY_ECONN, true},
        {CURLE_PARTIAL_FILE, REPLAY_ECONN, true},
        {CURLE_SSH, REPLAY_ECONN, true},
        {CURLE_OPERATION_TIMEDOUT, REPLAY_ETIMEDOUT, true},
        {CURLE_PEER_FAILED_VERIFICATION, REPLAY_EAUTH, false},
        {CURLE_SSL_CACERT_BADFILE, REPLAY_EAUTH, false},
        {CURLE_LOGIN_DENIED, REPLAY_EAUTH, false},
        {CURLE_REMOTE_ACCESS_DENIED, REPLAY_EAUTH, false},
        {CURLE_SSL_CONNECT_ERROR, REPLAY_EPROTO, false},
        {CURLE_WEIRD_SERVER_REPLY, REPLAY_EPROTO, false},
        {CURLE_QUOTE_ERROR, REPLAY_EPROTO, false},
        {CURLE_REMOTE_FILE_NOT_FOUND, REPLAY_ENOTFOUND, false},
        {CURLE_WRITE_ERROR, REPLAY_EIO, false},
        {CURLE_URL_MALFORMAT, REPLAY_EINVAL, false},
        {CURLE_OUT_OF_MEMORY, REPLAY_ENOMEM, false},
        {CURLE_ABORTED_BY_CALLBACK, REPLAY_ECANCELED, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int code = replay__http_classify(cases[i].rc);
        assert_int_equal(code, cases[i].code);
        assert_int_equal(replay__http_transient(code), cases[i].transient);
    }
}

/* A scripted attempt: fails with script[n-1] (0 = success); `again` says
 * whether the failure is worth another attempt. */
struct script {
    int codes[32];
    bool again;
    unsigned calls;
    struct replay_cancel *cancel_on_fail; /* requested after each failure */
};

static int scripted(void *ctx, unsigned n, bool *again, struct replay_err *err)
{
    struct script *s = ctx;
    s->calls++;
    assert_int_equal(n, s->calls);
    int code = s->codes[n - 1];
    if (code == 0)
        return 0;
    *again = s->again;
    if (s->cancel_on_fail != NULL)
        replay_cancel_request(s->cancel_on_fail);
    return replay_err_set(err, code, "GET http://h/x: attempt %u failed", n);
}

static void test_http_retry_repeats_what_the_attempt_says_is_worth_it(void **state)
{
    (void)state;
    struct replay__http_retry p = {0, 1, 2, NULL}; /* forever, 1-2 ms apart */
    struct script s = {{REPLAY_ECONN, REPLAY_ECONN, REPLAY_ETIMEDOUT, REPLAY_ECONN, REPLAY_ECONN,
                        REPLAY_ECONN, REPLAY_ECONN, REPLAY_ECONN, REPLAY_ECONN, REPLAY_ECONN,
                        REPLAY_ECONN, 0},
                       true, 0, NULL};
    struct replay_err err = {0};
    assert_int_equal(replay__http_retry(&p, "GET x", scripted, &s, &err), 0);
    assert_int_equal(s.calls, 12);
    assert_int_equal(err.code, 0);
}

static void test_http_retry_stops_at_a_final_failure_with_its_message(void **state)
{
    (void)state;
    struct replay__http_retry p = {5, 1, 2, NULL};
    struct script s = {{REPLAY_EAUTH}, false, 0, NULL};
    struct replay_err err = {0};
    assert_int_equal(replay__http_retry(&p, "GET x", scripted, &s, &err), REPLAY_EAUTH);
    assert_int_equal(s.calls, 1);
    assert_string_equal(err.msg, "GET http://h/x: attempt 1 failed");
}

static void test_http_retry_gives_up_after_max_attempts_and_says_so(void **state)
{
    (void)state;
    struct replay__http_retry p = {3, 1, 2, NULL};
    struct script s = {{REPLAY_ECONN, REPLAY_ECONN, REPLAY_ETIMEDOUT, 0}, true, 0, NULL};
    struct replay_err err = {0};
    assert_int_equal(replay__http_retry(&p, "GET x", scripted, &s, &err), REPLAY_ETIMEDOUT);
    assert_int_equal(s.calls, 3);
    assert_string_equal(err.msg, "GET http://h/x: attempt 3 failed (gave up after 3 attempts)");
}

static void test_http_retry_is_cut_short_by_the_cancel_token(void **state)
{
    (void)state;
    struct replay_cancel *c = replay_cancel_new();
    /* a back-off of an hour: only the token can end it */
    struct replay__http_retry p = {0, 3600000, 3600000, c};
    struct script s = {{REPLAY_ECONN, 0}, true, 0, c};
    struct replay_err err = {0};
    uint64_t t0 = replay_now_ms();
    assert_int_equal(replay__http_retry(&p, "GET x", scripted, &s, &err), REPLAY_ECANCELED);
    assert_true(replay_now_ms() - t0 < 60000);
    assert_int_equal(s.calls, 1);
    assert_string_equal(err.msg,
                        "GET http://h/x: attempt 1 failed; canceled while waiting to retry");
    /* already canceled: no attempt at all */
    struct script none = {{0}, true, 0, NULL};
    replay_err_clear(&err);
    assert_int_equal(replay__http_retry(&p, "GET x", scripted, &none, &err), REPLAY_ECANCELED);
    assert_int_equal(none.calls, 0);
    assert_string_equal(err.msg, "GET x: canceled by shutdown");
    replay_cancel_free(c);
}

/* ---- transfers against a loopback responder ---- */

/* Serves one canned answer per connection (Connection: close) and keeps the
 * last request's body. */
struct responder {
    int lfd, port;
    const char *answer;
    size_t answer_len;
    char body[1 << 16];
    size_t body_len;
    int served;
    pthread_t th;
};

static size_t content_length(const char *head)
{
    const char *p = strcasestr(head, "\r\nContent-Length:");
    return p != NULL ? (size_t)strtoul(p + 17, NULL, 10) : 0;
}

/* The raw body so far ends with the last chunk of a chunked body. */
static bool chunked_end(const struct responder *r)
{
    return r->body_len >= 5 && memcmp(r->body + r->body_len - 5, "0\r\n\r\n", 5) == 0;
}

/* Decodes the chunked body the responder kept, in place; its length. */
static size_t dechunk(struct responder *r)
{
    size_t in = 0, out = 0;
    for (;;) {
        size_t n = strtoul(r->body + in, NULL, 16);
        char *eol = memchr(r->body + in, '\n', r->body_len - in);
        if (n == 0 || eol == NULL)
            return out;
        in = (size_t)(eol - r->body) + 1;
        memmove(r->body + out, r->body + in, n);
        out += n;
        in += n + 2;
    }
}

static void serve_one(struct responder *r, int fd)
{
    char head[8192];
    size_t n = 0;
    while (n + 1 < sizeof(head) && (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0)) {
        if (read(fd, head + n, 1) != 1)
            return;
        n++;
    }
    head[n] = '\0';
    size_t want = content_length(head);
    bool chunked = strcasestr(head, "\r\nTransfer-Encoding: chunked") != NULL;
    r->body_len = 0;
    while ((r->body_len < want || (chunked && !chunked_end(r))) &&
           r->body_len < sizeof(r->body)) {
        ssize_t got = read(fd, r->body + r->body_len, sizeof(r->body) - r->body_len);
        if (got <= 0)
            break;
        r->body_len += (size_t)got;
    }
    if (r->answer != NULL) {
        assert_int_equal(replay_atomicfile_write_fd(fd, r->answer, r->answer_len), 0);
    } else {
        char sink[256]; /* no answer: hold the connection until the client leaves */
        while (read(fd, sink, sizeof(sink)) > 0)
            continue;
    }
    r->served++;
}

static void *responder_main(void *arg)
{
    struct responder *r = arg;
    int fd;
    while ((fd = accept(r->lfd, NULL, NULL)) >= 0) {
        serve_one(r, fd);
        close(fd);
    }
    return NULL;
}

static void responder_start(struct responder *r, const char *answer)
{
    memset(r, 0, sizeof(*r));
    r->answer = answer;
    r->answer_len = answer != NULL ? strlen(answer) : 0;
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(r->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(r->lfd, 8), 0);
    assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&a, &len), 0);
    r->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&r->th, NULL, responder_main, r), 0);
}

static void responder_stop(struct responder *r)
{
    shutdown(r->lfd, SHUT_RDWR); /* ends the accept() */
    pthread_join(r->th, NULL);
    close(r->lfd);
}

static struct replay__http *open_handle(const struct replay_cancel *cancel)
{
    struct replay__http_opts o = {.cancel = cancel, .connect_timeout_ms = 5000,
                                  .low_speed_time_s = 10};
    struct replay__http *h = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay__http_open(&o, &h, &err), 0);
    return h;
}

static int perform(struct replay__http *h, struct replay__http_xfer *x,
                   const struct responder *r, const char *path, struct replay_err *err)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", r->port, path);
    replay__http_easy(h);
    x->url = url;
    int rc = replay__http_perform(h, x, "GET test", err);
    x->url = NULL;
    return rc;
}

static int temp_file(const char *content)
{
    char path[] = "/tmp/test_http.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(replay_atomicfile_write_fd(fd, content, strlen(content)), 0);
    return fd;
}

static void test_http_a_2xx_body_goes_to_the_file_and_headers_are_kept(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, "HTTP/1.1 200 Fine Thanks\r\nContent-Type: text/plain\r\n"
                        "X-Wanted:  v1 \r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    struct replay__http *h = open_handle(NULL);
    int fd = temp_file("");
    struct replay__http_buf body;
    replay__http_buf_init(&body, 1024);
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.out_fd = fd;
    x.body = &body;
    x.want_header = "x-wanted";
    struct replay_err err = {0};
    assert_int_equal(perform(h, &x, &r, "/a", &err), 0);
    assert_int_equal(x.status, 200);
    assert_true(x.http_status);
    assert_string_equal(x.reason, "Fine Thanks");
    assert_string_equal(x.content_type, "text/plain");
    assert_string_equal(x.header_value, "v1");
    assert_int_equal(x.out_written, 5);
    assert_int_equal(body.len, 0);
    char got[8] = "";
    assert_int_equal(pread(fd, got, sizeof(got) - 1, 0), 5);
    assert_string_equal(got, "hello");
    close(fd);
    replay__http_buf_free(&body);
    replay__http_close(h);
    responder_stop(&r);
}

static void test_http_an_error_answer_goes_to_memory_never_to_the_file(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n"
                        "Connection: close\r\n\r\nno such x");
    struct replay__http *h = open_handle(NULL);
    int fd = temp_file("");
    struct replay__http_buf body;
    replay__http_buf_init(&body, 4); /* an error excerpt may be cut, it is no failure */
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.out_fd = fd;
    x.body = &body;
    struct replay_err err = {0};
    assert_int_equal(perform(h, &x, &r, "/a", &err), 0);
    assert_int_equal(x.status, 404);
    assert_string_equal(body.p, "no s");
    assert_true(body.overflow);
    assert_int_equal(lseek(fd, 0, SEEK_END), 0);
    close(fd);
    replay__http_buf_free(&body);
    replay__http_close(h);
    responder_stop(&r);
}

static void test_http_a_body_over_its_cap_fails_unless_it_may_be_cut(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
                        "Connection: close\r\n\r\n0123456789");
    struct replay__http *h = open_handle(NULL);
    struct replay__http_buf body;
    replay__http_buf_init(&body, 4);
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.body = &body;
    struct replay_err err = {0};
    assert_int_equal(perform(h, &x, &r, "/a", &err), REPLAY_ETOOBIG);
    assert_string_equal(err.msg, "GET test: the answer is larger than 4 bytes");
    replay__http_buf_reset(&body, 0);
    replay_err_clear(&err);
    x.body_truncate = true;
    assert_int_equal(perform(h, &x, &r, "/a", &err), 0);
    assert_string_equal(body.p, "0123");
    replay__http_buf_free(&body);
    replay__http_close(h);
    responder_stop(&r);
}

static void test_http_an_upload_sends_the_file_and_notices_it_shrink(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n");
    struct replay__http *h = open_handle(NULL);
    int fd = temp_file("0123456789");
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.method = "PUT";
    x.in_fd = fd;
    x.in_off = 2;
    x.in_len = 6;
    struct replay_err err = {0};
    assert_int_equal(perform(h, &x, &r, "/up", &err), 0);
    assert_int_equal(x.status, 201);
    assert_int_equal(r.body_len, 6);
    assert_memory_equal(r.body, "234567", 6);
    x.in_off = 0;
    x.in_len = 20; /* more than the file holds */
    x.method = "POST";
    assert_int_equal(perform(h, &x, &r, "/up", &err), REPLAY_EIO);
    assert_string_equal(err.msg, "GET test: the local file shrank while being sent");
    close(fd);
    replay__http_close(h);
    responder_stop(&r);
}

static int refuse(void *ctx, const char *p, size_t n)
{
    (void)p;
    (void)n;
    replay__http_xfer_fail(ctx, REPLAY_EPROTO, 0, "not what was asked for");
    return REPLAY_EPROTO;
}

static void test_http_a_sink_stops_the_transfer_with_its_reason(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
    struct replay__http *h = open_handle(NULL);
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.sink = refuse;
    x.sink_ctx = &x;
    struct replay_err err = {0};
    assert_int_equal(perform(h, &x, &r, "/a", &err), REPLAY_EPROTO);
    assert_string_equal(err.msg, "GET test: not what was asked for");
    replay__http_close(h);
    responder_stop(&r);
}

static void test_http_a_refused_connection_is_econn_and_worth_a_retry(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, NULL);
    int port = r.port;
    responder_stop(&r); /* nothing listens there now */
    r.port = port;
    struct replay__http *h = open_handle(NULL);
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    struct replay_err err = {0};
    int rc = perform(h, &x, &r, "/a", &err);
    assert_int_equal(rc, REPLAY_ECONN);
    assert_true(replay__http_transient(rc));
    assert_non_null(strstr(err.msg, "GET test: "));
    replay__http_close(h);
}

static void test_http_a_canceled_transfer_stops_at_once(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, NULL); /* reads the request, never answers */
    struct replay_cancel *c = replay_cancel_new();
    replay_cancel_request(c);
    struct replay__http *h = open_handle(c);
    assert_ptr_equal(replay__http_cancel(h), c);
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    struct replay_err err = {0};
    uint64_t t0 = replay_now_ms();
    assert_int_equal(perform(h, &x, &r, "/a", &err), REPLAY_ECANCELED);
    assert_true(replay_now_ms() - t0 < 9000); /* well below the 10 s low-speed time */
    assert_string_equal(err.msg, "GET test: canceled by shutdown");
    replay__http_close(h);
    replay_cancel_free(c);
    responder_stop(&r);
}

/* A body source: gives its pieces in turn, then the end, or fails with
 * fail_code at piece fail_at. */
struct pieces {
    const char *const *piece;
    size_t next;
    int fail_code;
    size_t fail_at;
};

static int give_pieces(void *ctx, char *p, size_t n, size_t *got)
{
    struct pieces *s = ctx;
    if (s->fail_code != 0 && s->next == s->fail_at)
        return s->fail_code;
    const char *piece = s->piece[s->next];
    *got = 0;
    if (piece == NULL)
        return 0;
    assert_true(strlen(piece) <= n);
    memcpy(p, piece, strlen(piece));
    *got = strlen(piece);
    s->next++;
    return 0;
}

static void test_http_a_body_of_unknown_length_is_sent_as_its_source_gives_it(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n");
    struct replay__http *h = open_handle(NULL);
    static const char *const words[] = {"hello", " ", "streamed", " world", NULL};
    struct pieces src = {words, 0, 0, 0};
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.method = "PUT";
    x.in_source = give_pieces;
    x.in_source_ctx = &src;
    struct replay_err err = {0};
    assert_int_equal(perform(h, &x, &r, "/up", &err), 0);
    assert_int_equal(x.status, 201);
    assert_int_equal(x.in_sent, 20);
    assert_int_equal(dechunk(&r), 20);
    assert_memory_equal(r.body, "hello streamed world", 20);
    /* a source that fails stops the transfer with its code */
    struct pieces bad = {words, 0, REPLAY_EPROTO, 2};
    x.in_source_ctx = &bad;
    x.method = "POST";
    assert_int_equal(perform(h, &x, &r, "/up", &err), REPLAY_EPROTO);
    assert_string_equal(err.msg, "GET test: stopped by the sender");
    replay__http_close(h);
    responder_stop(&r);
}

static void test_http_a_clean_up_runs_after_a_cancel_within_its_time_limit(void **state)
{
    (void)state;
    struct responder r;
    responder_start(&r, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    struct replay_cancel *c = replay_cancel_new();
    replay_cancel_request(c);
    struct replay__http *h = open_handle(c);
    struct replay__http_xfer x;
    replay__http_xfer_init(&x);
    x.ignore_cancel = true;
    x.timeout_ms = 500;
    x.method = "DELETE";
    struct replay_err err = {0};
    assert_int_equal(perform(h, &x, &r, "/tmp", &err), 0);
    assert_int_equal(x.status, 204);
    responder_stop(&r);
    responder_start(&r, NULL); /* reads the request, never answers */
    uint64_t t0 = replay_now_ms();
    assert_int_equal(perform(h, &x, &r, "/tmp", &err), REPLAY_ETIMEDOUT);
    assert_true(replay_now_ms() - t0 < 9000); /* the 500 ms limit, not the 10 s low speed */
    replay__http_close(h);
    replay_cancel_free(c);
    responder_stop(&r);
}

static void test_http_open_and_close_handle_null(void **state)
{
    (void)state;
    replay__http_close(NULL);
    assert_null(replay__http_cancel(NULL));
    struct replay__http *h = NULL;
    struct replay_err err = {0};
    assert_int_equal(replay__http_open(NULL, &h, &err), 0);
    assert_non_null(replay__http_easy(h));
    replay__http_close(h);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_buf_refuses_past_its_cap_and_keeps_content),
        cmocka_unit_test(test_http_buf_add_some_keeps_a_prefix_and_marks_the_cut),
        cmocka_unit_test(test_http_classify_maps_each_curl_failure_to_one_code),
        cmocka_unit_test(test_http_retry_repeats_what_the_attempt_says_is_worth_it),
        cmocka_unit_test(test_http_retry_stops_at_a_final_failure_with_its_message),
        cmocka_unit_test(test_http_retry_gives_up_after_max_attempts_and_says_so),
        cmocka_unit_test(test_http_retry_is_cut_short_by_the_cancel_token),
        cmocka_unit_test(test_http_a_2xx_body_goes_to_the_file_and_headers_are_kept),
        cmocka_unit_test(test_http_an_error_answer_goes_to_memory_never_to_the_file),
        cmocka_unit_test(test_http_a_body_over_its_cap_fails_unless_it_may_be_cut),
        cmocka_unit_test(test_http_an_upload_sends_the_file_and_notices_it_shrink),
        cmocka_unit_test(test_http_a_sink_stops_the_transfer_with_its_reason),
        cmocka_unit_test(test_http_a_refused_connection_is_econn_and_worth_a_retry),
        cmocka_unit_test(test_http_a_canceled_transfer_stops_at_once),
        cmocka_unit_test(test_http_a_body_of_unknown_length_is_sent_as_its_source_gives_it),
        cmocka_unit_test(test_http_a_clean_up_runs_after_a_cancel_within_its_time_limit),
        cmocka_unit_test(test_http_open_and_close_handle_null),
    };
    return cmocka_run_group_tests(tests, quiet, NULL);
}
