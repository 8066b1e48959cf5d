/*
 * The constants of the SSTable format. Every number here is explained,
 * with byte tables and a worked example, in docs/sstable-format.md; change
 * one only together with that page and the format version.
 */
#ifndef STRATA_ENGINES_LSM_SSTABLE_FORMAT_H
#define STRATA_ENGINES_LSM_SSTABLE_FORMAT_H

#include <stdint.h>

enum {
    /* Block trailer: compression byte + masked CRC-32C of block + byte. */
    LSM_BLOCK_TRAILER_LEN = 5,
    LSM_BLOCK_NO_COMPRESSION = 0,

    /* Every 16th data block entry stores its whole key ("Blocks"). The
     * index block restarts at every entry so it is a plain sorted array. */
    LSM_DATA_RESTART_INTERVAL = 16,
    LSM_INDEX_RESTART_INTERVAL = 1,

    /* Internal key = user key + u64 LE (seq << 8 | type). */
    LSM_IKEY_TRAILER_LEN = 8,

    /* Footer: three handles (u64 offset + u32 length), version, CRC,
     * magic ("Footer"). */
    LSM_FOOTER_LEN = 52,
    LSM_FOOTER_INDEX = 0,
    LSM_FOOTER_FILTER = 12,
    LSM_FOOTER_PROPS = 24,
    LSM_FOOTER_VERSION = 36,
    LSM_FOOTER_CRC = 40,
    LSM_FOOTER_MAGIC = 44,
    LSM_FOOTER_MAGIC_LEN = 8,
    LSM_TABLE_VERSION = 1,

    /* Filter block ("Filter block"). */
    LSM_BLOOM_MIN_BITS = 64,
    LSM_BLOOM_MAX_PROBES = 30,

    LSM_DEFAULT_BLOCK_SIZE = 4096,
    LSM_DEFAULT_BLOOM_BITS = 10,
};

static const uint8_t LSM_TABLE_MAGIC[LSM_FOOTER_MAGIC_LEN] = {
    's', 't', 'r', 'a', 't', 'a', 'S', 'T'};

#endif
