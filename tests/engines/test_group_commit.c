/*
 * Group commit: every request is written exactly once, in FIFO order per
 * writer, with its own status; concurrent writers share batches; the
 * caps hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "engines/group_commit.h"

enum { THREADS = 16, PER_THREAD = 40 };

struct record {
    int thread, n;
};

struct log {
    struct group_commit gc;
    pthread_mutex_t mu;  /* guards the fields below (checked by tests) */
    int last_n[THREADS]; /* last n written per thread */
    int written;         /* records written */
    int out_of_order;    /* a thread's records written out of order */
    size_t largest_batch, over_cap;
    size_t byte_cap;
    /* batches written, by size */
    unsigned long long by_size[GROUP_COMMIT_MAX_COUNT + 1];
    int in_write;  /* batch writers running at once */
    int overlap;   /* times two ran at once */
    long sleep_ns; /* simulated fsync */
};

static void
write_batch(void *ctx, struct group_commit_req **reqs, size_t count)
{
    struct log *lg = ctx;
    if (__atomic_add_fetch(&lg->in_write, 1, __ATOMIC_SEQ_CST) > 1)
        __atomic_add_fetch(&lg->overlap, 1, __ATOMIC_SEQ_CST);
    size_t bytes = 0;
    pthread_mutex_lock(&lg->mu);
    for (size_t i = 0; i < count; i++) {
        struct record *r = reqs[i]->rec;
        if (r->n != lg->last_n[r->thread] + 1)
            lg->out_of_order++;
        lg->last_n[r->thread] = r->n;
        lg->written++;
        bytes += reqs[i]->bytes;
        /* Odd records fail, to check statuses reach the right writer. */
        reqs[i]->status = r->n % 2 ? ST_IO : ST_OK;
    }
    if (count > lg->largest_batch)
        lg->largest_batch = count;
    lg->by_size[count]++;
    if (count > 1 && bytes > lg->byte_cap)
        lg->over_cap++;
    pthread_mutex_unlock(&lg->mu);
    if (lg->sleep_ns)
        nanosleep(&(struct timespec){0, lg->sleep_ns}, NULL);
    __atomic_sub_fetch(&lg->in_write, 1, __ATOMIC_SEQ_CST);
}

struct writer {
    struct log *lg;
    int thread;
    int wrong_status;
};

static void *
writer_main(void *arg)
{
    struct writer *w = arg;
    for (int n = 1; n <= PER_THREAD; n++) {
        struct record r = {w->thread, n};
        /* Thread 0 writes big records, so the byte cap comes into play. */
        struct group_commit_req req = {.rec = &r,
                                       .bytes = w->thread == 0 ? 5000 : 100};
        st_status s = group_commit_submit(&w->lg->gc, &req);
        if (s != (n % 2 ? ST_IO : ST_OK))
            w->wrong_status++;
    }
    return NULL;
}

static void
run_writers(struct log *lg)
{
    pthread_t tid[THREADS];
    struct writer w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct writer){lg, t, 0};
        assert_int_equal(pthread_create(&tid[t], NULL, writer_main, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(tid[t], NULL);
        assert_int_equal(w[t].wrong_status, 0);
    }
}

static void
init_log(struct log *lg, size_t max_count, size_t max_bytes, long sleep_ns)
{
    memset(lg, 0, sizeof *lg);
    pthread_mutex_init(&lg->mu, NULL);
    lg->byte_cap = max_bytes;
    lg->sleep_ns = sleep_ns;
    group_commit_init(&lg->gc, write_batch, lg, max_count, max_bytes);
}

static void
test_group_commit_writes_each_request_once_in_order(void **state)
{
    struct log lg;
    init_log(&lg, 64, 1 << 20, 0);
    run_writers(&lg);
    assert_int_equal(lg.written, THREADS * PER_THREAD);
    assert_int_equal(lg.out_of_order, 0);
    assert_int_equal(lg.overlap, 0);
    unsigned long long batches, requests;
    group_commit_figures(&lg.gc, &batches, &requests);
    assert_int_equal(requests, THREADS * PER_THREAD);
    group_commit_deinit(&lg.gc);
}

/* With a slow "fsync", writers arriving during it must share the next
 * batch: far fewer batches than requests. */
static void
test_group_commit_concurrent_writers_share_batches(void **state)
{
    struct log lg;
    init_log(&lg, 64, 1 << 20, 2 * 1000 * 1000);
    run_writers(&lg);
    unsigned long long batches, requests;
    group_commit_figures(&lg.gc, &batches, &requests);
    assert_int_equal(requests, THREADS * PER_THREAD);
    assert_true(batches * 4 <= requests);
    assert_true(lg.largest_batch > 1);
    assert_int_equal(lg.overlap, 0);
    group_commit_deinit(&lg.gc);
}

static void
test_group_commit_respects_count_and_byte_caps(void **state)
{
    struct log lg;
    init_log(&lg, 3, 4096, 1000 * 1000);
    run_writers(&lg);
    assert_true(lg.largest_batch <= 3);
    assert_int_equal(lg.over_cap, 0); /* a 5000-byte record goes alone */
    assert_int_equal(lg.written, THREADS * PER_THREAD);
    assert_int_equal(lg.out_of_order, 0);
    group_commit_deinit(&lg.gc);
}

/* --- the batch size histogram of group_commit_stats --- */

struct figures {
    const char *name[16];
    unsigned long long value[16];
    int count;
};

static void
collect(void *arg, const char *name, uint64_t value)
{
    struct figures *f = arg;
    assert_true(f->count < 16);
    f->name[f->count] = name;
    f->value[f->count++] = value;
}

static unsigned long long
figure(const struct figures *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->name[i], name) == 0)
            return f->value[i];
    fail_msg("no figure %s", name);
    return 0;
}

/* The histogram matches the batches the writer really saw: bucket le_N
 * counts the batches of at most N writes. */
static void
test_group_commit_stats_report_batch_sizes(void **state)
{
    struct log lg;
    init_log(&lg, 64, 1 << 20, 2 * 1000 * 1000);
    run_writers(&lg);
    assert_true(lg.largest_batch > 1); /* else the buckets prove little */
    struct figures f = {0};
    group_commit_stats(&lg.gc, collect, &f);
    unsigned long long batches = 0, below = 0;
    for (size_t n = 0; n <= GROUP_COMMIT_MAX_COUNT; n++)
        batches += lg.by_size[n];
    assert_int_equal(figure(&f, "write_batches"), batches);
    assert_int_equal(figure(&f, "batched_writes"), THREADS * PER_THREAD);
    size_t n = 0;
    for (unsigned bound = 1; bound <= 128; bound *= 2) {
        for (; n <= bound; n++)
            below += lg.by_size[n];
        char name[32];
        snprintf(name, sizeof name, "write_batches_le_%u", bound);
        assert_int_equal(figure(&f, name), below);
    }
    assert_int_equal(f.count, 2 + GROUP_COMMIT_SIZE_BOUNDS);
    group_commit_deinit(&lg.gc);
}

/* One writer alone: every batch holds one write. */
static void
test_group_commit_stats_single_writer(void **state)
{
    struct log lg;
    init_log(&lg, 64, 1 << 20, 0);
    struct writer w = {&lg, 1, 0};
    writer_main(&w);
    struct figures f = {0};
    group_commit_stats(&lg.gc, collect, &f);
    assert_int_equal(figure(&f, "write_batches"), PER_THREAD);
    assert_int_equal(figure(&f, "batched_writes"), PER_THREAD);
    assert_int_equal(figure(&f, "write_batches_le_1"), PER_THREAD);
    assert_int_equal(figure(&f, "write_batches_le_128"), PER_THREAD);
    group_commit_deinit(&lg.gc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit_writes_each_request_once_in_order),
        cmocka_unit_test(test_group_commit_concurrent_writers_share_batches),
        cmocka_unit_test(test_group_commit_respects_count_and_byte_caps),
        cmocka_unit_test(test_group_commit_stats_report_batch_sizes),
        cmocka_unit_test(test_group_commit_stats_single_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
