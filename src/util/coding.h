/*
 * Fixed-width little-endian integers and LEB128 varints: the only way
 * strata turns integers into disk bytes and back (never a struct cast over
 * bytes, which would depend on the host's layout and alignment).
 */
#ifndef STRATA_UTIL_CODING_H
#define STRATA_UTIL_CODING_H

#include <stddef.h>
#include <stdint.h>

static inline void
le32_write(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t
le32_read(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline void
le64_write(uint8_t *p, uint64_t v)
{
    le32_write(p, (uint32_t)v);
    le32_write(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t
le64_read(const uint8_t *p)
{
    return (uint64_t)le32_read(p) | (uint64_t)le32_read(p + 4) << 32;
}

enum { VARINT64_MAX_LEN = 10 };

/* Writes 'v' as a varint at 'p' (room for VARINT64_MAX_LEN bytes) and
 * returns the number of bytes written. */
static inline size_t
varint64_write(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a varint from [p, p+len). Returns the bytes used, or 0 when the
 * input is cut short or longer than 64 bits allow (corrupt). */
static inline size_t
varint64_read(const uint8_t *p, size_t len, uint64_t *v)
{
    uint64_t result = 0;
    for (size_t i = 0; i < len && i < VARINT64_MAX_LEN; i++) {
        uint64_t byte = p[i];
        if (i == VARINT64_MAX_LEN - 1 && byte > 1)
            return 0; /* would overflow 64 bits */
        result |= (byte & 0x7f) << (7 * i);
        if (byte < 0x80) {
            *v = result;
            return i + 1;
        }
    }
    return 0;
}

#endif
