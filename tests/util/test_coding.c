/*
 * Tests for util/coding.h: fixed-width little-endian integers (the exact
 * bytes on disk, whatever the host) and LEB128 varints (round trips at
 * every 7-bit boundary, exact lengths, and rejection of cut or over-long
 * input, which is what a torn or corrupt record looks like).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "util/coding.h"

static void
test_coding_le32_writes_least_significant_byte_first(void **state)
{
    uint8_t b[6] = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
    le32_write(b + 1, 0x12345678u);
    static const uint8_t expect[6] = {0xee, 0x78, 0x56, 0x34, 0x12, 0xee};
    assert_memory_equal(b, expect, sizeof expect);
    assert_int_equal(le32_read(b + 1), 0x12345678u);
}

static void
test_coding_le64_writes_least_significant_byte_first(void **state)
{
    uint8_t b[10];
    memset(b, 0xee, sizeof b);
    le64_write(b + 1, 0x0102030405060708ull);
    static const uint8_t expect[10] = {0xee, 0x08, 0x07, 0x06, 0x05,
                                       0x04, 0x03, 0x02, 0x01, 0xee};
    assert_memory_equal(b, expect, sizeof expect);
    assert_true(le64_read(b + 1) == 0x0102030405060708ull);
}

static void
test_coding_le_reads_high_bytes_without_sign_extension(void **state)
{
    static const uint8_t ff[8] = {0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff};
    assert_int_equal(le32_read(ff), 0xffffffffu);
    assert_true(le64_read(ff) == UINT64_MAX);

    static const uint8_t top[8] = {0, 0, 0, 0x80, 0, 0, 0, 0x80};
    assert_int_equal(le32_read(top), 0x80000000u);
    assert_true(le64_read(top) == 0x8000000080000000ull);
}

static void
test_coding_le_round_trips_random_values(void **state)
{
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("coding le", 17));
    uint8_t b[8];
    for (int i = 0; i < 100000; i++) {
        uint64_t v = tu_rng_next(&rng);
        le32_write(b, (uint32_t)v);
        assert_int_equal(le32_read(b), (uint32_t)v);
        le64_write(b, v);
        assert_true(le64_read(b) == v);
        /* Byte i of the encoding is bits 8i..8i+7, on any host. */
        for (int k = 0; k < 8; k++)
            assert_int_equal(b[k], (uint8_t)(v >> (8 * k)));
    }
}

struct varint_case {
    uint64_t v;
    size_t len;
};

/* Every boundary where the encoded length changes, and both sides. */
static const struct varint_case varint_cases[] = {
    {0, 1},
    {1, 1},
    {127, 1},
    {128, 2},
    {(1ull << 14) - 1, 2},
    {1ull << 14, 3},
    {(1ull << 21) - 1, 3},
    {1ull << 21, 4},
    {(1ull << 28) - 1, 4},
    {1ull << 28, 5},
    {UINT32_MAX, 5},
    {1ull << 32, 5},
    {(1ull << 35) - 1, 5},
    {1ull << 35, 6},
    {(1ull << 42) - 1, 6},
    {1ull << 42, 7},
    {(1ull << 49) - 1, 7},
    {1ull << 49, 8},
    {(1ull << 56) - 1, 8},
    {1ull << 56, 9},
    {(1ull << 63) - 1, 9},
    {1ull << 63, 10},
    {UINT64_MAX, 10},
};

static void
test_coding_varint_round_trips_at_length_boundaries(void **state)
{
    for (size_t i = 0; i < sizeof varint_cases / sizeof varint_cases[0]; i++) {
        const struct varint_case *c = &varint_cases[i];
        uint8_t b[VARINT64_MAX_LEN + 2];
        memset(b, 0xee, sizeof b);
        size_t n = varint64_write(b, c->v);
        assert_int_equal(n, c->len);
        assert_int_equal(b[n], 0xee); /* nothing written past the end */

        uint64_t got = 12345;
        assert_int_equal(varint64_read(b, n, &got), n);
        assert_true(got == c->v);
        /* Trailing bytes are not part of the varint. */
        assert_int_equal(varint64_read(b, sizeof b, &got), n);
        assert_true(got == c->v);
    }
}

static void
test_coding_varint_exact_bytes(void **state)
{
    uint8_t b[VARINT64_MAX_LEN];

    assert_int_equal(varint64_write(b, 0), 1);
    assert_int_equal(b[0], 0x00);

    assert_int_equal(varint64_write(b, 127), 1);
    assert_int_equal(b[0], 0x7f);

    assert_int_equal(varint64_write(b, 128), 2);
    assert_int_equal(b[0], 0x80);
    assert_int_equal(b[1], 0x01);

    assert_int_equal(varint64_write(b, 300), 2);
    assert_int_equal(b[0], 0xac);
    assert_int_equal(b[1], 0x02);

    static const uint8_t max[10] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(varint64_write(b, UINT64_MAX), 10);
    assert_memory_equal(b, max, sizeof max);
}

static void
test_coding_varint_round_trips_random_values(void **state)
{
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("coding varint", 19));
    uint8_t b[VARINT64_MAX_LEN];
    for (int i = 0; i < 100000; i++) {
        /* Spread over every length, not only the 10-byte ones. */
        uint64_t v = tu_rng_next(&rng) >> tu_rng_below(&rng, 64);
        size_t n = varint64_write(b, v);
        uint64_t got = 0;
        assert_int_equal(varint64_read(b, n, &got), n);
        assert_true(got == v);
    }
}

/* A record cut inside a varint must read as corrupt, never as a smaller
 * number. */
static void
test_coding_varint_read_rejects_truncated_input(void **state)
{
    for (size_t i = 0; i < sizeof varint_cases / sizeof varint_cases[0]; i++) {
        uint8_t b[VARINT64_MAX_LEN];
        size_t n = varint64_write(b, varint_cases[i].v);
        for (size_t cut = 0; cut < n; cut++) {
            uint64_t got = 777;
            assert_int_equal(varint64_read(b, cut, &got), 0);
            assert_true(got == 777); /* left alone on failure */
        }
    }
}

static void
test_coding_varint_read_rejects_eleven_byte_encoding(void **state)
{
    uint8_t b[11];
    memset(b, 0x80, 10);
    b[10] = 0x00;
    uint64_t got = 777;
    assert_int_equal(varint64_read(b, sizeof b, &got), 0);
    assert_true(got == 777);

    /* All continuation bits, more than enough of them. */
    uint8_t ff[16];
    memset(ff, 0xff, sizeof ff);
    assert_int_equal(varint64_read(ff, sizeof ff, &got), 0);
}

/* The 10th byte carries only bit 63: anything above 1 overflows. */
static void
test_coding_varint_read_rejects_overflowing_tenth_byte(void **state)
{
    uint8_t b[10];
    memset(b, 0xff, 9);
    uint64_t got = 777;

    b[9] = 0x02;
    assert_int_equal(varint64_read(b, sizeof b, &got), 0);
    b[9] = 0x7f;
    assert_int_equal(varint64_read(b, sizeof b, &got), 0);
    assert_true(got == 777);

    b[9] = 0x01; /* the largest legal value */
    assert_int_equal(varint64_read(b, sizeof b, &got), 10);
    assert_true(got == UINT64_MAX);

    memset(b, 0x80, 9);
    b[9] = 0x01; /* exactly 2^63 */
    assert_int_equal(varint64_read(b, sizeof b, &got), 10);
    assert_true(got == 1ull << 63);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coding_le32_writes_least_significant_byte_first),
        cmocka_unit_test(test_coding_le64_writes_least_significant_byte_first),
        cmocka_unit_test(
            test_coding_le_reads_high_bytes_without_sign_extension),
        cmocka_unit_test(test_coding_le_round_trips_random_values),
        cmocka_unit_test(test_coding_varint_round_trips_at_length_boundaries),
        cmocka_unit_test(test_coding_varint_exact_bytes),
        cmocka_unit_test(test_coding_varint_round_trips_random_values),
        cmocka_unit_test(test_coding_varint_read_rejects_truncated_input),
        cmocka_unit_test(test_coding_varint_read_rejects_eleven_byte_encoding),
        cmocka_unit_test(
            test_coding_varint_read_rejects_overflowing_tenth_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
