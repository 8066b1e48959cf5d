/*
 * Bitcask merge (DDIA 3.1, "Compaction"; docs/file-format.md, "Merge").
 *
 *   closed: [3][4][5]  active: [6]
 *   roll:   [3][4][5][6]  gap 7..9 reserved  active: [10]
 *   copy:   live records of 3..6 -> 7.log.tmp (+ 7.hint.tmp), 8 ...
 *   commit: fsync, rename to 7.log, 7.hint, fsync dir, swap index
 *   delete: unlink 3, fsync dir, unlink 4, fsync dir, ...
 *
 * Invariants: an output gets its ".log" name only once it is whole and
 * fsynced; inputs are deleted only after every output is durable, in
 * ascending id order, one directory fsync each, so a crash at any point
 * loses nothing and resurrects nothing (the argument is in the doc).
 * Inputs are immutable, so they are read without any lock.
 */
#include "engines/file/file_merge.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "engines/file/file_hint.h"
#include "util/io.h"
#include "util/log.h"

/* Output is written in chunks of this size: a merge is a sequential
 * copy, so a few large writes beat one per record. */
static const size_t WRITE_CHUNK = 1u << 20;

struct input {
    struct file_segment *seg;
    uint64_t id;
};

struct merge {
    struct file_engine *fe;
    struct input *inputs;
    size_t ninputs;
    uint64_t input_id; /* the input being read */

    uint64_t out_id;   /* id of the output being written */
    uint64_t id_limit; /* first id not reserved for outputs */
    int fd;            /* of out_id's ".log.tmp"; -1 when none is open */
    char *tmp;
    uint64_t size;      /* bytes of the output so far, header included */
    struct st_buf wbuf; /* written, not yet flushed */
    struct st_buf hints;
    uint64_t count;
    struct st_error err;
};

bool
file_merge_wanted(struct file_engine *fe)
{
    uint64_t bytes = 0, dead = 0;
    pthread_rwlock_rdlock(&fe->lock);
    for (size_t i = 0; i + 1 < fe->nsegs; i++) {
        bytes += file_segment_size(fe->segs[i].seg);
        dead += fe->segs[i].dead_bytes;
    }
    pthread_rwlock_unlock(&fe->lock);
    return dead > 0 && dead >= fe->opt.merge_min_dead_bytes &&
           dead * 100 >= (uint64_t)fe->opt.merge_dead_pct * bytes;
}

/* Rolls the active segment, reserving ids for the outputs, and takes
 * every closed segment as an input. */
static st_status
begin(struct merge *m, struct st_error *err)
{
    struct file_engine *fe = m->fe;
    st_status s = ST_OK;
    pthread_mutex_lock(&fe->write_mu);
    uint64_t total = 0;
    for (size_t i = 0; i < fe->nsegs; i++)
        total += file_segment_size(fe->segs[i].seg);
    uint64_t gap = total / fe->opt.segment_bytes + 2;
    if (atomic_load(&fe->readonly))
        s = file_engine_readonly_error(fe, err);
    if (s == ST_OK) {
        m->out_id = fe->next_id;
        m->id_limit = fe->next_id + gap;
        s = file_engine_roll_locked(fe, gap, err);
    }
    if (s == ST_OK) {
        m->ninputs = fe->nsegs - 1;
        m->inputs = calloc(m->ninputs, sizeof *m->inputs);
        if (m->inputs == NULL)
            s = st_error_set(err, ST_NOMEM, 0, "file merge: no memory");
        for (size_t i = 0; s == ST_OK && i < m->ninputs; i++)
            m->inputs[i] = (struct input){fe->segs[i].seg, fe->segs[i].id};
    }
    pthread_mutex_unlock(&fe->write_mu);
    return s;
}

static st_status
start_output(struct merge *m, struct st_error *err)
{
    m->tmp = file_segment_name(m->fe->dir, m->out_id, FILE_SEG_SUFFIX, true);
    if (m->tmp == NULL)
        return st_error_set(err, ST_NOMEM, 0, "file merge: no memory");
    st_status s =
        io_open(m->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640, &m->fd, err);
    if (s != ST_OK)
        return s;
    uint8_t hdr[FILE_HEADER_LEN];
    file_header_encode(hdr, FILE_SEG_MAGIC, m->out_id);
    m->wbuf.len = 0;
    m->hints.len = 0;
    m->count = 0;
    m->size = FILE_HEADER_LEN;
    if (!st_buf_append(&m->wbuf, st_slice_make(hdr, sizeof hdr)))
        return st_error_set(err, ST_NOMEM, 0, "file merge: no memory");
    return ST_OK;
}

static st_status
flush(struct merge *m, struct st_error *err)
{
    st_status s = io_write_all(m->fd, m->wbuf.ptr, m->wbuf.len, m->tmp, err);
    m->wbuf.len = 0;
    return s;
}

/* Drops the unfinished output, if any. */
static void
abandon_output(struct merge *m)
{
    if (m->fd >= 0) {
        io_close(m->fd, m->tmp, NULL);
        io_unlink(m->tmp, NULL);
    }
    m->fd = -1;
    free(m->tmp);
    m->tmp = NULL;
}

/* Points every key whose newest record was copied (same seq) at the
 * output; a key written or deleted meanwhile keeps its newer entry, and
 * its copy counts as dead. REQUIRES: write_mu and lock for writing. */
static void
swap_index_locked(struct merge *m)
{
    struct file_engine *fe = m->fe;
    for (size_t at = 0; at < m->hints.len;) {
        struct file_hint_entry e;
        size_t used = 0;
        file_hint_decode(st_slice_make(m->hints.ptr + at, m->hints.len - at),
                         &e, &used);
        at += used;
        struct file_loc *loc = file_index_find(fe->index, e.key);
        if (loc != NULL && loc->seq == e.seq) {
            loc->seg_id = m->out_id;
            loc->off = e.off;
            continue;
        }
        file_engine_add_dead(fe, m->out_id,
                             file_record_len(e.key.len, e.val_len));
    }
}

/* After the rename, the output must be in the segment list, or a later
 * merge could delete a tombstone's file while this older put survives
 * on disk. When that cannot be guaranteed the engine stops writing. */
static st_status
publish(struct merge *m, uint64_t hint_bytes, struct st_error *err)
{
    struct file_engine *fe = m->fe;
    struct file_segment *seg = NULL;
    struct st_error e = {0};
    st_status s = io_fsync_dir(fe->dir, &e);
    if (s == ST_OK)
        s = file_segment_open(fe->dir, m->out_id, false, &seg, &e);
    pthread_mutex_lock(&fe->write_mu);
    if (s == ST_OK) {
        pthread_rwlock_wrlock(&fe->lock);
        s = file_engine_add_seg(fe, seg, hint_bytes);
        if (s == ST_OK)
            swap_index_locked(m);
        pthread_rwlock_unlock(&fe->lock);
        if (s != ST_OK) {
            file_segment_close(seg);
            st_error_set(&e, s, 0, "file merge: no memory");
        }
    }
    if (s != ST_OK) {
        file_engine_go_readonly(fe, &e);
        if (err != NULL)
            *err = e;
    }
    pthread_mutex_unlock(&fe->write_mu);
    return s;
}

/* Makes the output durable under its real name, with its hint. */
static st_status
finish_output(struct merge *m, struct st_error *err)
{
    struct file_engine *fe = m->fe;
    st_status s = flush(m, err);
    /* Synced before the rename, or a crash could leave a ".log" name on
     * a file whose data never reached the disk. */
    if (s == ST_OK)
        s = io_fsync(m->fd, m->tmp, err);
    /* Linux releases the fd even when close fails. */
    st_status cs = io_close(m->fd, m->tmp, s == ST_OK ? err : NULL);
    m->fd = -1;
    if (s == ST_OK)
        s = cs;
    char *path = file_segment_name(fe->dir, m->out_id, FILE_SEG_SUFFIX, false);
    if (s == ST_OK && path == NULL)
        s = st_error_set(err, ST_NOMEM, 0, "file merge: no memory");
    if (s == ST_OK)
        s = io_rename(m->tmp, path, err);
    free(path);
    if (s != ST_OK) {
        io_unlink(m->tmp, NULL);
        abandon_output(m);
        return s;
    }
    free(m->tmp);
    m->tmp = NULL;
    /* The hint is an optimisation: without it the output is scanned at
     * open, so its failure does not stop the merge. */
    struct st_error he = {0};
    uint64_t hint_bytes = FILE_HEADER_LEN + m->hints.len + FILE_HINT_ENTRY_LEN;
    if (file_hint_write(fe->dir, m->out_id, st_buf_slice(&m->hints), m->count,
                        m->size, &he) != ST_OK) {
        log_warn("file: merge output without hint error=%s", he.msg);
        hint_bytes = 0;
    }
    s = publish(m, hint_bytes, err);
    m->out_id++;
    return s;
}

static st_status
copy_record(void *arg, const struct file_record *rec, st_slice raw,
            uint64_t off)
{
    struct merge *m = arg;
    struct file_engine *fe = m->fe;
    if (rec->type != FILE_REC_PUT)
        return ST_OK; /* every older put of the key is an input too */
    struct file_loc loc;
    pthread_rwlock_rdlock(&fe->lock);
    bool live = file_index_get(fe->index, rec->key, &loc) &&
                loc.seg_id == m->input_id && loc.off == off;
    pthread_rwlock_unlock(&fe->lock);
    if (!live)
        return ST_OK;
    st_status s = ST_OK;
    if (m->fd < 0)
        s = start_output(m, &m->err);
    if (s == ST_OK && !file_hint_append(&m->hints, rec, m->size))
        s = st_error_set(&m->err, ST_NOMEM, 0, "file merge: no memory");
    if (s == ST_OK && !st_buf_append(&m->wbuf, raw))
        s = st_error_set(&m->err, ST_NOMEM, 0, "file merge: no memory");
    if (s != ST_OK)
        return s;
    m->size += raw.len;
    m->count++;
    if (m->wbuf.len >= WRITE_CHUNK)
        s = flush(m, &m->err);
    /* The last reserved id takes whatever is left, however large. */
    if (s == ST_OK && m->size >= fe->opt.segment_bytes &&
        m->out_id + 1 < m->id_limit)
        s = finish_output(m, &m->err);
    return s;
}

static st_status
copy_input(struct merge *m, const struct input *in, struct st_error *err)
{
    uint64_t bad_off = 0;
    enum file_decode bad = FILE_DECODE_OK;
    m->input_id = in->id;
    st_status s =
        file_segment_scan(in->seg, copy_record, m, &bad_off, &bad, err);
    if (s != ST_OK && err != NULL && m->err.code != ST_OK)
        *err = m->err;
    if (s == ST_OK && bad != FILE_DECODE_OK)
        s = st_error_set(err, ST_CORRUPT, 0,
                         "%s: %s at offset %llu; merge stopped, nothing "
                         "deleted (docs/file-format.md, \"Replay\")",
                         file_segment_path(in->seg), file_decode_str(bad),
                         (unsigned long long)bad_off);
    return s;
}

/* Takes the inputs out of the segment list, then deletes their files in
 * ascending id order with a directory fsync after each: a tombstone's
 * file is never gone while a file with an older put of its key remains
 * (docs/file-format.md, "Why a crash cannot lose or resurrect anything"). */
static st_status
delete_inputs(struct merge *m, struct st_error *err)
{
    struct file_engine *fe = m->fe;
    pthread_mutex_lock(&fe->write_mu);
    pthread_rwlock_wrlock(&fe->lock);
    size_t kept = 0;
    for (size_t i = 0; i < fe->nsegs; i++) {
        bool input = false;
        for (size_t j = 0; j < m->ninputs && !input; j++)
            input = fe->segs[i].seg == m->inputs[j].seg;
        if (!input)
            fe->segs[kept++] = fe->segs[i];
    }
    fe->nsegs = kept;
    pthread_rwlock_unlock(&fe->lock);
    pthread_mutex_unlock(&fe->write_mu);

    st_status s = ST_OK;
    struct st_error e = {0};
    for (size_t i = 0; i < m->ninputs; i++) {
        uint64_t id = m->inputs[i].id;
        char *hint = file_segment_name(fe->dir, id, FILE_HINT_SUFFIX, false);
        if (s == ST_OK && hint == NULL)
            s = st_error_set(&e, ST_NOMEM, 0, "file merge: no memory");
        /* The hint first: a segment without its hint is only slower to
         * open, a hint without its segment is removed at open. */
        if (s == ST_OK)
            s = io_unlink(hint, &e);
        if (s == ST_OK)
            s = io_unlink(file_segment_path(m->inputs[i].seg), &e);
        if (s == ST_OK)
            s = io_fsync_dir(fe->dir, &e);
        free(hint);
        file_segment_close(m->inputs[i].seg);
        m->inputs[i].seg = NULL;
    }
    /* An input left on disk but gone from the list could outlive the
     * tombstones a later merge deletes, so stop writing until a restart
     * reads the directory again. */
    if (s != ST_OK) {
        pthread_mutex_lock(&fe->write_mu);
        file_engine_go_readonly(fe, &e);
        pthread_mutex_unlock(&fe->write_mu);
        if (err != NULL)
            *err = e;
    }
    return s;
}

static st_status
merge_locked(struct merge *m, struct st_error *err)
{
    st_status s = begin(m, err);
    for (size_t i = 0; s == ST_OK && i < m->ninputs; i++)
        s = copy_input(m, &m->inputs[i], err);
    if (s == ST_OK && m->fd >= 0)
        s = finish_output(m, err);
    if (s != ST_OK) {
        abandon_output(m);
        return s;
    }
    s = delete_inputs(m, err);
    if (s == ST_OK)
        atomic_fetch_add(&m->fe->merges, 1);
    return s;
}

st_status
file_merge_run(struct file_engine *fe, bool force, struct st_error *err)
{
    pthread_mutex_lock(&fe->merge_mu);
    st_status s = ST_OK;
    if (force || file_merge_wanted(fe)) {
        struct merge m = {.fe = fe, .fd = -1};
        s = merge_locked(&m, err);
        st_buf_free(&m.wbuf);
        st_buf_free(&m.hints);
        free(m.inputs);
    }
    pthread_mutex_unlock(&fe->merge_mu);
    return s;
}
