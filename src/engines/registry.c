/*
 * The engine registry: adding an engine is one line here plus its
 * directory under src/engines/. Nothing above the engine layer changes.
 */
#include <string.h>

#include "engines/engine.h"
#include "engines/file/file_engine.h"
#include "engines/lsm/lsm.h"
#include "engines/memory/memory.h"

const struct engine_ops *const engine_registry[] = {
    &memory_engine_ops,
    &file_engine_ops,
    &lsm_engine_ops,
    NULL,
};

const struct engine_ops *
engine_find(const char *name)
{
    for (size_t i = 0; engine_registry[i] != NULL; i++)
        if (strcmp(engine_registry[i]->name, name) == 0)
            return engine_registry[i];
    return NULL;
}

void
engine_options_default(struct engine_options *opt)
{
    *opt = (struct engine_options){
        .sync = ENGINE_SYNC_ALWAYS,
        .sync_interval_ms = 1000,
        .segment_bytes = 64u << 20,
        .merge_dead_pct = 50,
        .merge_min_dead_bytes = 16u << 20,
        .background = true,
        .memtable_bytes = 4u << 20,
        .block_cache_bytes = 8u << 20,
    };
}
