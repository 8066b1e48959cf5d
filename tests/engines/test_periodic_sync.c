/*
 * The interval syncer: it syncs within the interval after a write, once
 * for all the writes of an interval, and never when nothing was written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "engines/periodic_sync.h"

static void
count_sync(void *ctx)
{
    __atomic_add_fetch((int *)ctx, 1, __ATOMIC_SEQ_CST);
}

static void
sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

static int
synced(int *n)
{
    return __atomic_load_n(n, __ATOMIC_SEQ_CST);
}

static void
test_periodic_sync_never_syncs_when_nothing_was_written(void **state)
{
    struct periodic_sync ps;
    int n = 0;
    assert_int_equal(periodic_sync_start(&ps, 10, count_sync, &n, NULL), ST_OK);
    sleep_ms(100);
    assert_int_equal(synced(&n), 0);
    periodic_sync_stop(&ps);
}

static void
test_periodic_sync_syncs_once_per_interval_of_writes(void **state)
{
    struct periodic_sync ps;
    int n = 0;
    assert_int_equal(periodic_sync_start(&ps, 50, count_sync, &n, NULL), ST_OK);
    for (int i = 0; i < 20; i++)
        periodic_sync_mark_dirty(&ps); /* one interval's worth of writes */
    assert_int_equal(synced(&n), 0);   /* not before the interval ends */
    sleep_ms(300);
    assert_int_equal(synced(&n), 1);
    assert_int_equal(periodic_sync_count(&ps), 1);
    periodic_sync_mark_dirty(&ps);
    sleep_ms(300);
    assert_int_equal(synced(&n), 2);
    periodic_sync_stop(&ps);
    periodic_sync_stop(&ps); /* a second stop does nothing */
}

static void
test_periodic_sync_stop_without_start_does_nothing(void **state)
{
    struct periodic_sync ps = {0};
    periodic_sync_stop(&ps);
    assert_int_equal(periodic_sync_count(&ps), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_periodic_sync_never_syncs_when_nothing_was_written),
        cmocka_unit_test(test_periodic_sync_syncs_once_per_interval_of_writes),
        cmocka_unit_test(test_periodic_sync_stop_without_start_does_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
