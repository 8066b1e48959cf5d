/*
 * Tests for the framing shared by the WAL and the manifest
 * (engines/lsm/log_record.c, docs/wal-format.md "Frame" and "Replay"):
 * sealing a frame, and the classification of what lies at an offset:
 * a frame, the end, a torn tail, or corruption.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/lsm/log_record.h"
#include "util/coding.h"

enum { CAP = 256 };

/* Appends a frame of 'type' holding 'payload' at buf[*len]. */
static size_t
add_frame(uint8_t *buf, size_t *len, const char *payload, uint8_t type)
{
    size_t plen = strlen(payload);
    size_t at = *len;
    memcpy(buf + at + LSM_LOG_FRAME_HEADER_LEN, payload, plen);
    lsm_log_frame_seal(buf + at, plen, type);
    *len += LSM_LOG_FRAME_HEADER_LEN + plen;
    return at;
}

static enum lsm_log_read
read_at(const uint8_t *buf, size_t len, size_t off)
{
    st_slice payload;
    size_t flen;
    return lsm_log_frame_read(buf, len, off, LSM_LOG_FRAME_WAL_BATCH, &payload,
                              &flen);
}

/* The WAL example's frame (docs/wal-format.md), byte for byte. */
static void
test_log_record_seal_matches_doc_example(void **state)
{
    static const uint8_t want[] = {
        0xc1, 0xba, 0xe8, 0x65, 0x0d, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01,
        0x01, 0x01, 0x6b, 0x02, 0x76, 0x31, 0x00, 0x02, 0x01, 0x6b, 0x00};
    uint8_t frame[sizeof want];
    memcpy(frame + LSM_LOG_FRAME_HEADER_LEN, want + LSM_LOG_FRAME_HEADER_LEN,
           sizeof want - LSM_LOG_FRAME_HEADER_LEN);
    lsm_log_frame_seal(frame, sizeof want - LSM_LOG_FRAME_HEADER_LEN,
                       LSM_LOG_FRAME_WAL_BATCH);
    assert_memory_equal(frame, want, sizeof want);

    static const uint8_t magic[4] = {'S', 'T', 'W', 'L'};
    struct lsm_log_kind kind = {.name = "wal", .magic = magic};
    uint8_t header[LSM_LOG_FILE_HEADER_LEN];
    lsm_log_file_header_encode(&kind, header);
    assert_memory_equal(header, "STWL\1\0\0\0", 8);
}

static void
test_log_record_reads_frames_then_end(void **state)
{
    uint8_t buf[CAP];
    size_t len = 0;
    add_frame(buf, &len, "one", LSM_LOG_FRAME_WAL_BATCH);
    size_t second = add_frame(buf, &len, "", LSM_LOG_FRAME_WAL_BATCH);

    st_slice payload;
    size_t flen;
    assert_int_equal(lsm_log_frame_read(buf, len, 0, LSM_LOG_FRAME_WAL_BATCH,
                                        &payload, &flen),
                     LSM_LOG_FRAME);
    assert_int_equal(flen, second);
    assert_true(st_slice_equal(payload, st_slice_from_cstr("one")));
    assert_int_equal(lsm_log_frame_read(buf, len, second,
                                        LSM_LOG_FRAME_WAL_BATCH, &payload,
                                        &flen),
                     LSM_LOG_FRAME);
    assert_int_equal(payload.len, 0);
    assert_int_equal(read_at(buf, len, len), LSM_LOG_END);
}

/* Short header, short payload, bad CRC or zeros at the end: torn. */
static void
test_log_record_torn_tails(void **state)
{
    uint8_t buf[CAP];
    size_t len = 0;
    add_frame(buf, &len, "first", LSM_LOG_FRAME_WAL_BATCH);
    size_t last = add_frame(buf, &len, "second", LSM_LOG_FRAME_WAL_BATCH);
    for (size_t cut = last + 1; cut < len; cut++)
        assert_int_equal(read_at(buf, cut, last), LSM_LOG_TORN);

    buf[len - 1] ^= 1; /* bad CRC on the last frame */
    assert_int_equal(read_at(buf, len, last), LSM_LOG_TORN);

    memset(buf + last, 0, CAP - last); /* a zero-filled tail */
    assert_int_equal(read_at(buf, CAP, last), LSM_LOG_TORN);

    /* A length beyond the limit or the file, with nothing after it. */
    le32_write(buf + last + 4, (uint32_t)LSM_LOG_MAX_PAYLOAD + 1);
    buf[last + 8] = LSM_LOG_FRAME_WAL_BATCH;
    assert_int_equal(read_at(buf, CAP, last), LSM_LOG_TORN);
}

/* A bad frame with a valid one anywhere after it is corruption, and so
 * is a valid frame of the other log's type. */
static void
test_log_record_corruption(void **state)
{
    uint8_t buf[CAP];
    size_t len = 0;
    add_frame(buf, &len, "first", LSM_LOG_FRAME_WAL_BATCH);
    add_frame(buf, &len, "second", LSM_LOG_FRAME_WAL_BATCH);
    buf[10] ^= 1;
    assert_int_equal(read_at(buf, len, 0), LSM_LOG_CORRUPT);

    /* A corrupt length that points past the end still finds the good
     * frame behind it: never cut acknowledged data. */
    buf[10] ^= 1;
    le32_write(buf + 4, 200);
    assert_int_equal(read_at(buf, len, 0), LSM_LOG_CORRUPT);

    len = 0;
    add_frame(buf, &len, "edit", LSM_LOG_FRAME_MANIFEST_EDIT);
    assert_int_equal(read_at(buf, len, 0), LSM_LOG_CORRUPT);
    buf[8] = 0; /* type 0 never decodes */
    assert_int_equal(read_at(buf, len, 0), LSM_LOG_TORN);
}

static void
test_log_record_dir_of(void **state)
{
    char out[16];
    assert_true(lsm_log_dir_of("a/b/000001.log", out, sizeof out));
    assert_string_equal(out, "a/b");
    assert_true(lsm_log_dir_of("000001.log", out, sizeof out));
    assert_string_equal(out, ".");
    assert_true(lsm_log_dir_of("/x", out, sizeof out));
    assert_string_equal(out, "/");
    assert_false(lsm_log_dir_of("0123456789abcdef/x", out, sizeof out));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_record_seal_matches_doc_example),
        cmocka_unit_test(test_log_record_reads_frames_then_end),
        cmocka_unit_test(test_log_record_torn_tails),
        cmocka_unit_test(test_log_record_corruption),
        cmocka_unit_test(test_log_record_dir_of),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
