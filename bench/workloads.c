/*
 * The timed loops of strata-bench (workloads.h has the key scheme). Every
 * operation is timed on its own for the latency percentiles: one clock
 * read per operation, the end of one being the start of the next, which
 * costs ~20 ns and keeps the loop overhead inside what is measured, as
 * db_bench does with --histogram.
 */
#include "workloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const names[WL_COUNT_] = {
    [WL_FILLSEQ] = "fillseq",
    [WL_FILLRANDOM] = "fillrandom",
    [WL_OVERWRITE] = "overwrite",
    [WL_READRANDOM] = "readrandom",
    [WL_READMISSING] = "readmissing",
    [WL_READSEQ] = "readseq",
    [WL_DELETERANDOM] = "deleterandom",
    [WL_FILLRANDOM_SYNC] = "fillrandom-sync",
    [WL_COMPACT] = "compact",
};

/* Progress goes to stderr at most this often (a terminal) or ten times
 * less often (a log file), and only for loops longer than that. */
static const uint64_t PROGRESS_NS = 1000000000ull;

const char *
workload_name(enum workload_id id)
{
    return (unsigned)id < WL_COUNT_ ? names[id] : NULL;
}

int
workload_parse(const char *name)
{
    for (int i = 0; i < WL_COUNT_; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

uint64_t
bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, and the same sequence for the same --seed. */
static uint64_t
next_random(struct bench_keys *k)
{
    uint64_t x = k->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    k->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t
random_below(struct bench_keys *k, uint64_t n)
{
    return n ? next_random(k) % n : 0;
}

size_t
bench_keys_min_key_size(size_t num)
{
    uint64_t top = num ? 2 * (uint64_t)num - 1 : 0;
    size_t digits = 1;
    while (top >= 10) {
        top /= 10;
        digits++;
    }
    return digits;
}

bool
bench_keys_init(struct bench_keys *k, size_t num, size_t key_size,
                size_t value_size, size_t sync_num, uint64_t seed)
{
    memset(k, 0, sizeof(*k));
    k->num = num;
    k->key_size = key_size;
    k->value_size = value_size;
    k->sync_num = sync_num;
    /* splitmix64 of the seed: xorshift must not start at 0. */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    k->rng = (z ^ (z >> 31)) | 1;

    /* Values are slices at random offsets of 1 MiB of random bytes: they
     * do not compress and cost nothing to make inside the loop. */
    k->value_pool_len = (1u << 20) + 2 * value_size;
    k->live = calloc(num / 8 + 1, 1);
    k->perm = malloc(num * sizeof(*k->perm));
    k->value_pool = malloc(k->value_pool_len);
    k->key_buf = malloc(key_size);
    if (!k->live || !k->perm || !k->value_pool || !k->key_buf) {
        bench_keys_deinit(k);
        return false;
    }
    for (size_t i = 0; i < k->value_pool_len; i++)
        k->value_pool[i] = (uint8_t)next_random(k);
    return true;
}

void
bench_keys_deinit(struct bench_keys *k)
{
    free(k->live);
    free(k->perm);
    free(k->value_pool);
    free(k->key_buf);
    memset(k, 0, sizeof(*k));
}

/* Key 'i' of the key space, or the missing key after it: k->key_buf. */
static st_slice
make_key(struct bench_keys *k, size_t i, bool missing)
{
    uint64_t n = 2 * (uint64_t)i + (missing ? 1 : 0);
    memset(k->key_buf, '0', k->key_size);
    for (size_t p = k->key_size; p > 0 && n > 0; p--, n /= 10)
        k->key_buf[p - 1] = (uint8_t)('0' + n % 10);
    return st_slice_make(k->key_buf, k->key_size);
}

static st_slice
make_value(struct bench_keys *k)
{
    size_t off = random_below(k, k->value_pool_len - k->value_size + 1);
    return st_slice_make(k->value_pool + off, k->value_size);
}

static bool
is_live(const struct bench_keys *k, size_t i)
{
    return (k->live[i / 8] >> (i % 8)) & 1;
}

static void
set_live(struct bench_keys *k, size_t i, bool live)
{
    if (is_live(k, i) == live)
        return;
    k->live[i / 8] ^= (uint8_t)(1u << (i % 8));
    if (live)
        k->live_count++;
    else
        k->live_count--;
}

/* Fisher-Yates into k->perm. */
static void
shuffle(struct bench_keys *k)
{
    for (size_t i = 0; i < k->num; i++)
        k->perm[i] = (uint32_t)i;
    for (size_t i = k->num; i > 1; i--) {
        size_t j = random_below(k, i);
        uint32_t t = k->perm[i - 1];
        k->perm[i - 1] = k->perm[j];
        k->perm[j] = t;
    }
}

volatile sig_atomic_t bench_interrupted;

/* Prints progress when it is time to; false when the run must stop
 * (SIGINT/SIGTERM: bench_interrupted). */
static bool
progress(struct bench_keys *k, enum workload_id id, uint64_t done,
         uint64_t total, uint64_t now)
{
    if (bench_interrupted)
        return false;
    bool tty = k->progress_tty;
    uint64_t every = tty ? PROGRESS_NS : 10 * PROGRESS_NS;
    if (now - k->last_progress_ns < every)
        return true;
    k->last_progress_ns = now;
    fprintf(stderr, "%s%s %s: %llu/%llu (%.0f%%)%s", tty ? "\r" : "",
            k->engine_name ? k->engine_name : "?", names[id],
            (unsigned long long)done, (unsigned long long)total,
            total ? 100.0 * (double)done / (double)total : 100.0,
            tty ? "\033[K" : "\n");
    return true;
}

static st_status
interrupted(struct st_error *err)
{
    return st_error_set(err, ST_INVALID, 0, "interrupted");
}

/* One timed step: records the latency since *prev and moves *prev on. */
static inline void
tick(struct workload_result *res, uint64_t *prev)
{
    uint64_t now = bench_now_ns();
    histogram_add(&res->hist, now - *prev);
    *prev = now;
    res->ops++;
}

static bool
status_ok(st_status s)
{
    return s == ST_OK || s == ST_NOT_FOUND;
}

/* The key of step 'n' of a write or read loop. */
static size_t
key_at(struct bench_keys *k, enum workload_id id, size_t n)
{
    switch (id) {
    case WL_FILLSEQ:
        return n;
    case WL_FILLRANDOM_SYNC:
        return (size_t)random_below(k, k->num);
    default:
        return k->perm[n];
    }
}

static st_status
run_writes(enum workload_id id, struct engine *e, struct bench_keys *k,
           size_t count, struct workload_result *res, struct st_error *err)
{
    const struct engine_ops *ops = e->ops;
    uint64_t prev = bench_now_ns();
    for (size_t n = 0; n < count; n++) {
        size_t i = key_at(k, id, n);
        st_status s = ops->set(e, make_key(k, i, false), make_value(k), err);
        if (s != ST_OK)
            return s;
        set_live(k, i, true);
        tick(res, &prev);
        if ((n & 4095) == 4095 && !progress(k, id, n + 1, count, prev))
            return interrupted(err);
    }
    return ST_OK;
}

static st_status
run_reads(enum workload_id id, struct engine *e, struct bench_keys *k,
          struct workload_result *res, struct st_error *err)
{
    const struct engine_ops *ops = e->ops;
    bool missing = id == WL_READMISSING;
    struct st_buf val = {0};
    st_status s = ST_OK;
    uint64_t prev = bench_now_ns();
    for (size_t n = 0; n < k->num; n++) {
        size_t i = k->perm[n];
        s = ops->get(e, make_key(k, i, missing), &val, err);
        if (!status_ok(s))
            break;
        bool live = !missing && is_live(k, i);
        if (s == ST_OK) {
            res->found++;
            res->wrong += val.len != k->value_size;
        }
        res->expected += live;
        res->wrong += (s == ST_OK) != live;
        tick(res, &prev);
        if ((n & 4095) == 4095 && !progress(k, id, n + 1, k->num, prev)) {
            st_buf_free(&val);
            return interrupted(err);
        }
    }
    st_buf_free(&val);
    return status_ok(s) ? ST_OK : s;
}

static st_status
run_deletes(struct engine *e, struct bench_keys *k, struct workload_result *res,
            struct st_error *err)
{
    const struct engine_ops *ops = e->ops;
    uint64_t prev = bench_now_ns();
    for (size_t n = 0; n < k->num; n++) {
        size_t i = k->perm[n];
        st_status s = ops->del(e, make_key(k, i, false), err);
        if (!status_ok(s))
            return s;
        res->wrong += s == ST_NOT_FOUND && is_live(k, i);
        set_live(k, i, false);
        tick(res, &prev);
        if ((n & 4095) == 4095 &&
            !progress(k, WL_DELETERANDOM, n + 1, k->num, prev))
            return interrupted(err);
    }
    return ST_OK;
}

struct scan_state {
    struct bench_keys *k;
    struct workload_result *res;
    uint64_t prev;
};

static bool
scan_item(void *arg, st_slice key, st_slice val)
{
    struct scan_state *st = arg;
    st->res->found++;
    st->res->wrong += val.len != st->k->value_size;
    tick(st->res, &st->prev);
    if ((st->res->ops & 4095) == 0)
        return progress(st->k, WL_READSEQ, st->res->ops, st->k->live_count,
                        st->prev);
    return true;
}

static st_status
run_scan(struct engine *e, struct bench_keys *k, struct workload_result *res,
         struct st_error *err)
{
    if (!e->ops->sorted || e->ops->scan == NULL) {
        res->skipped = true;
        res->note = "skipped: unsorted engine, no scan";
        return ST_OK;
    }
    res->expected = k->live_count;
    struct scan_state st = {k, res, bench_now_ns()};
    st_status s = e->ops->scan(e, st_slice_make("", 0), st_slice_make("", 0),
                               false, scan_item, &st, err);
    if (s == ST_OK && bench_interrupted)
        return interrupted(err);
    res->wrong += res->found > res->expected ? res->found - res->expected
                                             : res->expected - res->found;
    return s;
}

/* One timed call of the engine's compact(): what reclaiming the dead
 * records costs, while the disk figure after it shows what it reclaimed. */
static st_status
run_compact(struct engine *e, struct workload_result *res,
            struct st_error *err)
{
    if (e->ops->compact == NULL) {
        res->skipped = true;
        res->note = "skipped: the engine has nothing to compact";
        return ST_OK;
    }
    uint64_t start = bench_now_ns();
    st_status s = e->ops->compact(e, err);
    histogram_add(&res->hist, bench_now_ns() - start);
    res->ops = 1;
    return s;
}

st_status
workload_run(enum workload_id id, struct engine *e, struct bench_keys *k,
             struct workload_result *res, struct st_error *err)
{
    memset(res, 0, sizeof(*res));
    histogram_init(&res->hist);
    k->last_progress_ns = bench_now_ns();
    k->progress_tty = isatty(STDERR_FILENO);
    if (id == WL_FILLRANDOM || id == WL_OVERWRITE || id == WL_READRANDOM ||
        id == WL_READMISSING || id == WL_DELETERANDOM)
        shuffle(k);

    uint64_t start = bench_now_ns();
    st_status s = ST_OK;
    switch (id) {
    case WL_FILLSEQ:
    case WL_FILLRANDOM:
    case WL_OVERWRITE:
        s = run_writes(id, e, k, k->num, res, err);
        break;
    case WL_FILLRANDOM_SYNC:
        s = run_writes(id, e, k, k->sync_num, res, err);
        break;
    case WL_READRANDOM:
    case WL_READMISSING:
        s = run_reads(id, e, k, res, err);
        break;
    case WL_READSEQ:
        s = run_scan(e, k, res, err);
        break;
    case WL_DELETERANDOM:
        s = run_deletes(e, k, res, err);
        break;
    case WL_COMPACT:
        s = run_compact(e, res, err);
        break;
    case WL_COUNT_:
        return st_error_set(err, ST_INVALID, 0, "no such workload");
    }
    res->elapsed_ns = bench_now_ns() - start;
    if (k->progress_tty && res->elapsed_ns >= PROGRESS_NS)
        fputs("\r\033[K", stderr); /* wipe the progress line */
    return s;
}
