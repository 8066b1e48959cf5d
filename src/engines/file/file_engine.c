/*
 * The file engine's operations (DDIA 3.1 "Hash Indexes", Bitcask; format
 * in docs/file-format.md). Invariants:
 *   - the index points only at records that were fully written (and,
 *     under sync=always, fsynced) before it was updated;
 *   - every record has a seq above all earlier ones, so replay can pick
 *     each key's newest record from any file order;
 *   - after a failed fsync nothing is written again until restart.
 * Locking is described in file_engine_impl.h.
 */
#include "engines/file/file_engine.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engines/file/file_engine_impl.h"
#include "engines/file/file_merge.h"
#include "util/deadline.h"
#include "util/log.h"

static struct file_engine *
from_base(struct engine *e)
{
    return (struct file_engine *)e;
}

struct file_seg_ref *
file_engine_find_seg(struct file_engine *fe, uint64_t id)
{
    size_t lo = 0, hi = fe->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fe->segs[mid].id == id)
            return &fe->segs[mid];
        if (fe->segs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

st_status
file_engine_add_seg(struct file_engine *fe, struct file_segment *seg,
                    uint64_t hint_bytes)
{
    if (fe->nsegs == fe->segs_cap) {
        size_t cap = fe->segs_cap ? fe->segs_cap * 2 : 16;
        struct file_seg_ref *p = realloc(fe->segs, cap * sizeof *p);
        if (p == NULL)
            return ST_NOMEM;
        fe->segs = p;
        fe->segs_cap = cap;
    }
    uint64_t id = file_segment_id(seg);
    size_t i = fe->nsegs;
    while (i > 0 && fe->segs[i - 1].id > id)
        i--;
    memmove(&fe->segs[i + 1], &fe->segs[i], (fe->nsegs - i) * sizeof *fe->segs);
    fe->segs[i] = (struct file_seg_ref){seg, id, 0, hint_bytes};
    fe->nsegs++;
    fe->active = fe->segs[fe->nsegs - 1].seg;
    return ST_OK;
}

void
file_engine_add_dead(struct file_engine *fe, uint64_t id, uint64_t len)
{
    struct file_seg_ref *ref = file_engine_find_seg(fe, id);
    if (ref != NULL)
        ref->dead_bytes += len;
}

void
file_engine_go_readonly(struct file_engine *fe, const struct st_error *why)
{
    if (atomic_load(&fe->readonly))
        return;
    fe->ro_err = *why;
    atomic_store(&fe->readonly, true);
    log_error("file: read-only until restart error=%s", why->msg);
}

st_status
file_engine_readonly_error(struct file_engine *fe, struct st_error *err)
{
    return st_error_set(err, ST_READONLY, 0,
                        "file engine is read-only until restart (%s)",
                        fe->ro_err.msg);
}

st_status
file_engine_roll_locked(struct file_engine *fe, uint64_t gap,
                        struct st_error *err)
{
    /* The old segment is synced before the new one exists, under every
     * sync policy: a closed segment is then always whole on disk, so only
     * the newest can have a torn tail (PITFALLS: keep log prefix order). */
    struct st_error e = {0};
    if (file_segment_sync(fe->active, &e) != ST_OK) {
        file_engine_go_readonly(fe, &e);
        if (err != NULL)
            *err = e;
        return ST_IO;
    }
    uint64_t id = fe->next_id + gap;
    struct file_segment *seg = NULL;
    st_status s = file_segment_create(fe->dir, id, &seg, err);
    if (s != ST_OK)
        return s;
    pthread_rwlock_wrlock(&fe->lock);
    s = file_engine_add_seg(fe, seg, 0);
    pthread_rwlock_unlock(&fe->lock);
    if (s != ST_OK) {
        file_segment_close(seg);
        return st_error_set(err, s, 0, "file engine: no memory");
    }
    fe->next_id = id + 1;
    return ST_OK;
}

/* One set or delete waiting in the group-commit queue. */
struct file_write {
    enum file_rec_type type;
    st_slice key, val; /* borrowed from the writer, who waits */
    struct file_loc loc;
    size_t enc_off; /* where its record starts in fe->enc */
};

/* Rolls the active segment when it is full, so the batch goes to a
 * segment with room. REQUIRES: write_mu. */
static st_status
prepare_append(struct file_engine *fe, struct st_error *err)
{
    if (atomic_load(&fe->readonly))
        return file_engine_readonly_error(fe, err);
    if (file_segment_size(fe->active) >= fe->opt.segment_bytes)
        return file_engine_roll_locked(fe, 0, err);
    return ST_OK;
}

/* Does 'key' exist once the batch's writes before index 'upto' are
 * applied? A delete must see a set queued ahead of it in its batch. */
static bool
exists_before(struct file_engine *fe, struct group_commit_req **reqs,
              size_t upto, st_slice key)
{
    for (size_t i = upto; i-- > 0;) {
        const struct file_write *w = reqs[i]->rec;
        if (reqs[i]->status == ST_OK && st_slice_equal(w->key, key))
            return w->type == FILE_REC_PUT;
    }
    struct file_loc old;
    pthread_rwlock_rdlock(&fe->lock);
    bool found = file_index_get(fe->index, key, &old);
    pthread_rwlock_unlock(&fe->lock);
    return found;
}

/* Encodes the batch's records one after another into fe->enc, giving
 * each the next sequence number. A delete of a missing key answers
 * ST_NOT_FOUND and writes nothing. REQUIRES: write_mu. */
static st_status
encode_batch(struct file_engine *fe, struct group_commit_req **reqs,
             size_t count, uint64_t *seq, struct st_error *err)
{
    fe->enc.len = 0;
    for (size_t i = 0; i < count; i++) {
        struct file_write *w = reqs[i]->rec;
        reqs[i]->status = ST_OK;
        if (w->type == FILE_REC_TOMBSTONE &&
            !exists_before(fe, reqs, i, w->key)) {
            reqs[i]->status = ST_NOT_FOUND;
            continue;
        }
        size_t len = (size_t)file_record_len(w->key.len, w->val.len);
        if (!st_buf_reserve(&fe->enc, len))
            return st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
        w->enc_off = fe->enc.len;
        file_record_encode(fe->enc.ptr + fe->enc.len, w->type, *seq, w->key,
                           w->val);
        w->loc = (struct file_loc){*seq, 0, 0, (uint32_t)w->val.len, false};
        fe->enc.len += len;
        (*seq)++;
    }
    return ST_OK;
}

/* Appends fe->enc with one write and, under ENGINE_SYNC_ALWAYS, one
 * fsync for the whole batch. *off is where it went. REQUIRES: write_mu. */
static st_status
append_batch(struct file_engine *fe, uint64_t *off, struct st_error *err)
{
    bool broken = false;
    struct st_error e = {0};
    st_status s = file_segment_append(
        fe->active, st_slice_make(fe->enc.ptr, fe->enc.len), off, &broken, &e);
    /* A failed write was cut back; if even the cut failed the tail is
     * unknown and nothing more may be appended behind it. */
    if (s != ST_OK && broken)
        file_engine_go_readonly(fe, &e);
    /* A failed fsync is fatal for writes: the kernel may have dropped the
     * pages, so a later fsync could "succeed" without them. */
    if (s == ST_OK && fe->opt.sync == ENGINE_SYNC_ALWAYS) {
        s = file_segment_sync(fe->active, &e);
        if (s != ST_OK)
            file_engine_go_readonly(fe, &e);
    }
    if (s != ST_OK && err != NULL)
        *err = e;
    return s;
}

/* Points 'key' at 'loc' and counts what it replaced as dead.
 * REQUIRES: write_mu and lock for writing. */
static st_status
index_put_locked(struct file_engine *fe, st_slice key,
                 const struct file_loc *loc)
{
    struct file_loc old;
    bool had_old = false;
    st_status s = file_index_put(fe->index, key, loc, &old, &had_old);
    if (s == ST_OK && had_old)
        file_engine_add_dead(fe, old.seg_id, file_loc_rec_len(&old, key.len));
    return s;
}

/* Removes 'key' and counts its record and the tombstone as dead: a merge
 * drops both. REQUIRES: write_mu and lock for writing. */
static void
index_delete_locked(struct file_engine *fe, st_slice key,
                    const struct file_loc *tombstone)
{
    const struct file_loc *old = file_index_find(fe->index, key);
    if (old != NULL) {
        file_engine_add_dead(fe, old->seg_id, file_loc_rec_len(old, key.len));
        file_index_delete(fe->index, key);
    }
    file_engine_add_dead(fe, tombstone->seg_id,
                         file_loc_rec_len(tombstone, key.len));
}

/* Makes the written batch visible, in write order.
 * REQUIRES: write_mu. */
static void
index_batch(struct file_engine *fe, struct group_commit_req **reqs,
            size_t count, uint64_t off)
{
    uint64_t seg = file_segment_id(fe->active);
    pthread_rwlock_wrlock(&fe->lock);
    for (size_t i = 0; i < count; i++) {
        struct file_write *w = reqs[i]->rec;
        if (reqs[i]->status != ST_OK)
            continue;
        w->loc.seg_id = seg;
        w->loc.off = off + w->enc_off;
        if (w->type == FILE_REC_TOMBSTONE) {
            index_delete_locked(fe, w->key, &w->loc);
        } else if (index_put_locked(fe, w->key, &w->loc) != ST_OK) {
            /* The record is on disk but the index could not take it: the
             * next open will serve it, so stop writing rather than answer
             * differently before and after a restart. */
            struct st_error nomem = {ST_NOMEM, 0, "no memory for the index"};
            file_engine_go_readonly(fe, &nomem);
            reqs[i]->status = st_error_set(reqs[i]->err, ST_NOMEM, 0,
                                           "file engine: no memory for the "
                                           "index");
        }
    }
    pthread_rwlock_unlock(&fe->lock);
}

/* Fails every request of the batch with the batch's failure. */
static void
fail_batch(struct group_commit_req **reqs, size_t count, st_status s,
           const struct st_error *e)
{
    for (size_t i = 0; i < count; i++) {
        reqs[i]->status = s;
        if (reqs[i]->err != NULL)
            *reqs[i]->err = *e;
    }
}

/* The group-commit batch writer: one write and at most one fsync for
 * every set and delete queued (group_commit.h). */
static void
write_batch(void *ctx, struct group_commit_req **reqs, size_t count)
{
    struct file_engine *fe = ctx;
    struct st_error e = {0};
    uint64_t seq, off = 0;
    pthread_mutex_lock(&fe->write_mu);
    seq = fe->next_seq;
    st_status s = prepare_append(fe, &e);
    if (s == ST_OK)
        s = encode_batch(fe, reqs, count, &seq, &e);
    if (s == ST_OK && fe->enc.len > 0)
        s = append_batch(fe, &off, &e);
    if (s == ST_OK) {
        fe->next_seq = seq;
        index_batch(fe, reqs, count, off);
        if (fe->opt.sync == ENGINE_SYNC_INTERVAL && fe->enc.len > 0)
            periodic_sync_mark_dirty(&fe->ps);
    } else {
        fail_batch(reqs, count, s, &e);
    }
    pthread_mutex_unlock(&fe->write_mu);
}

/* --sync interval: the syncer's callback. The same rule as for a sync
 * per write: after a failed fsync, no more writes. */
static void
interval_sync(void *ctx)
{
    struct file_engine *fe = ctx;
    struct st_error e = {0};
    pthread_mutex_lock(&fe->write_mu);
    if (!atomic_load(&fe->readonly) &&
        file_segment_sync(fe->active, &e) != ST_OK)
        file_engine_go_readonly(fe, &e);
    pthread_mutex_unlock(&fe->write_mu);
}

static st_status
check_lens(st_slice key, st_slice val, struct st_error *err)
{
    if (key.len == 0 || key.len > FILE_MAX_LEN || val.len > FILE_MAX_LEN)
        return st_error_set(err, ST_INVALID, 0,
                            "file engine: key of %zu or value of %zu bytes "
                            "does not fit a record (1..%llu bytes)",
                            key.len, val.len, (unsigned long long)FILE_MAX_LEN);
    return ST_OK;
}

static st_status
submit_write(struct file_engine *fe, enum file_rec_type type, st_slice key,
             st_slice val, struct st_error *err)
{
    st_status s = check_lens(key, val, err);
    if (s != ST_OK)
        return s;
    struct file_write w = {.type = type, .key = key, .val = val};
    struct group_commit_req req = {
        .rec = &w,
        .bytes = (size_t)file_record_len(key.len, val.len),
        .err = err,
    };
    return group_commit_submit(&fe->gc, &req);
}

static st_status
file_set(struct engine *e, st_slice key, st_slice val, struct st_error *err)
{
    return submit_write(from_base(e), FILE_REC_PUT, key, val, err);
}

static st_status
file_delete(struct engine *e, st_slice key, struct st_error *err)
{
    return submit_write(from_base(e), FILE_REC_TOMBSTONE, key,
                        st_slice_make(NULL, 0), err);
}

/* Makes 'val' hold exactly 'v', which borrows either val's own bytes
 * (a record read with pread into it) or a segment's mapping. */
static st_status
take_value(struct st_buf *val, st_slice v, struct st_error *err)
{
    uintptr_t p = (uintptr_t)v.ptr, lo = (uintptr_t)val->ptr;
    if (val->ptr != NULL && p >= lo && p - lo < val->cap) {
        memmove(val->ptr, v.ptr, v.len);
        val->len = v.len;
        return ST_OK;
    }
    val->len = 0;
    if (!st_buf_reserve(val, v.len))
        return st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
    if (v.len)
        memcpy(val->ptr, v.ptr, v.len);
    val->len = v.len;
    return ST_OK;
}

/* Reads the record 'loc' points at and copies its value into 'val'. The
 * CRC proves the bytes are a record; the type, seq and key prove it is
 * the record the index meant: never a wrong value. REQUIRES: lock (read),
 * held until the value is copied, since it may borrow a segment's
 * mapping, which a merge unmaps when it closes the segment. */
static st_status
read_loc(struct file_engine *fe, st_slice key, const struct file_loc *loc,
         struct st_buf *val, struct st_error *err)
{
    struct file_seg_ref *ref = file_engine_find_seg(fe, loc->seg_id);
    if (ref == NULL)
        return st_error_set(err, ST_CORRUPT, 0,
                            "file engine: index names missing segment %llu",
                            (unsigned long long)loc->seg_id);
    struct file_record rec;
    st_status s = file_segment_read(
        ref->seg, loc->off, file_loc_rec_len(loc, key.len), val, &rec, err);
    if (s != ST_OK)
        return s;
    if (rec.type != FILE_REC_PUT || rec.seq != loc->seq ||
        !st_slice_equal(rec.key, key))
        return st_error_set(err, ST_CORRUPT, 0,
                            "%s: record at offset %llu is not the one the "
                            "index points at",
                            file_segment_path(ref->seg),
                            (unsigned long long)loc->off);
    return take_value(val, rec.val, err);
}

/* The index is probed by hash alone, so the only cache misses are its
 * slot and the record (file_index.h). A record that is not the key's is
 * then either another key with the same 64-bit hash (probe on) or an
 * index pointing at the wrong record (read again, to report it). */
static st_status
file_get(struct engine *e, st_slice key, struct st_buf *val,
         struct st_error *err)
{
    struct file_engine *fe = from_base(e);
    struct file_index_probe p;
    const struct file_loc *loc;
    st_status s = ST_NOT_FOUND;
    pthread_rwlock_rdlock(&fe->lock);
    file_index_probe_start(fe->index, key, &p);
    while ((loc = file_index_probe_next(fe->index, &p)) != NULL) {
        s = read_loc(fe, key, loc, val, NULL);
        if (s == ST_OK)
            break;
        if (file_index_probe_is_key(fe->index, &p, key)) {
            s = read_loc(fe, key, loc, val, err);
            break;
        }
        s = ST_NOT_FOUND;
    }
    pthread_rwlock_unlock(&fe->lock);
    return s;
}

static st_status
file_compact(struct engine *e, struct st_error *err)
{
    return file_merge_run(from_base(e), true, err);
}

static void
file_stats(struct engine *e, engine_stat_fn fn, void *arg)
{
    struct file_engine *fe = from_base(e);
    uint64_t keys, live = 0, dead = 0, disk = 0, segs;
    pthread_rwlock_rdlock(&fe->lock);
    keys = file_index_count(fe->index);
    segs = fe->nsegs;
    for (size_t i = 0; i < fe->nsegs; i++) {
        uint64_t size = file_segment_size(fe->segs[i].seg);
        disk += size + fe->segs[i].hint_bytes;
        dead += fe->segs[i].dead_bytes;
        live += size - FILE_HEADER_LEN - fe->segs[i].dead_bytes;
    }
    pthread_rwlock_unlock(&fe->lock);
    fn(arg, "keys", keys);
    fn(arg, "live_data_bytes", live);
    fn(arg, "dead_bytes", dead);
    fn(arg, "disk_bytes", disk);
    fn(arg, "segments", segs);
    fn(arg, "merges", atomic_load(&fe->merges));
    fn(arg, "replayed_records", fe->replayed);
    fn(arg, "hint_files_used", fe->hints_used);
    fn(arg, "read_only", atomic_load(&fe->readonly));
    group_commit_stats(&fe->gc, fn, arg);
    fn(arg, "interval_syncs", periodic_sync_count(&fe->ps));
}

/* The background merger: wakes every MERGE_POLL_MS (or when told to
 * stop) and merges when enough of the closed segments is dead. */
static const long MERGE_POLL_MS = 100;

static void *
merge_thread(void *arg)
{
    struct file_engine *fe = arg;
    pthread_mutex_lock(&fe->bg_mu);
    while (!fe->bg_stop) {
        struct timespec until = deadline_after_ms(MERGE_POLL_MS);
        pthread_cond_timedwait(&fe->bg_cond, &fe->bg_mu, &until);
        if (fe->bg_stop)
            break;
        pthread_mutex_unlock(&fe->bg_mu);
        struct st_error err = {0};
        if (!atomic_load(&fe->readonly) &&
            file_merge_run(fe, false, &err) != ST_OK)
            log_warn("file: background merge failed error=%s", err.msg);
        pthread_mutex_lock(&fe->bg_mu);
    }
    pthread_mutex_unlock(&fe->bg_mu);
    return NULL;
}

static void
stop_merge_thread(struct file_engine *fe)
{
    if (!fe->bg_running)
        return;
    pthread_mutex_lock(&fe->bg_mu);
    fe->bg_stop = true;
    pthread_cond_signal(&fe->bg_cond);
    pthread_mutex_unlock(&fe->bg_mu);
    pthread_join(fe->bg_thread, NULL);
    fe->bg_running = false;
}

static void
destroy(struct file_engine *fe)
{
    periodic_sync_stop(&fe->ps); /* a failed open may have started it */
    for (size_t i = 0; i < fe->nsegs; i++)
        file_segment_close(fe->segs[i].seg);
    free(fe->segs);
    file_index_destroy(fe->index);
    st_buf_free(&fe->enc);
    pthread_cond_destroy(&fe->bg_cond);
    pthread_mutex_destroy(&fe->bg_mu);
    pthread_rwlock_destroy(&fe->lock);
    pthread_mutex_destroy(&fe->write_mu);
    group_commit_deinit(&fe->gc);
    pthread_mutex_destroy(&fe->merge_mu);
    free(fe->dir);
    free(fe);
}

static st_status
file_close(struct engine *e, struct st_error *err)
{
    if (e == NULL)
        return ST_OK;
    struct file_engine *fe = from_base(e);
    periodic_sync_stop(&fe->ps);
    stop_merge_thread(fe);
    st_status s = ST_OK;
    /* Under sync=none this is where the OS is asked to write back; after
     * a failed fsync the file must not be synced again. */
    if (!atomic_load(&fe->readonly) && fe->active != NULL)
        s = file_segment_sync(fe->active, err);
    destroy(fe);
    return s;
}

static struct file_engine *
engine_create(const char *dir, const struct engine_options *opt)
{
    struct file_engine *fe = calloc(1, sizeof *fe);
    if (fe == NULL)
        return NULL;
    fe->dir = strdup(dir);
    fe->index = file_index_create();
    if (fe->dir == NULL || fe->index == NULL) {
        file_index_destroy(fe->index);
        free(fe->dir);
        free(fe);
        return NULL;
    }
    /* Locks and condition variables with default attributes cannot fail
     * to initialise on Linux (glibc returns 0). */
    pthread_mutex_init(&fe->merge_mu, NULL);
    pthread_mutex_init(&fe->write_mu, NULL);
    /* 256 writes or 1 MiB a batch: enough to share an fsync among every
     * request thread, small enough that no write waits long behind it. */
    group_commit_init(&fe->gc, write_batch, fe, 256, 1u << 20);
    pthread_rwlock_init(&fe->lock, NULL);
    pthread_mutex_init(&fe->bg_mu, NULL);
    pthread_cond_init(&fe->bg_cond, NULL);
    fe->base.ops = &file_engine_ops;
    fe->opt = *opt;
    /* A segment must hold its header and at least one record. */
    if (fe->opt.segment_bytes < FILE_HEADER_LEN + FILE_REC_HEADER_LEN)
        fe->opt.segment_bytes = FILE_HEADER_LEN + FILE_REC_HEADER_LEN;
    if (fe->opt.merge_dead_pct > 100)
        fe->opt.merge_dead_pct = 100;
    fe->next_seq = 1;
    fe->next_id = 1;
    return fe;
}

static st_status
file_open(const char *dir, const struct engine_options *opt,
          struct engine **out, struct st_error *err)
{
    struct file_engine *fe = engine_create(dir, opt);
    if (fe == NULL)
        return st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
    st_status s = file_replay(fe, err);
    if (s == ST_OK && fe->opt.sync == ENGINE_SYNC_INTERVAL)
        s = periodic_sync_start(&fe->ps, fe->opt.sync_interval_ms,
                                interval_sync, fe, err);
    if (s == ST_OK && fe->opt.background) {
        int rc = pthread_create(&fe->bg_thread, NULL, merge_thread, fe);
        if (rc != 0)
            s = st_error_set(err, ST_IO, rc, "file engine: merge thread");
        fe->bg_running = rc == 0;
    }
    if (s != ST_OK) {
        destroy(fe);
        return s;
    }
    *out = &fe->base;
    return ST_OK;
}

const struct engine_ops file_engine_ops = {
    .name = "file",
    .sorted = false,
    .persistent = true,
    .open = file_open,
    .get = file_get,
    .set = file_set,
    .del = file_delete,
    .scan = NULL,
    .compact = file_compact,
    .stats = file_stats,
    .close = file_close,
};
