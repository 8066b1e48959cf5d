/*
 * The lsm engine as a whole (src/engines/lsm/lsm.c, docs/lsm-design.md):
 * with a tiny memtable so that a short run crosses many flushes and
 * compactions, against a reference map; tombstones across compactions
 * and reopen; disk use after overwrites; durability of unsynced writes
 * across a clean close; torn WAL tails; orphan files; I/O faults in
 * flush, compaction and manifest; threads reading, writing and scanning
 * at once; scans at a snapshot.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
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

#include "engines/lsm/lsm.h"
#include "util/io.h"
#include "util/log.h"
#include "testutil.h"

static const struct engine_ops *const ops = &lsm_engine_ops;

struct fixture {
    char *dir;
    struct engine_options opt;
    struct engine *e;
};

static void
small_options(struct engine_options *opt, bool background)
{
    engine_options_default(opt);
    opt->sync = ENGINE_SYNC_NONE;
    opt->memtable_bytes = 64 * 1024;
    opt->block_cache_bytes = 256 * 1024;
    opt->background = background;
}

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = tu_tmpdir_create();
    small_options(&fx->opt, true);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    io_fault_reset();
    if (fx->e != NULL)
        ops->close(fx->e, NULL);
    tu_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void
fx_open(struct fixture *fx)
{
    struct st_error err = {0};
    st_status s = ops->open(fx->dir, &fx->opt, &fx->e, &err);
    if (s != ST_OK)
        fail_msg("open: %s", err.msg);
}

static void
fx_close(struct fixture *fx)
{
    struct st_error err = {0};
    st_status s = ops->close(fx->e, &err);
    fx->e = NULL;
    if (s != ST_OK)
        fail_msg("close: %s", err.msg);
}

static void
fx_reopen(struct fixture *fx)
{
    fx_close(fx);
    fx_open(fx);
}

static void
fx_compact(struct fixture *fx)
{
    struct st_error err = {0};
    if (ops->compact(fx->e, &err) != ST_OK)
        fail_msg("compact: %s", err.msg);
}

static st_slice
key_of(char *buf, size_t cap, uint64_t i)
{
    int n = snprintf(buf, cap, "key%08" PRIu64, i);
    return st_slice_make(buf, (size_t)n);
}

static void
put(struct engine *e, st_slice k, st_slice v)
{
    struct st_error err = {0};
    if (ops->set(e, k, v, &err) != ST_OK)
        fail_msg("set: %s", err.msg);
}

struct stat_find {
    const char *name;
    uint64_t value;
    bool found;
};

static void
stat_visit(void *arg, const char *name, uint64_t value)
{
    struct stat_find *f = arg;
    if (strcmp(name, f->name) == 0) {
        f->value = value;
        f->found = true;
    }
}

static uint64_t
stat_of(struct engine *e, const char *name)
{
    struct stat_find f = {name, 0, false};
    ops->stats(e, stat_visit, &f);
    if (!f.found)
        fail_msg("no stat named %s", name);
    return f.value;
}

/* --- a reference model over a small key space --- */

enum { MODEL_KEYS = 1500 };

struct model {
    bool present[MODEL_KEYS];
    bool unknown[MODEL_KEYS]; /* a failed write: either outcome is fine */
    struct st_buf val[MODEL_KEYS];
};

static void
model_free(struct model *m)
{
    for (size_t i = 0; i < MODEL_KEYS; i++)
        st_buf_free(&m->val[i]);
}

static void
random_value(struct tu_rng *rng, struct st_buf *v)
{
    size_t len = tu_rng_below(rng, 40) == 0 ? tu_rng_below(rng, 6000)
                                            : tu_rng_below(rng, 200);
    v->len = 0;
    assert_true(st_buf_reserve(v, len + 1));
    tu_rng_fill(rng, v->ptr, len);
    v->len = len;
}

static void
check_key(struct engine *e, struct model *m, size_t i)
{
    char kb[32];
    struct st_buf got = {0};
    struct st_error err = {0};
    st_status s = ops->get(e, key_of(kb, sizeof kb, i), &got, &err);
    if (m->unknown[i]) {
        assert_true(s == ST_OK || s == ST_NOT_FOUND);
    } else if (!m->present[i]) {
        if (s != ST_NOT_FOUND)
            fail_msg("key %zu should be absent: %s", i, st_status_str(s));
    } else {
        if (s != ST_OK)
            fail_msg("key %zu: %s (%s)", i, st_status_str(s), err.msg);
        if (!st_slice_equal(st_buf_slice(&got), st_buf_slice(&m->val[i])))
            fail_msg("key %zu: wrong value (%zu bytes, want %zu)", i, got.len,
                     m->val[i].len);
    }
    st_buf_free(&got);
}

static void
check_all(struct engine *e, struct model *m)
{
    for (size_t i = 0; i < MODEL_KEYS; i++)
        check_key(e, m, i);
}

struct scan_state {
    struct model *m;
    size_t next; /* the model key expected next */
    size_t end, seen, stop;
    bool bad;
};

static bool
scan_check(void *arg, st_slice key, st_slice val)
{
    struct scan_state *s = arg;
    while (s->next < s->end && !s->m->present[s->next])
        s->next++;
    char kb[32];
    if (s->next >= s->end ||
        !st_slice_equal(key, key_of(kb, sizeof kb, s->next)) ||
        !st_slice_equal(val, st_buf_slice(&s->m->val[s->next]))) {
        s->bad = true;
        return false;
    }
    s->next++;
    return ++s->seen < s->stop;
}

static void
check_scan(struct engine *e, struct model *m, size_t lo, size_t hi, size_t stop)
{
    char kl[32], kh[32];
    struct scan_state s = {m, lo, hi, 0, stop, false};
    struct st_error err = {0};
    st_status st =
        ops->scan(e, key_of(kl, sizeof kl, lo), key_of(kh, sizeof kh, hi), true,
                  scan_check, &s, &err);
    if (st != ST_OK || s.bad)
        fail_msg("scan [%zu, %zu): %s %s", lo, hi, st_status_str(st), err.msg);
    size_t want = 0;
    for (size_t i = lo; i < hi; i++)
        want += m->present[i];
    assert_int_equal(s.seen, want < stop ? want : stop);
}

/* Random sets, deletes, gets and scans with a 64 KiB memtable, so the
 * run crosses dozens of flushes and compactions into several levels. */
static void
run_random(struct fixture *fx, uint64_t seed_default, uint64_t steps)
{
    struct model *m = calloc(1, sizeof *m);
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("lsm random", seed_default));
    fx_open(fx);
    struct st_buf v = {0};
    char kb[32];
    for (uint64_t step = 0; step < steps; step++) {
        size_t i = tu_rng_below(&rng, MODEL_KEYS);
        uint64_t dice = tu_rng_below(&rng, 1000);
        struct st_error err = {0};
        if (dice < 550) {
            random_value(&rng, &v);
            put(fx->e, key_of(kb, sizeof kb, i), st_buf_slice(&v));
            assert_true(st_buf_set(&m->val[i], st_buf_slice(&v)));
            m->present[i] = true;
        } else if (dice < 750) {
            st_status s = ops->del(fx->e, key_of(kb, sizeof kb, i), &err);
            assert_int_equal(s, m->present[i] ? ST_OK : ST_NOT_FOUND);
            m->present[i] = false;
        } else if (dice < 980) {
            check_key(fx->e, m, i);
        } else if (dice < 997) {
            size_t hi = i + tu_rng_below(&rng, MODEL_KEYS - i + 1);
            check_scan(fx->e, m, i, hi, 1 + tu_rng_below(&rng, 400));
        } else if (dice < 999) {
            fx_compact(fx);
        } else {
            fx_reopen(fx);
            check_all(fx->e, m);
        }
    }
    check_all(fx->e, m);
    check_scan(fx->e, m, 0, MODEL_KEYS, MODEL_KEYS);
    fx_reopen(fx);
    check_all(fx->e, m);
    check_scan(fx->e, m, 0, MODEL_KEYS, MODEL_KEYS);
    st_buf_free(&v);
    model_free(m);
    free(m);
}

static void
test_lsm_matches_reference_with_tiny_memtable(void **state)
{
    struct fixture *fx = *state;
    run_random(fx, 4, 25000);
    uint64_t deeper = 0;
    for (int l = 2; l < 7; l++) {
        char name[32];
        snprintf(name, sizeof name, "level%d_tables", l);
        deeper += stat_of(fx->e, name);
    }
    /* Budget compactions since the last reopen moved data below L1. */
    assert_true(deeper > 0 || stat_of(fx->e, "level1_tables") > 0);
}

static void
test_lsm_matches_reference_without_background_thread(void **state)
{
    struct fixture *fx = *state;
    fx->opt.background = false;
    run_random(fx, 5, 20000);
}

/* Writes enough to fill many memtables and checks the counters move. */
static void
test_lsm_flushes_and_compacts_in_background(void **state)
{
    struct fixture *fx = *state;
    fx_open(fx);
    char kb[32], vb[100];
    memset(vb, 'v', sizeof vb);
    for (uint64_t i = 0; i < 40000; i++)
        put(fx->e, key_of(kb, sizeof kb, (i * 7919) % 20000 * 2),
            st_slice_make(vb, sizeof vb));
    fx_compact(fx);
    assert_true(stat_of(fx->e, "flushes") >= 20);
    assert_true(stat_of(fx->e, "compactions") >= 1);
    assert_int_equal(stat_of(fx->e, "level0_tables"), 0);
    assert_int_equal(stat_of(fx->e, "immutable_memtables"), 0);
    assert_true(stat_of(fx->e, "write_amplification_x100") >= 100);
    assert_true(stat_of(fx->e, "user_bytes_written") >= 40000 * 100);
    /* Keys that do not exist (odd ones, inside the tables' key ranges)
     * are turned away by bloom filters. */
    struct st_buf got = {0};
    for (uint64_t i = 1; i < 2001; i += 2)
        assert_int_equal(ops->get(fx->e, key_of(kb, sizeof kb, i), &got, NULL),
                         ST_NOT_FOUND);
    assert_true(stat_of(fx->e, "bloom_negatives") >= 900);
    for (uint64_t i = 0; i < 40000; i += 194) {
        assert_int_equal(ops->get(fx->e, key_of(kb, sizeof kb, i), &got, NULL),
                         ST_OK);
        assert_int_equal(got.len, sizeof vb);
    }
    assert_true(stat_of(fx->e, "block_cache_hits") +
                    stat_of(fx->e, "block_cache_misses") >
                0);
    st_buf_free(&got);
}

/* Deleted keys stay deleted through flushes, compactions at every level
 * and reopen; keys deleted and set again come back with the new value. */
static void
test_lsm_tombstones_do_not_resurrect(void **state)
{
    struct fixture *fx = *state;
    fx_open(fx);
    char kb[32];
    struct st_buf got = {0};
    for (uint64_t i = 0; i < 6000; i++)
        put(fx->e, key_of(kb, sizeof kb, i), st_slice_from_cstr("old-value"));
    fx_compact(fx); /* everything in one level */
    for (uint64_t i = 0; i < 6000; i += 2)
        assert_int_equal(ops->del(fx->e, key_of(kb, sizeof kb, i), NULL),
                         ST_OK);
    /* More writes elsewhere: flushes and budget compactions move the
     * tombstones down while the old values sit below them. */
    for (uint64_t i = 10000; i < 16000; i++)
        put(fx->e, key_of(kb, sizeof kb, i), st_slice_from_cstr("filler"));
    for (int round = 0; round < 3; round++) {
        for (uint64_t i = 0; i < 6000; i++) {
            st_status s = ops->get(fx->e, key_of(kb, sizeof kb, i), &got, NULL);
            assert_int_equal(s, i % 2 ? ST_OK : ST_NOT_FOUND);
        }
        assert_int_equal(ops->del(fx->e, key_of(kb, sizeof kb, 0), NULL),
                         ST_NOT_FOUND);
        if (round == 0)
            fx_compact(fx);
        else
            fx_reopen(fx);
    }
    put(fx->e, key_of(kb, sizeof kb, 0), st_slice_from_cstr("new"));
    fx_compact(fx);
    assert_int_equal(ops->get(fx->e, key_of(kb, sizeof kb, 0), &got, NULL),
                     ST_OK);
    assert_true(st_slice_equal(st_buf_slice(&got), st_slice_from_cstr("new")));
    st_buf_free(&got);
}

/* Overwriting the same 1000 keys 100 times and compacting brings the
 * disk back to about the live data: overwritten versions leave it. */
static void
test_lsm_disk_returns_to_live_size_after_overwrites(void **state)
{
    struct fixture *fx = *state;
    fx_open(fx);
    char kb[32], vb[100];
    for (int round = 0; round < 100; round++)
        for (uint64_t i = 0; i < 1000; i++) {
            memset(vb, 'a' + round % 26, sizeof vb);
            put(fx->e, key_of(kb, sizeof kb, i), st_slice_make(vb, sizeof vb));
        }
    fx_compact(fx);
    uint64_t live = 1000 * (11 + 100);
    uint64_t tables = stat_of(fx->e, "table_bytes");
    uint64_t disk = stat_of(fx->e, "disk_bytes");
    print_message("live %" PRIu64 " table bytes %" PRIu64 " disk %" PRIu64 "\n",
                  live, tables, disk);
    assert_true(tables < live * 3 / 2);
    assert_true(disk < live * 2 + 64 * 1024); /* + WAL, manifest, blocks */
    assert_true(stat_of(fx->e, "entries") <= 1000);
}

/* sync=none: a clean close and open keep every write, and a scan sees
 * them in order. */
static void
test_lsm_reopen_keeps_unsynced_writes(void **state)
{
    struct fixture *fx = *state;
    fx->opt.memtable_bytes = 4 << 20; /* all of it in the WAL */
    fx_open(fx);
    char kb[32], vb[32];
    for (uint64_t i = 0; i < 5000; i++)
        put(fx->e, key_of(kb, sizeof kb, i), key_of(vb, sizeof vb, i * 3));
    fx_reopen(fx);
    fx->opt.memtable_bytes = 64 * 1024;
    fx_reopen(fx); /* and once more, replaying into a small memtable */
    struct st_buf got = {0};
    for (uint64_t i = 0; i < 5000; i++) {
        assert_int_equal(ops->get(fx->e, key_of(kb, sizeof kb, i), &got, NULL),
                         ST_OK);
        assert_true(
            st_slice_equal(st_buf_slice(&got), key_of(vb, sizeof vb, i * 3)));
    }
    st_buf_free(&got);
}

struct find_ext {
    const char *ext;
    char name[64];
    int count;
};

static st_status
find_file(const char *name, void *arg)
{
    struct find_ext *f = arg;
    const char *dot = strrchr(name, '.');
    if (dot != NULL && strcmp(dot + 1, f->ext) == 0) {
        snprintf(f->name, sizeof f->name, "%s", name);
        f->count++;
    }
    return ST_OK;
}

static int
count_files(const char *dir, const char *ext, char *last, size_t cap)
{
    struct find_ext f = {.ext = ext};
    assert_int_equal(io_list_dir(dir, find_file, &f, NULL), ST_OK);
    if (last != NULL)
        snprintf(last, cap, "%s", f.name);
    return f.count;
}

/* A torn last WAL record (a crash in the middle of an append) is cut
 * off at open: the writes before it are all there. */
static void
test_lsm_cuts_torn_wal_tail(void **state)
{
    struct fixture *fx = *state;
    fx->opt.memtable_bytes = 4 << 20;
    fx_open(fx);
    char kb[32];
    for (uint64_t i = 0; i < 300; i++)
        put(fx->e, key_of(kb, sizeof kb, i), st_slice_from_cstr("value"));
    fx_close(fx);
    char name[64];
    assert_int_equal(count_files(fx->dir, "log", name, sizeof name), 1);
    char *path = tu_path_join(fx->dir, name);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size - 3), 0);
    free(path);
    fx_open(fx);
    struct st_buf got = {0};
    for (uint64_t i = 0; i < 299; i++)
        assert_int_equal(ops->get(fx->e, key_of(kb, sizeof kb, i), &got, NULL),
                         ST_OK);
    assert_int_equal(ops->get(fx->e, key_of(kb, sizeof kb, 299), &got, NULL),
                     ST_NOT_FOUND);
    /* The engine goes on writing after the cut. */
    put(fx->e, key_of(kb, sizeof kb, 299), st_slice_from_cstr("again"));
    fx_reopen(fx);
    assert_int_equal(ops->get(fx->e, key_of(kb, sizeof kb, 299), &got, NULL),
                     ST_OK);
    st_buf_free(&got);
}

/* A table no manifest names (a flush or compaction cut short by a
 * crash) is deleted at open, and its number is never handed out again. */
static void
test_lsm_deletes_orphan_tables_on_open(void **state)
{
    struct fixture *fx = *state;
    fx_open(fx);
    char kb[32];
    for (uint64_t i = 0; i < 3000; i++)
        put(fx->e, key_of(kb, sizeof kb, i), st_slice_from_cstr("v"));
    fx_compact(fx);
    fx_close(fx);
    int tables = count_files(fx->dir, "sst", NULL, 0);
    assert_true(tables > 0);
    char *orphan = tu_path_join(fx->dir, "009999.sst");
    tu_write_file(orphan, (const uint8_t *)"half a table", 12);
    fx_open(fx);
    assert_int_equal(access(orphan, F_OK), -1);
    assert_int_equal(count_files(fx->dir, "sst", NULL, 0), tables);
    assert_int_equal(count_files(fx->dir, "log", NULL, 0), 1);
    struct st_buf got = {0};
    for (uint64_t i = 0; i < 3000; i += 7)
        assert_int_equal(ops->get(fx->e, key_of(kb, sizeof kb, i), &got, NULL),
                         ST_OK);
    st_buf_free(&got);
    free(orphan);
}

/* An I/O error at the n-th fsync / write / rename, wherever it lands
 * (WAL rotation, table, directory, manifest, compaction output): the
 * engine keeps serving reads, and after a restart nothing acknowledged
 * is lost and nothing deleted comes back. */
static void
fault_round(enum io_op op, uint64_t n)
{
    char *dir = tu_tmpdir_create();
    struct engine_options opt;
    small_options(&opt, false);
    opt.memtable_bytes = 16 * 1024;
    struct engine *e = NULL;
    assert_int_equal(ops->open(dir, &opt, &e, NULL), ST_OK);
    struct model *m = calloc(1, sizeof *m);
    struct tu_rng rng;
    tu_rng_init(&rng, 1000 + n);
    char kb[32];
    struct st_buf v = {0};
    bool failed = false;
    for (int step = 0; step < 1500; step++) {
        if (step == 500)
            io_fault_arm(op, n, EIO, 0);
        size_t i = tu_rng_below(&rng, 400);
        st_status s;
        if (tu_rng_below(&rng, 5) == 0) {
            s = ops->del(e, key_of(kb, sizeof kb, i), NULL);
            if (s == ST_OK || s == ST_NOT_FOUND)
                m->present[i] = false;
        } else {
            random_value(&rng, &v);
            s = ops->set(e, key_of(kb, sizeof kb, i), st_buf_slice(&v), NULL);
            if (s == ST_OK) {
                assert_true(st_buf_set(&m->val[i], st_buf_slice(&v)));
                m->present[i] = true;
            }
        }
        if (s != ST_OK && s != ST_NOT_FOUND) {
            m->unknown[i] = true;
            failed = true;
        }
        if (step % 300 == 299 && ops->compact(e, NULL) != ST_OK)
            failed = true;
        if (failed && step % 50 == 0) {
            /* Reads go on after the failure. */
            for (size_t k = 0; k < 400; k += 13)
                if (!m->unknown[k] && m->present[k]) {
                    struct st_buf got = {0};
                    assert_int_equal(
                        ops->get(e, key_of(kb, sizeof kb, k), &got, NULL),
                        ST_OK);
                    st_buf_free(&got);
                }
        }
    }
    io_fault_reset();
    ops->close(e, NULL);
    e = NULL;
    struct st_error err = {0};
    if (ops->open(dir, &opt, &e, &err) != ST_OK)
        fail_msg("%s fault %d at %" PRIu64 ": reopen: %s",
                 failed ? "after" : "without", (int)op, n, err.msg);
    for (size_t i = 0; i < 400; i++)
        check_key(e, m, i);
    assert_int_equal(ops->close(e, NULL), ST_OK);
    st_buf_free(&v);
    model_free(m);
    free(m);
    tu_tmpdir_remove(dir);
}

static void
test_lsm_survives_io_faults_in_background_work(void **state)
{
    (void)state;
    static const struct {
        enum io_op op;
        uint64_t last, step;
    } kinds[] = {
        {IO_OP_FSYNC, 10, 1}, /* WAL rotation, table, dir, manifest */
        {IO_OP_WRITE, 400, 37},
        {IO_OP_RENAME, 3, 1},
        {IO_OP_OPEN, 4, 1},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (uint64_t n = 1; n <= kinds[k].last; n += kinds[k].step)
            fault_round(kinds[k].op, n);
}

/* --- threads --- */

enum { WRITERS = 2, KEYS_PER_WRITER = 500 };

struct shared {
    struct engine *e;
    atomic_bool stop;
    atomic_uint_fast64_t version[WRITERS * KEYS_PER_WRITER];
    atomic_int failures;
};

struct worker {
    struct shared *sh;
    int id;
};

/* Values are "v<version>" padded: a reader may see any version at least
 * as new as the last one it saw acknowledged. */
static st_slice
value_of(char *buf, size_t cap, uint64_t version)
{
    int n =
        snprintf(buf, cap, "v%010" PRIu64 "-padding-padding-padding", version);
    return st_slice_make(buf, (size_t)n);
}

static void *
writer_main(void *arg)
{
    struct worker *w = arg;
    char kb[32], vb[64];
    struct tu_rng rng;
    tu_rng_init(&rng, 77 + (uint64_t)w->id);
    while (!atomic_load(&w->sh->stop)) {
        size_t k = (size_t)w->id * KEYS_PER_WRITER +
                   tu_rng_below(&rng, KEYS_PER_WRITER);
        uint64_t ver = atomic_load(&w->sh->version[k]) + 1;
        if (ops->set(w->sh->e, key_of(kb, sizeof kb, k),
                     value_of(vb, sizeof vb, ver), NULL) != ST_OK) {
            atomic_fetch_add(&w->sh->failures, 1);
            break;
        }
        atomic_store(&w->sh->version[k], ver);
    }
    return NULL;
}

static void *
reader_main(void *arg)
{
    struct worker *w = arg;
    char kb[32];
    struct st_buf got = {0};
    struct tu_rng rng;
    tu_rng_init(&rng, 99 + (uint64_t)w->id);
    while (!atomic_load(&w->sh->stop)) {
        size_t k = tu_rng_below(&rng, WRITERS * KEYS_PER_WRITER);
        uint64_t floor = atomic_load(&w->sh->version[k]);
        st_status s = ops->get(w->sh->e, key_of(kb, sizeof kb, k), &got, NULL);
        if (floor == 0)
            continue;
        if (s != ST_OK || got.len < 11 ||
            strtoull((const char *)got.ptr + 1, NULL, 10) < floor) {
            atomic_fetch_add(&w->sh->failures, 1);
            break;
        }
    }
    st_buf_free(&got);
    return NULL;
}

struct scan_order {
    struct st_buf prev;
    bool bad;
    size_t seen;
};

static bool
order_visit(void *arg, st_slice key, st_slice val)
{
    struct scan_order *o = arg;
    if ((o->seen > 0 && st_slice_compare(st_buf_slice(&o->prev), key) >= 0) ||
        val.len < 11 || val.ptr[0] != 'v')
        o->bad = true;
    assert_true(st_buf_set(&o->prev, key));
    o->seen++;
    return !o->bad;
}

static void *
scanner_main(void *arg)
{
    struct worker *w = arg;
    while (!atomic_load(&w->sh->stop)) {
        struct scan_order o = {0};
        st_status s =
            ops->scan(w->sh->e, st_slice_make(NULL, 0), st_slice_make(NULL, 0),
                      false, order_visit, &o, NULL);
        if (s != ST_OK || o.bad)
            atomic_fetch_add(&w->sh->failures, 1);
        st_buf_free(&o.prev);
    }
    return NULL;
}

static void
test_lsm_concurrent_readers_writers_and_scanners(void **state)
{
    struct fixture *fx = *state;
    fx->opt.memtable_bytes = 32 * 1024;
    fx_open(fx);
    struct shared *sh = calloc(1, sizeof *sh);
    sh->e = fx->e;
    pthread_t th[WRITERS + 3];
    struct worker w[WRITERS + 3];
    size_t n = 0;
    for (int i = 0; i < WRITERS; i++, n++) {
        w[n] = (struct worker){sh, i};
        assert_int_equal(pthread_create(&th[n], NULL, writer_main, &w[n]), 0);
    }
    for (int i = 0; i < 2; i++, n++) {
        w[n] = (struct worker){sh, i};
        assert_int_equal(pthread_create(&th[n], NULL, reader_main, &w[n]), 0);
    }
    w[n] = (struct worker){sh, 0};
    assert_int_equal(pthread_create(&th[n], NULL, scanner_main, &w[n]), 0);
    n++;
    usleep(1500 * 1000);
    fx_compact(fx); /* a manual compaction among all of it */
    usleep(500 * 1000);
    atomic_store(&sh->stop, true);
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&sh->failures), 0);
    assert_true(stat_of(fx->e, "flushes") > 0);

    fx_reopen(fx);
    char kb[32], vb[64];
    struct st_buf got = {0};
    for (size_t k = 0; k < WRITERS * KEYS_PER_WRITER; k++) {
        uint64_t ver = atomic_load(&sh->version[k]);
        if (ver == 0)
            continue;
        assert_int_equal(ops->get(fx->e, key_of(kb, sizeof kb, k), &got, NULL),
                         ST_OK);
        assert_true(
            st_slice_equal(st_buf_slice(&got), value_of(vb, sizeof vb, ver)));
    }
    st_buf_free(&got);
    free(sh);
}

/* A scan reads the state of the moment it began, while the same thread
 * overwrites, deletes and adds keys mid-scan (with flushes and
 * compactions happening under it). */
struct snapshot_scan {
    struct engine *e;
    size_t seen;
    bool bad;
};

static bool
snapshot_visit(void *arg, st_slice key, st_slice val)
{
    struct snapshot_scan *s = arg;
    char kb[32];
    if (!st_slice_equal(key, key_of(kb, sizeof kb, s->seen * 2)) ||
        !st_slice_equal(val, st_slice_from_cstr("before")))
        s->bad = true;
    if (s->seen == 10) {
        for (uint64_t i = 0; i < 4000; i++) {
            put(s->e, key_of(kb, sizeof kb, i), st_slice_from_cstr("after"));
            if (i % 10 == 4)
                assert_int_equal(ops->del(s->e, key_of(kb, sizeof kb, i), NULL),
                                 ST_OK);
        }
    }
    s->seen++;
    return !s->bad;
}

static void
test_lsm_scan_sees_a_snapshot_while_writes_continue(void **state)
{
    struct fixture *fx = *state;
    fx->opt.memtable_bytes = 16 * 1024;
    fx_open(fx);
    char kb[32];
    for (uint64_t i = 0; i < 4000; i += 2)
        put(fx->e, key_of(kb, sizeof kb, i), st_slice_from_cstr("before"));
    struct snapshot_scan s = {fx->e, 0, false};
    assert_int_equal(ops->scan(fx->e, st_slice_make(NULL, 0),
                               st_slice_make(NULL, 0), false, snapshot_visit,
                               &s, NULL),
                     ST_OK);
    assert_false(s.bad);
    assert_int_equal(s.seen, 2000);
    assert_true(stat_of(fx->e, "flushes") > 3);
}

int
main(void)
{
    log_set_level(LOG_WARN); /* one "opened" line per reopen is noise */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_lsm_matches_reference_with_tiny_memtable, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lsm_matches_reference_without_background_thread, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_lsm_flushes_and_compacts_in_background, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lsm_tombstones_do_not_resurrect,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lsm_disk_returns_to_live_size_after_overwrites, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_lsm_reopen_keeps_unsynced_writes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_lsm_cuts_torn_wal_tail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lsm_deletes_orphan_tables_on_open,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lsm_survives_io_faults_in_background_work, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lsm_concurrent_readers_writers_and_scanners, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_lsm_scan_sees_a_snapshot_while_writes_continue, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
