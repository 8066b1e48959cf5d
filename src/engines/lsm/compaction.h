/*
 * Leveled compaction (DDIA 3.1, "Performance optimizations": LevelDB's
 * leveled strategy; docs/lsm-design.md, "Compaction" says why leveled and
 * not size-tiered). Level 0 holds flushed memtables that may overlap;
 * every deeper level is one sorted run of disjoint tables, ten times
 * bigger than the level above. A compaction merges tables of level n with
 * the tables of level n+1 they overlap into new level n+1 tables, keeping
 * only the newest version of each key and dropping tombstones that no
 * deeper level can need.
 *
 * Threads: every function REQUIRES the worker token (lsm_impl.h).
 */
#ifndef STRATA_ENGINES_LSM_COMPACTION_H
#define STRATA_ENGINES_LSM_COMPACTION_H

#include <stdbool.h>

#include "engines/lsm/lsm_impl.h"

/* How far over budget the most urgent level is (>= 1.0: compact it), and
 * which level that is (*level = -1 when every level is empty). */
double lsm_compaction_score(const struct lsm_engine *e,
                            const struct lsm_version *v, int *level);

/* Runs one compaction if a level is over its budget; *did says whether
 * one ran. On error nothing changed (outputs removed), except that a
 * failed manifest edit makes the engine read-only. */
st_status lsm_compact_once(struct lsm_engine *e, bool *did,
                           struct st_error *err);

/* The compact() operation: pushes every level into the next deeper one
 * until all data sits in one level (tombstones and overwritten versions
 * all gone), then runs budget compactions until none is due. */
st_status lsm_compact_all(struct lsm_engine *e, struct st_error *err);

#endif
