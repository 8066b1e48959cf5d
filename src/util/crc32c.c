/*
 * CRC-32C, reflected polynomial 0x82f63b78 (see crc32c.h). The table path
 * is the reference; the hardware path must agree with it byte for byte
 * (tests/util/test_crc32c.c checks both against published vectors).
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void
build_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] =
                (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

static uint32_t
extend_table(uint32_t crc, const uint8_t *p, size_t len)
{
    pthread_once(&table_once, build_table);
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                             (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
              table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
              table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t
extend_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, 8); /* unaligned-safe; x86 is little-endian */
        c = _mm_crc32_u64(c, word);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}

static bool
have_sse42(void)
{
    return __builtin_cpu_supports("sse4.2");
}
#else
static uint32_t
extend_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
    return extend_table(crc, p, len);
}

static bool
have_sse42(void)
{
    return false;
}
#endif

/* Exposed for the test that compares both paths; not in the header. */
uint32_t crc32c_extend_portable(uint32_t crc, const uint8_t *p, size_t len);

uint32_t
crc32c_extend_portable(uint32_t crc, const uint8_t *p, size_t len)
{
    return ~extend_table(~crc, p, len);
}

uint32_t
crc32c_extend(uint32_t crc, const uint8_t *data, size_t len)
{
    /* Cached after the first call; threads racing on first use all
     * store the same answer. */
    static atomic_int hw = -1;
    int use = atomic_load_explicit(&hw, memory_order_relaxed);
    if (use < 0) {
        use = have_sse42();
        atomic_store_explicit(&hw, use, memory_order_relaxed);
    }
    if (use)
        return ~extend_sse42(~crc, data, len);
    return ~extend_table(~crc, data, len);
}
