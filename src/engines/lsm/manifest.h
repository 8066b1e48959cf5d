/*
 * The manifest (as LevelDB's MANIFEST + CURRENT): a log of edits to the
 * set of live SSTables, so that the set changes atomically: a flush or a
 * compaction is one edit ("add these tables, remove those"), durable
 * before any file it obsoletes is deleted. Format: docs/manifest-format.md.
 *
 *   CURRENT -> MANIFEST-000007: [snapshot edit][edit][edit]...
 *
 * This module knows table metadata only (numbers, levels, key ranges);
 * opening tables and reading them is the engine's business.
 *
 * Threads: one thread at a time per manifest (the engine serializes
 * edits); the state it returns is a copy the caller owns.
 */
#ifndef STRATA_ENGINES_LSM_MANIFEST_H
#define STRATA_ENGINES_LSM_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"
#include "util/status.h"

enum { LSM_LEVELS = 7 };

struct lsm_table_meta {
    uint64_t number; /* file NNNNNN.sst */
    int level;       /* 0 .. LSM_LEVELS-1 */
    uint64_t file_bytes;
    uint64_t entries;
    uint64_t min_seq, max_seq;
    struct st_buf min_key, max_key; /* user keys, owned */
};

/* Frees the keys of 'm' (not 'm' itself). */
void lsm_table_meta_deinit(struct lsm_table_meta *m);

/* A change to the live set and counters. Zero-initialise, then fill. */
struct lsm_edit {
    struct lsm_table_meta *added; /* borrowed for the call */
    size_t added_count;
    struct {
        int level;
        uint64_t number;
    } *removed; /* borrowed */
    size_t removed_count;
    bool has_log_number; /* WALs numbered below this are obsolete */
    uint64_t log_number;
    bool has_next_file; /* the next free file number */
    uint64_t next_file;
    bool has_last_seq; /* every seq <= this is in a table or a WAL */
    uint64_t last_seq;
};

/* The live set after replaying every edit. */
struct lsm_manifest_state {
    struct lsm_table_meta *tables; /* owned array, any order */
    size_t count;
    uint64_t log_number, next_file, last_seq;
};

void lsm_manifest_state_free(struct lsm_manifest_state *s);

struct lsm_manifest;

/* Opens the manifest of 'dir': follows CURRENT and replays every edit
 * into *state (the caller owns it); a new directory gets an empty state.
 * Then writes a fresh MANIFEST file holding one snapshot edit and points
 * CURRENT at it (write temp, fsync, rename, fsync dir), so the log never
 * grows across restarts, and removes the old manifest. A torn last edit
 * is ignored (it was never acknowledged); damage elsewhere is ST_CORRUPT
 * naming the file and offset. The caller owns *out. */
st_status lsm_manifest_open(const char *dir, struct lsm_manifest **out,
                            struct lsm_manifest_state *state,
                            struct st_error *err);

/* Appends 'edit' and fsyncs it: on ST_OK the edit survives any crash.
 * Starts a new manifest file (with a snapshot) when the current one grew
 * past a few MiB. After a write or fsync failure every later call
 * returns ST_READONLY. */
st_status lsm_manifest_apply(struct lsm_manifest *m,
                             const struct lsm_edit *edit,
                             struct st_error *err);

/* Number of the manifest file in use (so orphan cleanup keeps it). */
uint64_t lsm_manifest_file_number(const struct lsm_manifest *m);

/* Closes and frees. NULL does nothing. */
void lsm_manifest_close(struct lsm_manifest *m);

#endif
