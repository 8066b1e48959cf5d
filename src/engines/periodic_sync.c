/*
 * The interval syncer (see periodic_sync.h). It sleeps until a write
 * marks it dirty, then waits out the interval so that every write of the
 * interval shares one fsync, then syncs.
 */
#include "engines/periodic_sync.h"

#include <errno.h>
#include <time.h>

#include "util/deadline.h"

static void *
syncer_main(void *arg)
{
    struct periodic_sync *ps = arg;
    pthread_mutex_lock(&ps->mu);
    while (!ps->stop) {
        if (!ps->dirty) {
            pthread_cond_wait(&ps->cv, &ps->mu);
            continue;
        }
        /* Dirty: let the interval's other writes join, then sync. */
        struct timespec deadline = deadline_after_ms(ps->interval_ms);
        int rc = 0;
        while (!ps->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&ps->cv, &ps->mu, &deadline);
        if (ps->stop)
            break;
        ps->dirty = false;
        ps->syncs++;
        pthread_mutex_unlock(&ps->mu);
        ps->sync(ps->ctx);
        pthread_mutex_lock(&ps->mu);
    }
    pthread_mutex_unlock(&ps->mu);
    return NULL;
}

st_status
periodic_sync_start(struct periodic_sync *ps, unsigned interval_ms,
                    periodic_sync_fn sync, void *ctx, struct st_error *err)
{
    *ps = (struct periodic_sync){
        .interval_ms = interval_ms, .sync = sync, .ctx = ctx};
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv, NULL);
    int rc = pthread_create(&ps->thread, NULL, syncer_main, ps);
    if (rc != 0) {
        pthread_mutex_destroy(&ps->mu);
        pthread_cond_destroy(&ps->cv);
        return st_error_set(err, ST_IO, rc, "sync thread");
    }
    ps->running = true;
    return ST_OK;
}

void
periodic_sync_mark_dirty(struct periodic_sync *ps)
{
    pthread_mutex_lock(&ps->mu);
    if (!ps->dirty) {
        ps->dirty = true;
        pthread_cond_signal(&ps->cv);
    }
    pthread_mutex_unlock(&ps->mu);
}

void
periodic_sync_stop(struct periodic_sync *ps)
{
    if (!ps->running)
        return;
    pthread_mutex_lock(&ps->mu);
    ps->stop = true;
    pthread_cond_signal(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    pthread_join(ps->thread, NULL);
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv);
    ps->running = false;
}

unsigned long long
periodic_sync_count(struct periodic_sync *ps)
{
    if (!ps->running)
        return 0;
    pthread_mutex_lock(&ps->mu);
    unsigned long long n = ps->syncs;
    pthread_mutex_unlock(&ps->mu);
    return n;
}
