/*
 * stratad: the strata worker. It reads its options (src/options.c),
 * takes the data directory's lock, opens the engine, listens on a
 * private unix socket for nginx's FastCGI requests, serves them from a
 * pool of threads, and on SIGTERM/SIGINT finishes what is in flight and
 * closes the engine cleanly. SIGHUP reopens the log file (logrotate).
 * Under systemd (Type=notify) it says READY=1 once the threads serve,
 * STOPPING=1 when told to stop, and what it is doing in STATUS=.
 *
 * Signals are blocked in every thread and taken by sigwait() in main,
 * because libfcgi's own SIGTERM handler only sets a flag and leaves
 * threads asleep (PITFALLS.md).
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "api/fcgi_loop.h"
#include "options.h"
#include "store.h"
#include "util/log.h"

enum {
    SHUTDOWN_GRACE_MS = 10000,
    LISTEN_BACKLOG = 1024,
};

/* Tells systemd (when NOTIFY_SOCKET is set; else nothing) how we are:
 * sd_notify(3) state lines such as "READY=1" and "STATUS=...". */
static void notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
notify(const char *fmt, ...)
{
    char state[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(state, sizeof state, fmt, ap);
    va_end(ap);
    int rc = sd_notify(0, state);
    if (rc < 0)
        log_warn("systemd: cannot notify error=%s", strerror(-rc));
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

/* The id of group 'name' (getgrnam_r, growing its buffer as needed). */
static bool
lookup_group(const char *name, gid_t *gid)
{
    size_t cap = 1024;
    for (;;) {
        char *buf = malloc(cap);
        if (buf == NULL) {
            log_error("cannot look up the socket group group=%s "
                      "error=out of memory",
                      name);
            return false;
        }
        struct group gr, *found = NULL;
        int rc = getgrnam_r(name, &gr, buf, cap, &found);
        if (found != NULL)
            *gid = gr.gr_gid;
        free(buf);
        if (rc == ERANGE && cap < (1u << 20)) {
            cap *= 2;
            continue;
        }
        if (found != NULL)
            return true;
        if (rc == 0)
            log_error("no such socket group group=%s", name);
        else
            log_error("cannot look up the socket group group=%s error=%s", name,
                      strerror(rc));
        return false;
    }
}

/* Gives the socket file to group 'name', owner unchanged: chown(2)
 * needs root, or an owner who is a member of that group. */
static bool
give_socket_to_group(const char *path, const char *name)
{
    gid_t gid;
    if (!lookup_group(name, &gid))
        return false;
    if (chown(path, (uid_t)-1, gid) != 0) {
        int e = errno;
        log_error("cannot give the socket to its group socket=%s group=%s "
                  "error=%s%s",
                  path, name, strerror(e),
                  e == EPERM ? " (stratad must run as root or as a member "
                               "of that group)"
                             : "");
        return false;
    }
    return true;
}

/* Binds 'fd' to 'addr' with mode 0660 and hands the file to 'group'
 * (when not NULL) before it listens, so that no connection is taken
 * under the wrong group. */
static bool
bind_socket(int fd, const struct sockaddr_un *addr, const char *group)
{
    /* The umask makes the socket 0660 from birth: no window in which
     * others could connect and speak raw FastCGI. */
    mode_t old = umask(0117);
    int rc = bind(fd, (const struct sockaddr *)addr, sizeof *addr);
    int e = errno;
    umask(old);
    if (rc != 0) {
        log_error("cannot bind the socket socket=%s error=%s", addr->sun_path,
                  strerror(e));
        return false;
    }
    if (group != NULL && !give_socket_to_group(addr->sun_path, group)) {
        unlink(addr->sun_path);
        return false;
    }
    if (listen(fd, LISTEN_BACKLOG) != 0) {
        log_error("cannot listen socket=%s error=%s", addr->sun_path,
                  strerror(errno));
        unlink(addr->sun_path);
        return false;
    }
    return true;
}

/* Creates the listening socket ourselves (not FCGX_OpenSocket, which
 * unlinks a live worker's socket and exits on errors). -1 on failure. */
static int
listen_unix(const char *path, const char *group)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        log_error("socket path too long socket=%s max_bytes=%zu", path,
                  sizeof addr.sun_path - 1);
        return -1;
    }
    strcpy(addr.sun_path, path);
    if (socket_in_use(&addr)) {
        log_error("socket in use by another process socket=%s", path);
        return -1;
    }
    unlink(path); /* a stale socket from a crash */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error("cannot create a socket error=%s", strerror(errno));
        return -1;
    }
    if (!bind_socket(fd, &addr, group)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The listening socket: systemd's, or our own. -1 on failure. */
static int
open_listener(const struct stratad_options *o, bool *own)
{
    int fd = inherited_socket();
    *own = fd < 0;
    if (fd >= 0) {
        if (o->socket_group != NULL)
            log_warn("socket group ignored: the socket comes from systemd "
                     "group=%s",
                     o->socket_group);
        return fd;
    }
    return listen_unix(o->socket_path, o->socket_group);
}

static bool
write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 ||
        fclose(f) != 0) {
        log_error("cannot write the pid file file=%s error=%s", path,
                  strerror(errno));
        return false;
    }
    return true;
}

/* SIGHUP: logrotate has renamed the log file; write to a new one. */
static void
reopen_log(void)
{
    struct st_error err = {0};
    if (!log_to_file())
        log_info("SIGHUP: nothing to reopen, logs go to stderr");
    else if (log_reopen(&err) != ST_OK)
        log_error("cannot reopen the log file, still writing to the old one "
                  "error=%s",
                  err.msg);
    else
        log_info("log file reopened on SIGHUP");
}

/* Blocks until SIGTERM or SIGINT, reopening the log on SIGHUP. */
static int
wait_for_stop(const sigset_t *set)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            return sig;
        reopen_log();
    }
}

static st_status
open_store(const struct stratad_options *o, struct store **st)
{
    struct st_error err = {0};
    log_info("opening the store engine=%s dir=%s/%s", o->engine, o->data_dir,
             o->engine);
    notify("STATUS=opening the %s engine in %s/%s", o->engine, o->data_dir,
           o->engine);
    st_status s = store_open(o->engine, o->data_dir, &o->engine_opt, &o->limits,
                             st, &err);
    if (s != ST_OK)
        log_error("cannot open the store error=%s", err.msg);
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
serve(const struct stratad_options *o, struct store *st, int listen_fd,
      const sigset_t *signals)
{
    struct fcgi_server_config fc = {listen_fd, o->threads,
                                    body_limit(&o->limits), st};
    struct fcgi_server *srv = NULL;
    struct st_error err = {0};
    if (fcgi_server_start(&fc, &srv, &err) != ST_OK) {
        log_error("cannot start the request threads error=%s", err.msg);
        return 1;
    }
    log_info("ready engine=%s threads=%u socket=%s", o->engine, o->threads,
             o->socket_path);
    notify("READY=1\nSTATUS=serving the %s engine with %u threads", o->engine,
           o->threads);
    int sig = wait_for_stop(signals);
    notify("STOPPING=1\nSTATUS=stopping: finishing the requests in flight");
    log_info("stopping, finishing the requests in flight signal=SIG%s",
             sigabbrev_np(sig));
    fcgi_server_stop(srv, SHUTDOWN_GRACE_MS);
    return 0;
}

/* Level, destination and form of the log lines; false when the log file
 * cannot be opened. */
static bool
setup_logging(const struct stratad_options *o)
{
    log_set_level(o->log_level);
    log_detect_journal();
    struct st_error err = {0};
    if (o->log_file != NULL && log_open_file(o->log_file, &err) != ST_OK) {
        log_error("cannot open the log file error=%s", err.msg);
        return false;
    }
    return true;
}

/* Everything after the options; returns the exit status. */
static int
run(const struct stratad_options *o)
{
    if (!setup_logging(o))
        return 1;

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
    if (open_store(o, &st) != ST_OK)
        return 1;
    bool own_socket;
    int fd = open_listener(o, &own_socket);
    if (fd < 0 || (o->pid_file && !write_pid_file(o->pid_file))) {
        if (fd >= 0 && own_socket) {
            close(fd);
            unlink(o->socket_path);
        }
        store_close(st, NULL);
        return 1;
    }
    int rc = serve(o, st, fd, &signals);

    struct st_error err = {0};
    if (store_close(st, &err) != ST_OK) {
        log_error("cannot close the store error=%s", err.msg);
        rc = 1;
    }
    close(fd);
    if (own_socket)
        unlink(o->socket_path);
    if (o->pid_file)
        unlink(o->pid_file);
    log_info("stopped");
    return rc;
}

int
main(int argc, char **argv)
{
    struct stratad_options o;
    int rc = options_parse(&o, argc, argv);
    if (rc == 0)
        rc = run(&o);
    else if (rc == OPTIONS_EXIT_OK)
        rc = 0;
    log_close();
    options_deinit(&o);
    return rc;
}
