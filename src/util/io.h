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

#include <stdbool.h>
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

/* fsync(2) and fdatasync(2) calls io_fsync and io_fsync_dir made in this
 * process so far, failed ones included; not those the power-loss model
 * (io_crash.h) stood in for, nor those a fault injection failed first. */
uint64_t io_sync_calls(void);

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

/* --- power-loss simulation, for tests (docs/crash-testing.md) ---
 *
 * SQLite's crash-VFS model, on the real file system. While tracking is
 * on, the module remembers for every file (by path; the record follows
 * renames and outlives its fds) how long it was at its last fsync and
 * the synced bytes a later write or truncate replaced, and for every
 * directory the creates, renames and unlinks since its last fsync.
 * io_crash_simulate() then rewrites the files so that the disk looks as
 * after a power loss at that moment. io_crash_arm() picks the moment:
 * from the n-th counted call on, every call fails with EIO and does
 * nothing, as if the machine were gone.
 *
 * A test enables tracking before it opens the engine, arms a crash,
 * runs a workload until a call fails, closes the engine (errors
 * expected), simulates, disarms and reopens. Not for production: every
 * tracked call takes one global lock, and while tracking, io_fsync and
 * io_fsync_dir skip the real (slow) system call: the model decides what
 * is durable. */

/* What happens to what was not made durable, per file and directory. */
enum io_crash_mode {
    IO_CRASH_DROP,   /* all of it is lost: the synced state comes back */
    IO_CRASH_KEEP,   /* all of it reached the disk: a process crash */
    IO_CRASH_TORN,   /* a file keeps a random prefix of its unsynced
                      * tail; a directory a random prefix of its
                      * unsynced entry changes (an ordered journal) */
    IO_CRASH_GARBLE, /* a file keeps its new size, but from a random byte
                      * of its unsynced tail on it holds junk or zeros; a
                      * directory keeps any subset of its unsynced
                      * changes (metadata written in any order), except
                      * that a change whose earlier change of the same
                      * name was lost is lost too */
    IO_CRASH_RANDOM, /* each file and directory picks one of the above */
    IO_CRASH_MODE_COUNT_
};

/* What io_crash_simulate() did, for the test's report. */
struct io_crash_report {
    uint64_t files_dropped, files_kept, files_torn, files_garbled;
    uint64_t dir_ops_undone, dir_ops_kept;
};

/* Starts tracking (forgetting anything tracked before): files that
 * exist now count as durable as they are. */
void io_crash_enable(void);

/* Stops tracking, disarms, and forgets everything. */
void io_crash_disable(void);

/* The n-th counted call from now (n = 1: the very next) and every later
 * one fail with EIO until io_crash_disarm(). Counted: open, write,
 * pread, fsync, directory fsync, rename, unlink, truncate, size, list
 * and mkdir. n = 0 disarms. Works with or without tracking. */
void io_crash_arm(uint64_t n);

/* The machine is back: calls work again. */
void io_crash_disarm(void);

/* Whether the armed crash point was reached. */
bool io_crash_happened(void);

/* Counted calls since start-up, to pick a crash point. */
uint64_t io_crash_calls(void);

/* Makes the disk look as after a power loss now, under 'mode', choosing
 * at random from 'seed' where the mode leaves a choice. Every file must
 * be closed first (the engine closed). Afterwards tracking goes on from
 * the new state, which counts as durable. 'rep' may be NULL. ST_IO when
 * the model could not rewrite a file (tests only; the disk may then be
 * in any state). */
st_status io_crash_simulate(uint64_t seed, enum io_crash_mode mode,
                            struct io_crash_report *rep, struct st_error *err);

/* "drop", "keep", "torn", "garble", "random". */
const char *io_crash_mode_str(enum io_crash_mode mode);

#endif
