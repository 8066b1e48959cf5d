/*
 * The workloads of strata-bench, after LevelDB's db_bench: each one is a
 * timed single-threaded loop of engine calls over a key space of 'num'
 * keys. They run in the order given on one database, so readrandom after
 * fillrandom reads what was filled; the key space remembers which keys
 * are live, which lets every read be checked against what must be there.
 *
 * Keys: key i (0 <= i < num) is the decimal number 2*i, zero-padded to
 * key_size bytes, so keys of one length sort in numeric order; the
 * missing key i is 2*i+1, which sorts between two existing keys and
 * can only be rejected by a bloom filter or a hash, not by key range.
 */
#ifndef STRATA_BENCH_WORKLOADS_H
#define STRATA_BENCH_WORKLOADS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engines/engine.h"
#include "histogram.h"

enum workload_id {
    WL_FILLSEQ,         /* set keys 0..num-1 in order */
    WL_FILLRANDOM,      /* set every key once, in a random permutation */
    WL_OVERWRITE,       /* set every key again, in a new permutation */
    WL_READRANDOM,      /* get every key once, in a random permutation */
    WL_READMISSING,     /* get num keys that sort between existing ones */
    WL_READSEQ,         /* scan everything in key order (sorted engines) */
    WL_DELETERANDOM,    /* delete every key once, in a random permutation */
    WL_FILLRANDOM_SYNC, /* set sync_num random keys, each one durable */
    WL_COMPACT,         /* the engine's merge or compaction, run now */
    WL_COUNT_
};

/* "fillseq" ... ; NULL for an unknown id. */
const char *workload_name(enum workload_id id);

/* -1 when 'name' is no workload. */
int workload_parse(const char *name);

/* The key space and the random state shared by the workloads of one
 * engine's run. Caller's storage: bench_keys_init / bench_keys_deinit. */
struct bench_keys {
    size_t num;        /* keys in the key space */
    size_t key_size;   /* bytes per key (>= digits of 2*num) */
    size_t value_size; /* bytes per value */
    size_t sync_num;   /* writes done by fillrandom-sync */
    uint64_t rng;      /* xorshift state, from the seed */
    uint8_t *live;     /* bitmap: key i is live */
    size_t live_count;
    uint32_t *perm;      /* scratch: a permutation of 0..num-1 */
    uint8_t *value_pool; /* random bytes; values are slices of it */
    size_t value_pool_len;
    uint8_t *key_buf; /* scratch: one formatted key */
    /* progress on stderr: names of what runs, and when it last printed */
    const char *engine_name;
    uint64_t last_progress_ns;
    bool progress_tty; /* stderr is a terminal: redraw one line */
};

/* false on allocation failure. */
bool bench_keys_init(struct bench_keys *k, size_t num, size_t key_size,
                     size_t value_size, size_t sync_num, uint64_t seed);
void bench_keys_deinit(struct bench_keys *k);

/* The smallest key_size that can hold 2*num-1 in decimal. */
size_t bench_keys_min_key_size(size_t num);

struct workload_result {
    uint64_t ops;        /* engine calls timed (items for readseq) */
    uint64_t elapsed_ns; /* wall time of the whole loop */
    struct histogram hist;
    uint64_t found;    /* reads that found a value, items scanned */
    uint64_t expected; /* what 'found' should be, from the key space */
    /* answers that contradict the key space (a live key not found, a
     * missing or deleted key found, a value of the wrong length): 0
     * unless the engine under test is broken. */
    uint64_t wrong;
    bool skipped;     /* not run: see 'note' */
    const char *note; /* static text, or NULL */
};

/* Runs workload 'id' on 'e' and fills 'res' (caller's storage). Any status
 * other than ST_OK or ST_NOT_FOUND from the engine stops the workload and
 * is returned with 'err' filled. readseq on an unsorted engine is not run
 * (res->skipped), nor is compact on an engine without one. fillrandom-sync does not change the engine's sync
 * setting: the caller opens the engine with ENGINE_SYNC_ALWAYS first. */
st_status workload_run(enum workload_id id, struct engine *e,
                       struct bench_keys *k, struct workload_result *res,
                       struct st_error *err);

/* Set by strata-bench's SIGINT/SIGTERM handler: every loop stops at its
 * next progress check (4096 operations) and returns ST_INVALID,
 * "interrupted", so the caller closes the engine and removes its
 * temporary directory. The process's one mutable global. */
extern volatile sig_atomic_t bench_interrupted;

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

#endif
