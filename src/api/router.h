/*
 * The HTTP API as a pure function: a request (method, REQUEST_URI, body)
 * in, a response (status, Allow header, content type, body) out. It
 * knows nothing about FastCGI or sockets, so tests call it directly, and
 * nothing about files: it talks only to the store.
 *
 *   POST /set/{key}   GET /get/{key}   DELETE /delete/{key}
 *   GET /range?start=&end=&limit=   GET /health   GET /stats
 *   GET /metrics (Prometheus text; every other body is JSON)
 *
 * A path prefix: when nginx serves strata under /kv/ it passes
 * STRATA_PREFIX=/kv, and the router strips it from REQUEST_URI before
 * routing (/kv/get/a is /get/a). A URI that does not start with the
 * prefix and a '/' answers 404 {"error":"not found"}, as nginx's own 404.
 */
#ifndef STRATA_API_ROUTER_H
#define STRATA_API_ROUTER_H

#include "api/http_metrics.h"
#include "store.h"
#include "util/slice.h"

/* The Content-Type of every answer but /metrics. */
#define API_JSON_CONTENT_TYPE "application/json"

struct api_request {
    const char *method; /* "GET", "POST" ... (HEAD is served as GET) */
    st_slice uri;       /* REQUEST_URI as received: still encoded */
    st_slice body;
    /* STRATA_PREFIX as nginx passed it ("/kv"; a trailing '/' is
     * ignored); empty: the routes sit at the root. */
    st_slice prefix;
};

struct api_response {
    int status;
    const char *allow;        /* static; set on 405, else NULL */
    const char *content_type; /* static: API_JSON_CONTENT_TYPE, or the
                                 Prometheus text type of /metrics */
    enum http_route route;    /* which endpoint answered, for metrics */
    struct st_buf body;       /* owned by the context, reused */
};

/* Per-thread scratch space, reused across requests so the hot path does
 * not allocate once buffers have grown. Not shareable between threads. */
struct api_context {
    struct store *store; /* borrowed; outlives the context */
    /* Borrowed, may be NULL (then /metrics has no HTTP figures); the
     * FastCGI loop sets it after api_context_init. */
    struct http_metrics *metrics;
    struct st_buf key, value, param;
    struct api_response resp;
};

void api_context_init(struct api_context *ctx, struct store *store);
void api_context_deinit(struct api_context *ctx);

/* Handles one request. The response (ctx->resp) is valid until the next
 * call on this context. Never fails: errors become 4xx/5xx JSON. */
const struct api_response *api_handle(struct api_context *ctx,
                                      const struct api_request *req);

/* Fills ctx->resp with an error answer; for transport-level refusals the
 * FastCGI loop makes itself (413 before reading a body, 400 on a body
 * shorter than announced). */
const struct api_response *api_error(struct api_context *ctx, int status,
                                     const char *msg);

/* api_error for a request refused before api_handle (body too large,
 * shutting down ...), with the route its URI names, for metrics. */
const struct api_response *api_refuse(struct api_context *ctx,
                                      const struct api_request *req, int status,
                                      const char *msg);

#endif
