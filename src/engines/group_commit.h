/*
 * Group commit: concurrent writers share one write and one fsync.
 *
 * Writers queue up in FIFO order. The writer at the head of the queue,
 * when no batch is in progress, becomes the leader: it takes the queued
 * requests (up to a cap), hands them to the engine's batch writer, which
 * appends them all and syncs once, and then wakes every writer of the
 * batch with its own status. Writers arriving meanwhile form the next
 * batch. Under a sync-per-write policy this turns N fsyncs into about one
 * per batch, which is what makes durable writes scale with concurrency
 * (PITFALLS.md, "Group commit and sync policies").
 *
 * Threads: group_commit_submit may be called from any number of threads;
 * the batch writer runs on one thread at a time, without the queue lock.
 */
#ifndef STRATA_ENGINES_GROUP_COMMIT_H
#define STRATA_ENGINES_GROUP_COMMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "engines/engine.h"
#include "util/status.h"

/* One writer's request, on the writer's own stack. */
struct group_commit_req {
    void *rec;            /* the engine's record; borrowed by the batch */
    size_t bytes;         /* its size, for the batch byte cap */
    st_status status;     /* set by the batch writer */
    struct st_error *err; /* the writer's, may be NULL */
    /* Private to the queue. */
    bool done;
    struct group_commit_req *next;
};

/* Writes reqs[0..count) in order as one batch and makes it durable as the
 * engine's sync policy says, then sets each request's status (and err).
 * Called with no lock held, by one thread at a time. */
typedef void (*group_commit_write_fn)(void *ctx, struct group_commit_req **reqs,
                                      size_t count);

enum {
    GROUP_COMMIT_MAX_COUNT = 256,
    /* Bounds of the batch size histogram: 1, 2, 4 ... 128. */
    GROUP_COMMIT_SIZE_BOUNDS = 8,
};

struct group_commit {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct group_commit_req *head, *tail; /* guarded by mu */
    bool writing;                         /* a leader is at work */
    size_t max_count, max_bytes;          /* batch caps */
    group_commit_write_fn write;
    void *ctx;
    /* Figures for stats, guarded by mu. */
    unsigned long long batches, requests;
    /* Batches by size: [i] holds those of 2^(i-1) < size <= 2^i writes
     * ([0]: single writes); larger ones only count in 'batches'. */
    unsigned long long by_size[GROUP_COMMIT_SIZE_BOUNDS];
};

/* Caps: a batch takes at most max_count (<= GROUP_COMMIT_MAX_COUNT)
 * requests and stops adding once it
 * holds max_bytes, so a small write never waits behind a huge batch
 * (its first request is always taken, whatever its size). */
void group_commit_init(struct group_commit *gc, group_commit_write_fn write,
                       void *ctx, size_t max_count, size_t max_bytes);
void group_commit_deinit(struct group_commit *gc);

/* Queues 'req', waits until a batch holding it was written, and returns
 * its status. */
st_status group_commit_submit(struct group_commit *gc,
                              struct group_commit_req *req);

/* Batches written and requests they held, for stats. */
void group_commit_figures(struct group_commit *gc, unsigned long long *batches,
                          unsigned long long *requests);

/* Reports, through an engine's stats callback: "write_batches" (batches
 * written), "batched_writes" (the requests they held), and the
 * cumulative histogram of batch sizes, "write_batches_le_N" for N = 1, 2,
 * 4 ... 128: batches of at most N writes (/metrics turns these into
 * strata_group_commit_batch_size). */
void group_commit_stats(struct group_commit *gc, engine_stat_fn fn, void *arg);

#endif
