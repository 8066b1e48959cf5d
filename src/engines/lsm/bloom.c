/*
 * Bloom filters for SSTables (bloom.h, docs/sstable-format.md "Filter
 * block"). Invariant: a key added is always reported as maybe present;
 * with n keys, m bits and k probes, an absent key is reported present
 * with probability about (1 - e^(-kn/m))^k, ~0.8% at 10 bits per key.
 */
#include "engines/lsm/bloom.h"

#include <string.h>
#include <xxhash.h>

#include "engines/lsm/sstable_format.h"

uint64_t
lsm_bloom_hash(st_slice key)
{
    return XXH3_64bits(key.ptr, key.len);
}

unsigned
lsm_bloom_probes(unsigned bits_per_key)
{
    /* k = m/n * ln 2 minimises the false positive rate; integer maths
     * (ln 2 ~ 693/1000, rounded) keeps it exact across compilers. */
    unsigned k = (bits_per_key * 693 + 500) / 1000;
    if (k < 1)
        k = 1;
    if (k > LSM_BLOOM_MAX_PROBES)
        k = LSM_BLOOM_MAX_PROBES;
    return k;
}

static uint64_t
filter_bits(size_t count, unsigned bits_per_key)
{
    /* A tiny table would otherwise get a filter of a few bits, whose
     * false positive rate is far above the one asked for. */
    uint64_t bits = (uint64_t)count * bits_per_key;
    if (bits < LSM_BLOOM_MIN_BITS)
        bits = LSM_BLOOM_MIN_BITS;
    return (bits + 7) / 8 * 8;
}

size_t
lsm_bloom_len(size_t count, unsigned bits_per_key)
{
    return (size_t)(filter_bits(count, bits_per_key) / 8) + 1;
}

st_status
lsm_bloom_build(const uint64_t *hashes, size_t count, unsigned bits_per_key,
                struct st_buf *out)
{
    uint64_t nbits = filter_bits(count, bits_per_key);
    size_t len = (size_t)(nbits / 8) + 1;
    unsigned k = lsm_bloom_probes(bits_per_key);
    if (nbits > UINT32_MAX || !st_buf_reserve(out, len))
        return ST_NOMEM; /* see "Limits": probes are 32-bit */

    uint8_t *bits = out->ptr + out->len;
    memset(bits, 0, len - 1);
    for (size_t i = 0; i < count; i++) {
        uint32_t h = (uint32_t)hashes[i];
        uint32_t delta = (uint32_t)(hashes[i] >> 32);
        for (unsigned j = 0; j < k; j++) {
            uint32_t bit = (uint32_t)(h % nbits);
            bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
            h += delta;
        }
    }
    bits[len - 1] = (uint8_t)k;
    out->len += len;
    return ST_OK;
}

bool
lsm_bloom_valid(st_slice filter)
{
    if (filter.len < LSM_BLOOM_MIN_BITS / 8 + 1)
        return false;
    if ((uint64_t)(filter.len - 1) * 8 > UINT32_MAX)
        return false;
    uint8_t k = filter.ptr[filter.len - 1];
    return k >= 1 && k <= LSM_BLOOM_MAX_PROBES;
}

bool
lsm_bloom_may_contain(st_slice filter, uint64_t hash)
{
    uint32_t nbits = (uint32_t)((filter.len - 1) * 8);
    unsigned k = filter.ptr[filter.len - 1];
    uint32_t h = (uint32_t)hash;
    uint32_t delta = (uint32_t)(hash >> 32);
    for (unsigned j = 0; j < k; j++) {
        uint32_t bit = h % nbits;
        if ((filter.ptr[bit / 8] & (1u << (bit % 8))) == 0)
            return false;
        h += delta;
    }
    return true;
}
