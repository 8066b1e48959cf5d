/*
 * Start-up of the file engine (DDIA 3.1: "if the database is restarted,
 * the in-memory hash maps are lost ... restore each segment's hash map by
 * reading the entire segment file"): list the directory, read each
 * segment through its hint file or record by record, keep each key's
 * highest-seq record, cut a torn tail of the active segment, refuse
 * anything else that does not check out (docs/file-format.md, "Replay").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/file/file_engine_impl.h"
#include "engines/file/file_hint.h"
#include "util/io.h"
#include "util/log.h"

/* What the directory holds. */
struct listing {
    uint64_t *logs; /* segment ids, sorted after listing */
    size_t nlogs, cap;
    uint64_t *hints;
    size_t nhints, hcap;
    const char *dir;
};

/* Parses "<digits><suffix>" exactly; false otherwise. */
static bool
parse_name(const char *name, const char *suffix, uint64_t *id)
{
    size_t digits = 0;
    uint64_t v = 0;
    while (name[digits] >= '0' && name[digits] <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(name[digits] - '0');
        digits++;
    }
    if (digits < FILE_ID_DIGITS || strcmp(name + digits, suffix) != 0)
        return false;
    *id = v;
    return true;
}

static bool
push_id(uint64_t **ids, size_t *n, size_t *cap, uint64_t id)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        uint64_t *p = realloc(*ids, c * sizeof *p);
        if (p == NULL)
            return false;
        *ids = p;
        *cap = c;
    }
    (*ids)[(*n)++] = id;
    return true;
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static st_status
list_entry(const char *name, void *arg)
{
    struct listing *l = arg;
    uint64_t id;
    if (parse_name(name, FILE_SEG_SUFFIX, &id))
        return push_id(&l->logs, &l->nlogs, &l->cap, id) ? ST_OK : ST_NOMEM;
    if (parse_name(name, FILE_HINT_SUFFIX, &id))
        return push_id(&l->hints, &l->nhints, &l->hcap, id) ? ST_OK : ST_NOMEM;
    if (ends_with(name, FILE_TMP_SUFFIX)) {
        /* A write or merge that never finished: nothing names it. */
        char *path = NULL;
        if (asprintf(&path, "%s/%s", l->dir, name) < 0)
            return ST_NOMEM;
        log_info("file: removing unfinished file=%s", path);
        /* Left behind, it is harmless: no reader opens a ".tmp". */
        if (io_unlink(path, NULL) != ST_OK)
            log_warn("file: cannot remove file=%s", path);
        free(path);
        return ST_OK;
    }
    if (strcmp(name, "LOCK") != 0)
        log_warn("file: ignoring unknown file=%s/%s", l->dir, name);
    return ST_OK;
}

static int
cmp_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static bool
has_id(const uint64_t *ids, size_t n, uint64_t id)
{
    return n > 0 && bsearch(&id, ids, n, sizeof *ids, cmp_id) != NULL;
}

/* Replay state while reading one segment. */
struct replay {
    struct file_engine *fe;
    uint64_t seg_id;
    uint64_t max_seq;
    uint64_t bytes_read; /* for progress lines */
    uint64_t next_progress;
};

/* Highest seq wins; the loser's bytes are dead in its segment. An equal
 * seq is the same record read twice (an input and the output of a merge
 * that crashed before deleting the input): the second copy is dead. */
static st_status
apply(struct replay *r, st_slice key, const struct file_loc *loc)
{
    struct file_engine *fe = r->fe;
    if (loc->seq > r->max_seq)
        r->max_seq = loc->seq;
    fe->replayed++;
    struct file_loc *old = file_index_find(fe->index, key);
    if (old == NULL) {
        bool had_old;
        struct file_loc unused;
        return file_index_put(fe->index, key, loc, &unused, &had_old);
    }
    if (loc->seq > old->seq) {
        file_engine_add_dead(fe, old->seg_id, file_loc_rec_len(old, key.len));
        *old = *loc;
    } else {
        file_engine_add_dead(fe, loc->seg_id, file_loc_rec_len(loc, key.len));
    }
    return ST_OK;
}

static void
progress(struct replay *r, uint64_t bytes)
{
    r->bytes_read += bytes;
    if (r->bytes_read >= r->next_progress) {
        log_info("file: replaying read_mib=%llu records=%llu",
                 (unsigned long long)(r->bytes_read >> 20),
                 (unsigned long long)r->fe->replayed);
        r->next_progress += FILE_REPLAY_PROGRESS_BYTES;
    }
}

static st_status
apply_record(void *arg, const struct file_record *rec, st_slice raw,
             uint64_t off)
{
    struct replay *r = arg;
    struct file_loc loc = {rec->seq, r->seg_id, off, (uint32_t)rec->val.len,
                           rec->type == FILE_REC_TOMBSTONE};
    progress(r, raw.len);
    return apply(r, rec->key, &loc);
}

static st_status
apply_hint(void *arg, const struct file_hint_entry *e)
{
    struct replay *r = arg;
    struct file_loc loc = {e->seq, r->seg_id, e->off, e->val_len,
                           e->type == FILE_REC_TOMBSTONE};
    progress(r, file_record_len(e->key.len, e->val_len));
    return apply(r, e->key, &loc);
}

/* Reads a segment record by record. A bad record is a torn tail only at
 * the end of the active segment with nothing valid after it; anything
 * else is corruption and stops the open. */
static st_status
scan_segment(struct replay *r, struct file_segment *seg, bool active,
             struct st_error *err)
{
    uint64_t bad_off = 0;
    enum file_decode bad = FILE_DECODE_OK;
    st_status s = file_segment_scan(seg, apply_record, r, &bad_off, &bad, err);
    if (s == ST_NOMEM)
        return st_error_set(err, s, 0, "file engine: no memory for index");
    if (s != ST_OK || bad == FILE_DECODE_OK)
        return s;
    const char *path = file_segment_path(seg);
    bool valid_after = true;
    if (active) {
        s = file_segment_valid_after(seg, bad_off, &valid_after, err);
        if (s != ST_OK)
            return s;
    }
    if (!valid_after) {
        log_warn("file: cut torn tail file=%s off=%llu reason=%s "
                 "dropped_bytes=%llu",
                 path,
                 (unsigned long long)bad_off, file_decode_str(bad),
                 (unsigned long long)(file_segment_size(seg) - bad_off));
        return file_segment_truncate(seg, bad_off, err);
    }
    return st_error_set(err, ST_CORRUPT, 0,
                        "%s: %s at offset %llu before the end of the log; "
                        "not skipped. Copy the directory, then truncate the "
                        "file there or move it aside "
                        "(docs/file-format.md, \"Replay\")",
                        path, file_decode_str(bad),
                        (unsigned long long)bad_off);
}

/* Opens segment 'id', adds it to the list, and replays it. */
static st_status
load_segment(struct replay *r, const struct listing *l, uint64_t id,
             bool active, struct st_error *err)
{
    struct file_engine *fe = r->fe;
    struct file_segment *seg = NULL;
    st_status s = file_segment_open(fe->dir, id, active, &seg, err);
    if (s != ST_OK)
        return s;
    if (file_engine_add_seg(fe, seg, 0) != ST_OK) {
        file_segment_close(seg);
        return st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
    }
    r->seg_id = id;
    if (!active && has_id(l->hints, l->nhints, id)) {
        struct st_error e = {0};
        uint64_t bytes = 0;
        s = file_hint_load(fe->dir, id, file_segment_size(seg), apply_hint, r,
                           &bytes, &e);
        if (s == ST_OK) {
            file_engine_find_seg(fe, id)->hint_bytes = bytes;
            fe->hints_used++;
            return ST_OK;
        }
        if (s != ST_CORRUPT) {
            if (err != NULL)
                *err = e;
            return s;
        }
        log_warn("file: reading the segment instead of its hint error=%s",
                 e.msg);
    }
    return scan_segment(r, seg, active, err);
}

/* Removes hint files whose segment is gone (a merge deletes the hint
 * first, but a crash between the two unlinks is possible). */
static void
remove_orphan_hints(const struct listing *l)
{
    for (size_t i = 0; i < l->nhints; i++) {
        if (has_id(l->logs, l->nlogs, l->hints[i]))
            continue;
        char *path =
            file_segment_name(l->dir, l->hints[i], FILE_HINT_SUFFIX, false);
        if (path != NULL) {
            log_info("file: removing orphan hint=%s", path);
            io_unlink(path, NULL);
        }
        free(path);
    }
}

/* Tombstones were kept during replay so that an older put read later
 * could not resurrect the key; now every file is read, they go. */
static st_status
drop_tombstones(struct file_engine *fe, struct st_error *err)
{
    struct st_buf keys = {0}; /* len:8 (native) | key, repeated */
    size_t pos = 0;
    st_slice key;
    struct file_loc loc;
    while (file_index_next(fe->index, &pos, &key, &loc)) {
        if (!loc.tombstone)
            continue;
        file_engine_add_dead(fe, loc.seg_id, file_loc_rec_len(&loc, key.len));
        uint64_t n = key.len;
        if (!st_buf_append(&keys, st_slice_make(&n, sizeof n)) ||
            !st_buf_append(&keys, key)) {
            st_buf_free(&keys);
            return st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
        }
    }
    for (size_t at = 0; at < keys.len;) {
        uint64_t n;
        memcpy(&n, keys.ptr + at, sizeof n);
        at += sizeof n;
        file_index_delete(fe->index, st_slice_make(keys.ptr + at, (size_t)n));
        at += (size_t)n;
    }
    st_buf_free(&keys);
    return ST_OK;
}

static st_status
replay_all(struct file_engine *fe, struct listing *l, struct st_error *err)
{
    struct replay r = {.fe = fe, .next_progress = FILE_REPLAY_PROGRESS_BYTES};
    st_status s = ST_OK;
    for (size_t i = 0; s == ST_OK && i < l->nlogs; i++)
        s = load_segment(&r, l, l->logs[i], i + 1 == l->nlogs, err);
    if (s == ST_OK)
        s = drop_tombstones(fe, err);
    fe->next_seq = r.max_seq + 1;
    if (l->nlogs > 0)
        fe->next_id = l->logs[l->nlogs - 1] + 1;
    if (s == ST_OK && l->nlogs == 0) {
        struct file_segment *seg = NULL;
        s = file_segment_create(fe->dir, fe->next_id, &seg, err);
        if (s == ST_OK && file_engine_add_seg(fe, seg, 0) != ST_OK) {
            file_segment_close(seg);
            s = st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
        }
        fe->next_id++;
    }
    if (s == ST_OK && r.bytes_read >= FILE_REPLAY_PROGRESS_BYTES)
        log_info("file: replay done records=%llu keys=%zu",
                 (unsigned long long)fe->replayed, file_index_count(fe->index));
    return s;
}

st_status
file_replay(struct file_engine *fe, struct st_error *err)
{
    struct listing l = {.dir = fe->dir};
    st_status s = io_list_dir(fe->dir, list_entry, &l, err);
    if (s == ST_NOMEM)
        s = st_error_set(err, s, 0, "file engine: no memory");
    if (s == ST_OK) {
        /* qsort(NULL, 0, ...) is undefined behaviour, hence the checks. */
        if (l.nlogs > 0)
            qsort(l.logs, l.nlogs, sizeof *l.logs, cmp_id);
        if (l.nhints > 0)
            qsort(l.hints, l.nhints, sizeof *l.hints, cmp_id);
        remove_orphan_hints(&l);
        s = replay_all(fe, &l, err);
    }
    free(l.logs);
    free(l.hints);
    return s;
}
