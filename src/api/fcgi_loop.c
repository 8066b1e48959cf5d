/*
 * FastCGI worker threads (see fcgi_loop.h).
 *
 * Shutdown is the delicate part. libfcgi's own flag does not wake a
 * thread asleep in accept(), so stop() also shuts the listening socket
 * down; threads parked on a kept-alive connection wake only when nginx
 * closes it. A gate (a counter under a mutex) lets stop() wait for the
 * requests in flight and then bar every later one from the store.
 */
#include "api/fcgi_loop.h"

#include <errno.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/http_metrics.h"
#include "api/http_status.h"
#include "api/router.h"
#include "util/deadline.h"
#include "util/log.h"

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t idle;
    unsigned in_flight;
    bool closed;
};

struct fcgi_server;

struct worker {
    struct fcgi_server *srv;
    pthread_t tid;
    /* The connection this thread last served (-1: none yet), so stop()
     * can end kept-alive connections that would otherwise hold the thread
     * until nginx closes them. */
    atomic_int conn_fd;
};

struct fcgi_server {
    struct fcgi_server_config cfg;
    struct http_metrics *metrics; /* every thread's requests, for /metrics */
    struct worker *workers;
    unsigned started;
    unsigned finished; /* guarded by gate.mu */
    struct gate gate;
};

static bool
gate_enter(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    bool open = !g->closed;
    if (open)
        g->in_flight++;
    pthread_mutex_unlock(&g->mu);
    return open;
}

static void
gate_leave(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    if (--g->in_flight == 0)
        pthread_cond_broadcast(&g->idle);
    pthread_mutex_unlock(&g->mu);
}

/* Strict CONTENT_LENGTH: digits only, no overflow. Absent means 0. */
static bool
parse_content_length(const char *s, size_t *len)
{
    *len = 0;
    if (s == NULL || s[0] == '\0')
        return true;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || *len > (SIZE_MAX - 9) / 10)
            return false;
        *len = *len * 10 + (size_t)(*s - '0');
    }
    return true;
}

/* Reads and drops whatever is left of the body: leftover input makes
 * libfcgi drop a kept-alive connection (PITFALLS.md). */
static void
drain_body(FCGX_Stream *in)
{
    char sink[16384];
    while (FCGX_GetStr(sink, sizeof sink, in) == (int)sizeof sink)
        ;
}

/* Reads the body into 'body'. Returns 0, or the HTTP status to refuse
 * the request with (*why says why). */
static int
read_body(FCGX_Request *req, size_t limit, struct st_buf *body,
          const char **why)
{
    size_t want;
    body->len = 0;
    if (!parse_content_length(FCGX_GetParam("CONTENT_LENGTH", req->envp),
                              &want)) {
        *why = "bad Content-Length";
        return 400;
    }
    if (want > limit) {
        *why = "request body too large";
        return 413;
    }
    if (!st_buf_reserve(body, want)) {
        *why = "out of memory";
        return 500;
    }
    while (body->len < want) {
        int chunk = want - body->len > 65536 ? 65536 : (int)(want - body->len);
        int n = FCGX_GetStr((char *)body->ptr + body->len, chunk, req->in);
        if (n <= 0)
            break;
        body->len += (size_t)n;
    }
    if (body->len < want) {
        *why = "request body shorter than its Content-Length";
        return 400;
    }
    return 0;
}

/* Formats the CGI headers with snprintf: FCGX_FPrintF has its own printf
 * that does not know %zu. */
static void
write_response(FCGX_Request *req, const struct api_response *resp, bool head)
{
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr,
                     "Status: %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s%s%s\r\n",
                     resp->status, http_reason(resp->status),
                     resp->content_type ? resp->content_type
                                        : API_JSON_CONTENT_TYPE,
                     resp->body.len, resp->allow ? "Allow: " : "",
                     resp->allow ? resp->allow : "", resp->allow ? "\r\n" : "");
    FCGX_PutStr(hdr, n, req->out);
    if (!head && resp->body.len > 0)
        FCGX_PutStr((const char *)resp->body.ptr, (int)resp->body.len,
                    req->out);
}

static uint64_t
now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A FastCGI parameter as a slice; absent is empty. */
static st_slice
param(FCGX_Request *req, const char *name)
{
    const char *v = FCGX_GetParam(name, req->envp);
    return v != NULL ? st_slice_from_cstr(v) : (st_slice){0};
}

/* 'started' is when FCGX_Accept_r returned with the request: the time
 * measured covers reading the body, the store and writing the answer
 * into libfcgi's buffer (the last buffer goes out at the next accept). */
static void
serve(struct fcgi_server *srv, FCGX_Request *req, struct api_context *ctx,
      struct st_buf *body, uint64_t started)
{
    const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
    const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
    const char *why = NULL;
    int refuse = read_body(req, srv->cfg.body_limit, body, &why);
    drain_body(req->in);
    struct api_request r = {method,
                            uri ? st_slice_from_cstr(uri) : (st_slice){0},
                            st_buf_slice(body), param(req, "STRATA_PREFIX")};
    const struct api_response *resp;
    if (method == NULL || uri == NULL)
        resp =
            api_refuse(ctx, &r, 400, "REQUEST_METHOD and REQUEST_URI needed");
    else if (refuse)
        resp = api_refuse(ctx, &r, refuse, why);
    else if (!gate_enter(&srv->gate))
        resp = api_refuse(ctx, &r, 503, "shutting down");
    else {
        resp = api_handle(ctx, &r);
        gate_leave(&srv->gate);
    }
    write_response(req, resp, method != NULL && strcmp(method, "HEAD") == 0);
    http_metrics_observe(srv->metrics, resp->route, resp->status,
                         now_ns() - started);
}

/* true when a failed accept is worth retrying: running out of fds or
 * memory passes, and must not kill the pool for good. */
static bool
accept_error_is_transient(int rc)
{
    return rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM || rc == -ENOBUFS ||
           rc == -ECONNABORTED || rc == -EINTR;
}

static bool
stopping(struct fcgi_server *srv)
{
    pthread_mutex_lock(&srv->gate.mu);
    bool closed = srv->gate.closed;
    pthread_mutex_unlock(&srv->gate.mu);
    return closed;
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct fcgi_server *srv = w->srv;
    FCGX_Request req;
    struct api_context ctx;
    struct st_buf body = {0};
    FCGX_InitRequest(&req, srv->cfg.listen_fd, 0);
    api_context_init(&ctx, srv->cfg.store);
    ctx.metrics = srv->metrics;
    for (;;) {
        int rc = FCGX_Accept_r(&req);
        if (rc >= 0) {
            uint64_t started = now_ns();
            atomic_store(&w->conn_fd, req.ipcFd);
            serve(srv, &req, &ctx, &body, started);
            continue;
        }
        if (stopping(srv) || !accept_error_is_transient(rc)) {
            if (!stopping(srv))
                log_error("fcgi: accept failed, thread stops error=%s",
                          strerror(-rc));
            break;
        }
        log_warn("fcgi: accept failed, retrying error=%s", strerror(-rc));
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    FCGX_Finish_r(&req);
    FCGX_Free(&req, 1);
    api_context_deinit(&ctx);
    st_buf_free(&body);
    pthread_mutex_lock(&srv->gate.mu);
    srv->finished++;
    pthread_cond_broadcast(&srv->gate.idle);
    pthread_mutex_unlock(&srv->gate.mu);
    return NULL;
}

st_status
fcgi_server_start(const struct fcgi_server_config *cfg,
                  struct fcgi_server **out, struct st_error *err)
{
    if (FCGX_Init() != 0)
        return st_error_set(err, ST_IO, 0, "FCGX_Init failed");
    struct fcgi_server *srv = calloc(1, sizeof *srv);
    struct worker *workers = calloc(cfg->threads, sizeof *workers);
    struct http_metrics *metrics = http_metrics_create();
    if (srv == NULL || workers == NULL || metrics == NULL) {
        free(srv);
        free(workers);
        http_metrics_destroy(metrics);
        return st_error_set(err, ST_NOMEM, 0, "fcgi: no memory");
    }
    srv->cfg = *cfg;
    srv->workers = workers;
    srv->metrics = metrics;
    pthread_mutex_init(&srv->gate.mu, NULL);
    pthread_cond_init(&srv->gate.idle, NULL);
    for (; srv->started < cfg->threads; srv->started++) {
        struct worker *w = &workers[srv->started];
        w->srv = srv;
        atomic_init(&w->conn_fd, -1);
        int e = pthread_create(&w->tid, NULL, worker_main, w);
        if (e != 0) {
            st_error_set(err, ST_NOMEM, e, "pthread_create");
            fcgi_server_stop(srv, 1000);
            return ST_NOMEM;
        }
    }
    *out = srv;
    return ST_OK;
}

/* Waits on the gate until 'done' holds or the deadline passes. */
static bool
wait_until(struct fcgi_server *srv, const struct timespec *deadline,
           bool (*done)(struct fcgi_server *))
{
    pthread_mutex_lock(&srv->gate.mu);
    int rc = 0;
    while (!done(srv) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&srv->gate.idle, &srv->gate.mu, deadline);
    bool ok = done(srv);
    pthread_mutex_unlock(&srv->gate.mu);
    return ok;
}

static bool
all_finished(struct fcgi_server *srv)
{
    return srv->finished == srv->started;
}

static bool
none_in_flight(struct fcgi_server *srv)
{
    return srv->gate.in_flight == 0;
}

/* Ends the read side of every connection a thread holds: a thread parked
 * on a kept-alive connection then reads end-of-file, and libfcgi closes
 * it and goes back to accept(), which fails on the shut listening socket.
 * Only the read side, so an answer being written still goes out. An fd
 * that was closed and reused meanwhile is at worst another connection of
 * this worker, which is being ended anyway, or a file, which shutdown()
 * refuses with ENOTSOCK. */
static void
end_kept_connections(struct fcgi_server *srv)
{
    for (unsigned i = 0; i < srv->started; i++) {
        int fd = atomic_load(&srv->workers[i].conn_fd);
        if (fd >= 0)
            shutdown(fd, SHUT_RD);
    }
}

void
fcgi_server_stop(struct fcgi_server *srv, unsigned grace_ms)
{
    FCGX_ShutdownPending();
    pthread_mutex_lock(&srv->gate.mu);
    srv->gate.closed = true;
    pthread_mutex_unlock(&srv->gate.mu);
    /* Wakes every thread blocked in accept(); closing the fd would not. */
    shutdown(srv->cfg.listen_fd, SHUT_RDWR);

    struct timespec deadline = deadline_after_ms(grace_ms);
    /* Requests in flight finish first; only then are idle connections
     * ended, so no request is cut while it is being read. */
    wait_until(srv, &deadline, none_in_flight);
    end_kept_connections(srv);
    if (!wait_until(srv, &deadline, all_finished)) {
        unsigned left = srv->started - srv->finished;
        log_warn("fcgi: leaving threads behind on kept-alive connections "
                 "threads=%u",
                 left);
        /* They may still be inside the store: wait for those without a
         * deadline, since closing the store under them would be worse. */
        wait_until(srv, &(struct timespec){INT32_MAX, 0}, none_in_flight);
        return;
    }
    for (unsigned i = 0; i < srv->started; i++)
        pthread_join(srv->workers[i].tid, NULL);
    pthread_mutex_destroy(&srv->gate.mu);
    pthread_cond_destroy(&srv->gate.idle);
    http_metrics_destroy(srv->metrics);
    free(srv->workers);
    free(srv);
}
