/* Unit tests of common/queue against a fake Redis: a loopback server speaking RESP
 * that answers chosen commands with replies of the wrong type or shape. Every such
 * reply must be REPLAY_EPROTO naming what came, never a crash, a NULL read or a
 * silently wrong value. (A real Redis never answers like this; a proxy, a
 * different server on the port or a corrupted stream could.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "replay/log.h"
#include "replay/queue.h"

#define FAKE_RULES 8
#define FAKE_BUF (1 << 16)

/* The reply to the next command named `cmd`; each rule answers once, in order.
 * Commands no rule answers get what a healthy empty Redis says (PING, SCRIPT LOAD,
 * AUTH, SELECT, LLEN), or an error. */
struct rule {
    const char *cmd;
    const char *reply;
};

struct fake {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_bool stop;
    struct rule rules[FAKE_RULES];
    bool used[FAKE_RULES];
    unsigned scripts; /* SCRIPT LOAD answered so far */
    char url[64];
};

static struct fake fake;

static int quiet(void **state)
{
    (void)state;
    replay_log_init("test", REPLAY_LOG_DISABLED, REPLAY_LOG_TEXT, 2);
    return 0;
}

static void send_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* Reads "<c><number>\r\n" at *p (within end); -1 when incomplete or malformed. */
static long resp_number(const char **p, const char *end, char c)
{
    const char *nl = *p < end ? memchr(*p, '\n', (size_t)(end - *p)) : NULL;
    if (nl == NULL || **p != c)
        return -1;
    long v = strtol(*p + 1, NULL, 10);
    *p = nl + 1;
    return v;
}

/* Parses one command (an array of bulk strings) at b; copies its name. Returns
 * the bytes it took, 0 when incomplete. */
static size_t resp_command(const char *b, size_t len, char *name, size_t namesz)
{
    const char *p = b, *end = b + len;
    long argc = resp_number(&p, end, '*');
    name[0] = '\0';
    for (long i = 0; i < argc; i++) {
        long n = resp_number(&p, end, '$');
        if (n < 0 || end - p < n + 2)
            return 0;
        if (i == 0)
            snprintf(name, namesz, "%.*s", (int)n, p);
        p += n + 2;
    }
    return argc < 0 ? 0 : (size_t)(p - b);
}

static void answer(int fd, const char *name)
{
    char buf[128];
    for (int i = 0; i < FAKE_RULES && fake.rules[i].cmd != NULL; i++) {
        if (!fake.used[i] && strcasecmp(fake.rules[i].cmd, name) == 0) {
            fake.used[i] = true;
            send_all(fd, fake.rules[i].reply, strlen(fake.rules[i].reply));
            return;
        }
    }
    if (strcasecmp(name, "PING") == 0)
        snprintf(buf, sizeof(buf), "+PONG\r\n");
    else if (strcasecmp(name, "SCRIPT") == 0)
        snprintf(buf, sizeof(buf), "$40\r\n%040u\r\n", ++fake.scripts);
    else if (strcasecmp(name, "AUTH") == 0 || strcasecmp(name, "SELECT") == 0)
        snprintf(buf, sizeof(buf), "+OK\r\n");
    else if (strcasecmp(name, "LLEN") == 0)
        snprintf(buf, sizeof(buf), ":0\r\n");
    else
        snprintf(buf, sizeof(buf), "-ERR fake server: no reply for %.40s\r\n", name);
    send_all(fd, buf, strlen(buf));
}

/* One client connection: answers each complete command (pipelined or not). */
static void serve(int fd)
{
    static char buf[FAKE_BUF];
    size_t len = 0;
    while (!atomic_load(&fake.stop)) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        char name[48];
        size_t used;
        while ((used = resp_command(buf, len, name, sizeof(name))) > 0) {
            answer(fd, name);
            memmove(buf, buf + used, len - used);
            len -= used;
        }
    }
}

static void *fake_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&fake.stop)) {
        struct pollfd pfd = {fake.listen_fd, POLLIN, 0};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        int fd = accept(fake.listen_fd, NULL, NULL);
        if (fd >= 0) {
            serve(fd);
            close(fd);
        }
    }
    return NULL;
}

/* Starts the fake with these rules (a NULL cmd ends them); sets fake.url. */
static void fake_start(const struct rule *rules, const char *url_tail)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    memset(&fake, 0, sizeof(fake));
    for (int i = 0; i < FAKE_RULES - 1 && rules[i].cmd != NULL; i++)
        fake.rules[i] = rules[i];
    fake.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fake.listen_fd >= 0);
    assert_int_equal(bind(fake.listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fake.listen_fd, 4), 0);
    assert_int_equal(getsockname(fake.listen_fd, (struct sockaddr *)&a, &alen), 0);
    fake.port = ntohs(a.sin_port);
    snprintf(fake.url, sizeof(fake.url), "redis://%s127.0.0.1:%d%s",
             url_tail[0] == ':' ? ":pw@" : "", fake.port, url_tail[0] == ':' ? "" : url_tail);
    assert_int_equal(pthread_create(&fake.thread, NULL, fake_main, NULL), 0);
}

static void fake_stop(void)
{
    atomic_store(&fake.stop, true);
    pthread_join(fake.thread, NULL);
    close(fake.listen_fd);
}

/* Opens a connection to the fake; gives up quickly if it misbehaves in a way
 * that looks like an outage. */
static int fake_open(struct replay_queue **q, struct replay_err *err)
{
    struct replay_queue_options o = {.url = fake.url, .role = "test", .give_up_ms = 2000,
                                     .backoff_min_ms = 10, .backoff_max_ms = 50};
    return replay_queue_open(&o, q, err);
}

static void expect_eproto(int rc, const struct replay_err *err, const char *what,
                          const char *got)
{
    if (rc != REPLAY_EPROTO || strstr(err->msg, what) == NULL || strstr(err->msg, got) == NULL)
        fail_msg("expected REPLAY_EPROTO naming \"%s\" and \"%s\"; got %s: %s", what, got,
                 replay_err_name(rc), err->msg);
}

static const struct rule consumer_opens[] = {
    {"EVALSHA", ":0\r\n"},                 /* return own processing list: none */
    {"EVALSHA", "*2\r\n:0\r\n:0\r\n"},     /* recover dead consumers: none */
};

/* Starts the fake with a consumer's opening replies, then `more`, and opens a
 * consumer of alerts on it. */
static void open_consumer(const struct rule *more, size_t n_more, struct replay_queue **q,
                          struct replay_queue_consumer **c)
{
    struct rule rules[FAKE_RULES] = {{NULL, NULL}};
    struct replay_err err = {0};
    memcpy(rules, consumer_opens, sizeof(consumer_opens));
    memcpy(rules + 2, more, n_more * sizeof(*more));
    fake_start(rules, "/0");
    assert_int_equal(fake_open(q, &err), 0);
    if (replay_queue_consumer_open(*q, REPLAY_QUEUE_ALERT, "fake-1", c, &err) != 0)
        fail_msg("consumer_open: %s", err.msg);
}

/* Opening a connection with these rules fails with REPLAY_EPROTO naming what came. */
static void expect_open_eproto(const struct rule *rules, const char *url_tail, const char *what,
                               const char *got)
{
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    fake_start(rules, url_tail);
    expect_eproto(fake_open(&q, &err), &err, what, got);
    assert_null(q);
    assert_null(strstr(err.msg, ":pw@"));
    fake_stop();
}

static void test_queue_open_refuses_a_ping_answered_with_an_integer(void **state)
{
    (void)state;
    expect_open_eproto((const struct rule[]){{"PING", ":1\r\n"}, {NULL, NULL}}, "/0",
                       "PING on Redis at redis://127.0.0.1:", "unexpected reply: integer 1");
}

static void test_queue_open_refuses_auth_and_select_answered_with_other_types(void **state)
{
    (void)state;
    expect_open_eproto((const struct rule[]){{"AUTH", ":7\r\n"}, {NULL, NULL}}, ":", "AUTH",
                       "integer 7");
    expect_open_eproto((const struct rule[]){{"SELECT", "$2\r\nOK\r\n"}, {NULL, NULL}}, "/2",
                       "SELECT", "string \"OK\"");
}

static void test_queue_checkpoint_get_refuses_a_reply_that_is_not_a_string(void **state)
{
    (void)state;
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    char *v = NULL;
    fake_start((const struct rule[]){{"HGET", ":5\r\n"},
                                     {"HGET", "*1\r\n$1\r\nx\r\n"},
                                     {"HGET", "$1\r\nx\r\n"},
                                     {NULL, NULL}}, "/0");
    assert_int_equal(fake_open(&q, &err), 0);
    expect_eproto(replay_queue_checkpoint_get(q, REPLAY_QUEUE_BADLIST, &v, &err), &err,
                  "HGET replay_checkpoints", "unexpected reply: integer 5");
    assert_null(v);
    replay_err_clear(&err);
    expect_eproto(replay_queue_checkpoint_get(q, REPLAY_QUEUE_BADLIST, &v, &err), &err,
                  "HGET", "array of 1 [string \"x\"]");
    /* A string is the right type, so the value itself is judged. */
    replay_err_clear(&err);
    assert_int_equal(replay_queue_checkpoint_get(q, REPLAY_QUEUE_BADLIST, &v, &err),
                     REPLAY_EFORMAT);
    replay_queue_close(q);
    fake_stop();
}

static void test_queue_script_load_refuses_a_reply_that_is_not_a_digest(void **state)
{
    (void)state;
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    long long moved = 0;
    fake_start((const struct rule[]){{"SCRIPT", "$3\r\nabc\r\n"}, {NULL, NULL}}, "/0");
    assert_int_equal(fake_open(&q, &err), 0);
    expect_eproto(replay_queue_requeue_bad(q, REPLAY_QUEUE_ALERT, &moved, &err), &err,
                  "SCRIPT LOAD", "string \"abc\"");
    replay_queue_close(q);
    fake_stop();
}

static void expect_counts_eproto(const struct rule *rules, const char *what, const char *got)
{
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    struct replay_queue_counts counts;
    fake_start(rules, "/0");
    assert_int_equal(fake_open(&q, &err), 0);
    expect_eproto(replay_queue_counts(q, REPLAY_QUEUE_ALERT, &counts, &err), &err, what, got);
    replay_queue_close(q);
    fake_stop();
}

#define TIME_OK "*2\r\n$10\r\n1700000000\r\n$6\r\n000000\r\n"

static void test_queue_counts_refuse_time_records_and_scan_replies_of_other_shapes(void **state)
{
    (void)state;
    expect_counts_eproto((const struct rule[]){{"TIME", "*2\r\n$10\r\n1700000000\r\n:5\r\n"},
                                               {NULL, NULL}},
                         "TIME", "array of 2 [string \"1700000000\", integer 5]");
    expect_counts_eproto((const struct rule[]){{"TIME", TIME_OK},
                                               {"HGETALL", "*2\r\n$2\r\nc1\r\n:5\r\n"},
                                               {NULL, NULL}},
                         "HGETALL", "[string \"c1\", integer 5]");
    expect_counts_eproto((const struct rule[]){{"TIME", TIME_OK}, {"HGETALL", "*0\r\n"},
                                               {"SCAN", "*2\r\n:0\r\n*0\r\n"}, {NULL, NULL}},
                         "SCAN", "[integer 0, array of 0]");
    expect_counts_eproto((const struct rule[]){{"TIME", TIME_OK}, {"HGETALL", "*0\r\n"},
                                               {"SCAN", "*2\r\n$1\r\n0\r\n*1\r\n:3\r\n"},
                                               {NULL, NULL}},
                         "SCAN", "[string \"0\", array of 1]");
    expect_counts_eproto((const struct rule[]){{"TIME", TIME_OK}, {"HGETALL", "*0\r\n"},
                                               {"SCAN", "*2\r\n$1\r\n0\r\n*1\r\n$3\r\nabc\r\n"},
                                               {NULL, NULL}},
                         "SCAN", "[string \"0\", array of 1]");
    expect_counts_eproto((const struct rule[]){{"TIME", TIME_OK}, {"HGETALL", "*0\r\n"},
                                               {"SCAN", "*2\r\n$3\r\nx1y\r\n*0\r\n"},
                                               {NULL, NULL}},
                         "SCAN", "string \"x1y\"");
    expect_counts_eproto((const struct rule[]){{"LLEN", "$1\r\n3\r\n"}, {NULL, NULL}}, "LLEN",
                         "string \"3\"");
    /* What came is cut to 32 bytes and made printable. */
    expect_counts_eproto((const struct rule[]){{"LLEN", "$40\r\n\x01" "234567890123456789012345"
                                                        "678901234567890\r\n"},
                                               {NULL, NULL}},
                         "LLEN", "string \"?2345678901234567890123456789012...\"");
}

static void ignore_bad(const char *header, const char *message, size_t message_len,
                       long long full_len, void *ud)
{
    (void)header, (void)message, (void)message_len, (void)full_len;
    ++*(int *)ud;
}

static void test_queue_each_bad_refuses_an_entry_that_is_not_header_text_length(void **state)
{
    (void)state;
    struct replay_queue *q = NULL;
    struct replay_err err = {0};
    int seen = 0;
    fake_start((const struct rule[]){{"EVALSHA", ":3\r\n"},
                                     {"EVALSHA", "*3\r\n:1\r\n$1\r\nx\r\n:2\r\n"},
                                     {NULL, NULL}}, "/0");
    assert_int_equal(fake_open(&q, &err), 0);
    expect_eproto(replay_queue_each_bad(q, REPLAY_QUEUE_ALERT, 5, 10, ignore_bad, &seen, &err),
                  &err, "read a :bad entry", "integer 3");
    replay_err_clear(&err);
    expect_eproto(replay_queue_each_bad(q, REPLAY_QUEUE_ALERT, 5, 10, ignore_bad, &seen, &err),
                  &err, "read a :bad entry", "[integer 1, string \"x\", integer 2]");
    assert_int_equal(seen, 0);
    replay_queue_close(q);
    fake_stop();
}

static void expect_consumer_open_eproto(const struct rule *rules, const char *what,
                                        const char *got)
{
    struct replay_queue *q = NULL;
    struct replay_queue_consumer *c = NULL;
    struct replay_err err = {0};
    fake_start(rules, "/0");
    assert_int_equal(fake_open(&q, &err), 0);
    expect_eproto(replay_queue_consumer_open(q, REPLAY_QUEUE_ALERT, "fake-1", &c, &err), &err,
                  what, got);
    assert_null(c);
    replay_queue_close(q);
    fake_stop();
}

static void test_queue_consumer_open_refuses_script_replies_of_other_shapes(void **state)
{
    (void)state;
    expect_consumer_open_eproto((const struct rule[]){{"EVALSHA", "*2\r\n:1\r\n$1\r\nx\r\n"},
                                                      {NULL, NULL}},
                                "return own processing list", "[integer 1, string \"x\"]");
    expect_consumer_open_eproto((const struct rule[]){{"EVALSHA", ":0\r\n"},
                                                      {"EVALSHA", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
                                                      {NULL, NULL}},
                                "recover dead consumers", "[string \"a\", string \"b\"]");
}

static void expect_pop_eproto(const struct rule *more, size_t n_more, const char *what,
                              const char *got)
{
    struct replay_queue *q = NULL;
    struct replay_queue_consumer *c = NULL;
    struct replay_queue_item *item = NULL;
    struct replay_err err = {0};
    open_consumer(more, n_more, &q, &c);
    expect_eproto(replay_queue_pop(c, 200, &item, &err), &err, what, got);
    assert_null(item);
    replay_queue_consumer_close(c);
    replay_queue_close(q);
    fake_stop();
}

static void test_queue_pop_refuses_replies_whose_kind_and_value_disagree(void **state)
{
    (void)state;
    /* "parked" with a string where the parked size belongs */
    expect_pop_eproto((const struct rule[]){{"EVALSHA", "*4\r\n:1\r\n$3\r\nabc\r\n:0\r\n:0\r\n"}},
                      1, "pop", "[integer 1, string \"abc\", integer 0, integer 0]");
    /* a kind the script never returns */
    expect_pop_eproto((const struct rule[]){{"EVALSHA", "*4\r\n:9\r\n$-1\r\n:0\r\n:0\r\n"}}, 1,
                      "pop", "[integer 9, nil, integer 0, integer 0]");
    /* an item that is an array */
    expect_pop_eproto((const struct rule[]){{"EVALSHA", "*4\r\n:2\r\n*0\r\n:0\r\n:0\r\n"}}, 1,
                      "pop", "[integer 2, array of 0, integer 0, integer 0]");
}

static void test_queue_pop_refuses_a_blmove_answered_with_an_integer(void **state)
{
    (void)state;
    /* The queue is empty, so the pop waits with BLMOVE; the last rule answers a
     * liveness refresh sent ahead of it when the machine is slow. */
    expect_pop_eproto((const struct rule[]){{"EVALSHA", "*4\r\n:0\r\n$-1\r\n:0\r\n:0\r\n"},
                                            {"BLMOVE", ":5\r\n"},
                                            {"LLEN", ":0\r\n"},
                                            {"EVALSHA", ":0\r\n"}},
                      4, "BLMOVE replay_alert", "unexpected reply: integer 5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_open_refuses_a_ping_answered_with_an_integer),
        cmocka_unit_test(test_queue_open_refuses_auth_and_select_answered_with_other_types),
        cmocka_unit_test(test_queue_checkpoint_get_refuses_a_reply_that_is_not_a_string),
        cmocka_unit_test(test_queue_script_load_refuses_a_reply_that_is_not_a_digest),
        cmocka_unit_test(test_queue_counts_refuse_time_records_and_scan_replies_of_other_shapes),
        cmocka_unit_test(test_queue_each_bad_refuses_an_entry_that_is_not_header_text_length),
        cmocka_unit_test(test_queue_consumer_open_refuses_script_replies_of_other_shapes),
        cmocka_unit_test(test_queue_pop_refuses_replies_whose_kind_and_value_disagree),
        cmocka_unit_test(test_queue_pop_refuses_a_blmove_answered_with_an_integer),
    };
    return cmocka_run_group_tests(tests, quiet, NULL);
}
