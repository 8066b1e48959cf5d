/*
 * Latency histogram for strata-bench: log-linear buckets over nanoseconds,
 * as in HdrHistogram. Below 64 ns every value has its own bucket; above,
 * each power of two is cut into 32 equal buckets, so a percentile is
 * within ~3% of the true value while recording stays one shift and one
 * increment (it runs once per operation, inside the timed loop).
 *
 * Not thread-safe: one histogram per running workload.
 */
#ifndef STRATA_BENCH_HISTOGRAM_H
#define STRATA_BENCH_HISTOGRAM_H

#include <stdint.h>

enum {
    HISTOGRAM_SUB_BITS = 5, /* 32 buckets per power of two */
    HISTOGRAM_LINEAR = 64,  /* values below this are exact */
    HISTOGRAM_BUCKETS = HISTOGRAM_LINEAR + (64 - 6) * 32,
};

struct histogram {
    uint64_t count;
    uint64_t min_ns;
    uint64_t max_ns;
    uint64_t buckets[HISTOGRAM_BUCKETS];
};

/* Empties 'h' (caller's storage). */
void histogram_init(struct histogram *h);

void histogram_add(struct histogram *h, uint64_t ns);

/* The value below which 'pct' percent (0 < pct <= 100) of the recorded
 * values fall, in nanoseconds: the midpoint of the bucket that holds it,
 * clamped to [min, max]; the largest value itself when the rank is the
 * last one (p100, or p99.9 of fewer than 1000 values). 0 when nothing
 * was recorded. */
uint64_t histogram_percentile(const struct histogram *h, double pct);

#endif
