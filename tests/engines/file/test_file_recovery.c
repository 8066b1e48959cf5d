/*
 * Replay after a crash (docs/file-format.md, "Replay"): a torn tail of
 * the active segment is cut and never served, nothing complete is lost,
 * and damage anywhere else stops the open with ST_CORRUPT naming file and
 * offset instead of being skipped.
 */
#include "engines/file/file_format.h"
#include "file_fixture.h"

/* Writes records k0..k{n-1} (k1 deleted when 'with_delete') into a fresh
 * store and returns the bytes of its only segment; ends[i] is the end
 * offset of record i. */
static uint8_t *
make_log(struct fx *fx, int n, bool with_delete, size_t *len, size_t *ends)
{
    assert_int_equal(fx_open(fx), ST_OK);
    char k[16], v[32];
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "value-%d", i);
        if (with_delete && i == n - 1)
            assert_int_equal(fx_del(fx, "k1"), ST_OK);
        else
            assert_int_equal(fx_set(fx, k, v), ST_OK);
        ends[i] = fx_stat(fx, "disk_bytes");
    }
    fx_close(fx);
    char *path = fx_file(fx, 1, ".log");
    uint8_t *bytes = tu_read_file(path, len);
    free(path);
    return bytes;
}

static void
put_log(struct fx *fx, uint64_t id, const uint8_t *bytes, size_t len)
{
    char *path = fx_file(fx, id, ".log");
    tu_write_file(path, bytes, len);
    free(path);
}

static size_t
file_len(struct fx *fx, uint64_t id)
{
    char *path = fx_file(fx, id, ".log");
    size_t len;
    free(tu_read_file(path, &len));
    free(path);
    return len;
}

/* Cut a valid log at every byte and reopen it: replay must keep exactly
 * the records that were complete before the cut, and leave the file cut
 * at the end of the last one. */
static void
test_file_log_reopens_after_cut_at_every_byte(void **state)
{
    struct fx *fx = *state;
    size_t ends[4], len;
    uint8_t *bytes = make_log(fx, 4, true, &len, ends);
    assert_int_equal(len, ends[3]);
    for (size_t cut = FILE_HEADER_LEN; cut <= len; cut++) {
        size_t whole = 0;
        while (whole < 4 && ends[whole] <= cut)
            whole++;
        put_log(fx, 1, bytes, cut);
        assert_int_equal(fx_open(fx), ST_OK);
        char k[16], v[32];
        for (size_t i = 0; i < 3; i++) {
            snprintf(k, sizeof k, "k%zu", i);
            snprintf(v, sizeof v, "value-%zu", i);
            bool deleted = i == 1 && whole == 4;
            if (i < whole && !deleted)
                fx_assert_value(fx, k, v);
            else
                assert_int_equal(fx_get(fx, k), ST_NOT_FOUND);
        }
        /* New writes land after the cut, and survive another reopen. */
        assert_int_equal(fx_set(fx, "after", "cut"), ST_OK);
        fx_reopen(fx);
        fx_assert_value(fx, "after", "cut");
        fx_close(fx);
        assert_int_equal(file_len(fx, 1),
                         (whole ? ends[whole - 1] : FILE_HEADER_LEN) + 21 + 5 +
                             3);
    }
    free(bytes);
}

static void
test_file_zero_filled_or_junk_tail_is_cut(void **state)
{
    struct fx *fx = *state;
    size_t ends[3], len;
    uint8_t *bytes = make_log(fx, 3, false, &len, ends);
    uint8_t *longer = calloc(1, len + 8192);
    memcpy(longer, bytes, len);
    for (int junk = 0; junk < 2; junk++) {
        for (size_t i = len; junk && i < len + 8192; i++)
            longer[i] = (uint8_t)(i * 7 + 3);
        put_log(fx, 1, longer, len + 8192);
        assert_int_equal(fx_open(fx), ST_OK);
        fx_assert_value(fx, "k2", "value-2");
        assert_int_equal(fx_stat(fx, "keys"), 3);
        fx_close(fx);
        assert_int_equal(file_len(fx, 1), len);
    }
    free(longer);
    free(bytes);
}

static void
test_file_bad_record_followed_by_valid_one_fails_open(void **state)
{
    struct fx *fx = *state;
    size_t ends[3], len;
    uint8_t *bytes = make_log(fx, 3, false, &len, ends);
    bytes[ends[0] + 25] ^= 0x01; /* inside record 1, record 2 follows */
    put_log(fx, 1, bytes, len);
    struct st_error err = {0};
    struct engine *e = NULL;
    assert_int_equal(file_engine_ops.open(fx->dir, &fx->opt, &e, &err),
                     ST_CORRUPT);
    assert_null(e);
    char want[64];
    snprintf(want, sizeof want, "offset %zu", ends[0]);
    assert_non_null(strstr(err.msg, "000000000001.log"));
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "docs/file-format.md"));
    /* Nothing was cut: the operator decides. */
    assert_int_equal(file_len(fx, 1), len);
    free(bytes);
}

static void
test_file_damage_in_older_segment_fails_open(void **state)
{
    struct fx *fx = *state;
    fx->opt.segment_bytes = 100;
    assert_int_equal(fx_open(fx), ST_OK);
    for (int i = 0; i < 10; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(fx_set(fx, k, "some value here"), ST_OK);
    }
    assert_true(fx_stat(fx, "segments") >= 3);
    fx_close(fx);
    char *path = fx_file(fx, 1, ".log");
    size_t len;
    uint8_t *bytes = tu_read_file(path, &len);
    /* A cut tail in a closed segment is not a torn write: corruption. */
    tu_write_file(path, bytes, len - 1);
    struct st_error err = {0};
    struct engine *e = NULL;
    assert_int_equal(file_engine_ops.open(fx->dir, &fx->opt, &e, &err),
                     ST_CORRUPT);
    assert_non_null(strstr(err.msg, "000000000001.log"));
    /* And so is a flipped byte. */
    bytes[len - 2] ^= 0x10;
    tu_write_file(path, bytes, len);
    assert_int_equal(file_engine_ops.open(fx->dir, &fx->opt, &e, &err),
                     ST_CORRUPT);
    /* Moving the file aside is the documented way forward. */
    char *aside = tu_path_join(fx->dir, "000000000001.log.broken");
    assert_int_equal(rename(path, aside), 0);
    assert_int_equal(fx_open(fx), ST_OK);
    fx_assert_value(fx, "k9", "some value here");
    free(aside);
    free(bytes);
    free(path);
}

static void
test_file_bad_segment_header_fails_open(void **state)
{
    struct fx *fx = *state;
    size_t ends[1], len;
    uint8_t *bytes = make_log(fx, 1, false, &len, ends);
    bytes[3] = 'X';
    put_log(fx, 1, bytes, len);
    struct engine *e = NULL;
    assert_int_equal(file_engine_ops.open(fx->dir, &fx->opt, &e, NULL),
                     ST_CORRUPT);
    free(bytes);
}

static void
test_file_leftover_tmp_files_are_removed_on_open(void **state)
{
    struct fx *fx = *state;
    assert_int_equal(fx_open(fx), ST_OK);
    assert_int_equal(fx_set(fx, "k", "v"), ST_OK);
    fx_close(fx);
    char *tmp = tu_path_join(fx->dir, "000000000007.log.tmp");
    char *lock = tu_path_join(fx->dir, "LOCK");
    tu_write_file(tmp, (const uint8_t *)"junk", 4);
    tu_write_file(lock, (const uint8_t *)"", 0);
    assert_int_equal(fx_open(fx), ST_OK);
    fx_assert_value(fx, "k", "v");
    FILE *f = fopen(tmp, "rb");
    assert_null(f);
    free(tmp);
    free(lock);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_file_log_reopens_after_cut_at_every_byte),
        T(test_file_zero_filled_or_junk_tail_is_cut),
        T(test_file_bad_record_followed_by_valid_one_fails_open),
        T(test_file_damage_in_older_segment_fails_open),
        T(test_file_bad_segment_header_fails_open),
        T(test_file_leftover_tmp_files_are_removed_on_open),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
