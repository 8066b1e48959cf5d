/*
 * Request counters and latency histograms (see http_metrics.h).
 *
 * Every figure is a relaxed atomic: nothing else in memory is ordered by
 * them, and a scrape only needs each number to be one that was true at
 * some moment. Histogram buckets are kept per bucket (not cumulative),
 * so an observation touches one bucket; the page adds them up, and takes
 * the count from that same sum, so +Inf always equals _count.
 */
#include "api/http_metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/prom_text.h"

enum {
    STATUS_MIN = 100,
    STATUS_MAX = 599,
    STATUS_SLOTS = STATUS_MAX - STATUS_MIN + 1,
};

/* Upper bounds in nanoseconds, from 50 us (a cached GET on this VM is
 * ~100 us through the worker) to 1 s (far beyond any fsync we expect):
 * a 1-2.5-5 progression, as Prometheus' own defaults. */
static const uint64_t duration_bounds_ns[] = {
    50000,    100000,   250000,   500000,    1000000,   2500000,   5000000,
    10000000, 25000000, 50000000, 100000000, 250000000, 500000000, 1000000000,
};
enum {
    DURATION_BOUNDS = sizeof duration_bounds_ns / sizeof duration_bounds_ns[0]
};

struct route_figures {
    atomic_uint_fast64_t by_status[STATUS_SLOTS];
    /* [DURATION_BOUNDS]: slower than the last bound (the +Inf bucket). */
    atomic_uint_fast64_t buckets[DURATION_BOUNDS + 1];
    atomic_uint_fast64_t sum_ns;
};

struct http_metrics {
    struct route_figures routes[HTTP_ROUTE_COUNT_];
};

static const char *const route_names[HTTP_ROUTE_COUNT_] = {
    [HTTP_ROUTE_SET] = "set",         [HTTP_ROUTE_GET] = "get",
    [HTTP_ROUTE_DELETE] = "delete",   [HTTP_ROUTE_RANGE] = "range",
    [HTTP_ROUTE_HEALTH] = "health",   [HTTP_ROUTE_STATS] = "stats",
    [HTTP_ROUTE_METRICS] = "metrics", [HTTP_ROUTE_OTHER] = "other",
};

const char *
http_route_name(enum http_route route)
{
    return (unsigned)route < HTTP_ROUTE_COUNT_ ? route_names[route] : "other";
}

struct http_metrics *
http_metrics_create(void)
{
    /* calloc's zeroes are valid initial values for atomic integers on
     * every platform strata builds on (lock-free 64-bit atomics). */
    return calloc(1, sizeof(struct http_metrics));
}

void
http_metrics_destroy(struct http_metrics *m)
{
    free(m);
}

static size_t
duration_bucket(uint64_t ns)
{
    size_t i = 0;
    while (i < DURATION_BOUNDS && ns > duration_bounds_ns[i])
        i++;
    return i;
}

void
http_metrics_observe(struct http_metrics *m, enum http_route route, int status,
                     uint64_t elapsed_ns)
{
    if ((unsigned)route >= HTTP_ROUTE_COUNT_ || status < STATUS_MIN ||
        status > STATUS_MAX)
        return;
    struct route_figures *r = &m->routes[route];
    atomic_fetch_add_explicit(&r->by_status[status - STATUS_MIN], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&r->buckets[duration_bucket(elapsed_ns)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_ns, elapsed_ns, memory_order_relaxed);
}

static uint64_t
load(atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

/* Only the (route, status) pairs that happened: a scrape of a fresh
 * worker stays short, and a series appearing later counts from 0. */
static bool
write_requests(struct http_metrics *m, struct st_buf *out)
{
    bool ok = prom_write_family(
        out, "strata_http_requests_total", PROM_COUNTER,
        "Requests the worker answered, by route and HTTP status (nginx's "
        "own answers are not counted).");
    for (int r = 0; ok && r < HTTP_ROUTE_COUNT_; r++) {
        for (int s = 0; ok && s < STATUS_SLOTS; s++) {
            uint64_t n = load(&m->routes[r].by_status[s]);
            if (n == 0)
                continue;
            char status[16];
            snprintf(status, sizeof status, "%d", s + STATUS_MIN);
            struct prom_label labels[] = {{"route", route_names[r]},
                                          {"status", status}};
            ok = prom_write_sample(out, "strata_http_requests_total", labels, 2,
                                   prom_int(n));
        }
    }
    return ok;
}

/* Every route, even an unused one: a latency query then never finds its
 * series missing. */
static bool
write_durations(struct http_metrics *m, struct st_buf *out)
{
    bool ok = prom_write_family(
        out, "strata_http_request_duration_seconds", PROM_HISTOGRAM,
        "Time from accepting a request to handing its answer to libfcgi, "
        "by route.");
    for (int r = 0; ok && r < HTTP_ROUTE_COUNT_; r++) {
        struct route_figures *f = &m->routes[r];
        uint64_t cumulative[DURATION_BOUNDS], count = 0;
        for (size_t i = 0; i < DURATION_BOUNDS; i++) {
            count += load(&f->buckets[i]);
            cumulative[i] = count;
        }
        count += load(&f->buckets[DURATION_BOUNDS]);
        struct prom_histogram h = {
            .bound_count = DURATION_BOUNDS,
            .bounds = duration_bounds_ns,
            .cumulative = cumulative,
            .count = count,
            .sum = load(&f->sum_ns),
            .decimals = 9, /* nanoseconds as seconds */
        };
        struct prom_label label = {"route", route_names[r]};
        ok = prom_write_histogram(out, "strata_http_request_duration_seconds",
                                  &label, 1, &h);
    }
    return ok;
}

bool
http_metrics_write(struct http_metrics *m, struct st_buf *out)
{
    return write_requests(m, out) && write_durations(m, out);
}
