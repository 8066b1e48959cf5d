/*
 * Tests for util/crc32c.c: the published CRC-32C vectors, extension over
 * split buffers, agreement of the hardware path with the portable table
 * path on every length and alignment, and the storage mask.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "util/crc32c.h"

/* Defined non-static in crc32c.c for this test, not in the header. */
uint32_t crc32c_extend_portable(uint32_t crc, const uint8_t *p, size_t len);

/* RFC 3720 (iSCSI) B.4 and the LevelDB crc32c_test vectors. */
static void
test_crc32c_matches_check_value_of_123456789(void **state)
{
    const char *s = "123456789";
    assert_int_equal(crc32c((const uint8_t *)s, 9), 0xe3069283u);
    assert_int_equal(crc32c_extend_portable(0, (const uint8_t *)s, 9),
                     0xe3069283u);
}

static void
test_crc32c_matches_published_32_byte_vectors(void **state)
{
    uint8_t buf[32];

    memset(buf, 0, sizeof buf);
    assert_int_equal(crc32c(buf, sizeof buf), 0x8a9136aau);
    assert_int_equal(crc32c_extend_portable(0, buf, sizeof buf), 0x8a9136aau);

    memset(buf, 0xff, sizeof buf);
    assert_int_equal(crc32c(buf, sizeof buf), 0x62a8ab43u);
    assert_int_equal(crc32c_extend_portable(0, buf, sizeof buf), 0x62a8ab43u);

    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(crc32c(buf, sizeof buf), 0x46dd794eu);
    assert_int_equal(crc32c_extend_portable(0, buf, sizeof buf), 0x46dd794eu);

    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(crc32c(buf, sizeof buf), 0x113fdb5cu);
    assert_int_equal(crc32c_extend_portable(0, buf, sizeof buf), 0x113fdb5cu);
}

static void
test_crc32c_of_empty_input_is_zero(void **state)
{
    assert_int_equal(crc32c((const uint8_t *)"", 0), 0);
    assert_int_equal(crc32c_extend(0x12345678u, (const uint8_t *)"", 0),
                     0x12345678u);
}

/* Records are checksummed in pieces (header, then key, then value), so
 * extending over any split must equal the one-shot CRC. */
static void
test_crc32c_extend_over_every_split_equals_one_shot(void **state)
{
    uint8_t buf[100];
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("crc32c split", 7));
    tu_rng_fill(&rng, buf, sizeof buf);
    uint32_t whole = crc32c(buf, sizeof buf);

    for (size_t cut = 0; cut <= sizeof buf; cut++) {
        uint32_t c =
            crc32c_extend(crc32c(buf, cut), buf + cut, sizeof buf - cut);
        assert_int_equal(c, whole);
        uint32_t p = crc32c_extend_portable(crc32c_extend_portable(0, buf, cut),
                                            buf + cut, sizeof buf - cut);
        assert_int_equal(p, whole);
    }
}

/* The SSE4.2 path reads 8 bytes at a time and the tail byte by byte, so
 * every length mod 8 and every start alignment must agree with the
 * table path, including when starting from a non-zero CRC. */
static void
test_crc32c_hardware_path_agrees_with_portable(void **state)
{
    enum { MAX_LEN = 300, MAX_ALIGN = 16 };
    static uint8_t buf[MAX_LEN + MAX_ALIGN];
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("crc32c hw vs portable", 11));

    for (size_t len = 0; len <= MAX_LEN; len++) {
        for (size_t align = 0; align < MAX_ALIGN; align++) {
            tu_rng_fill(&rng, buf, sizeof buf);
            uint32_t start = (uint32_t)tu_rng_next(&rng);
            const uint8_t *p = buf + align;
            assert_int_equal(crc32c_extend(0, p, len),
                             crc32c_extend_portable(0, p, len));
            assert_int_equal(crc32c_extend(start, p, len),
                             crc32c_extend_portable(start, p, len));
        }
    }
}

static void
test_crc32c_detects_single_bit_flip(void **state)
{
    uint8_t buf[64];
    struct tu_rng rng;
    tu_rng_init(&rng, 3);
    tu_rng_fill(&rng, buf, sizeof buf);
    uint32_t good = crc32c(buf, sizeof buf);

    for (size_t bit = 0; bit < sizeof buf * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(crc32c(buf, sizeof buf), good);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

static void
test_crc32c_mask_round_trips_and_changes_value(void **state)
{
    static const uint32_t fixed[] = {0,           1,           0xffffffffu,
                                     0xe3069283u, 0x8a9136aau, 0x80000000u};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        uint32_t m = crc32c_mask(fixed[i]);
        assert_int_not_equal(m, fixed[i]);
        assert_int_equal(crc32c_unmask(m), fixed[i]);
        /* Masking twice must not be the identity either. */
        assert_int_not_equal(crc32c_mask(m), fixed[i]);
    }

    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("crc32c mask", 5));
    for (int i = 0; i < 10000; i++) {
        uint32_t c = (uint32_t)tu_rng_next(&rng);
        assert_int_equal(crc32c_unmask(crc32c_mask(c)), c);
        assert_int_not_equal(crc32c_mask(c), c);
    }
}

/* Stored CRCs are masked with LevelDB's formula (rotate right by 15, add
 * 0xa282ead8), so files stay readable by its tools: fixed expected
 * values, computed independently of the code under test. */
static void
test_crc32c_mask_matches_leveldb_values(void **state)
{
    assert_int_equal(crc32c_mask(0), 0xa282ead8u);
    assert_int_equal(crc32c_mask(0xe3069283u), 0xc78ab0e5u);
    assert_int_equal(crc32c_unmask(0xc78ab0e5u), 0xe3069283u);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_matches_check_value_of_123456789),
        cmocka_unit_test(test_crc32c_matches_published_32_byte_vectors),
        cmocka_unit_test(test_crc32c_of_empty_input_is_zero),
        cmocka_unit_test(test_crc32c_extend_over_every_split_equals_one_shot),
        cmocka_unit_test(test_crc32c_hardware_path_agrees_with_portable),
        cmocka_unit_test(test_crc32c_detects_single_bit_flip),
        cmocka_unit_test(test_crc32c_mask_round_trips_and_changes_value),
        cmocka_unit_test(test_crc32c_mask_matches_leveldb_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
