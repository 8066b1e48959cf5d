/*
 * What strata-bench can run: every engine of strata's registry
 * (src/engines/registry.c), whatever it holds today, plus the "anchors"
 * this build was configured with: LevelDB (the model of the lsm engine)
 * and LMDB (the model of a B-tree). Each anchor implements struct
 * engine_ops itself, so the benchmark drives every backend through the
 * same calls and a comparison measures the stores, not two harnesses.
 *
 * Threads: the anchors are driven by one thread (strata-bench is single
 * threaded); unlike strata's engines they are not safe to call from
 * several threads at once.
 */
#ifndef STRATA_BENCH_BACKEND_H
#define STRATA_BENCH_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "engines/engine.h"

#ifdef STRATA_BENCH_LEVELDB
/* LevelDB through its C API: compression off, bloom filter 10 bits/key,
 * sync from engine_options.sync (backend_leveldb.c). */
extern const struct engine_ops bench_leveldb_ops;
#endif

#ifdef STRATA_BENCH_LMDB
/* LMDB: one environment per directory, a large map, MDB_NOSYNC unless
 * engine_options.sync is ENGINE_SYNC_ALWAYS (backend_lmdb.c). */
extern const struct engine_ops bench_lmdb_ops;
#endif

/* The i-th backend: strata's engines in registry order, then the
 * anchors. NULL past the last one. */
const struct engine_ops *bench_backend_at(size_t i);

/* NULL when no backend has that name. */
const struct engine_ops *bench_backend_find(const char *name);

/* true for LevelDB and LMDB, false for strata's own engines. */
bool bench_backend_is_anchor(const struct engine_ops *ops);

#endif
