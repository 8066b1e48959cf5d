/*
 * Fuzz target: the file engine's pure decoders (src/engines/file/
 * file_record.h, file_hint.h): file_record_decode, file_hint_decode and
 * file_header_check, on a stream of records or hint entries.
 *
 * Input: flags:1 | bytes. Bit 0 picks hint entries instead of records.
 * Bit 1 first rewrites every CRC the stream's lengths make findable, so
 * the fuzzer gets past the checksum to the checks behind it (type,
 * lengths, tombstone with a value); without it the CRC itself is tested.
 *
 * Checks: a decoded record lies inside the input, and encoding it again
 * (file_record_encode, file_hint_append) gives exactly the bytes it was
 * decoded from: a decoder that accepts bytes the encoder would never
 * write, or reads a field from the wrong place, fails here.
 */
#include "fuzz_common.h"

#include "engines/file/file_hint.h"
#include "engines/file/file_record.h"
#include "util/coding.h"
#include "util/crc32c.h"

/* Rewrites the CRC of each record (or hint entry) whose lengths fit. */
static void
fix_crcs(uint8_t *p, size_t len, bool hint)
{
    size_t head = hint ? FILE_HINT_ENTRY_LEN : FILE_REC_HEADER_LEN;
    size_t off = 0;
    while (len - off >= head) {
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

static void
check_records(st_slice in)
{
    struct st_buf again = {0};
    while (in.len > 0) {
        struct file_record rec;
        size_t used = 0;
        enum file_decode d = file_record_decode(in, &rec, &used);
        FUZZ_CHECK(file_decode_str(d) != NULL);
        if (d != FILE_DECODE_OK)
            break;
        FUZZ_CHECK(used >= FILE_REC_HEADER_LEN + 1 && used <= in.len);
        FUZZ_CHECK(rec.key.len >= 1 && rec.key.ptr == in.ptr + 21);
        FUZZ_CHECK(used == file_record_len(rec.key.len, rec.val.len));
        FUZZ_CHECK(rec.type == FILE_REC_PUT ||
                   (rec.type == FILE_REC_TOMBSTONE && rec.val.len == 0));
        uint32_t klen, vlen;
        file_record_peek_lens(in.ptr, &klen, &vlen);
        FUZZ_CHECK(klen == rec.key.len && vlen == rec.val.len);
        FUZZ_SETUP(st_buf_reserve(&again, used));
        file_record_encode(again.ptr, rec.type, rec.seq, rec.key, rec.val);
        FUZZ_CHECK(memcmp(again.ptr, in.ptr, used) == 0);
        in = st_slice_make(in.ptr + used, in.len - used);
    }
    st_buf_free(&again);
}

static void
check_hints(st_slice in)
{
    struct st_buf again = {0};
    while (in.len > 0) {
        struct file_hint_entry e;
        size_t used = 0;
        enum file_decode d = file_hint_decode(in, &e, &used);
        if (d != FILE_DECODE_OK)
            break;
        FUZZ_CHECK(used == FILE_HINT_ENTRY_LEN + e.key.len && used <= in.len);
        FUZZ_CHECK((e.type == FILE_HINT_END) == (e.key.len == 0));
        if (e.type != FILE_HINT_END) {
            /* The value is not in a hint: only its length is encoded. */
            struct file_record rec = {e.type, e.seq, e.key,
                                      st_slice_make(in.ptr, e.val_len)};
            again.len = 0;
            FUZZ_SETUP(file_hint_append(&again, &rec, e.off));
            FUZZ_CHECK(again.len == used);
            FUZZ_CHECK(memcmp(again.ptr, in.ptr, used) == 0);
        }
        in = st_slice_make(in.ptr + used, in.len - used);
    }
    st_buf_free(&again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool hint = data[0] & 1;
    uint8_t *p = malloc(size);
    FUZZ_SETUP(p != NULL);
    memcpy(p, data + 1, size - 1);
    st_slice in = st_slice_make(p, size - 1);

    /* A file starts with a header: check it, then decode what follows
     * it when it is valid, else the bytes from the start. */
    const uint8_t *magic = hint ? FILE_HINT_MAGIC : FILE_SEG_MAGIC;
    uint64_t id = in.len >= 16 ? le64_read(in.ptr + 8) : 0;
    if (file_header_check(in, magic, id)) {
        FUZZ_CHECK(in.len >= FILE_HEADER_LEN && memcmp(in.ptr, magic, 4) == 0);
        uint8_t h[FILE_HEADER_LEN];
        file_header_encode(h, magic, id);
        FUZZ_CHECK(memcmp(h, in.ptr, FILE_HEADER_LEN) == 0);
        in = st_slice_make(in.ptr + FILE_HEADER_LEN, in.len - FILE_HEADER_LEN);
    }
    if (data[0] & 2)
        fix_crcs((uint8_t *)in.ptr, in.len, hint);
    if (hint)
        check_hints(in);
    else
        check_records(in);
    free(p);
    return 0;
}
