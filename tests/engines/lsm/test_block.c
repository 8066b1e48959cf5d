/*
 * Tests for blocks (src/engines/lsm/block.c): encode/decode round trips,
 * seeks, prefix compression and restart points as docs/sstable-format.md
 * describes them, and damage that must give ST_CORRUPT: bad CRC, cut
 * block, bad varint, restart offsets out of range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/lsm/block.h"
#include "engines/lsm/sstable_format.h"
#include "testutil.h"
#include "util/coding.h"

enum { N = 1000 };

static void
key_of(unsigned i, struct st_buf *ikey)
{
    char user[32];
    int len = snprintf(user, sizeof user, "user:%06u", i * 2);
    assert_true(lsm_ikey_encode(ikey, st_slice_make(user, (size_t)len), i + 1,
                                LSM_TYPE_PUT));
}

/* A block of N entries (user:000000, user:000002 ...), value = key. */
static st_slice
build_block(struct lsm_block_builder *b, unsigned interval)
{
    struct st_buf ikey = {0};
    lsm_block_builder_init(b, interval);
    for (unsigned i = 0; i < N; i++) {
        key_of(i, &ikey);
        assert_int_equal(
            lsm_block_builder_add(b, st_buf_slice(&ikey), st_buf_slice(&ikey)),
            ST_OK);
    }
    st_slice contents;
    size_t expect = lsm_block_builder_size(b);
    assert_int_equal(lsm_block_builder_finish(b, &contents), ST_OK);
    assert_int_equal(contents.len, expect);
    st_buf_free(&ikey);
    return contents;
}

static void
test_block_round_trips_and_seeks(void **state)
{
    (void)state;
    struct lsm_block_builder b;
    st_slice contents = build_block(&b, LSM_DATA_RESTART_INTERVAL);
    struct lsm_block blk;
    const char *why;
    assert_int_equal(lsm_block_decode(contents, &blk, &why), ST_OK);
    assert_int_equal(blk.restarts, (N + 15) / 16);

    struct lsm_block_iter it;
    struct st_buf ikey = {0};
    lsm_block_iter_init(&it, &blk);
    unsigned i = 0;
    for (lsm_block_iter_seek_first(&it); lsm_block_iter_valid(&it);
         lsm_block_iter_next(&it), i++) {
        key_of(i, &ikey);
        assert_true(
            st_slice_equal(lsm_block_iter_key(&it), st_buf_slice(&ikey)));
        assert_true(st_slice_equal(it.value, st_buf_slice(&ikey)));
    }
    assert_int_equal(i, N);

    /* Present keys land on themselves; odd (absent) ones on the next. */
    for (unsigned k = 0; k < 2 * N + 2; k++) {
        char user[32];
        int len = snprintf(user, sizeof user, "user:%06u", k);
        assert_true(lsm_ikey_encode(&ikey, st_slice_make(user, (size_t)len),
                                    LSM_MAX_SEQ, LSM_TYPE_PUT));
        lsm_block_iter_seek(&it, st_buf_slice(&ikey));
        unsigned want = (k + 1) / 2;
        if (want >= N) {
            assert_false(lsm_block_iter_valid(&it));
            assert_int_equal(it.status, ST_OK);
            continue;
        }
        key_of(want, &ikey);
        assert_true(lsm_block_iter_valid(&it));
        assert_true(
            st_slice_equal(lsm_block_iter_key(&it), st_buf_slice(&ikey)));
    }
    lsm_block_iter_deinit(&it);
    st_buf_free(&ikey);
    lsm_block_builder_deinit(&b);
}

/* Entry 1 follows restart entry 0 and stores only what differs. */
static void
test_block_prefix_compression_stores_only_the_difference(void **state)
{
    (void)state;
    struct lsm_block_builder b;
    st_slice contents = build_block(&b, LSM_DATA_RESTART_INTERVAL);
    /* entry 0: 00 13 13 "user:000000"+trailer, value (19 bytes) */
    assert_int_equal(contents.ptr[0], 0);
    assert_int_equal(contents.ptr[1], 19);
    assert_int_equal(contents.ptr[2], 19);
    const uint8_t *e1 = contents.ptr + 3 + 19 + 19;
    /* "user:00000" is shared; "2" + the trailer differ. */
    assert_int_equal(e1[0], 10);
    assert_int_equal(e1[1], 9);
    assert_int_equal(e1[3], '2');
    /* Restart 1 is entry 16, stored whole. */
    uint32_t r1 =
        le32_read(contents.ptr + contents.len - 4 - 4 * ((N + 15) / 16) + 4);
    assert_int_equal(contents.ptr[r1], 0);
    /* Without compression each entry takes 3 + 19 + 19 bytes; with it
     * most keys cost 9 bytes instead of 19. */
    assert_true(contents.len < (size_t)N * (3 + 12 + 19));
    lsm_block_builder_deinit(&b);
}

static void
test_block_empty_is_four_bytes(void **state)
{
    (void)state;
    struct lsm_block_builder b;
    lsm_block_builder_init(&b, 16);
    st_slice contents;
    assert_int_equal(lsm_block_builder_finish(&b, &contents), ST_OK);
    assert_int_equal(contents.len, 4);
    struct lsm_block blk;
    const char *why;
    assert_int_equal(lsm_block_decode(contents, &blk, &why), ST_OK);
    struct lsm_block_iter it;
    lsm_block_iter_init(&it, &blk);
    lsm_block_iter_seek_first(&it);
    assert_false(lsm_block_iter_valid(&it));
    lsm_block_iter_deinit(&it);
    lsm_block_builder_deinit(&b);
}

static void
test_block_trailer_catches_bad_crc_and_cut_block(void **state)
{
    (void)state;
    struct lsm_block_builder b;
    build_block(&b, 16);
    assert_int_equal(lsm_block_trailer_append(&b.buf), ST_OK);
    st_slice contents;
    const char *why;
    assert_int_equal(
        lsm_block_trailer_check(st_buf_slice(&b.buf), &contents, &why), ST_OK);
    b.buf.ptr[7] ^= 0x10;
    assert_int_equal(
        lsm_block_trailer_check(st_buf_slice(&b.buf), &contents, &why),
        ST_CORRUPT);
    b.buf.ptr[7] ^= 0x10;
    st_slice cut = {b.buf.ptr, b.buf.len - 1};
    assert_int_equal(lsm_block_trailer_check(cut, &contents, &why), ST_CORRUPT);
    cut.len = 3;
    assert_int_equal(lsm_block_trailer_check(cut, &contents, &why), ST_CORRUPT);
    lsm_block_builder_deinit(&b);
}

/* Decodes a hand-made block and scans it: the scan must end ST_CORRUPT
 * (or decode must refuse it). */
static st_status
scan(const uint8_t *bytes, size_t len)
{
    struct lsm_block blk;
    const char *why;
    st_status s = lsm_block_decode(st_slice_make(bytes, len), &blk, &why);
    if (s != ST_OK)
        return s;
    struct lsm_block_iter it;
    lsm_block_iter_init(&it, &blk);
    for (lsm_block_iter_seek_first(&it); lsm_block_iter_valid(&it);
         lsm_block_iter_next(&it))
        ;
    s = it.status;
    lsm_block_iter_deinit(&it);
    return s;
}

static void
test_block_damaged_structure_is_corrupt(void **state)
{
    (void)state;
    /* A good one-entry block: key "a" + 8-byte trailer, value "v". */
    uint8_t good[] = {0, 9,   1, 'a', 1, 1, 0, 0, 0, 0, 0,
                      0, 'v', 0, 0,   0, 0, 1, 0, 0, 0};
    assert_int_equal(scan(good, sizeof good), ST_OK);

    uint8_t b[sizeof good];
    memcpy(b, good, sizeof b);
    b[1] = 0x80; /* non_shared: a varint cut by the next field... */
    b[2] = 0x80;
    b[3] = 0x80;
    b[4] = 0x80;
    b[5] = 0x80;
    b[6] = 0x01; /* ...and longer than 5 bytes */
    assert_int_equal(scan(b, sizeof b), ST_CORRUPT);

    memcpy(b, good, sizeof b);
    b[2] = 50; /* value runs past the entries */
    assert_int_equal(scan(b, sizeof b), ST_CORRUPT);

    memcpy(b, good, sizeof b);
    b[0] = 3; /* restart entry sharing bytes with nothing */
    assert_int_equal(scan(b, sizeof b), ST_CORRUPT);

    memcpy(b, good, sizeof b);
    b[1] = 2; /* key shorter than its trailer */
    b[2] = 8;
    assert_int_equal(scan(b, sizeof b), ST_CORRUPT);

    memcpy(b, good, sizeof b);
    b[13] = 40; /* restart offset beyond the entries */
    assert_int_equal(scan(b, sizeof b), ST_CORRUPT);

    memcpy(b, good, sizeof b);
    b[17] = 200; /* more restarts than the block can hold */
    assert_int_equal(scan(b, sizeof b), ST_CORRUPT);
    assert_int_equal(scan(b, 3), ST_CORRUPT); /* cut below the count */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_round_trips_and_seeks),
        cmocka_unit_test(
            test_block_prefix_compression_stores_only_the_difference),
        cmocka_unit_test(test_block_empty_is_four_bytes),
        cmocka_unit_test(test_block_trailer_catches_bad_crc_and_cut_block),
        cmocka_unit_test(test_block_damaged_structure_is_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
