/*
 * Fuzz target: opening the file engine (Bitcask, src/engines/file/) on a
 * directory of fuzzed files, then reading every key they name.
 *
 * Input: flags:1 | segment 1 [SEP hint of segment 1 [SEP segment 2]]
 * with SEP = "\n--\n". Segment 2, when present, is the active segment
 * (the only one whose torn tail may be cut). Flag bit 0 prepends a valid
 * header to each file and rewrites the CRC of every record and hint
 * entry whose lengths fit, so that the fuzzer reaches replay's logic
 * instead of stopping at a checksum.
 *
 * Open must return a status, never crash. When it returns ST_OK:
 *   - every get answers ST_OK, ST_NOT_FOUND or ST_CORRUPT, and an ST_OK
 *     value is one that a put record in the files really holds for that
 *     key: never bytes of another key, never invented;
 *   - with one segment and no hint, the answers are exactly the model's:
 *     per key, the valid record with the highest seq (the first of equal
 *     seqs) of the records before the first bad one, a tombstone meaning
 *     absent;
 *   - a set followed by a get returns the value set.
 */
#include "fuzz_common.h"

#include "engines/file/file_engine.h"
#include "engines/file/file_hint.h"
#include "engines/file/file_record.h"
#include "util/coding.h"
#include "util/crc32c.h"

static char dir[300];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(dir, sizeof dir, "%s/file", fuzz_scratch_dir());
    return 0;
}

struct part {
    uint8_t *p; /* owned */
    size_t len;
};

/* Rewrites the CRCs of the records or entries after a header. */
static void
fix_crcs(uint8_t *p, size_t len, bool hint)
{
    size_t head = hint ? FILE_HINT_ENTRY_LEN : FILE_REC_HEADER_LEN;
    for (size_t off = FILE_HEADER_LEN; off <= len && len - off >= head;) {
        uint64_t body = le32_read(p + off + 13);
        if (!hint)
            body += le32_read(p + off + 17);
        if (body > len - off - head)
            return;
        size_t n = head + (size_t)body;
        le32_write(p + off, crc32c_mask(crc32c(p + off + 4, n - 4)));
        off += n;
    }
}

static struct part
make_part(const uint8_t *src, size_t len, bool fix, bool hint, uint64_t id)
{
    struct part pt = {malloc(len + FILE_HEADER_LEN), 0};
    FUZZ_SETUP(pt.p != NULL);
    if (fix) {
        file_header_encode(pt.p, hint ? FILE_HINT_MAGIC : FILE_SEG_MAGIC, id);
        pt.len = FILE_HEADER_LEN;
    }
    memcpy(pt.p + pt.len, src, len);
    pt.len += len;
    if (fix)
        fix_crcs(pt.p, pt.len, hint);
    return pt;
}

static size_t
split(const uint8_t *data, size_t size, bool fix, struct part parts[3])
{
    static const uint8_t sep[4] = {'\n', '-', '-', '\n'};
    static const bool is_hint[3] = {false, true, false};
    static const uint64_t ids[3] = {1, 1, 2};
    size_t n = 0;
    while (n < 3) {
        const uint8_t *end = memmem(data, size, sep, sizeof sep);
        size_t len = end ? (size_t)(end - data) : size;
        parts[n] = make_part(data, len, fix, is_hint[n], ids[n]);
        n++;
        if (end == NULL)
            break;
        data += len + sizeof sep;
        size -= len + sizeof sep;
    }
    return n;
}

/* The valid records at the start of a segment (after its header). */
struct seg_walk {
    st_slice rest;
};

static bool
next_record(struct seg_walk *w, struct file_record *rec)
{
    size_t used;
    if (file_record_decode(w->rest, rec, &used) != FILE_DECODE_OK)
        return false;
    w->rest = st_slice_make(w->rest.ptr + used, w->rest.len - used);
    return true;
}

static struct seg_walk
walk_of(const struct part *pt)
{
    if (pt->len < FILE_HEADER_LEN)
        return (struct seg_walk){{pt->p, 0}};
    return (struct seg_walk){
        {pt->p + FILE_HEADER_LEN, pt->len - FILE_HEADER_LEN}};
}

/* Some put record of a segment, starting at any offset (a hint may
 * point past damage a sequential walk stops at), holds exactly this key
 * and value. */
static bool
written_somewhere(const struct part *parts, size_t n, st_slice key,
                  st_slice val)
{
    for (size_t i = 0; i < n; i += 2) { /* parts 0 and 2: not the hint */
        for (size_t off = 0; off < parts[i].len; off++) {
            struct file_record rec;
            size_t used;
            st_slice at = st_slice_make(parts[i].p + off, parts[i].len - off);
            if (file_record_decode(at, &rec, &used) == FILE_DECODE_OK &&
                rec.type == FILE_REC_PUT && st_slice_equal(rec.key, key) &&
                st_slice_equal(rec.val, val))
                return true;
        }
    }
    return false;
}

/* With one segment: the newest valid record of 'key', or NULL. */
static bool
model_get(const struct part *seg, st_slice key, struct file_record *best)
{
    struct seg_walk w = walk_of(seg);
    struct file_record rec;
    bool found = false;
    while (next_record(&w, &rec)) {
        if (!st_slice_equal(rec.key, key))
            continue;
        if (!found || rec.seq > best->seq)
            *best = rec;
        found = true;
    }
    return found;
}

static void
check_key(struct engine *e, const struct part *parts, size_t n, st_slice key,
          struct st_buf *val)
{
    st_status s = e->ops->get(e, key, val, NULL);
    FUZZ_CHECK(s == ST_OK || s == ST_NOT_FOUND || s == ST_CORRUPT ||
               s == ST_INVALID);
    if (s == ST_OK && !written_somewhere(parts, n, key, st_buf_slice(val)))
        fprintf(stderr, "get '%.*s' answered '%.*s', which no record holds\n",
                (int)key.len, (const char *)key.ptr, (int)val->len,
                (const char *)val->ptr);
    if (s == ST_OK)
        FUZZ_CHECK(written_somewhere(parts, n, key, st_buf_slice(val)));
    if (n == 1) {
        struct file_record best;
        bool live = model_get(&parts[0], key, &best) &&
                    best.type == FILE_REC_PUT;
        FUZZ_CHECK(s == (live ? ST_OK : ST_NOT_FOUND));
        if (live)
            FUZZ_CHECK(st_slice_equal(st_buf_slice(val), best.val));
    }
}

/* Gets every key a record or hint entry names. */
static void
check_all_keys(struct engine *e, const struct part *parts, size_t n)
{
    struct st_buf val = {0};
    for (size_t i = 0; i < n; i++) {
        if (i == 1) {
            st_slice in = walk_of(&parts[1]).rest;
            struct file_hint_entry h;
            size_t used;
            while (file_hint_decode(in, &h, &used) == FILE_DECODE_OK &&
                   h.key.len > 0) {
                check_key(e, parts, n, h.key, &val);
                in = st_slice_make(in.ptr + used, in.len - used);
            }
            continue;
        }
        struct seg_walk w = walk_of(&parts[i]);
        struct file_record rec;
        while (next_record(&w, &rec))
            check_key(e, parts, n, rec.key, &val);
    }
    st_buf_free(&val);
}

static void
write_files(const struct part *parts, size_t n)
{
    static const char *const names[3] = {"000000000001.log",
                                         "000000000001.hint",
                                         "000000000002.log"};
    char path[400];
    fuzz_empty_dir(dir);
    rmdir(dir);
    FUZZ_SETUP(mkdir(dir, 0755) == 0);
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        fuzz_write_file(path, parts[i].p, parts[i].len);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct part parts[3];
    size_t n = split(data + 1, size - 1, data[0] & 1, parts);
    write_files(parts, n);

    struct engine_options opt;
    engine_options_default(&opt);
    opt.background = false;
    opt.sync = ENGINE_SYNC_NONE;
    struct engine *e = NULL;
    st_status s = file_engine_ops.open(dir, &opt, &e, NULL);
    if (s == ST_OK) {
        check_all_keys(e, parts, n);
        static const uint8_t k[] = "fuzz-key", v[] = "fuzz-value";
        struct st_buf got = {0};
        FUZZ_CHECK(e->ops->set(e, st_slice_make(k, 8), st_slice_make(v, 10),
                               NULL) == ST_OK);
        FUZZ_CHECK(e->ops->get(e, st_slice_make(k, 8), &got, NULL) == ST_OK);
        FUZZ_CHECK(st_slice_equal(st_buf_slice(&got), st_slice_make(v, 10)));
        st_buf_free(&got);
        e->ops->close(e, NULL);
    }
    for (size_t i = 0; i < n; i++)
        free(parts[i].p);
    return 0;
}
