/*
 * The HTTP API as a pure function: a request (method, REQUEST_URI, body)
 * in, a response (status, Allow header, JSON body) out. It knows nothing
 * about FastCGI or sockets, so tests call it directly, and nothing about
 * files: it talks only to the store.
 *
 *   POST /set/{key}   GET /get/{key}   DELETE /delete/{key}
 *   GET /range?start=&end=&limit=   GET /health   GET /stats
 */
#ifndef STRATA_API_ROUTER_H
#define STRATA_API_ROUTER_H

#include "store.h"
#include "util/slice.h"

struct api_request {
    const char *method; /* "GET", "POST" ... (HEAD is served as GET) */
    st_slice uri;       /* REQUEST_URI as received: still encoded */
    st_slice body;
};

struct api_response {
    int status;
    const char *allow;  /* static; set on 405, else NULL */
    struct st_buf body; /* JSON; owned by the context, reused */
};

/* Per-thread scratch space, reused across requests so the hot path does
 * not allocate once buffers have grown. Not shareable between threads. */
struct api_context {
    struct store *store; /* borrowed; outlives the context */
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

#endif
