/*
 * Flush: the immutable memtable becomes a level-0 SSTable (DDIA 3.1,
 * "When the memtable gets bigger than some threshold ... write it out to
 * disk as an SSTable file"). docs/lsm-design.md, "Flush".
 *
 * Crash safety, step by step:
 *   1. build NNNNNN.sst and fsync it, then fsync the directory: the file
 *      and its name are durable before anything names it;
 *   2. one manifest edit adds the table and moves log_number to the live
 *      WAL: after it is durable, a restart reads the table and no longer
 *      replays the old WAL;
 *   3. only then delete the old WAL. A crash between 1 and 2 leaves an
 *      orphan table (deleted at open, the WAL replays the writes again);
 *      between 2 and 3 an obsolete WAL (deleted at open, not replayed).
 * Tables are always fsynced, whatever the sync policy: once the WAL is
 * gone the table is the only copy of those writes.
 */
#include <stdlib.h>

#include "engines/lsm/lsm_impl.h"
#include "util/io.h"
#include "util/log.h"

/* Calls lsm_table_builder_add for the newest version of each key of
 * 'mem': older versions in the same memtable are hidden by it for every
 * reader that will ever see the table. */
static st_status
add_newest_versions(struct lsm_table_builder *b, struct lsm_memtable *mem,
                    struct st_error *err)
{
    struct lsm_iter *it = lsm_memtable_iter_create(mem);
    if (it == NULL)
        return st_error_set(err, ST_NOMEM, 0, "lsm flush: no memory");
    struct st_buf prev = {0};
    bool have_prev = false;
    st_status s = ST_OK;
    for (it->ops->seek_first(it); it->ops->valid(it); it->ops->next(it)) {
        st_slice key = it->ops->key(it);
        if (have_prev && st_slice_equal(key, st_buf_slice(&prev)))
            continue;
        if (!st_buf_set(&prev, key)) {
            s = st_error_set(err, ST_NOMEM, 0, "lsm flush: no memory");
            break;
        }
        have_prev = true;
        s = lsm_table_builder_add(b, key, it->ops->seq(it), it->ops->type(it),
                                  it->ops->value(it), err);
        if (s != ST_OK)
            break;
    }
    if (s == ST_OK)
        s = it->ops->status(it, err);
    st_buf_free(&prev);
    lsm_iter_destroy(it);
    return s;
}

st_status
lsm_write_level0_table(struct lsm_engine *e, struct lsm_memtable *mem,
                       struct lsm_tref **out, struct st_error *err)
{
    *out = NULL;
    if (lsm_memtable_count(mem) == 0)
        return ST_OK;
    pthread_mutex_lock(&e->mu);
    uint64_t number = e->next_file++;
    pthread_mutex_unlock(&e->mu);
    char *path = lsm_table_path(e->dir, number);
    if (path == NULL)
        return st_error_set(err, ST_NOMEM, 0, "lsm flush: no memory");

    struct lsm_table_options topt;
    lsm_table_options_default(&topt);
    topt.sync = true;
    struct lsm_table_builder *b = NULL;
    struct lsm_table_props props = {0};
    struct lsm_table *table = NULL;
    st_status s = lsm_table_builder_open(path, &topt, &b, err);
    if (s != ST_OK)
        goto fail;
    s = add_newest_versions(b, mem, err);
    if (s != ST_OK) {
        lsm_table_builder_abandon(b);
        goto fail;
    }
    s = lsm_table_builder_finish(b, &props, err);
    if (s != ST_OK)
        goto fail;
    s = io_fsync_dir(e->dir, err);
    if (s != ST_OK)
        goto fail;
    s = lsm_table_open(path, number, e->cache, &table, err);
    if (s != ST_OK)
        goto fail;
    atomic_fetch_add(&e->flush_bytes_written, props.file_bytes);
    *out = lsm_tref_create(table, path, number, props.file_bytes, props.entries,
                           props.min_seq, props.max_seq,
                           st_buf_slice(&props.min_key),
                           st_buf_slice(&props.max_key));
    lsm_table_props_free(&props);
    if (*out == NULL) {
        /* path is freed by lsm_tref_create; the file is an orphan now
         * and goes at the next open. */
        return st_error_set(err, ST_NOMEM, 0, "lsm flush: no memory");
    }
    return ST_OK;

fail:
    lsm_table_props_free(&props);
    io_unlink(path, NULL);
    free(path);
    return s;
}

st_status
lsm_flush_imm(struct lsm_engine *e, struct st_error *err)
{
    pthread_mutex_lock(&e->mu);
    struct lsm_memref *imm = e->imm;
    uint64_t log_number = e->mem->wal_number;
    pthread_mutex_unlock(&e->mu);
    if (imm == NULL)
        return ST_OK;

    struct lsm_tref *t = NULL;
    st_status s = lsm_write_level0_table(e, imm->mem, &t, err);
    if (s != ST_OK)
        goto fail;

    struct lsm_table_meta meta;
    struct lsm_edit edit = {0};
    if (t != NULL) {
        lsm_tref_meta(t, 0, &meta);
        edit.added = &meta;
        edit.added_count = 1;
    }
    edit.has_log_number = true;
    edit.log_number = log_number;
    pthread_mutex_lock(&e->mu);
    edit.has_next_file = true;
    edit.next_file = e->next_file;
    pthread_mutex_unlock(&e->mu);
    edit.has_last_seq = true;
    edit.last_seq = atomic_load(&e->last_seq);
    s = lsm_manifest_apply(e->manifest, &edit, err);
    if (s != ST_OK) {
        /* Keep the file: after a failed fsync the edit may still have
         * reached the disk and name it. If it did not, the next open
         * deletes it as an orphan. */
        lsm_tref_unref(t);
        goto fail;
    }

    struct lsm_version *base = lsm_current_version(e);
    struct lsm_version_change add = {.level = 0, .table = t};
    struct lsm_version *v = lsm_version_edit(base, &add, t != NULL, NULL, 0);
    lsm_version_unref(base);
    lsm_tref_unref(t); /* the new version holds it */
    if (v == NULL) {
        s = st_error_set(err, ST_NOMEM, 0, "lsm flush: no memory");
        goto fail;
    }
    /* One step under mu: a reader must never see imm gone while the
     * table is not yet in its version (it would miss those writes). */
    pthread_mutex_lock(&e->mu);
    struct lsm_version *old = e->current;
    e->current = v;
    atomic_store(&e->l0_tables, v->count[0]);
    e->imm = NULL;
    atomic_store(&e->imm_pending, false);
    pthread_cond_broadcast(&e->cv); /* writers waiting for imm */
    pthread_mutex_unlock(&e->mu);
    lsm_version_unref(old);

    char *wal = lsm_wal_path(e->dir, imm->wal_number);
    struct st_error uerr = {0};
    if (wal == NULL || io_unlink(wal, &uerr) != ST_OK)
        log_warn("lsm: cannot delete flushed WAL, removed at next open "
                 "error=%s",
                 uerr.msg);
    free(wal);
    lsm_memref_unref(imm); /* the engine's reference, taken from e->imm */
    atomic_fetch_add(&e->flushes, 1);
    return ST_OK;

fail:
    /* The writes are still in 'imm' (readable) and in its WAL (a restart
     * replays them). Without a flush the next memtable cannot rotate, so
     * refuse writes rather than let writers wait forever. */
    lsm_go_readonly(e, err != NULL ? err : &(struct st_error){0});
    return s;
}
