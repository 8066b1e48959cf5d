/*
 * Bitcask merge: rewrite the live records of every closed segment into
 * new segments with hint files, then delete the old ones, so overwritten
 * and deleted records stop taking disk space (DDIA 3.1, "Compaction";
 * docs/file-format.md, "Merge", for the protocol and why a crash at any
 * point loses and resurrects nothing).
 */
#ifndef STRATA_ENGINES_FILE_MERGE_H
#define STRATA_ENGINES_FILE_MERGE_H

#include <stdbool.h>

#include "engines/file/file_engine_impl.h"

/* true when the closed segments' dead bytes reach merge_dead_pct percent
 * of their size and merge_min_dead_bytes. Takes the rwlock for reading. */
bool file_merge_wanted(struct file_engine *fe);

/* Runs one merge when 'force' or file_merge_wanted(), and waits for it.
 * Safe to call from any thread; merges take turns. Reads go on during the
 * merge; writes pause only for the roll and the index swaps. */
st_status file_merge_run(struct file_engine *fe, bool force,
                         struct st_error *err);

#endif
