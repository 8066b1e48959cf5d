/*
 * Tests for api/prom_text.c: the Prometheus text format 0.0.4 as GET
 * /metrics writes it. Numbers are exact decimals, label values and help
 * texts are escaped, and a histogram has cumulative buckets ending in
 * +Inf (== _count), then _sum and _count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/prom_text.h"
#include "util/slice.h"

/* The buffer's text, NUL-terminated in place (the NUL is not counted). */
static const char *
text_of(struct st_buf *b)
{
    assert_true(st_buf_reserve(b, 1));
    b->ptr[b->len] = '\0';
    return (const char *)b->ptr;
}

static void
assert_number(uint64_t units, unsigned decimals, const char *want)
{
    struct st_buf b = {0};
    assert_true(prom_append_number(&b, (struct prom_number){units, decimals}));
    assert_string_equal(text_of(&b), want);
    st_buf_free(&b);
}

static void
test_prom_numbers_are_exact_decimals(void **state)
{
    assert_number(0, 0, "0");
    assert_number(42, 0, "42");
    assert_number(UINT64_MAX, 0, "18446744073709551615");
    assert_number(1500, 3, "1.5");
    assert_number(123, 2, "1.23");
    assert_number(5, 2, "0.05");
    assert_number(250, 2, "2.5");
    assert_number(200, 2, "2");
    assert_number(50000, 9, "0.00005");
    assert_number(1000000000, 9, "1");
    assert_number(1234567890123, 9, "1234.567890123");
    assert_number(1, 18, "0.000000000000000001");
    assert_number(UINT64_MAX, 18, "18.446744073709551615");
}

static void
test_prom_label_values_are_escaped(void **state)
{
    struct st_buf b = {0};
    assert_true(prom_append_label_value(&b, "plain"));
    assert_true(prom_append_label_value(&b, "|a\"b\\c\nd|"));
    assert_true(prom_append_label_value(&b, ""));
    assert_true(prom_append_label_value(&b, "\\\\\"\n"));
    assert_string_equal(text_of(&b), "plain|a\\\"b\\\\c\\nd|\\\\\\\\\\\"\\n");
    st_buf_free(&b);
}

static void
test_prom_family_header_escapes_help(void **state)
{
    struct st_buf b = {0};
    assert_true(prom_write_family(&b, "strata_x_total", PROM_COUNTER,
                                  "Two \"lines\":\nback\\slash."));
    assert_true(prom_write_family(&b, "strata_g", PROM_GAUGE, "A gauge."));
    assert_true(prom_write_family(&b, "strata_h", PROM_HISTOGRAM, "H."));
    assert_string_equal(
        text_of(&b), "# HELP strata_x_total Two \"lines\":\\nback\\\\slash.\n"
                     "# TYPE strata_x_total counter\n"
                     "# HELP strata_g A gauge.\n"
                     "# TYPE strata_g gauge\n"
                     "# HELP strata_h H.\n"
                     "# TYPE strata_h histogram\n");
    st_buf_free(&b);
}

static void
test_prom_samples_with_and_without_labels(void **state)
{
    struct st_buf b = {0};
    struct prom_label labels[] = {{"route", "get"}, {"status", "200"}};
    struct prom_label odd[] = {{"key", "say \"hi\"\n"}};
    assert_true(prom_write_sample(&b, "strata_up", NULL, 0, prom_int(1)));
    assert_true(prom_write_sample(&b, "strata_http_requests_total", labels, 2,
                                  prom_int(7)));
    assert_true(prom_write_sample(&b, "strata_odd", odd, 1,
                                  (struct prom_number){125, 2}));
    assert_string_equal(
        text_of(&b),
        "strata_up 1\n"
        "strata_http_requests_total{route=\"get\",status=\"200\"} 7\n"
        "strata_odd{key=\"say \\\"hi\\\"\\n\"} 1.25\n");
    st_buf_free(&b);
}

static void
test_prom_histogram_buckets_are_cumulative_and_end_at_inf(void **state)
{
    /* Observations 30us, 80us, 80us, 700ms, 3s in nanoseconds. */
    static const uint64_t bounds[] = {50000, 100000, 1000000000};
    static const uint64_t cumulative[] = {1, 3, 4};
    struct prom_histogram h = {
        .bound_count = 3,
        .bounds = bounds,
        .cumulative = cumulative,
        .count = 5,
        .sum = 30000 + 80000 + 80000 + 700000000 + 3000000000ull,
        .decimals = 9,
    };
    struct prom_label route = {"route", "set"};
    struct st_buf b = {0};
    assert_true(prom_write_histogram(&b, "strata_d_seconds", &route, 1, &h));
    assert_string_equal(
        text_of(&b), "strata_d_seconds_bucket{route=\"set\",le=\"0.00005\"} 1\n"
                     "strata_d_seconds_bucket{route=\"set\",le=\"0.0001\"} 3\n"
                     "strata_d_seconds_bucket{route=\"set\",le=\"1\"} 4\n"
                     "strata_d_seconds_bucket{route=\"set\",le=\"+Inf\"} 5\n"
                     "strata_d_seconds_sum{route=\"set\"} 3.70019\n"
                     "strata_d_seconds_count{route=\"set\"} 5\n");
    st_buf_free(&b);
}

static void
test_prom_histogram_without_labels_or_bounds(void **state)
{
    struct prom_histogram h = {.count = 2, .sum = 9};
    struct st_buf b = {0};
    assert_true(prom_write_histogram(&b, "strata_n", NULL, 0, &h));
    assert_string_equal(text_of(&b), "strata_n_bucket{le=\"+Inf\"} 2\n"
                                     "strata_n_sum 9\n"
                                     "strata_n_count 2\n");
    st_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_numbers_are_exact_decimals),
        cmocka_unit_test(test_prom_label_values_are_escaped),
        cmocka_unit_test(test_prom_family_header_escapes_help),
        cmocka_unit_test(test_prom_samples_with_and_without_labels),
        cmocka_unit_test(
            test_prom_histogram_buckets_are_cumulative_and_end_at_inf),
        cmocka_unit_test(test_prom_histogram_without_labels_or_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
