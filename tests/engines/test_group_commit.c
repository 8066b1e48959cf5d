/*
 * Group commit: every request is written exactly once, in FIFO order per
 * writer, with its own status; concurrent writers share batches; the
 * caps hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_commit_writes_each_request_once_in_order),
        cmocka_unit_test(test_group_commit_concurrent_writers_share_batches),
        cmocka_unit_test(test_group_commit_respects_count_and_byte_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
