/*
 * Hint files (Bitcask's ".hint"; docs/file-format.md, "Hint file"). A hint
 * is an optimisation and never the only copy of anything: it is trusted
 * only when every byte checks out, otherwise the segment is scanned.
 */
#include "engines/file/file_hint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "engines/file/file_segment.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "util/io.h"

static void
encode_entry(uint8_t *p, enum file_rec_type type, uint64_t seq, st_slice key,
             uint32_t val_len, uint64_t off)
{
    p[4] = (uint8_t)type;
    le64_write(p + 5, seq);
    le32_write(p + 13, (uint32_t)key.len);
    le32_write(p + 17, val_len);
    le64_write(p + 21, off);
    if (key.len)
        memcpy(p + FILE_HINT_ENTRY_LEN, key.ptr, key.len);
    size_t covered = FILE_HINT_ENTRY_LEN - 4 + key.len;
    le32_write(p, crc32c_mask(crc32c(p + 4, covered)));
}

bool
file_hint_append(struct st_buf *entries, const struct file_record *rec,
                 uint64_t off)
{
    size_t len = FILE_HINT_ENTRY_LEN + rec->key.len;
    if (!st_buf_reserve(entries, len))
        return false;
    encode_entry(entries->ptr + entries->len, rec->type, rec->seq, rec->key,
                 (uint32_t)rec->val.len, off);
    entries->len += len;
    return true;
}

enum file_decode
file_hint_decode(st_slice in, struct file_hint_entry *e, size_t *used)
{
    if (in.len < FILE_HINT_ENTRY_LEN)
        return FILE_DECODE_SHORT_HEADER;
    uint32_t key_len = le32_read(in.ptr + 13);
    if (key_len > in.len - FILE_HINT_ENTRY_LEN)
        return FILE_DECODE_SHORT_BODY;
    uint32_t want = crc32c_unmask(le32_read(in.ptr));
    if (crc32c(in.ptr + 4, FILE_HINT_ENTRY_LEN - 4 + key_len) != want)
        return FILE_DECODE_BAD_CRC;
    uint8_t type = in.ptr[4];
    if (type != FILE_REC_PUT && type != FILE_REC_TOMBSTONE &&
        type != FILE_HINT_END)
        return FILE_DECODE_BAD_TYPE;
    /* Only the end entry has no key. */
    if ((type == FILE_HINT_END) != (key_len == 0))
        return FILE_DECODE_BAD_LENGTH;
    e->type = (enum file_rec_type)type;
    e->seq = le64_read(in.ptr + 5);
    e->val_len = le32_read(in.ptr + 17);
    e->off = le64_read(in.ptr + 21);
    e->key = st_slice_make(in.ptr + FILE_HINT_ENTRY_LEN, key_len);
    *used = FILE_HINT_ENTRY_LEN + key_len;
    return FILE_DECODE_OK;
}

static st_status
write_file(const char *path, st_slice head, st_slice entries, st_slice tail,
           struct st_error *err)
{
    int fd = -1;
    st_status s = io_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640, &fd, err);
    if (s == ST_OK)
        s = io_write_all(fd, head.ptr, head.len, path, err);
    if (s == ST_OK && entries.len)
        s = io_write_all(fd, entries.ptr, entries.len, path, err);
    if (s == ST_OK)
        s = io_write_all(fd, tail.ptr, tail.len, path, err);
    /* Synced before the rename: a ".hint" name is never a half file. */
    if (s == ST_OK)
        s = io_fsync(fd, path, err);
    if (fd >= 0 && io_close(fd, path, s == ST_OK ? err : NULL) != ST_OK &&
        s == ST_OK)
        s = ST_IO;
    return s;
}

st_status
file_hint_write(const char *dir, uint64_t id, st_slice entries, uint64_t count,
                uint64_t seg_size, struct st_error *err)
{
    char *tmp = file_segment_name(dir, id, FILE_HINT_SUFFIX, true);
    char *path = file_segment_name(dir, id, FILE_HINT_SUFFIX, false);
    st_status s = ST_OK;
    if (tmp == NULL || path == NULL) {
        s = st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
        goto out;
    }
    uint8_t head[FILE_HEADER_LEN];
    uint8_t tail[FILE_HINT_ENTRY_LEN];
    file_header_encode(head, FILE_HINT_MAGIC, id);
    encode_entry(tail, FILE_HINT_END, count, st_slice_make(NULL, 0), 0,
                 seg_size);
    s = write_file(tmp, st_slice_make(head, sizeof head), entries,
                   st_slice_make(tail, sizeof tail), err);
    if (s == ST_OK)
        s = io_rename(tmp, path, err);
    if (s != ST_OK)
        io_unlink(tmp, NULL);
out:
    free(tmp);
    free(path);
    return s;
}

/* Reads a whole file into 'buf'. ST_NOT_FOUND when it does not exist. */
static st_status
read_whole(const char *path, struct st_buf *buf, struct st_error *err)
{
    int fd = -1;
    struct st_error e = {0};
    if (io_open(path, O_RDONLY, 0, &fd, &e) != ST_OK) {
        if (e.errnum == ENOENT)
            return ST_NOT_FOUND;
        return st_error_set(err, ST_IO, e.errnum, "open %s", path);
    }
    uint64_t size = 0;
    size_t got = 0;
    st_status s = io_file_size(fd, &size, path, err);
    if (s == ST_OK && (size > SIZE_MAX || !st_buf_reserve(buf, size)))
        s = st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
    if (s == ST_OK)
        s = io_pread(fd, buf->ptr, (size_t)size, 0, &got, path, err);
    buf->len = got;
    io_close(fd, path, NULL);
    return s;
}

/* Checks the header, every entry and the end entry; on false *bad_off
 * says where the damage starts. */
static bool
verify(st_slice in, uint64_t id, uint64_t seg_size, uint64_t *bad_off)
{
    *bad_off = 0;
    if (!file_header_check(in, FILE_HINT_MAGIC, id))
        return false;
    size_t at = FILE_HEADER_LEN;
    uint64_t count = 0;
    for (;;) {
        struct file_hint_entry e;
        size_t used = 0;
        *bad_off = at;
        st_slice rest = st_slice_make(in.ptr + at, in.len - at);
        if (file_hint_decode(rest, &e, &used) != FILE_DECODE_OK)
            return false;
        at += used;
        if (e.type == FILE_HINT_END)
            return at == in.len && e.seq == count && e.off == seg_size;
        /* Subtract rather than add: an offset near 2^64 would wrap the
         * sum below seg_size (found by fuzz_file_engine). */
        if (e.off < FILE_HEADER_LEN || e.off > seg_size ||
            file_record_len(e.key.len, e.val_len) > seg_size - e.off)
            return false;
        count++;
    }
}

st_status
file_hint_load(const char *dir, uint64_t id, uint64_t seg_size, file_hint_fn fn,
               void *arg, uint64_t *bytes, struct st_error *err)
{
    char *path = file_segment_name(dir, id, FILE_HINT_SUFFIX, false);
    if (path == NULL)
        return st_error_set(err, ST_NOMEM, 0, "file engine: no memory");
    struct st_buf buf = {0};
    st_status s = read_whole(path, &buf, err);
    uint64_t bad_off = 0;
    *bytes = buf.len;
    if (s == ST_OK && !verify(st_buf_slice(&buf), id, seg_size, &bad_off))
        s = st_error_set(err, ST_CORRUPT, 0, "%s: damaged at offset %llu", path,
                         (unsigned long long)bad_off);
    for (size_t at = FILE_HEADER_LEN; s == ST_OK;) {
        struct file_hint_entry e;
        size_t used = 0;
        file_hint_decode(st_slice_make(buf.ptr + at, buf.len - at), &e, &used);
        if (e.type == FILE_HINT_END)
            break;
        s = fn(arg, &e);
        at += used;
    }
    st_buf_free(&buf);
    free(path);
    return s;
}
