/*
 * Tests for the LSM engine's manifest (engines/lsm/manifest.c,
 * docs/manifest-format.md): the doc's example byte for byte, edits that
 * survive a reopen (tables, levels, keys, counters), the snapshot written
 * at every open, torn and corrupt edits, a lost CURRENT, crash points
 * while switching CURRENT, the read-only rule after a failed write or
 * fsync, rolling past the size limit, and replay speed. Each test runs in
 * a fresh temp dir with every fault disarmed.
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "engines/lsm/log_record.h"
#include "engines/lsm/manifest.h"
#include "testutil.h"
#include "util/io.h"
#include "util/log.h"

static int
setup(void **state)
{
    *state = tu_dir_fixture_new(NULL);
    log_set_level(LOG_ERROR); /* torn-edit tests warn on purpose */
    return 0;
}

static int
teardown(void **state)
{
    tu_dir_fixture_free(*state);
    return 0;
}

static bool
exists(const char *dir, const char *name)
{
    char *p = tu_path_join(dir, name);
    struct stat st;
    bool yes = stat(p, &st) == 0;
    free(p);
    return yes;
}

static char *
manifest_name(uint64_t number)
{
    char *name = malloc(32);
    assert_non_null(name);
    snprintf(name, 32, "MANIFEST-%06llu", (unsigned long long)number);
    return name;
}

static void
assert_current_names(const char *dir, uint64_t number)
{
    char *p = tu_path_join(dir, "CURRENT");
    size_t len;
    uint8_t *got = tu_read_file(p, &len);
    char *want = manifest_name(number);
    assert_int_equal(len, strlen(want) + 1);
    assert_memory_equal(got, want, strlen(want));
    assert_int_equal(got[len - 1], '\n');
    free(want);
    free(got);
    free(p);
}

static struct lsm_manifest *
open_ok(const char *dir, struct lsm_manifest_state *st)
{
    struct lsm_manifest *m = NULL;
    struct st_error err;
    if (lsm_manifest_open(dir, &m, st, &err) != ST_OK)
        fail_msg("open: %s", err.msg);
    return m;
}

static struct lsm_table_meta
table(int level, uint64_t number, const char *min, size_t min_len,
      const char *max, size_t max_len)
{
    struct lsm_table_meta t = {.number = number,
                               .level = level,
                               .file_bytes = number * 1000,
                               .entries = number * 3,
                               .min_seq = number,
                               .max_seq = number * 2};
    assert_true(st_buf_set(&t.min_key, st_slice_make(min, min_len)));
    assert_true(st_buf_set(&t.max_key, st_slice_make(max, max_len)));
    return t;
}

static const struct lsm_table_meta *
find(const struct lsm_manifest_state *s, uint64_t number)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->tables[i].number == number)
            return &s->tables[i];
    return NULL;
}

static void
assert_table(const struct lsm_manifest_state *s,
             const struct lsm_table_meta *want)
{
    const struct lsm_table_meta *t = find(s, want->number);
    if (t == NULL)
        fail_msg("table %llu missing", (unsigned long long)want->number);
    assert_int_equal(t->level, want->level);
    assert_true(t->file_bytes == want->file_bytes);
    assert_true(t->entries == want->entries);
    assert_true(t->min_seq == want->min_seq && t->max_seq == want->max_seq);
    assert_true(st_slice_equal(st_buf_slice(&t->min_key),
                               st_buf_slice(&want->min_key)));
    assert_true(st_slice_equal(st_buf_slice(&t->max_key),
                               st_buf_slice(&want->max_key)));
}

/* An edit removing one table. The anonymous struct of lsm_edit is filled
 * through a compatible local array. */
struct removal {
    int level;
    uint64_t number;
};

static struct lsm_edit
edit_of(struct lsm_table_meta *add, size_t add_count, struct removal *rm,
        size_t rm_count)
{
    struct lsm_edit e = {0};
    e.added = add;
    e.added_count = add_count;
    e.removed = (void *)rm;
    e.removed_count = rm_count;
    return e;
}

/* --- tests --- */

/* docs/manifest-format.md, "Worked example", byte for byte. */
static void
test_manifest_doc_example_byte_for_byte(void **state)
{
    struct tu_dir_fixture *fx = *state;
    static const uint8_t want[] = {
        0x53, 0x54, 0x4d, 0x46, 0x01, 0x00, 0x00, 0x00,       /* "STMF" v1 */
        0x09, 0x43, 0x65, 0x90, 0x06, 0x00, 0x00, 0x00, 0x02, /* frame */
        0x01, 0x00, 0x02, 0x02, 0x03, 0x00, /* snapshot: log 0 next 2 seq 0 */
        0x30, 0xc5, 0x59, 0x6c, 0x12, 0x00, 0x00, 0x00, 0x02, /* frame */
        0x01, 0x03, 0x02, 0x06, 0x03, 0x09, /* log 3, next 6, seq 9 */
        0x04, 0x01, 0x05, 0xe8, 0x07, 0x02, 0x01, 0x02, 0x01,
        0x61, 0x01, 0x62,                                     /* add */
        0x67, 0xd6, 0x5e, 0xfb, 0x03, 0x00, 0x00, 0x00, 0x02, /* frame */
        0x05, 0x01, 0x05,                                     /* remove */
    };
    struct lsm_manifest_state st;
    struct lsm_manifest *m = open_ok(fx->dir, &st);
    assert_true(st.next_file == 2 && st.count == 0);
    assert_true(lsm_manifest_file_number(m) == 1);

    struct lsm_table_meta t = table(1, 5, "a", 1, "b", 1);
    t.file_bytes = 1000;
    t.entries = 2;
    t.min_seq = 1;
    t.max_seq = 2;
    struct lsm_edit e = edit_of(&t, 1, NULL, 0);
    e.has_log_number = e.has_next_file = e.has_last_seq = true;
    e.log_number = 3;
    e.next_file = 6;
    e.last_seq = 9;
    assert_int_equal(lsm_manifest_apply(m, &e, NULL), ST_OK);
    struct removal rm = {1, 5};
    struct lsm_edit e2 = edit_of(NULL, 0, &rm, 1);
    assert_int_equal(lsm_manifest_apply(m, &e2, NULL), ST_OK);
    lsm_manifest_close(m);

    char *p = tu_path_join(fx->dir, "MANIFEST-000001");
    size_t len;
    uint8_t *bytes = tu_read_file(p, &len);
    assert_int_equal(len, sizeof want);
    assert_memory_equal(bytes, want, sizeof want);
    free(bytes);
    free(p);
    assert_current_names(fx->dir, 1);
    lsm_table_meta_deinit(&t);
    lsm_manifest_state_free(&st);
}

/* Applies three edits: adds at several levels with binary keys, a move
 * between levels, a remove. Returns the tables expected afterwards. */
static void
apply_three_edits(struct lsm_manifest *m, struct lsm_table_meta want[3])
{
    struct lsm_table_meta a[] = {table(0, 4, "a\0b", 3, "zz", 2),
                                 table(0, 5, "", 0, "\xff\x00", 2),
                                 table(2, 6, "m", 1, "n", 1)};
    struct lsm_edit e1 = edit_of(a, 3, NULL, 0);
    e1.has_log_number = e1.has_next_file = e1.has_last_seq = true;
    e1.log_number = 7;
    e1.next_file = 8;
    e1.last_seq = 100;
    assert_int_equal(lsm_manifest_apply(m, &e1, NULL), ST_OK);

    /* A move: remove at level 0 and add at level 1 in one edit. */
    struct lsm_table_meta moved = table(1, 4, "a\0b", 3, "zz", 2);
    struct removal rm4 = {0, 4};
    struct lsm_edit e2 = edit_of(&moved, 1, &rm4, 1);
    e2.has_last_seq = true;
    e2.last_seq = 200;
    assert_int_equal(lsm_manifest_apply(m, &e2, NULL), ST_OK);

    struct removal rm6 = {2, 6};
    struct lsm_edit e3 = edit_of(NULL, 0, &rm6, 1);
    assert_int_equal(lsm_manifest_apply(m, &e3, NULL), ST_OK);

    want[0] = moved;
    want[1] = a[1];
    want[2] = a[2]; /* removed: the caller checks it is gone */
    lsm_table_meta_deinit(&a[0]);
}

/* Edits survive a reopen, and each open rewrites the manifest as one
 * snapshot: a new number, CURRENT switched, the old file gone. */
static void
test_manifest_edits_survive_reopen_as_snapshot(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct lsm_manifest_state st;
    struct lsm_manifest *m = open_ok(fx->dir, &st);
    lsm_manifest_state_free(&st);
    struct lsm_table_meta want[3];
    apply_three_edits(m, want);
    lsm_manifest_close(m);

    for (int round = 0; round < 2; round++) {
        m = open_ok(fx->dir, &st);
        uint64_t number = lsm_manifest_file_number(m);
        assert_true(number == (round == 0 ? 8 : 9));
        assert_true(st.next_file == number + 1);
        assert_true(st.log_number == 7 && st.last_seq == 200);
        assert_int_equal(st.count, 2);
        assert_table(&st, &want[0]);
        assert_table(&st, &want[1]);
        assert_null(find(&st, 6));
        assert_current_names(fx->dir, number);
        char *old = manifest_name(round == 0 ? 1 : 8);
        assert_false(exists(fx->dir, old));
        free(old);
        lsm_manifest_close(m);
        lsm_manifest_state_free(&st);
    }
    for (int i = 0; i < 3; i++)
        lsm_table_meta_deinit(&want[i]);
}

/* Edits that break the rules are refused before a byte is written, and
 * the manifest keeps working. */
static void
test_manifest_apply_rejects_invalid_edits(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct lsm_manifest_state st;
    struct lsm_manifest *m = open_ok(fx->dir, &st);
    struct lsm_table_meta t = table(0, 4, "a", 1, "b", 1);
    struct lsm_edit add = edit_of(&t, 1, NULL, 0);
    assert_int_equal(lsm_manifest_apply(m, &add, NULL), ST_OK);

    struct st_error err;
    struct removal not_live = {0, 9}, wrong_level = {3, 4},
                   twice[2] = {{0, 4}, {0, 4}};
    struct lsm_edit bad[] = {edit_of(NULL, 0, &not_live, 1),
                             edit_of(NULL, 0, &wrong_level, 1),
                             edit_of(&t, 1, NULL, 0), /* already live */
                             edit_of(NULL, 0, twice, 2)};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(lsm_manifest_apply(m, &bad[i], &err), ST_INVALID);
        tu_assert_contains(err.msg, "table");
    }
    t.level = LSM_LEVELS;
    t.number = 10;
    assert_int_equal(lsm_manifest_apply(m, &add, &err), ST_INVALID);
    tu_assert_contains(err.msg, "level");
    t.level = 1; /* now valid: a new table 10 */
    assert_int_equal(lsm_manifest_apply(m, &add, NULL), ST_OK);
    lsm_manifest_close(m);
    lsm_manifest_state_free(&st);

    m = open_ok(fx->dir, &st);
    assert_int_equal(st.count, 2);
    assert_table(&st, &t);
    lsm_manifest_close(m);
    lsm_manifest_state_free(&st);
    lsm_table_meta_deinit(&t);
}

/* Builds a directory holding 'bytes' as MANIFEST-000001 and CURRENT. */
static char *
make_dir_with(const char *parent, const char *name, const uint8_t *bytes,
              size_t len)
{
    char *dir = tu_path_join(parent, name);
    assert_int_equal(io_mkdir_p(dir, NULL), ST_OK);
    char *mp = tu_path_join(dir, "MANIFEST-000001");
    char *cp = tu_path_join(dir, "CURRENT");
    tu_write_file(mp, bytes, len);
    tu_write_file(cp, (const uint8_t *)"MANIFEST-000001\n", 16);
    free(mp);
    free(cp);
    return dir;
}

/* Writes three edits to a fresh manifest and returns its bytes; *last is
 * the offset where the last edit's frame starts, *second where the
 * second's does. */
static uint8_t *
three_edit_manifest(const char *parent, size_t *len, size_t *second,
                    size_t *last)
{
    char *dir = tu_path_join(parent, "src");
    assert_int_equal(io_mkdir_p(dir, NULL), ST_OK);
    struct lsm_manifest_state st;
    struct lsm_manifest *m = open_ok(dir, &st);
    char *mp = tu_path_join(dir, "MANIFEST-000001");
    size_t sizes[3];
    for (uint64_t i = 0; i < 3; i++) {
        struct lsm_table_meta t = table(0, 10 + i, "k", 1, "l", 1);
        struct lsm_edit e = edit_of(&t, 1, NULL, 0);
        assert_int_equal(lsm_manifest_apply(m, &e, NULL), ST_OK);
        lsm_table_meta_deinit(&t);
        free(tu_read_file(mp, &sizes[i]));
    }
    lsm_manifest_close(m);
    lsm_manifest_state_free(&st);
    uint8_t *bytes = tu_read_file(mp, len);
    *second = sizes[0];
    *last = sizes[1];
    free(mp);
    free(dir);
    return bytes;
}

/* A torn last edit (cut at any byte of it) was never acknowledged: open
 * ignores it and keeps the edits before. */
static void
test_manifest_torn_last_edit_is_ignored(void **state)
{
    struct tu_dir_fixture *fx = *state;
    size_t len, second, last;
    uint8_t *bytes = three_edit_manifest(fx->dir, &len, &second, &last);
    for (size_t cut = last; cut < len; cut++) {
        char name[32];
        snprintf(name, sizeof name, "cut%zu", cut);
        char *dir = make_dir_with(fx->dir, name, bytes, cut);
        struct lsm_manifest_state st;
        struct lsm_manifest *m = open_ok(dir, &st);
        assert_int_equal(st.count, 2);
        assert_non_null(find(&st, 10));
        assert_non_null(find(&st, 11));
        lsm_manifest_close(m);
        lsm_manifest_state_free(&st);
        free(dir);
    }
    free(bytes);
}

/* Damage before the last edit is corruption: open fails naming the file
 * and the offset, and changes nothing. */
static void
test_manifest_corrupt_middle_edit_is_reported(void **state)
{
    struct tu_dir_fixture *fx = *state;
    size_t len, second, last;
    uint8_t *bytes = three_edit_manifest(fx->dir, &len, &second, &last);
    bytes[second + 12] ^= 0x01;
    char *dir = make_dir_with(fx->dir, "bad", bytes, len);
    struct lsm_manifest *m = NULL;
    struct lsm_manifest_state st;
    struct st_error err;
    assert_int_equal(lsm_manifest_open(dir, &m, &st, &err), ST_CORRUPT);
    assert_null(m);
    assert_true(st.count == 0 && st.tables == NULL);
    char where[64];
    snprintf(where, sizeof where, "offset %zu", second);
    tu_assert_contains(err.msg, "MANIFEST-000001");
    tu_assert_contains(err.msg, where);
    char *mp = tu_path_join(dir, "MANIFEST-000001");
    size_t now;
    uint8_t *after = tu_read_file(mp, &now);
    assert_int_equal(now, len);
    assert_memory_equal(after, bytes, len);
    assert_false(exists(dir, "MANIFEST-000002"));
    assert_current_names(dir, 1);
    free(after);
    free(mp);
    free(dir);
    free(bytes);
}

/* An edit whose CRC is right but whose bytes are not an edit (unknown
 * tag, a remove of a table never added) is corruption. */
static void
test_manifest_bad_edit_contents_are_corrupt(void **state)
{
    struct tu_dir_fixture *fx = *state;
    size_t len, second, last;
    uint8_t *bytes = three_edit_manifest(fx->dir, &len, &second, &last);
    static const uint8_t bad[][4] = {{0x09, 0x01}, {0x05, 0x00, 0x63}};
    static const size_t bad_len[] = {2, 3};
    for (size_t i = 0; i < 2; i++) {
        uint8_t *file = malloc(len + LSM_LOG_FRAME_HEADER_LEN + 4);
        memcpy(file, bytes, len);
        memcpy(file + len + LSM_LOG_FRAME_HEADER_LEN, bad[i], bad_len[i]);
        lsm_log_frame_seal(file + len, bad_len[i], LSM_LOG_FRAME_MANIFEST_EDIT);
        char name[16];
        snprintf(name, sizeof name, "bad%zu", i);
        char *dir = make_dir_with(fx->dir, name, file,
                                  len + LSM_LOG_FRAME_HEADER_LEN + bad_len[i]);
        struct lsm_manifest *m = NULL;
        struct lsm_manifest_state st;
        struct st_error err;
        assert_int_equal(lsm_manifest_open(dir, &m, &st, &err), ST_CORRUPT);
        tu_assert_contains(err.msg, i == 0 ? "unknown tag" : "not live");
        free(dir);
        free(file);
    }
    free(bytes);
}

/* A crash while switching CURRENT (the rename fails) leaves the old
 * manifest in use: the next open works and has every edit. */
static void
test_manifest_rename_fault_keeps_old_manifest(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct lsm_manifest_state st;
    struct lsm_manifest *m = open_ok(fx->dir, &st);
    lsm_manifest_state_free(&st);
    struct lsm_table_meta want[3];
    apply_three_edits(m, want);
    lsm_manifest_close(m);

    io_fault_arm(IO_OP_RENAME, 1, EIO, 0);
    struct st_error err;
    assert_int_equal(lsm_manifest_open(fx->dir, &m, &st, &err), ST_IO);
    tu_assert_contains(err.msg, "rename");
    assert_current_names(fx->dir, 1);
    assert_true(exists(fx->dir, "MANIFEST-000001"));
    assert_false(exists(fx->dir, "MANIFEST-000008"));

    /* A failed directory fsync right after the rename is a crash point
     * too: CURRENT may name either file, and both are complete. */
    io_fault_arm(IO_OP_FSYNC, 5, EIO, 0);
    assert_int_equal(lsm_manifest_open(fx->dir, &m, &st, &err), ST_IO);

    m = open_ok(fx->dir, &st);
    assert_int_equal(st.count, 2);
    assert_table(&st, &want[0]);
    assert_table(&st, &want[1]);
    assert_true(st.last_seq == 200);
    assert_true(st.next_file > lsm_manifest_file_number(m));
    assert_false(exists(fx->dir, "MANIFEST-000001"));
    assert_false(exists(fx->dir, "CURRENT.tmp"));
    lsm_manifest_close(m);
    lsm_manifest_state_free(&st);
    for (int i = 0; i < 3; i++)
        lsm_table_meta_deinit(&want[i]);
}

/* A failed write or fsync: ST_IO, then every later apply is refused; the
 * live set of a reopen lacks the failed write's edit. */
static void
test_manifest_write_and_fsync_faults_make_it_readonly(void **state)
{
    struct tu_dir_fixture *fx = *state;
    for (int op = 0; op < 2; op++) {
        struct lsm_manifest_state st;
        struct lsm_manifest *m = open_ok(fx->dir, &st);
        lsm_manifest_state_free(&st);
        struct lsm_table_meta t = table(0, 100 + (uint64_t)op, "a", 1, "b", 1);
        struct lsm_edit e = edit_of(&t, 1, NULL, 0);
        struct st_error err;
        io_fault_arm(op == 0 ? IO_OP_WRITE : IO_OP_FSYNC, 1, EIO, 0);
        assert_int_equal(lsm_manifest_apply(m, &e, &err), ST_IO);
        t.number += 10;
        assert_int_equal(lsm_manifest_apply(m, &e, &err), ST_READONLY);
        tu_assert_contains(err.msg, op == 0 ? "write" : "fsync");
        lsm_manifest_close(m);
        lsm_table_meta_deinit(&t);
    }
    struct lsm_manifest_state st;
    struct lsm_manifest *m = open_ok(fx->dir, &st);
    assert_null(find(&st, 100)); /* the failed write wrote nothing */
    assert_null(find(&st, 110));
    assert_null(find(&st, 111));
    lsm_manifest_close(m);
    lsm_manifest_state_free(&st);
}

/* CURRENT lost next to a manifest with data: refuse, never start empty.
 * A manifest with an empty state (a crash during the first open) is
 * removed. A CURRENT that names nothing valid is corruption. */
static void
test_manifest_current_missing_or_bad(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct lsm_manifest_state st;
    struct lsm_manifest *m = open_ok(fx->dir, &st);
    lsm_manifest_close(m);
    lsm_manifest_state_free(&st);
    char *cur = tu_path_join(fx->dir, "CURRENT");
    assert_int_equal(unlink(cur), 0);
    m = open_ok(fx->dir, &st); /* MANIFEST-000001 held nothing */
    assert_true(lsm_manifest_file_number(m) == 2);
    assert_false(exists(fx->dir, "MANIFEST-000001"));
    struct lsm_table_meta t = table(3, 7, "a", 1, "b", 1);
    struct lsm_edit e = edit_of(&t, 1, NULL, 0);
    assert_int_equal(lsm_manifest_apply(m, &e, NULL), ST_OK);
    lsm_manifest_close(m);
    lsm_manifest_state_free(&st);

    struct st_error err;
    assert_int_equal(unlink(cur), 0);
    assert_int_equal(lsm_manifest_open(fx->dir, &m, &st, &err), ST_CORRUPT);
    tu_assert_contains(err.msg, "CURRENT is missing");
    tu_write_file(cur, (const uint8_t *)"MANIFEST-000002", 15); /* no \n */
    assert_int_equal(lsm_manifest_open(fx->dir, &m, &st, &err), ST_CORRUPT);
    tu_write_file(cur, (const uint8_t *)"MANIFEST-000042\n", 16);
    assert_int_equal(lsm_manifest_open(fx->dir, &m, &st, &err), ST_CORRUPT);
    tu_assert_contains(err.msg, "missing");
    tu_write_file(cur, (const uint8_t *)"MANIFEST-000002\n", 16);
    m = open_ok(fx->dir, &st);
    assert_table(&st, &t);
    assert_true(st.next_file > 7); /* raised past the table's number */
    lsm_manifest_close(m);
    lsm_manifest_state_free(&st);
    lsm_table_meta_deinit(&t);
    free(cur);
}

/* Past 4 MiB an apply starts a new manifest with a snapshot; the state
 * stays exactly the same across the roll and a reopen. */
static void
test_manifest_roll_past_size_limit_keeps_state(void **state)
{
    struct tu_dir_fixture *fx = *state;
    enum { KEY = 16 << 10 };
    char *key = malloc(KEY);
    assert_non_null(key);
    memset(key, 'k', KEY);
    struct lsm_manifest_state st;
    struct lsm_manifest *m = open_ok(fx->dir, &st);
    lsm_manifest_state_free(&st);
    uint64_t first = lsm_manifest_file_number(m);
    /* Each edit replaces table n-1 by n: ~32 KiB, so ~130 reach 4 MiB. */
    uint64_t n;
    for (n = 10; lsm_manifest_file_number(m) == first; n++) {
        assert_true(n < 1000);
        struct lsm_table_meta t = table((int)(n % 7), n, key, KEY, key, KEY);
        struct removal rm = {(int)((n - 1) % 7), n - 1};
        struct lsm_edit e = edit_of(&t, 1, &rm, n > 10);
        e.has_last_seq = true;
        e.last_seq = n;
        assert_int_equal(lsm_manifest_apply(m, &e, NULL), ST_OK);
        lsm_table_meta_deinit(&t);
    }
    uint64_t rolled = lsm_manifest_file_number(m);
    assert_current_names(fx->dir, rolled);
    char *old = manifest_name(first);
    assert_false(exists(fx->dir, old));
    free(old);
    lsm_manifest_close(m);

    m = open_ok(fx->dir, &st);
    struct lsm_table_meta want =
        table((int)((n - 1) % 7), n - 1, key, KEY, key, KEY);
    assert_int_equal(st.count, 1);
    assert_table(&st, &want);
    assert_true(st.last_seq == n - 1);
    assert_true(lsm_manifest_file_number(m) > rolled);
    lsm_manifest_close(m);
    lsm_manifest_state_free(&st);
    lsm_table_meta_deinit(&want);
    free(key);
}

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Thousands of edits replay fast: open is bounded by the bytes, not by
 * the number of tables ever seen. */
static void
test_manifest_many_edits_replay_quickly(void **state)
{
    struct tu_dir_fixture *fx = *state;
    enum { EDITS = 2000 };
    struct lsm_manifest_state st;
    struct lsm_manifest *m = open_ok(fx->dir, &st);
    lsm_manifest_state_free(&st);
    for (uint64_t n = 10; n < 10 + EDITS; n++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "key%06llu", (unsigned long long)n);
        struct lsm_table_meta t = table(0, n, k, (size_t)kl, k, (size_t)kl);
        /* Keep every 3rd table; remove the others one edit later. */
        struct removal rm = {0, n - 1};
        bool drop = n > 10 && (n - 1) % 3 != 0;
        struct lsm_edit e = edit_of(&t, 1, &rm, drop);
        e.has_last_seq = true;
        e.last_seq = n;
        assert_int_equal(lsm_manifest_apply(m, &e, NULL), ST_OK);
        lsm_table_meta_deinit(&t);
    }
    lsm_manifest_close(m);

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    m = open_ok(fx->dir, &st);
    double took = seconds_since(&t0);
    assert_true(took < 1.0);
    size_t want = 0;
    for (uint64_t n = 10; n < 10 + EDITS; n++) {
        bool kept = n % 3 == 0 || n == 10 + EDITS - 1;
        assert_int_equal(find(&st, n) != NULL, kept);
        want += kept;
    }
    assert_int_equal(st.count, want);
    assert_true(st.last_seq == 10 + EDITS - 1);
    lsm_manifest_close(m);
    lsm_manifest_state_free(&st);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_manifest_doc_example_byte_for_byte),
        T(test_manifest_edits_survive_reopen_as_snapshot),
        T(test_manifest_apply_rejects_invalid_edits),
        T(test_manifest_torn_last_edit_is_ignored),
        T(test_manifest_corrupt_middle_edit_is_reported),
        T(test_manifest_bad_edit_contents_are_corrupt),
        T(test_manifest_rename_fault_keeps_old_manifest),
        T(test_manifest_write_and_fsync_faults_make_it_readonly),
        T(test_manifest_current_missing_or_bad),
        T(test_manifest_roll_past_size_limit_keeps_state),
        T(test_manifest_many_edits_replay_quickly),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
