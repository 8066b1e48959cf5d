/*
 * Opening the lsm engine: from the files on disk back to a running tree
 * (DDIA 3.1: "if the database crashes, the most recent writes (which are
 * in the memtable but not yet written out to disk) are lost" unless a log
 * is replayed). docs/lsm-design.md, "Open and recovery".
 *
 *   1. the manifest names the live tables: open each one;
 *   2. replay every WAL numbered >= log_number, oldest first, into a
 *      memtable (a torn tail is cut by the WAL module), writing level-0
 *      tables whenever it passes the memtable size;
 *   3. write the rest to a table, create a fresh WAL, and make one
 *      manifest edit: the new tables plus log_number = the fresh WAL;
 *   4. only after that edit is durable, delete what no one names: old
 *      WALs, tables of unfinished flushes or compactions (orphans).
 * A crash anywhere in 2-4 leaves the old WALs in place: the next open
 * replays them again, and the tables it wrote are orphans.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/lsm/lsm_impl.h"
#include "util/io.h"
#include "util/log.h"

struct numbers {
    uint64_t *v;
    size_t count, cap;
};

static bool
numbers_push(struct numbers *n, uint64_t x)
{
    if (n->count == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 16;
        uint64_t *p = realloc(n->v, cap * sizeof *p);
        if (p == NULL)
            return false;
        n->v = p;
        n->cap = cap;
    }
    n->v[n->count++] = x;
    return true;
}

static int
by_value(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Parses "NNNNNN.<ext>" (digits only before the dot). */
static bool
parse_number(const char *name, const char *ext, uint64_t *number)
{
    const char *dot = strchr(name, '.');
    if (dot == NULL || dot == name || strcmp(dot + 1, ext) != 0)
        return false;
    uint64_t n = 0;
    for (const char *p = name; p < dot; p++) {
        if (*p < '0' || *p > '9' || n > UINT64_MAX / 10 - 1)
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *number = n;
    return true;
}

struct dir_scan {
    struct numbers tables, wals;
    uint64_t max_number;
    bool nomem;
};

static st_status
scan_entry(const char *name, void *arg)
{
    struct dir_scan *d = arg;
    uint64_t n;
    if (parse_number(name, "sst", &n)) {
        d->nomem |= !numbers_push(&d->tables, n);
    } else if (parse_number(name, "log", &n)) {
        d->nomem |= !numbers_push(&d->wals, n);
    } else {
        return ST_OK;
    }
    if (n > d->max_number)
        d->max_number = n;
    return ST_OK;
}

static st_status
scan_dir(const char *dir, struct dir_scan *d, struct st_error *err)
{
    memset(d, 0, sizeof *d);
    st_status s = io_list_dir(dir, scan_entry, d, err);
    if (s == ST_OK && d->nomem)
        s = st_error_set(err, ST_NOMEM, 0, "lsm open: no memory");
    if (d->wals.count > 1)
        qsort(d->wals.v, d->wals.count, sizeof *d->wals.v, by_value);
    return s;
}

static void
dir_scan_free(struct dir_scan *d)
{
    free(d->tables.v);
    free(d->wals.v);
}

/* Opens the tables the manifest names into a first version. */
static st_status
open_tables(struct lsm_engine *e, const struct lsm_manifest_state *st,
            struct st_error *err)
{
    struct lsm_version_change *add = calloc(st->count + 1, sizeof *add);
    if (add == NULL)
        return st_error_set(err, ST_NOMEM, 0, "lsm open: no memory");
    size_t n = 0;
    st_status s = ST_OK;
    for (size_t i = 0; i < st->count; i++) {
        const struct lsm_table_meta *m = &st->tables[i];
        if (m->level < 0 || m->level >= LSM_LEVELS) {
            s = st_error_set(err, ST_CORRUPT, 0,
                             "lsm open: table %06" PRIu64 " at level %d",
                             m->number, m->level);
            break;
        }
        char *path = lsm_table_path(e->dir, m->number);
        struct lsm_table *t = NULL;
        if (path == NULL) {
            s = st_error_set(err, ST_NOMEM, 0, "lsm open: no memory");
            break;
        }
        s = lsm_table_open(path, m->number, e->cache, &t, err);
        if (s == ST_IO && err != NULL && err->errnum == ENOENT)
            /* Tables are deleted only after a later manifest edit is
             * durable, so a missing one means the manifest lost that
             * edit: damage, not an I/O failure (docs/manifest-format.md). */
            s = st_error_set(err, ST_CORRUPT, 0,
                             "lsm open: the manifest names %s, which is "
                             "missing: the manifest is damaged or older than "
                             "the tables",
                             path);
        if (s != ST_OK) {
            free(path);
            break;
        }
        add[n].level = m->level;
        add[n].table = lsm_tref_create(
            t, path, m->number, m->file_bytes, m->entries, m->min_seq,
            m->max_seq, st_buf_slice(&m->min_key), st_buf_slice(&m->max_key));
        if (add[n].table == NULL) {
            s = st_error_set(err, ST_NOMEM, 0, "lsm open: no memory");
            break;
        }
        n++;
    }
    if (s == ST_OK) {
        struct lsm_version *empty = lsm_version_create();
        e->current = empty ? lsm_version_edit(empty, add, n, NULL, 0) : NULL;
        lsm_version_unref(empty);
        if (e->current == NULL)
            s = st_error_set(err, ST_NOMEM, 0, "lsm open: no memory");
    }
    for (size_t i = 0; i < n; i++)
        lsm_tref_unref(add[i].table);
    free(add);
    return s;
}

struct replay {
    struct lsm_engine *e;
    struct lsm_memtable *mem;
    struct lsm_tref **tables; /* level-0 tables written during replay */
    size_t count, cap;
    uint64_t max_seq;
    uint64_t mem_bytes; /* lsm_entry_bytes() of r->mem's entries */
    struct st_error err;
};

/* Writes the replay memtable to a level-0 table and starts a new one. */
static st_status
replay_flush(struct replay *r)
{
    struct lsm_tref *t = NULL;
    st_status s = lsm_write_level0_table(r->e, r->mem, &t, &r->err);
    if (s != ST_OK || t == NULL)
        return s;
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4;
        struct lsm_tref **p = realloc(r->tables, cap * sizeof *p);
        if (p == NULL) {
            lsm_tref_unref(t);
            return st_error_set(&r->err, ST_NOMEM, 0, "lsm: no memory");
        }
        r->tables = p;
        r->cap = cap;
    }
    r->tables[r->count++] = t;
    struct lsm_memtable *fresh = lsm_memtable_create();
    if (fresh == NULL)
        return st_error_set(&r->err, ST_NOMEM, 0, "lsm: no memory");
    lsm_memtable_destroy(r->mem);
    r->mem = fresh;
    r->mem_bytes = 0;
    return ST_OK;
}

static st_status
replay_entry(void *arg, const struct lsm_wal_entry *we)
{
    struct replay *r = arg;
    st_status s = lsm_memtable_add(r->mem, we->seq, we->type, we->key, we->val);
    if (s != ST_OK)
        return st_error_set(&r->err, s, 0, "lsm replay: no memory");
    if (we->seq > r->max_seq)
        r->max_seq = we->seq;
    r->mem_bytes += lsm_entry_bytes(we->key, we->val);
    if (r->mem_bytes >= r->e->sizes.memtable_bytes)
        return replay_flush(r);
    return ST_OK;
}

static st_status
replay_wals(struct lsm_engine *e, const struct dir_scan *d, uint64_t log_number,
            struct replay *r, uint64_t *records, struct st_error *err)
{
    for (size_t i = 0; i < d->wals.count; i++) {
        if (d->wals.v[i] < log_number)
            continue;
        char *path = lsm_wal_path(e->dir, d->wals.v[i]);
        if (path == NULL)
            return st_error_set(err, ST_NOMEM, 0, "lsm open: no memory");
        uint64_t n = 0;
        st_status s = lsm_wal_replay(path, replay_entry, r, &n, err);
        free(path);
        *records += n;
        if (s != ST_OK) {
            if (r->err.code != ST_OK && err != NULL)
                *err = r->err;
            return s;
        }
    }
    return ST_OK;
}

/* Deletes every table the version does not name and every WAL but the
 * live one. Runs after the manifest edit that made them obsolete. */
static void
delete_orphans(struct lsm_engine *e, const struct dir_scan *d)
{
    for (size_t i = 0; i < d->tables.count; i++) {
        bool live = false;
        for (int l = 0; l < LSM_LEVELS && !live; l++)
            for (size_t k = 0; k < e->current->count[l] && !live; k++)
                live = e->current->files[l][k]->number == d->tables.v[i];
        if (live)
            continue;
        char *path = lsm_table_path(e->dir, d->tables.v[i]);
        if (path != NULL && io_unlink(path, NULL) == ST_OK)
            log_info("lsm: deleted orphan table=%06" PRIu64, d->tables.v[i]);
        free(path);
    }
    for (size_t i = 0; i < d->wals.count; i++) {
        if (d->wals.v[i] == e->mem->wal_number)
            continue;
        char *path = lsm_wal_path(e->dir, d->wals.v[i]);
        if (path != NULL)
            io_unlink(path, NULL);
        free(path);
    }
}

st_status
lsm_recover(struct lsm_engine *e, struct st_error *err)
{
    uint64_t t0 = lsm_now_ms();
    struct lsm_manifest_state st = {0};
    struct dir_scan d = {0};
    struct replay r = {.e = e};
    uint64_t records = 0;
    st_status s = lsm_manifest_open(e->dir, &e->manifest, &st, err);
    if (s != ST_OK)
        return s;
    s = scan_dir(e->dir, &d, err);
    if (s != ST_OK)
        goto done;
    /* WALs are numbered before a manifest edit records next_file, so the
     * directory may hold higher numbers than the manifest knows. */
    e->next_file = st.next_file;
    if (d.max_number >= e->next_file)
        e->next_file = d.max_number + 1;
    if (lsm_manifest_file_number(e->manifest) >= e->next_file)
        e->next_file = lsm_manifest_file_number(e->manifest) + 1;
    if (e->next_file < 1)
        e->next_file = 1;

    s = open_tables(e, &st, err);
    if (s != ST_OK)
        goto done;
    r.mem = lsm_memtable_create();
    if (r.mem == NULL) {
        s = st_error_set(err, ST_NOMEM, 0, "lsm open: no memory");
        goto done;
    }
    s = replay_wals(e, &d, st.log_number, &r, &records, err);
    if (s == ST_OK)
        s = replay_flush(&r);
    if (s != ST_OK) {
        if (r.err.code != ST_OK && err != NULL)
            *err = r.err;
        goto done;
    }

    uint64_t last_seq = st.last_seq > r.max_seq ? st.last_seq : r.max_seq;
    atomic_store(&e->last_seq, last_seq);
    uint64_t wal_number = e->next_file++;
    e->mem = lsm_memref_create(wal_number);
    char *wal_path = lsm_wal_path(e->dir, wal_number);
    if (e->mem == NULL || wal_path == NULL) {
        free(wal_path);
        s = st_error_set(err, ST_NOMEM, 0, "lsm open: no memory");
        goto done;
    }
    s = lsm_wal_create(wal_path, &e->wal, err);
    free(wal_path);
    if (s != ST_OK)
        goto done;

    struct lsm_table_meta *added = calloc(r.count + 1, sizeof *added);
    struct lsm_version_change *add = calloc(r.count + 1, sizeof *add);
    if (added == NULL || add == NULL) {
        free(added);
        free(add);
        s = st_error_set(err, ST_NOMEM, 0, "lsm open: no memory");
        goto done;
    }
    for (size_t i = 0; i < r.count; i++) {
        lsm_tref_meta(r.tables[i], 0, &added[i]);
        add[i] = (struct lsm_version_change){.level = 0, .table = r.tables[i]};
    }
    struct lsm_edit edit = {
        .added = added,
        .added_count = r.count,
        .has_log_number = true,
        .log_number = wal_number,
        .has_next_file = true,
        .next_file = e->next_file,
        .has_last_seq = true,
        .last_seq = last_seq,
    };
    s = lsm_manifest_apply(e->manifest, &edit, err);
    struct lsm_version *v =
        s == ST_OK ? lsm_version_edit(e->current, add, r.count, NULL, 0) : NULL;
    free(added);
    free(add);
    if (s != ST_OK)
        goto done;
    if (v == NULL) {
        s = st_error_set(err, ST_NOMEM, 0, "lsm open: no memory");
        goto done;
    }
    lsm_version_unref(e->current);
    e->current = v;
    atomic_store(&e->l0_tables, v->count[0]);
    delete_orphans(e, &d);

    uint64_t tables = lsm_version_tables(e->current);
    log_info("lsm: opened dir=%s ms=%" PRIu64 " tables=%" PRIu64
             " wal_records=%" PRIu64 " new_tables=%zu last_seq=%" PRIu64,
             e->dir, lsm_now_ms() - t0, tables, records, r.count, last_seq);
done:
    for (size_t i = 0; i < r.count; i++)
        lsm_tref_unref(r.tables[i]);
    free(r.tables);
    lsm_memtable_destroy(r.mem);
    dir_scan_free(&d);
    lsm_manifest_state_free(&st);
    return s;
}
