/*
 * Tests for bloom filters (src/engines/lsm/bloom.c): no false negatives
 * ever, a measured false positive rate near the theory, the probe count
 * rule, and rejection of malformed filter blocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "engines/lsm/bloom.h"
#include "testutil.h"

static void
test_bloom_probes_are_bits_times_ln2(void **state)
{
    (void)state;
    assert_int_equal(lsm_bloom_probes(10), 7); /* 6.93 */
    assert_int_equal(lsm_bloom_probes(1), 1);  /* 0.69 */
    assert_int_equal(lsm_bloom_probes(0), 1);
    assert_int_equal(lsm_bloom_probes(16), 11); /* 11.09 */
    assert_int_equal(lsm_bloom_probes(100), 30);
}

/* Builds a filter over keys "key-<i>" for i in [0, n). */
static void
build(size_t n, unsigned bits, struct st_buf *f)
{
    uint64_t *h = malloc(n * sizeof *h + 1);
    assert_non_null(h);
    for (size_t i = 0; i < n; i++) {
        char key[32];
        int len = snprintf(key, sizeof key, "key-%zu", i);
        h[i] = lsm_bloom_hash(st_slice_make(key, (size_t)len));
    }
    assert_int_equal(lsm_bloom_build(h, n, bits, f), ST_OK);
    assert_int_equal(f->len, lsm_bloom_len(n, bits));
    free(h);
}

static double
false_positive_rate(st_slice f, size_t absent)
{
    size_t fp = 0;
    for (size_t i = 0; i < absent; i++) {
        char key[32];
        int len = snprintf(key, sizeof key, "absent-%zu", i);
        fp += lsm_bloom_may_contain(
            f, lsm_bloom_hash(st_slice_make(key, (size_t)len)));
    }
    return (double)fp / (double)absent;
}

static void
test_bloom_has_no_false_negatives(void **state)
{
    (void)state;
    size_t sizes[] = {0, 1, 7, 100, 10000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        struct st_buf f = {0};
        build(sizes[s], 10, &f);
        assert_true(lsm_bloom_valid(st_buf_slice(&f)));
        for (size_t i = 0; i < sizes[s]; i++) {
            char key[32];
            int len = snprintf(key, sizeof key, "key-%zu", i);
            assert_true(lsm_bloom_may_contain(
                st_buf_slice(&f),
                lsm_bloom_hash(st_slice_make(key, (size_t)len))));
        }
        st_buf_free(&f);
    }
}

static void
test_bloom_false_positive_rate_is_about_one_percent(void **state)
{
    (void)state;
    struct st_buf f = {0};
    build(100000, 10, &f);
    double rate = false_positive_rate(st_buf_slice(&f), 100000);
    print_message("10 bits/key: %.3f%% false positives\n", rate * 100);
    assert_true(rate < 0.02);
    assert_true(rate > 0.002); /* a filter that says "no" to all is wrong */
    st_buf_free(&f);

    build(100000, 5, &f); /* fewer bits, more false positives */
    double rate5 = false_positive_rate(st_buf_slice(&f), 100000);
    assert_true(rate5 > rate && rate5 < 0.15);
    st_buf_free(&f);
}

static void
test_bloom_rejects_malformed_filters(void **state)
{
    (void)state;
    uint8_t bytes[9] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 7};
    assert_true(lsm_bloom_valid(st_slice_make(bytes, 9)));
    assert_false(lsm_bloom_valid(st_slice_make(bytes, 8))); /* too short */
    bytes[8] = 0;
    assert_false(lsm_bloom_valid(st_slice_make(bytes, 9))); /* k = 0 */
    bytes[8] = 31;
    assert_false(lsm_bloom_valid(st_slice_make(bytes, 9))); /* k > 30 */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bloom_probes_are_bits_times_ln2),
        cmocka_unit_test(test_bloom_has_no_false_negatives),
        cmocka_unit_test(test_bloom_false_positive_rate_is_about_one_percent),
        cmocka_unit_test(test_bloom_rejects_malformed_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
