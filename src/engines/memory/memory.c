/*
 * The memory engine (DDIA 3.1): one hash map guarded by a rwlock, so reads
 * run in parallel and writes take turns. Values are copied out under the
 * read lock, because a concurrent set may free the stored bytes.
 */
#include "engines/memory/memory.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/hashmap.h"

struct memory_engine {
    struct engine base;
    pthread_rwlock_t lock; /* guards map */
    struct hashmap *map;
};

static struct memory_engine *
from_base(struct engine *e)
{
    return (struct memory_engine *)e;
}

static st_status
memory_open(const char *dir, const struct engine_options *opt,
            struct engine **out, struct st_error *err)
{
    (void)dir;
    (void)opt;
    struct memory_engine *m = calloc(1, sizeof *m);
    if (m == NULL)
        return st_error_set(err, ST_NOMEM, 0, "memory engine: no memory");
    m->map = hashmap_create();
    if (m->map == NULL || pthread_rwlock_init(&m->lock, NULL) != 0) {
        hashmap_destroy(m->map);
        free(m);
        return st_error_set(err, ST_NOMEM, 0, "memory engine: no memory");
    }
    m->base.ops = &memory_engine_ops;
    *out = &m->base;
    return ST_OK;
}

static st_status
memory_get(struct engine *e, st_slice key, struct st_buf *val,
           struct st_error *err)
{
    struct memory_engine *m = from_base(e);
    st_status s = ST_NOT_FOUND;
    st_slice found;
    pthread_rwlock_rdlock(&m->lock);
    if (hashmap_get(m->map, key, &found))
        s = st_buf_set(val, found) ? ST_OK : ST_NOMEM;
    pthread_rwlock_unlock(&m->lock);
    if (s == ST_NOMEM)
        return st_error_set(err, s, 0, "memory engine: no memory for value");
    return s;
}

static st_status
memory_set(struct engine *e, st_slice key, st_slice val, struct st_error *err)
{
    struct memory_engine *m = from_base(e);
    pthread_rwlock_wrlock(&m->lock);
    st_status s = hashmap_put(m->map, key, val);
    pthread_rwlock_unlock(&m->lock);
    if (s != ST_OK)
        return st_error_set(err, s, 0, "memory engine: no memory for value");
    return ST_OK;
}

static st_status
memory_delete(struct engine *e, st_slice key, struct st_error *err)
{
    (void)err;
    struct memory_engine *m = from_base(e);
    pthread_rwlock_wrlock(&m->lock);
    bool found = hashmap_delete(m->map, key);
    pthread_rwlock_unlock(&m->lock);
    return found ? ST_OK : ST_NOT_FOUND;
}

static void
memory_stats(struct engine *e, engine_stat_fn fn, void *arg)
{
    struct memory_engine *m = from_base(e);
    pthread_rwlock_rdlock(&m->lock);
    uint64_t keys = hashmap_count(m->map);
    uint64_t bytes = hashmap_data_bytes(m->map);
    pthread_rwlock_unlock(&m->lock);
    fn(arg, "keys", keys);
    fn(arg, "live_data_bytes", bytes);
}

static st_status
memory_close(struct engine *e, struct st_error *err)
{
    (void)err;
    if (e == NULL)
        return ST_OK;
    struct memory_engine *m = from_base(e);
    hashmap_destroy(m->map);
    pthread_rwlock_destroy(&m->lock);
    free(m);
    return ST_OK;
}

const struct engine_ops memory_engine_ops = {
    .name = "memory",
    .sorted = false,
    .persistent = false,
    .open = memory_open,
    .get = memory_get,
    .set = memory_set,
    .del = memory_delete,
    .scan = NULL,
    .compact = NULL,
    .stats = memory_stats,
    .close = memory_close,
};
