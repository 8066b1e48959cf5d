/*
 * One record of a segment, and the header of every file of the engine,
 * turned into bytes and back (docs/file-format.md, "Record" and
 * "Segment header"). Pure functions on memory: no I/O, no allocation,
 * thread-safe.
 */
#ifndef STRATA_ENGINES_FILE_RECORD_H
#define STRATA_ENGINES_FILE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/file/file_format.h"
#include "util/slice.h"

struct file_record {
    enum file_rec_type type; /* FILE_REC_PUT or FILE_REC_TOMBSTONE */
    uint64_t seq;
    st_slice key; /* borrowed from the decoded bytes */
    st_slice val; /* borrowed; empty for a tombstone */
};

/* Why a record did not decode. Replay decides from where the failure is
 * whether it is a torn tail or corruption; the kind goes into messages. */
enum file_decode {
    FILE_DECODE_OK,
    FILE_DECODE_SHORT_HEADER, /* fewer than FILE_REC_HEADER_LEN bytes */
    FILE_DECODE_SHORT_BODY,   /* lengths run past the bytes there */
    FILE_DECODE_BAD_CRC,
    FILE_DECODE_BAD_LENGTH, /* key_len 0, or a tombstone with a value */
    FILE_DECODE_BAD_TYPE,
};

/* A static description, e.g. "bad crc". */
const char *file_decode_str(enum file_decode d);

/* Bytes a record takes on disk. */
static inline uint64_t
file_record_len(uint64_t key_len, uint64_t val_len)
{
    return FILE_REC_HEADER_LEN + key_len + val_len;
}

/* Writes the record into 'out', which has room for file_record_len()
 * bytes. REQUIRES: 1 <= key.len <= FILE_MAX_LEN, val.len <= FILE_MAX_LEN,
 * val empty for a tombstone. */
void file_record_encode(uint8_t *out, enum file_rec_type type, uint64_t seq,
                        st_slice key, st_slice val);

/* Decodes the record at the start of 'in'. On FILE_DECODE_OK fills 'rec'
 * (its slices borrow from 'in') and *used with the record's length. */
enum file_decode file_record_decode(st_slice in, struct file_record *rec,
                                    size_t *used);

/* Reads only the 21-byte header: the lengths a caller needs to fetch the
 * rest. Lengths are not trusted until file_record_decode() checks the
 * CRC. REQUIRES: 'in' holds FILE_REC_HEADER_LEN bytes. */
void file_record_peek_lens(const uint8_t *in, uint32_t *key_len,
                           uint32_t *val_len);

/* Writes a segment or hint header: 'magic' is FILE_SEG_MAGIC or
 * FILE_HINT_MAGIC. */
void file_header_encode(uint8_t out[FILE_HEADER_LEN], const uint8_t magic[4],
                        uint64_t id);

/* true when 'in' starts with a whole, valid header of that magic, the
 * known version and the id 'id'. */
bool file_header_check(st_slice in, const uint8_t magic[4], uint64_t id);

#endif
