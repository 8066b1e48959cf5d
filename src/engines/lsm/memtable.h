/*
 * The memtable (DDIA 3.1, "Constructing and maintaining SSTables"): the
 * sorted in-memory buffer that takes every write before it is flushed to
 * an SSTable. A skiplist over internal keys (internal_key.h): O(log n)
 * insert and lookup, ordered iteration, no memmove.
 *
 * Threads: one writer at a time (the caller serializes adds), any number
 * of concurrent readers and iterators, also while the writer adds, with no
 * lock: nodes are published with release stores and never freed before
 * the memtable is (LevelDB's design).
 */
#ifndef STRATA_ENGINES_LSM_MEMTABLE_H
#define STRATA_ENGINES_LSM_MEMTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/lsm/internal_key.h"
#include "engines/lsm/iterator.h"
#include "util/slice.h"
#include "util/status.h"

struct lsm_memtable;

/* NULL when out of memory. The caller owns it; lsm_memtable_destroy()
 * frees it once no reader or iterator uses it any more. */
struct lsm_memtable *lsm_memtable_create(void);
void lsm_memtable_destroy(struct lsm_memtable *m);

/* Adds a version of 'key' (copies both slices). REQUIRES: 'seq' is larger
 * than every seq added before for the same key; one writer at a time.
 * ST_NOMEM leaves the memtable as it was. */
st_status lsm_memtable_add(struct lsm_memtable *m, uint64_t seq,
                           enum lsm_value_type type, st_slice key,
                           st_slice val);

/* Finds the newest version of 'key'. true when there is one: *type says
 * PUT or DELETE, *val borrows the value (valid while the memtable lives).
 * false when the memtable holds no version of the key. */
bool lsm_memtable_get(const struct lsm_memtable *m, st_slice key,
                      enum lsm_value_type *type, st_slice *val);

/* Memory used (arena bytes, keys and values included): the figure the
 * engine compares with its flush threshold. */
size_t lsm_memtable_bytes(const struct lsm_memtable *m);

/* Entries added. */
uint64_t lsm_memtable_count(const struct lsm_memtable *m);

/* A new iterator over every entry (tombstones included). The caller owns
 * it (lsm_iter_destroy) and must destroy it before the memtable. NULL
 * when out of memory. */
struct lsm_iter *lsm_memtable_iter_create(const struct lsm_memtable *m);

#endif
