/*
 * Hint files (Bitcask): for a segment written by a merge, where each
 * record lies, without the values, so start-up reads a few bytes per key
 * instead of the whole segment (docs/file-format.md, "Hint file").
 * Pure encoding plus whole-file read and write; thread-safe.
 */
#ifndef STRATA_ENGINES_FILE_HINT_H
#define STRATA_ENGINES_FILE_HINT_H

#include <stdbool.h>
#include <stdint.h>

#include "engines/file/file_record.h"
#include "util/slice.h"
#include "util/status.h"

struct file_hint_entry {
    enum file_rec_type type; /* FILE_REC_PUT, _TOMBSTONE or FILE_HINT_END */
    uint64_t seq;            /* for FILE_HINT_END: the entry count */
    st_slice key;            /* borrowed from the decoded bytes */
    uint32_t val_len;
    uint64_t off; /* the record's offset; for END: the segment's size */
};

/* Appends the entry for 'rec', stored at 'off' of its segment, to
 * 'entries'. false when out of memory (the buffer is unchanged). */
bool file_hint_append(struct st_buf *entries, const struct file_record *rec,
                      uint64_t off);

/* Decodes the entry at the start of 'in'. FILE_DECODE_OK fills 'e' (its
 * key borrows from 'in') and *used. */
enum file_decode file_hint_decode(st_slice in, struct file_hint_entry *e,
                                  size_t *used);

/* Writes "dir/ID.hint": the header, 'entries' (made by
 * file_hint_append, 'count' of them) and the end entry naming
 * 'seg_size', under ".tmp", fsynced, then renamed. The caller fsyncs the
 * directory. */
st_status file_hint_write(const char *dir, uint64_t id, st_slice entries,
                          uint64_t count, uint64_t seg_size,
                          struct st_error *err);

/* Called for each entry of a hint (not the end entry). */
typedef st_status (*file_hint_fn)(void *arg, const struct file_hint_entry *e);

/* Reads "dir/ID.hint", checks all of it (header, every CRC, the end
 * entry, the count and 'seg_size'), and only then calls fn for each entry.
 * ST_NOT_FOUND: no hint file. ST_CORRUPT: damaged, nothing was passed to
 * fn and the caller scans the segment instead. *bytes gets the file's
 * size. */
st_status file_hint_load(const char *dir, uint64_t id, uint64_t seg_size,
                         file_hint_fn fn, void *arg, uint64_t *bytes,
                         struct st_error *err);

#endif
