/*
 * The block cache's interface for the table reader (sstable_read.c); the
 * engine only sees block_cache.h. A cached value is opaque here: the
 * reader stores a checked, decoded block and says how to free it.
 *
 * Reference counts: lookup and insert return a handle holding one
 * reference; the value stays valid (even if evicted meanwhile) until that
 * handle is released. Every function is thread-safe.
 */
#ifndef STRATA_ENGINES_LSM_BLOCK_CACHE_INTERNAL_H
#define STRATA_ENGINES_LSM_BLOCK_CACHE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/lsm/block_cache.h"

struct lsm_cache_handle;

/* The cached value for (file, off), or NULL (a miss; counted). */
struct lsm_cache_handle *lsm_block_cache_lookup(struct lsm_block_cache *c,
                                                uint64_t file, uint64_t off);

/* Caches 'value' for (file, off), replacing any older one, and takes
 * ownership of it: free_fn(value) runs once no handle and no cache slot
 * refers to it any more. 'charge' is its size in bytes; entries are
 * evicted least recently used first while the total exceeds the capacity
 * (the new one too, once released, if it alone is too big). NULL when out
 * of memory: the caller still owns 'value' then. */
struct lsm_cache_handle *lsm_block_cache_insert(struct lsm_block_cache *c,
                                                uint64_t file, uint64_t off,
                                                void *value, size_t charge,
                                                void (*free_fn)(void *));

/* Borrowed, valid until the handle is released. */
void *lsm_block_cache_value(const struct lsm_cache_handle *h);

/* Drops the handle's reference. */
void lsm_block_cache_release(struct lsm_block_cache *c,
                             struct lsm_cache_handle *h);

/* Counts a block of a memory-mapped table (sstable_read.c), which needs
 * no cache slot: a hit when it was served already checked, a miss when
 * its checksum was verified now. Lock-free. */
void lsm_block_cache_count_mapped(struct lsm_block_cache *c, bool hit);

#endif
