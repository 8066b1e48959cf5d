/*
 * stratad: the strata worker. It takes the data directory's lock, opens
 * the engine, listens on a private unix socket for nginx's FastCGI
 * requests, serves them from a pool of threads, and on SIGTERM/SIGINT
 * finishes what is in flight and closes the engine cleanly.
 *
 * Signals are blocked in every thread and taken by sigwait() in main,
 * because libfcgi's own SIGTERM handler only sets a flag and leaves
 * threads asleep (PITFALLS.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/fcgi_loop.h"
#include "store.h"
#include "util/cli.h"
#include "util/log.h"

enum {
    DEFAULT_THREADS = 32,
    MAX_THREADS = 1024,
    SHUTDOWN_GRACE_MS = 10000,
    LISTEN_BACKLOG = 1024,
};

struct config {
    const char *engine, *data_dir, *socket_path, *pid_file;
    unsigned threads;
    struct engine_options engine_opt;
    struct store_limits limits;
};

static const char usage_text[] =
    "Usage: stratad [OPTION]...\n"
    "The strata key-value worker: serves FastCGI requests from nginx.\n"
    "\n"
    "  --engine NAME          storage engine: memory, file, lsm\n"
    "                         (default lsm)\n"
    "  --data-dir DIR         data directory; the engine keeps its files in\n"
    "                         DIR/NAME/ (default data)\n"
    "  --socket PATH          unix socket to listen on, mode 0660\n"
    "                         (default run/stratad.sock); with LISTEN_FDS=1\n"
    "                         from systemd, fd 3 is used instead\n"
    "  --threads N            request threads (default 32); keep it above\n"
    "                         nginx workers x upstream keepalive\n"
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
    "  --log-level LEVEL      debug, info, warn, error (default info)\n"
    "  --pid-file PATH        write the process id there while running\n"
    "  --help                 show this help and exit\n"
    "  --version              show the version and exit\n"
    "\n"
    "Exit status: 0 after a clean shutdown, 1 on a start-up or storage\n"
    "error (e.g. the data directory is locked by another stratad),\n"
    "2 on bad usage.\n";

static const char PROG[] = "stratad";

enum opt_id {
    OPT_ENGINE = 256,
    OPT_DATA_DIR,
    OPT_SOCKET,
    OPT_THREADS,
    OPT_SYNC,
    OPT_MAX_KEY,
    OPT_MAX_VALUE,
    OPT_SEGMENT,
    OPT_MEMTABLE,
    OPT_BLOCK_CACHE,
    OPT_LOG_LEVEL,
    OPT_PID_FILE,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option long_opts[] = {
    {"engine", required_argument, NULL, OPT_ENGINE},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"sync", required_argument, NULL, OPT_SYNC},
    {"max-key-bytes", required_argument, NULL, OPT_MAX_KEY},
    {"max-value-bytes", required_argument, NULL, OPT_MAX_VALUE},
    {"segment-bytes", required_argument, NULL, OPT_SEGMENT},
    {"memtable-bytes", required_argument, NULL, OPT_MEMTABLE},
    {"block-cache-bytes", required_argument, NULL, OPT_BLOCK_CACHE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* The numeric options and their ranges. */
static const struct {
    int id;
    const char *name;
    unsigned long long min, max;
} number_opts[] = {
    {OPT_THREADS, "threads", 1, MAX_THREADS},
    {OPT_MAX_KEY, "max-key-bytes", 1, STORE_MAX_KEY_CEILING},
    {OPT_MAX_VALUE, "max-value-bytes", 0, STORE_MAX_VALUE_CEILING},
    {OPT_SEGMENT, "segment-bytes", 4096, 1ull << 32},
    {OPT_MEMTABLE, "memtable-bytes", 64 << 10, 1ull << 30},
    {OPT_BLOCK_CACHE, "block-cache-bytes", 0, 1ull << 40},
};

static void
set_number(struct config *cfg, int id, unsigned long long v)
{
    switch (id) {
    case OPT_THREADS:
        cfg->threads = (unsigned)v;
        break;
    case OPT_MAX_KEY:
        cfg->limits.max_key_len = (size_t)v;
        break;
    case OPT_MAX_VALUE:
        cfg->limits.max_value_len = (size_t)v;
        break;
    case OPT_SEGMENT:
        cfg->engine_opt.segment_bytes = v;
        break;
    case OPT_MEMTABLE:
        cfg->engine_opt.memtable_bytes = v;
        break;
    case OPT_BLOCK_CACHE:
        cfg->engine_opt.block_cache_bytes = v;
        break;
    }
}

/* Applies one numeric option; returns 0 or an exit status. */
static int
apply_number(struct config *cfg, int id, const char *arg)
{
    for (size_t i = 0; i < sizeof number_opts / sizeof number_opts[0]; i++) {
        if (number_opts[i].id != id)
            continue;
        unsigned long long v;
        if (!cli_parse_number(arg, number_opts[i].min, number_opts[i].max, &v))
            return cli_usage_error(PROG,
                                   "--%s takes a number from %llu to %llu, "
                                   "not '%s'",
                                   number_opts[i].name, number_opts[i].min,
                                   number_opts[i].max, arg);
        set_number(cfg, id, v);
        return 0;
    }
    return cli_usage_error(PROG, "internal: unknown option %d", id);
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

/* Applies one option; returns 0, or the exit status to stop with (-1
 * for a clean exit after --help or --version). */
static int
apply_option(struct config *cfg, int id, const char *arg)
{
    switch (id) {
    case OPT_ENGINE:
        if (engine_find(arg) == NULL)
            return cli_usage_error(
                PROG, "unknown engine '%s' (memory, file, lsm)", arg);
        cfg->engine = arg;
        return 0;
    case OPT_DATA_DIR:
        cfg->data_dir = arg;
        return 0;
    case OPT_SOCKET:
        cfg->socket_path = arg;
        return 0;
    case OPT_PID_FILE:
        cfg->pid_file = arg;
        return 0;
    case OPT_SYNC:
        if (!parse_sync(arg, &cfg->engine_opt))
            return cli_usage_error(PROG,
                                   "--sync takes always, none, interval or "
                                   "interval:MS (1..60000), not '%s'",
                                   arg);
        return 0;
    case OPT_LOG_LEVEL: {
        int level = log_level_parse(arg);
        if (level < 0)
            return cli_usage_error(PROG, "unknown log level '%s'", arg);
        log_set_level((enum log_level)level);
        return 0;
    }
    case OPT_HELP:
        fputs(usage_text, stdout);
        return -1;
    case OPT_VERSION:
        puts("stratad " PACKAGE_VERSION);
        return -1;
    }
    return apply_number(cfg, id, arg);
}

static int
parse_args(int argc, char **argv, struct config *cfg)
{
    *cfg = (struct config){
        .engine = "lsm",
        .data_dir = "data",
        .socket_path = "run/stratad.sock",
        .threads = DEFAULT_THREADS,
    };
    engine_options_default(&cfg->engine_opt);
    store_limits_default(&cfg->limits);
    int id;
    while ((id = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (id == '?')
            return cli_usage_error(PROG, "%s", "bad option");
        int rc = apply_option(cfg, id, optarg);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* fd 3 handed over by systemd socket activation, or -1. */
static int
inherited_socket(void)
{
    const char *pid = getenv("LISTEN_PID");
    const char *fds = getenv("LISTEN_FDS");
    if (pid == NULL || fds == NULL || strtol(pid, NULL, 10) != getpid() ||
        strcmp(fds, "1") != 0)
        return -1;
    return 3;
}

/* true when something answers on 'path': a live worker owns it. */
static bool
socket_in_use(const struct sockaddr_un *addr)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool live = connect(fd, (const struct sockaddr *)addr, sizeof *addr) == 0;
    close(fd);
    return live;
}

/* Creates the listening socket ourselves (not FCGX_OpenSocket, which
 * unlinks a live worker's socket and exits on errors). -1 on failure. */
static int
listen_unix(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        log_error("socket path too long (max %zu bytes): %s",
                  sizeof addr.sun_path - 1, path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    if (socket_in_use(&addr)) {
        log_error("socket %s is in use by another process", path);
        return -1;
    }
    unlink(path); /* a stale socket from a crash */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error("socket: %s", strerror(errno));
        return -1;
    }
    /* The umask makes the socket 0660 from birth: no window in which
     * others could connect and speak raw FastCGI. */
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    int e = errno;
    umask(old);
    if (rc != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        log_error("listen on %s: %s", path, strerror(rc ? e : errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool
write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 ||
        fclose(f) != 0) {
        log_error("cannot write pid file %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

/* Blocks until SIGTERM or SIGINT. SIGHUP is reserved for log reopening
 * and ignored for now. */
static int
wait_for_stop(const sigset_t *set)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("SIGHUP: nothing to reopen (logs go to stderr)");
            continue;
        }
        return sig;
    }
}

static st_status
open_store(const struct config *cfg, struct store **st)
{
    struct st_error err = {0};
    log_info("opening engine=%s dir=%s/%s", cfg->engine, cfg->data_dir,
             cfg->engine);
    st_status s = store_open(cfg->engine, cfg->data_dir, &cfg->engine_opt,
                             &cfg->limits, st, &err);
    if (s != ST_OK)
        log_error("cannot open the store: %s", err.msg);
    return s;
}

static size_t
body_limit(const struct store_limits *lim)
{
    /* Worst-case JSON escaping is 6 bytes per value byte (\u00XX); nginx's
     * client_max_body_size is set from the same formula (run.sh). */
    return 6 * lim->max_value_len + 4096;
}

static int
serve(const struct config *cfg, struct store *st, int listen_fd,
      const sigset_t *signals)
{
    struct fcgi_server_config fc = {listen_fd, cfg->threads,
                                    body_limit(&cfg->limits), st};
    struct fcgi_server *srv = NULL;
    struct st_error err = {0};
    if (fcgi_server_start(&fc, &srv, &err) != ST_OK) {
        log_error("cannot start the request threads: %s", err.msg);
        return 1;
    }
    log_info("ready engine=%s threads=%u socket=%s", cfg->engine, cfg->threads,
             cfg->socket_path);
    int sig = wait_for_stop(signals);
    log_info("signal %s: finishing requests in flight", strsignal(sig));
    fcgi_server_stop(srv, SHUTDOWN_GRACE_MS);
    return 0;
}

int
main(int argc, char **argv)
{
    struct config cfg;
    int rc = parse_args(argc, argv, &cfg);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    /* Before any thread exists: every thread inherits the mask. A client
     * that hangs up must give EPIPE on write, not kill the worker. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct store *st = NULL;
    if (open_store(&cfg, &st) != ST_OK)
        return 1;
    int fd = inherited_socket();
    bool own_socket = fd < 0;
    if (own_socket)
        fd = listen_unix(cfg.socket_path);
    if (fd < 0 || (cfg.pid_file && !write_pid_file(cfg.pid_file))) {
        store_close(st, NULL);
        return 1;
    }
    rc = serve(&cfg, st, fd, &signals);

    struct st_error err = {0};
    if (store_close(st, &err) != ST_OK) {
        log_error("closing the store: %s", err.msg);
        rc = 1;
    }
    close(fd);
    if (own_socket)
        unlink(cfg.socket_path);
    if (cfg.pid_file)
        unlink(cfg.pid_file);
    log_info("stopped");
    return rc;
}
