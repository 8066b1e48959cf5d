/*
 * Latency percentiles for strata-bench (histogram.h has the bucket
 * layout). A mean hides the tail that users feel: DDIA 1, "Describing
 * Performance", asks for p50/p99/p99.9, and so does every table here.
 */
#include "histogram.h"

#include <string.h>

void
histogram_init(struct histogram *h)
{
    memset(h, 0, sizeof(*h));
    h->min_ns = UINT64_MAX;
}

static unsigned
bucket_of(uint64_t ns)
{
    if (ns < HISTOGRAM_LINEAR)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns); /* e >= 6 */
    unsigned sub = (unsigned)(ns >> (e - HISTOGRAM_SUB_BITS)) & 31u;
    return HISTOGRAM_LINEAR + (e - 6) * 32 + sub;
}

/* The smallest value that falls into bucket 'b'. */
static uint64_t
bucket_low(unsigned b)
{
    if (b < HISTOGRAM_LINEAR)
        return b;
    unsigned e = (b - HISTOGRAM_LINEAR) / 32 + 6;
    uint64_t sub = (b - HISTOGRAM_LINEAR) % 32;
    return (32 + sub) << (e - HISTOGRAM_SUB_BITS);
}

void
histogram_add(struct histogram *h, uint64_t ns)
{
    h->buckets[bucket_of(ns)]++;
    h->count++;
    if (ns < h->min_ns)
        h->min_ns = ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

uint64_t
histogram_percentile(const struct histogram *h, double pct)
{
    if (h->count == 0)
        return 0;
    /* The rank of the wanted value, 1-based: p50 of 3 values is the 2nd. */
    double want = pct / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank >= h->count)
        return h->max_ns; /* p100 is the largest value, not a bucket's */

    uint64_t seen = 0;
    for (unsigned b = 0; b < HISTOGRAM_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen < rank)
            continue;
        uint64_t lo = bucket_low(b);
        uint64_t hi =
            b + 1 < HISTOGRAM_BUCKETS ? bucket_low(b + 1) : UINT64_MAX;
        uint64_t mid = lo + (hi - lo) / 2;
        if (mid < h->min_ns)
            mid = h->min_ns;
        if (mid > h->max_ns)
            mid = h->max_ns;
        return mid;
    }
    return h->max_ns;
}
