/*
 * The lsm engine: a log-structured merge tree as in LevelDB (DDIA 3.1,
 * "SSTables and LSM-Trees"): a write-ahead log and a skiplist memtable
 * take the writes, background threads flush them to sorted, immutable
 * SSTables with bloom filters, and leveled compaction merges the tables
 * so that overwritten and deleted data leaves the disk. Sorted: scan()
 * returns keys in order. How the pieces fit: docs/lsm-design.md.
 */
#ifndef STRATA_ENGINES_LSM_LSM_H
#define STRATA_ENGINES_LSM_LSM_H

#include "engines/engine.h"

extern const struct engine_ops lsm_engine_ops;

#endif
