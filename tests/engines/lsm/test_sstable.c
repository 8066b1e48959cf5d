/*
 * Tests for SSTables (src/engines/lsm/sstable_write.c, sstable_read.c):
 * the worked example of docs/sstable-format.md byte for byte, 100k
 * entries read back against a reference (gets, absent keys, tombstones,
 * versions, scans, seeks), props, damage (flipped bytes, cut files) that
 * must give ST_CORRUPT and never a wrong value, I/O faults that must give
 * ST_IO, and many threads reading one table.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/lsm/sstable.h"
#include "testutil.h"
#include "util/io.h"

static int
setup(void **state)
{
    *state = tu_dir_fixture_new("000007.sst");
    return 0;
}

static int
teardown(void **state)
{
    tu_dir_fixture_free(*state);
    return 0;
}

/* --- the doc's worked example --- */

static const uint8_t doc_example[] = {
    0x00, 0x0d, 0x03, 0x61, 0x70, 0x70, 0x6c, 0x65, 0x01, 0x02, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x72, 0x65, 0x64, 0x06, 0x07, 0x05, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x67, 0x72, 0x65, 0x65, 0x6e, 0x02, 0x0d,
    0x00, 0x72, 0x69, 0x63, 0x6f, 0x74, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x25,
    0x11, 0xba, 0x8d, 0x0b, 0x68, 0x00, 0x06, 0x80, 0x80, 0x30, 0x20, 0x07,
    0x00, 0xfe, 0xa3, 0x6a, 0x6c, 0x03, 0x01, 0x03, 0x05, 0x61, 0x70, 0x70,
    0x6c, 0x65, 0x07, 0x61, 0x70, 0x72, 0x69, 0x63, 0x6f, 0x74, 0x00, 0xdb,
    0xc3, 0x5a, 0x98, 0x00, 0x0f, 0x02, 0x61, 0x70, 0x72, 0x69, 0x63, 0x6f,
    0x74, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3a, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xdc, 0x27, 0x5b, 0x90,
    0x63, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,
    0x3f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00,
    0x4d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0xbf, 0x44, 0xa0, 0xfb, 0x73, 0x74, 0x72, 0x61,
    0x74, 0x61, 0x53, 0x54,
};

static void
build_doc_example(const char *path)
{
    struct lsm_table_options opt;
    lsm_table_options_default(&opt);
    struct lsm_table_builder *b;
    assert_int_equal(lsm_table_builder_open(path, &opt, &b, NULL), ST_OK);
    assert_int_equal(lsm_table_builder_add(b, st_slice_from_cstr("apple"), 2,
                                           LSM_TYPE_PUT,
                                           st_slice_from_cstr("red"), NULL),
                     ST_OK);
    assert_int_equal(lsm_table_builder_add(b, st_slice_from_cstr("apple"), 1,
                                           LSM_TYPE_PUT,
                                           st_slice_from_cstr("green"), NULL),
                     ST_OK);
    assert_int_equal(lsm_table_builder_add(b, st_slice_from_cstr("apricot"), 3,
                                           LSM_TYPE_DELETE,
                                           st_slice_make("", 0), NULL),
                     ST_OK);
    assert_int_equal(lsm_table_builder_entries(b), 3);
    struct lsm_table_props props;
    assert_int_equal(lsm_table_builder_finish(b, &props, NULL), ST_OK);
    assert_int_equal(props.entries, 3);
    assert_int_equal(props.file_bytes, sizeof doc_example);
    assert_int_equal(props.min_seq, 1);
    assert_int_equal(props.max_seq, 3);
    assert_true(st_slice_equal(st_buf_slice(&props.min_key),
                               st_slice_from_cstr("apple")));
    assert_true(st_slice_equal(st_buf_slice(&props.max_key),
                               st_slice_from_cstr("apricot")));
    lsm_table_props_free(&props);
}

static void
test_sstable_doc_example_is_byte_exact(void **state)
{
    struct tu_dir_fixture *fx = *state;
    build_doc_example(fx->path);
    size_t len;
    uint8_t *bytes = tu_read_file(fx->path, &len);
    assert_int_equal(len, sizeof doc_example);
    assert_memory_equal(bytes, doc_example, len);
    free(bytes);
}

static void
test_sstable_doc_example_reads_back(void **state)
{
    struct tu_dir_fixture *fx = *state;
    tu_write_file(fx->path, doc_example, sizeof doc_example);
    struct lsm_table *t;
    assert_int_equal(lsm_table_open(fx->path, 7, NULL, &t, NULL), ST_OK);
    enum lsm_value_type type;
    struct st_buf val = {0};
    assert_int_equal(
        lsm_table_get(t, st_slice_from_cstr("apple"), &type, &val, NULL),
        ST_OK);
    assert_int_equal(type, LSM_TYPE_PUT);
    assert_true(st_slice_equal(st_buf_slice(&val), st_slice_from_cstr("red")));
    assert_int_equal(
        lsm_table_get(t, st_slice_from_cstr("apricot"), &type, &val, NULL),
        ST_OK);
    assert_int_equal(type, LSM_TYPE_DELETE);
    assert_int_equal(
        lsm_table_get(t, st_slice_from_cstr("apples"), &type, &val, NULL),
        ST_NOT_FOUND);
    assert_int_equal(lsm_table_entries(t), 3);
    assert_int_equal(lsm_table_file_bytes(t), sizeof doc_example);
    st_buf_free(&val);
    lsm_table_close(t);
}

/* --- a big table against a reference --- */

enum { BIG_KEYS = 50000 };

struct ref {
    char key[16];
    uint64_t seq;
    enum lsm_value_type type;
    uint8_t val[64];
    size_t val_len;
};

/* Every key "k%08u" in order, 1-3 versions each (newest first, unique
 * seqs), about 1 in 8 versions a tombstone: ~100k entries. */
static struct ref *
make_ref(uint64_t seed, size_t *count)
{
    struct tu_rng r;
    tu_rng_init(&r, seed);
    struct ref *ref = calloc(BIG_KEYS * 3, sizeof *ref);
    assert_non_null(ref);
    size_t n = 0;
    for (unsigned i = 0; i < BIG_KEYS; i++) {
        unsigned versions = 1 + (unsigned)tu_rng_below(&r, 3);
        for (unsigned v = 0; v < versions; v++) {
            struct ref *e = &ref[n++];
            snprintf(e->key, sizeof e->key, "k%08u", i * 2);
            e->seq = (uint64_t)i * 4 + (3 - v) + 1;
            e->type = tu_rng_below(&r, 8) ? LSM_TYPE_PUT : LSM_TYPE_DELETE;
            e->val_len = e->type == LSM_TYPE_PUT ? tu_rng_below(&r, 65) : 0;
            tu_rng_fill(&r, e->val, e->val_len);
        }
    }
    *count = n;
    return ref;
}

static st_slice
ref_key(const struct ref *e)
{
    return st_slice_from_cstr(e->key);
}

static void
build_from_ref(const char *path, const struct ref *ref, size_t n,
               size_t block_size)
{
    struct lsm_table_options opt;
    lsm_table_options_default(&opt);
    opt.block_size = block_size;
    opt.sync = false;
    struct lsm_table_builder *b;
    assert_int_equal(lsm_table_builder_open(path, &opt, &b, NULL), ST_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(lsm_table_builder_add(
                             b, ref_key(&ref[i]), ref[i].seq, ref[i].type,
                             st_slice_make(ref[i].val, ref[i].val_len), NULL),
                         ST_OK);
    struct lsm_table_props props;
    assert_int_equal(lsm_table_builder_finish(b, &props, NULL), ST_OK);
    assert_int_equal(props.entries, n);
    lsm_table_props_free(&props);
}

static void
assert_iter_at(struct lsm_iter *it, const struct ref *e)
{
    assert_true(it->ops->valid(it));
    assert_true(st_slice_equal(it->ops->key(it), ref_key(e)));
    assert_int_equal(it->ops->seq(it), e->seq);
    assert_int_equal(it->ops->type(it), e->type);
    assert_true(
        st_slice_equal(it->ops->value(it), st_slice_make(e->val, e->val_len)));
}

static void
check_gets(struct lsm_table *t, const struct ref *ref, size_t n)
{
    struct st_buf val = {0};
    enum lsm_value_type type;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(ref[i - 1].key, ref[i].key) == 0)
            continue; /* older version: get must return the one before */
        assert_int_equal(lsm_table_get(t, ref_key(&ref[i]), &type, &val, NULL),
                         ST_OK);
        assert_int_equal(type, ref[i].type);
        if (type == LSM_TYPE_PUT)
            assert_true(st_slice_equal(
                st_buf_slice(&val), st_slice_make(ref[i].val, ref[i].val_len)));
    }
    /* Odd numbers are absent: between keys, before and after them all. */
    for (unsigned i = 1; i < 2 * BIG_KEYS + 2; i += 2 * 97) {
        char key[16];
        snprintf(key, sizeof key, "k%08u", i);
        assert_int_equal(
            lsm_table_get(t, st_slice_from_cstr(key), &type, &val, NULL),
            ST_NOT_FOUND);
    }
    assert_int_equal(
        lsm_table_get(t, st_slice_from_cstr("a"), &type, &val, NULL),
        ST_NOT_FOUND);
    assert_int_equal(
        lsm_table_get(t, st_slice_from_cstr("z"), &type, &val, NULL),
        ST_NOT_FOUND);
    st_buf_free(&val);
}

static void
check_scan_and_seeks(struct lsm_table *t, const struct ref *ref, size_t n,
                     uint64_t seed)
{
    struct lsm_iter *it = lsm_table_iter_create(t);
    assert_non_null(it);
    size_t i = 0;
    for (it->ops->seek_first(it); it->ops->valid(it); it->ops->next(it))
        assert_iter_at(it, &ref[i++]);
    assert_int_equal(i, n);
    assert_int_equal(it->ops->status(it, NULL), ST_OK);

    struct tu_rng r;
    tu_rng_init(&r, seed);
    for (int p = 0; p < 2000; p++) {
        char key[16];
        unsigned k = (unsigned)tu_rng_below(&r, 2 * BIG_KEYS + 10);
        snprintf(key, sizeof key, "k%08u", k);
        it->ops->seek(it, st_slice_from_cstr(key));
        size_t lo = 0, hi = n; /* first ref entry with key >= probe */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (strcmp(ref[mid].key, key) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == n) {
            assert_false(it->ops->valid(it));
            continue;
        }
        assert_iter_at(it, &ref[lo]);
        it->ops->next(it); /* and it walks on correctly from there */
        if (lo + 1 < n)
            assert_iter_at(it, &ref[lo + 1]);
    }
    lsm_iter_destroy(it);
}

static void
test_sstable_many_entries_read_back_like_reference(void **state)
{
    struct tu_dir_fixture *fx = *state;
    uint64_t seed = tu_seed("sstable big", 11);
    size_t n;
    struct ref *ref = make_ref(seed, &n);
    build_from_ref(fx->path, ref, n, 4096);

    /* Both ways of reading data blocks give the same answers. */
    const enum lsm_table_mode modes[] = {LSM_TABLE_MAPPED, LSM_TABLE_PREAD};
    for (size_t m = 0; m < 2; m++) {
        struct lsm_block_cache *cache = lsm_block_cache_create(1 << 20);
        struct lsm_table *t;
        assert_int_equal(
            lsm_table_open_mode(fx->path, 7, cache, modes[m], &t, NULL), ST_OK);
        assert_int_equal(lsm_table_entries(t), n);
        assert_true(st_slice_equal(lsm_table_min_key(t), ref_key(&ref[0])));
        assert_true(
            st_slice_equal(lsm_table_max_key(t), ref_key(&ref[n - 1])));
        uint64_t reads = io_op_count(IO_OP_READ);
        check_gets(t, ref, n);
        check_scan_and_seeks(t, ref, n, seed + 1);
        /* A mapped table reads its blocks in place, never with pread. */
        if (modes[m] == LSM_TABLE_MAPPED)
            assert_true(io_op_count(IO_OP_READ) == reads);
        else
            assert_true(io_op_count(IO_OP_READ) > reads);
        struct lsm_block_cache_stats st;
        lsm_block_cache_stats(cache, &st);
        assert_true(st.hits > 0 && st.misses > 0 && st.bytes <= 1 << 20);
        /* Mapped blocks take no room in the cache. */
        assert_true((modes[m] == LSM_TABLE_MAPPED) == (st.bytes == 0));
        lsm_table_close(t);
        lsm_block_cache_destroy(cache);
    }
    struct lsm_table *t;

    /* Without a cache, and with tiny blocks (many restarts, big index). */
    assert_int_equal(io_unlink(fx->path, NULL), ST_OK);
    build_from_ref(fx->path, ref, n / 10, 64);
    assert_int_equal(lsm_table_open(fx->path, 8, NULL, &t, NULL), ST_OK);
    check_scan_and_seeks(t, ref, n / 10, seed + 2);
    lsm_table_close(t);
    free(ref);
}

static void
test_sstable_empty_table_has_nothing(void **state)
{
    struct tu_dir_fixture *fx = *state;
    build_from_ref(fx->path, NULL, 0, 4096);
    struct lsm_table *t;
    assert_int_equal(lsm_table_open(fx->path, 7, NULL, &t, NULL), ST_OK);
    enum lsm_value_type type;
    struct st_buf val = {0};
    assert_int_equal(
        lsm_table_get(t, st_slice_from_cstr("a"), &type, &val, NULL),
        ST_NOT_FOUND);
    struct lsm_iter *it = lsm_table_iter_create(t);
    it->ops->seek_first(it);
    assert_false(it->ops->valid(it));
    it->ops->seek(it, st_slice_from_cstr("a"));
    assert_false(it->ops->valid(it));
    assert_int_equal(it->ops->status(it, NULL), ST_OK);
    lsm_iter_destroy(it);
    assert_int_equal(lsm_table_entries(t), 0);
    assert_int_equal(lsm_table_min_key(t).len, 0);
    lsm_table_close(t);
}

static void
test_sstable_builder_refuses_out_of_order_entries(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct lsm_table_options opt;
    lsm_table_options_default(&opt);
    struct lsm_table_builder *b;
    struct st_error err;
    assert_int_equal(lsm_table_builder_open(fx->path, &opt, &b, NULL), ST_OK);
    st_slice v = st_slice_from_cstr("v");
    assert_int_equal(lsm_table_builder_add(b, st_slice_from_cstr("b"), 5,
                                           LSM_TYPE_PUT, v, NULL),
                     ST_OK);
    assert_int_equal(lsm_table_builder_add(b, st_slice_from_cstr("a"), 9,
                                           LSM_TYPE_PUT, v, &err),
                     ST_INVALID);
    /* Same key, same or newer seq: also out of order (newest first). */
    assert_int_equal(lsm_table_builder_add(b, st_slice_from_cstr("b"), 6,
                                           LSM_TYPE_PUT, v, &err),
                     ST_INVALID);
    /* An existing name is refused: tables are written once. */
    struct lsm_table_builder *b2;
    assert_int_equal(lsm_table_builder_open(fx->path, &opt, &b2, &err), ST_IO);
    lsm_table_builder_abandon(b);
    lsm_table_builder_abandon(NULL);
    struct lsm_table *t;
    assert_int_equal(lsm_table_open(fx->path, 7, NULL, &t, &err), ST_IO);
}

/* --- damage --- */

/* Flip every byte of the example in turn: open fails with ST_CORRUPT, or
 * each lookup gives the right answer or ST_CORRUPT. Never a wrong value,
 * never a key lost to a damaged filter. */
static void
test_sstable_every_flipped_byte_is_caught(void **state)
{
    struct tu_dir_fixture *fx = *state;
    uint8_t copy[sizeof doc_example];
    for (size_t off = 0; off < sizeof doc_example; off++) {
        memcpy(copy, doc_example, sizeof copy);
        copy[off] ^= 0x40;
        assert_int_equal(io_unlink(fx->path, NULL), ST_OK);
        tu_write_file(fx->path, copy, sizeof copy);
        struct lsm_table *t;
        st_status s = lsm_table_open(fx->path, 7, NULL, &t, NULL);
        if (s != ST_OK) {
            assert_int_equal(s, ST_CORRUPT);
            continue;
        }
        enum lsm_value_type type;
        struct st_buf val = {0};
        s = lsm_table_get(t, st_slice_from_cstr("apple"), &type, &val, NULL);
        assert_true(s == ST_CORRUPT ||
                    (s == ST_OK && st_slice_equal(st_buf_slice(&val),
                                                  st_slice_from_cstr("red"))));
        s = lsm_table_get(t, st_slice_from_cstr("apricot"), &type, &val, NULL);
        assert_true(s == ST_CORRUPT || (s == ST_OK && type == LSM_TYPE_DELETE));
        st_buf_free(&val);
        lsm_table_close(t);
    }
}

/* A table whose first data block is damaged reports it on every read
 * (never remembered as checked or cached as good) and serves the rest. */
static void
check_flipped_block(const char *path, enum lsm_table_mode mode,
                    const struct ref *ref, size_t n)
{
    struct lsm_block_cache *cache = lsm_block_cache_create(1 << 20);
    struct lsm_table *t;
    struct st_error err;
    assert_int_equal(lsm_table_open_mode(path, 7, cache, mode, &t, NULL),
                     ST_OK);
    enum lsm_value_type type;
    struct st_buf val = {0};
    for (int round = 0; round < 2; round++) { /* never cached as good */
        assert_int_equal(lsm_table_get(t, ref_key(&ref[0]), &type, &val, &err),
                         ST_CORRUPT);
        tu_assert_contains(err.msg, path);
        tu_assert_contains(err.msg, "offset 0");
        tu_assert_contains(err.msg, "checksum");
    }
    /* Other blocks are still served. */
    assert_int_equal(lsm_table_get(t, ref_key(&ref[n - 1]), &type, &val, NULL),
                     ST_OK);

    struct lsm_iter *it = lsm_table_iter_create(t);
    it->ops->seek_first(it);
    assert_false(it->ops->valid(it));
    assert_int_equal(it->ops->status(it, &err), ST_CORRUPT);
    tu_assert_contains(err.msg, "offset 0");
    it->ops->seek(it, ref_key(&ref[n - 1]));
    assert_true(it->ops->valid(it));
    assert_int_equal(it->ops->status(it, NULL), ST_OK);
    lsm_iter_destroy(it);
    st_buf_free(&val);
    lsm_table_close(t);
    lsm_block_cache_destroy(cache);
}

static void
test_sstable_flipped_data_byte_gives_corrupt_with_file_and_offset(void **state)
{
    struct tu_dir_fixture *fx = *state;
    size_t n;
    struct ref *ref = make_ref(5, &n);
    n = 2000;
    build_from_ref(fx->path, ref, n, 4096);
    size_t len;
    uint8_t *bytes = tu_read_file(fx->path, &len);
    bytes[100] ^= 1; /* inside the first data block */
    assert_int_equal(io_unlink(fx->path, NULL), ST_OK);
    tu_write_file(fx->path, bytes, len);
    free(bytes);

    const enum lsm_table_mode modes[] = {LSM_TABLE_MAPPED, LSM_TABLE_PREAD};
    for (size_t m = 0; m < 2; m++)
        check_flipped_block(fx->path, modes[m], ref, n);
    free(ref);
}

static void
test_sstable_cut_file_fails_open_with_corrupt(void **state)
{
    struct tu_dir_fixture *fx = *state;
    for (size_t cut = 0; cut < sizeof doc_example; cut++) {
        assert_int_equal(io_unlink(fx->path, NULL), ST_OK);
        tu_write_file(fx->path, doc_example, cut);
        struct lsm_table *t = NULL;
        struct st_error err;
        assert_int_equal(lsm_table_open(fx->path, 7, NULL, &t, &err),
                         ST_CORRUPT);
        tu_assert_contains(err.msg, fx->path);
        assert_null(t);
    }
}

/* --- I/O faults --- */

static void
test_sstable_read_faults_give_io_errors(void **state)
{
    struct tu_dir_fixture *fx = *state;
    build_doc_example(fx->path);
    struct lsm_table *t;
    struct st_error err;
    io_fault_arm(IO_OP_READ, 1, EIO, 0);
    assert_int_equal(lsm_table_open(fx->path, 7, NULL, &t, &err), ST_IO);
    assert_int_equal(err.errnum, EIO);
    io_fault_arm(IO_OP_READ, 3, EIO, 0); /* the filter, after index/props */
    assert_int_equal(lsm_table_open(fx->path, 7, NULL, &t, &err), ST_IO);

    /* Data blocks through pread (a mapped table reads them in place,
     * where util/io.c cannot fail them). */
    assert_int_equal(
        lsm_table_open_mode(fx->path, 7, NULL, LSM_TABLE_PREAD, &t, NULL),
        ST_OK);
    enum lsm_value_type type;
    struct st_buf val = {0};
    io_fault_arm(IO_OP_READ, 1, EIO, 0);
    assert_int_equal(
        lsm_table_get(t, st_slice_from_cstr("apple"), &type, &val, &err),
        ST_IO);
    assert_int_equal(
        lsm_table_get(t, st_slice_from_cstr("apple"), &type, &val, NULL),
        ST_OK); /* the fault was one-shot: the next read works */
    struct lsm_iter *it = lsm_table_iter_create(t);
    io_fault_arm(IO_OP_READ, 1, EIO, 0);
    it->ops->seek_first(it);
    assert_false(it->ops->valid(it));
    assert_int_equal(it->ops->status(it, NULL), ST_IO);
    it->ops->seek_first(it); /* a new seek retries */
    assert_true(it->ops->valid(it));
    lsm_iter_destroy(it);
    st_buf_free(&val);
    lsm_table_close(t);
}

static void
test_sstable_write_and_fsync_faults_fail_the_build(void **state)
{
    struct tu_dir_fixture *fx = *state;
    size_t n;
    struct ref *ref = make_ref(3, &n);
    struct lsm_table_options opt;
    lsm_table_options_default(&opt);
    struct lsm_table_builder *b;
    struct lsm_table_props props;
    struct st_error err;

    /* A failed data block write: add reports it, finish repeats it. */
    assert_int_equal(lsm_table_builder_open(fx->path, &opt, &b, NULL), ST_OK);
    io_fault_arm(IO_OP_WRITE, 1, ENOSPC, 0);
    st_status s = ST_OK;
    for (size_t i = 0; i < n && s == ST_OK; i++)
        s = lsm_table_builder_add(b, ref_key(&ref[i]), ref[i].seq, ref[i].type,
                                  st_slice_make(ref[i].val, ref[i].val_len),
                                  &err);
    assert_int_equal(s, ST_IO);
    assert_int_equal(err.errnum, ENOSPC);
    assert_int_equal(lsm_table_builder_finish(b, &props, &err), ST_IO);
    assert_int_equal(io_unlink(fx->path, NULL), ST_OK);

    /* A failed footer write, then a failed fsync. */
    enum io_op ops[2] = {IO_OP_WRITE, IO_OP_FSYNC};
    uint64_t nth[2] = {5, 1}; /* data, filter, props, index, footer */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(lsm_table_builder_open(fx->path, &opt, &b, NULL),
                         ST_OK);
        assert_int_equal(lsm_table_builder_add(b, ref_key(&ref[0]), 1,
                                               LSM_TYPE_PUT,
                                               st_slice_make("v", 1), NULL),
                         ST_OK);
        io_fault_arm(ops[k], nth[k], EIO, 0);
        assert_int_equal(lsm_table_builder_finish(b, &props, &err), ST_IO);
        assert_int_equal(err.errnum, EIO);
        assert_int_equal(io_unlink(fx->path, NULL), ST_OK);
    }
    free(ref);
}

/* --- threads --- */

struct reader_arg {
    struct lsm_table *t;
    const struct ref *ref;
    size_t n;
    unsigned id;
    _Atomic int *failures;
};

static void *
reader_main(void *p)
{
    struct reader_arg *a = p;
    struct st_buf val = {0};
    enum lsm_value_type type;
    int bad = 0;
    struct tu_rng r;
    tu_rng_init(&r, a->id + 1);
    for (int k = 0; k < 20000; k++) {
        size_t i = tu_rng_below(&r, a->n);
        while (i > 0 && strcmp(a->ref[i - 1].key, a->ref[i].key) == 0)
            i--; /* the newest version */
        st_status s =
            lsm_table_get(a->t, ref_key(&a->ref[i]), &type, &val, NULL);
        bad +=
            s != ST_OK || type != a->ref[i].type ||
            (type == LSM_TYPE_PUT &&
             !st_slice_equal(st_buf_slice(&val),
                             st_slice_make(a->ref[i].val, a->ref[i].val_len)));
    }
    struct lsm_iter *it = lsm_table_iter_create(a->t);
    size_t seen = 0;
    for (it->ops->seek_first(it); it->ops->valid(it); it->ops->next(it))
        seen++;
    bad += seen != a->n;
    lsm_iter_destroy(it);
    st_buf_free(&val);
    atomic_fetch_add(a->failures, bad);
    return NULL;
}

static void
test_sstable_concurrent_gets_and_scans_agree(void **state)
{
    struct tu_dir_fixture *fx = *state;
    size_t n;
    struct ref *ref = make_ref(9, &n);
    build_from_ref(fx->path, ref, n, 4096);
    /* A cache smaller than the table, so threads also evict and miss. */
    struct lsm_block_cache *cache = lsm_block_cache_create(512 * 1024);
    struct lsm_table *t;
    assert_int_equal(lsm_table_open(fx->path, 7, cache, &t, NULL), ST_OK);
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    struct reader_arg args[THREADS];
    _Atomic int failures = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        args[i] = (struct reader_arg){t, ref, n, i, &failures};
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &args[i]),
                         0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&failures), 0);
    lsm_table_close(t);
    lsm_block_cache_destroy(cache);
    free(ref);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_sstable_doc_example_is_byte_exact),
        T(test_sstable_doc_example_reads_back),
        T(test_sstable_many_entries_read_back_like_reference),
        T(test_sstable_empty_table_has_nothing),
        T(test_sstable_builder_refuses_out_of_order_entries),
        T(test_sstable_every_flipped_byte_is_caught),
        T(test_sstable_flipped_data_byte_gives_corrupt_with_file_and_offset),
        T(test_sstable_cut_file_fails_open_with_corrupt),
        T(test_sstable_read_faults_give_io_errors),
        T(test_sstable_write_and_fsync_faults_fail_the_build),
        T(test_sstable_concurrent_gets_and_scans_agree),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
