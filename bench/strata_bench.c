/*
 * strata-bench: LevelDB's db_bench for strata's engines and its anchors.
 *
 * Measures the storage engines of DDIA chapter 3 directly, below the
 * store and HTTP layers: single-threaded loops of set/get/delete/scan
 * (workloads.h), run in the order given on one database per engine, with
 * throughput, latency percentiles, and the bytes the engine keeps on disk
 * against the bytes it holds (write and space amplification, DDIA 3.1).
 * The anchors (LevelDB, LMDB: backend.h) run the same loops in the same
 * invocation, so a comparison is between figures of one machine and one
 * moment. README.md, "Benchmarks", explains how to read the table.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bench_dir.h"
#include "report.h"
#include "util/cli.h"
#include "util/log.h"
#include "workloads.h"

enum {
    EXIT_ERROR = 1, /* an engine failed or answered wrongly */
    MAX_ENGINES = 32,
    MAX_WORKLOADS = 64,
};

static const char usage_text[] =
    "usage: strata-bench [OPTION]...\n"
    "Runs db_bench-style workloads on strata's engines (and the LevelDB and\n"
    "LMDB anchors when built in), one database per engine, workloads in the\n"
    "order given, single-threaded.\n"
    "\n"
    "  --engines LIST     comma-separated backends (default: every engine of\n"
    "                     strata's registry; 'all' adds the anchors);\n"
    "                     --list shows what this build has\n"
    "  --workloads LIST   comma-separated, run in this order (default:\n"
    "                     "
    "fillseq,fillrandom,overwrite,readrandom,readmissing,\n"
    "                     readseq,deleterandom,fillrandom-sync)\n"
    "  --num N            keys in the key space (default 1000000)\n"
    "  --key-size N       bytes per key (default 16)\n"
    "  --value-size N     bytes per value (default 100)\n"
    "  --sync-num N       writes done by fillrandom-sync (default num/1000,\n"
    "                     at least min(num, 1000))\n"
    "  --seed N           random seed (default 301); same seed, same keys\n"
    "  --db DIR           each engine works in DIR/<engine>/, which must be\n"
    "                     empty or absent, and is kept (default: a fresh\n"
    "                     directory under $TMPDIR or /var/tmp, removed after)\n"
    "  --format FMT       'table' (default) or 'tsv': one line per result,\n"
    "                     engine, workload, ops_per_sec, micros_per_op,\n"
    "                     bytes_on_disk, tab-separated, no header; '-' where\n"
    "                     nothing was measured\n"
    "  --log-level LEVEL  the engines' log on stderr: debug, info, warn\n"
    "                     (default), error, off\n"
    "  --tsv-out FILE     also write the TSV lines to FILE (bench/plot.sh)\n"
    "  --stats            after each workload, print the engine's own\n"
    "                     figures (tables per level, compactions ...) on\n"
    "                     stderr, before the engine is closed\n"
    "  --list             print the available backends, one a line: name,\n"
    "                     strata|anchor, sorted|unsorted, persistent|volatile\n"
    "  --help             show this help and exit\n"
    "\n"
    "Workloads: fillseq, fillrandom (a random permutation of the keys),\n"
    "overwrite, readrandom, readmissing (keys sorting between existing ones),\n"
    "readseq (full scan; skipped on unsorted engines), deleterandom,\n"
    "compact (one timed call of the engine's merge or compaction, not in\n"
    "the default list: the disk figure after it is what it reclaimed),\n"
    "fillrandom-sync (the engine is closed and reopened with sync=always on\n"
    "the same database for this workload, then reopened with sync=none).\n"
    "Every other workload runs with sync=none. After each workload a\n"
    "persistent engine is closed cleanly, its directory's allocated blocks\n"
    "are counted (bytes on disk) and it is reopened (the 'reopen' column).\n"
    "\n"
    "Exit status: 0 when every workload ran and every answer matched the\n"
    "keys written, 1 otherwise, 2 on bad usage.\n";

struct config {
    const struct engine_ops *engines[MAX_ENGINES];
    size_t engine_count;
    enum workload_id workloads[MAX_WORKLOADS];
    size_t workload_count;
    size_t num, key_size, value_size, sync_num;
    unsigned long long seed;
    const char *db;
    bool tsv;
    bool stats;     /* --stats: the engine's figures after each workload */
    FILE *tsv_copy; /* --tsv-out: the TSV lines too, for plots */
};

/* What one engine's run holds between workloads. */
struct run {
    const struct engine_ops *ops;
    char dir[PATH_MAX];
    struct engine *e;
    struct bench_keys keys;
};

static const char PROG[] = "strata-bench";

static void
list_backends(void)
{
    const struct engine_ops *ops;
    for (size_t i = 0; (ops = bench_backend_at(i)) != NULL; i++)
        printf("%s\t%s\t%s\t%s\n", ops->name,
               bench_backend_is_anchor(ops) ? "anchor" : "strata",
               ops->sorted ? "sorted" : "unsorted",
               ops->persistent ? "persistent" : "volatile");
}

/* Splits a comma list into 'cfg->engines'; 0 or an exit status. */
static int
parse_engines(struct config *cfg, char *list)
{
    cfg->engine_count = 0;
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        if (strcmp(name, "all") == 0) {
            const struct engine_ops *ops;
            for (size_t i = 0; (ops = bench_backend_at(i)) != NULL; i++)
                if (cfg->engine_count < MAX_ENGINES)
                    cfg->engines[cfg->engine_count++] = ops;
            continue;
        }
        const struct engine_ops *ops = bench_backend_find(name);
        if (ops == NULL)
            return cli_usage_error(PROG, "unknown engine '%s' (see --list)",
                                   name);
        if (cfg->engine_count == MAX_ENGINES)
            return cli_usage_error(PROG, "at most %d engines", MAX_ENGINES);
        cfg->engines[cfg->engine_count++] = ops;
    }
    return cfg->engine_count ? 0 : cli_usage_error(PROG, "--engines is empty");
}

static int
parse_workloads(struct config *cfg, char *list)
{
    cfg->workload_count = 0;
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        int id = workload_parse(name);
        if (id < 0)
            return cli_usage_error(PROG, "unknown workload '%s'", name);
        if (cfg->workload_count == MAX_WORKLOADS)
            return cli_usage_error(PROG, "at most %d workloads", MAX_WORKLOADS);
        cfg->workloads[cfg->workload_count++] = (enum workload_id)id;
    }
    return cfg->workload_count ? 0
                               : cli_usage_error(PROG, "--workloads is empty");
}

enum opt_id {
    OPT_ENGINES = 256,
    OPT_WORKLOADS,
    OPT_NUM,
    OPT_KEY_SIZE,
    OPT_VALUE_SIZE,
    OPT_SYNC_NUM,
    OPT_SEED,
    OPT_DB,
    OPT_FORMAT,
    OPT_TSV_OUT,
    OPT_LOG_LEVEL,
    OPT_LIST,
    OPT_STATS,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"engines", required_argument, NULL, OPT_ENGINES},
    {"workloads", required_argument, NULL, OPT_WORKLOADS},
    {"num", required_argument, NULL, OPT_NUM},
    {"key-size", required_argument, NULL, OPT_KEY_SIZE},
    {"value-size", required_argument, NULL, OPT_VALUE_SIZE},
    {"sync-num", required_argument, NULL, OPT_SYNC_NUM},
    {"seed", required_argument, NULL, OPT_SEED},
    {"db", required_argument, NULL, OPT_DB},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"tsv-out", required_argument, NULL, OPT_TSV_OUT},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"list", no_argument, NULL, OPT_LIST},
    {"stats", no_argument, NULL, OPT_STATS},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Applies a numeric option; 0 or an exit status. */
static int
apply_number(struct config *cfg, int id, const char *arg)
{
    unsigned long long v;
    switch (id) {
    case OPT_NUM:
        /* The permutation holds uint32 indexes. */
        if (!cli_parse_number(arg, 1, 1000000000, &v))
            return cli_usage_error(PROG, "--num takes 1..1000000000, not '%s'",
                                   arg);
        cfg->num = (size_t)v;
        return 0;
    case OPT_KEY_SIZE:
        if (!cli_parse_number(arg, 1, 1024, &v))
            return cli_usage_error(PROG, "--key-size takes 1..1024, not '%s'",
                                   arg);
        cfg->key_size = (size_t)v;
        return 0;
    case OPT_VALUE_SIZE:
        if (!cli_parse_number(arg, 0, 64u << 20, &v))
            return cli_usage_error(
                PROG, "--value-size takes 0..67108864, not '%s'", arg);
        cfg->value_size = (size_t)v;
        return 0;
    case OPT_SYNC_NUM:
        if (!cli_parse_number(arg, 1, 1000000000, &v))
            return cli_usage_error(
                PROG, "--sync-num takes 1..1000000000, not '%s'", arg);
        cfg->sync_num = (size_t)v;
        return 0;
    case OPT_SEED:
        if (!cli_parse_number(arg, 0, ULLONG_MAX, &v))
            return cli_usage_error(PROG, "--seed takes a number, not '%s'",
                                   arg);
        cfg->seed = v;
        return 0;
    }
    return cli_usage_error(PROG, "internal: unknown option");
}

/* 0 to go on, -1 for a clean exit (--help, --list), or an exit status. */
static int
apply_option(struct config *cfg, int id, char *arg)
{
    switch (id) {
    case OPT_ENGINES:
        return parse_engines(cfg, arg);
    case OPT_WORKLOADS:
        return parse_workloads(cfg, arg);
    case OPT_DB:
        cfg->db = arg;
        return 0;
    case OPT_FORMAT:
        if (strcmp(arg, "table") != 0 && strcmp(arg, "tsv") != 0)
            return cli_usage_error(
                PROG, "--format takes table or tsv, not '%s'", arg);
        cfg->tsv = arg[0] == 't' && arg[1] == 's';
        return 0;
    case OPT_TSV_OUT:
        if (cfg->tsv_copy != NULL)
            fclose(cfg->tsv_copy);
        cfg->tsv_copy = fopen(arg, "w");
        if (cfg->tsv_copy == NULL) {
            fprintf(stderr, "strata-bench: %s: %s\n", arg, strerror(errno));
            return CLI_EXIT_USAGE;
        }
        return 0;
    case OPT_LOG_LEVEL: {
        int level = log_level_parse(arg);
        if (level < 0)
            return cli_usage_error(PROG, "unknown log level '%s'", arg);
        log_set_level((enum log_level)level);
        return 0;
    }
    case OPT_LIST:
        list_backends();
        return -1;
    case OPT_STATS:
        cfg->stats = true;
        return 0;
    case OPT_HELP:
        fputs(usage_text, stdout);
        return -1;
    }
    return apply_number(cfg, id, arg);
}

static void
config_defaults(struct config *cfg)
{
    *cfg = (struct config){
        .num = 1000000,
        .key_size = 16,
        .value_size = 100,
        .seed = 301,
    };
    for (size_t i = 0; engine_registry[i] != NULL && i < MAX_ENGINES; i++)
        cfg->engines[cfg->engine_count++] = engine_registry[i];
    /* compact only where asked for: the default list is db_bench's. */
    for (int w = 0; w < WL_COUNT_; w++)
        if (w != WL_COMPACT)
            cfg->workloads[cfg->workload_count++] = (enum workload_id)w;
}

static int
parse_args(int argc, char **argv, struct config *cfg)
{
    config_defaults(cfg);
    /* An engine's start-up notes would break the table's lines. */
    log_set_level(LOG_WARN);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return cli_usage_error(PROG, "bad option '%s'", argv[optind - 1]);
        int rc = apply_option(cfg, c, optarg);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
    if (cfg->key_size < bench_keys_min_key_size(cfg->num))
        return cli_usage_error(
            PROG, "--key-size %zu cannot hold %zu keys (needs %zu)",
            cfg->key_size, cfg->num, bench_keys_min_key_size(cfg->num));
    if (cfg->sync_num == 0) {
        size_t floor = cfg->num < 1000 ? cfg->num : 1000;
        cfg->sync_num = cfg->num / 1000 > floor ? cfg->num / 1000 : floor;
    }
    return 0;
}

static void
print_table_header(const struct config *cfg, const char *root, bool temp)
{
    printf("strata-bench: %zu keys, key %zu B, value %zu B, seed %llu, "
           "fillrandom-sync %zu writes\n",
           cfg->num, cfg->key_size, cfg->value_size, cfg->seed, cfg->sync_num);
    printf("db: %s%s\n\n", root, temp ? " (temporary, removed after)" : "");
    report_table_columns(stdout);
}

/* --- running ---------------------------------------------------------- */

static st_status
open_engine(struct run *r, enum engine_sync sync, struct st_error *err)
{
    struct engine_options opt;
    engine_options_default(&opt);
    opt.sync = sync;
    return r->ops->open(r->dir, &opt, &r->e, err);
}

static st_status
close_engine(struct run *r, struct st_error *err)
{
    st_status s = r->ops->close(r->e, err);
    r->e = NULL;
    return s;
}

/* Closes the engine and opens it again with 'sync'; *ns gets the time of
 * the open alone (replay, recovery): what a restart costs. */
static st_status
reopen_engine(struct run *r, enum engine_sync sync, uint64_t *disk_bytes,
              uint64_t *ns, struct st_error *err)
{
    st_status s = close_engine(r, err);
    if (s != ST_OK)
        return s;
    if (disk_bytes != NULL)
        *disk_bytes = bench_dir_disk_bytes(r->dir);
    uint64_t t0 = bench_now_ns();
    s = open_engine(r, sync, err);
    if (ns != NULL)
        *ns = bench_now_ns() - t0;
    return s;
}

static const char *
result_note(enum workload_id id, const struct run *r,
            const struct workload_result *res, char *buf, size_t cap)
{
    if (res->note != NULL)
        return res->note;
    if (res->wrong > 0) {
        snprintf(buf, cap, "WRONG: %llu answers contradict the keys written",
                 (unsigned long long)res->wrong);
        return buf;
    }
    if (id == WL_FILLRANDOM_SYNC)
        return r->ops->persistent ? "sync=always, reopened"
                                  : "not persistent: sync does nothing";
    if (id == WL_READRANDOM || id == WL_READSEQ) {
        snprintf(buf, cap, "found %llu of %llu", (unsigned long long)res->found,
                 (unsigned long long)res->expected);
        return buf;
    }
    return NULL;
}

static void
print_stat(void *arg, const char *name, uint64_t value)
{
    fprintf(arg, " %s=%llu", name, (unsigned long long)value);
}

/* --stats: one line on stderr of what the engine reports about itself
 * (tables per level, disk bytes, compactions ...), so it stays out of the
 * TSV on stdout. */
static void
print_engine_stats(const struct run *r, enum workload_id id)
{
    if (r->ops->stats == NULL || r->e == NULL)
        return;
    fprintf(stderr, "# stats %s %s:", r->ops->name, workload_name(id));
    r->ops->stats(r->e, print_stat, stderr);
    fputc('\n', stderr);
}

/* Runs one workload, with the reopen around fillrandom-sync and the
 * close / measure / reopen after it; prints its row. */
static st_status
run_workload(const struct config *cfg, struct run *r, enum workload_id id,
             bool *wrong, struct st_error *err)
{
    bool persistent = r->ops->persistent;
    st_status s = ST_OK;
    if (id == WL_FILLRANDOM_SYNC && persistent)
        s = reopen_engine(r, ENGINE_SYNC_ALWAYS, NULL, NULL, err);
    if (s != ST_OK)
        return s;

    struct workload_result res; /* ~16 KiB of histogram */
    s = workload_run(id, r->e, &r->keys, &res, err);
    if (s != ST_OK)
        return s;

    struct report_row row = {
        .engine = r->ops->name,
        .workload = workload_name(id),
        .res = &res,
        .disk_bytes = REPORT_NOT_MEASURED,
        .live_bytes =
            (uint64_t)r->keys.live_count * (cfg->key_size + cfg->value_size),
        .reopen_ns = REPORT_NOT_MEASURED,
    };
    if (cfg->stats)
        print_engine_stats(r, id);
    if (persistent)
        s = reopen_engine(r, ENGINE_SYNC_NONE, &row.disk_bytes, &row.reopen_ns,
                          err);
    char note[128];
    row.note = result_note(id, r, &res, note, sizeof(note));
    *wrong = *wrong || res.wrong > 0;
    if (cfg->tsv)
        report_tsv_row(stdout, &row);
    else
        report_table_row(stdout, &row);
    fflush(stdout);
    if (cfg->tsv_copy != NULL) {
        report_tsv_row(cfg->tsv_copy, &row);
        fflush(cfg->tsv_copy);
    }
    return s;
}

/* Runs every workload on one engine in DIR/<engine>/; false on failure. */
static bool
run_engine(const struct config *cfg, const struct engine_ops *ops,
           const char *root, bool *wrong)
{
    struct run r = {.ops = ops};
    if (!bench_dir_make_engine(root, ops->name, r.dir, sizeof(r.dir)))
        return false;
    if (!bench_keys_init(&r.keys, cfg->num, cfg->key_size, cfg->value_size,
                         cfg->sync_num, cfg->seed)) {
        fprintf(stderr, "strata-bench: out of memory for %zu keys\n", cfg->num);
        return false;
    }
    r.keys.engine_name = ops->name;

    struct st_error err = {0};
    st_status s = open_engine(&r, ENGINE_SYNC_NONE, &err);
    for (size_t w = 0; s == ST_OK && w < cfg->workload_count; w++)
        s = run_workload(cfg, &r, cfg->workloads[w], wrong, &err);
    if (s != ST_OK && bench_interrupted)
        fprintf(stderr, "strata-bench: %s: interrupted\n", ops->name);
    else if (s != ST_OK)
        fprintf(stderr, "strata-bench: %s: %s: %s\n", ops->name,
                st_status_str(s), err.msg);
    struct st_error cerr = {0};
    if (r.e != NULL && close_engine(&r, &cerr) != ST_OK) {
        fprintf(stderr, "strata-bench: %s: close: %s\n", ops->name, cerr.msg);
        s = cerr.code != ST_OK ? cerr.code : ST_IO;
    }
    bench_keys_deinit(&r.keys);
    return s == ST_OK;
}

static void
on_stop_signal(int sig)
{
    bench_interrupted = 1;
}

/* Ctrl-C stops the run cleanly (workloads.h, bench_interrupted): the
 * engine is closed and a temporary --db removed, not left in /var/tmp. */
static void
catch_stop_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int
main(int argc, char **argv)
{
    struct config cfg;
    int rc = parse_args(argc, argv, &cfg);
    if (rc != 0)
        return rc < 0 ? EXIT_SUCCESS : rc;

    char root[PATH_MAX];
    bool temp = cfg.db == NULL;
    if (temp && !bench_dir_make_temp(root, sizeof(root)))
        return EXIT_ERROR;
    if (!temp &&
        snprintf(root, sizeof(root), "%s", cfg.db) >= (int)sizeof(root))
        return cli_usage_error(PROG, "--db path too long");
    bench_dir_warn_if_tmpfs(root);

    if (!cfg.tsv)
        print_table_header(&cfg, root, temp);
    catch_stop_signals();
    bool ok = true, wrong = false;
    for (size_t i = 0; i < cfg.engine_count && !bench_interrupted; i++)
        ok = run_engine(&cfg, cfg.engines[i], root, &wrong) && ok;

    if (temp)
        bench_dir_remove(root);
    if (cfg.tsv_copy != NULL && fclose(cfg.tsv_copy) != 0) {
        perror("strata-bench: --tsv-out");
        ok = false;
    }
    if (wrong)
        fprintf(stderr, "strata-bench: some answers contradict the keys "
                        "written (see WRONG in the notes)\n");
    if (bench_interrupted)
        return 128 + SIGINT;
    return ok && !wrong ? EXIT_SUCCESS : EXIT_ERROR;
}
