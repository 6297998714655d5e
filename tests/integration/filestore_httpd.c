/*
 * filestore_httpd: a small static file server (libmicrohttpd) for the tests of
 * the read-only http:// filestore. Not installed.
 *
 *   filestore_httpd PORT ROOT [USER:PASSWORD]
 *
 * Serves GET and HEAD of regular files under ROOT on 127.0.0.1:PORT, streamed
 * from the file. With USER:PASSWORD every request needs that Basic login (401
 * otherwise). "/redirect/<path>" answers 302 to "/<path>". Paths with a ".."
 * component are refused (403). Runs until SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root;
static const char *login; /* "user:password" or NULL */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static bool authorised(struct MHD_Connection *c)
{
    if (login == NULL)
        return true;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    bool ok = false;
    if (user != NULL && pass != NULL) {
        size_t ulen = strlen(user);
        ok = strncmp(login, user, ulen) == 0 && login[ulen] == ':' &&
             strcmp(login + ulen + 1, pass) == 0;
    }
    MHD_free(user);
    MHD_free(pass);
    return ok;
}

static enum MHD_Result deny(struct MHD_Connection *c)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(6, (void *)"denied", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_basic_auth_fail_response(c, "filestore", r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result redirect(struct MHD_Connection *c, const char *to)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Location", to);
    enum MHD_Result ret = MHD_queue_response(c, 302, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve_file(struct MHD_Connection *c, const char *url)
{
    char path[8192];
    size_t n = strlen(url);
    if (strstr(url, "/../") != NULL || (n >= 3 && strcmp(url + n - 3, "/..") == 0))
        return reply(c, 403, "forbidden");
    snprintf(path, sizeof(path), "%s%s", root, url);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return reply(c, 404, "not found");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (r == NULL) {
        close(fd);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **state)
{
    (void)cls;
    (void)version;
    (void)data;
    (void)size;
    (void)state;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, 405, "method not allowed");
    if (!authorised(c))
        return deny(c);
    if (strncmp(url, "/redirect/", 10) == 0)
        return redirect(c, url + 9);
    return serve_file(c, url);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a closed peer is an error to report, not a death */
    if (argc < 3) {
        fprintf(stderr, "usage: filestore_httpd PORT ROOT [USER:PASSWORD]\n");
        return 2;
    }
    root = argv[2];
    login = argc > 3 ? argv[3] : NULL;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0,
                                            NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &addr,
                                            MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "filestore_httpd: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("ready\n");
    fflush(stdout);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    return 0;
}
