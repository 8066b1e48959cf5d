/*
 * The block cache: an LRU of SSTable blocks (already checksummed and
 * decoded), bounded in bytes, shared by every table of one engine, so hot
 * reads cost no pread and no CRC. Keyed by (table file number, block
 * offset); file numbers are never reused, so a deleted table's blocks
 * simply age out.
 *
 * Threads: every function may be called from any thread at once.
 */
#ifndef STRATA_ENGINES_LSM_BLOCK_CACHE_H
#define STRATA_ENGINES_LSM_BLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct lsm_block_cache;

/* A cache holding at most 'capacity_bytes' of blocks (0: cache nothing).
 * NULL when out of memory. The caller owns it and destroys it after every
 * table that uses it is closed. */
struct lsm_block_cache *lsm_block_cache_create(size_t capacity_bytes);
void lsm_block_cache_destroy(struct lsm_block_cache *c);

struct lsm_block_cache_stats {
    uint64_t hits, misses, evictions;
    uint64_t bytes, capacity;
};

void lsm_block_cache_stats(struct lsm_block_cache *c,
                           struct lsm_block_cache_stats *out);

/* Lookup and insert are used by the table reader (sstable_read.c) and
 * declared in block_cache_internal.h. */

#endif
