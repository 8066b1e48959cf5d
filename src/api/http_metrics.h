/*
 * What the worker measures about the HTTP requests it answers, for
 * GET /metrics (docs/metrics.md): a request counter per route and status,
 * and a latency histogram per route, from the moment the request was
 * accepted to the moment its answer was handed to libfcgi.
 *
 * Cheap on the request path: an observation is three relaxed atomic
 * additions into fixed arrays, no lock and no allocation. A page written
 * while requests run may see one request counted but not yet timed; each
 * histogram is itself consistent (its +Inf bucket equals its count).
 *
 * Threads: http_metrics_observe and http_metrics_write may run on any
 * number of threads at once; create and destroy on one.
 */
#ifndef STRATA_API_HTTP_METRICS_H
#define STRATA_API_HTTP_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/slice.h"

/* The "route" label: which endpoint answered. OTHER is everything the
 * router did not match (unknown paths, a path outside STRATA_PREFIX). */
enum http_route {
    HTTP_ROUTE_SET,
    HTTP_ROUTE_GET,
    HTTP_ROUTE_DELETE,
    HTTP_ROUTE_RANGE,
    HTTP_ROUTE_HEALTH,
    HTTP_ROUTE_STATS,
    HTTP_ROUTE_METRICS,
    HTTP_ROUTE_OTHER,
    HTTP_ROUTE_COUNT_
};

/* "set", "get", ... "other": the label value. */
const char *http_route_name(enum http_route route);

struct http_metrics;

/* NULL when memory runs out. The caller owns the result. */
struct http_metrics *http_metrics_create(void);
/* destroy(NULL) does nothing. */
void http_metrics_destroy(struct http_metrics *m);

/* Counts one answered request. 'status' outside 100..599 is not counted
 * (the router never answers one). */
void http_metrics_observe(struct http_metrics *m, enum http_route route,
                          int status, uint64_t elapsed_ns);

/* Appends the families strata_http_requests_total and
 * strata_http_request_duration_seconds. false when memory ran out. */
bool http_metrics_write(struct http_metrics *m, struct st_buf *out);

#endif
