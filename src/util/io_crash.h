/*
 * Internal to util/io.c: the hooks of the power-loss model (io_crash.c).
 * The public switches (io_crash_enable, io_crash_arm, io_crash_simulate
 * ...) are declared in io.h; this header is only for io.c.
 *
 * Each I/O call of io.c that the model cares about fills an
 * io_crash_call, calls io_crash_enter() before the real system call and
 * io_crash_leave() after it. When the model is off (the default) io.c
 * skips both after one relaxed atomic load (io_crash_active()).
 */
#ifndef STRATA_UTIL_IO_CRASH_H
#define STRATA_UTIL_IO_CRASH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum io_crash_kind {
    IO_CRASH_CALL_OTHER, /* counted and failed after a crash, not tracked */
    IO_CRASH_CALL_OPEN,
    IO_CRASH_CALL_WRITE,
    IO_CRASH_CALL_FSYNC,
    IO_CRASH_CALL_FSYNC_DIR,
    IO_CRASH_CALL_RENAME,
    IO_CRASH_CALL_UNLINK,
    IO_CRASH_CALL_TRUNCATE,
    IO_CRASH_CALL_CLOSE,
};

struct io_crash_call {
    enum io_crash_kind kind;
    int fd;           /* WRITE, FSYNC, TRUNCATE, CLOSE */
    const char *path; /* OPEN, FSYNC_DIR (the dir), RENAME (from), UNLINK */
    const char *to;   /* RENAME */
    int flags;        /* OPEN */
    uint64_t len;     /* WRITE (bytes), TRUNCATE (new length) */
    /* Set by io_crash_enter(), read by io_crash_leave(). */
    bool entered; /* the model's lock is held */
    bool existed; /* OPEN: the path existed before */
    void *saved;  /* RENAME, UNLINK: the state to undo the entry with */
};

/* Non-zero while the model tracks calls or a crash point is armed. */
extern atomic_uint io_crash_bits;

static inline bool
io_crash_active(void)
{
    return atomic_load_explicit(&io_crash_bits, memory_order_relaxed) != 0;
}

/* Counts the call toward an armed crash point. Returns the errno to fake
 * (EIO once the simulated machine is gone); then the call must do
 * nothing. Otherwise, when tracking, takes the model's lock and notes
 * what the call is about to change (c->entered). */
int io_crash_enter(struct io_crash_call *c);

/* Records the outcome of the real call ('ok', and for OPEN the new fd)
 * and releases the lock taken by io_crash_enter(). Does nothing when
 * !c->entered. */
void io_crash_leave(struct io_crash_call *c, bool ok, int fd);

#endif
