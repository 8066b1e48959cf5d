/*
 * All file I/O of strata goes through here: engines never call open(2),
 * write(2) or fsync(2) themselves. That buys two things: EINTR and short
 * writes are handled once, and tests can inject faults (fail the Nth
 * write, fsync, rename ...) without touching the code under test.
 *
 * Every function returns ST_OK or ST_IO with 'err' naming the call, the
 * path and the errno, e.g. "fsync data/file/000003.log: Input/output
 * error". 'path' arguments are only used for messages where an fd is
 * given. All functions are thread-safe.
 */
#ifndef STRATA_UTIL_IO_H
#define STRATA_UTIL_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/status.h"

st_status io_open(const char *path, int flags, mode_t mode, int *fd,
                  struct st_error *err);

/* Closes 'fd' (a negative fd does nothing). */
st_status io_close(int fd, const char *path, struct st_error *err);

/* Writes all 'len' bytes at the file position, looping on short writes
 * and EINTR. On failure some prefix may have been written. */
st_status io_write_all(int fd, const void *buf, size_t len, const char *path,
                       struct st_error *err);

/* Reads up to 'len' bytes at 'off'; *got < len only at end of file. */
st_status io_pread(int fd, void *buf, size_t len, uint64_t off, size_t *got,
                   const char *path, struct st_error *err);

/* fdatasync: makes written data (and the size) durable. After it fails
 * the caller must not trust the file's unsynced bytes (PITFALLS.md). */
st_status io_fsync(int fd, const char *path, struct st_error *err);

/* Makes the directory's entries (creates, renames, unlinks) durable. */
st_status io_fsync_dir(const char *dir, struct st_error *err);

st_status io_rename(const char *from, const char *to, struct st_error *err);

/* Removes 'path'; a missing file is ST_OK. */
st_status io_unlink(const char *path, struct st_error *err);

st_status io_ftruncate(int fd, uint64_t len, const char *path,
                       struct st_error *err);

st_status io_file_size(int fd, uint64_t *size, const char *path,
                       struct st_error *err);

/* Creates 'path' and missing parents with mode 0750. */
st_status io_mkdir_p(const char *path, struct st_error *err);

/* Calls fn(name, arg) for each entry of 'dir' except "." and "..";
 * stops early, returning fn's status, when fn returns other than ST_OK. */
typedef st_status (*io_dir_fn)(const char *name, void *arg);
st_status io_list_dir(const char *dir, io_dir_fn fn, void *arg,
                      struct st_error *err);

/* Takes an exclusive lock on 'dir'/LOCK (flock), creating the file.
 * ST_BUSY when another process holds it. The lock lasts until *lock_fd is
 * closed. */
st_status io_lock_dir(const char *dir, int *lock_fd, struct st_error *err);

/* Bytes allocated on disk by the regular files directly in 'dir'
 * (st_blocks, so sparse or preallocated files count what they use). */
uint64_t io_dir_disk_bytes(const char *dir);

/* --- fault injection, for tests --- */

enum io_op {
    IO_OP_OPEN,
    IO_OP_WRITE,
    IO_OP_READ,
    IO_OP_FSYNC,
    IO_OP_RENAME,
    IO_OP_UNLINK,
    IO_OP_TRUNCATE,
    IO_OP_COUNT_
};

/* Makes the n-th next call of 'op' (n = 1: the very next) fail with
 * 'errnum' (EIO, ENOSPC ...); every later call succeeds again unless
 * 'sticky'. n = 0 disarms. A failing write writes nothing. */
void io_fault_arm(enum io_op op, uint64_t n, int errnum, int sticky);

/* Disarms every fault. */
void io_fault_reset(void);

/* Calls of 'op' since start-up, for tests that pick a point to fail. */
uint64_t io_op_count(enum io_op op);

#endif
