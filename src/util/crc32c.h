/*
 * CRC-32C (Castagnoli), the checksum of every record strata writes.
 * Debian ships no C library for it, so it lives here: the SSE4.2 crc32
 * instruction when the CPU has it, a slicing-by-8 table otherwise.
 *
 * Stored CRCs are masked (as LevelDB does): the CRC of bytes that contain
 * CRCs is otherwise degenerate, so crc32c_mask() rotates and offsets it.
 */
#ifndef STRATA_UTIL_CRC32C_H
#define STRATA_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends 'crc' (the CRC of earlier bytes, 0 at the start) over 'len'
 * more bytes. Thread-safe. */
uint32_t crc32c_extend(uint32_t crc, const uint8_t *data, size_t len);

static inline uint32_t
crc32c(const uint8_t *data, size_t len)
{
    return crc32c_extend(0, data, len);
}

static const uint32_t CRC32C_MASK_DELTA = 0xa282ead8u;

static inline uint32_t
crc32c_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + CRC32C_MASK_DELTA;
}

static inline uint32_t
crc32c_unmask(uint32_t masked)
{
    uint32_t rot = masked - CRC32C_MASK_DELTA;
    return (rot >> 17) | (rot << 15);
}

#endif
