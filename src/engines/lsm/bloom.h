/*
 * Bloom filters (DDIA 3.1, "Performance optimizations"): a bit array that
 * answers "definitely not in the set" or "maybe in the set", so that a
 * lookup of an absent key skips a table without reading a data block.
 * One 64-bit XXH3 hash per key, k probes by double hashing (Kirsch and
 * Mitzenmacher, "Less Hashing, Same Performance", 2006). The bytes are
 * the filter block of docs/sstable-format.md.
 *
 * Pure functions of their arguments: thread-safe.
 */
#ifndef STRATA_ENGINES_LSM_BLOOM_H
#define STRATA_ENGINES_LSM_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"
#include "util/status.h"

/* The hash the filter is built from: XXH3_64bits of the user key. */
uint64_t lsm_bloom_hash(st_slice key);

/* Probes for 'bits_per_key': round(bits_per_key * ln 2), in 1..30. */
unsigned lsm_bloom_probes(unsigned bits_per_key);

/* Bytes of the filter for 'count' keys (bit array + the probe byte). */
size_t lsm_bloom_len(size_t count, unsigned bits_per_key);

/* Appends the filter of 'count' key hashes to 'out'. ST_NOMEM leaves
 * 'out' as it was. */
st_status lsm_bloom_build(const uint64_t *hashes, size_t count,
                          unsigned bits_per_key, struct st_buf *out);

/* Checks that 'filter' has a well-formed shape (length, probe count). */
bool lsm_bloom_valid(st_slice filter);

/* false when 'hash' is certainly absent; true when it may be present.
 * REQUIRES: lsm_bloom_valid(filter). */
bool lsm_bloom_may_contain(st_slice filter, uint64_t hash);

#endif
