/*
 * stratad's options (see options.h). One table names every flag; the
 * config file and the command line both end in set_option(), so a value
 * is parsed and range-checked in one place whatever its source. The
 * file is read first, the command line second, so the command line
 * wins: getopt runs twice, first only to find --config.
 */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cli.h"
#include "util/config_file.h"

static const char PROG[] = "stratad";

const char options_usage[] =
    "Usage: stratad [OPTION]...\n"
    "The strata key-value worker: serves FastCGI requests from nginx.\n"
    "\n"
    "  --config FILE          read settings from FILE first: 'key = value'\n"
    "                         lines, a key for every option below but\n"
    "                         --help and --version; the command line wins\n"
    "  --engine NAME          storage engine: memory, file, lsm\n"
    "                         (default lsm)\n"
    "  --data-dir DIR         data directory; the engine keeps its files in\n"
    "                         DIR/NAME/ (default data)\n"
    "  --socket PATH          unix socket to listen on, mode 0660\n"
    "                         (default run/stratad.sock); with LISTEN_FDS=1\n"
    "                         from systemd, fd 3 is used instead\n"
    "  --socket-group NAME    give the socket to group NAME (its owner\n"
    "                         stays), so that nginx's user, a member of it,\n"
    "                         can connect\n"
    "  --threads N            request threads (default 32, at most 1024);\n"
    "                         keep it above nginx workers x upstream\n"
    "                         keepalive\n"
    "  --sync MODE            always: fsync before answering a write\n"
    "                         (default; concurrent writes share fsyncs);\n"
    "                         interval[:MS]: fsync at most MS ms after a\n"
    "                         write (default 1000), a power loss can take\n"
    "                         back that much; none: leave it to the OS\n"
    "  --max-key-bytes N      longest key (default 1024, at most 2048)\n"
    "  --max-value-bytes N    longest value (default 1048576); requests\n"
    "                         are limited to 6*N+4096 bytes of JSON\n"
    "  --segment-bytes N      file engine: roll the log at N bytes\n"
    "                         (default 67108864)\n"
    "  --memtable-bytes N     lsm engine: flush the memtable to a table\n"
    "                         past N bytes (default 4194304)\n"
    "  --block-cache-bytes N  lsm engine: cache of table blocks shared by\n"
    "                         all tables (default 8388608; 0: none)\n"
    "  --log-level LEVEL      debug, info, warn, error, off (default info)\n"
    "  --log-file PATH        append log lines to PATH (mode 0640) instead\n"
    "                         of stderr; SIGHUP reopens it (logrotate)\n"
    "  --pid-file PATH        write the process id there while running\n"
    "  --help                 show this help and exit\n"
    "  --version              show the version and exit\n"
    "\n"
    "Log lines are key=value fields (level=, msg=, ...); on journald's\n"
    "stream they carry its priority prefix instead of a timestamp.\n"
    "Under systemd (Type=notify) stratad reports READY=1 once it serves,\n"
    "and STOPPING=1 on SIGTERM or SIGINT.\n"
    "\n"
    "Exit status: 0 after a clean shutdown, 1 on a start-up or storage\n"
    "error (e.g. the data directory is locked by another stratad, or the\n"
    "socket group does not exist), 2 on bad usage or a bad config file.\n";

enum opt_id {
    OPT_CONFIG,
    OPT_ENGINE,
    OPT_DATA_DIR,
    OPT_SOCKET,
    OPT_SOCKET_GROUP,
    OPT_THREADS,
    OPT_SYNC,
    OPT_MAX_KEY,
    OPT_MAX_VALUE,
    OPT_SEGMENT,
    OPT_MEMTABLE,
    OPT_BLOCK_CACHE,
    OPT_LOG_LEVEL,
    OPT_LOG_FILE,
    OPT_PID_FILE,
    OPT_HELP,
    OPT_VERSION,
    OPT_COUNT,
};

/* getopt_long's value for an option: above every short option. */
enum { GETOPT_BASE = 256 };

enum value_kind {
    V_NONE,   /* a flag without value: command line only */
    V_STRING, /* any non-empty text */
    V_NUMBER, /* a decimal number in [min, max] */
    V_CHOICE, /* parsed by its own case in set_option */
};

static const struct opt_spec {
    const char *name;
    enum value_kind kind;
    bool in_file; /* also a config-file key */
    unsigned long long min, max;
} specs[OPT_COUNT] = {
    [OPT_CONFIG] = {"config", V_STRING, false, 0, 0},
    [OPT_ENGINE] = {"engine", V_CHOICE, true, 0, 0},
    [OPT_DATA_DIR] = {"data-dir", V_STRING, true, 0, 0},
    [OPT_SOCKET] = {"socket", V_STRING, true, 0, 0},
    [OPT_SOCKET_GROUP] = {"socket-group", V_STRING, true, 0, 0},
    [OPT_THREADS] = {"threads", V_NUMBER, true, 1, OPTIONS_MAX_THREADS},
    [OPT_SYNC] = {"sync", V_CHOICE, true, 0, 0},
    [OPT_MAX_KEY] = {"max-key-bytes", V_NUMBER, true, 1, STORE_MAX_KEY_CEILING},
    [OPT_MAX_VALUE] = {"max-value-bytes", V_NUMBER, true, 0,
                       STORE_MAX_VALUE_CEILING},
    [OPT_SEGMENT] = {"segment-bytes", V_NUMBER, true, 4096, 1ull << 32},
    [OPT_MEMTABLE] = {"memtable-bytes", V_NUMBER, true, 64 << 10, 1ull << 30},
    [OPT_BLOCK_CACHE] = {"block-cache-bytes", V_NUMBER, true, 0, 1ull << 40},
    [OPT_LOG_LEVEL] = {"log-level", V_CHOICE, true, 0, 0},
    [OPT_LOG_FILE] = {"log-file", V_STRING, true, 0, 0},
    [OPT_PID_FILE] = {"pid-file", V_STRING, true, 0, 0},
    [OPT_HELP] = {"help", V_NONE, false, 0, 0},
    [OPT_VERSION] = {"version", V_NONE, false, 0, 0},
};

const char *
options_flag_name(unsigned i)
{
    return i < OPT_COUNT ? specs[i].name : NULL;
}

static int
find_option(const char *name)
{
    for (int i = 0; i < OPT_COUNT; i++)
        if (strcmp(specs[i].name, name) == 0)
            return i;
    return -1;
}

static void
set_defaults(struct stratad_options *o)
{
    *o = (struct stratad_options){
        .threads = OPTIONS_DEFAULT_THREADS,
        .log_level = LOG_INFO,
    };
    engine_options_default(&o->engine_opt);
    store_limits_default(&o->limits);
}

void
options_deinit(struct stratad_options *o)
{
    char **strings[] = {&o->engine,       &o->data_dir, &o->socket_path,
                        &o->socket_group, &o->pid_file, &o->log_file,
                        &o->config_file};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        free(*strings[i]);
        *strings[i] = NULL;
    }
}

/* --- one parser per value ---------------------------------------------- */

static bool
replace_string(char **field, const char *value, char *why, size_t cap)
{
    char *copy = strdup(value);
    if (copy == NULL) {
        snprintf(why, cap, "out of memory");
        return false;
    }
    free(*field);
    *field = copy;
    return true;
}

static char **
string_field(struct stratad_options *o, enum opt_id id)
{
    switch (id) {
    case OPT_CONFIG:
        return &o->config_file;
    case OPT_ENGINE:
        return &o->engine;
    case OPT_DATA_DIR:
        return &o->data_dir;
    case OPT_SOCKET:
        return &o->socket_path;
    case OPT_SOCKET_GROUP:
        return &o->socket_group;
    case OPT_LOG_FILE:
        return &o->log_file;
    case OPT_PID_FILE:
        return &o->pid_file;
    default:
        return NULL;
    }
}

static void
set_number(struct stratad_options *o, enum opt_id id, unsigned long long v)
{
    switch (id) {
    case OPT_THREADS:
        o->threads = (unsigned)v;
        break;
    case OPT_MAX_KEY:
        o->limits.max_key_len = (size_t)v;
        break;
    case OPT_MAX_VALUE:
        o->limits.max_value_len = (size_t)v;
        break;
    case OPT_SEGMENT:
        o->engine_opt.segment_bytes = v;
        break;
    case OPT_MEMTABLE:
        o->engine_opt.memtable_bytes = v;
        break;
    case OPT_BLOCK_CACHE:
        o->engine_opt.block_cache_bytes = v;
        break;
    default:
        break;
    }
}

/* always | none | interval | interval:MS */
static bool
parse_sync(const char *arg, struct engine_options *opt)
{
    static const char interval[] = "interval";
    unsigned long long ms = 1000;
    if (strcmp(arg, "always") == 0 || strcmp(arg, "none") == 0) {
        opt->sync = arg[0] == 'a' ? ENGINE_SYNC_ALWAYS : ENGINE_SYNC_NONE;
        return true;
    }
    if (strncmp(arg, interval, sizeof interval - 1) != 0)
        return false;
    arg += sizeof interval - 1;
    if (*arg != '\0' &&
        (*arg != ':' || !cli_parse_number(arg + 1, 1, 60000, &ms)))
        return false;
    opt->sync = ENGINE_SYNC_INTERVAL;
    opt->sync_interval_ms = (unsigned)ms;
    return true;
}

/* "memory, file or lsm", from the registry. */
static void
engine_names(char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; engine_registry[i] != NULL && n < cap; i++) {
        const char *sep = i == 0                           ? ""
                          : engine_registry[i + 1] == NULL ? " or "
                                                           : ", ";
        int m =
            snprintf(out + n, cap - n, "%s%s", sep, engine_registry[i]->name);
        n += m > 0 ? (size_t)m : 0;
    }
}

static bool
set_choice(struct stratad_options *o, enum opt_id id, const char *value,
           char *why, size_t cap)
{
    if (id == OPT_ENGINE) {
        if (engine_find(value) != NULL)
            return replace_string(&o->engine, value, why, cap);
        char names[128];
        engine_names(names, sizeof names);
        snprintf(why, cap, "takes %s, not '%s'", names, value);
        return false;
    }
    if (id == OPT_SYNC) {
        if (parse_sync(value, &o->engine_opt))
            return true;
        snprintf(why, cap,
                 "takes always, none, interval or interval:MS (1..60000), "
                 "not '%s'",
                 value);
        return false;
    }
    int level = log_level_parse(value); /* OPT_LOG_LEVEL */
    if (level >= 0) {
        o->log_level = (enum log_level)level;
        return true;
    }
    snprintf(why, cap, "takes debug, info, warn, error or off, not '%s'",
             value);
    return false;
}

/* Applies one value, from the file or the command line. On false, 'why'
 * says what the option takes ("takes a number from 1 to 1024, not 'x'"),
 * for the caller to put after the flag or the key. */
static bool
set_option(struct stratad_options *o, enum opt_id id, const char *value,
           char *why, size_t cap)
{
    const struct opt_spec *sp = &specs[id];
    if (value[0] == '\0') {
        snprintf(why, cap, "takes a non-empty value");
        return false;
    }
    if (sp->kind == V_CHOICE)
        return set_choice(o, id, value, why, cap);
    if (sp->kind == V_STRING)
        return replace_string(string_field(o, id), value, why, cap);
    unsigned long long v;
    if (!cli_parse_number(value, sp->min, sp->max, &v)) {
        snprintf(why, cap, "takes a number from %llu to %llu, not '%s'",
                 sp->min, sp->max, value);
        return false;
    }
    set_number(o, id, v);
    return true;
}

/* --- the config file --------------------------------------------------- */

struct file_pass {
    struct stratad_options *o;
    unsigned line_of[OPT_COUNT]; /* where each key was set, 0: not yet */
};

static bool
apply_file_setting(void *ctx, const char *key, const char *value, unsigned line,
                   char *why, size_t cap)
{
    struct file_pass *fp = ctx;
    int id = find_option(key);
    if (id < 0) {
        snprintf(why, cap, "unknown key '%s'", key);
        return false;
    }
    if (!specs[id].in_file) {
        snprintf(why, cap, "key '%s' works on the command line only", key);
        return false;
    }
    if (fp->line_of[id] != 0) {
        snprintf(why, cap, "key '%s' is set twice (first on line %u)", key,
                 fp->line_of[id]);
        return false;
    }
    char reason[CONFIG_FILE_MSG_LEN - 64];
    if (!set_option(fp->o, (enum opt_id)id, value, reason, sizeof reason)) {
        snprintf(why, cap, "key '%s': %s", key, reason);
        return false;
    }
    fp->line_of[id] = line;
    return true;
}

static int
read_config(struct stratad_options *o, const char *path)
{
    struct file_pass fp = {.o = o};
    struct config_file_error err = {0};
    if (!config_file_read(path, apply_file_setting, &fp, &err))
        return cli_file_error(PROG, path, err.line, "%s", err.msg);
    return 0;
}

/* --- the command line ------------------------------------------------ */

static void
build_getopt_table(struct option *longs)
{
    for (int i = 0; i < OPT_COUNT; i++)
        longs[i] = (struct option){specs[i].name,
                                   specs[i].kind == V_NONE ? no_argument
                                                           : required_argument,
                                   NULL, GETOPT_BASE + i};
    longs[OPT_COUNT] = (struct option){NULL, 0, NULL, 0};
}

/* The first pass: only --config (the last one given) and whether
 * --help or --version asks to skip the file. Quiet: the second pass
 * reports bad flags. */
static const char *
find_config(int argc, char **argv, const struct option *longs, bool *info)
{
    const char *config = NULL;
    int id;
    opterr = 0;
    optind = 0; /* glibc: start over, also after an earlier parse */
    while ((id = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (id == GETOPT_BASE + OPT_CONFIG)
            config = optarg;
        else if (id == GETOPT_BASE + OPT_HELP ||
                 id == GETOPT_BASE + OPT_VERSION)
            *info = true;
    }
    return config;
}

static int
apply_command_line(struct stratad_options *o, int argc, char **argv,
                   const struct option *longs)
{
    int id;
    opterr = 1;
    optind = 0;
    while ((id = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (id < GETOPT_BASE || id >= GETOPT_BASE + OPT_COUNT)
            return cli_usage_error(PROG, "%s", "bad option");
        id -= GETOPT_BASE;
        if (id == OPT_HELP) {
            fputs(options_usage, stdout);
            return OPTIONS_EXIT_OK;
        }
        if (id == OPT_VERSION) {
            puts("stratad " PACKAGE_VERSION);
            return OPTIONS_EXIT_OK;
        }
        char why[256];
        if (id != OPT_CONFIG &&
            !set_option(o, (enum opt_id)id, optarg, why, sizeof why))
            return cli_usage_error(PROG, "--%s %s", specs[id].name, why);
    }
    if (optind < argc)
        return cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
    return 0;
}

static bool
set_default_strings(struct stratad_options *o)
{
    o->engine = strdup("lsm");
    o->data_dir = strdup("data");
    o->socket_path = strdup("run/stratad.sock");
    return o->engine && o->data_dir && o->socket_path;
}

int
options_parse(struct stratad_options *o, int argc, char **argv)
{
    set_defaults(o);
    if (!set_default_strings(o)) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    struct option longs[OPT_COUNT + 1];
    build_getopt_table(longs);
    bool info = false;
    const char *config = find_config(argc, argv, longs, &info);
    if (config != NULL && !info) {
        char why[256];
        if (!set_option(o, OPT_CONFIG, config, why, sizeof why))
            return cli_usage_error(PROG, "--config %s", why);
        int rc = read_config(o, o->config_file);
        if (rc != 0)
            return rc;
    }
    return apply_command_line(o, argc, argv, longs);
}
