/*
 * fcgi-trivial: the smallest FastCGI responder that stratad could be, for
 * the HTTP benchmark's ceiling. It answers every request with a fixed JSON
 * body, {"value":"xxx..."} (GET) or {"status":"ok"} (any other method),
 * after reading the request body, with the same thread pool shape as
 * stratad (one FCGX_Request per thread, no accept lock: PITFALLS.md).
 * What nginx + FastCGI cost with no store behind them is the most
 * stratad can reach through the same nginx configuration.
 *
 * usage: fcgi-trivial --socket PATH [--threads N] [--value-size N]
 * Stops on SIGTERM, SIGINT or SIGHUP, removing its socket.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum { MAX_THREADS = 1024, MAX_VALUE = 1 << 20 };

struct responder {
    int listen_fd;
    char *get_answer; /* CGI headers + body, sent as is */
    size_t get_len;
    char *set_answer;
    size_t set_len;
};

static char *
make_answer(const char *body, size_t *len)
{
    size_t body_len = strlen(body);
    size_t cap = body_len + 128;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    int n = snprintf(out, cap,
                     "Status: 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     body_len, body);
    *len = (size_t)n;
    return out;
}

/* Reads what is left of the body: leftover STDIN makes libfcgi drop a
 * kept-alive connection (PITFALLS.md). */
static void
drain_body(FCGX_Request *req)
{
    char buf[4096];
    while (FCGX_GetStr(buf, sizeof(buf), req->in) == (int)sizeof(buf))
        ;
}

static void *
serve(void *arg)
{
    struct responder *r = arg;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, r->listen_fd, 0) != 0)
        return NULL;
    for (;;) {
        int rc = FCGX_Accept_r(&req);
        if (rc < 0) {
            if (rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM ||
                rc == -EINTR || rc == -ECONNABORTED) {
                usleep(10000); /* back off, do not give up the thread */
                continue;
            }
            break;
        }
        drain_body(&req);
        const char *method = FCGX_GetParam("REQUEST_METHOD", req.envp);
        bool get = method != NULL && strcmp(method, "GET") == 0;
        FCGX_PutStr(get ? r->get_answer : r->set_answer,
                    (int)(get ? r->get_len : r->set_len), req.out);
        FCGX_Finish_r(&req);
    }
    return NULL;
}

/* A private unix socket, made by hand: FCGX_OpenSocket would unlink
 * someone else's socket and exit() on errors (PITFALLS.md). */
static int
listen_unix(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "fcgi-trivial: socket path too long: %s\n", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        chmod(path, 0660) != 0 || listen(fd, 1024) != 0) {
        fprintf(stderr, "fcgi-trivial: socket %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static bool
parse_args(int argc, char **argv, const char **socket_path, long *threads,
           long *value_size)
{
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(argv[i], "--socket") == 0 && next != NULL) {
            *socket_path = next;
        } else if (strcmp(argv[i], "--threads") == 0 && next != NULL) {
            *threads = strtol(next, &end, 10);
            if (*end != '\0' || *threads < 1 || *threads > MAX_THREADS)
                return false;
        } else if (strcmp(argv[i], "--value-size") == 0 && next != NULL) {
            *value_size = strtol(next, &end, 10);
            if (*end != '\0' || *value_size < 0 || *value_size > MAX_VALUE)
                return false;
        } else {
            return false;
        }
    }
    return *socket_path != NULL;
}

static bool
make_answers(struct responder *r, long value_size)
{
    char *body = malloc((size_t)value_size + 16);
    if (body == NULL)
        return false;
    memcpy(body, "{\"value\":\"", 10);
    memset(body + 10, 'x', (size_t)value_size);
    memcpy(body + 10 + value_size, "\"}", 3);
    r->get_answer = make_answer(body, &r->get_len);
    r->set_answer = make_answer("{\"status\":\"ok\"}", &r->set_len);
    free(body);
    return r->get_answer != NULL && r->set_answer != NULL;
}

int
main(int argc, char **argv)
{
    const char *socket_path = NULL;
    long threads = 32, value_size = 100;
    if (!parse_args(argc, argv, &socket_path, &threads, &value_size)) {
        fputs("usage: fcgi-trivial --socket PATH [--threads 1..1024] "
              "[--value-size 0..1048576]\n",
              stderr);
        return 2;
    }
    struct responder r = {0};
    if (!make_answers(&r, value_size))
        return 1;

    /* Signals: SIGPIPE ignored (a client that hangs up gives EPIPE);
     * TERM/INT/HUP blocked in every thread and taken by sigwait below. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    r.listen_fd = listen_unix(socket_path);
    if (r.listen_fd < 0 || FCGX_Init() != 0)
        return 1;
    for (long i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, serve, &r) != 0) {
            fprintf(stderr, "fcgi-trivial: pthread_create failed\n");
            unlink(socket_path);
            return 1;
        }
        pthread_detach(t);
    }
    int sig = 0;
    sigwait(&stop, &sig);
    /* Nothing to flush: answers are fixed. Threads die with the process. */
    unlink(socket_path);
    return 0;
}
