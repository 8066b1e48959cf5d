/*
 * The store's and the engine's figures (store_stats, the same numbers
 * /stats shows as JSON) as Prometheus metrics, for GET /metrics.
 *
 * A table in stat_metrics.c names each known figure's metric, its type
 * (counters get the _total suffix) and its help text; figures of one
 * family come together (level0_tables ... level6_tables become
 * strata_lsm_level_tables{level="0"} ...; write_batches_le_N, with
 * write_batches and batched_writes, become the histogram
 * strata_group_commit_batch_size). A figure the table does not know still
 * appears, as the gauge strata_engine_<name>, so an engine's new figures
 * show up without a change here. docs/metrics.md lists them all.
 */
#ifndef STRATA_API_STAT_METRICS_H
#define STRATA_API_STAT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"

/* One figure as stats() reports it: 'name' is static, lower_snake_case. */
struct stat_figure {
    const char *name;
    uint64_t value;
};

/* More than any engine reports, by far; figures past it are left out. */
enum { STAT_METRICS_MAX_FIGURES = 256 };

/* Appends the metric families for figures[0..count). A name reported
 * twice counts once (the first). false when memory ran out. */
bool stat_metrics_write(struct st_buf *out, const struct stat_figure *figures,
                        size_t count);

#endif
