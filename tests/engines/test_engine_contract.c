/*
 * The engine contract: every registered engine runs the same randomized
 * model check. Random set/get/delete (and scan, on sorted engines) are
 * applied both to the engine and to a plain reference map; every answer
 * must match. Random close/reopen checks durability (persistent engines
 * keep everything; the others come back empty), and random compact()
 * calls put merges and compactions at unpredictable points.
 *
 * The seed is printed; STRATA_SEED=N replays a failure and
 * STRATA_CONTRACT_OPS=N changes the length of the run.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engines/engine.h"
#include "util/io.h"
#include "testutil.h"

enum {
    KEY_POOL = 600, /* distinct keys: small, so keys are revisited */
    MAX_KEY_LEN = 24,
    MAX_VALUE_LEN = 300,
    BIG_VALUE_LEN = 9000, /* now and then, to cross block and page sizes */
    DEFAULT_OPS = 30000,
};

/* --- the reference: one slot per pool key --- */

struct model {
    uint8_t keys[KEY_POOL][MAX_KEY_LEN];
    size_t key_len[KEY_POOL];
    bool present[KEY_POOL];
    struct st_buf value[KEY_POOL];
};

static void
model_init(struct model *m, struct tu_rng *rng)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < KEY_POOL; i++) {
        /* Random bytes, NUL included, and shared prefixes so that
         * ordering by memcmp-then-length matters. */
        m->key_len[i] = 1 + tu_rng_below(rng, MAX_KEY_LEN);
        tu_rng_fill(rng, m->keys[i], m->key_len[i]);
        if (i % 3 == 1) {
            size_t p = m->key_len[i - 1] < m->key_len[i] ? m->key_len[i - 1]
                                                         : m->key_len[i];
            memcpy(m->keys[i], m->keys[i - 1], p);
        }
    }
    /* Two equal keys would make two slots one key: give a duplicate a
     * full-length form ending in its own index, which no other has. */
    for (size_t i = 0; i < KEY_POOL; i++)
        for (size_t j = 0; j < i; j++)
            if (m->key_len[i] == m->key_len[j] &&
                memcmp(m->keys[i], m->keys[j], m->key_len[i]) == 0) {
                m->key_len[i] = MAX_KEY_LEN;
                m->keys[i][MAX_KEY_LEN - 1] = (uint8_t)i;
                m->keys[i][MAX_KEY_LEN - 2] = (uint8_t)(i >> 8);
                break;
            }
}

static void
model_clear(struct model *m)
{
    for (size_t i = 0; i < KEY_POOL; i++)
        m->present[i] = false;
}

static void
model_free(struct model *m)
{
    for (size_t i = 0; i < KEY_POOL; i++)
        st_buf_free(&m->value[i]);
}

static st_slice
model_key(const struct model *m, size_t i)
{
    return st_slice_make(m->keys[i], m->key_len[i]);
}

/* --- the engine under test --- */

struct run {
    const struct engine_ops *ops;
    struct engine_options opt;
    char *dir;
    struct engine *e;
    struct model model;
    struct tu_rng rng;
    struct st_buf got, val;
    uint64_t step;
};

static void
engine_reopen(struct run *r)
{
    struct st_error err = {0};
    if (r->e != NULL)
        assert_int_equal(r->ops->close(r->e, &err), ST_OK);
    r->e = NULL;
    st_status s = r->ops->open(r->dir, &r->opt, &r->e, &err);
    if (s != ST_OK)
        fail_msg("step %llu: reopen failed: %s", (unsigned long long)r->step,
                 err.msg);
    if (!r->ops->persistent)
        model_clear(&r->model);
}

static void
random_value(struct run *r, struct st_buf *v)
{
    size_t len = tu_rng_below(&r->rng, 50) == 0
                     ? tu_rng_below(&r->rng, BIG_VALUE_LEN)
                     : tu_rng_below(&r->rng, MAX_VALUE_LEN);
    v->len = 0;
    assert_true(st_buf_reserve(v, len + 1));
    tu_rng_fill(&r->rng, v->ptr, len);
    v->len = len;
}

static void
check_get(struct run *r, size_t i)
{
    struct st_error err = {0};
    r->got.len = 0;
    st_status s = r->ops->get(r->e, model_key(&r->model, i), &r->got, &err);
    if (!r->model.present[i]) {
        if (s != ST_NOT_FOUND)
            fail_msg("step %llu: key %zu should be absent, got status %s",
                     (unsigned long long)r->step, i, st_status_str(s));
        return;
    }
    if (s != ST_OK)
        fail_msg("step %llu: get key %zu: %s (%s)", (unsigned long long)r->step,
                 i, st_status_str(s), err.msg);
    if (!st_slice_equal(st_buf_slice(&r->got),
                        st_buf_slice(&r->model.value[i])))
        fail_msg("step %llu: key %zu: wrong value (%zu bytes, want %zu)",
                 (unsigned long long)r->step, i, r->got.len,
                 r->model.value[i].len);
}

static void
do_set(struct run *r, size_t i)
{
    struct st_error err = {0};
    random_value(r, &r->val);
    st_status s =
        r->ops->set(r->e, model_key(&r->model, i), st_buf_slice(&r->val), &err);
    if (s != ST_OK)
        fail_msg("step %llu: set: %s", (unsigned long long)r->step, err.msg);
    assert_true(st_buf_set(&r->model.value[i], st_buf_slice(&r->val)));
    r->model.present[i] = true;
}

static void
do_delete(struct run *r, size_t i)
{
    struct st_error err = {0};
    st_status s = r->ops->del(r->e, model_key(&r->model, i), &err);
    st_status want = r->model.present[i] ? ST_OK : ST_NOT_FOUND;
    if (s != want)
        fail_msg("step %llu: delete key %zu: got %s, want %s",
                 (unsigned long long)r->step, i, st_status_str(s),
                 st_status_str(want));
    r->model.present[i] = false;
}

/* --- scans, for sorted engines --- */

struct scan_check {
    struct run *r;
    size_t *expect; /* model indexes in key order */
    size_t count, seen, stop_after;
    bool mismatch;
};

static bool
scan_visit(void *arg, st_slice key, st_slice val)
{
    struct scan_check *c = arg;
    if (c->seen >= c->count) {
        c->mismatch = true;
        return false;
    }
    size_t i = c->expect[c->seen++];
    if (!st_slice_equal(key, model_key(&c->r->model, i)) ||
        !st_slice_equal(val, st_buf_slice(&c->r->model.value[i])))
        c->mismatch = true;
    return !c->mismatch && c->seen < c->stop_after;
}

static const struct model *sort_model; /* qsort has no context argument */

static int
by_key(const void *a, const void *b)
{
    return st_slice_compare(model_key(sort_model, *(const size_t *)a),
                            model_key(sort_model, *(const size_t *)b));
}

static void
do_scan(struct run *r)
{
    const struct model *m = &r->model;
    size_t lo = tu_rng_below(&r->rng, KEY_POOL);
    size_t hi = tu_rng_below(&r->rng, KEY_POOL);
    bool has_end = tu_rng_below(&r->rng, 4) != 0;
    st_slice start = model_key(m, lo), end = model_key(m, hi);
    size_t expect[KEY_POOL], n = 0;
    for (size_t i = 0; i < KEY_POOL; i++)
        if (m->present[i] && st_slice_compare(model_key(m, i), start) >= 0 &&
            (!has_end || st_slice_compare(model_key(m, i), end) < 0))
            expect[n++] = i;
    sort_model = m;
    qsort(expect, n, sizeof expect[0], by_key);
    size_t stop = 1 + tu_rng_below(&r->rng, KEY_POOL);
    struct scan_check c = {r, expect, n, 0, stop, false};
    struct st_error err = {0};
    st_status s = r->ops->scan(r->e, start, end, has_end, scan_visit, &c, &err);
    if (s != ST_OK || c.mismatch || c.seen != (n < stop ? n : stop))
        fail_msg("step %llu: scan: status %s, saw %zu of %zu, mismatch %d",
                 (unsigned long long)r->step, st_status_str(s), c.seen,
                 n < stop ? n : stop, c.mismatch);
}

/* --- the run --- */

static void
check_all(struct run *r)
{
    for (size_t i = 0; i < KEY_POOL; i++)
        check_get(r, i);
}

static void
do_compact(struct run *r)
{
    struct st_error err = {0};
    if (r->ops->compact == NULL)
        return;
    st_status s = r->ops->compact(r->e, &err);
    if (s != ST_OK)
        fail_msg("step %llu: compact: %s", (unsigned long long)r->step,
                 err.msg);
}

static void
random_step(struct run *r)
{
    size_t i = tu_rng_below(&r->rng, KEY_POOL);
    uint64_t dice = tu_rng_below(&r->rng, 1000);
    if (dice < 450)
        do_set(r, i);
    else if (dice < 750)
        check_get(r, i);
    else if (dice < 930)
        do_delete(r, i);
    else if (dice < 980 && r->ops->scan != NULL)
        do_scan(r);
    else if (dice < 980)
        check_get(r, i);
    else if (dice < 983)
        do_compact(r);
    else if (dice < 995) {
        engine_reopen(r);
        check_all(r);
    } else {
        check_get(r, i);
    }
}

static uint64_t
ops_from_env(void)
{
    const char *s = getenv("STRATA_CONTRACT_OPS");
    return s && *s ? strtoull(s, NULL, 10) : DEFAULT_OPS;
}

static void
run_contract(const struct engine_ops *ops, bool background)
{
    struct run *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->ops = ops;
    engine_options_default(&r->opt);
    /* Small files and eager merges, so a short run crosses many rolls,
     * merges and compactions. */
    r->opt.sync = ENGINE_SYNC_NONE;
    r->opt.segment_bytes = 64 * 1024;
    r->opt.merge_dead_pct = 30;
    r->opt.merge_min_dead_bytes = 32 * 1024;
    r->opt.background = background;
    r->dir = tu_tmpdir_create();
    char what[64];
    snprintf(what, sizeof what, "contract %s%s", ops->name,
             background ? " (background work on)" : "");
    tu_rng_init(&r->rng, tu_seed(what, 20261125));
    model_init(&r->model, &r->rng);
    engine_reopen(r);

    uint64_t total = ops_from_env();
    for (r->step = 0; r->step < total; r->step++)
        random_step(r);
    check_all(r);
    engine_reopen(r);
    check_all(r);

    struct st_error err = {0};
    assert_int_equal(ops->close(r->e, &err), ST_OK);
    assert_int_equal(ops->close(NULL, &err), ST_OK);
    model_free(&r->model);
    st_buf_free(&r->got);
    st_buf_free(&r->val);
    tu_tmpdir_remove(r->dir);
    free(r);
}

static void
test_engine_matches_reference_model(void **state)
{
    run_contract(*state, false);
}

static void
test_engine_matches_reference_model_with_background_work(void **state)
{
    run_contract(*state, true);
}

/* --- concurrent durable writers --- */

enum { DURABLE_THREADS = 8, DURABLE_WRITES = 150 };

struct durable_writer {
    struct engine *e;
    int id, failures;
};

/* Each thread writes its own keys and reads each back at once. */
static void *
durable_writer_main(void *arg)
{
    struct durable_writer *w = arg;
    struct st_buf got = {0};
    char k[32], v[48];
    for (int i = 0; i < DURABLE_WRITES; i++) {
        snprintf(k, sizeof k, "w%d-%d", w->id, i);
        snprintf(v, sizeof v, "value of w%d-%d", w->id, i);
        st_slice key = st_slice_from_cstr(k), val = st_slice_from_cstr(v);
        if (w->e->ops->set(w->e, key, val, NULL) != ST_OK ||
            w->e->ops->get(w->e, key, &got, NULL) != ST_OK ||
            !st_slice_equal(st_buf_slice(&got), val))
            w->failures++;
    }
    st_buf_free(&got);
    return NULL;
}

struct stat_probe {
    const char *name;
    uint64_t value;
    bool seen;
};

static void
probe_stat(void *arg, const char *name, uint64_t value)
{
    struct stat_probe *p = arg;
    if (strcmp(name, p->name) == 0) {
        p->value = value;
        p->seen = true;
    }
}

static uint64_t
engine_stat(struct engine *e, const char *name)
{
    struct stat_probe p = {name, 0, false};
    e->ops->stats(e, probe_stat, &p);
    if (!p.seen)
        fail_msg("engine reports no '%s'", name);
    return p.value;
}

/* Under sync=always concurrent writers must share fsyncs (group commit):
 * far fewer write batches than writes, and every write readable at once
 * and after a reopen. Run on persistent engines only: the others have
 * nothing to sync. */
static void
test_engine_durable_writers_share_fsyncs(void **state)
{
    const struct engine_ops *ops = *state;
    struct engine_options opt;
    engine_options_default(&opt);
    opt.sync = ENGINE_SYNC_ALWAYS;
    char *dir = tu_tmpdir_create();
    struct engine *e = NULL;
    assert_int_equal(ops->open(dir, &opt, &e, NULL), ST_OK);
    pthread_t tid[DURABLE_THREADS];
    struct durable_writer w[DURABLE_THREADS];
    for (int i = 0; i < DURABLE_THREADS; i++) {
        w[i] = (struct durable_writer){e, i, 0};
        assert_int_equal(
            pthread_create(&tid[i], NULL, durable_writer_main, &w[i]), 0);
    }
    for (int i = 0; i < DURABLE_THREADS; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    uint64_t writes = engine_stat(e, "batched_writes");
    uint64_t batches = engine_stat(e, "write_batches");
    fprintf(stderr, "%s: %llu durable writes in %llu batches\n", ops->name,
            (unsigned long long)writes, (unsigned long long)batches);
    assert_int_equal(writes, DURABLE_THREADS * DURABLE_WRITES);
    assert_true(batches * 2 <= writes);
    assert_int_equal(ops->close(e, NULL), ST_OK);
    assert_int_equal(ops->open(dir, &opt, &e, NULL), ST_OK);
    struct st_buf got = {0};
    assert_int_equal(e->ops->get(e, st_slice_from_cstr("w3-149"), &got, NULL),
                     ST_OK);
    assert_true(st_slice_equal(st_buf_slice(&got),
                               st_slice_from_cstr("value of w3-149")));
    st_buf_free(&got);
    assert_int_equal(ops->close(e, NULL), ST_OK);
    tu_tmpdir_remove(dir);
}

/* Under sync=interval a write is on disk within the interval: write,
 * wait a few intervals, then lose power (everything since the last fsync
 * dropped, docs/crash-testing.md) and reopen: the write is there. A
 * syncer that never synced would lose it. Persistent engines only. */
static void
test_engine_interval_sync_makes_writes_durable(void **state)
{
    const struct engine_ops *ops = *state;
    struct engine_options opt;
    engine_options_default(&opt);
    opt.sync = ENGINE_SYNC_INTERVAL;
    opt.sync_interval_ms = 20;
    opt.background = false;
    char *dir = tu_tmpdir_create();
    io_crash_enable();
    struct engine *e = NULL;
    assert_int_equal(ops->open(dir, &opt, &e, NULL), ST_OK);
    st_slice key = st_slice_from_cstr("k"), val = st_slice_from_cstr("v1");
    assert_int_equal(e->ops->set(e, key, val, NULL), ST_OK);
    nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
    assert_true(engine_stat(e, "interval_syncs") >= 1);

    io_crash_arm(1); /* the power goes: nothing more reaches the disk */
    ops->close(e, NULL);
    assert_int_equal(io_crash_simulate(1, IO_CRASH_DROP, NULL, NULL), ST_OK);
    io_crash_disable();

    assert_int_equal(ops->open(dir, &opt, &e, NULL), ST_OK);
    struct st_buf got = {0};
    assert_int_equal(e->ops->get(e, key, &got, NULL), ST_OK);
    assert_true(st_slice_equal(st_buf_slice(&got), val));
    st_buf_free(&got);
    assert_int_equal(ops->close(e, NULL), ST_OK);
    tu_tmpdir_remove(dir);
}

/* The vtable promises what the store relies on. */
static void
test_engine_declares_its_operations(void **state)
{
    const struct engine_ops *ops = *state;
    assert_non_null(ops->name);
    assert_non_null(ops->open);
    assert_non_null(ops->get);
    assert_non_null(ops->set);
    assert_non_null(ops->del);
    assert_non_null(ops->close);
    assert_true(ops->sorted == (ops->scan != NULL));
}

int
main(void)
{
    enum { MAX_ENGINES = 16, PER_ENGINE = 5 };
    static const struct {
        const char *what;
        CMUnitTestFunction fn;
        bool persistent_only;
    } kinds[PER_ENGINE] = {
        {"declares its operations", test_engine_declares_its_operations, false},
        {"matches the reference model", test_engine_matches_reference_model,
         false},
        {"matches the reference model with background work",
         test_engine_matches_reference_model_with_background_work, false},
        {"durable writers share fsyncs",
         test_engine_durable_writers_share_fsyncs, true},
        {"interval sync makes writes durable",
         test_engine_interval_sync_makes_writes_durable, true},
    };
    static char names[MAX_ENGINES * PER_ENGINE][96];
    struct CMUnitTest tests[MAX_ENGINES * PER_ENGINE];
    size_t n = 0;
    for (size_t i = 0; engine_registry[i] != NULL && i < MAX_ENGINES; i++) {
        for (size_t k = 0; k < PER_ENGINE; k++) {
            if (kinds[k].persistent_only && !engine_registry[i]->persistent)
                continue;
            snprintf(names[n], sizeof names[n], "%s: %s",
                     engine_registry[i]->name, kinds[k].what);
            tests[n] = (struct CMUnitTest){
                .name = names[n],
                .test_func = kinds[k].fn,
                .initial_state = (void *)engine_registry[i],
            };
            n++;
        }
    }
    return _cmocka_run_group_tests("engine contract", tests, n, NULL, NULL);
}
