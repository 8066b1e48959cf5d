/*
 * Records of the Bitcask log (DDIA 3.1, "Hash Indexes"): length-framed,
 * typed, sequence-numbered and checksummed, so that a crash in the middle
 * of an append is recognised and never served (docs/file-format.md).
 */
#include "engines/file/file_record.h"

#include <string.h>

#include "util/coding.h"
#include "util/crc32c.h"

const char *
file_decode_str(enum file_decode d)
{
    switch (d) {
    case FILE_DECODE_OK:
        return "ok";
    case FILE_DECODE_SHORT_HEADER:
        return "cut header";
    case FILE_DECODE_SHORT_BODY:
        return "cut body";
    case FILE_DECODE_BAD_CRC:
        return "bad crc";
    case FILE_DECODE_BAD_LENGTH:
        return "impossible length";
    case FILE_DECODE_BAD_TYPE:
        return "unknown record type";
    }
    return "unknown";
}

void
file_record_encode(uint8_t *out, enum file_rec_type type, uint64_t seq,
                   st_slice key, st_slice val)
{
    out[4] = (uint8_t)type;
    le64_write(out + 5, seq);
    le32_write(out + 13, (uint32_t)key.len);
    le32_write(out + 17, (uint32_t)val.len);
    memcpy(out + FILE_REC_HEADER_LEN, key.ptr, key.len);
    if (val.len)
        memcpy(out + FILE_REC_HEADER_LEN + key.len, val.ptr, val.len);
    size_t covered = FILE_REC_HEADER_LEN - 4 + key.len + val.len;
    le32_write(out, crc32c_mask(crc32c(out + 4, covered)));
}

void
file_record_peek_lens(const uint8_t *in, uint32_t *key_len, uint32_t *val_len)
{
    *key_len = le32_read(in + 13);
    *val_len = le32_read(in + 17);
}

enum file_decode
file_record_decode(st_slice in, struct file_record *rec, size_t *used)
{
    if (in.len < FILE_REC_HEADER_LEN)
        return FILE_DECODE_SHORT_HEADER;
    uint32_t key_len, val_len;
    file_record_peek_lens(in.ptr, &key_len, &val_len);

    /* A torn write can leave any bytes in the length fields, so they are
     * checked against what is really there before the CRC is computed
     * over them (64-bit sum: two 32-bit lengths cannot overflow it). */
    uint64_t body = (uint64_t)key_len + val_len;
    if (key_len == 0)
        return FILE_DECODE_BAD_LENGTH;
    if (body > in.len - FILE_REC_HEADER_LEN)
        return FILE_DECODE_SHORT_BODY;

    /* The CRC starts after itself, so a flipped type, seq or length
     * fails here as a flipped value byte does. */
    uint32_t want = crc32c_unmask(le32_read(in.ptr));
    if (crc32c(in.ptr + 4, FILE_REC_HEADER_LEN - 4 + (size_t)body) != want)
        return FILE_DECODE_BAD_CRC;

    uint8_t type = in.ptr[4];
    if (type != FILE_REC_PUT && type != FILE_REC_TOMBSTONE)
        return FILE_DECODE_BAD_TYPE;
    if (type == FILE_REC_TOMBSTONE && val_len != 0)
        return FILE_DECODE_BAD_LENGTH;

    rec->type = (enum file_rec_type)type;
    rec->seq = le64_read(in.ptr + 5);
    rec->key = st_slice_make(in.ptr + FILE_REC_HEADER_LEN, key_len);
    rec->val = st_slice_make(rec->key.ptr + key_len, val_len);
    *used = FILE_REC_HEADER_LEN + (size_t)body;
    return FILE_DECODE_OK;
}

void
file_header_encode(uint8_t out[FILE_HEADER_LEN], const uint8_t magic[4],
                   uint64_t id)
{
    memcpy(out, magic, 4);
    out[4] = (uint8_t)FILE_VERSION;
    out[5] = 0;
    out[6] = 0; /* reserved */
    out[7] = 0;
    le64_write(out + 8, id);
    le32_write(out + FILE_HEADER_CRC_OFF,
               crc32c_mask(crc32c(out, FILE_HEADER_CRC_OFF)));
}

bool
file_header_check(st_slice in, const uint8_t magic[4], uint64_t id)
{
    if (in.len < FILE_HEADER_LEN)
        return false;
    uint32_t want = crc32c_unmask(le32_read(in.ptr + FILE_HEADER_CRC_OFF));
    if (crc32c(in.ptr, FILE_HEADER_CRC_OFF) != want)
        return false;
    if (memcmp(in.ptr, magic, 4) != 0)
        return false;
    /* Version and reserved bytes: a version this reader does not know is
     * refused rather than guessed at. */
    if (in.ptr[4] != FILE_VERSION || in.ptr[5] || in.ptr[6] || in.ptr[7])
        return false;
    return le64_read(in.ptr + 8) == id;
}
