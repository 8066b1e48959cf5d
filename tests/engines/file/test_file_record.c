/*
 * Records, headers and hint entries of the file engine byte by byte:
 * the worked example of docs/file-format.md, and each way a record can
 * fail to decode (cut header, cut body, bad CRC, impossible length,
 * unknown type, zero-filled tail), as LevelDB's log_test names them.
 */
#include "engines/file/file_hint.h"
#include "engines/file/file_record.h"
#include "file_fixture.h"
#include "util/coding.h"
#include "util/crc32c.h"

/* docs/file-format.md, "Worked example": segment 1 with put("k","v1") at
 * seq 1 and delete("k") at seq 2. */
static const uint8_t DOC_SEGMENT[66] = {
    0x53, 0x54, 0x46, 0x4c, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0xd0, 0xd0, 0x72, /* header */
    0xed, 0x15, 0x16, 0xb5, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x6b,
    0x76, 0x31, /* put */
    0x77, 0xb3, 0x3d, 0xe2, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x6b,
};

/* The hint file of a merged segment 1 holding only the put. */
static const uint8_t DOC_HINT[79] = {
    0x53, 0x54, 0x46, 0x48, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x71, 0x4b, 0xe7, 0xb5, 0x66, 0x68, 0xcc, 0x48,
    0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x02, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x6b, 0xe3, 0x61, 0x92, 0x27, 0x03, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2c,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static void
test_file_record_doc_example_encodes_exactly(void **state)
{
    (void)state;
    uint8_t out[66];
    st_slice k = st_slice_from_cstr("k");
    file_header_encode(out, FILE_SEG_MAGIC, 1);
    file_record_encode(out + 20, FILE_REC_PUT, 1, k, st_slice_from_cstr("v1"));
    file_record_encode(out + 44, FILE_REC_TOMBSTONE, 2, k,
                       st_slice_make(NULL, 0));
    assert_memory_equal(out, DOC_SEGMENT, sizeof DOC_SEGMENT);
}

static void
test_file_record_doc_example_decodes(void **state)
{
    (void)state;
    assert_true(
        file_header_check(st_slice_make(DOC_SEGMENT, 20), FILE_SEG_MAGIC, 1));
    assert_false(
        file_header_check(st_slice_make(DOC_SEGMENT, 20), FILE_SEG_MAGIC, 2));
    struct file_record rec;
    size_t used = 0;
    assert_int_equal(
        file_record_decode(st_slice_make(DOC_SEGMENT + 20, 46), &rec, &used),
        FILE_DECODE_OK);
    assert_int_equal(used, 24);
    assert_int_equal(rec.type, FILE_REC_PUT);
    assert_int_equal(rec.seq, 1);
    assert_memory_equal(rec.val.ptr, "v1", 2);
    assert_int_equal(
        file_record_decode(st_slice_make(DOC_SEGMENT + 44, 22), &rec, &used),
        FILE_DECODE_OK);
    assert_int_equal(rec.type, FILE_REC_TOMBSTONE);
    assert_int_equal(rec.seq, 2);
    assert_int_equal(rec.val.len, 0);
}

static void
test_file_hint_doc_example_writes_exactly(void **state)
{
    struct fx *fx = *state;
    struct st_buf entries = {0};
    struct file_record rec = {FILE_REC_PUT, 1, st_slice_from_cstr("k"),
                              st_slice_from_cstr("v1")};
    assert_true(file_hint_append(&entries, &rec, 20));
    assert_int_equal(
        file_hint_write(fx->dir, 1, st_buf_slice(&entries), 1, 44, NULL),
        ST_OK);
    char *path = fx_file(fx, 1, ".hint");
    size_t len = 0;
    uint8_t *got = tu_read_file(path, &len);
    assert_int_equal(len, sizeof DOC_HINT);
    assert_memory_equal(got, DOC_HINT, sizeof DOC_HINT);
    free(got);
    free(path);
    st_buf_free(&entries);
}

static st_status
count_entry(void *arg, const struct file_hint_entry *e)
{
    (void)e;
    (*(int *)arg)++;
    return ST_OK;
}

static void
test_file_hint_rejects_flipped_byte_and_wrong_size(void **state)
{
    struct fx *fx = *state;
    char *path = fx_file(fx, 1, ".hint");
    uint64_t bytes = 0;
    int n = 0;
    tu_write_file(path, DOC_HINT, sizeof DOC_HINT);
    assert_int_equal(
        file_hint_load(fx->dir, 1, 44, count_entry, &n, &bytes, NULL), ST_OK);
    assert_int_equal(n, 1);
    /* The segment has another size than the hint says: not trusted. */
    n = 0;
    assert_int_equal(
        file_hint_load(fx->dir, 1, 66, count_entry, &n, &bytes, NULL),
        ST_CORRUPT);
    for (size_t i = 0; i < sizeof DOC_HINT; i++) {
        uint8_t bad[sizeof DOC_HINT];
        memcpy(bad, DOC_HINT, sizeof bad);
        bad[i] ^= 0x01;
        tu_write_file(path, bad, sizeof bad);
        assert_int_equal(
            file_hint_load(fx->dir, 1, 44, count_entry, &n, &bytes, NULL),
            ST_CORRUPT);
    }
    assert_int_equal(n, 0); /* nothing passed on from a damaged hint */
    free(path);
}

static enum file_decode
decode(const uint8_t *p, size_t len)
{
    struct file_record rec;
    size_t used;
    return file_record_decode(st_slice_make(p, len), &rec, &used);
}

static void
test_file_record_rejects_cut_header(void **state)
{
    (void)state;
    for (size_t len = 0; len < FILE_REC_HEADER_LEN; len++)
        assert_int_equal(decode(DOC_SEGMENT + 20, len),
                         FILE_DECODE_SHORT_HEADER);
}

static void
test_file_record_rejects_cut_body(void **state)
{
    (void)state;
    for (size_t len = FILE_REC_HEADER_LEN; len < 24; len++)
        assert_int_equal(decode(DOC_SEGMENT + 20, len), FILE_DECODE_SHORT_BODY);
}

static void
test_file_record_rejects_any_flipped_bit(void **state)
{
    (void)state;
    for (size_t i = 0; i < 24 * 8; i++) {
        uint8_t rec[24];
        memcpy(rec, DOC_SEGMENT + 20, sizeof rec);
        rec[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_not_equal(decode(rec, sizeof rec), FILE_DECODE_OK);
    }
}

static void
test_file_record_rejects_bad_crc(void **state)
{
    (void)state;
    uint8_t rec[24];
    memcpy(rec, DOC_SEGMENT + 20, sizeof rec);
    rec[23] ^= 0xff; /* a value byte */
    assert_int_equal(decode(rec, sizeof rec), FILE_DECODE_BAD_CRC);
}

/* Re-seals a hand-made record so only the tested field is wrong. */
static void
reseal(uint8_t *rec, size_t len)
{
    le32_write(rec, crc32c_mask(crc32c(rec + 4, len - 4)));
}

static void
test_file_record_rejects_impossible_length(void **state)
{
    (void)state;
    uint8_t rec[24];
    memcpy(rec, DOC_SEGMENT + 20, sizeof rec);
    le32_write(rec + 13, 0); /* key_len 0 */
    le32_write(rec + 17, 3);
    reseal(rec, sizeof rec);
    assert_int_equal(decode(rec, sizeof rec), FILE_DECODE_BAD_LENGTH);

    /* A tombstone carrying a value. */
    memcpy(rec, DOC_SEGMENT + 20, sizeof rec);
    rec[4] = FILE_REC_TOMBSTONE;
    reseal(rec, sizeof rec);
    assert_int_equal(decode(rec, sizeof rec), FILE_DECODE_BAD_LENGTH);

    /* Lengths far beyond the bytes there: no read past the buffer. */
    memcpy(rec, DOC_SEGMENT + 20, sizeof rec);
    le32_write(rec + 13, UINT32_MAX);
    le32_write(rec + 17, UINT32_MAX);
    assert_int_equal(decode(rec, sizeof rec), FILE_DECODE_SHORT_BODY);
}

static void
test_file_record_rejects_unknown_type(void **state)
{
    (void)state;
    uint8_t rec[24];
    memcpy(rec, DOC_SEGMENT + 20, sizeof rec);
    rec[4] = 9;
    reseal(rec, sizeof rec);
    assert_int_equal(decode(rec, sizeof rec), FILE_DECODE_BAD_TYPE);
    rec[4] = 0;
    reseal(rec, sizeof rec);
    assert_int_equal(decode(rec, sizeof rec), FILE_DECODE_BAD_TYPE);
}

static void
test_file_record_rejects_zero_filled_tail(void **state)
{
    (void)state;
    uint8_t zeros[4096] = {0};
    for (size_t len = 0; len <= sizeof zeros; len += 7)
        assert_int_not_equal(decode(zeros, len), FILE_DECODE_OK);
}

static void
test_file_header_rejects_other_version_and_magic(void **state)
{
    (void)state;
    uint8_t h[FILE_HEADER_LEN];
    file_header_encode(h, FILE_SEG_MAGIC, 7);
    assert_true(
        file_header_check(st_slice_make(h, sizeof h), FILE_SEG_MAGIC, 7));
    assert_false(
        file_header_check(st_slice_make(h, sizeof h), FILE_HINT_MAGIC, 7));
    assert_false(file_header_check(st_slice_make(h, 19), FILE_SEG_MAGIC, 7));
    h[4] = 2; /* version 2, CRC fixed up: still refused */
    le32_write(h + 16, crc32c_mask(crc32c(h, 16)));
    assert_false(
        file_header_check(st_slice_make(h, sizeof h), FILE_SEG_MAGIC, 7));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_record_doc_example_encodes_exactly),
        cmocka_unit_test(test_file_record_doc_example_decodes),
        cmocka_unit_test_setup_teardown(
            test_file_hint_doc_example_writes_exactly, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(
            test_file_hint_rejects_flipped_byte_and_wrong_size, fx_setup,
            fx_teardown),
        cmocka_unit_test(test_file_record_rejects_cut_header),
        cmocka_unit_test(test_file_record_rejects_cut_body),
        cmocka_unit_test(test_file_record_rejects_any_flipped_bit),
        cmocka_unit_test(test_file_record_rejects_bad_crc),
        cmocka_unit_test(test_file_record_rejects_impossible_length),
        cmocka_unit_test(test_file_record_rejects_unknown_type),
        cmocka_unit_test(test_file_record_rejects_zero_filled_tail),
        cmocka_unit_test(test_file_header_rejects_other_version_and_magic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
