/*
 * Read-only memory maps of files, for readers that would otherwise pay a
 * pread(2) (a system call and a copy) per lookup: the LSM engine's
 * immutable tables and the file engine's segments.
 *
 * A mapping may be longer than its file (a segment still growing is
 * mapped at its largest size once, so appends become visible without a
 * remap), but only bytes that exist in the file may be read through it:
 * touching a page wholly past the end of the file raises SIGBUS. The
 * owner keeps that promise (a table is never truncated while mapped; a
 * segment is read only at offsets whose records were written).
 *
 * Reads through a mapping bypass util/io.c, so its fault injection and
 * power-loss model do not see them; they change nothing on disk, and a
 * caller that must be fault-tested keeps a pread path (see the users).
 *
 * Threads: a mapping is read by any number of threads at once; map and
 * unmap belong to its owner, with no reader left.
 */
#ifndef STRATA_UTIL_MMAP_FILE_H
#define STRATA_UTIL_MMAP_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

struct mmap_file {
    const uint8_t *ptr; /* NULL when nothing is mapped */
    size_t len;         /* bytes mapped (may run past the end of file) */
};

/* Maps the first 'len' bytes of 'fd' for reading (shared, so the page
 * cache is used directly and later writes to the file show through).
 * 'len' 0 maps nothing and succeeds. ST_IO (naming 'path') when the
 * kernel refuses, e.g. no address space left; *m is then empty. */
st_status mmap_file_map(int fd, uint64_t len, const char *path,
                        struct mmap_file *m, struct st_error *err);

/* Unmaps; an empty mapping does nothing. Leaves *m empty. */
void mmap_file_unmap(struct mmap_file *m);

/* true when bytes [off, off + len) lie inside the mapping. */
static inline bool
mmap_file_covers(const struct mmap_file *m, uint64_t off, uint64_t len)
{
    return m->ptr != NULL && off <= m->len && len <= m->len - off;
}

#endif
