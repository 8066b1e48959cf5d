/*
 * The inside of the lsm engine, shared by lsm.c (the operations),
 * recovery.c (open), flush.c and compaction.c (the background work).
 * How the pieces fit: docs/lsm-design.md.
 *
 * Locking (always in this order: write_mu, then mu):
 *   write_mu  serializes writers: it guards 'mem' (adds), 'wal', the
 *             allocation of seqs, and the switch of mem to imm.
 *   mu        guards the pointers 'mem', 'imm', 'current' (readers take
 *             references under it and drop it before reading), the worker
 *             token 'worker_busy', 'next_file', 'shutting_down'.
 *   the worker token (worker_busy, under mu): whoever holds it is the only
 *             thread that flushes, compacts, edits the manifest or installs
 *             a version: the background thread, compact(), or a writer
 *             when background work is off. So a version changes only in
 *             the hands of the token holder.
 * Counters are atomics read without a lock.
 */
#ifndef STRATA_ENGINES_LSM_LSM_IMPL_H
#define STRATA_ENGINES_LSM_LSM_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/engine.h"
#include "engines/group_commit.h"
#include "engines/periodic_sync.h"
#include "engines/lsm/block_cache.h"
#include "engines/lsm/manifest.h"
#include "engines/lsm/memtable.h"
#include "engines/lsm/version.h"
#include "engines/lsm/wal.h"
#include "util/status.h"

/* Level 0 files overlap each other, so every read checks each of them:
 * compaction starts at this many, writers sleep 1 ms per write from
 * LSM_L0_SLOWDOWN on and wait from LSM_L0_STOP on (LevelDB's numbers;
 * the reasons are in docs/lsm-design.md, "Write stalls"). */
enum {
    LSM_L0_COMPACTION_TRIGGER = 4,
    LSM_L0_SLOWDOWN = 8,
    LSM_L0_STOP = 12,
};

/* Sizes derived from the memtable size, so that a test with a 64 KiB
 * memtable has the same shape as a 4 MiB one (LevelDB's defaults:
 * 4 MiB memtable, 2 MiB files, 10 MiB in L1, x10 per level). */
struct lsm_sizes {
    uint64_t memtable_bytes;    /* switch to a new memtable past this */
    uint64_t target_file_bytes; /* cut compaction output at this */
    uint64_t level1_bytes;      /* L1 budget; level n: x10^(n-1) */
};

/* What one entry costs the memtable, as the flush threshold counts it:
 * its bytes plus the skiplist node around them. The engine counts this
 * itself rather than the memtable's arena size, which grows by whole
 * arena blocks (256 KiB) and so cannot drive a small threshold. */
static inline uint64_t
lsm_entry_bytes(st_slice key, st_slice val)
{
    return key.len + val.len + 48;
}

/* A memtable and the WAL file that holds the same writes, shared by
 * reference: readers and scans hold one while they read it. */
struct lsm_memref {
    atomic_int refs;
    struct lsm_memtable *mem;
    uint64_t wal_number; /* the NNNNNN.log with these writes */
};

struct lsm_engine {
    struct engine base;
    char *dir;
    struct engine_options opt;
    struct lsm_sizes sizes;
    struct lsm_block_cache *cache;

    /* Sets and deletes queue here; the batch writer takes write_mu. */
    struct group_commit gc;
    /* --sync interval: fsyncs the WAL in the background. */
    struct periodic_sync ps;
    pthread_mutex_t write_mu;
    struct lsm_wal *wal; /* write_mu */

    pthread_mutex_t mu;
    pthread_cond_t cv;      /* any change under mu worth waking for */
    struct lsm_memref *mem; /* mu to read the pointer, write_mu+mu to set */
    struct lsm_memref *imm; /* mu; NULL or the memtable being flushed */
    struct lsm_version *current;   /* mu */
    struct lsm_manifest *manifest; /* worker token */
    uint64_t next_file;            /* mu */
    bool worker_busy;              /* mu */
    bool shutting_down;            /* mu */
    atomic_bool stopping; /* shutting_down, read by a running compaction */
    bool bg_started;
    pthread_t bg_thread;
    uint64_t bg_retry_at_ms; /* mu: no compaction before (after an error) */
    /* worker token: where the next compaction of each level starts, so
     * that successive compactions walk the key space round-robin. */
    struct st_buf compact_pointer[LSM_LEVELS];

    /* Writes are refused once a write or fsync failed (PITFALLS.md):
     * set once, never cleared until restart. */
    atomic_bool readonly;
    struct st_error ro_err; /* mu */

    atomic_uint_fast64_t last_seq; /* every seq <= this is readable */
    atomic_uint_fast64_t wal_bytes;
    atomic_uint_fast64_t mem_bytes; /* lsm_entry_bytes() of mem's entries */
    atomic_bool imm_pending;        /* imm != NULL, for the compaction loop */
    atomic_size_t l0_tables;        /* current->count[0], for the write path */

    /* stats */
    atomic_uint_fast64_t flushes, compactions, flush_bytes_written,
        compaction_bytes_written, user_bytes_written, bloom_negatives,
        write_stalls;
};

/* Paths of numbered files: DIR/NNNNNN.sst and DIR/NNNNNN.log. The caller
 * frees the string; NULL when out of memory. */
char *lsm_table_path(const char *dir, uint64_t number);
char *lsm_wal_path(const char *dir, uint64_t number);

/* References on memtables; unref frees the memtable at zero. */
struct lsm_memref *lsm_memref_create(uint64_t wal_number);
void lsm_memref_ref(struct lsm_memref *m);
void lsm_memref_unref(struct lsm_memref *m);

uint64_t lsm_now_ms(void);

/* Marks the engine read-only for good (until restart) and logs why. */
void lsm_go_readonly(struct lsm_engine *e, const struct st_error *why);

/* The worker token (see the top of this file). acquire waits for it;
 * release wakes the waiters. Both take mu themselves. */
void lsm_worker_acquire(struct lsm_engine *e);
void lsm_worker_release(struct lsm_engine *e);

/* Swaps in 'v' as the current version (the engine takes over the
 * caller's reference). REQUIRES: the worker token. */
void lsm_install_version(struct lsm_engine *e, struct lsm_version *v);

/* A new reference on the current version; the caller unrefs it. */
struct lsm_version *lsm_current_version(struct lsm_engine *e);

/* --- flush.c --- */

/* Writes the entries of 'mem' (newest version of each key, tombstones
 * kept) to a new table NNNNNN.sst: built, fsynced, directory fsynced,
 * opened for reading. On ST_OK *out is a new table reference the caller
 * owns (NULL when the memtable was empty). REQUIRES: the worker token or
 * the single thread of open(). */
st_status lsm_write_level0_table(struct lsm_engine *e, struct lsm_memtable *mem,
                                 struct lsm_tref **out, struct st_error *err);

/* Flushes the immutable memtable, if any: table, manifest edit (table
 * added, log_number moved to the live WAL), new version, then deletes the
 * old WAL. REQUIRES: the worker token. An error makes the engine
 * read-only: the writes stay readable in 'imm' and in the WAL. */
st_status lsm_flush_imm(struct lsm_engine *e, struct st_error *err);

/* --- recovery.c --- */

/* The open() path: manifest, tables, WAL replay, orphan cleanup. On
 * ST_OK the engine's mem, wal, current, manifest and next_file are set. */
st_status lsm_recover(struct lsm_engine *e, struct st_error *err);

#endif
