/*
 * The Prometheus text exposition format, version 0.0.4: what GET /metrics
 * answers (docs/metrics.md). A family is a "# HELP" and a "# TYPE" line
 * followed by its samples, one per line:
 *
 *   # HELP strata_fsyncs_total fsync and fdatasync calls made.
 *   # TYPE strata_fsyncs_total counter
 *   strata_fsyncs_total 42
 *   strata_http_requests_total{route="get",status="200"} 7
 *
 * Values are written as exact decimals from integers (units and a number
 * of decimal places), never through a double, so a counter of 2^64-1
 * prints every digit and a latency sum in nanoseconds prints as seconds
 * without rounding.
 *
 * Every function appends to 'out' and returns false only when memory ran
 * out (the buffer then holds a partial page; the caller answers 500).
 * Names are the caller's, written as given: they must be valid metric
 * and label names. Label values may hold any bytes; they are escaped.
 */
#ifndef STRATA_API_PROM_TEXT_H
#define STRATA_API_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"

/* The Content-Type of a page in this format. */
#define PROM_TEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum prom_type {
    PROM_COUNTER, /* only goes up (until the process restarts) */
    PROM_GAUGE,   /* goes up and down */
    PROM_HISTOGRAM,
};

/* units / 10^decimals: {1500, 3} is 1.5; decimals <= 18. */
struct prom_number {
    uint64_t units;
    unsigned decimals;
};

static inline struct prom_number
prom_int(uint64_t v)
{
    return (struct prom_number){v, 0};
}

struct prom_label {
    const char *name;  /* a label name, e.g. "route" */
    const char *value; /* any bytes up to NUL; escaped on output */
};

/* A histogram's figures, in the units of struct prom_number with
 * 'decimals' places (nanoseconds and 9 give seconds). */
struct prom_histogram {
    size_t bound_count;
    const uint64_t *bounds;     /* ascending upper bounds, without +Inf */
    const uint64_t *cumulative; /* [i]: observations <= bounds[i] */
    uint64_t count;             /* all observations: the +Inf bucket */
    uint64_t sum;               /* of every observation */
    unsigned decimals;          /* of bounds and sum */
};

/* "counter", "gauge", "histogram". */
const char *prom_type_str(enum prom_type type);

/* Appends the value as the shortest exact decimal: "0", "1.5", "0.00005". */
bool prom_append_number(struct st_buf *out, struct prom_number v);

/* Appends a label value escaped as the format requires: backslash,
 * double quote and line feed become \\, \" and \n. */
bool prom_append_label_value(struct st_buf *out, const char *value);

/* "# HELP name help" and "# TYPE name type". 'help' is escaped (\\ and
 * \n). A family's samples must follow its header, all together. */
bool prom_write_family(struct st_buf *out, const char *name,
                       enum prom_type type, const char *help);

/* name{l1="v1",...} value; no braces when nlabels is 0. */
bool prom_write_sample(struct st_buf *out, const char *name,
                       const struct prom_label *labels, size_t nlabels,
                       struct prom_number value);

/* The samples of one histogram: name_bucket{...,le="B"} for each bound
 * and le="+Inf" (== count), then name_sum and name_count. 'labels' come
 * before "le". */
bool prom_write_histogram(struct st_buf *out, const char *name,
                          const struct prom_label *labels, size_t nlabels,
                          const struct prom_histogram *h);

#endif
