/*
 * Leveled compaction, as in LevelDB (DDIA 3.1; docs/lsm-design.md,
 * "Compaction"). One compaction:
 *
 *   level n:    [inputs from n]              L0: all of its tables
 *   level n+1:  [the tables they overlap]
 *        |  merging iterator, newest version of each key only
 *        v
 *   level n+1:  [out 1][out 2]...   cut at target_file_bytes
 *
 * Crash safety: outputs are fsynced and the directory fsynced before one
 * manifest edit removes the inputs and adds the outputs; inputs are
 * deleted only after that edit is durable and no reader holds them. A
 * crash before the edit leaves orphan outputs (deleted at open); after
 * it, obsolete inputs (deleted at open too). Tombstones: dropped only when
 * no level below n+1 has a table whose range holds the key (PITFALLS.md:
 * never drop one while an older file may still hold the key).
 */
#include "engines/lsm/compaction.h"

#include <fcntl.h>
#include <stdlib.h>

#include "engines/lsm/merge_iter.h"
#include "util/io.h"
#include "util/log.h"

enum {
    /* The merge loop checks for a memtable waiting to be flushed this
     * often, so writers do not stall behind a long compaction. */
    CHECK_IMM_EVERY = 1024,
    /* A single table moves down without rewriting unless it overlaps more
     * than this many target files in the level below its new one. */
    MOVE_MAX_GRANDPARENT_FILES = 10,
};

/* The fsync of one finished output, run on its own thread while the
 * merge goes on writing the next output: the disk writes back one file
 * while the CPU builds the next, instead of the merge stopping for every
 * fsync (measured: that stop alone made writers stall 7x more often
 * under random overwrites). The file is opened again by name; Linux
 * reports a write-back error to every file description that has not
 * seen it, including this new one. */
struct output_sync {
    pthread_t thread;
    bool threaded;
    const char *path; /* borrowed from the output's lsm_tref */
    st_status status;
    struct st_error err;
};

static void *
sync_main(void *arg)
{
    struct output_sync *o = arg;
    int fd = -1;
    o->status = io_open(o->path, O_RDONLY, 0, &fd, &o->err);
    if (o->status != ST_OK)
        return NULL;
    o->status = io_fsync(fd, o->path, &o->err);
    st_status c = io_close(fd, o->path, o->status == ST_OK ? &o->err : NULL);
    if (o->status == ST_OK)
        o->status = c;
    return NULL;
}

struct compaction {
    int level;    /* inputs from 'level' and 'level'+1 */
    bool rewrite; /* compact(): no trivial move, so tombstones go */
    struct lsm_version *v;
    struct lsm_tref **in[2];
    size_t n[2];
    struct lsm_tref **out;
    size_t out_count, out_cap;
    struct lsm_table **uncached; /* the inputs, opened without cache */
    size_t uncached_count;
    /* One per output, joined before install. Separate allocations: a
     * running thread holds a pointer to its own, so the array of
     * pointers may grow under it. */
    struct output_sync **syncs;
    size_t sync_count, sync_cap;
};

static uint64_t
level_budget(const struct lsm_engine *e, int level)
{
    uint64_t b = e->sizes.level1_bytes;
    for (int l = 1; l < level; l++)
        b *= 10;
    return b;
}

double
lsm_compaction_score(const struct lsm_engine *e, const struct lsm_version *v,
                     int *level)
{
    double best = 0;
    *level = -1;
    /* Level 0 counts files, not bytes: every read looks into each of
     * them, whatever their size. */
    if (v->count[0] > 0) {
        best = (double)v->count[0] / LSM_L0_COMPACTION_TRIGGER;
        *level = 0;
    }
    for (int l = 1; l < LSM_LEVELS - 1; l++) {
        if (v->count[l] == 0)
            continue;
        double s =
            (double)lsm_version_level_bytes(v, l) / (double)level_budget(e, l);
        if (*level < 0 || s > best) {
            best = s;
            *level = l;
        }
    }
    return best;
}

static bool
push(struct lsm_tref ***arr, size_t *n, size_t *cap, struct lsm_tref *t)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        struct lsm_tref **p = realloc(*arr, c * sizeof *p);
        if (p == NULL)
            return false;
        *arr = p;
        *cap = c;
    }
    (*arr)[(*n)++] = t;
    return true;
}

/* The key range [*lo, *hi] covered by 'files' (borrowed from them). */
static void
key_range(struct lsm_tref *const *files, size_t n, st_slice *lo, st_slice *hi)
{
    *lo = st_buf_slice(&files[0]->min_key);
    *hi = st_buf_slice(&files[0]->max_key);
    for (size_t i = 1; i < n; i++) {
        if (st_slice_compare(st_buf_slice(&files[i]->min_key), *lo) < 0)
            *lo = st_buf_slice(&files[i]->min_key);
        if (st_slice_compare(st_buf_slice(&files[i]->max_key), *hi) > 0)
            *hi = st_buf_slice(&files[i]->max_key);
    }
}

/* Appends to c->in[1] the tables of level 'level' meeting [lo, hi]. */
static bool
add_overlapping(struct compaction *c, int level, st_slice lo, st_slice hi,
                size_t *cap)
{
    const struct lsm_version *v = c->v;
    for (size_t i = lsm_version_find(v, level, lo); i < v->count[level]; i++) {
        struct lsm_tref *t = v->files[level][i];
        if (st_slice_compare(st_buf_slice(&t->min_key), hi) > 0)
            break;
        if (!push(&c->in[1], &c->n[1], cap, t))
            return false;
    }
    return true;
}

static uint64_t
overlap_bytes(const struct lsm_version *v, int level, st_slice lo, st_slice hi)
{
    uint64_t sum = 0;
    if (level >= LSM_LEVELS)
        return 0;
    for (size_t i = lsm_version_find(v, level, lo); i < v->count[level]; i++) {
        const struct lsm_tref *t = v->files[level][i];
        if (st_slice_compare(st_buf_slice(&t->min_key), hi) > 0)
            break;
        sum += t->file_bytes;
    }
    return sum;
}

/* Fills c->in[0] with 'level''s inputs: all of level 0 (its tables
 * overlap, so taking them all keeps "newer level above" true), or every
 * table when 'all', or else the next table after the level's compaction
 * pointer, round-robin over the key space. Then c->in[1]. */
static bool
pick_inputs(struct lsm_engine *e, struct compaction *c, int level, bool all)
{
    const struct lsm_version *v = c->v;
    size_t cap0 = 0, cap1 = 0;
    c->level = level;
    if (level == 0 || all) {
        for (size_t i = 0; i < v->count[level]; i++)
            if (!push(&c->in[0], &c->n[0], &cap0, v->files[level][i]))
                return false;
    } else {
        size_t i = 0;
        struct st_buf *ptr = &e->compact_pointer[level];
        if (ptr->len > 0) {
            i = lsm_version_find(v, level, st_buf_slice(ptr));
            while (i < v->count[level] &&
                   st_slice_compare(st_buf_slice(&v->files[level][i]->min_key),
                                    st_buf_slice(ptr)) <= 0)
                i++;
            if (i == v->count[level])
                i = 0;
        }
        if (!push(&c->in[0], &c->n[0], &cap0, v->files[level][i]))
            return false;
    }
    st_slice lo, hi;
    key_range(c->in[0], c->n[0], &lo, &hi);
    return add_overlapping(c, level + 1, lo, hi, &cap1);
}

static void
compaction_free(struct compaction *c)
{
    free(c->in[0]);
    free(c->in[1]);
    for (size_t i = 0; i < c->uncached_count; i++)
        lsm_table_close(c->uncached[i]);
    free(c->uncached);
    free(c->syncs);
    for (size_t i = 0; i < c->out_count; i++)
        lsm_tref_unref(c->out[i]);
    free(c->out);
    lsm_version_unref(c->v);
}

/* Starts the fsync of a finished output (inline when no thread). */
static st_status
start_sync(struct compaction *c, const char *path, struct st_error *err)
{
    if (c->sync_count == c->sync_cap) {
        size_t cap = c->sync_cap ? c->sync_cap * 2 : 8;
        struct output_sync **p = realloc(c->syncs, cap * sizeof *p);
        if (p == NULL)
            return st_error_set(err, ST_NOMEM, 0, "lsm compaction: no memory");
        c->syncs = p;
        c->sync_cap = cap;
    }
    struct output_sync *o = calloc(1, sizeof *o);
    if (o == NULL)
        return st_error_set(err, ST_NOMEM, 0, "lsm compaction: no memory");
    c->syncs[c->sync_count++] = o;
    o->path = path;
    o->threaded = pthread_create(&o->thread, NULL, sync_main, o) == 0;
    if (!o->threaded)
        sync_main(o);
    return ST_OK;
}

/* Waits for every output's fsync; the first failure is the result. */
static st_status
join_syncs(struct compaction *c, st_status s, struct st_error *err)
{
    for (size_t i = 0; i < c->sync_count; i++) {
        struct output_sync *o = c->syncs[i];
        if (o->threaded)
            pthread_join(o->thread, NULL);
        if (s == ST_OK && o->status != ST_OK) {
            s = o->status;
            if (err != NULL)
                *err = o->err;
        }
        free(o);
    }
    c->sync_count = 0;
    return s;
}

/* Finishes the open output file and opens it for reading. */
static st_status
finish_output(struct lsm_engine *e, struct compaction *c,
              struct lsm_table_builder *b, uint64_t number, char *path,
              struct st_error *err)
{
    struct lsm_table_props props = {0};
    struct lsm_table *table = NULL;
    st_status s = lsm_table_builder_finish(b, &props, err);
    if (s == ST_OK)
        s = lsm_table_open(path, number, e->cache, &table, err);
    if (s != ST_OK) {
        lsm_table_props_free(&props);
        io_unlink(path, NULL);
        free(path);
        return s;
    }
    atomic_fetch_add(&e->compaction_bytes_written, props.file_bytes);
    struct lsm_tref *t = lsm_tref_create(
        table, path, number, props.file_bytes, props.entries, props.min_seq,
        props.max_seq, st_buf_slice(&props.min_key),
        st_buf_slice(&props.max_key));
    lsm_table_props_free(&props);
    if (t == NULL)
        return st_error_set(err, ST_NOMEM, 0, "lsm compaction: no memory");
    if (!push(&c->out, &c->out_count, &c->out_cap, t)) {
        atomic_store(&t->obsolete, true);
        lsm_tref_unref(t);
        return st_error_set(err, ST_NOMEM, 0, "lsm compaction: no memory");
    }
    return start_sync(c, t->path, err);
}

/* A merging iterator over every input. Each input is read through a
 * second, uncached handle on its file: a compaction reads each block
 * once, and must not push the readers' hot blocks out of the shared
 * cache (LevelDB's fill_cache = false). The handles go into c->uncached
 * and are closed by compaction_free, after the iterator. */
static st_status
input_iterator(struct compaction *c, struct lsm_iter **out,
               struct st_error *err)
{
    size_t n = c->n[0] + c->n[1];
    struct lsm_iter **children = calloc(n ? n : 1, sizeof *children);
    c->uncached = calloc(n ? n : 1, sizeof *c->uncached);
    if (children == NULL || c->uncached == NULL) {
        free(children);
        return st_error_set(err, ST_NOMEM, 0, "lsm compaction: no memory");
    }
    size_t k = 0;
    st_status s = ST_OK;
    for (int w = 0; w < 2 && s == ST_OK; w++)
        for (size_t i = 0; i < c->n[w] && s == ST_OK; i++) {
            const struct lsm_tref *t = c->in[w][i];
            s = lsm_table_open(t->path, t->number, NULL, &c->uncached[k], err);
            if (s != ST_OK)
                break;
            c->uncached_count = k + 1;
            children[k] = lsm_table_iter_create(c->uncached[k]);
            if (children[k] == NULL)
                s = st_error_set(err, ST_NOMEM, 0, "lsm: no memory");
            else
                k++;
        }
    if (s != ST_OK) {
        for (size_t j = 0; j < k; j++)
            lsm_iter_destroy(children[j]);
        free(children);
        return s;
    }
    *out = lsm_merge_iter_create(children, n);
    free(children);
    if (*out == NULL)
        return st_error_set(err, ST_NOMEM, 0, "lsm compaction: no memory");
    return ST_OK;
}

/* Merges the inputs into c->out: newest version of each key only;
 * tombstones dropped when no deeper level can hold the key. */
static st_status
write_outputs(struct lsm_engine *e, struct compaction *c, struct st_error *err)
{
    struct lsm_iter *it = NULL;
    st_status s = input_iterator(c, &it, err);
    if (s != ST_OK)
        return s;
    struct lsm_table_options topt;
    lsm_table_options_default(&topt);
    /* Each output is fsynced by start_sync(), all before the manifest
     * edit: the inputs go once the edit is durable. */
    topt.sync = false;
    struct lsm_table_builder *b = NULL;
    uint64_t number = 0;
    char *path = NULL;
    struct st_buf prev = {0};
    bool have_prev = false;
    uint64_t steps = 0;

    for (it->ops->seek_first(it); it->ops->valid(it); it->ops->next(it)) {
        if (++steps % CHECK_IMM_EVERY == 0 && atomic_load(&e->stopping)) {
            /* close() waits for us: give up, the outputs are removed and
             * the inputs stay live, so nothing changes. */
            s = st_error_set(err, ST_BUSY, 0,
                             "lsm: compaction stopped by close");
            break;
        }
        if (steps % CHECK_IMM_EVERY == 0 && atomic_load(&e->imm_pending)) {
            s = lsm_flush_imm(e, err);
            if (s != ST_OK)
                break;
        }
        st_slice key = it->ops->key(it);
        if (have_prev && st_slice_equal(key, st_buf_slice(&prev)))
            continue; /* an older version, hidden by the one kept */
        if (!st_buf_set(&prev, key)) {
            s = st_error_set(err, ST_NOMEM, 0, "lsm compaction: no memory");
            break;
        }
        have_prev = true;
        if (it->ops->type(it) == LSM_TYPE_DELETE &&
            !lsm_version_key_may_be_below(c->v, c->level + 1, key))
            continue;
        if (b == NULL) {
            pthread_mutex_lock(&e->mu);
            number = e->next_file++;
            pthread_mutex_unlock(&e->mu);
            path = lsm_table_path(e->dir, number);
            if (path == NULL) {
                s = st_error_set(err, ST_NOMEM, 0, "lsm: no memory");
                break;
            }
            s = lsm_table_builder_open(path, &topt, &b, err);
            if (s != ST_OK) {
                free(path);
                path = NULL;
                break;
            }
        }
        s = lsm_table_builder_add(b, key, it->ops->seq(it), it->ops->type(it),
                                  it->ops->value(it), err);
        if (s != ST_OK)
            break;
        if (lsm_table_builder_file_bytes(b) >= e->sizes.target_file_bytes) {
            s = finish_output(e, c, b, number, path, err);
            b = NULL;
            path = NULL;
            if (s != ST_OK)
                break;
        }
    }
    if (s == ST_OK)
        s = it->ops->status(it, err);
    if (s == ST_OK && b != NULL) {
        s = finish_output(e, c, b, number, path, err);
        b = NULL;
        path = NULL;
    }
    if (b != NULL) {
        lsm_table_builder_abandon(b);
        free(path);
    }
    st_buf_free(&prev);
    lsm_iter_destroy(it);
    s = join_syncs(c, s, err);
    if (s == ST_OK && c->out_count > 0)
        s = io_fsync_dir(e->dir, err);
    return s;
}

/* One manifest edit: inputs out, outputs (or the moved table) in. */
static st_status
install(struct lsm_engine *e, struct compaction *c, struct st_error *err)
{
    size_t nin = c->n[0] + c->n[1];
    struct lsm_table_meta *added = calloc(c->out_count + 1, sizeof *added);
    struct lsm_version_change *rem = calloc(nin + 1, sizeof *rem);
    struct lsm_version_change *add = calloc(c->out_count + 1, sizeof *add);
    __typeof__(((struct lsm_edit *)0)->removed) erem =
        calloc(nin + 1, sizeof *erem);
    st_status s = ST_OK;
    if (added == NULL || rem == NULL || add == NULL || erem == NULL) {
        s = st_error_set(err, ST_NOMEM, 0, "lsm compaction: no memory");
        goto done;
    }
    size_t k = 0;
    for (int w = 0; w < 2; w++)
        for (size_t i = 0; i < c->n[w]; i++, k++) {
            rem[k].level = c->level + w;
            rem[k].number = c->in[w][i]->number;
            erem[k].level = rem[k].level;
            erem[k].number = rem[k].number;
        }
    for (size_t i = 0; i < c->out_count; i++) {
        lsm_tref_meta(c->out[i], c->level + 1, &added[i]);
        add[i].level = c->level + 1;
        add[i].table = c->out[i];
    }
    struct lsm_edit edit = {
        .added = added,
        .added_count = c->out_count,
        .removed = erem,
        .removed_count = nin,
        .has_next_file = true,
    };
    pthread_mutex_lock(&e->mu);
    edit.next_file = e->next_file;
    pthread_mutex_unlock(&e->mu);
    s = lsm_manifest_apply(e->manifest, &edit, err);
    if (s != ST_OK) {
        /* Outputs stay on disk: the edit may have reached it. */
        lsm_go_readonly(e, err);
        goto done;
    }
    struct lsm_version *base = lsm_current_version(e);
    struct lsm_version *v = lsm_version_edit(base, add, c->out_count, rem, nin);
    lsm_version_unref(base);
    if (v == NULL) {
        s = st_error_set(err, ST_NOMEM, 0, "lsm compaction: no memory");
        lsm_go_readonly(e, err); /* memory and manifest now disagree */
        goto done;
    }
    /* The edit is durable: the inputs may go once nobody reads them.
     * A moved table is input and output at once, and stays. */
    for (int w = 0; w < 2; w++)
        for (size_t i = 0; i < c->n[w]; i++) {
            bool moved = false;
            for (size_t j = 0; j < c->out_count; j++)
                moved |= c->out[j] == c->in[w][i];
            if (!moved)
                atomic_store(&c->in[w][i]->obsolete, true);
        }
    lsm_install_version(e, v);
done:
    free(added);
    free(rem);
    free(add);
    free(erem);
    return s;
}

/* Runs the compaction 'c' describes. */
static st_status
run(struct lsm_engine *e, struct compaction *c, struct st_error *err)
{
    uint64_t t0 = lsm_now_ms();
    /* A memtable waiting for its flush goes first: writers wait on it. */
    st_status s = atomic_load(&e->imm_pending) ? lsm_flush_imm(e, err) : ST_OK;
    if (s != ST_OK)
        return s;
    st_slice lo, hi;
    key_range(c->in[0], c->n[0], &lo, &hi);
    if (!c->rewrite && c->n[0] == 1 && c->n[1] == 0 && c->level > 0 &&
        overlap_bytes(c->v, c->level + 2, lo, hi) <=
            MOVE_MAX_GRANDPARENT_FILES * e->sizes.target_file_bytes) {
        /* Nothing to merge with: move the file down by a manifest edit. */
        lsm_tref_ref(c->in[0][0]);
        if (!push(&c->out, &c->out_count, &c->out_cap, c->in[0][0])) {
            lsm_tref_unref(c->in[0][0]);
            return st_error_set(err, ST_NOMEM, 0, "lsm: no memory");
        }
        s = install(e, c, err);
    } else {
        s = write_outputs(e, c, err);
        if (s == ST_OK)
            s = install(e, c, err);
        else
            for (size_t i = 0; i < c->out_count; i++)
                atomic_store(&c->out[i]->obsolete, true);
    }
    if (s != ST_OK)
        return s;
    uint64_t in_bytes = 0, out_bytes = 0;
    for (int w = 0; w < 2; w++)
        for (size_t i = 0; i < c->n[w]; i++)
            in_bytes += c->in[w][i]->file_bytes;
    for (size_t i = 0; i < c->out_count; i++)
        out_bytes += c->out[i]->file_bytes;
    if (c->level > 0 && !st_buf_set(&e->compact_pointer[c->level], hi))
        e->compact_pointer[c->level].len = 0;
    atomic_fetch_add(&e->compactions, 1);
    log_debug("lsm: compacted level=%d tables=%zu next_tables=%zu "
              "in_bytes=%llu out_bytes=%llu ms=%llu",
              c->level, c->n[0], c->n[1],
              (unsigned long long)in_bytes, (unsigned long long)out_bytes,
              (unsigned long long)(lsm_now_ms() - t0));
    return ST_OK;
}

st_status
lsm_compact_once(struct lsm_engine *e, bool *did, struct st_error *err)
{
    *did = false;
    struct compaction c = {0};
    c.v = lsm_current_version(e);
    int level;
    double score = lsm_compaction_score(e, c.v, &level);
    st_status s = ST_OK;
    if (score >= 1.0) {
        if (!pick_inputs(e, &c, level, false))
            s = st_error_set(err, ST_NOMEM, 0, "lsm compaction: no memory");
        else
            s = run(e, &c, err);
        *did = s == ST_OK;
    }
    compaction_free(&c);
    return s;
}

st_status
lsm_compact_all(struct lsm_engine *e, struct st_error *err)
{
    struct lsm_version *v = lsm_current_version(e);
    int deepest = 1;
    for (int l = 1; l < LSM_LEVELS; l++)
        if (v->count[l] > 0)
            deepest = l;
    lsm_version_unref(v);
    for (int l = 0; l < deepest; l++) {
        struct compaction c = {0};
        c.v = lsm_current_version(e);
        c.rewrite = true;
        st_status s = ST_OK;
        if (c.v->count[l] > 0) {
            if (!pick_inputs(e, &c, l, true))
                s = st_error_set(err, ST_NOMEM, 0, "lsm: no memory");
            else
                s = run(e, &c, err);
        }
        compaction_free(&c);
        if (s != ST_OK)
            return s;
    }
    for (;;) {
        bool did;
        st_status s = lsm_compact_once(e, &did, err);
        if (s != ST_OK || !did)
            return s;
    }
}
