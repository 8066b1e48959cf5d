/*
 * Killing the process at any moment (DESIGN.md, "Process model and
 * durability"): a child writes and deletes with background flushes and
 * compactions running and publishes the last acknowledged operation in
 * shared memory; the parent SIGKILLs it at a random point, often mid-flush or
 * mid-compaction, reopens the directory and checks every acknowledged
 * write and delete. The one operation in flight at the kill may or may
 * not be there. Page-cache data survives a process kill, so sync=none is
 * enough here; power loss is the WAL's and the fault tests' business.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engines/lsm/lsm.h"
#include "util/log.h"
#include "testutil.h"

enum { KEYS = 2000, ROUNDS = 6 };

static const struct engine_ops *const ops = &lsm_engine_ops;

static void
options(struct engine_options *opt)
{
    engine_options_default(opt);
    opt->sync = ENGINE_SYNC_NONE;
    opt->memtable_bytes = 32 * 1024;
    opt->background = true;
}

static st_slice
key_of(char *buf, size_t cap, uint64_t i)
{
    int n = snprintf(buf, cap, "key%06" PRIu64, i % KEYS);
    return st_slice_make(buf, (size_t)n);
}

static st_slice
value_of(char *buf, size_t cap, uint64_t op)
{
    int n = snprintf(buf, cap, "value-of-op-%012" PRIu64 "-with-padding", op);
    return st_slice_make(buf, (size_t)n);
}

/* Operation 'op' touches key (op * 7) % KEYS; every 5th is a delete. */
static uint64_t
key_index(uint64_t op)
{
    return op * 7 % KEYS;
}

static bool
is_delete(uint64_t op)
{
    return op % 5 == 4;
}

static void
child(const char *dir, uint64_t first_op, _Atomic uint64_t *acked)
{
    struct engine_options opt;
    options(&opt);
    struct engine *e = NULL;
    if (ops->open(dir, &opt, &e, NULL) != ST_OK)
        _exit(2);
    char kb[32], vb[64];
    for (uint64_t op = first_op;; op++) {
        st_slice k = key_of(kb, sizeof kb, key_index(op));
        st_status s = is_delete(op)
                          ? ops->del(e, k, NULL)
                          : ops->set(e, k, value_of(vb, sizeof vb, op), NULL);
        if (s != ST_OK && s != ST_NOT_FOUND)
            _exit(3);
        atomic_store(acked, op);
        if (op % 3000 == 2999 && ops->compact(e, NULL) != ST_OK)
            _exit(5);
    }
}

static void
test_lsm_survives_sigkill_mid_flush_and_compaction(void **state)
{
    (void)state;
    char *dir = tu_tmpdir_create();
    struct tu_rng rng;
    tu_rng_init(&rng, tu_seed("lsm crash", 11));
    /* last[k]: the last acknowledged op on key k (0: none yet). */
    uint64_t *last = calloc(KEYS, sizeof *last);
    uint64_t next_op = 1;
    for (int round = 0; round < ROUNDS; round++) {
        _Atomic uint64_t *shared =
            mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(shared != MAP_FAILED);
        atomic_store(shared, 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            child(dir, next_op, shared);
        usleep((useconds_t)(150000 + tu_rng_below(&rng, 350000)));
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status)); /* not an early exit */
        uint64_t acked = atomic_load(shared);
        munmap((void *)shared, sizeof *shared);
        assert_true(acked >= next_op); /* the child made progress */
        for (uint64_t op = next_op; op <= acked; op++)
            last[key_index(op)] = op;
        print_message("round %d: killed after op %" PRIu64 "\n", round, acked);
        uint64_t in_flight = acked + 1;

        struct engine_options opt;
        options(&opt);
        struct engine *e = NULL;
        struct st_error err = {0};
        if (ops->open(dir, &opt, &e, &err) != ST_OK)
            fail_msg("round %d: reopen: %s", round, err.msg);
        char kb[32], vb[64];
        struct st_buf got = {0};
        for (uint64_t k = 0; k < KEYS; k++) {
            st_status s = ops->get(e, key_of(kb, sizeof kb, k), &got, NULL);
            if (key_index(in_flight) == k) {
                /* Either the in-flight op or the last acknowledged one. */
                if (s == ST_OK &&
                    st_slice_equal(st_buf_slice(&got),
                                   value_of(vb, sizeof vb, in_flight)))
                    last[k] = in_flight;
                else if (is_delete(in_flight) && s == ST_NOT_FOUND)
                    last[k] = in_flight;
            }
            if (last[k] == 0 || is_delete(last[k])) {
                if (s != ST_NOT_FOUND)
                    fail_msg("round %d: key %" PRIu64 " came back", round, k);
            } else if (s != ST_OK ||
                       !st_slice_equal(st_buf_slice(&got),
                                       value_of(vb, sizeof vb, last[k]))) {
                fail_msg("round %d: key %" PRIu64 ": %s, want op %" PRIu64,
                         round, k, st_status_str(s), last[k]);
            }
        }
        st_buf_free(&got);
        assert_int_equal(ops->close(e, NULL), ST_OK);
        next_op = in_flight + 1;
    }
    free(last);
    tu_tmpdir_remove(dir);
}

int
main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lsm_survives_sigkill_mid_flush_and_compaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
