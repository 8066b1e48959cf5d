/*
 * The merging iterator: k sorted sources (memtables, tables, levels) seen
 * as one sorted stream, by a binary heap keyed on the internal order (user
 * key ascending, newest version first). This is the "merge" of the
 * log-structured merge tree (DDIA 3.1, "SSTables and LSM-Trees"): reads,
 * scans and compactions all go through it.
 *
 * Versions of one key from several sources all come out, newest first;
 * when two sources hold the very same (key, seq), the source given first
 * comes first. Tombstones come out too: hiding them is the caller's job.
 *
 * Threads: one thread at a time, like every lsm_iter.
 */
#ifndef STRATA_ENGINES_LSM_MERGE_ITER_H
#define STRATA_ENGINES_LSM_MERGE_ITER_H

#include <stddef.h>

#include "engines/lsm/iterator.h"

/* Takes ownership of the 'count' iterators in 'children' (not of the
 * array itself), also on failure, when they are destroyed. The result is
 * not positioned: call seek_first() or seek(). NULL when out of memory.
 * The caller owns it (lsm_iter_destroy). */
struct lsm_iter *lsm_merge_iter_create(struct lsm_iter *const *children,
                                       size_t count);

#endif
