/*
 * The lsm engine's operations (DDIA 3.1, "SSTables and LSM-Trees"; how
 * the pieces fit: docs/lsm-design.md).
 *
 *   set/del --> WAL (fdatasync under sync=always) --> memtable
 *                                          | full: becomes 'imm'
 *                                          v
 *   background thread: flush imm -> L0 table; compact L0 -> L1 -> ... L6
 *
 *   get:  memtable, imm, L0 newest first, then one table per level
 *   scan: one merging iterator over all of them, at a snapshot seq
 *
 * Invariants:
 *   - a write is in the WAL before it is in the memtable, and readable
 *     (last_seq) only after both;
 *   - the sources a reader consults, in the order above, hold newer
 *     versions before older ones, so the first version found wins;
 *   - after a failed write or fsync the engine refuses writes until it is
 *     reopened (PITFALLS.md: the kernel may have dropped the pages).
 * Locking: lsm_impl.h.
 */
#include "engines/lsm/lsm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engines/lsm/bloom.h"
#include "engines/lsm/compaction.h"
#include "engines/lsm/level_iter.h"
#include "engines/lsm/lsm_impl.h"
#include "engines/lsm/merge_iter.h"
#include "util/deadline.h"
#include "util/io.h"
#include "util/log.h"

/* After a failed compaction, wait this long before the next try: the
 * cause (a full disk, a damaged table) rarely goes away at once. */
static const uint64_t COMPACTION_RETRY_MS = 1000;

/* Used when the options leave the sizes at 0 (engine_options_default()
 * sets the same values). */
static const uint64_t DEFAULT_MEMTABLE = 4u << 20;
static const uint64_t DEFAULT_BLOCK_CACHE = 8u << 20;

static struct lsm_engine *
from_base(struct engine *e)
{
    return (struct lsm_engine *)e;
}

/* --- small shared helpers (declared in lsm_impl.h) --- */

static char *
numbered_path(const char *dir, uint64_t number, const char *ext)
{
    size_t len = strlen(dir) + 32;
    char *p = malloc(len);
    if (p != NULL)
        snprintf(p, len, "%s/%06" PRIu64 ".%s", dir, number, ext);
    return p;
}

char *
lsm_table_path(const char *dir, uint64_t number)
{
    return numbered_path(dir, number, "sst");
}

char *
lsm_wal_path(const char *dir, uint64_t number)
{
    return numbered_path(dir, number, "log");
}

struct lsm_memref *
lsm_memref_create(uint64_t wal_number)
{
    struct lsm_memref *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->mem = lsm_memtable_create();
    if (m->mem == NULL) {
        free(m);
        return NULL;
    }
    atomic_init(&m->refs, 1);
    m->wal_number = wal_number;
    return m;
}

void
lsm_memref_ref(struct lsm_memref *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void
lsm_memref_unref(struct lsm_memref *m)
{
    if (m == NULL ||
        atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    lsm_memtable_destroy(m->mem);
    free(m);
}

uint64_t
lsm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
lsm_go_readonly(struct lsm_engine *e, const struct st_error *why)
{
    pthread_mutex_lock(&e->mu);
    if (!atomic_load(&e->readonly)) {
        if (why != NULL)
            e->ro_err = *why;
        atomic_store(&e->readonly, true);
        log_error("lsm: writes refused until restart error=%s",
                  why != NULL ? why->msg : "unknown error");
    }
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void
lsm_worker_acquire(struct lsm_engine *e)
{
    pthread_mutex_lock(&e->mu);
    while (e->worker_busy)
        pthread_cond_wait(&e->cv, &e->mu);
    e->worker_busy = true;
    pthread_mutex_unlock(&e->mu);
}

void
lsm_worker_release(struct lsm_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->worker_busy = false;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void
lsm_install_version(struct lsm_engine *e, struct lsm_version *v)
{
    pthread_mutex_lock(&e->mu);
    struct lsm_version *old = e->current;
    e->current = v;
    atomic_store(&e->l0_tables, v->count[0]);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    lsm_version_unref(old); /* tables only it named may close now */
}

struct lsm_version *
lsm_current_version(struct lsm_engine *e)
{
    pthread_mutex_lock(&e->mu);
    struct lsm_version *v = e->current;
    lsm_version_ref(v);
    pthread_mutex_unlock(&e->mu);
    return v;
}

static st_status
readonly_error(struct lsm_engine *e, struct st_error *err)
{
    pthread_mutex_lock(&e->mu);
    st_status s = st_error_set(err, ST_READONLY, 0,
                               "lsm: writes refused until restart after: %s",
                               e->ro_err.msg);
    pthread_mutex_unlock(&e->mu);
    return s;
}

/* --- the background thread --- */

/* Whether a compaction is due now. REQUIRES: mu. */
static bool
compaction_due_locked(struct lsm_engine *e)
{
    int level;
    return lsm_compaction_score(e, e->current, &level) >= 1.0 &&
           lsm_now_ms() >= e->bg_retry_at_ms;
}

static void
timed_wait_locked(struct lsm_engine *e, uint64_t ms)
{
    struct timespec ts = deadline_after_ms(ms);
    pthread_cond_timedwait(&e->cv, &e->mu, &ts);
}

/* One flush or one compaction at a time, flushes first: a full imm
 * blocks writers, a due compaction only slows them later. */
static void *
background_main(void *arg)
{
    struct lsm_engine *e = arg;
    pthread_setname_np(pthread_self(), "lsm-background");
    pthread_mutex_lock(&e->mu);
    for (;;) {
        bool ro = atomic_load(&e->readonly);
        bool flush = e->imm != NULL && !ro;
        bool compact =
            !flush && !ro && !e->shutting_down && compaction_due_locked(e);
        if (!flush && !compact) {
            if (e->shutting_down)
                break;
            /* A timed wait: a compaction postponed after an error must
             * be retried even if nothing else happens. */
            timed_wait_locked(e, COMPACTION_RETRY_MS);
            continue;
        }
        if (e->worker_busy) {
            pthread_cond_wait(&e->cv, &e->mu);
            continue;
        }
        e->worker_busy = true;
        pthread_mutex_unlock(&e->mu);

        struct st_error err = {0};
        if (flush) {
            if (lsm_flush_imm(e, &err) != ST_OK)
                log_error("lsm: flush failed error=%s", err.msg);
        } else {
            bool did;
            if (lsm_compact_once(e, &did, &err) != ST_OK &&
                err.code != ST_BUSY) {
                log_error("lsm: compaction failed retry_ms=%" PRIu64
                          " error=%s",
                          COMPACTION_RETRY_MS, err.msg);
                pthread_mutex_lock(&e->mu);
                e->bg_retry_at_ms = lsm_now_ms() + COMPACTION_RETRY_MS;
                pthread_mutex_unlock(&e->mu);
            }
        }

        pthread_mutex_lock(&e->mu);
        e->worker_busy = false;
        pthread_cond_broadcast(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* Without the background thread, a writer that needs room does the work
 * itself: a flush, or (when level 0 is at the stop count) compactions. */
static st_status
work_inline(struct lsm_engine *e, bool compact, struct st_error *err)
{
    lsm_worker_acquire(e);
    st_status s = lsm_flush_imm(e, err);
    if (s == ST_OK && compact) {
        bool did = true;
        while (s == ST_OK && did) {
            struct lsm_version *v = lsm_current_version(e);
            bool stop = v->count[0] >= LSM_L0_STOP;
            lsm_version_unref(v);
            if (!stop)
                break;
            s = lsm_compact_once(e, &did, err);
        }
    }
    lsm_worker_release(e);
    return s;
}

/* --- the write path --- */

/* Makes the memtable immutable and starts a new WAL + memtable.
 * REQUIRES: write_mu, imm == NULL. */
static st_status
switch_memtable(struct lsm_engine *e, struct st_error *err)
{
    /* Keep the log prefix order (PITFALLS.md): the old WAL is durable
     * before anything lands in the new one. Free under sync=always. */
    st_status s = lsm_wal_sync(e->wal, err);
    if (s != ST_OK) {
        lsm_go_readonly(e, err);
        return s;
    }
    pthread_mutex_lock(&e->mu);
    uint64_t number = e->next_file++;
    pthread_mutex_unlock(&e->mu);
    char *path = lsm_wal_path(e->dir, number);
    struct lsm_memref *mem = lsm_memref_create(number);
    struct lsm_wal *wal = NULL;
    if (path == NULL || mem == NULL) {
        s = st_error_set(err, ST_NOMEM, 0, "lsm: no memory for a memtable");
    } else {
        s = lsm_wal_create(path, &wal, err);
    }
    free(path);
    if (s != ST_OK) {
        lsm_memref_unref(mem);
        return s; /* the write fails; the next one tries again */
    }
    lsm_wal_close(e->wal, false, NULL); /* synced above */
    e->wal = wal;
    atomic_store(&e->wal_bytes, lsm_wal_bytes(wal));
    pthread_mutex_lock(&e->mu);
    e->imm = e->mem;
    e->mem = mem;
    atomic_store(&e->imm_pending, true);
    atomic_store(&e->mem_bytes, 0);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return ST_OK;
}

/* LevelDB's MakeRoomForWrite. REQUIRES: write_mu. */
static st_status
make_room(struct lsm_engine *e, bool force, struct st_error *err)
{
    bool slowed = false, stalled = false;
    /* The common case without taking mu: room left, level 0 fine. */
    if (!force && !atomic_load(&e->readonly) &&
        atomic_load(&e->mem_bytes) < e->sizes.memtable_bytes &&
        atomic_load(&e->l0_tables) < LSM_L0_SLOWDOWN)
        return ST_OK;
    for (;;) {
        if (atomic_load(&e->readonly))
            return readonly_error(e, err);
        pthread_mutex_lock(&e->mu);
        size_t l0 = e->current->count[0];
        bool imm = e->imm != NULL;
        pthread_mutex_unlock(&e->mu);
        bool bg = e->opt.background;
        if (bg && !slowed && l0 >= LSM_L0_SLOWDOWN) {
            /* Level 0 piles up: give compaction some of our time, 1 ms
             * per write, rather than stopping cold at LSM_L0_STOP. */
            slowed = true;
            atomic_fetch_add(&e->write_stalls, 1);
            nanosleep(&(struct timespec){0, 1000000}, NULL);
            continue;
        }
        if (!force && atomic_load(&e->mem_bytes) < e->sizes.memtable_bytes)
            return ST_OK;
        if (force && lsm_memtable_count(e->mem->mem) == 0)
            return ST_OK;
        if (imm || l0 >= LSM_L0_STOP) {
            if (!stalled && !force)
                atomic_fetch_add(&e->write_stalls, 1);
            stalled = true;
            if (!bg) {
                st_status s = work_inline(e, l0 >= LSM_L0_STOP, err);
                if (s != ST_OK)
                    return s;
                continue;
            }
            pthread_mutex_lock(&e->mu);
            while ((e->imm != NULL || e->current->count[0] >= LSM_L0_STOP) &&
                   !atomic_load(&e->readonly))
                pthread_cond_wait(&e->cv, &e->mu);
            pthread_mutex_unlock(&e->mu);
            continue;
        }
        st_status s = switch_memtable(e, err);
        if (s != ST_OK || force)
            return s;
    }
}

/* What a reader reads: the memtables and the version of one moment, and
 * the last seq written by then. Taken in one step under mu, so that a
 * flush (imm gone, its table in the version) is seen whole or not at all;
 * held by reference, so the reader needs no lock afterwards. */
struct view {
    struct lsm_memref *mem, *imm;
    struct lsm_version *v;
    uint64_t seq;
};

static void
view_acquire(struct lsm_engine *e, struct view *r)
{
    pthread_mutex_lock(&e->mu);
    r->mem = e->mem;
    r->imm = e->imm;
    r->v = e->current;
    lsm_memref_ref(r->mem);
    if (r->imm != NULL)
        lsm_memref_ref(r->imm);
    lsm_version_ref(r->v);
    r->seq = atomic_load_explicit(&e->last_seq, memory_order_acquire);
    pthread_mutex_unlock(&e->mu);
}

static void
view_release(struct view *r)
{
    lsm_version_unref(r->v);
    lsm_memref_unref(r->imm);
    lsm_memref_unref(r->mem);
}

/* The newest version of 'key' across memtables and tables. ST_OK with
 * *type (a PUT's value copied into 'val'; a DELETE leaves 'val' alone),
 * or ST_NOT_FOUND ('val' untouched). */
static st_status
lookup(struct lsm_engine *e, st_slice key, enum lsm_value_type *type,
       struct st_buf *val, struct st_error *err)
{
    struct view r;
    view_acquire(e, &r);
    struct lsm_version *v = r.v;
    st_status s = ST_NOT_FOUND;
    st_slice found;
    if (lsm_memtable_get(r.mem->mem, key, type, &found) ||
        (r.imm != NULL && lsm_memtable_get(r.imm->mem, key, type, &found))) {
        s = ST_OK;
        if (*type == LSM_TYPE_PUT && !st_buf_set(val, found))
            s = st_error_set(err, ST_NOMEM, 0, "lsm: no memory for a value");
        goto done;
    }
    uint64_t hash = 0;
    bool hashed = false;
    for (int l = 0; l < LSM_LEVELS; l++) {
        size_t i = 0, end = v->count[l];
        if (l > 0) {
            /* Disjoint and sorted: only one table can hold the key. */
            i = lsm_version_find(v, l, key);
            end = i + 1 < end ? i + 1 : end;
        }
        for (; i < end; i++) {
            struct lsm_tref *t = v->files[l][i];
            if (st_slice_compare(key, st_buf_slice(&t->min_key)) < 0 ||
                st_slice_compare(key, st_buf_slice(&t->max_key)) > 0)
                continue;
            /* One hash for every table, one filter probe per table. */
            if (!hashed) {
                hash = lsm_bloom_hash(key);
                hashed = true;
            }
            if (!lsm_table_may_contain_hash(t->table, hash)) {
                atomic_fetch_add_explicit(&e->bloom_negatives, 1,
                                          memory_order_relaxed);
                continue;
            }
            s = lsm_table_get_unfiltered(t->table, key, type, val, err);
            if (s != ST_NOT_FOUND)
                goto done;
        }
    }
done:
    view_release(&r);
    return s;
}

/* One set or delete waiting in the group-commit queue. */
struct lsm_write {
    enum lsm_value_type type;
    st_slice key, val; /* borrowed from the writer, who waits */
};

/* Does 'key' exist once the batch's writes before index 'upto' are
 * applied? A delete must see a set queued ahead of it in its batch.
 * REQUIRES: write_mu. */
static st_status
exists_before(struct lsm_engine *e, struct group_commit_req **reqs, size_t upto,
              st_slice key, struct st_error *err)
{
    for (size_t i = upto; i-- > 0;) {
        const struct lsm_write *w = reqs[i]->rec;
        if (reqs[i]->status == ST_OK && st_slice_equal(w->key, key))
            return w->type == LSM_TYPE_PUT ? ST_OK : ST_NOT_FOUND;
    }
    enum lsm_value_type type;
    struct st_buf tmp = {0};
    st_status s = lookup(e, key, &type, &tmp, err);
    st_buf_free(&tmp);
    if (s == ST_OK && type == LSM_TYPE_DELETE)
        s = ST_NOT_FOUND;
    return s;
}

/* Turns the batch into WAL entries with consecutive sequence numbers; a
 * delete of a missing key answers ST_NOT_FOUND and writes nothing.
 * Returns the number of entries. REQUIRES: write_mu. */
static size_t
collect_entries(struct lsm_engine *e, struct group_commit_req **reqs,
                size_t count, struct lsm_wal_entry *we, st_status *fail,
                struct st_error *err)
{
    size_t n = 0;
    uint64_t seq = atomic_load(&e->last_seq);
    for (size_t i = 0; i < count; i++) {
        const struct lsm_write *w = reqs[i]->rec;
        reqs[i]->status = ST_OK;
        if (w->type == LSM_TYPE_DELETE) {
            st_status s = exists_before(e, reqs, i, w->key, err);
            if (s == ST_NOT_FOUND) {
                reqs[i]->status = ST_NOT_FOUND;
                continue;
            }
            if (s != ST_OK) {
                *fail = s;
                break;
            }
        }
        we[n++] = (struct lsm_wal_entry){
            .seq = ++seq, .type = w->type, .key = w->key, .val = w->val};
    }
    return n;
}

/* Appends the entries as one WAL record (all or nothing on replay) with
 * at most one fsync, then adds them to the memtable. REQUIRES: write_mu. */
static st_status
apply_entries(struct lsm_engine *e, const struct lsm_wal_entry *we, size_t n,
              struct st_error *err)
{
    st_status s =
        lsm_wal_append(e->wal, we, n, e->opt.sync == ENGINE_SYNC_ALWAYS, err);
    if (s != ST_OK) {
        lsm_go_readonly(e, err);
        return s;
    }
    for (size_t i = 0; i < n; i++) {
        s = lsm_memtable_add(e->mem->mem, we[i].seq, we[i].type, we[i].key,
                             we[i].val);
        if (s != ST_OK) {
            /* In the WAL but not readable: a restart would show it, so
             * stop here rather than serve a state that cannot come back. */
            s = st_error_set(err, s, 0, "lsm: no memory for the memtable");
            lsm_go_readonly(e, err);
            return s;
        }
        atomic_fetch_add(&e->mem_bytes, lsm_entry_bytes(we[i].key, we[i].val));
        atomic_fetch_add_explicit(&e->user_bytes_written,
                                  we[i].key.len + we[i].val.len,
                                  memory_order_relaxed);
    }
    /* Readers see the whole batch at once, never a part of it. */
    atomic_store_explicit(&e->last_seq, we[n - 1].seq, memory_order_release);
    atomic_store(&e->wal_bytes, lsm_wal_bytes(e->wal));
    return ST_OK;
}

/* The group-commit batch writer: one WAL append and at most one fsync
 * for every set and delete queued (group_commit.h). */
static void
write_batch(void *ctx, struct group_commit_req **reqs, size_t count)
{
    struct lsm_engine *e = ctx;
    struct lsm_wal_entry we[GROUP_COMMIT_MAX_COUNT];
    struct st_error err = {0};
    pthread_mutex_lock(&e->write_mu);
    st_status s = make_room(e, false, &err);
    size_t n = 0;
    if (s == ST_OK)
        n = collect_entries(e, reqs, count, we, &s, &err);
    if (s == ST_OK && n > 0)
        s = apply_entries(e, we, n, &err);
    pthread_mutex_unlock(&e->write_mu);
    if (s == ST_OK && n > 0 && e->opt.sync == ENGINE_SYNC_INTERVAL)
        periodic_sync_mark_dirty(&e->ps);
    if (s == ST_OK)
        return;
    for (size_t i = 0; i < count; i++) {
        reqs[i]->status = s;
        if (reqs[i]->err != NULL)
            *reqs[i]->err = err;
    }
}

/* --sync interval: the syncer's callback. As with a sync per write, a
 * failed fsync ends all writing (PITFALLS.md). */
static void
interval_sync(void *ctx)
{
    struct lsm_engine *e = ctx;
    struct st_error err = {0};
    pthread_mutex_lock(&e->write_mu);
    if (!atomic_load(&e->readonly) && lsm_wal_sync(e->wal, &err) != ST_OK)
        lsm_go_readonly(e, &err);
    pthread_mutex_unlock(&e->write_mu);
}

static st_status
submit_write(struct lsm_engine *e, enum lsm_value_type type, st_slice key,
             st_slice val, struct st_error *err)
{
    struct lsm_write w = {type, key, val};
    struct group_commit_req req = {
        .rec = &w, .bytes = key.len + val.len, .err = err};
    return group_commit_submit(&e->gc, &req);
}

/* --- the operations --- */

static st_status
lsm_get(struct engine *base, st_slice key, struct st_buf *val,
        struct st_error *err)
{
    enum lsm_value_type type;
    /* 'val' is written only for a PUT: a tombstone leaves it as it was. */
    st_status s = lookup(from_base(base), key, &type, val, err);
    if (s == ST_OK && type == LSM_TYPE_DELETE)
        s = ST_NOT_FOUND;
    return s;
}

static st_status
lsm_set(struct engine *base, st_slice key, st_slice val, struct st_error *err)
{
    return submit_write(from_base(base), LSM_TYPE_PUT, key, val, err);
}

static st_status
lsm_del(struct engine *base, st_slice key, struct st_error *err)
{
    return submit_write(from_base(base), LSM_TYPE_DELETE, key,
                        st_slice_make(NULL, 0), err);
}

static st_status
lsm_scan(struct engine *base, st_slice start, st_slice end, bool has_end,
         engine_scan_fn fn, void *arg, struct st_error *err)
{
    struct lsm_engine *e = from_base(base);
    struct view r;
    view_acquire(e, &r);
    struct lsm_version *v = r.v;

    size_t cap = 2 + v->count[0] + LSM_LEVELS, n = 0;
    struct lsm_iter **children = calloc(cap, sizeof *children);
    struct lsm_iter *it = NULL;
    st_status s = ST_OK;
    if (children == NULL)
        goto nomem;
    if ((children[n++] = lsm_memtable_iter_create(r.mem->mem)) == NULL)
        goto nomem;
    if (r.imm != NULL &&
        (children[n++] = lsm_memtable_iter_create(r.imm->mem)) == NULL)
        goto nomem;
    for (size_t i = 0; i < v->count[0]; i++)
        if ((children[n++] = lsm_table_iter_create(v->files[0][i]->table)) ==
            NULL)
            goto nomem;
    for (int l = 1; l < LSM_LEVELS; l++)
        if (v->count[l] > 0 &&
            (children[n++] = lsm_level_iter_create(v, l)) == NULL)
            goto nomem;
    it = lsm_merge_iter_create(children, n);
    n = 0; /* owned by 'it' now, or destroyed */
    if (it == NULL)
        goto nomem;

    struct st_buf prev = {0};
    bool have_prev = false;
    for (it->ops->seek(it, start); it->ops->valid(it); it->ops->next(it)) {
        st_slice key = it->ops->key(it);
        if (has_end && st_slice_compare(key, end) >= 0)
            break;
        /* The snapshot: writes after r.seq are invisible to this scan,
         * even when they land in the memtable it reads. */
        if (it->ops->seq(it) > r.seq)
            continue;
        if (have_prev && st_slice_equal(key, st_buf_slice(&prev)))
            continue; /* an older version */
        if (!st_buf_set(&prev, key)) {
            st_buf_free(&prev);
            goto nomem;
        }
        have_prev = true;
        if (it->ops->type(it) == LSM_TYPE_PUT &&
            !fn(arg, key, it->ops->value(it)))
            break;
    }
    st_buf_free(&prev);
    s = it->ops->status(it, err);
    goto done;
nomem:
    s = st_error_set(err, ST_NOMEM, 0, "lsm scan: no memory");
done:
    for (size_t i = 0; i < n; i++)
        lsm_iter_destroy(children[i]);
    free(children);
    lsm_iter_destroy(it);
    view_release(&r);
    return s;
}

static st_status
lsm_compact(struct engine *base, struct st_error *err)
{
    struct st_error local = {0};
    if (err == NULL)
        err = &local; /* the read-only reason is logged from it */
    struct lsm_engine *e = from_base(base);
    pthread_mutex_lock(&e->write_mu);
    st_status s = make_room(e, true, err);
    pthread_mutex_unlock(&e->write_mu);
    if (s != ST_OK)
        return s;
    lsm_worker_acquire(e);
    s = lsm_flush_imm(e, err);
    if (s == ST_OK)
        s = lsm_compact_all(e, err);
    lsm_worker_release(e);
    return s;
}

static void
lsm_stats(struct engine *base, engine_stat_fn fn, void *arg)
{
    static const char *const table_names[LSM_LEVELS] = {
        "level0_tables", "level1_tables", "level2_tables", "level3_tables",
        "level4_tables", "level5_tables", "level6_tables"};
    static const char *const byte_names[LSM_LEVELS] = {
        "level0_bytes", "level1_bytes", "level2_bytes", "level3_bytes",
        "level4_bytes", "level5_bytes", "level6_bytes"};
    struct lsm_engine *e = from_base(base);
    struct view r;
    view_acquire(e, &r);
    struct lsm_version *v = r.v;
    uint64_t entries = lsm_memtable_count(r.mem->mem);
    uint64_t mem_bytes = lsm_memtable_bytes(r.mem->mem);
    if (r.imm != NULL)
        entries += lsm_memtable_count(r.imm->mem);
    uint64_t table_bytes = 0;
    for (int l = 0; l < LSM_LEVELS; l++) {
        uint64_t bytes = lsm_version_level_bytes(v, l);
        table_bytes += bytes;
        for (size_t i = 0; i < v->count[l]; i++)
            entries += v->files[l][i]->entries;
        fn(arg, table_names[l], v->count[l]);
        fn(arg, byte_names[l], bytes);
    }
    uint64_t user = atomic_load(&e->user_bytes_written);
    uint64_t written = atomic_load(&e->flush_bytes_written) +
                       atomic_load(&e->compaction_bytes_written);
    struct lsm_block_cache_stats cs = {0};
    lsm_block_cache_stats(e->cache, &cs);

    fn(arg, "entries", entries);
    fn(arg, "memtable_bytes", mem_bytes);
    fn(arg, "immutable_memtables", r.imm != NULL);
    fn(arg, "wal_bytes", atomic_load(&e->wal_bytes));
    fn(arg, "tables", lsm_version_tables(v));
    fn(arg, "table_bytes", table_bytes);
    fn(arg, "disk_bytes", io_dir_disk_bytes(e->dir));
    fn(arg, "last_seq", atomic_load(&e->last_seq));
    fn(arg, "flushes", atomic_load(&e->flushes));
    fn(arg, "compactions", atomic_load(&e->compactions));
    fn(arg, "flush_bytes_written", atomic_load(&e->flush_bytes_written));
    fn(arg, "compaction_bytes_written",
       atomic_load(&e->compaction_bytes_written));
    fn(arg, "user_bytes_written", user);
    /* Bytes the engine wrote to tables per byte users wrote (the WAL, one
     * more copy, not counted): DDIA's write amplification. */
    fn(arg, "write_amplification_x100", user ? written * 100 / user : 0);
    fn(arg, "bloom_negatives", atomic_load(&e->bloom_negatives));
    fn(arg, "block_cache_hits", cs.hits);
    fn(arg, "block_cache_misses", cs.misses);
    fn(arg, "block_cache_bytes", cs.bytes);
    fn(arg, "write_stalls", atomic_load(&e->write_stalls));
    group_commit_stats(&e->gc, fn, arg);
    fn(arg, "interval_syncs", periodic_sync_count(&e->ps));
    fn(arg, "readonly", atomic_load(&e->readonly));
    view_release(&r);
}

static void
engine_free(struct lsm_engine *e)
{
    periodic_sync_stop(&e->ps); /* a failed open may have started it */
    lsm_memref_unref(e->imm);
    lsm_memref_unref(e->mem);
    lsm_version_unref(e->current); /* closes every table */
    lsm_manifest_close(e->manifest);
    lsm_block_cache_destroy(e->cache);
    for (int l = 0; l < LSM_LEVELS; l++)
        st_buf_free(&e->compact_pointer[l]);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->write_mu);
    group_commit_deinit(&e->gc);
    free(e->dir);
    free(e);
}

static void
derive_sizes(const struct engine_options *opt, struct lsm_sizes *z)
{
    /* 0: options filled by hand, without engine_options_default(). */
    uint64_t mem = opt->memtable_bytes ? opt->memtable_bytes : DEFAULT_MEMTABLE;
    /* A WAL is a log segment: never let one grow past segment_bytes. */
    if (opt->segment_bytes > 0 && opt->segment_bytes < mem)
        mem = opt->segment_bytes;
    if (mem < 4096)
        mem = 4096;
    z->memtable_bytes = mem;
    z->target_file_bytes = mem / 2;
    z->level1_bytes = mem * 5 / 2;
}

static st_status
lsm_open(const char *dir, const struct engine_options *opt, struct engine **out,
         struct st_error *err)
{
    struct lsm_engine *e = calloc(1, sizeof *e);
    if (e == NULL)
        return st_error_set(err, ST_NOMEM, 0, "lsm: no memory");
    e->base.ops = &lsm_engine_ops;
    e->opt = *opt;
    derive_sizes(opt, &e->sizes);
    e->dir = strdup(dir);
    e->cache = lsm_block_cache_create(
        opt->block_cache_bytes ? opt->block_cache_bytes : DEFAULT_BLOCK_CACHE);
    if (e->dir == NULL || e->cache == NULL) {
        free(e->dir);
        lsm_block_cache_destroy(e->cache);
        free(e);
        return st_error_set(err, ST_NOMEM, 0, "lsm: no memory");
    }
    pthread_mutex_init(&e->write_mu, NULL);
    /* 256 writes or 1 MiB a batch: enough to share an fsync among every
     * request thread, small enough that no write waits long behind it. */
    group_commit_init(&e->gc, write_batch, e, GROUP_COMMIT_MAX_COUNT, 1u << 20);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);

    st_status s = lsm_recover(e, err);
    if (s == ST_OK && opt->sync == ENGINE_SYNC_INTERVAL)
        s = periodic_sync_start(&e->ps, opt->sync_interval_ms, interval_sync, e,
                                err);
    if (s == ST_OK && opt->background) {
        int rc = pthread_create(&e->bg_thread, NULL, background_main, e);
        if (rc != 0)
            s = st_error_set(err, ST_NOMEM, rc,
                             "lsm: cannot start the background thread");
        e->bg_started = rc == 0;
    }
    if (s != ST_OK) {
        lsm_wal_close(e->wal, false, NULL);
        engine_free(e);
        return s;
    }
    *out = &e->base;
    return ST_OK;
}

static st_status
lsm_close(struct engine *base, struct st_error *err)
{
    if (base == NULL)
        return ST_OK;
    struct lsm_engine *e = from_base(base);
    periodic_sync_stop(&e->ps);
    pthread_mutex_lock(&e->mu);
    e->shutting_down = true;
    atomic_store(&e->stopping, true);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (e->bg_started)
        pthread_join(e->bg_thread, NULL);
    /* Never fsync again after a failure (PITFALLS.md): the WAL's
     * unsynced pages may be gone, and a "successful" sync would lie. */
    bool ro = atomic_load(&e->readonly);
    st_status s = lsm_wal_close(e->wal, !ro, err);
    engine_free(e);
    return s;
}

const struct engine_ops lsm_engine_ops = {
    .name = "lsm",
    .sorted = true,
    .persistent = true,
    .open = lsm_open,
    .get = lsm_get,
    .set = lsm_set,
    .del = lsm_del,
    .scan = lsm_scan,
    .compact = lsm_compact,
    .stats = lsm_stats,
    .close = lsm_close,
};
