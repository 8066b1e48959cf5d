/*
 * The one subtle step of linear probing shared by the open-addressing
 * tables (util/hashmap.c, engines/file/file_index.c): backward-shift
 * deletion (Knuth 6.4, Algorithm R). After a slot is emptied, the later
 * members of its probe run are pulled back into the hole, so every key
 * stays reachable from its home slot without tombstones.
 */
#ifndef STRATA_UTIL_LINEAR_PROBE_H
#define STRATA_UTIL_LINEAR_PROBE_H

#include <stdbool.h>
#include <stddef.h>

/* true when the member at slot 'j', whose home slot is 'home', must move
 * into the hole at 'hole': unless its home lies cyclically in (hole, j],
 * it would no longer be found once the hole breaks its probe run. */
static inline bool
linear_probe_must_move(size_t hole, size_t j, size_t home)
{
    bool reachable =
        hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    return !reachable;
}

#endif
