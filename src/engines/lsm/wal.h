/*
 * The write-ahead log of the LSM engine (DDIA 3.1, "Making an LSM-tree
 * out of SSTables": the memtable is lost in a crash, so every write is
 * first appended here). One WAL file per memtable; it is deleted once the
 * memtable's SSTable is named by a durable manifest. Format byte by byte:
 * docs/wal-format.md.
 *
 * Threads: a writer is used by one thread at a time (the engine's write
 * lock). Replay runs at open, before any writer exists.
 */
#ifndef STRATA_ENGINES_LSM_WAL_H
#define STRATA_ENGINES_LSM_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/lsm/internal_key.h"
#include "util/slice.h"
#include "util/status.h"

/* One write. Slices borrow for the duration of the call. */
struct lsm_wal_entry {
    uint64_t seq;
    enum lsm_value_type type;
    st_slice key, val;
};

struct lsm_wal;

/* Creates a new, empty WAL at 'path' (must not exist) and makes its name
 * durable (fsync of the file and its directory). The caller owns *out. */
st_status lsm_wal_create(const char *path, struct lsm_wal **out,
                         struct st_error *err);

/* Appends 'count' entries as one record (all or nothing on replay), and
 * fdatasyncs when 'sync'. After a failed write or fsync the WAL refuses
 * every later append (ST_READONLY): the engine must not trust it again
 * (PITFALLS.md, fsync). */
st_status lsm_wal_append(struct lsm_wal *w, const struct lsm_wal_entry *e,
                         size_t count, bool sync, struct st_error *err);

/* fdatasyncs what was appended (for the interval policy and close). */
st_status lsm_wal_sync(struct lsm_wal *w, struct st_error *err);

/* Bytes in the file. */
uint64_t lsm_wal_bytes(const struct lsm_wal *w);

/* Syncs (when 'sync'), closes and frees. NULL does nothing. */
st_status lsm_wal_close(struct lsm_wal *w, bool sync, struct st_error *err);

/* Called once per entry during replay, in write order. Slices borrow for
 * the call. A status other than ST_OK stops the replay with it. */
typedef st_status (*lsm_wal_replay_fn)(void *arg,
                                       const struct lsm_wal_entry *e);

/* Replays 'path'. A torn or zero-filled tail (short header, short body,
 * bad CRC on the last record) is cut off: the file is truncated to the
 * end of the last good record, fsynced, and one warning names the file
 * and offset. A bad record followed by good ones is corruption:
 * ST_CORRUPT naming file and offset, nothing cut. *records counts the
 * entries delivered (may be NULL). */
st_status lsm_wal_replay(const char *path, lsm_wal_replay_fn fn, void *arg,
                         uint64_t *records, struct st_error *err);

#endif
