/*
 * A segment of the Bitcask log (DDIA 3.1; docs/file-format.md). The
 * invariants it keeps: a ".log" name always holds a whole header (it is
 * written under ".tmp" first), 'size' only ever covers whole records, and
 * a failed append leaves the file as it was or marks it broken.
 *
 * Point reads come from a read-only shared mapping of the file when they
 * can (docs/performance.md, "file"): no system call, no copy into a
 * buffer, the CRC still checked on every read. The active segment is
 * mapped once with MAP_HEADROOM bytes to spare, so its appends show
 * through without a remap; only offsets below 'size', which cover whole
 * written records, are ever read through it, so the part of the mapping
 * past the end of the file (SIGBUS if touched) never is, also after a
 * torn tail is cut at open or a failed append is cut back. Records
 * beyond the mapping, and every scan (replay, merge), use pread through
 * util/io.c as before.
 */
#include "engines/file/file_segment.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/io.h"
#include "util/mmap_file.h"

struct file_segment {
    uint64_t id;
    int fd;
    char *path;
    /* Written by the appending thread, read by stats on others. */
    _Atomic uint64_t size;
    struct mmap_file map; /* may be empty: then every read is a pread */
};

/* Address space, not memory, reserved past the end of a segment opened
 * for appending: above the default segment size of 64 MiB plus a batch. */
static const uint64_t MAP_HEADROOM = UINT64_C(1) << 30;

/* Maps the file for point reads; a failure only means pread is used. */
static void
map_segment(struct file_segment *seg, uint64_t size, bool writable)
{
    uint64_t len = writable ? size + MAP_HEADROOM : size;
    if (mmap_file_map(seg->fd, len, seg->path, &seg->map, NULL) != ST_OK)
        seg->map = (struct mmap_file){NULL, 0};
}

/* Scans read this much at a time: large enough that a replay is a few
 * big sequential reads per segment. */
static const size_t SCAN_CHUNK = 1u << 20;

char *
file_segment_name(const char *dir, uint64_t id, const char *suffix, bool tmp)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%0*llu%s%s", dir, FILE_ID_DIGITS,
                 (unsigned long long)id, suffix,
                 tmp ? FILE_TMP_SUFFIX : "") < 0)
        return NULL;
    return s;
}

static st_status
segment_alloc(const char *dir, uint64_t id, struct file_segment **out,
              struct st_error *err)
{
    struct file_segment *seg = calloc(1, sizeof *seg);
    if (seg != NULL)
        seg->path = file_segment_name(dir, id, FILE_SEG_SUFFIX, false);
    if (seg == NULL || seg->path == NULL) {
        free(seg);
        return st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
    }
    seg->id = id;
    seg->fd = -1;
    *out = seg;
    return ST_OK;
}

/* Writes and fsyncs the header into a new "ID.log.tmp". The fsync comes
 * before the rename, or a crash could leave a ".log" holding nothing. */
static st_status
write_tmp_header(const char *tmp, uint64_t id, struct st_error *err)
{
    uint8_t hdr[FILE_HEADER_LEN];
    file_header_encode(hdr, FILE_SEG_MAGIC, id);
    int fd = -1;
    st_status s = io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0640, &fd, err);
    if (s == ST_OK)
        s = io_write_all(fd, hdr, sizeof hdr, tmp, err);
    if (s == ST_OK)
        s = io_fsync(fd, tmp, err);
    if (fd >= 0 && io_close(fd, tmp, s == ST_OK ? err : NULL) != ST_OK &&
        s == ST_OK)
        s = ST_IO;
    return s;
}

st_status
file_segment_create(const char *dir, uint64_t id, struct file_segment **out,
                    struct st_error *err)
{
    struct file_segment *seg = NULL;
    st_status s = segment_alloc(dir, id, &seg, err);
    if (s != ST_OK)
        return s;
    char *tmp = file_segment_name(dir, id, FILE_SEG_SUFFIX, true);
    if (tmp == NULL) {
        s = st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
        goto fail;
    }
    s = write_tmp_header(tmp, id, err);
    if (s == ST_OK)
        s = io_rename(tmp, seg->path, err);
    /* The rename is atomic but not durable until the directory is. */
    if (s == ST_OK)
        s = io_fsync_dir(dir, err);
    if (s == ST_OK)
        s = io_open(seg->path, O_RDWR | O_APPEND, 0, &seg->fd, err);
    if (s != ST_OK) {
        io_unlink(tmp, NULL);
        goto fail;
    }
    free(tmp);
    atomic_store(&seg->size, FILE_HEADER_LEN);
    map_segment(seg, FILE_HEADER_LEN, true);
    *out = seg;
    return ST_OK;
fail:
    free(tmp);
    file_segment_close(seg);
    return s;
}

static st_status
check_header(struct file_segment *seg, struct st_error *err)
{
    uint8_t hdr[FILE_HEADER_LEN];
    size_t got = 0;
    st_status s = io_pread(seg->fd, hdr, sizeof hdr, 0, &got, seg->path, err);
    if (s != ST_OK)
        return s;
    if (!file_header_check(st_slice_make(hdr, got), FILE_SEG_MAGIC, seg->id))
        return st_error_set(err, ST_CORRUPT, 0,
                            "%s: bad segment header at offset 0 (move the "
                            "file aside, see docs/file-format.md)",
                            seg->path);
    return ST_OK;
}

st_status
file_segment_open(const char *dir, uint64_t id, bool writable,
                  struct file_segment **out, struct st_error *err)
{
    struct file_segment *seg = NULL;
    st_status s = segment_alloc(dir, id, &seg, err);
    if (s != ST_OK)
        return s;
    int flags = writable ? O_RDWR | O_APPEND : O_RDONLY;
    uint64_t size = 0;
    s = io_open(seg->path, flags, 0, &seg->fd, err);
    if (s == ST_OK)
        s = io_file_size(seg->fd, &size, seg->path, err);
    if (s == ST_OK)
        s = check_header(seg, err);
    if (s != ST_OK) {
        file_segment_close(seg);
        return s;
    }
    atomic_store(&seg->size, size);
    map_segment(seg, size, writable);
    *out = seg;
    return ST_OK;
}

void
file_segment_close(struct file_segment *seg)
{
    if (seg == NULL)
        return;
    mmap_file_unmap(&seg->map);
    io_close(seg->fd, seg->path, NULL);
    free(seg->path);
    free(seg);
}

uint64_t
file_segment_id(const struct file_segment *seg)
{
    return seg->id;
}

const char *
file_segment_path(const struct file_segment *seg)
{
    return seg->path;
}

uint64_t
file_segment_size(const struct file_segment *seg)
{
    return atomic_load_explicit(&seg->size, memory_order_relaxed);
}

st_status
file_segment_append(struct file_segment *seg, st_slice rec, uint64_t *off,
                    bool *broken, struct st_error *err)
{
    uint64_t end = atomic_load_explicit(&seg->size, memory_order_relaxed);
    *broken = false;
    st_status s = io_write_all(seg->fd, rec.ptr, rec.len, seg->path, err);
    if (s == ST_OK) {
        *off = end;
        atomic_store_explicit(&seg->size, end + rec.len, memory_order_relaxed);
        return ST_OK;
    }
    /* A short write may have left a prefix of the record; cut it so the
     * next record does not land behind junk that replay would call
     * corruption. */
    if (io_ftruncate(seg->fd, end, seg->path, NULL) != ST_OK)
        *broken = true;
    return s;
}

st_status
file_segment_sync(struct file_segment *seg, struct st_error *err)
{
    return io_fsync(seg->fd, seg->path, err);
}

st_status
file_segment_truncate(struct file_segment *seg, uint64_t off,
                      struct st_error *err)
{
    /* The fsync makes the cut durable before any new append, or a crash
     * could bring the torn bytes back in front of new records. */
    st_status s = io_ftruncate(seg->fd, off, seg->path, err);
    if (s == ST_OK)
        s = io_fsync(seg->fd, seg->path, err);
    if (s == ST_OK)
        atomic_store(&seg->size, off);
    return s;
}

st_status
file_segment_read(const struct file_segment *seg, uint64_t off,
                  uint64_t rec_len, struct st_buf *buf, struct file_record *rec,
                  struct st_error *err)
{
    buf->len = 0;
    st_slice raw;
    uint64_t size = atomic_load_explicit(&seg->size, memory_order_relaxed);
    if (off <= size && rec_len <= size - off &&
        mmap_file_covers(&seg->map, off, rec_len)) {
        raw = st_slice_make(seg->map.ptr + off, (size_t)rec_len);
    } else {
        if (rec_len > SIZE_MAX || !st_buf_reserve(buf, (size_t)rec_len))
            return st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
        size_t got = 0;
        st_status s = io_pread(seg->fd, buf->ptr, (size_t)rec_len, off, &got,
                               seg->path, err);
        if (s != ST_OK)
            return s;
        buf->len = got;
        raw = st_buf_slice(buf);
    }
    size_t used = 0;
    enum file_decode d = file_record_decode(raw, rec, &used);
    if (d == FILE_DECODE_OK && used != rec_len)
        d = FILE_DECODE_BAD_LENGTH;
    if (d != FILE_DECODE_OK)
        return st_error_set(err, ST_CORRUPT, 0, "%s: %s at offset %llu",
                            seg->path, file_decode_str(d),
                            (unsigned long long)off);
    return ST_OK;
}

/* The scan's window onto the file: bytes [base, base + buf.len). */
struct window {
    struct st_buf buf;
    uint64_t base;
    uint64_t file_size;
};

/* Refills the window to start at 'off' with at least 'want' bytes (or up
 * to the end of the file). */
static st_status
refill(struct file_segment *seg, struct window *w, uint64_t off, size_t want,
       struct st_error *err)
{
    uint64_t left = w->file_size - off;
    size_t n = want > SCAN_CHUNK ? want : SCAN_CHUNK;
    if (n > left)
        n = (size_t)left;
    w->buf.len = 0;
    if (!st_buf_reserve(&w->buf, n))
        return st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
    size_t got = 0;
    st_status s = io_pread(seg->fd, w->buf.ptr, n, off, &got, seg->path, err);
    w->buf.len = got;
    w->base = off;
    return s;
}

/* Decodes the record at 'off', moving the window when the record is not
 * wholly inside it. A decode failure is final only when the window
 * already reaches the end of the file. */
static st_status
decode_at(struct file_segment *seg, struct window *w, uint64_t off,
          struct file_record *rec, size_t *used, enum file_decode *d,
          struct st_error *err)
{
    /* At most two refills: one to see the header, one for the body. */
    for (int attempt = 0;; attempt++) {
        size_t at = (size_t)(off - w->base);
        st_slice in = st_slice_make(w->buf.ptr + at, w->buf.len - at);
        *d = file_record_decode(in, rec, used);
        bool at_eof = w->base + w->buf.len >= w->file_size;
        bool cut =
            *d == FILE_DECODE_SHORT_HEADER || *d == FILE_DECODE_SHORT_BODY;
        if (!cut || at_eof || attempt > 1)
            return ST_OK;
        size_t want = FILE_REC_HEADER_LEN;
        if (in.len >= FILE_REC_HEADER_LEN) {
            uint32_t kl, vl;
            file_record_peek_lens(in.ptr, &kl, &vl);
            uint64_t len = file_record_len(kl, vl);
            /* A length past the end of the file is a cut body: no need
             * to allocate what the (maybe torn) length field claims. */
            if (len > w->file_size - off)
                len = w->file_size - off;
            want = (size_t)len;
        }
        st_status s = refill(seg, w, off, want, err);
        if (s != ST_OK)
            return s;
    }
}

st_status
file_segment_scan(struct file_segment *seg, file_segment_fn fn, void *arg,
                  uint64_t *bad_off, enum file_decode *bad,
                  struct st_error *err)
{
    struct window w = {.file_size = file_segment_size(seg)};
    uint64_t off = FILE_HEADER_LEN;
    st_status s = ST_OK;
    *bad = FILE_DECODE_OK;
    if (off < w.file_size)
        s = refill(seg, &w, off, 0, err);
    while (s == ST_OK && off < w.file_size) {
        struct file_record rec;
        size_t used = 0;
        enum file_decode d;
        s = decode_at(seg, &w, off, &rec, &used, &d, err);
        if (s != ST_OK)
            break;
        if (d != FILE_DECODE_OK) {
            *bad = d;
            break;
        }
        st_slice raw = st_slice_make(w.buf.ptr + (off - w.base), used);
        s = fn(arg, &rec, raw, off);
        off += used;
    }
    *bad_off = off;
    st_buf_free(&w.buf);
    return s;
}

st_status
file_segment_valid_after(struct file_segment *seg, uint64_t off, bool *found,
                         struct st_error *err)
{
    /* Only on the error path of an open: read the rest of the file and
     * try every byte position, as a torn write leaves nothing valid
     * behind it but bit rot in the middle does. */
    *found = false;
    struct window w = {.file_size = file_segment_size(seg)};
    if (off + 1 >= w.file_size)
        return ST_OK;
    st_status s =
        refill(seg, &w, off + 1, (size_t)(w.file_size - off - 1), err);
    for (size_t at = 0; s == ST_OK && at < w.buf.len && !*found; at++) {
        struct file_record rec;
        size_t used;
        st_slice in = st_slice_make(w.buf.ptr + at, w.buf.len - at);
        *found = file_record_decode(in, &rec, &used) == FILE_DECODE_OK;
    }
    st_buf_free(&w.buf);
    return s;
}
