/*
 * Group commit (see group_commit.h), the leader/follower queue of
 * LevelDB's DBImpl::Write and of PostgreSQL's WAL flush: the first writer
 * in line does the I/O for everyone queued behind it.
 */
#include "engines/group_commit.h"

#include <string.h>

void
group_commit_init(struct group_commit *gc, group_commit_write_fn write,
                  void *ctx, size_t max_count, size_t max_bytes)
{
    *gc = (struct group_commit){
        .write = write,
        .ctx = ctx,
        .max_count = max_count == 0 ? 1
                     : max_count > GROUP_COMMIT_MAX_COUNT
                         ? GROUP_COMMIT_MAX_COUNT
                         : max_count,
        .max_bytes = max_bytes,
    };
    pthread_mutex_init(&gc->mu, NULL);
    pthread_cond_init(&gc->cv, NULL);
}

void
group_commit_deinit(struct group_commit *gc)
{
    pthread_mutex_destroy(&gc->mu);
    pthread_cond_destroy(&gc->cv);
}

/* Detaches the batch at the head of the queue into 'batch'.
 * REQUIRES: mu held, queue not empty. */
static size_t
take_batch(struct group_commit *gc, struct group_commit_req **batch)
{
    size_t n = 0, bytes = 0;
    struct group_commit_req *r = gc->head;
    while (r != NULL && n < gc->max_count &&
           (n == 0 || bytes + r->bytes <= gc->max_bytes)) {
        bytes += r->bytes;
        batch[n++] = r;
        r = r->next;
    }
    gc->head = r;
    if (r == NULL)
        gc->tail = NULL;
    return n;
}

/* The histogram bucket of a batch of n >= 1 writes: the smallest i
 * with n <= 2^i. REQUIRES: mu held. */
static void
count_batch_size(struct group_commit *gc, size_t n)
{
    unsigned i = 0;
    while (i < GROUP_COMMIT_SIZE_BOUNDS && ((size_t)1 << i) < n)
        i++;
    if (i < GROUP_COMMIT_SIZE_BOUNDS)
        gc->by_size[i]++;
}

/* Leads one batch: the I/O happens without the queue lock, so writers
 * arriving meanwhile queue up for the next batch.
 * REQUIRES: mu held; returns with mu held. */
static void
lead_batch(struct group_commit *gc)
{
    struct group_commit_req *batch[GROUP_COMMIT_MAX_COUNT];
    size_t n = take_batch(gc, batch);
    gc->writing = true;
    pthread_mutex_unlock(&gc->mu);

    gc->write(gc->ctx, batch, n);

    pthread_mutex_lock(&gc->mu);
    for (size_t i = 0; i < n; i++)
        batch[i]->done = true;
    gc->writing = false;
    gc->batches++;
    gc->requests += n;
    count_batch_size(gc, n);
    pthread_cond_broadcast(&gc->cv);
}

st_status
group_commit_submit(struct group_commit *gc, struct group_commit_req *req)
{
    req->done = false;
    req->next = NULL;
    pthread_mutex_lock(&gc->mu);
    if (gc->tail != NULL)
        gc->tail->next = req;
    else
        gc->head = req;
    gc->tail = req;
    /* Wait until a leader wrote this request, or it is our turn to lead:
     * at the head of the queue with no batch in progress. */
    while (!req->done && (gc->writing || gc->head != req))
        pthread_cond_wait(&gc->cv, &gc->mu);
    if (!req->done)
        lead_batch(gc);
    pthread_mutex_unlock(&gc->mu);
    return req->status;
}

void
group_commit_figures(struct group_commit *gc, unsigned long long *batches,
                     unsigned long long *requests)
{
    pthread_mutex_lock(&gc->mu);
    *batches = gc->batches;
    *requests = gc->requests;
    pthread_mutex_unlock(&gc->mu);
}

void
group_commit_stats(struct group_commit *gc, engine_stat_fn fn, void *arg)
{
    static const char *const bucket_names[GROUP_COMMIT_SIZE_BOUNDS] = {
        "write_batches_le_1",  "write_batches_le_2",  "write_batches_le_4",
        "write_batches_le_8",  "write_batches_le_16", "write_batches_le_32",
        "write_batches_le_64", "write_batches_le_128"};
    unsigned long long by_size[GROUP_COMMIT_SIZE_BOUNDS], batches, requests;
    /* One snapshot under the lock, so the buckets add up to at most the
     * count; fn is called outside it. */
    pthread_mutex_lock(&gc->mu);
    batches = gc->batches;
    requests = gc->requests;
    memcpy(by_size, gc->by_size, sizeof by_size);
    pthread_mutex_unlock(&gc->mu);
    fn(arg, "write_batches", batches);
    fn(arg, "batched_writes", requests);
    unsigned long long cumulative = 0;
    for (int i = 0; i < GROUP_COMMIT_SIZE_BOUNDS; i++) {
        cumulative += by_size[i];
        fn(arg, bucket_names[i], cumulative);
    }
}
