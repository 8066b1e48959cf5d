/*
 * Internal keys of the LSM engine: every stored entry is the user's key
 * plus a sequence number and a type, as in LevelDB. Many versions of one
 * key coexist (in the memtable and in tables of several levels); the
 * sequence number says which is newest, and the type says whether it is a
 * value or a tombstone (a delete is a record, never a special value).
 *
 * Order: user key ascending (memcmp, then length: st_slice_compare), then
 * sequence number DEscending, so that a seek to a user key lands on its
 * newest version first.
 */
#ifndef STRATA_ENGINES_LSM_INTERNAL_KEY_H
#define STRATA_ENGINES_LSM_INTERNAL_KEY_H

#include <stdint.h>

#include "util/slice.h"

enum lsm_value_type {
    LSM_TYPE_DELETE = 0,
    LSM_TYPE_PUT = 1,
};

/* Sequence numbers use 56 bits; the low 8 bits of the trailer hold the
 * type (docs/sstable-format.md). */
static const uint64_t LSM_MAX_SEQ = (UINT64_C(1) << 56) - 1;

static inline uint64_t
lsm_trailer_pack(uint64_t seq, enum lsm_value_type type)
{
    return seq << 8 | (uint64_t)type;
}

static inline uint64_t
lsm_trailer_seq(uint64_t trailer)
{
    return trailer >> 8;
}

static inline enum lsm_value_type
lsm_trailer_type(uint64_t trailer)
{
    return (enum lsm_value_type)(trailer & 0xff);
}

/* <0, 0, >0 as (key_a, seq_a) sorts before, with, after (key_b, seq_b). */
static inline int
lsm_entry_compare(st_slice key_a, uint64_t seq_a, st_slice key_b,
                  uint64_t seq_b)
{
    int c = st_slice_compare(key_a, key_b);
    if (c != 0)
        return c;
    return (seq_a < seq_b) - (seq_a > seq_b); /* newer first */
}

#endif
