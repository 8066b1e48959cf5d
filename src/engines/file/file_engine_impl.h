/*
 * The file engine's handle, shared by its modules: file_engine.c (the
 * vtable: get, set, delete), file_replay.c (open) and file_merge.c. Not
 * for use outside src/engines/file/.
 *
 * Locking, outermost first:
 *   merge_mu  one merge at a time (background thread or compact()).
 *   write_mu  serializes appends and rolls; guards next_seq, next_id, enc,
 *             and the active segment's writes.
 *   lock      rwlock over the index, the segment list and the dead-byte
 *             counts. get() holds it for reading across lookup and pread,
 *             so a segment is never closed under a reader; changes hold it
 *             for writing, briefly.
 * A thread that changes the segment list holds write_mu and the rwlock
 * for writing (the merge takes write_mu for its short swaps), so holding
 * either one is enough to read the list.
 */
#ifndef STRATA_ENGINES_FILE_ENGINE_IMPL_H
#define STRATA_ENGINES_FILE_ENGINE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engines/engine.h"
#include "engines/group_commit.h"
#include "engines/periodic_sync.h"
#include "engines/file/file_index.h"
#include "engines/file/file_segment.h"

struct file_seg_ref {
    struct file_segment *seg; /* owned */
    uint64_t id;
    uint64_t dead_bytes; /* bytes of records no longer live */
    uint64_t hint_bytes; /* size of its hint file, 0 when none */
};

struct file_engine {
    struct engine base;
    char *dir; /* owned */
    struct engine_options opt;

    pthread_mutex_t merge_mu;
    /* Sets and deletes queue here; the batch writer takes write_mu. */
    struct group_commit gc;
    /* --sync interval: fsyncs the active segment in the background. */
    struct periodic_sync ps;
    pthread_mutex_t write_mu;
    pthread_rwlock_t lock;

    struct file_index *index;    /* lock */
    struct file_seg_ref *segs;   /* lock; sorted by id, the last is active */
    size_t nsegs, segs_cap;      /* lock */
    struct file_segment *active; /* lock; == segs[nsegs - 1].seg */

    uint64_t next_seq; /* write_mu */
    uint64_t next_id;  /* write_mu: id of the next segment created */
    struct st_buf enc; /* write_mu: encode buffer, reused */

    /* Set once, after a failed fsync or a failed cut-back; never cleared
     * (docs/file-format.md, "After a failed write or fsync"). */
    atomic_bool readonly;
    struct st_error ro_err; /* write_mu: the failure that caused it */

    /* Figures for stats(). */
    atomic_uint_fast64_t merges;
    uint64_t replayed; /* records (and hint entries) read at open */
    uint64_t hints_used;

    /* The background merge thread. */
    pthread_t bg_thread;
    bool bg_running;
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cond;
    bool bg_stop; /* bg_mu */
};

/* The segment list entry for 'id', or NULL. REQUIRES: lock or write_mu. */
struct file_seg_ref *file_engine_find_seg(struct file_engine *fe, uint64_t id);

/* Adds a segment, keeping the list sorted; the list takes ownership.
 * REQUIRES: write_mu and lock for writing. */
st_status file_engine_add_seg(struct file_engine *fe, struct file_segment *seg,
                              uint64_t hint_bytes);

/* Counts 'len' bytes of segment 'id' as dead. REQUIRES: lock for
 * writing. */
void file_engine_add_dead(struct file_engine *fe, uint64_t id, uint64_t len);

/* Makes the engine refuse writes from now on, remembering 'why'.
 * REQUIRES: write_mu. */
void file_engine_go_readonly(struct file_engine *fe,
                             const struct st_error *why);

/* Fills 'err' with ST_READONLY and the reason. */
st_status file_engine_readonly_error(struct file_engine *fe,
                                     struct st_error *err);

/* Closes the active segment and creates a new one with id next_id +
 * 'gap' (the gap leaves ids for merge outputs). The old segment is
 * fsynced first under every sync policy. REQUIRES: write_mu. */
st_status file_engine_roll_locked(struct file_engine *fe, uint64_t gap,
                                  struct st_error *err);

/* Replays the directory into the index (file_replay.c). */
st_status file_replay(struct file_engine *fe, struct st_error *err);

#endif
