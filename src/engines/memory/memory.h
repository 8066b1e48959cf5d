/*
 * The memory engine: a hash map in RAM (DDIA 3.1, the simplest index).
 * O(1) get/set/delete, no order, nothing survives close().
 */
#ifndef STRATA_ENGINES_MEMORY_H
#define STRATA_ENGINES_MEMORY_H

#include "engines/engine.h"

extern const struct engine_ops memory_engine_ops;

#endif
