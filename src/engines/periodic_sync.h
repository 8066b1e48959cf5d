/*
 * The interval sync policy (--sync interval:N, like Redis' appendfsync
 * everysec): writes are acknowledged once they are in the OS page cache,
 * and a background thread fsyncs at most N ms after the first write that
 * is not yet on disk. A power loss can lose up to N ms of acknowledged
 * writes (plus however long the fsync itself stalls); a crash of the
 * process loses nothing, since the kernel still has the pages.
 *
 * Threads: periodic_sync_mark_dirty may be called from any thread; the
 * sync callback runs on the syncer's own thread.
 */
#ifndef STRATA_ENGINES_PERIODIC_SYNC_H
#define STRATA_ENGINES_PERIODIC_SYNC_H

#include <pthread.h>
#include <stdbool.h>

#include "util/status.h"

/* Makes everything written so far durable; called with no lock held. */
typedef void (*periodic_sync_fn)(void *ctx);

struct periodic_sync {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running;
    bool dirty; /* mu: written since the last sync */
    bool stop;  /* mu */
    unsigned interval_ms;
    periodic_sync_fn sync;
    void *ctx;
    unsigned long long syncs; /* mu: times sync was called, for stats */
};

/* Starts the syncer thread. ST_IO when the thread cannot start. */
st_status periodic_sync_start(struct periodic_sync *ps, unsigned interval_ms,
                              periodic_sync_fn sync, void *ctx,
                              struct st_error *err);

/* Notes that something was written; the syncer makes it durable within
 * interval_ms. Cheap: one mutex round trip. */
void periodic_sync_mark_dirty(struct periodic_sync *ps);

/* Stops and joins the thread, without a last sync (the engine's close
 * syncs). Does nothing when the syncer was never started. */
void periodic_sync_stop(struct periodic_sync *ps);

unsigned long long periodic_sync_count(struct periodic_sync *ps);

#endif
