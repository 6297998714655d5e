/* badhttp: a scripted, misbehaving HTTP/1.1 server for the REST client's tests.
 *
 *   badhttp [--port-file F] [--log F] [--log-body-max N] [--body F]
 *           [--content-type T] SCENARIO
 *
 * Listens on an ephemeral loopback port (written to --port-file once it is
 * listening), serves one connection at a time (a new connection replaces an
 * idle one) and answers each request as SCENARIO says:
 *
 *   ok                    200, the --body file (default {"success": true} envelope);
 *                         with several --body options the n-th ok answer uses the
 *                         n-th file (the last one repeats)
 *   status:CODE[:MSG]     CODE with an Assemblyline error envelope (MSG or a default)
 *   burst:CODE:N          CODE for the first N requests, then as `ok`
 *   quota                 503 with the daily-quota message, always
 *   close[:N]             reads the request, closes without answering (N times, then ok)
 *   silent                reads the request, never answers
 *   stall                 200 with Content-Length 1000, sends 10 bytes, then nothing
 *   truncate              200 with Content-Length 1000, sends 100 bytes, closes
 *   nonjson:CODE          CODE with an HTML body
 *   error200              200 whose envelope carries upstream's 415 message
 *   redirect              302 to another port
 *
 * --log appends every request (head verbatim, then the body up to --log-body-max
 * bytes) so tests can check the exact bytes the client sent. A test helper, not
 * part of Replay: plain sockets, no library.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX (64 * 1024)

#define MAX_BODIES 16

struct opts {
    const char *port_file, *log, *content_type, *scenario;
    const char *body_files[MAX_BODIES];
    int n_bodies;
    size_t log_body_max;
};

struct state {
    struct opts o;
    int listen_fd;
    unsigned long requests; /* answered or not, since start */
    unsigned long connections;
    char *ok_body[MAX_BODIES];
    size_t ok_len[MAX_BODIES];
    int n_ok; /* ok answers sent */
};

static void die(const char *what)
{
    fprintf(stderr, "badhttp: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

static int respond(int fd, int code, const char *ctype, const char *body, size_t len,
                   const char *extra)
{
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
                     code, reason(code), ctype, len, extra ? extra : "");
    if (send_all(fd, head, (size_t)n) != 0)
        return -1;
    return len > 0 ? send_all(fd, body, len) : 0;
}

static int envelope(int fd, int code, const char *message, const char *response)
{
    char body[2048];
    int n = snprintf(body, sizeof(body),
                     "{\"api_response\": %s, \"api_error_message\": \"%s\", "
                     "\"api_server_version\": \"4.5.0.badhttp\", \"api_status_code\": %d}",
                     response, message, code);
    return respond(fd, code, "application/json", body, (size_t)n, NULL);
}

static const char *default_message(int code)
{
    switch (code) {
    case 400: return "There was no search query.";
    case 401: return "Invalid user or APIKey";
    case 403: return "Access Denied (/api/v4/) [API requires one of the following roles: replay_system]";
    case 404: return "The hash was not found in the badlist.";
    case 409: return "Submission 1abc already exists.";
    case 500: return "Internal Server Error";
    case 503: return "You've exceeded your maximum concurrent API calls quota of 10";
    default: return "badhttp error";
    }
}

static int answer_ok(struct state *s, int fd)
{
    const char *ct = s->o.content_type ? s->o.content_type : "application/json";
    int i = s->n_ok < s->o.n_bodies ? s->n_ok : s->o.n_bodies - 1;
    s->n_ok++;
    return respond(fd, 200, ct, s->ok_body[i], s->ok_len[i], NULL);
}

/* Reads the head (up to CRLFCRLF) into buf; returns its length, 0 on EOF. */
static ssize_t read_head(int fd, char *buf, size_t cap, size_t *have)
{
    for (;;) {
        char *end = *have > 0 ? memmem(buf, *have, "\r\n\r\n", 4) : NULL;
        if (end != NULL)
            return end + 4 - buf;
        if (*have == cap)
            return -1;
        ssize_t r = recv(fd, buf + *have, cap - *have, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r == 0 && *have == 0 ? 0 : -1;
        *have += (size_t)r;
    }
}

static unsigned long long content_length(const char *head, size_t len)
{
    const char *p = head, *end = head + len;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (eol == NULL)
            break;
        if ((size_t)(eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
            return strtoull(p + 15, NULL, 10);
        p = eol + 2;
    }
    return 0;
}

static void log_request(struct state *s, const char *head, size_t hlen, FILE **lf)
{
    if (s->o.log == NULL)
        return;
    *lf = fopen(s->o.log, "a");
    if (*lf == NULL)
        die("open log");
    fprintf(*lf, "=== request %lu connection %lu\n", s->requests, s->connections);
    fwrite(head, 1, hlen, *lf);
}

/* Reads (and logs) the rest of a request: the body after the head. */
static int read_body(struct state *s, int fd, char *buf, size_t have, size_t hlen)
{
    FILE *lf = NULL;
    log_request(s, buf, hlen, &lf);
    unsigned long long want = content_length(buf, hlen), got = 0, logged = 0;
    if (lf)
        fprintf(lf, "--- body %llu\n", want);
    size_t extra = have - hlen; /* body bytes already read with the head */
    char chunk[65536];
    memcpy(chunk, buf + hlen, extra);
    size_t n = extra;
    for (;;) {
        if (n > want - got)
            n = (size_t)(want - got); /* a pipelined next request is not expected */
        if (lf && logged < s->o.log_body_max) {
            size_t take = n;
            if (take > s->o.log_body_max - logged)
                take = (size_t)(s->o.log_body_max - logged);
            fwrite(chunk, 1, take, lf);
            logged += take;
        }
        got += n;
        if (got >= want)
            break;
        ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
        if (r < 0 && errno == EINTR) {
            n = 0;
            continue;
        }
        if (r <= 0) {
            if (lf)
                fclose(lf);
            return -1;
        }
        n = (size_t)r;
    }
    if (lf) {
        fprintf(lf, "\n--- end\n");
        fclose(lf);
    }
    return 0;
}

static void hold(int fd)
{
    char c;
    while (recv(fd, &c, 1, 0) > 0) /* until the client gives up */
        ;
}

/* One request answered by the scenario; returns 0 to keep the connection. */
static int scenario(struct state *s, int fd, unsigned long nth)
{
    const char *sc = s->o.scenario;
    int code = 0, count = 0;
    char msg[512] = "";
    if (strcmp(sc, "ok") == 0)
        return answer_ok(s, fd);
    if (sscanf(sc, "status:%d:%511[^\n]", &code, msg) >= 1)
        return envelope(fd, code, msg[0] ? msg : default_message(code),
                        code == 409 ? "{\"success\": false}" : "\"\"");
    if (sscanf(sc, "burst:%d:%d", &code, &count) == 2) {
        if (nth > (unsigned long)count)
            return answer_ok(s, fd);
        if (code == 503)
            return envelope(fd, code, default_message(503), "\"\"");
        const char *html = "<html><body><h1>Gateway trouble</h1></body></html>";
        return respond(fd, code, "text/html", html, strlen(html), NULL);
    }
    if (strcmp(sc, "quota") == 0)
        return envelope(fd, 503, "You've exceeded your daily maximum API calls quota of 1000",
                        "\"\"");
    if (strncmp(sc, "close", 5) == 0) {
        count = sc[5] == ':' ? atoi(sc + 6) : -1;
        return (count >= 0 && nth > (unsigned long)count) ? answer_ok(s, fd) : -1;
    }
    if (strcmp(sc, "silent") == 0) {
        hold(fd);
        return -1;
    }
    if (strcmp(sc, "stall") == 0 || strcmp(sc, "truncate") == 0) {
        const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                           "Content-Length: 1000\r\n\r\nCART";
        char part[100];
        memset(part, 'x', sizeof(part));
        bool stall = sc[0] == 's';
        if (send_all(fd, head, strlen(head)) == 0)
            (void)send_all(fd, part, stall ? 6 : 96);
        if (stall)
            hold(fd);
        return -1;
    }
    if (sscanf(sc, "nonjson:%d", &code) == 1) {
        const char *html = "<!doctype html>\n<html><title>Oops</title>\n<p>upstream broke</p>";
        return respond(fd, code, "text/html; charset=utf-8", html, strlen(html), NULL);
    }
    if (strcmp(sc, "error200") == 0)
        return envelope(fd, 200,
                        "415 Unsupported Media Type: Did not attempt to load JSON data because "
                        "the request Content-Type was not 'application/json'.", "\"\"");
    if (strcmp(sc, "redirect") == 0)
        return respond(fd, 302, "text/html", "", 0, "Location: http://127.0.0.1:1/api/v4/\r\n");
    fprintf(stderr, "badhttp: unknown scenario %s\n", sc);
    exit(2);
}

/* Serves requests on one connection until it closes, fails, or a new
 * connection waits (then the old one is dropped). */
static void serve(struct state *s, int fd)
{
    static char buf[HEAD_MAX];
    for (;;) {
        struct pollfd p[2] = {{fd, POLLIN, 0}, {s->listen_fd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            return; /* a new connection is waiting and this one is idle */
        size_t have = 0;
        ssize_t hlen = read_head(fd, buf, sizeof(buf), &have);
        if (hlen <= 0)
            return;
        s->requests++;
        if (read_body(s, fd, buf, have, (size_t)hlen) != 0)
            return;
        if (scenario(s, fd, s->requests) != 0)
            return;
    }
}

static void write_port(const char *file, int port)
{
    if (file == NULL) {
        printf("%d\n", port);
        fflush(stdout);
        return;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", file);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, file) != 0)
        die("write port file");
}

static int listen_loopback(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0)
        die("bind/listen");
    return fd;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        die(path);
    char *p = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len + 65536 > cap) {
            cap = cap ? cap * 2 : 65536;
            if ((p = realloc(p, cap)) == NULL)
                die("realloc");
        }
        size_t r = fread(p + *len, 1, cap - *len, f);
        *len += r;
        if (r == 0)
            break;
    }
    fclose(f);
    return p;
}

static _Noreturn void usage(void)
{
    fprintf(stderr, "usage: badhttp [--port-file F] [--log F] [--log-body-max N] [--body F] "
                    "[--content-type T] SCENARIO\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    o->log_body_max = 1u << 20;
    for (int i = 1; i < argc; i++) {
        bool has = i + 1 < argc;
        if (strcmp(argv[i], "--port-file") == 0 && has)
            o->port_file = argv[++i];
        else if (strcmp(argv[i], "--log") == 0 && has)
            o->log = argv[++i];
        else if (strcmp(argv[i], "--log-body-max") == 0 && has)
            o->log_body_max = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--body") == 0 && has && o->n_bodies < MAX_BODIES)
            o->body_files[o->n_bodies++] = argv[++i];
        else if (strcmp(argv[i], "--content-type") == 0 && has)
            o->content_type = argv[++i];
        else if (argv[i][0] != '-' && o->scenario == NULL)
            o->scenario = argv[i];
        else
            usage();
    }
    if (o->scenario == NULL)
        usage();
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to report, not a death */
    struct state s = {0};
    parse(argc, argv, &s.o);
    for (int i = 0; i < s.o.n_bodies; i++)
        s.ok_body[i] = read_file(s.o.body_files[i], &s.ok_len[i]);
    if (s.o.n_bodies == 0) {
        static char dflt[] = "{\"api_response\": {\"success\": true}, \"api_error_message\": "
                             "\"\", \"api_server_version\": \"4.5.0.badhttp\", "
                             "\"api_status_code\": 200}";
        s.ok_body[0] = dflt;
        s.ok_len[0] = strlen(dflt);
        s.o.n_bodies = 1;
    }
    s.listen_fd = listen_loopback();
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    if (getsockname(s.listen_fd, (struct sockaddr *)&a, &alen) != 0)
        die("getsockname");
    write_port(s.o.port_file, ntohs(a.sin_port));
    for (;;) {
        int fd = accept(s.listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            die("accept");
        }
        s.connections++;
        serve(&s, fd);
        close(fd);
    }
}
