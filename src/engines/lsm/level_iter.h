/*
 * The level iterator: the tables of one level >= 1 (sorted and disjoint)
 * seen as one sorted source, opening one table iterator at a time. A scan
 * or a compaction over a level with a hundred tables then reads one
 * table's blocks at a time instead of seeking in all of them.
 *
 * Threads: one thread at a time, like every lsm_iter.
 */
#ifndef STRATA_ENGINES_LSM_LEVEL_ITER_H
#define STRATA_ENGINES_LSM_LEVEL_ITER_H

#include "engines/lsm/iterator.h"
#include "engines/lsm/version.h"

/* Iterates over level 'level' (>= 1) of 'v'; takes its own reference on
 * 'v'. Not positioned until seek_first() or seek(). NULL when out of
 * memory. The caller owns it (lsm_iter_destroy). */
struct lsm_iter *lsm_level_iter_create(struct lsm_version *v, int level);

#endif
