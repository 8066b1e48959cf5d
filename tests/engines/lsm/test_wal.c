/*
 * Tests for the LSM engine's write-ahead log (engines/lsm/wal.c,
 * docs/wal-format.md): the doc's example byte for byte, round trips of
 * binary keys, empty and 1 MiB values and batches, a cut at every byte of
 * the last records, zero-filled tails, corruption in the middle, and the
 * read-only rule after a failed write or fsync. Each test runs in a fresh
 * temp dir with every fault disarmed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engines/lsm/log_record.h"
#include "engines/lsm/wal.h"
#include "testutil.h"
#include "util/io.h"
#include "util/log.h"

struct fixture {
    char *dir;
    char *path;     /* dir/000001.log */
    char *cut_path; /* dir/000002.log: copies of a prefix */
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (fx == NULL)
        return -1;
    fx->dir = tu_tmpdir_create();
    fx->path = tu_path_join(fx->dir, "000001.log");
    fx->cut_path = tu_path_join(fx->dir, "000002.log");
    io_fault_reset();
    log_set_level(LOG_ERROR); /* the cut-at-every-byte test warns a lot */
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    io_fault_reset();
    free(fx->path);
    free(fx->cut_path);
    tu_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static uint64_t
file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* --- what replay delivered, copied --- */

struct got_entry {
    uint64_t seq;
    enum lsm_value_type type;
    struct st_buf key, val;
};

struct collected {
    struct got_entry *e;
    size_t count, cap;
    size_t stop_after; /* 0: never stop */
};

static st_status
collect(void *arg, const struct lsm_wal_entry *e)
{
    struct collected *c = arg;
    if (c->stop_after && c->count == c->stop_after)
        return ST_NOMEM; /* any non-OK status: the caller says stop */
    if (c->count == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->e = realloc(c->e, c->cap * sizeof *c->e);
        assert_non_null(c->e);
    }
    struct got_entry *g = &c->e[c->count++];
    *g = (struct got_entry){.seq = e->seq, .type = e->type};
    assert_true(st_buf_set(&g->key, e->key));
    assert_true(st_buf_set(&g->val, e->val));
    return ST_OK;
}

static void
collected_free(struct collected *c)
{
    for (size_t i = 0; i < c->count; i++) {
        st_buf_free(&c->e[i].key);
        st_buf_free(&c->e[i].val);
    }
    free(c->e);
    *c = (struct collected){0};
}

static void
assert_entry(const struct got_entry *g, const struct lsm_wal_entry *want)
{
    assert_true(g->seq == want->seq);
    assert_int_equal(g->type, want->type);
    assert_true(st_slice_equal(st_buf_slice(&g->key), want->key));
    assert_true(st_slice_equal(st_buf_slice(&g->val), want->val));
}

static struct lsm_wal_entry
put(uint64_t seq, const void *key, size_t klen, const void *val, size_t vlen)
{
    return (struct lsm_wal_entry){seq, LSM_TYPE_PUT, st_slice_make(key, klen),
                                  st_slice_make(val, vlen)};
}

static struct lsm_wal_entry
del(uint64_t seq, const void *key, size_t klen)
{
    return (struct lsm_wal_entry){
        seq, LSM_TYPE_DELETE, st_slice_make(key, klen), st_slice_make(NULL, 0)};
}

static struct lsm_wal *
create(const char *path)
{
    struct lsm_wal *w = NULL;
    struct st_error err;
    if (lsm_wal_create(path, &w, &err) != ST_OK)
        fail_msg("create: %s", err.msg);
    return w;
}

/* --- tests --- */

/* docs/wal-format.md, "Worked example", byte for byte. */
static void
test_wal_doc_example_byte_for_byte(void **state)
{
    struct fixture *fx = *state;
    static const uint8_t want[] = {
        0x53, 0x54, 0x57, 0x4c, 0x01, 0x00, 0x00, 0x00, /* "STWL" v1 */
        0xc1, 0xba, 0xe8, 0x65,                         /* masked CRC */
        0x0d, 0x00, 0x00, 0x00,                         /* len 13 */
        0x01,                                           /* WAL batch */
        0x02,                                           /* count 2 */
        0x01, 0x01, 0x01, 0x6b, 0x02, 0x76, 0x31,       /* put 1 k v1 */
        0x00, 0x02, 0x01, 0x6b, 0x00,                   /* delete 2 k */
    };
    struct lsm_wal *w = create(fx->path);
    struct lsm_wal_entry e[] = {put(1, "k", 1, "v1", 2), del(2, "k", 1)};
    assert_int_equal(lsm_wal_append(w, e, 2, true, NULL), ST_OK);
    assert_true(lsm_wal_bytes(w) == sizeof want);
    assert_int_equal(lsm_wal_close(w, true, NULL), ST_OK);

    size_t len;
    uint8_t *bytes = tu_read_file(fx->path, &len);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(bytes, want, sizeof want);
    free(bytes);

    struct collected c = {0};
    uint64_t records = 0;
    assert_int_equal(lsm_wal_replay(fx->path, collect, &c, &records, NULL),
                     ST_OK);
    assert_true(records == 2);
    assert_int_equal(c.count, 2);
    assert_entry(&c.e[0], &e[0]);
    assert_entry(&c.e[1], &e[1]);
    collected_free(&c);
}

/* Binary keys with NULs, empty values, a 1 MiB value and batches all come
 * back exactly, in order, and the file is the size lsm_wal_bytes says. */
static void
test_wal_round_trip_binary_keys_empty_and_big_values(void **state)
{
    struct fixture *fx = *state;
    enum { BIG = 1 << 20 };
    uint8_t *big = malloc(BIG);
    assert_non_null(big);
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("wal round trip", 7));
    tu_rng_fill(&rng, big, BIG);
    static const uint8_t nul_key[] = {0, 'a', 0, 0xff};

    struct lsm_wal_entry e[] = {
        put(1, nul_key, sizeof nul_key, "v", 1),
        put(2, "empty", 5, "", 0),
        put(3, "", 0, "empty key", 9),
        put(4, "big", 3, big, BIG),
        del(5, nul_key, sizeof nul_key),
        put(LSM_MAX_SEQ, "max", 3, "seq", 3),
    };
    struct lsm_wal *w = create(fx->path);
    assert_int_equal(lsm_wal_append(w, &e[0], 1, false, NULL), ST_OK);
    assert_int_equal(lsm_wal_append(w, &e[1], 2, true, NULL), ST_OK);
    assert_int_equal(lsm_wal_append(w, &e[3], 1, false, NULL), ST_OK);
    assert_int_equal(lsm_wal_append(w, &e[4], 2, false, NULL), ST_OK);
    assert_int_equal(lsm_wal_sync(w, NULL), ST_OK);
    uint64_t bytes = lsm_wal_bytes(w);
    assert_int_equal(lsm_wal_close(w, true, NULL), ST_OK);
    assert_true(file_size(fx->path) == bytes);

    struct collected c = {0};
    uint64_t records = 0;
    assert_int_equal(lsm_wal_replay(fx->path, collect, &c, &records, NULL),
                     ST_OK);
    assert_true(records == 6);
    assert_int_equal(c.count, 6);
    for (size_t i = 0; i < 6; i++)
        assert_entry(&c.e[i], &e[i]);
    assert_true(file_size(fx->path) == bytes); /* nothing cut */
    collected_free(&c);
    free(big);
}

/* Writes 4 batches of 1..4 entries; ends[i] is the end of batch i and
 * counts[i] the entries up to and including it. */
static uint64_t
write_batches(const char *path, uint64_t ends[4], size_t counts[4],
              struct lsm_wal_entry *all)
{
    static const char *const keys[] = {"a", "b\0c", "dd", "",  "e",
                                       "f", "g",    "h",  "i", "j"};
    size_t n = 0;
    struct lsm_wal *w = create(path);
    for (size_t b = 0; b < 4; b++) {
        for (size_t i = 0; i <= b; i++, n++)
            all[n] = i % 2
                         ? del(n + 1, keys[n], strlen(keys[n]) + (n == 1))
                         : put(n + 1, keys[n], strlen(keys[n]), "value", n % 6);
        assert_int_equal(lsm_wal_append(w, &all[n - b - 1], b + 1, false, NULL),
                         ST_OK);
        ends[b] = lsm_wal_bytes(w);
        counts[b] = n;
    }
    assert_int_equal(lsm_wal_close(w, true, NULL), ST_OK);
    return ends[3];
}

static void
copy_prefix(const char *from, const char *to, size_t len)
{
    size_t flen;
    uint8_t *bytes = tu_read_file(from, &flen);
    assert_true(len <= flen);
    tu_write_file(to, bytes, len);
    free(bytes);
}

/* Cut a valid WAL at every byte and replay it: replay must hand out
 * exactly the batches complete before the cut, and truncate the file to
 * their end (docs/wal-format.md, "Replay"). Nothing torn is served and
 * nothing complete is lost. */
static void
test_wal_replay_after_cut_at_every_byte(void **state)
{
    struct fixture *fx = *state;
    uint64_t ends[4];
    size_t counts[4];
    struct lsm_wal_entry all[10];
    uint64_t size = write_batches(fx->path, ends, counts, all);

    for (uint64_t cut = 0; cut <= size; cut++) {
        size_t whole = 0;
        while (whole < 4 && ends[whole] <= cut)
            whole++;
        size_t want = whole ? counts[whole - 1] : 0;
        uint64_t want_size = whole ? ends[whole - 1]
                             : cut >= LSM_LOG_FILE_HEADER_LEN
                                 ? LSM_LOG_FILE_HEADER_LEN
                                 : 0; /* an unfinished create: emptied */

        copy_prefix(fx->path, fx->cut_path, (size_t)cut);
        struct collected c = {0};
        uint64_t records = 99;
        struct st_error err;
        if (lsm_wal_replay(fx->cut_path, collect, &c, &records, &err) != ST_OK)
            fail_msg("cut %llu: %s", (unsigned long long)cut, err.msg);
        assert_true(records == want);
        assert_int_equal(c.count, want);
        for (size_t i = 0; i < want; i++)
            assert_entry(&c.e[i], &all[i]);
        assert_true(file_size(fx->cut_path) == want_size);
        collected_free(&c);
    }
}

/* Preallocated or crash-zeroed space after the last batch is the end of
 * the log, and is cut off. */
static void
test_wal_zero_filled_tail_is_cut(void **state)
{
    struct fixture *fx = *state;
    uint64_t ends[4];
    size_t counts[4];
    struct lsm_wal_entry all[10];
    uint64_t size = write_batches(fx->path, ends, counts, all);
    assert_int_equal(truncate(fx->path, (off_t)(size + 4096)), 0);

    struct collected c = {0};
    assert_int_equal(lsm_wal_replay(fx->path, collect, &c, NULL, NULL), ST_OK);
    assert_int_equal(c.count, counts[3]);
    assert_true(file_size(fx->path) == size);
    collected_free(&c);

    /* Zeros in place of the last batch (its pages never reached the disk,
     * the size did) count as torn too. */
    size_t len;
    uint8_t *bytes = tu_read_file(fx->path, &len);
    memset(bytes + ends[2], 0, len - ends[2]);
    tu_write_file(fx->path, bytes, len);
    free(bytes);
    assert_int_equal(lsm_wal_replay(fx->path, collect, &c, NULL, NULL), ST_OK);
    assert_int_equal(c.count, counts[2]);
    assert_true(file_size(fx->path) == ends[2]);
    collected_free(&c);
}

/* Flips one byte of a batch, then replays. */
static st_status
replay_with_flip(struct fixture *fx, uint64_t at, struct collected *c,
                 struct st_error *err)
{
    size_t len;
    uint8_t *bytes = tu_read_file(fx->path, &len);
    bytes[at] ^= 0x20;
    tu_write_file(fx->path, bytes, len);
    free(bytes);
    return lsm_wal_replay(fx->path, collect, c, NULL, err);
}

/* A bad batch with good ones after it is damage, not a torn write:
 * ST_CORRUPT naming file and offset, and nothing is cut. */
static void
test_wal_bad_crc_in_middle_is_corrupt(void **state)
{
    struct fixture *fx = *state;
    uint64_t ends[4];
    size_t counts[4];
    struct lsm_wal_entry all[10];
    uint64_t size = write_batches(fx->path, ends, counts, all);

    struct collected c = {0};
    struct st_error err;
    assert_int_equal(replay_with_flip(fx, ends[0] + 12, &c, &err), ST_CORRUPT);
    char where[64];
    snprintf(where, sizeof where, "offset %llu", (unsigned long long)ends[0]);
    tu_assert_contains(err.msg, fx->path);
    tu_assert_contains(err.msg, where);
    assert_int_equal(c.count, counts[0]); /* those before it were handed out */
    assert_true(file_size(fx->path) == size);
    collected_free(&c);
}

/* The same flip in the last batch is a torn tail: cut, not reported. */
static void
test_wal_bad_crc_in_last_record_is_cut(void **state)
{
    struct fixture *fx = *state;
    uint64_t ends[4];
    size_t counts[4];
    struct lsm_wal_entry all[10];
    write_batches(fx->path, ends, counts, all);

    struct collected c = {0};
    assert_int_equal(replay_with_flip(fx, ends[2] + 12, &c, NULL), ST_OK);
    assert_int_equal(c.count, counts[2]);
    assert_true(file_size(fx->path) == ends[2]);
    collected_free(&c);
}

/* A frame whose CRC matches but whose batch does not decode was written
 * that way: corruption, even as the last frame. */
static void
test_wal_undecodable_batch_is_corrupt(void **state)
{
    struct fixture *fx = *state;
    struct lsm_wal *w = create(fx->path);
    assert_int_equal(lsm_wal_close(w, true, NULL), ST_OK);
    /* count 2, but only one entry; then a delete carrying a value. */
    static const uint8_t bad[][9] = {
        {0x02, 0x01, 0x01, 0x01, 0x6b, 0x00},
        {0x01, 0x00, 0x01, 0x01, 0x6b, 0x01, 0x7a}};
    static const size_t bad_len[] = {6, 7};
    for (size_t i = 0; i < 2; i++) {
        uint8_t frame[LSM_LOG_FRAME_HEADER_LEN + 9];
        memcpy(frame + LSM_LOG_FRAME_HEADER_LEN, bad[i], bad_len[i]);
        lsm_log_frame_seal(frame, bad_len[i], LSM_LOG_FRAME_WAL_BATCH);
        uint8_t file[LSM_LOG_FILE_HEADER_LEN + sizeof frame];
        size_t len;
        uint8_t *head = tu_read_file(fx->path, &len);
        assert_int_equal(len, LSM_LOG_FILE_HEADER_LEN);
        memcpy(file, head, len);
        free(head);
        memcpy(file + len, frame, LSM_LOG_FRAME_HEADER_LEN + bad_len[i]);
        tu_write_file(fx->cut_path, file,
                      len + LSM_LOG_FRAME_HEADER_LEN + bad_len[i]);
        struct collected c = {0};
        struct st_error err;
        assert_int_equal(lsm_wal_replay(fx->cut_path, collect, &c, NULL, &err),
                         ST_CORRUPT);
        tu_assert_contains(err.msg, "offset 8");
        assert_int_equal(c.count, 0);
        collected_free(&c);
    }
}

/* A file no longer than its header that does not hold a valid one is a
 * create that crashed before its fsync (a power cut can keep the name and
 * size with junk bytes): it holds nothing. A bad magic or version in
 * front of more bytes is corruption. */
static void
test_wal_header_checks(void **state)
{
    struct fixture *fx = *state;
    static const char *const unfinished[] = {"STW", "junk",
                                             "\xff\xff\x01\0\0\0\x07\0"};
    static const size_t unfinished_len[] = {3, 4, 8};
    for (size_t i = 0; i < 3; i++) {
        uint64_t records = 9;
        tu_write_file(fx->path, (const uint8_t *)unfinished[i],
                      unfinished_len[i]);
        assert_int_equal(
            lsm_wal_replay(fx->path, collect, NULL, &records, NULL), ST_OK);
        assert_true(records == 0);
        assert_true(file_size(fx->path) == 0);
    }

    struct st_error err;
    tu_write_file(fx->path, (const uint8_t *)"STWX\1\0\0\0more", 12);
    assert_int_equal(lsm_wal_replay(fx->path, collect, NULL, NULL, &err),
                     ST_CORRUPT);
    tu_assert_contains(err.msg, "magic");
    tu_write_file(fx->path, (const uint8_t *)"STWL\2\0\0\0more", 12);
    assert_int_equal(lsm_wal_replay(fx->path, collect, NULL, NULL, &err),
                     ST_CORRUPT);
    tu_assert_contains(err.msg, "version 2");
    assert_int_equal(lsm_wal_replay(fx->cut_path, collect, NULL, NULL, &err),
                     ST_IO); /* missing file */
}

/* A failed write may have left part of the frame: ST_IO, then every later
 * append or sync is refused, and replay serves only what came before. */
static void
test_wal_write_fault_makes_it_readonly(void **state)
{
    struct fixture *fx = *state;
    struct lsm_wal *w = create(fx->path);
    struct lsm_wal_entry e[] = {put(1, "a", 1, "1", 1), put(2, "b", 1, "2", 1)};
    assert_int_equal(lsm_wal_append(w, &e[0], 1, true, NULL), ST_OK);

    struct st_error err;
    io_fault_arm(IO_OP_WRITE, 1, ENOSPC, 0);
    assert_int_equal(lsm_wal_append(w, &e[1], 1, true, &err), ST_IO);
    assert_int_equal(err.errnum, ENOSPC);
    tu_assert_contains(err.msg, fx->path);
    /* The fault was one-shot: the disk "works" again, the WAL still
     * refuses. */
    assert_int_equal(lsm_wal_append(w, &e[1], 1, true, &err), ST_READONLY);
    tu_assert_contains(err.msg, "write");
    assert_int_equal(lsm_wal_sync(w, &err), ST_READONLY);
    assert_int_equal(lsm_wal_close(w, true, &err), ST_READONLY);

    struct collected c = {0};
    assert_int_equal(lsm_wal_replay(fx->path, collect, &c, NULL, NULL), ST_OK);
    assert_int_equal(c.count, 1);
    assert_entry(&c.e[0], &e[0]);
    collected_free(&c);
}

/* After a failed fsync the kernel may have dropped the pages: never
 * fsync "again as if nothing happened" (PITFALLS.md). */
static void
test_wal_fsync_fault_makes_it_readonly(void **state)
{
    struct fixture *fx = *state;
    struct lsm_wal *w = create(fx->path);
    struct lsm_wal_entry e = put(1, "a", 1, "1", 1);
    struct st_error err;
    io_fault_arm(IO_OP_FSYNC, 1, EIO, 0);
    assert_int_equal(lsm_wal_append(w, &e, 1, true, &err), ST_IO);
    assert_int_equal(err.errnum, EIO);
    tu_assert_contains(err.msg, "fsync");
    uint64_t before = io_op_count(IO_OP_FSYNC);
    assert_int_equal(lsm_wal_append(w, &e, 1, false, &err), ST_READONLY);
    assert_int_equal(lsm_wal_sync(w, &err), ST_READONLY);
    assert_true(io_op_count(IO_OP_FSYNC) == before); /* not even tried */
    assert_int_equal(lsm_wal_close(w, false, NULL), ST_OK);

    /* The same through lsm_wal_sync (the interval policy's path). */
    w = create(fx->cut_path);
    assert_int_equal(lsm_wal_append(w, &e, 1, false, NULL), ST_OK);
    io_fault_arm(IO_OP_FSYNC, 1, EIO, 0);
    assert_int_equal(lsm_wal_sync(w, NULL), ST_IO);
    assert_int_equal(lsm_wal_append(w, &e, 1, true, NULL), ST_READONLY);
    assert_int_equal(lsm_wal_close(w, true, NULL), ST_READONLY);
}

/* create refuses an existing file (a WAL is never overwritten), and a
 * create whose fsync fails leaves no file behind. */
static void
test_wal_create_refuses_existing_and_cleans_up(void **state)
{
    struct fixture *fx = *state;
    struct lsm_wal *w = create(fx->path);
    assert_int_equal(lsm_wal_close(w, false, NULL), ST_OK);
    w = NULL;
    assert_int_equal(lsm_wal_create(fx->path, &w, NULL), ST_IO);
    assert_null(w);

    io_fault_arm(IO_OP_FSYNC, 2, EIO, 0); /* the directory's fsync */
    assert_int_equal(lsm_wal_create(fx->cut_path, &w, NULL), ST_IO);
    struct stat st;
    assert_int_not_equal(stat(fx->cut_path, &st), 0);
    assert_int_equal(lsm_wal_close(NULL, true, NULL), ST_OK);
}

/* Bad batches are refused before a byte is written. */
static void
test_wal_append_rejects_invalid_batches(void **state)
{
    struct fixture *fx = *state;
    struct lsm_wal *w = create(fx->path);
    struct lsm_wal_entry bad_del = {3, LSM_TYPE_DELETE, st_slice_make("k", 1),
                                    st_slice_make("v", 1)};
    struct lsm_wal_entry bad_seq = put(LSM_MAX_SEQ + 1, "k", 1, "v", 1);
    struct lsm_wal_entry bad_type = put(1, "k", 1, "v", 1);
    bad_type.type = (enum lsm_value_type)7;
    assert_int_equal(lsm_wal_append(w, &bad_del, 0, true, NULL), ST_INVALID);
    assert_int_equal(lsm_wal_append(w, &bad_del, 1, true, NULL), ST_INVALID);
    assert_int_equal(lsm_wal_append(w, &bad_seq, 1, true, NULL), ST_INVALID);
    assert_int_equal(lsm_wal_append(w, &bad_type, 1, true, NULL), ST_INVALID);
    assert_true(lsm_wal_bytes(w) == LSM_LOG_FILE_HEADER_LEN);
    /* Refusing bad input is not a disk failure: the WAL still works. */
    struct lsm_wal_entry ok = put(1, "k", 1, "v", 1);
    assert_int_equal(lsm_wal_append(w, &ok, 1, true, NULL), ST_OK);
    assert_int_equal(lsm_wal_close(w, true, NULL), ST_OK);
    assert_true(file_size(fx->path) > LSM_LOG_FILE_HEADER_LEN);
}

/* A callback's status stops the replay and comes back; nothing is cut. */
static void
test_wal_replay_stops_on_callback_status(void **state)
{
    struct fixture *fx = *state;
    uint64_t ends[4];
    size_t counts[4];
    struct lsm_wal_entry all[10];
    uint64_t size = write_batches(fx->path, ends, counts, all);
    struct collected c = {.stop_after = 2};
    uint64_t records = 0;
    assert_int_equal(lsm_wal_replay(fx->path, collect, &c, &records, NULL),
                     ST_NOMEM);
    assert_true(records == 2);
    assert_true(file_size(fx->path) == size);
    collected_free(&c);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_wal_doc_example_byte_for_byte),
        T(test_wal_round_trip_binary_keys_empty_and_big_values),
        T(test_wal_replay_after_cut_at_every_byte),
        T(test_wal_zero_filled_tail_is_cut),
        T(test_wal_bad_crc_in_middle_is_corrupt),
        T(test_wal_bad_crc_in_last_record_is_cut),
        T(test_wal_undecodable_batch_is_corrupt),
        T(test_wal_header_checks),
        T(test_wal_write_fault_makes_it_readonly),
        T(test_wal_fsync_fault_makes_it_readonly),
        T(test_wal_create_refuses_existing_and_cleans_up),
        T(test_wal_append_rejects_invalid_batches),
        T(test_wal_replay_stops_on_callback_status),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
