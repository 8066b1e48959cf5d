/*
 * Simulated power loss for the crash tests (docs/crash-testing.md;
 * SQLite's crash VFS, test6.c, is the model). PITFALLS.md, "Testing
 * durability": at a crash point, drop, cut or garble every write since
 * the file's last sync, and undo directory changes since the
 * directory's last sync.
 *
 * The model, in the words of the doc:
 *
 *   file  = (synced_len, undo list)   per path; follows renames
 *           synced_len: the size at the last fsync (or when first seen)
 *           undo: synced bytes a later write or truncate replaced
 *   dir   = list of CREATE / RENAME / UNLINK since its last fsync,
 *           each with what is needed to undo it (an unlinked or
 *           replaced file's bytes are copied into memory)
 *
 * Writes go through to the real file at once; only io_crash_simulate()
 * rewrites the disk. For each directory it undoes none, all, a suffix
 * (a journal that commits in order) or any subset (metadata written in
 * any order) of the unsynced entry changes, newest first, never keeping
 * a change whose earlier change of the same name was undone; then for each
 * file that still has a name it drops, keeps, cuts or garbles what was
 * written since its last fsync. A file's fsync makes its bytes and size
 * durable, never its name; only the directory's fsync does that.
 *
 * Limits: directories created while tracking are not modelled (create
 * them before enabling); a rename between directories counts in the
 * target's directory only; an fd opened before io_crash_enable() is not
 * tracked (its writes count as durable).
 */
#include "util/io_crash.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/io.h"

enum {
    BIT_TRACK = 1u,   /* files and directories are tracked */
    BIT_ARMED = 2u,   /* a crash point is set */
    BIT_CRASHED = 4u, /* ... and was reached: every call fails */
};

atomic_uint io_crash_bits;
static atomic_uint_fast64_t calls;    /* counted calls so far */
static atomic_uint_fast64_t crash_at; /* the counted call that crashes */

/* Synced bytes that a write or truncate replaced, newest first. */
struct undo {
    struct undo *next;
    uint64_t off;
    size_t len;
    uint8_t bytes[];
};

/* One file. Nodes live until the next reset, also after an unlink: an
 * undone unlink brings the name back. */
struct node {
    struct node *next; /* every node */
    char *path;        /* the current name; NULL when it has none */
    uint64_t synced_len;
    struct undo *undo;
};

enum dop { DOP_CREATE, DOP_RENAME, DOP_UNLINK };

/* A directory change not yet made durable by a directory fsync. */
struct dirop {
    enum dop type;
    char *dir;
    char *name;        /* CREATE, UNLINK: the path; RENAME: from */
    char *to;          /* RENAME */
    struct node *node; /* the file created, renamed or unlinked */
    struct node *gone; /* RENAME: the file 'to' replaced, or NULL */
    uint8_t *bytes;    /* UNLINK: the file; RENAME: the replaced file */
    size_t len;
};

/* Everything below is guarded by 'mu'. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct node *nodes;
static struct node **fdtab; /* fd -> node of a file opened while tracking */
static size_t fdcap;
static struct dirop **ops; /* in the order they happened */
static size_t nops, opscap;

/* --- small helpers --- */

static char *
dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    size_t n = (size_t)(slash - path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    return strndup(path, n == 0 ? 1 : n);
}

static bool
same_dir(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (lb > 1 && b[lb - 1] == '/')
        lb--;
    return la == lb && memcmp(a, b, la) == 0;
}

static void
set_path(struct node *n, const char *path)
{
    free(n->path);
    n->path = path != NULL ? strdup(path) : NULL;
}

static void
free_undo(struct node *n)
{
    while (n->undo != NULL) {
        struct undo *u = n->undo;
        n->undo = u->next;
        free(u);
    }
}

static struct node *
lookup(const char *path)
{
    for (struct node *n = nodes; n != NULL; n = n->next)
        if (n->path != NULL && strcmp(n->path, path) == 0)
            return n;
    return NULL;
}

static struct node *
new_node(const char *path, uint64_t synced_len)
{
    struct node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    set_path(n, path);
    n->synced_len = synced_len;
    n->next = nodes;
    nodes = n;
    return n;
}

/* The node of an existing file, made on first sight: what is on disk
 * before the model saw it counts as durable. */
static struct node *
node_of_existing(const char *path)
{
    struct node *n = lookup(path);
    struct stat st;
    if (n == NULL && stat(path, &st) == 0)
        n = new_node(path, (uint64_t)st.st_size);
    return n;
}

static struct node *
fd_node(int fd)
{
    return fd >= 0 && (size_t)fd < fdcap ? fdtab[fd] : NULL;
}

static void
set_fd_node(int fd, struct node *n)
{
    if (fd < 0)
        return;
    if ((size_t)fd >= fdcap) {
        if (n == NULL)
            return;
        size_t cap = fdcap ? fdcap : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        struct node **p = realloc(fdtab, cap * sizeof *p);
        if (p == NULL)
            return; /* the fd goes untracked */
        memset(p + fdcap, 0, (cap - fdcap) * sizeof *p);
        fdtab = p;
        fdcap = cap;
    }
    fdtab[fd] = n;
}

/* The whole file, in a buffer the caller frees (NULL when unreadable). */
static uint8_t *
read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    if (fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size + 1)))
        while (got < (size_t)st.st_size) {
            ssize_t r =
                pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
            if (r <= 0 && !(r < 0 && errno == EINTR))
                break;
            if (r > 0)
                got += (size_t)r;
        }
    close(fd);
    *len = got;
    return buf;
}

/* Remembers the synced bytes [off, off + len) of 'n' before a change. */
static void
save_undo(struct node *n, uint64_t off, uint64_t len)
{
    if (n->path == NULL || len == 0)
        return;
    struct undo *u = malloc(sizeof *u + (size_t)len);
    int fd = open(n->path, O_RDONLY | O_CLOEXEC);
    ssize_t got = -1;
    if (u != NULL && fd >= 0)
        got = pread(fd, u->bytes, (size_t)len, (off_t)off);
    if (fd >= 0)
        close(fd);
    if (u == NULL || got < 0) {
        free(u);
        return;
    }
    u->off = off;
    u->len = (size_t)got;
    u->next = n->undo;
    n->undo = u;
}

/* Where a write on 'fd' lands: the end with O_APPEND, else the position. */
static uint64_t
write_offset(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    struct stat st;
    if (fl >= 0 && (fl & O_APPEND) && fstat(fd, &st) == 0)
        return (uint64_t)st.st_size;
    off_t pos = lseek(fd, 0, SEEK_CUR);
    return pos < 0 ? 0 : (uint64_t)pos;
}

static void
free_dirop(struct dirop *op)
{
    if (op == NULL)
        return;
    free(op->dir);
    free(op->name);
    free(op->to);
    free(op->bytes);
    free(op);
}

static void
push_dirop(struct dirop *op)
{
    if (nops == opscap) {
        size_t cap = opscap ? opscap * 2 : 64;
        struct dirop **p = realloc(ops, cap * sizeof *p);
        if (p == NULL) {
            free_dirop(op); /* the change counts as durable */
            return;
        }
        ops = p;
        opscap = cap;
    }
    ops[nops++] = op;
}

static struct dirop *
new_dirop(enum dop type, const char *name, const char *to)
{
    struct dirop *op = calloc(1, sizeof *op);
    if (op == NULL)
        return NULL;
    op->type = type;
    op->name = strdup(name);
    op->to = to != NULL ? strdup(to) : NULL;
    op->dir = dir_of(to != NULL ? to : name);
    if (op->name == NULL || op->dir == NULL || (to != NULL && !op->to)) {
        free_dirop(op);
        return NULL;
    }
    return op;
}

/* Forgets everything: what is on disk now counts as durable. */
static void
reset_locked(void)
{
    while (nodes != NULL) {
        struct node *n = nodes;
        nodes = n->next;
        free_undo(n);
        free(n->path);
        free(n);
    }
    for (size_t i = 0; i < nops; i++)
        free_dirop(ops[i]);
    free(ops);
    ops = NULL;
    nops = opscap = 0;
    free(fdtab);
    fdtab = NULL;
    fdcap = 0;
}

/* --- the hooks of io.c --- */

static void
before(struct io_crash_call *c)
{
    struct stat st;
    struct node *n;
    switch (c->kind) {
    case IO_CRASH_CALL_OPEN:
        c->existed = stat(c->path, &st) == 0;
        n = c->existed ? node_of_existing(c->path) : NULL;
        if (n != NULL && (c->flags & O_TRUNC))
            save_undo(n, 0, n->synced_len);
        break;
    case IO_CRASH_CALL_WRITE:
        n = fd_node(c->fd);
        if (n != NULL) {
            uint64_t off = write_offset(c->fd);
            if (off < n->synced_len) {
                uint64_t room = n->synced_len - off;
                save_undo(n, off, c->len < room ? c->len : room);
            }
        }
        break;
    case IO_CRASH_CALL_TRUNCATE:
        n = fd_node(c->fd);
        if (n != NULL && c->len < n->synced_len)
            save_undo(n, c->len, n->synced_len - c->len);
        break;
    case IO_CRASH_CALL_RENAME: {
        struct dirop *op = new_dirop(DOP_RENAME, c->path, c->to);
        if (op == NULL)
            break;
        op->node = node_of_existing(c->path);
        if (stat(c->to, &st) == 0) {
            op->gone = node_of_existing(c->to);
            op->bytes = read_all(c->to, &op->len);
        }
        c->saved = op;
        break;
    }
    case IO_CRASH_CALL_UNLINK:
        if (stat(c->path, &st) == 0) {
            struct dirop *op = new_dirop(DOP_UNLINK, c->path, NULL);
            if (op == NULL)
                break;
            op->node = node_of_existing(c->path);
            op->bytes = read_all(c->path, &op->len);
            c->saved = op;
        }
        break;
    default:
        break;
    }
}

static void
after_open(struct io_crash_call *c, int fd)
{
    struct node *n;
    if (!c->existed && (c->flags & O_CREAT)) {
        n = new_node(c->path, 0);
        struct dirop *op = new_dirop(DOP_CREATE, c->path, NULL);
        if (op != NULL) {
            op->node = n;
            push_dirop(op);
        }
    } else {
        n = node_of_existing(c->path);
    }
    set_fd_node(fd, n);
}

/* A directory fsync makes every change of that directory durable. */
static void
dir_synced(const char *dir)
{
    size_t kept = 0;
    for (size_t i = 0; i < nops; i++) {
        if (same_dir(ops[i]->dir, dir))
            free_dirop(ops[i]);
        else
            ops[kept++] = ops[i];
    }
    nops = kept;
}

static void
after(struct io_crash_call *c, int fd)
{
    struct node *n;
    struct stat st;
    struct dirop *op = c->saved;
    c->saved = NULL;
    switch (c->kind) {
    case IO_CRASH_CALL_OPEN:
        after_open(c, fd);
        break;
    case IO_CRASH_CALL_FSYNC:
        n = fd_node(c->fd);
        if (n != NULL && fstat(c->fd, &st) == 0) {
            n->synced_len = (uint64_t)st.st_size;
            free_undo(n);
        }
        break;
    case IO_CRASH_CALL_FSYNC_DIR:
        dir_synced(c->path);
        break;
    case IO_CRASH_CALL_RENAME:
        if (op == NULL)
            break; /* no memory to model it: the rename counts as durable */
        if (op->gone != NULL)
            set_path(op->gone, NULL);
        if (op->node != NULL)
            set_path(op->node, c->to);
        push_dirop(op);
        op = NULL;
        break;
    case IO_CRASH_CALL_UNLINK:
        if (op == NULL)
            break;
        if (op->node != NULL)
            set_path(op->node, NULL);
        push_dirop(op);
        op = NULL;
        break;
    default:
        break;
    }
    free_dirop(op);
}

int
io_crash_enter(struct io_crash_call *c)
{
    c->entered = false;
    c->saved = NULL;
    unsigned bits = atomic_load(&io_crash_bits);
    /* A close always closes: the fd must not leak, crash or not. */
    if (c->kind != IO_CRASH_CALL_CLOSE) {
        uint64_t n = atomic_fetch_add(&calls, 1) + 1;
        if (bits & BIT_CRASHED)
            return EIO;
        if ((bits & BIT_ARMED) && n >= atomic_load(&crash_at)) {
            atomic_fetch_or(&io_crash_bits, BIT_CRASHED);
            return EIO;
        }
    }
    if (!(bits & BIT_TRACK) || c->kind == IO_CRASH_CALL_OTHER)
        return 0;
    pthread_mutex_lock(&mu);
    c->entered = true;
    before(c);
    return 0;
}

void
io_crash_leave(struct io_crash_call *c, bool ok, int fd)
{
    if (!c->entered)
        return;
    if (c->kind == IO_CRASH_CALL_CLOSE)
        set_fd_node(c->fd, NULL); /* closed even when close() failed */
    else if (ok)
        after(c, fd);
    free_dirop(c->saved);
    c->saved = NULL;
    c->entered = false;
    pthread_mutex_unlock(&mu);
}

/* --- the public switches (io.h) --- */

void
io_crash_enable(void)
{
    pthread_mutex_lock(&mu);
    reset_locked();
    atomic_fetch_or(&io_crash_bits, BIT_TRACK);
    pthread_mutex_unlock(&mu);
}

void
io_crash_disable(void)
{
    pthread_mutex_lock(&mu);
    atomic_store(&io_crash_bits, 0);
    reset_locked();
    pthread_mutex_unlock(&mu);
}

void
io_crash_arm(uint64_t n)
{
    if (n == 0) {
        io_crash_disarm();
        return;
    }
    atomic_store(&crash_at, atomic_load(&calls) + n);
    atomic_fetch_and(&io_crash_bits, ~BIT_CRASHED);
    atomic_fetch_or(&io_crash_bits, BIT_ARMED);
}

void
io_crash_disarm(void)
{
    atomic_fetch_and(&io_crash_bits, ~(BIT_ARMED | BIT_CRASHED));
}

bool
io_crash_happened(void)
{
    return (atomic_load(&io_crash_bits) & BIT_CRASHED) != 0;
}

uint64_t
io_crash_calls(void)
{
    return atomic_load(&calls);
}

const char *
io_crash_mode_str(enum io_crash_mode mode)
{
    static const char *const names[] = {"drop", "keep", "torn", "garble",
                                        "random"};
    return (unsigned)mode < IO_CRASH_MODE_COUNT_ ? names[mode] : "?";
}

/* --- the power loss --- */

/* splitmix64: the simulation is a function of its seed. */
static uint64_t
next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
below(uint64_t *s, uint64_t n)
{
    return n == 0 ? 0 : next_rand(s) % n;
}

static enum io_crash_mode
pick(uint64_t *s, enum io_crash_mode mode)
{
    return mode == IO_CRASH_RANDOM ? (enum io_crash_mode)below(s, 4) : mode;
}

static st_status
write_file(const char *path, const uint8_t *bytes, size_t len,
           struct st_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0)
        return st_error_set(err, ST_IO, errno, "crash model: create %s", path);
    ssize_t w = len > 0 ? pwrite(fd, bytes, len, 0) : 0;
    int e = errno;
    close(fd);
    if (w < 0 || (size_t)w != len)
        return st_error_set(err, ST_IO, w < 0 ? e : EIO,
                            "crash model: write %s", path);
    return ST_OK;
}

static st_status
undo_dirop(struct dirop *op, struct st_error *err)
{
    switch (op->type) {
    case DOP_CREATE:
        if (unlink(op->name) != 0 && errno != ENOENT)
            return st_error_set(err, ST_IO, errno, "crash model: unlink %s",
                                op->name);
        if (op->node != NULL && op->node->path != NULL &&
            strcmp(op->node->path, op->name) == 0)
            set_path(op->node, NULL);
        return ST_OK;
    case DOP_RENAME:
        if (rename(op->to, op->name) != 0)
            return st_error_set(err, ST_IO, errno,
                                "crash model: rename %s back to %s", op->to,
                                op->name);
        if (op->node != NULL)
            set_path(op->node, op->name);
        if (op->gone == NULL)
            return ST_OK;
        set_path(op->gone, op->to);
        return write_file(op->to, op->bytes, op->len, err);
    case DOP_UNLINK:
        if (op->node != NULL)
            set_path(op->node, op->name);
        return write_file(op->name, op->bytes, op->len, err);
    }
    return ST_OK;
}

/* Whether two directory changes touch a common name. */
static bool
related(const struct dirop *a, const struct dirop *b)
{
    const char *na[2] = {a->name, a->to}, *nb[2] = {b->name, b->to};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (na[i] != NULL && nb[j] != NULL && strcmp(na[i], nb[j]) == 0)
                return true;
    return false;
}

/* Decides which unsynced changes of the directory of ops[first] are
 * undone: none (KEEP), all (DROP), a suffix (TORN: the journal kept a
 * prefix, in order), or any subset (GARBLE: the file system wrote its
 * metadata in any order). Either way a change is undone whenever an
 * earlier change of one of its names is, so the names stay consistent
 * (a rename of a file whose create was lost is lost too). */
static void
choose_undone(size_t first, uint64_t *rng, enum io_crash_mode mode,
              bool *undone)
{
    enum io_crash_mode m = pick(rng, mode);
    size_t count = 0;
    for (size_t i = first; i < nops; i++)
        count += same_dir(ops[i]->dir, ops[first]->dir);
    size_t keep = (size_t)below(rng, count + 1), seen = 0;
    for (size_t i = first; i < nops; i++) {
        if (!same_dir(ops[i]->dir, ops[first]->dir))
            continue;
        bool u = m == IO_CRASH_DROP   ? true
                 : m == IO_CRASH_KEEP ? false
                 : m == IO_CRASH_TORN ? seen >= keep
                                      : below(rng, 2) == 0;
        for (size_t j = first; j < i && !u; j++)
            u = undone[j] && same_dir(ops[j]->dir, ops[i]->dir) &&
                related(ops[j], ops[i]);
        undone[i] = u;
        seen++;
    }
}

/* Undoes the unsynced directory changes chosen per directory, newest
 * first, so each undo finds the names as that change left them. */
static st_status
settle_dirs(uint64_t *rng, enum io_crash_mode mode, struct io_crash_report *rep,
            struct st_error *err)
{
    bool *undone = calloc(nops + 1, sizeof *undone);
    if (undone == NULL)
        return st_error_set(err, ST_NOMEM, 0, "crash model: no memory");
    for (size_t i = 0; i < nops; i++) {
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = !same_dir(ops[j]->dir, ops[i]->dir);
        if (first)
            choose_undone(i, rng, mode, undone);
    }
    st_status s = ST_OK;
    for (size_t i = nops; i-- > 0;) {
        if (!undone[i]) {
            rep->dir_ops_kept++;
            continue;
        }
        rep->dir_ops_undone++;
        st_status r = undo_dirop(ops[i], err);
        if (s == ST_OK)
            s = r;
    }
    free(undone);
    return s;
}

/* Brings back the file as it was at its last fsync. */
static st_status
restore_synced(struct node *n, struct st_error *err)
{
    if (truncate(n->path, (off_t)n->synced_len) != 0)
        return st_error_set(err, ST_IO, errno, "crash model: truncate %s",
                            n->path);
    if (n->undo == NULL)
        return ST_OK;
    int fd = open(n->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return st_error_set(err, ST_IO, errno, "crash model: open %s", n->path);
    st_status s = ST_OK;
    /* Newest first, so the oldest saved bytes, the synced ones, win. */
    for (struct undo *u = n->undo; u != NULL && s == ST_OK; u = u->next)
        if (pwrite(fd, u->bytes, u->len, (off_t)u->off) != (ssize_t)u->len)
            s = st_error_set(err, ST_IO, errno, "crash model: write %s",
                             n->path);
    close(fd);
    return s;
}

/* Junk (or, one time in three, zeros) over [from, to) of the file. */
static st_status
garble(struct node *n, uint64_t *rng, uint64_t from, uint64_t to,
       struct st_error *err)
{
    int fd = open(n->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return st_error_set(err, ST_IO, errno, "crash model: open %s", n->path);
    bool zeros = below(rng, 3) == 0;
    uint8_t buf[4096];
    st_status s = ST_OK;
    for (uint64_t off = from; off < to && s == ST_OK;) {
        size_t len = to - off < sizeof buf ? (size_t)(to - off) : sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = zeros ? 0 : (uint8_t)next_rand(rng);
        if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
            s = st_error_set(err, ST_IO, errno, "crash model: write %s",
                             n->path);
        off += len;
    }
    close(fd);
    return s;
}

static st_status
settle_file(struct node *n, uint64_t *rng, enum io_crash_mode mode,
            struct io_crash_report *rep, struct st_error *err)
{
    struct stat st;
    if (n->path == NULL || stat(n->path, &st) != 0)
        return ST_OK;
    uint64_t cur = (uint64_t)st.st_size, synced = n->synced_len;
    if (cur == synced && n->undo == NULL)
        return ST_OK; /* nothing unsynced */
    enum io_crash_mode m = pick(rng, mode);
    if (cur < synced && n->undo == NULL)
        m = IO_CRASH_KEEP; /* the cut bytes could not be saved */
    /* Synced bytes were overwritten or cut: there is no tail to cut or
     * garble, so the change either reached the disk or did not. */
    if (n->undo != NULL && (m == IO_CRASH_TORN || m == IO_CRASH_GARBLE))
        m = below(rng, 2) ? IO_CRASH_DROP : IO_CRASH_KEEP;
    switch (m) {
    case IO_CRASH_DROP:
        rep->files_dropped++;
        return restore_synced(n, err);
    case IO_CRASH_TORN:
        rep->files_torn++;
        if (truncate(n->path, (off_t)(synced + below(rng, cur - synced + 1))))
            return st_error_set(err, ST_IO, errno, "crash model: truncate %s",
                                n->path);
        return ST_OK;
    case IO_CRASH_GARBLE:
        rep->files_garbled++;
        return garble(n, rng, synced + below(rng, cur - synced), cur, err);
    default:
        rep->files_kept++;
        return ST_OK;
    }
}

st_status
io_crash_simulate(uint64_t seed, enum io_crash_mode mode,
                  struct io_crash_report *rep, struct st_error *err)
{
    struct io_crash_report local;
    if (rep == NULL)
        rep = &local;
    memset(rep, 0, sizeof *rep);
    uint64_t rng = seed;
    pthread_mutex_lock(&mu);
    st_status s = settle_dirs(&rng, mode, rep, err);
    for (struct node *n = nodes; n != NULL; n = n->next) {
        st_status r = settle_file(n, &rng, mode, rep, err);
        if (s == ST_OK)
            s = r;
    }
    reset_locked();
    pthread_mutex_unlock(&mu);
    return s;
}
