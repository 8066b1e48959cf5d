/*
 * The FastCGI side: a pool of threads, each with its own FCGX_Request,
 * all accepting on one listening socket (Linux needs no accept lock, and
 * a lock would freeze the pool behind a kept-alive connection; see
 * PITFALLS.md). Each request is read, handed to the router, answered,
 * and counted and timed for /metrics (http_metrics.h).
 */
#ifndef STRATA_API_FCGI_LOOP_H
#define STRATA_API_FCGI_LOOP_H

#include <stddef.h>

#include "store.h"
#include "util/status.h"

struct fcgi_server_config {
    int listen_fd;       /* a bound, listening socket; stays the caller's */
    unsigned threads;    /* >= 1 */
    size_t body_limit;   /* bytes; larger bodies answer 413 */
    struct store *store; /* borrowed; must outlive fcgi_server_stop() */
};

struct fcgi_server;

/* Calls FCGX_Init (so: from the main thread, before any other thread
 * exists) and starts the threads. On ST_OK the caller owns *out and
 * must pass it to fcgi_server_stop(). */
st_status fcgi_server_start(const struct fcgi_server_config *cfg,
                            struct fcgi_server **out, struct st_error *err);

/* Stops accepting, lets requests in flight finish, and waits up to
 * 'grace_ms' for the threads. Threads still parked on kept-alive
 * connections after that are left behind, but are barred from touching
 * the store, so the caller may close it once this returns. Frees 'srv'
 * unless threads were left behind (then the process is about to exit). */
void fcgi_server_stop(struct fcgi_server *srv, unsigned grace_ms);

#endif
