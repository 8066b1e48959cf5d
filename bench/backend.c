/*
 * The list of backends strata-bench knows (backend.h): the engine
 * registry first, so a newly registered engine is benchmarked without a
 * change here, then the anchors compiled into this build.
 */
#include "backend.h"

#include <string.h>

static const struct engine_ops *const anchors[] = {
#ifdef STRATA_BENCH_LEVELDB
    &bench_leveldb_ops,
#endif
#ifdef STRATA_BENCH_LMDB
    &bench_lmdb_ops,
#endif
    NULL,
};

const struct engine_ops *
bench_backend_at(size_t i)
{
    size_t n = 0;
    while (engine_registry[n] != NULL)
        n++;
    if (i < n)
        return engine_registry[i];
    for (size_t a = 0; anchors[a] != NULL; a++)
        if (a == i - n)
            return anchors[a];
    return NULL;
}

const struct engine_ops *
bench_backend_find(const char *name)
{
    const struct engine_ops *ops = engine_find(name);
    if (ops != NULL)
        return ops;
    for (size_t i = 0; anchors[i] != NULL; i++)
        if (strcmp(anchors[i]->name, name) == 0)
            return anchors[i];
    return NULL;
}

bool
bench_backend_is_anchor(const struct engine_ops *ops)
{
    for (size_t i = 0; anchors[i] != NULL; i++)
        if (anchors[i] == ops)
            return true;
    return false;
}
