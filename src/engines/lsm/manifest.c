/*
 * The manifest of the LSM engine (DDIA 3.1, "SSTables and LSM-Trees";
 * LevelDB's MANIFEST + CURRENT): a log of edits to the set of live
 * SSTables, so a flush or a compaction changes the set atomically and
 * durably. Bytes and rules: docs/manifest-format.md. Framing and torn-tail
 * handling are shared with the WAL: engines/lsm/log_record.c.
 *
 * Invariants:
 * - The in-memory live set changes only after its edit is fsynced.
 * - An edit is checked against the live set before a byte is written,
 *   with the same rules replay enforces, so a manifest we wrote always
 *   replays.
 * - CURRENT always names a complete, fsynced manifest: a new manifest is
 *   durable (file and directory entry) before CURRENT is switched, and an
 *   old one is removed only after the switch is durable.
 * - File numbers are never handed out twice: next_file only grows, and
 *   open raises it past every number the directory and the state use.
 */
#include "engines/lsm/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/lsm/log_record.h"
#include "engines/lsm/manifest_format.h"
#include "util/coding.h"
#include "util/io.h"
#include "util/log.h"

/* The live set: tables sorted by number, so a lookup is a binary search
 * and a snapshot (written in that order) replays by appending. */
struct live {
    struct lsm_manifest_state s;
    size_t cap; /* of s.tables */
};

/* Guarded by the caller: one thread at a time (manifest.h). */
struct lsm_manifest {
    char *dir;       /* owned */
    uint64_t number; /* MANIFEST-<number> in use */
    struct lsm_log_writer log;
    struct live live;
    struct st_buf frame;     /* reused encode buffer */
    bool broken;             /* CURRENT's switch may not be durable */
    struct st_error failure; /* why 'broken' */
};

static const struct lsm_log_kind manifest_kind = {
    .name = "manifest",
    .magic = LSM_MANIFEST_MAGIC,
    .frame_type = LSM_LOG_FRAME_MANIFEST_EDIT,
    /* CURRENT names a manifest only after its header and snapshot are
     * fsynced, so a short header is damage, not a crash. */
    .cut_short_header = false,
};

/* --- the live set --- */

void
lsm_table_meta_deinit(struct lsm_table_meta *m)
{
    st_buf_free(&m->min_key);
    st_buf_free(&m->max_key);
}

static void
free_tables(struct lsm_table_meta *t, size_t count)
{
    for (size_t i = 0; i < count; i++)
        lsm_table_meta_deinit(&t[i]);
    free(t);
}

void
lsm_manifest_state_free(struct lsm_manifest_state *s)
{
    if (s == NULL)
        return;
    free_tables(s->tables, s->count);
    *s = (struct lsm_manifest_state){0};
}

/* Index of the first table numbered 'number' or more. */
static size_t
lower_bound(const struct lsm_manifest_state *s, uint64_t number)
{
    size_t lo = 0, hi = s->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->tables[mid].number < number)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The table numbered 'number', or NULL. */
static const struct lsm_table_meta *
find_table(const struct lsm_manifest_state *s, uint64_t number)
{
    size_t i = lower_bound(s, number);
    return i < s->count && s->tables[i].number == number ? &s->tables[i] : NULL;
}

static bool
reserve_tables(struct live *l, size_t extra)
{
    if (extra <= l->cap - l->s.count)
        return true;
    size_t cap = l->cap ? l->cap : 16;
    while (cap - l->s.count < extra)
        cap *= 2;
    void *p = realloc(l->s.tables, cap * sizeof *l->s.tables);
    if (p == NULL)
        return false;
    l->s.tables = p;
    l->cap = cap;
    return true;
}

static bool
meta_copy(struct lsm_table_meta *dst, const struct lsm_table_meta *src)
{
    *dst = *src;
    dst->min_key = (struct st_buf){0};
    dst->max_key = (struct st_buf){0};
    if (st_buf_set(&dst->min_key, st_buf_slice(&src->min_key)) &&
        st_buf_set(&dst->max_key, st_buf_slice(&src->max_key)))
        return true;
    lsm_table_meta_deinit(dst);
    return false;
}

/* Deep copies of an edit's added tables, so that committing them after
 * the edit is durable cannot fail. NULL when out of memory. */
static struct lsm_table_meta *
copy_tables(const struct lsm_table_meta *t, size_t count)
{
    struct lsm_table_meta *out = calloc(count ? count : 1, sizeof *out);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        if (!meta_copy(&out[i], &t[i])) {
            free_tables(out, i);
            return NULL;
        }
    }
    return out;
}

/* --- checking and applying an edit --- */

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorted copies of the removed and added numbers, to find duplicates
 * and "added after removed" in O(k log k) even for a big snapshot. */
static bool
sorted_numbers(const struct lsm_edit *e, uint64_t **rm, uint64_t **add)
{
    *rm = malloc((e->removed_count + 1) * sizeof **rm);
    *add = malloc((e->added_count + 1) * sizeof **add);
    if (*rm == NULL || *add == NULL) {
        free(*rm);
        free(*add);
        return false;
    }
    for (size_t i = 0; i < e->removed_count; i++)
        (*rm)[i] = e->removed[i].number;
    for (size_t i = 0; i < e->added_count; i++)
        (*add)[i] = e->added[i].number;
    qsort(*rm, e->removed_count, sizeof **rm, cmp_u64);
    qsort(*add, e->added_count, sizeof **add, cmp_u64);
    return true;
}

static bool
has_duplicate(const uint64_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (v[i] == v[i - 1])
            return true;
    return false;
}

/* The rules of docs/manifest-format.md ("Edit payload"), with 'code'
 * ST_INVALID for an apply and ST_CORRUPT for a replay; 'where' names it. */
static st_status
check_tables(const struct lsm_manifest_state *s, const struct lsm_edit *e,
             const uint64_t *rm, st_status code, const char *where,
             struct st_error *err)
{
    for (size_t i = 0; i < e->removed_count; i++) {
        const struct lsm_table_meta *t = find_table(s, e->removed[i].number);
        if (t == NULL || t->level != e->removed[i].level)
            return st_error_set(err, code, 0,
                                "%s: remove of table %" PRIu64
                                " at level %d, which is not live there",
                                where, e->removed[i].number,
                                e->removed[i].level);
    }
    for (size_t i = 0; i < e->added_count; i++) {
        const struct lsm_table_meta *t = &e->added[i];
        if (t->level < 0 || t->level >= LSM_LEVELS)
            return st_error_set(err, code, 0,
                                "%s: table %" PRIu64
                                " at level %d, outside 0..%d",
                                where, t->number, t->level, LSM_LEVELS - 1);
        if (find_table(s, t->number) != NULL &&
            bsearch(&t->number, rm, e->removed_count, sizeof *rm, cmp_u64) ==
                NULL)
            return st_error_set(err, code, 0,
                                "%s: add of table %" PRIu64
                                ", which is already live",
                                where, t->number);
    }
    return ST_OK;
}

static st_status
check_edit(const struct lsm_manifest_state *s, const struct lsm_edit *e,
           st_status code, const char *where, struct st_error *err)
{
    uint64_t *rm, *add;
    if (!sorted_numbers(e, &rm, &add))
        return st_error_set(err, ST_NOMEM, ENOMEM, "%s", where);
    st_status st = ST_OK;
    if (has_duplicate(rm, e->removed_count) ||
        has_duplicate(add, e->added_count))
        st = st_error_set(err, code, 0, "%s: a table is named twice", where);
    if (st == ST_OK)
        st = check_tables(s, e, rm, code, where, err);
    free(rm);
    free(add);
    return st;
}

/* Applies a checked edit: counters, then removes, then adds (so one edit
 * can move a table between levels). Takes ownership of the metas in
 * 'adds' (not of the array). REQUIRES: room for e->added_count more
 * tables (reserve_tables). Cannot fail. */
static void
commit_edit(struct live *l, const struct lsm_edit *e,
            struct lsm_table_meta *adds)
{
    struct lsm_manifest_state *s = &l->s;
    if (e->has_log_number)
        s->log_number = e->log_number;
    if (e->has_last_seq)
        s->last_seq = e->last_seq;
    if (e->has_next_file && e->next_file > s->next_file)
        s->next_file = e->next_file; /* never back: see the doc */
    for (size_t i = 0; i < e->removed_count; i++) {
        size_t at = lower_bound(s, e->removed[i].number);
        lsm_table_meta_deinit(&s->tables[at]);
        memmove(&s->tables[at], &s->tables[at + 1],
                (s->count - at - 1) * sizeof *s->tables);
        s->count--;
    }
    for (size_t i = 0; i < e->added_count; i++) {
        size_t at = lower_bound(s, adds[i].number);
        memmove(&s->tables[at + 1], &s->tables[at],
                (s->count - at) * sizeof *s->tables);
        s->tables[at] = adds[i];
        s->count++;
    }
}

/* --- edit bytes (docs/manifest-format.md, "Edit payload") --- */

struct enc {
    struct st_buf *b;
    bool ok;
};

static void
put_varint(struct enc *e, uint64_t v)
{
    if (!e->ok || !st_buf_reserve(e->b, VARINT64_MAX_LEN)) {
        e->ok = false;
        return;
    }
    e->b->len += varint64_write(e->b->ptr + e->b->len, v);
}

static void
put_bytes(struct enc *e, st_slice s)
{
    put_varint(e, s.len);
    e->ok = e->ok && st_buf_append(e->b, s);
}

static void
put_table(struct enc *e, const struct lsm_table_meta *t)
{
    put_varint(e, LSM_MANIFEST_TAG_ADD_TABLE);
    put_varint(e, (uint64_t)t->level);
    put_varint(e, t->number);
    put_varint(e, t->file_bytes);
    put_varint(e, t->entries);
    put_varint(e, t->min_seq);
    put_varint(e, t->max_seq);
    put_bytes(e, st_buf_slice(&t->min_key));
    put_bytes(e, st_buf_slice(&t->max_key));
}

/* Encodes 'edit' after LSM_LOG_FRAME_HEADER_LEN bytes of room for the
 * frame header. false when out of memory. */
static bool
encode_edit(struct st_buf *b, const struct lsm_edit *edit)
{
    b->len = 0;
    struct enc e = {b, st_buf_reserve(b, LSM_LOG_FRAME_HEADER_LEN)};
    if (e.ok)
        b->len = LSM_LOG_FRAME_HEADER_LEN;
    if (edit->has_log_number) {
        put_varint(&e, LSM_MANIFEST_TAG_LOG_NUMBER);
        put_varint(&e, edit->log_number);
    }
    if (edit->has_next_file) {
        put_varint(&e, LSM_MANIFEST_TAG_NEXT_FILE);
        put_varint(&e, edit->next_file);
    }
    if (edit->has_last_seq) {
        put_varint(&e, LSM_MANIFEST_TAG_LAST_SEQ);
        put_varint(&e, edit->last_seq);
    }
    for (size_t i = 0; i < edit->removed_count; i++) {
        put_varint(&e, LSM_MANIFEST_TAG_REMOVE_TABLE);
        put_varint(&e, (uint64_t)edit->removed[i].level);
        put_varint(&e, edit->removed[i].number);
    }
    for (size_t i = 0; i < edit->added_count; i++)
        put_table(&e, &edit->added[i]);
    return e.ok;
}

struct dec {
    const uint8_t *p, *end;
    const char *bad; /* why decoding stopped; NULL while fine */
};

static uint64_t
get_varint(struct dec *d)
{
    uint64_t v = 0;
    size_t n = d->bad ? 0 : varint64_read(d->p, (size_t)(d->end - d->p), &v);
    if (n == 0 && d->bad == NULL)
        d->bad = "truncated or overlong varint";
    d->p += n;
    return v;
}

static int
get_level(struct dec *d)
{
    uint64_t v = get_varint(d);
    if (v >= LSM_LEVELS && d->bad == NULL)
        d->bad = "level out of range";
    return d->bad ? 0 : (int)v;
}

/* Copies a length-prefixed key into 'out', checking the length against
 * the bytes really there. */
static void
get_key(struct dec *d, struct st_buf *out)
{
    uint64_t len = get_varint(d);
    if (d->bad == NULL && len > (uint64_t)(d->end - d->p))
        d->bad = "key runs past the edit";
    if (d->bad != NULL)
        return;
    if (!st_buf_set(out, st_slice_make(d->p, (size_t)len)))
        d->bad = "out of memory";
    d->p += len;
}

static void
get_table(struct dec *d, struct lsm_table_meta *t)
{
    *t = (struct lsm_table_meta){0};
    t->level = get_level(d);
    t->number = get_varint(d);
    t->file_bytes = get_varint(d);
    t->entries = get_varint(d);
    t->min_seq = get_varint(d);
    t->max_seq = get_varint(d);
    get_key(d, &t->min_key);
    get_key(d, &t->max_key);
}

/* Frees what decode_edit allocated: the arrays and the added keys. */
static void
decoded_edit_free(struct lsm_edit *e)
{
    for (size_t i = 0; i < e->added_count; i++)
        lsm_table_meta_deinit(&e->added[i]);
    free(e->added);
    free(e->removed);
    *e = (struct lsm_edit){0};
}

/* Grows an array of 'count' elements of 'size' bytes to hold one more. */
static bool
grow(void **array, size_t count, size_t size)
{
    /* The capacity is the next power of two at or above 'count', so it is
     * full exactly when 'count' is 0 or a power of two. */
    if ((count & (count - 1)) != 0)
        return true;
    void *p = realloc(*array, (count ? 2 * count : 1) * size);
    if (p == NULL)
        return false;
    *array = p;
    return true;
}

static void
get_field(struct dec *d, uint64_t tag, struct lsm_edit *e)
{
    bool *has[] = {NULL, &e->has_log_number, &e->has_next_file,
                   &e->has_last_seq};
    uint64_t *val[] = {NULL, &e->log_number, &e->next_file, &e->last_seq};
    if (tag >= LSM_MANIFEST_TAG_LOG_NUMBER &&
        tag <= LSM_MANIFEST_TAG_LAST_SEQ) {
        if (*has[tag])
            d->bad = "a counter appears twice";
        *has[tag] = true;
        *val[tag] = get_varint(d);
    } else if (tag == LSM_MANIFEST_TAG_ADD_TABLE) {
        if (!grow((void **)&e->added, e->added_count, sizeof *e->added)) {
            d->bad = "out of memory";
            return;
        }
        get_table(d, &e->added[e->added_count++]);
    } else if (tag == LSM_MANIFEST_TAG_REMOVE_TABLE) {
        if (!grow((void **)&e->removed, e->removed_count, sizeof *e->removed)) {
            d->bad = "out of memory";
            return;
        }
        e->removed[e->removed_count].level = get_level(d);
        e->removed[e->removed_count++].number = get_varint(d);
    } else {
        d->bad = "unknown tag";
    }
}

/* Decodes one edit; on failure returns why (a static string) and leaves
 * nothing allocated. */
static const char *
decode_edit(st_slice payload, struct lsm_edit *e)
{
    struct dec d = {payload.ptr, payload.ptr + payload.len, NULL};
    *e = (struct lsm_edit){0};
    while (d.bad == NULL && d.p < d.end) {
        uint64_t tag = get_varint(&d);
        if (d.bad == NULL)
            get_field(&d, tag, e);
    }
    if (d.bad != NULL)
        decoded_edit_free(e);
    return d.bad;
}

/* --- files --- */

static bool
dir_path(const struct lsm_manifest *m, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", m->dir, name);
    return n > 0 && (size_t)n < cap;
}

static bool
manifest_path(const struct lsm_manifest *m, uint64_t number, char *out,
              size_t cap)
{
    int n = snprintf(out, cap, "%s/" LSM_MANIFEST_PREFIX "%06" PRIu64, m->dir,
                     number);
    return n > 0 && (size_t)n < cap;
}

/* Parses "MANIFEST-<digits>" of exactly 'len' bytes. */
static bool
parse_manifest_name(const char *name, size_t len, uint64_t *number)
{
    size_t plen = sizeof LSM_MANIFEST_PREFIX - 1;
    if (len <= plen || len > plen + 20 ||
        memcmp(name, LSM_MANIFEST_PREFIX, plen) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = plen; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *number = v;
    return true;
}

/* The numbers of every MANIFEST-N file in a directory. */
struct numbers {
    uint64_t *v;
    size_t count;
};

static st_status
collect_manifest(const char *name, void *arg)
{
    struct numbers *n = arg;
    uint64_t number;
    if (!parse_manifest_name(name, strlen(name), &number))
        return ST_OK;
    if (!grow((void **)&n->v, n->count, sizeof *n->v))
        return ST_NOMEM;
    n->v[n->count++] = number;
    return ST_OK;
}

static st_status
list_manifests(const char *dir, struct numbers *out, struct st_error *err)
{
    *out = (struct numbers){0};
    st_status s = io_list_dir(dir, collect_manifest, out, err);
    if (s == ST_NOMEM)
        st_error_set(err, ST_NOMEM, ENOMEM, "list %s", dir);
    if (s != ST_OK) {
        free(out->v);
        *out = (struct numbers){0};
    }
    return s;
}

static st_status
pass_error(struct st_error *err, const struct st_error *e)
{
    if (err != NULL)
        *err = *e;
    return e->code;
}

/* Reads the manifest number CURRENT names; *exists is false when there
 * is no CURRENT (a new directory, or a lost CURRENT). */
static st_status
read_current(const struct lsm_manifest *m, uint64_t *number, bool *exists,
             struct st_error *err)
{
    char path[PATH_MAX], line[LSM_MANIFEST_CURRENT_MAX + 1];
    if (!dir_path(m, LSM_MANIFEST_CURRENT, path, sizeof path))
        return st_error_set(err, ST_INVALID, 0, "path too long: %s", m->dir);
    int fd = -1;
    struct st_error e = {0};
    *exists = false;
    if (io_open(path, O_RDONLY, 0, &fd, &e) != ST_OK)
        return e.errnum == ENOENT ? ST_OK : pass_error(err, &e);
    *exists = true;
    size_t got = 0;
    st_status s = io_pread(fd, line, sizeof line, 0, &got, path, err);
    io_close(fd, path, NULL); /* read-only: nothing to lose */
    if (s != ST_OK)
        return s;
    if (got == 0 || got > LSM_MANIFEST_CURRENT_MAX || line[got - 1] != '\n' ||
        !parse_manifest_name(line, got - 1, number))
        return st_error_set(err, ST_CORRUPT, 0,
                            "manifest: %s does not hold a manifest name "
                            "and a newline",
                            path);
    return ST_OK;
}

static const char decode_oom[] = "out of memory";

/* Replays one edit into the live set (lsm_log_payload_fn). */
static st_status
replay_edit(void *arg, st_slice payload, const char *path, uint64_t off,
            struct st_error *err)
{
    struct live *l = arg;
    struct lsm_edit e;
    const char *why = decode_edit(payload, &e);
    if (why != NULL)
        return st_error_set(err, why == decode_oom ? ST_NOMEM : ST_CORRUPT, 0,
                            "manifest: bad edit in %s at offset %" PRIu64
                            ": %s",
                            path, off, why);
    char where[PATH_MAX + 64];
    snprintf(where, sizeof where, "manifest: %s at offset %" PRIu64, path, off);
    st_status s = check_edit(&l->s, &e, ST_CORRUPT, where, err);
    if (s == ST_OK && !reserve_tables(l, e.added_count))
        s = st_error_set(err, ST_NOMEM, ENOMEM, "%s", where);
    if (s == ST_OK) {
        commit_edit(l, &e, e.added);
        e.added_count = 0; /* the metas moved into the live set */
    }
    decoded_edit_free(&e);
    return s;
}

/* Replays MANIFEST-<number> into 'l' with the rules of 'kind'. */
static st_status
replay_manifest(const struct lsm_manifest *m, uint64_t number,
                const struct lsm_log_kind *kind, struct live *l,
                uint64_t *frames, struct st_error *err)
{
    char path[PATH_MAX];
    if (!manifest_path(m, number, path, sizeof path))
        return st_error_set(err, ST_INVALID, 0, "path too long: %s", m->dir);
    struct st_error e = {0};
    st_status s = lsm_log_replay(path, kind, replay_edit, l, frames, &e);
    if (s == ST_IO && e.errnum == ENOENT)
        return st_error_set(err, ST_CORRUPT, 0,
                            "manifest: CURRENT names %s, which is missing",
                            path);
    if (s != ST_OK)
        return pass_error(err, &e);
    if (*frames == 0 && !kind->cut_short_header)
        return st_error_set(err, ST_CORRUPT, 0,
                            "manifest: %s holds no snapshot", path);
    return ST_OK;
}

/* CURRENT is missing. A manifest that holds nothing is what a crash
 * during the first open leaves; one that names tables or sequence
 * numbers means CURRENT was lost, and starting empty would orphan every
 * table (the engine would delete them). */
static st_status
check_orphans(const struct lsm_manifest *m, const struct numbers *found,
              struct st_error *err)
{
    /* A crash during the first open can also leave a short header. */
    struct lsm_log_kind orphan_kind = manifest_kind;
    orphan_kind.cut_short_header = true;
    for (size_t i = 0; i < found->count; i++) {
        struct live tmp = {0};
        uint64_t frames = 0;
        st_status s =
            replay_manifest(m, found->v[i], &orphan_kind, &tmp, &frames, err);
        bool empty =
            tmp.s.count == 0 && tmp.s.last_seq == 0 && tmp.s.log_number == 0;
        lsm_manifest_state_free(&tmp.s);
        if (s != ST_OK || !empty)
            return st_error_set(
                err, ST_CORRUPT, 0,
                "manifest: %s/CURRENT is missing but " LSM_MANIFEST_PREFIX
                "%06" PRIu64 " holds data; restore CURRENT "
                "(docs/manifest-format.md)",
                m->dir, found->v[i]);
    }
    return ST_OK;
}

static st_status
load_state(struct lsm_manifest *m, const struct numbers *found,
           struct st_error *err)
{
    uint64_t number = 0, frames = 0;
    bool exists;
    st_status s = read_current(m, &number, &exists, err);
    if (s != ST_OK)
        return s;
    if (exists)
        return replay_manifest(m, number, &manifest_kind, &m->live, &frames,
                               err);
    m->live.s.next_file = 1; /* a new directory: numbers start at 1 */
    return check_orphans(m, found, err);
}

/* Makes next_file larger than every number in use, so none is handed
 * out twice even if an edit forgot to record next_file. */
static void
raise_next_file(struct lsm_manifest_state *s, const struct numbers *found)
{
    uint64_t need = 1;
    for (size_t i = 0; i < s->count; i++)
        if (s->tables[i].number >= need)
            need = s->tables[i].number + 1;
    if (s->log_number >= need)
        need = s->log_number + 1;
    for (size_t i = 0; i < found->count; i++)
        if (found->v[i] >= need)
            need = found->v[i] + 1;
    if (s->next_file < need)
        s->next_file = need;
}

/* --- switching to a new manifest --- */

/* Creates MANIFEST-<number> holding one snapshot of the live set, all
 * fsynced (file and directory entry). On failure nothing is left. */
static st_status
write_snapshot(struct lsm_manifest *m, uint64_t number,
               struct lsm_log_writer *w, struct st_error *err)
{
    char path[PATH_MAX];
    if (!manifest_path(m, number, path, sizeof path))
        return st_error_set(err, ST_INVALID, 0, "path too long: %s", m->dir);
    st_status s = lsm_log_writer_create(w, path, &manifest_kind, err);
    if (s != ST_OK)
        return s;
    const struct lsm_manifest_state *st = &m->live.s;
    struct lsm_edit snap = {
        .added = st->tables,
        .added_count = st->count,
        .has_log_number = true,
        .log_number = st->log_number,
        .has_next_file = true,
        .next_file = st->next_file,
        .has_last_seq = true,
        .last_seq = st->last_seq,
    };
    if (!encode_edit(&m->frame, &snap))
        s = st_error_set(err, ST_NOMEM, ENOMEM, "snapshot %s", path);
    else
        s = lsm_log_writer_append(w, m->frame.ptr,
                                  m->frame.len - LSM_LOG_FRAME_HEADER_LEN,
                                  LSM_LOG_FRAME_MANIFEST_EDIT, true, err);
    if (s != ST_OK) {
        lsm_log_writer_deinit(w, NULL);
        io_unlink(path, NULL);
    }
    return s;
}

/* Points CURRENT at MANIFEST-<number>: write temp, fsync, rename, fsync
 * the directory (PITFALLS.md). *renamed tells whether CURRENT may already
 * name the new manifest when this fails. */
static st_status
set_current(const struct lsm_manifest *m, uint64_t number, bool *renamed,
            struct st_error *err)
{
    char tmp[PATH_MAX], cur[PATH_MAX], line[LSM_MANIFEST_CURRENT_MAX];
    int n = snprintf(line, sizeof line, LSM_MANIFEST_PREFIX "%06" PRIu64 "\n",
                     number);
    *renamed = false;
    if (!dir_path(m, LSM_MANIFEST_CURRENT_TMP, tmp, sizeof tmp) ||
        !dir_path(m, LSM_MANIFEST_CURRENT, cur, sizeof cur))
        return st_error_set(err, ST_INVALID, 0, "path too long: %s", m->dir);
    int fd = -1;
    st_status s = io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd, err);
    if (s == ST_OK)
        s = io_write_all(fd, line, (size_t)n, tmp, err);
    /* The bytes are durable before the name: a crash must never leave a
     * CURRENT that is empty. */
    if (s == ST_OK)
        s = io_fsync(fd, tmp, err);
    st_status c = io_close(fd, tmp, s == ST_OK ? err : NULL);
    if (s == ST_OK)
        s = c;
    if (s == ST_OK)
        s = io_rename(tmp, cur, err);
    if (s != ST_OK) {
        io_unlink(tmp, NULL);
        return s;
    }
    *renamed = true;
    return io_fsync_dir(m->dir, err);
}

/* Removes every MANIFEST-N but the one in use, and CURRENT.tmp: left
 * over from the switch just made or from a crash during an earlier one.
 * Only called once CURRENT's switch is durable. A failure here loses
 * nothing (the next open retries), so it is only logged. */
static void
remove_stale(const struct lsm_manifest *m)
{
    struct numbers found;
    struct st_error e = {0};
    char path[PATH_MAX];
    if (list_manifests(m->dir, &found, &e) != ST_OK) {
        log_warn("manifest: cannot list old manifests error=%s", e.msg);
        return;
    }
    for (size_t i = 0; i < found.count; i++)
        if (found.v[i] != m->number &&
            manifest_path(m, found.v[i], path, sizeof path) &&
            io_unlink(path, &e) != ST_OK)
            log_warn("manifest: cannot remove old manifest error=%s", e.msg);
    free(found.v);
    if (dir_path(m, LSM_MANIFEST_CURRENT_TMP, path, sizeof path) &&
        io_unlink(path, &e) != ST_OK)
        log_warn("manifest: cannot remove file=%s error=%s", path, e.msg);
}

/* Writes a new manifest with a snapshot and switches CURRENT to it. If
 * the switch fails before the rename, the old manifest stays in use and
 * the new file is removed; after the rename, the new one is used but
 * 'broken' refuses later edits (the switch may not be durable). */
static st_status
switch_manifest(struct lsm_manifest *m, struct st_error *err)
{
    uint64_t number = m->live.s.next_file++;
    struct lsm_log_writer w;
    st_status s = write_snapshot(m, number, &w, err);
    if (s != ST_OK)
        return s;
    bool renamed = false;
    struct st_error e = {0};
    s = set_current(m, number, &renamed, &e);
    if (s != ST_OK && !renamed) {
        char path[PATH_MAX];
        lsm_log_writer_deinit(&w, NULL);
        if (manifest_path(m, number, path, sizeof path))
            io_unlink(path, NULL);
        return pass_error(err, &e);
    }
    lsm_log_writer_deinit(&m->log, NULL);
    m->log = w;
    m->number = number;
    if (s != ST_OK) {
        m->broken = true;
        m->failure = e;
        return pass_error(err, &e);
    }
    remove_stale(m);
    return ST_OK;
}

/* --- the API --- */

static st_status
state_copy(const struct lsm_manifest_state *src, struct lsm_manifest_state *dst,
           struct st_error *err)
{
    *dst = *src;
    dst->tables = copy_tables(src->tables, src->count);
    if (dst->tables == NULL) {
        *dst = (struct lsm_manifest_state){0};
        return st_error_set(err, ST_NOMEM, ENOMEM, "manifest state");
    }
    return ST_OK;
}

st_status
lsm_manifest_open(const char *dir, struct lsm_manifest **out,
                  struct lsm_manifest_state *state, struct st_error *err)
{
    *out = NULL;
    *state = (struct lsm_manifest_state){0};
    struct lsm_manifest *m = calloc(1, sizeof *m);
    if (m == NULL || (m->dir = strdup(dir)) == NULL) {
        free(m);
        return st_error_set(err, ST_NOMEM, ENOMEM, "open manifest %s", dir);
    }
    m->log.fd = -1;
    struct numbers found = {0};
    st_status s = list_manifests(dir, &found, err);
    if (s == ST_OK)
        s = load_state(m, &found, err);
    if (s == ST_OK) {
        raise_next_file(&m->live.s, &found);
        s = switch_manifest(m, err);
    }
    if (s == ST_OK)
        s = state_copy(&m->live.s, state, err);
    free(found.v);
    if (s != ST_OK) {
        lsm_manifest_close(m);
        return s;
    }
    *out = m;
    return ST_OK;
}

/* A roll failing is not the edit failing: the edit is already durable
 * in the old manifest, which stays in use (or, after the rename, in the
 * new one, with 'broken' set). */
static void
maybe_roll(struct lsm_manifest *m)
{
    if (m->log.bytes < LSM_MANIFEST_ROLL_BYTES)
        return;
    struct st_error e = {0};
    if (switch_manifest(m, &e) != ST_OK)
        log_warn("manifest: roll failed dir=%s then=%s error=%s", m->dir,
                 m->broken ? "refusing-edits" : "retrying", e.msg);
}

st_status
lsm_manifest_apply(struct lsm_manifest *m, const struct lsm_edit *edit,
                   struct st_error *err)
{
    if (m->broken || m->log.failed)
        return st_error_set(err, ST_READONLY, 0,
                            "manifest %s: refusing edits after an earlier "
                            "failure (%s)",
                            m->dir,
                            m->broken ? m->failure.msg : m->log.failure.msg);
    st_status s =
        check_edit(&m->live.s, edit, ST_INVALID, "manifest apply", err);
    if (s != ST_OK)
        return s;
    /* Everything that can fail for want of memory happens before the
     * write, so the live set can follow a durable edit without fail. */
    struct lsm_table_meta *adds = copy_tables(edit->added, edit->added_count);
    if (adds == NULL)
        return st_error_set(err, ST_NOMEM, ENOMEM, "manifest apply");
    if (!reserve_tables(&m->live, edit->added_count) ||
        !encode_edit(&m->frame, edit)) {
        free_tables(adds, edit->added_count);
        return st_error_set(err, ST_NOMEM, ENOMEM, "manifest apply");
    }
    s = lsm_log_writer_append(&m->log, m->frame.ptr,
                              m->frame.len - LSM_LOG_FRAME_HEADER_LEN,
                              LSM_LOG_FRAME_MANIFEST_EDIT, true, err);
    if (s != ST_OK) {
        free_tables(adds, edit->added_count);
        return s;
    }
    commit_edit(&m->live, edit, adds);
    free(adds); /* the metas moved into the live set */
    maybe_roll(m);
    return ST_OK;
}

uint64_t
lsm_manifest_file_number(const struct lsm_manifest *m)
{
    return m->number;
}

void
lsm_manifest_close(struct lsm_manifest *m)
{
    if (m == NULL)
        return;
    lsm_log_writer_deinit(&m->log, NULL);
    lsm_manifest_state_free(&m->live.s);
    st_buf_free(&m->frame);
    free(m->dir);
    free(m);
}
