/*
 * Tests for api/http_metrics.c: requests counted by route and status,
 * latencies in the right histogram buckets, cumulative on the page, and
 * exact counts when many threads observe at once (no lock, atomics).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/http_metrics.h"
#include "util/slice.h"

static char *
page_of(struct http_metrics *m)
{
    struct st_buf b = {0};
    assert_true(http_metrics_write(m, &b));
    assert_true(st_buf_reserve(&b, 1));
    b.ptr[b.len] = '\0';
    return (char *)b.ptr; /* the caller frees */
}

/* The value text of the line "series value", or NULL when the page has
 * no such line. Borrowed from a static buffer. */
static const char *
value_of(const char *page, const char *series)
{
    static char value[64];
    size_t n = strlen(series);
    for (const char *line = page; *line;) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        if ((size_t)(end - line) > n && strncmp(line, series, n) == 0 &&
            line[n] == ' ') {
            size_t len = (size_t)(end - line) - n - 1;
            assert_true(len < sizeof value);
            memcpy(value, line + n + 1, len);
            value[len] = '\0';
            return value;
        }
        line = end + 1;
    }
    return NULL;
}

static void
assert_sample(const char *page, const char *series, const char *want)
{
    const char *got = value_of(page, series);
    if (got == NULL)
        fail_msg("no sample %s in:\n%s", series, page);
    if (strcmp(got, want) != 0)
        fail_msg("%s is %s, want %s", series, got, want);
}

static void
test_http_metrics_count_by_route_and_status(void **state)
{
    struct http_metrics *m = http_metrics_create();
    assert_non_null(m);
    http_metrics_observe(m, HTTP_ROUTE_GET, 200, 1000);
    http_metrics_observe(m, HTTP_ROUTE_GET, 200, 1000);
    http_metrics_observe(m, HTTP_ROUTE_GET, 404, 1000);
    http_metrics_observe(m, HTTP_ROUTE_OTHER, 404, 1000);
    http_metrics_observe(m, HTTP_ROUTE_METRICS, 200, 1000);
    /* Not a status: not counted anywhere. */
    http_metrics_observe(m, HTTP_ROUTE_SET, 99, 1000);
    http_metrics_observe(m, HTTP_ROUTE_SET, 600, 1000);
    char *page = page_of(m);
    assert_non_null(
        strstr(page, "# TYPE strata_http_requests_total counter\n"));
    assert_sample(
        page, "strata_http_requests_total{route=\"get\",status=\"200\"}", "2");
    assert_sample(
        page, "strata_http_requests_total{route=\"get\",status=\"404\"}", "1");
    assert_sample(page,
                  "strata_http_requests_total{route=\"other\",status=\"404\"}",
                  "1");
    assert_sample(
        page, "strata_http_requests_total{route=\"metrics\",status=\"200\"}",
        "1");
    /* Pairs that never happened are left out. */
    assert_null(strstr(page, "route=\"set\",status"));
    assert_sample(
        page, "strata_http_request_duration_seconds_count{route=\"set\"}", "0");
    free(page);
    http_metrics_destroy(m);
}

static void
test_http_metrics_latency_buckets_are_cumulative(void **state)
{
    struct http_metrics *m = http_metrics_create();
    assert_non_null(m);
    /* 40 us, exactly 50 us (bounds are inclusive), 60 us, 3 ms, 2 s. */
    static const uint64_t ns[] = {40000, 50000, 60000, 3000000, 2000000000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
        http_metrics_observe(m, HTTP_ROUTE_SET, 200, ns[i]);
    char *page = page_of(m);
    assert_non_null(strstr(
        page, "# TYPE strata_http_request_duration_seconds histogram\n"));
    static const struct {
        const char *le, *count;
    } want[] = {{"0.00005", "2"}, {"0.0001", "3"}, {"0.00025", "3"},
                {"0.0025", "3"},  {"0.005", "4"},  {"0.5", "4"},
                {"1", "4"},       {"+Inf", "5"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char series[128];
        snprintf(series, sizeof series,
                 "strata_http_request_duration_seconds_bucket{route=\"set\","
                 "le=\"%s\"}",
                 want[i].le);
        assert_sample(page, series, want[i].count);
    }
    assert_sample(
        page, "strata_http_request_duration_seconds_count{route=\"set\"}", "5");
    assert_sample(page,
                  "strata_http_request_duration_seconds_sum{route=\"set\"}",
                  "2.00315");
    /* Every route has its histogram, used or not. */
    assert_sample(page,
                  "strata_http_request_duration_seconds_bucket{route=\"range\","
                  "le=\"+Inf\"}",
                  "0");
    free(page);
    http_metrics_destroy(m);
}

enum { THREADS = 8, PER_THREAD = 20000 };

static void *
observe_many(void *arg)
{
    struct http_metrics *m = arg;
    for (int i = 0; i < PER_THREAD; i++)
        http_metrics_observe(m, HTTP_ROUTE_GET, 200, (uint64_t)i * 1000);
    return NULL;
}

static void
test_http_metrics_are_exact_under_concurrency(void **state)
{
    struct http_metrics *m = http_metrics_create();
    assert_non_null(m);
    pthread_t tid[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&tid[t], NULL, observe_many, m), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(tid[t], NULL);
    char *page = page_of(m);
    char want[32];
    snprintf(want, sizeof want, "%d", THREADS * PER_THREAD);
    assert_sample(
        page, "strata_http_requests_total{route=\"get\",status=\"200\"}", want);
    assert_sample(page,
                  "strata_http_request_duration_seconds_count{route=\"get\"}",
                  want);
    assert_sample(page,
                  "strata_http_request_duration_seconds_bucket{route=\"get\","
                  "le=\"+Inf\"}",
                  want);
    /* Each thread observed 0, 1, ... 19999 us: sum = 8 * 199990000 us. */
    assert_sample(page,
                  "strata_http_request_duration_seconds_sum{route=\"get\"}",
                  "1599.92");
    free(page);
    http_metrics_destroy(m);
}

static void
test_http_route_names(void **state)
{
    assert_string_equal(http_route_name(HTTP_ROUTE_SET), "set");
    assert_string_equal(http_route_name(HTTP_ROUTE_DELETE), "delete");
    assert_string_equal(http_route_name(HTTP_ROUTE_METRICS), "metrics");
    assert_string_equal(http_route_name(HTTP_ROUTE_OTHER), "other");
    assert_string_equal(http_route_name(HTTP_ROUTE_COUNT_), "other");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_metrics_count_by_route_and_status),
        cmocka_unit_test(test_http_metrics_latency_buckets_are_cumulative),
        cmocka_unit_test(test_http_metrics_are_exact_under_concurrency),
        cmocka_unit_test(test_http_route_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
