/*
 * Tests for bench/histogram.c, the latency percentiles of strata-bench:
 * exact below 64 ns, within the bucket width (1/32, ~3%) above, clamped
 * to what was recorded, and computed from ranks as the tables read them
 * (p50 of 1..100 is 50, p99 is 99).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "histogram.h"

static struct histogram h; /* 15 KiB: not on cmocka's stack */

/* |got - want| <= want/32: one bucket of the log-linear layout. */
static void
assert_close(uint64_t got, uint64_t want)
{
    uint64_t diff = got > want ? got - want : want - got;
    if (diff > want / 32) {
        fail_msg("got %llu, want %llu within 1/32", (unsigned long long)got,
                 (unsigned long long)want);
    }
}

static void
test_histogram_empty_reports_zero(void **state)
{
    histogram_init(&h);
    assert_int_equal(histogram_percentile(&h, 50), 0);
    assert_int_equal(histogram_percentile(&h, 99.9), 0);
}

static void
test_histogram_small_values_are_exact(void **state)
{
    histogram_init(&h);
    for (uint64_t v = 1; v <= 60; v++)
        histogram_add(&h, v);
    assert_int_equal(histogram_percentile(&h, 50), 30);
    assert_int_equal(histogram_percentile(&h, 100), 60);
    assert_int_equal(histogram_percentile(&h, 0.1), 1);
}

static void
test_histogram_ranks_of_one_to_a_hundred(void **state)
{
    histogram_init(&h);
    for (uint64_t v = 1; v <= 100; v++)
        histogram_add(&h, v * 1000);
    assert_close(histogram_percentile(&h, 50), 50000);
    assert_close(histogram_percentile(&h, 99), 99000);
    assert_close(histogram_percentile(&h, 99.9), 100000);
    assert_int_equal(h.count, 100);
}

static void
test_histogram_single_value_is_every_percentile(void **state)
{
    histogram_init(&h);
    histogram_add(&h, 123456789);
    assert_int_equal(histogram_percentile(&h, 50), 123456789);
    assert_int_equal(histogram_percentile(&h, 99.9), 123456789);
}

static void
test_histogram_tail_is_not_hidden_by_the_mass(void **state)
{
    histogram_init(&h);
    for (int i = 0; i < 9990; i++)
        histogram_add(&h, 1000);
    for (int i = 0; i < 10; i++)
        histogram_add(&h, 5000000); /* 0.1% at 5 ms: an fsync stall */
    assert_close(histogram_percentile(&h, 99), 1000);
    assert_close(histogram_percentile(&h, 99.95), 5000000);
}

static void
test_histogram_extreme_values_fit(void **state)
{
    histogram_init(&h);
    histogram_add(&h, 0);
    histogram_add(&h, UINT64_MAX);
    assert_int_equal(histogram_percentile(&h, 50), 0);
    assert_int_equal(histogram_percentile(&h, 100), UINT64_MAX);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_empty_reports_zero),
        cmocka_unit_test(test_histogram_small_values_are_exact),
        cmocka_unit_test(test_histogram_ranks_of_one_to_a_hundred),
        cmocka_unit_test(test_histogram_single_value_is_every_percentile),
        cmocka_unit_test(test_histogram_tail_is_not_hidden_by_the_mass),
        cmocka_unit_test(test_histogram_extreme_values_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
