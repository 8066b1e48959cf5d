/*
 * One segment file of the Bitcask log: a header, then records appended
 * one write(2) each (docs/file-format.md). Opens and creates segments,
 * appends, reads one record back with its CRC checked, and walks all
 * records for replay and merge.
 *
 * Threads: file_segment_read() and the accessors may run on any number of
 * threads at once, also while one thread appends (reads go through a
 * read-only mapping or pread, neither moves the file position, and
 * readers only read offsets the engine published after the append). Appends, syncs and truncates are serialized by the caller
 * (the engine's write mutex). close() runs when no one else uses it.
 */
#ifndef STRATA_ENGINES_FILE_SEGMENT_H
#define STRATA_ENGINES_FILE_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "engines/file/file_record.h"
#include "util/slice.h"
#include "util/status.h"

struct file_segment;

/* Writes "dir/ID.log.tmp" with the header, fsyncs it, renames it to
 * "dir/ID.log" and fsyncs 'dir', so a ".log" always has a whole header.
 * On ST_OK the caller owns *out (opened for appending) and frees it with
 * file_segment_close(). */
st_status file_segment_create(const char *dir, uint64_t id,
                              struct file_segment **out, struct st_error *err);

/* Opens "dir/ID.log" and checks its header (ST_CORRUPT naming the file
 * when it is bad). 'writable' opens it for appending: the active segment.
 * On ST_OK the caller owns *out. */
st_status file_segment_open(const char *dir, uint64_t id, bool writable,
                            struct file_segment **out, struct st_error *err);

/* Closes the file and frees 'seg'. NULL does nothing. */
void file_segment_close(struct file_segment *seg);

uint64_t file_segment_id(const struct file_segment *seg);

/* Borrowed, valid until close. */
const char *file_segment_path(const struct file_segment *seg);

/* Bytes of the file that hold whole records (the header included). */
uint64_t file_segment_size(const struct file_segment *seg);

/* Appends 'rec' (one whole encoded record) with one write and sets *off
 * to where it starts. On ST_IO the file is cut back to its old size; when
 * even that fails, *broken is set: the tail is unknown and the caller must
 * stop writing to this file. */
st_status file_segment_append(struct file_segment *seg, st_slice rec,
                              uint64_t *off, bool *broken,
                              struct st_error *err);

/* fdatasync. After ST_IO the caller must not sync this file again as if
 * nothing happened (docs/file-format.md, "After a failed write or fsync"). */
st_status file_segment_sync(struct file_segment *seg, struct st_error *err);

/* Cuts the file at 'off' and fsyncs it: removes a torn tail at open. */
st_status file_segment_truncate(struct file_segment *seg, uint64_t off,
                                struct st_error *err);

/* Reads the record of 'rec_len' bytes at 'off' and decodes it: from the
 * segment's mapping in place when it covers the record (then rec's
 * slices borrow the mapping, valid until close, and 'buf' is emptied),
 * else with pread into 'buf' (replacing its contents; rec's slices
 * borrow 'buf'). REQUIRES: the record was wholly written (its offset was
 * published after the append). Any mismatch (short read, bad CRC, bad
 * type) is ST_CORRUPT naming file and offset. */
st_status file_segment_read(const struct file_segment *seg, uint64_t off,
                            uint64_t rec_len, struct st_buf *buf,
                            struct file_record *rec, struct st_error *err);

/* Called for each whole record in file order: 'raw' is the record's
 * bytes, 'rec' decodes them; both borrow and are valid during the call
 * only. A status other than ST_OK stops the walk and is returned. */
typedef st_status (*file_segment_fn)(void *arg, const struct file_record *rec,
                                     st_slice raw, uint64_t off);

/* Walks the records from the header to the end of the file. A record
 * that does not decode stops the walk with ST_OK, *bad_off at its start
 * and *bad its kind; a clean end sets *bad = FILE_DECODE_OK and *bad_off
 * to the file's size. The caller decides between torn tail and
 * corruption (file_segment_valid_after). */
st_status file_segment_scan(struct file_segment *seg, file_segment_fn fn,
                            void *arg, uint64_t *bad_off, enum file_decode *bad,
                            struct st_error *err);

/* Sets *found when a record that decodes starts anywhere after 'off':
 * then the damage at 'off' is not a torn tail but corruption. */
st_status file_segment_valid_after(struct file_segment *seg, uint64_t off,
                                   bool *found, struct st_error *err);

/* The file name of segment or hint 'id' in 'dir' with 'suffix'
 * (FILE_SEG_SUFFIX, FILE_HINT_SUFFIX, plus FILE_TMP_SUFFIX when 'tmp').
 * Returns a string the caller frees, or NULL when out of memory. */
char *file_segment_name(const char *dir, uint64_t id, const char *suffix,
                        bool tmp);

#endif
