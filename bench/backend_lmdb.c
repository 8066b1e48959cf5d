/*
 * LMDB as a strata-bench backend: the anchor of a B-tree engine (DDIA
 * 3.1, "B-Trees"), here a copy-on-write B+tree in one memory-mapped file.
 * Every set and delete is its own write transaction, as every strata
 * write is its own durable operation. Under ENGINE_SYNC_NONE the
 * environment runs with MDB_NOSYNC (the OS writes back, as strata's
 * "none"); under ENGINE_SYNC_ALWAYS each commit is fsynced.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>

#include "backend.h"

/* Address space only: without MDB_WRITEMAP the file grows as pages are
 * used, so 64 GiB reserves nothing on disk and fits 1M keys many times. */
static const size_t LMDB_MAP_SIZE = (size_t)64 << 30;

struct lmdb {
    struct engine base;
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *reader; /* reset between gets, renewed for the next one */
};

static st_status
lmdb_error(struct st_error *err, int rc, const char *call)
{
    return st_error_set(err, rc == ENOMEM ? ST_NOMEM : ST_IO, 0, "lmdb %s: %s",
                        call, mdb_strerror(rc));
}

static int
open_db(struct lmdb *m, const char *dir, unsigned flags)
{
    int rc = mdb_env_set_mapsize(m->env, LMDB_MAP_SIZE);
    if (rc == 0)
        rc = mdb_env_open(m->env, dir, flags, 0640);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin(m->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &m->dbi);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (rc == 0) {
        rc = mdb_txn_begin(m->env, NULL, MDB_RDONLY, &m->reader);
        if (rc == 0)
            mdb_txn_reset(m->reader);
    }
    return rc;
}

static st_status
lmdb_open(const char *dir, const struct engine_options *opt,
          struct engine **out, struct st_error *err)
{
    struct lmdb *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return st_error_set(err, ST_NOMEM, 0, "lmdb: out of memory");
    m->base.ops = &bench_lmdb_ops;
    int rc = mdb_env_create(&m->env);
    if (rc != 0) {
        free(m);
        return lmdb_error(err, rc, "env_create");
    }
    unsigned flags = opt->sync == ENGINE_SYNC_ALWAYS ? 0 : MDB_NOSYNC;
    rc = open_db(m, dir, flags);
    if (rc != 0) {
        if (m->reader != NULL)
            mdb_txn_abort(m->reader);
        mdb_env_close(m->env);
        free(m);
        return lmdb_error(err, rc, "open");
    }
    *out = &m->base;
    return ST_OK;
}

static st_status
lmdb_get(struct engine *self, st_slice key, struct st_buf *val,
         struct st_error *err)
{
    struct lmdb *m = (struct lmdb *)self;
    int rc = mdb_txn_renew(m->reader);
    if (rc != 0)
        return lmdb_error(err, rc, "txn_renew");
    MDB_val k = {key.len, (void *)key.ptr}, v;
    rc = mdb_get(m->reader, m->dbi, &k, &v);
    st_status s = ST_OK;
    if (rc == MDB_NOTFOUND)
        s = ST_NOT_FOUND;
    else if (rc != 0)
        s = lmdb_error(err, rc, "get");
    else if (!st_buf_set(val, st_slice_make(v.mv_data, v.mv_size)))
        s = st_error_set(err, ST_NOMEM, 0, "lmdb get: no memory");
    mdb_txn_reset(m->reader); /* v pointed into the map: copied above */
    return s;
}

/* One write transaction around 'put' or 'del'. */
static st_status
write_one(struct lmdb *m, st_slice key, const st_slice *val,
          struct st_error *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(m->env, NULL, 0, &txn);
    if (rc != 0)
        return lmdb_error(err, rc, "txn_begin");
    MDB_val k = {key.len, (void *)key.ptr};
    if (val != NULL) {
        MDB_val v = {val->len, (void *)val->ptr};
        rc = mdb_put(txn, m->dbi, &k, &v, 0);
    } else {
        rc = mdb_del(txn, m->dbi, &k, NULL);
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? ST_NOT_FOUND
                                  : lmdb_error(err, rc, val ? "put" : "del");
    }
    rc = mdb_txn_commit(txn);
    return rc != 0 ? lmdb_error(err, rc, "commit") : ST_OK;
}

static st_status
lmdb_set(struct engine *self, st_slice key, st_slice val, struct st_error *err)
{
    return write_one((struct lmdb *)self, key, &val, err);
}

static st_status
lmdb_del(struct engine *self, st_slice key, struct st_error *err)
{
    return write_one((struct lmdb *)self, key, NULL, err);
}

static st_status
lmdb_scan(struct engine *self, st_slice start, st_slice end, bool has_end,
          engine_scan_fn fn, void *arg, struct st_error *err)
{
    struct lmdb *m = (struct lmdb *)self;
    int rc = mdb_txn_renew(m->reader);
    if (rc != 0)
        return lmdb_error(err, rc, "txn_renew");
    MDB_cursor *cur = NULL;
    rc = mdb_cursor_open(m->reader, m->dbi, &cur);
    MDB_val k = {start.len, (void *)start.ptr}, v;
    /* LMDB's default order is memcmp, then length: strata's order. */
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &v, start.len ? MDB_SET_RANGE : MDB_FIRST);
    while (rc == 0) {
        st_slice ks = st_slice_make(k.mv_data, k.mv_size);
        if (has_end && st_slice_compare(ks, end) >= 0)
            break;
        if (!fn(arg, ks, st_slice_make(v.mv_data, v.mv_size)))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (cur != NULL)
        mdb_cursor_close(cur);
    mdb_txn_reset(m->reader);
    return rc == 0 || rc == MDB_NOTFOUND ? ST_OK : lmdb_error(err, rc, "scan");
}

/* A clean close makes everything durable even under MDB_NOSYNC, as
 * strata's engines do on close(). */
static st_status
lmdb_close(struct engine *self, struct st_error *err)
{
    struct lmdb *m = (struct lmdb *)self;
    if (m == NULL)
        return ST_OK;
    mdb_txn_abort(m->reader);
    int rc = mdb_env_sync(m->env, 1);
    mdb_dbi_close(m->env, m->dbi);
    mdb_env_close(m->env);
    free(m);
    return rc != 0 ? lmdb_error(err, rc, "env_sync") : ST_OK;
}

const struct engine_ops bench_lmdb_ops = {
    .name = "lmdb",
    .sorted = true,
    .persistent = true,
    .open = lmdb_open,
    .get = lmdb_get,
    .set = lmdb_set,
    .del = lmdb_del,
    .scan = lmdb_scan,
    .compact = NULL,
    .stats = NULL,
    .close = lmdb_close,
};
