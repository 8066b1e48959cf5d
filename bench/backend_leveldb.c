/*
 * LevelDB as a strata-bench backend: the anchor of the lsm engine, which
 * follows its design (DDIA 3.1, "SSTables and LSM-Trees"). Configured as
 * db_bench is for a fair fight with strata's lsm: compression off (strata
 * does not compress, and random values would not shrink anyway), a bloom
 * filter of 10 bits per key, everything else at LevelDB's defaults (4 MiB
 * write buffer, 8 MiB block cache).
 */
#include <leveldb/c.h>
#include <stdlib.h>

#include "backend.h"

struct ldb {
    struct engine base;
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_filterpolicy_t *filter;
    leveldb_readoptions_t *read;
    leveldb_writeoptions_t *write;
};

/* Turns LevelDB's malloc'd error string into an st_error and frees it. */
static st_status
ldb_error(struct st_error *err, char *msg, const char *call)
{
    st_status s = st_error_set(err, ST_IO, 0, "leveldb %s: %s", call,
                               msg != NULL ? msg : "unknown error");
    leveldb_free(msg);
    return s;
}

static void
ldb_release(struct ldb *l)
{
    if (l->db != NULL)
        leveldb_close(l->db);
    if (l->options != NULL)
        leveldb_options_destroy(l->options);
    if (l->filter != NULL)
        leveldb_filterpolicy_destroy(l->filter);
    if (l->read != NULL)
        leveldb_readoptions_destroy(l->read);
    if (l->write != NULL)
        leveldb_writeoptions_destroy(l->write);
    free(l);
}

static st_status
ldb_open(const char *dir, const struct engine_options *opt, struct engine **out,
         struct st_error *err)
{
    struct ldb *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return st_error_set(err, ST_NOMEM, 0, "leveldb: out of memory");
    l->base.ops = &bench_leveldb_ops;
    l->options = leveldb_options_create();
    l->filter = leveldb_filterpolicy_create_bloom(10);
    l->read = leveldb_readoptions_create();
    l->write = leveldb_writeoptions_create();
    leveldb_options_set_create_if_missing(l->options, 1);
    leveldb_options_set_compression(l->options, leveldb_no_compression);
    leveldb_options_set_filter_policy(l->options, l->filter);
    leveldb_writeoptions_set_sync(l->write, opt->sync == ENGINE_SYNC_ALWAYS);

    char *msg = NULL;
    l->db = leveldb_open(l->options, dir, &msg);
    if (msg != NULL) {
        st_status s = ldb_error(err, msg, "open");
        ldb_release(l);
        return s;
    }
    *out = &l->base;
    return ST_OK;
}

static st_status
ldb_get(struct engine *self, st_slice key, struct st_buf *val,
        struct st_error *err)
{
    struct ldb *l = (struct ldb *)self;
    char *msg = NULL;
    size_t len = 0;
    char *v =
        leveldb_get(l->db, l->read, (const char *)key.ptr, key.len, &len, &msg);
    if (msg != NULL)
        return ldb_error(err, msg, "get");
    if (v == NULL)
        return ST_NOT_FOUND;
    bool ok = st_buf_set(val, st_slice_make(v, len));
    leveldb_free(v);
    return ok ? ST_OK
              : st_error_set(err, ST_NOMEM, 0, "leveldb get: no memory");
}

static st_status
ldb_set(struct engine *self, st_slice key, st_slice val, struct st_error *err)
{
    struct ldb *l = (struct ldb *)self;
    char *msg = NULL;
    leveldb_put(l->db, l->write, (const char *)key.ptr, key.len,
                (const char *)val.ptr, val.len, &msg);
    return msg != NULL ? ldb_error(err, msg, "put") : ST_OK;
}

/* LevelDB writes a tombstone whether or not the key exists, so this never
 * answers ST_NOT_FOUND; the benchmark only deletes live keys. */
static st_status
ldb_del(struct engine *self, st_slice key, struct st_error *err)
{
    struct ldb *l = (struct ldb *)self;
    char *msg = NULL;
    leveldb_delete(l->db, l->write, (const char *)key.ptr, key.len, &msg);
    return msg != NULL ? ldb_error(err, msg, "delete") : ST_OK;
}

static bool
before_end(leveldb_iterator_t *it, st_slice end, bool has_end)
{
    if (!has_end)
        return true;
    size_t len = 0;
    const char *k = leveldb_iter_key(it, &len);
    return st_slice_compare(st_slice_make(k, len), end) < 0;
}

static st_status
ldb_scan(struct engine *self, st_slice start, st_slice end, bool has_end,
         engine_scan_fn fn, void *arg, struct st_error *err)
{
    struct ldb *l = (struct ldb *)self;
    leveldb_iterator_t *it = leveldb_create_iterator(l->db, l->read);
    leveldb_iter_seek(it, (const char *)start.ptr, start.len);
    while (leveldb_iter_valid(it) && before_end(it, end, has_end)) {
        size_t klen = 0, vlen = 0;
        const char *k = leveldb_iter_key(it, &klen);
        const char *v = leveldb_iter_value(it, &vlen);
        if (!fn(arg, st_slice_make(k, klen), st_slice_make(v, vlen)))
            break;
        leveldb_iter_next(it);
    }
    char *msg = NULL;
    leveldb_iter_get_error(it, &msg);
    leveldb_iter_destroy(it);
    return msg != NULL ? ldb_error(err, msg, "iterate") : ST_OK;
}

static st_status
ldb_compact(struct engine *self, struct st_error *err)
{
    struct ldb *l = (struct ldb *)self;
    leveldb_compact_range(l->db, NULL, 0, NULL, 0);
    return ST_OK;
}

static st_status
ldb_close(struct engine *self, struct st_error *err)
{
    if (self != NULL)
        ldb_release((struct ldb *)self);
    return ST_OK;
}

const struct engine_ops bench_leveldb_ops = {
    .name = "leveldb",
    .sorted = true,
    .persistent = true,
    .open = ldb_open,
    .get = ldb_get,
    .set = ldb_set,
    .del = ldb_del,
    .scan = ldb_scan,
    .compact = ldb_compact,
    .stats = NULL,
    .close = ldb_close,
};
