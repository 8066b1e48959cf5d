/*
 * The file engine: DDIA 3.1 "Hash Indexes", built as Bitcask. An
 * append-only log of checksummed records in segment files, an in-memory
 * hash index from each key to its newest record, tombstones for deletes,
 * replay at open, and a background merge of closed segments. The format
 * is docs/file-format.md.
 *
 * Implements struct engine_ops (engines/engine.h): unordered (no scan),
 * persistent. Every operation may run on many threads at once.
 */
#ifndef STRATA_ENGINES_FILE_ENGINE_H
#define STRATA_ENGINES_FILE_ENGINE_H

#include "engines/engine.h"

extern const struct engine_ops file_engine_ops;

#endif
