/*
 * Tests for util/log.c: level names, the level filter, the logfmt line
 * (module, msg, fields, quoting, cutting, journald's form) written to
 * stderr (captured here by putting a temp file over fd 2), the log file
 * and its reopening for logrotate (also while threads log), journald
 * detection, and log_escape, which makes arbitrary key bytes safe to
 * print: escaped, cut, marked when cut, and always NUL-terminated.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "util/log.h"

/* --- stderr capture: no assertions between begin and end, or a failing
 * one would leave fd 2 pointing at the temp file. */

struct capture {
    FILE *file;
    int saved_fd;
};

static void
capture_begin(struct capture *c)
{
    fflush(stderr);
    c->file = tmpfile();
    assert_non_null(c->file);
    c->saved_fd = dup(STDERR_FILENO);
    assert_true(c->saved_fd >= 0);
    assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Restores stderr and returns what was written, NUL-terminated; the
 * caller frees it. */
static char *
capture_end(struct capture *c, size_t *len)
{
    fflush(stderr);
    int restored = dup2(c->saved_fd, STDERR_FILENO);
    close(c->saved_fd);
    assert_true(restored >= 0);

    assert_int_equal(fseek(c->file, 0, SEEK_END), 0);
    long size = ftell(c->file);
    assert_true(size >= 0);
    rewind(c->file);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, c->file), (size_t)size);
    buf[size] = '\0';
    fclose(c->file);
    *len = (size_t)size;
    return buf;
}

static int
restore_defaults(void **state)
{
    log_set_level(LOG_INFO);
    log_close();
    unsetenv("JOURNAL_STREAM");
    log_detect_journal();
    return 0;
}

static void
test_log_level_parse_knows_every_name(void **state)
{
    assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
    assert_int_equal(log_level_parse("info"), LOG_INFO);
    assert_int_equal(log_level_parse("warn"), LOG_WARN);
    assert_int_equal(log_level_parse("error"), LOG_ERROR);
    assert_int_equal(log_level_parse("off"), LOG_OFF);
}

static void
test_log_level_parse_rejects_unknown_names(void **state)
{
    assert_int_equal(log_level_parse("verbose"), -1);
    assert_int_equal(log_level_parse(""), -1);
    assert_int_equal(log_level_parse("warning"), -1);
    assert_int_equal(log_level_parse("inf"), -1);
    assert_int_equal(log_level_parse("debugx"), -1);
}

/* Checks "YYYY-MM-DDTHH:MM:SS.mmmZ " and returns what follows. */
static const char *
skip_timestamp(const char *line)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == 'd')
            assert_in_range(line[i], '0', '9');
        else
            assert_int_equal(line[i], shape[i]);
    }
    return line + sizeof shape - 1;
}

static void
test_log_msg_below_level_prints_nothing(void **state)
{
    struct capture c;
    size_t len;
    log_set_level(LOG_WARN);
    capture_begin(&c);
    log_debug("debug %d", 1);
    log_info("info %d", 2);
    char *out = capture_end(&c, &len);
    assert_int_equal(len, 0);
    free(out);
}

static void
test_log_msg_at_or_above_level_prints_one_line_each(void **state)
{
    struct capture c;
    size_t len;
    log_set_level(LOG_WARN);
    capture_begin(&c);
    log_warn("file: cut torn tail file=%s off=%d", "000003.log", 4096);
    char *out = capture_end(&c, &len);
    assert_int_equal(out[len - 1], '\n');
    assert_ptr_equal(strchr(out, '\n'), out + len - 1); /* one line */
    assert_string_equal(skip_timestamp(out),
                        "level=warn module=file msg=\"cut torn tail\" "
                        "file=000003.log off=4096\n");
    free(out);

    capture_begin(&c);
    log_error("boom");
    out = capture_end(&c, &len);
    assert_string_equal(skip_timestamp(out), "level=error msg=boom\n");
    free(out);
}

static void
test_log_msg_debug_level_prints_every_level(void **state)
{
    struct capture c;
    size_t len;
    log_set_level(LOG_DEBUG);
    capture_begin(&c);
    log_debug("a");
    log_info("b");
    log_warn("c");
    log_error("d");
    char *out = capture_end(&c, &len);

    const char *p = out;
    static const char *const expect[] = {
        "level=debug msg=a\n", "level=info msg=b\n", "level=warn msg=c\n",
        "level=error msg=d\n"};
    for (int i = 0; i < 4; i++) {
        const char *rest = skip_timestamp(p);
        size_t n = strlen(expect[i]);
        assert_memory_equal(rest, expect[i], n);
        p = rest + n;
    }
    assert_int_equal(*p, '\0');
    free(out);
}

static void
test_log_msg_level_off_prints_nothing(void **state)
{
    struct capture c;
    size_t len;
    log_set_level(LOG_OFF);
    capture_begin(&c);
    log_error("not shown");
    char *out = capture_end(&c, &len);
    assert_int_equal(len, 0);
    free(out);

    /* LOG_OFF is not a level to log at, whatever the filter. */
    log_set_level(LOG_DEBUG);
    capture_begin(&c);
    log_msg(LOG_OFF, "not shown either");
    out = capture_end(&c, &len);
    assert_int_equal(len, 0);
    free(out);
}

/* The line after its timestamp, as log_msg would write it. */
static const char *
format(enum log_level level, const char *text)
{
    static char line[LOG_LINE_MAX + 1];
    size_t n = log_format_line(line, level, false, text);
    assert_in_range(n, 1, LOG_LINE_MAX);
    line[n] = '\0';
    return skip_timestamp(line);
}

static void
test_log_format_splits_module_message_and_fields(void **state)
{
    /* Plain message, no module, no fields. */
    assert_string_equal(format(LOG_INFO, "stopped"),
                        "level=info msg=stopped\n");
    /* Fields only. */
    assert_string_equal(format(LOG_INFO, "a=1 b=2"), "level=info a=1 b=2\n");
    /* A value runs to the next " key=", blanks and colons included,
     * and is quoted because of them. */
    assert_string_equal(
        format(LOG_ERROR, "lsm: flush failed error=write 000007.sst: No "
                          "space left on device table=7"),
        "level=error module=lsm msg=\"flush failed\" error=\"write "
        "000007.sst: No space left on device\" table=7\n");
    /* Not a module: upper case, or no blank after the colon. */
    assert_string_equal(format(LOG_INFO, "Engine: x"),
                        "level=info msg=\"Engine: x\"\n");
    assert_string_equal(format(LOG_INFO, "a:b c"),
                        "level=info msg=\"a:b c\"\n");
    /* Not a field: upper case, or no blank before it. */
    assert_string_equal(format(LOG_INFO, "X=1 y+z=2"),
                        "level=info msg=\"X=1 y+z=2\"\n");
    /* Trailing blanks and newlines are not part of the last value. */
    assert_string_equal(format(LOG_INFO, "m  k=v  \n"),
                        "level=info msg=m k=v\n");
}

static void
test_log_format_quotes_and_escapes_values(void **state)
{
    assert_string_equal(format(LOG_INFO, "m k="), "level=info msg=m k=\"\"\n");
    assert_string_equal(format(LOG_INFO, "m k=say \"hi\""),
                        "level=info msg=m k=\"say \\\"hi\\\"\"\n");
    assert_string_equal(format(LOG_INFO, "m k=a=b"),
                        "level=info msg=m k=\"a=b\"\n");
    assert_string_equal(format(LOG_INFO, "m k=tab\there\x01"),
                        "level=info msg=m k=\"tab\\there\\x01\"\n");
    assert_string_equal(format(LOG_INFO, "m k=a\\b c"),
                        "level=info msg=m k=\"a\\\\b c\"\n");
    /* A backslash alone needs no quotes: log_escape'd keys stay short. */
    assert_string_equal(format(LOG_INFO, "m key=a\\x00b"),
                        "level=info msg=m key=a\\x00b\n");
    /* UTF-8 passes through. */
    assert_string_equal(format(LOG_INFO, "m k=\xc3\xa9t\xc3\xa9"),
                        "level=info msg=m k=\xc3\xa9t\xc3\xa9\n");
}

static void
test_log_format_journal_form_has_priority_and_no_timestamp(void **state)
{
    static const struct {
        enum log_level level;
        const char *line;
    } cases[] = {
        {LOG_DEBUG, "<7>level=debug msg=x\n"},
        {LOG_INFO, "<6>level=info msg=x\n"},
        {LOG_WARN, "<4>level=warn msg=x\n"},
        {LOG_ERROR, "<3>level=error msg=x\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[LOG_LINE_MAX + 1];
        size_t n = log_format_line(line, cases[i].level, true, "x");
        line[n] = '\0';
        assert_string_equal(line, cases[i].line);
    }
}

static void
test_log_msg_cuts_long_line_and_keeps_newline(void **state)
{
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';

    struct capture c;
    size_t len;
    log_set_level(LOG_INFO);
    capture_begin(&c);
    log_info("%s", big);
    log_info("m k=%s", big + 1000);   /* cut inside a value */
    log_info("m k=\"%s", big + 1000); /* cut inside a quoted value */
    char *out = capture_end(&c, &len);

    char *line = out;
    static const char *const starts[] = {"level=info msg=xxxx",
                                         "level=info msg=m k=xxxx",
                                         "level=info msg=m k=\"\\\"xxxx"};
    static const char *const ends[] = {"xx...\n", "xx...\n", "xx...\"\n"};
    for (int i = 0; i < 3; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        size_t n = (size_t)(nl - line) + 1;
        assert_in_range(n, LOG_LINE_MAX - 8, LOG_LINE_MAX);
        const char *rest = skip_timestamp(line);
        assert_memory_equal(rest, starts[i], strlen(starts[i]));
        size_t e = strlen(ends[i]);
        assert_memory_equal(nl + 1 - e, ends[i], e);
        line = nl + 1;
    }
    assert_int_equal(*line, '\0');
    free(out);
}

/* --- the log file --------------------------------------------------- */

static char *
read_text(const char *path)
{
    size_t len;
    uint8_t *data = tu_read_file(path, &len);
    char *s = realloc(data, len + 1);
    assert_non_null(s);
    s[len] = '\0';
    return s;
}

static size_t
count_lines(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static void
test_log_open_file_appends_with_mode_0640(void **state)
{
    char *dir = tu_tmpdir_create();
    char *path = tu_path_join(dir, "stratad.log");
    tu_write_file(path, (const uint8_t *)"old line\n", 9);
    chmod(path, 0600);
    char *fresh = tu_path_join(dir, "fresh.log");

    mode_t old_mask = umask(022);
    struct st_error err = {0};
    assert_int_equal(log_open_file(fresh, &err), ST_OK);
    assert_true(log_to_file());
    log_warn("first k=1");
    struct stat st;
    assert_int_equal(stat(fresh, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);

    /* Switching to another file keeps what that file holds. */
    assert_int_equal(log_open_file(path, &err), ST_OK);
    log_warn("second k=2");
    log_close();
    umask(old_mask);
    assert_false(log_to_file());

    char *a = read_text(fresh), *b = read_text(path);
    assert_int_equal(count_lines(a), 1);
    tu_assert_contains(a, "level=warn msg=first k=1\n");
    assert_memory_equal(b, "old line\n", 9);
    assert_int_equal(count_lines(b), 2);
    tu_assert_contains(b, "level=warn msg=second k=2\n");
    free(a);
    free(b);
    free(fresh);
    free(path);
    tu_tmpdir_remove(dir);
}

static void
test_log_open_file_fails_with_the_path_and_changes_nothing(void **state)
{
    char *dir = tu_tmpdir_create();
    char *bad = tu_path_join(dir, "no/such/dir.log");
    struct st_error err = {0};
    assert_int_equal(log_open_file(bad, &err), ST_IO);
    assert_int_equal(err.code, ST_IO);
    tu_assert_contains(err.msg, bad);
    tu_assert_contains(err.msg, "No such file or directory");
    assert_false(log_to_file());

    /* Still on stderr. */
    struct capture c;
    size_t len;
    capture_begin(&c);
    log_info("still here");
    char *out = capture_end(&c, &len);
    assert_string_equal(skip_timestamp(out), "level=info msg=\"still here\"\n");
    free(out);
    free(bad);
    tu_tmpdir_remove(dir);
}

static void
test_log_file_is_close_on_exec_also_after_reopen(void **state)
{
    char *dir = tu_tmpdir_create();
    char *path = tu_path_join(dir, "a.log");
    struct st_error err = {0};
    assert_int_equal(log_open_file(path, &err), ST_OK);
    /* Find the descriptor: the one whose inode is the file's. */
    struct stat want;
    assert_int_equal(stat(path, &want), 0);
    int fd = -1;
    for (int i = 3; i < 1024 && fd < 0; i++) {
        struct stat st;
        if (fstat(i, &st) == 0 && st.st_ino == want.st_ino &&
            st.st_dev == want.st_dev)
            fd = i;
    }
    assert_true(fd >= 3);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(log_reopen(&err), ST_OK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    log_close();
    free(path);
    tu_tmpdir_remove(dir);
}

/* logrotate's dance: rename, SIGHUP (here: log_reopen), and the old
 * file keeps its lines while the new one gets the next ones. */
static void
test_log_reopen_after_rename_writes_to_a_new_file(void **state)
{
    char *dir = tu_tmpdir_create();
    char *path = tu_path_join(dir, "stratad.log");
    char *rotated = tu_path_join(dir, "stratad.log.1");
    struct st_error err = {0};
    assert_int_equal(log_open_file(path, &err), ST_OK);
    log_info("before n=1");
    assert_int_equal(rename(path, rotated), 0);
    log_info("between n=2"); /* still the old file: not reopened yet */
    assert_int_equal(log_reopen(&err), ST_OK);
    log_info("after n=3");
    log_close();

    char *old = read_text(rotated), *cur = read_text(path);
    assert_int_equal(count_lines(old), 2);
    tu_assert_contains(old, "msg=before n=1\n");
    tu_assert_contains(old, "msg=between n=2\n");
    assert_int_equal(count_lines(cur), 1);
    tu_assert_contains(cur, "msg=after n=3\n");
    free(old);
    free(cur);
    free(rotated);
    free(path);
    tu_tmpdir_remove(dir);
}

static void
test_log_reopen_without_a_file_does_nothing(void **state)
{
    struct st_error err = {0};
    assert_false(log_to_file());
    assert_int_equal(log_reopen(&err), ST_OK);
    assert_false(log_to_file());
}

static void
test_log_reopen_failure_keeps_the_old_file(void **state)
{
    char *dir = tu_tmpdir_create();
    char *sub = tu_path_join(dir, "sub");
    assert_int_equal(mkdir(sub, 0755), 0);
    char *path = tu_path_join(sub, "x.log");
    char *moved = tu_path_join(dir, "x.log.1");
    struct st_error err = {0};
    assert_int_equal(log_open_file(path, &err), ST_OK);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(rmdir(sub), 0); /* the path cannot be created again */
    assert_int_equal(log_reopen(&err), ST_IO);
    tu_assert_contains(err.msg, path);
    log_info("kept k=v");
    log_close();
    char *text = read_text(moved);
    tu_assert_contains(text, "msg=kept k=v\n");
    free(text);
    free(moved);
    free(path);
    free(sub);
    tu_tmpdir_remove(dir);
}

enum { WRITERS = 4, LINES_PER_WRITER = 3000, ROTATIONS = 20 };

static void *
write_lines(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < LINES_PER_WRITER; i++)
        log_info("line writer=%d n=%d pad=%s", id, i,
                 "................................................");
    return NULL;
}

/* Adds every line of 'text' to 'seen' (writer x n), failing on a line
 * that is not whole. */
static void
tally_lines(const char *text, unsigned char *seen)
{
    static const char pad[] =
        " pad=................................................\n";
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        const char *rest = skip_timestamp(p);
        int w, n, used = 0;
        assert_int_equal(
            sscanf(rest, "level=info msg=line writer=%d n=%d%n", &w, &n, &used),
            2);
        assert_in_range(w, 0, WRITERS - 1);
        assert_in_range(n, 0, LINES_PER_WRITER - 1);
        assert_memory_equal(rest + used, pad, sizeof pad - 1);
        assert_ptr_equal(rest + used + sizeof pad - 1, nl + 1);
        seen[w * LINES_PER_WRITER + n]++;
        p = nl + 1;
    }
}

/* Rotations while threads log: every line lands whole in exactly one
 * file, none is lost. */
static void
test_log_reopen_while_threads_log_loses_and_tears_nothing(void **state)
{
    char *dir = tu_tmpdir_create();
    char *path = tu_path_join(dir, "busy.log");
    struct st_error err = {0};
    assert_int_equal(log_open_file(path, &err), ST_OK);
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(
            pthread_create(&t[i], NULL, write_lines, (void *)(intptr_t)i), 0);
    for (int r = 1; r <= ROTATIONS; r++) {
        char name[64];
        snprintf(name, sizeof name, "%s.%d", path, r);
        assert_int_equal(rename(path, name), 0);
        assert_int_equal(log_reopen(&err), ST_OK);
        usleep(500);
    }
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    log_close();

    static unsigned char seen[WRITERS * LINES_PER_WRITER];
    memset(seen, 0, sizeof seen);
    for (int r = 0; r <= ROTATIONS; r++) {
        char name[64];
        if (r == 0)
            snprintf(name, sizeof name, "%s", path);
        else
            snprintf(name, sizeof name, "%s.%d", path, r);
        char *text = read_text(name);
        tally_lines(text, seen);
        free(text);
    }
    for (size_t i = 0; i < sizeof seen; i++)
        if (seen[i] != 1)
            fail_msg("line writer=%zu n=%zu seen %d times",
                     i / LINES_PER_WRITER, i % LINES_PER_WRITER, seen[i]);
    free(path);
    tu_tmpdir_remove(dir);
}

/* --- journald ------------------------------------------------------- */

static void
set_journal_stream(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char v[64];
    snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
}

static void
test_log_journal_form_when_stderr_is_the_journal_stream(void **state)
{
    struct capture c;
    size_t len;
    capture_begin(&c);
    set_journal_stream(STDERR_FILENO);
    bool detected = log_detect_journal();
    log_warn("file: cut torn tail file=%s", "000003.log");
    char *out = capture_end(&c, &len);
    assert_true(detected);
    assert_string_equal(out, "<4>level=warn module=file msg=\"cut torn "
                             "tail\" file=000003.log\n");
    free(out);

    /* A log file is not the journal: it gets timestamps. */
    char *dir = tu_tmpdir_create();
    char *path = tu_path_join(dir, "j.log");
    struct st_error err = {0};
    assert_int_equal(log_open_file(path, &err), ST_OK);
    log_warn("to the file");
    log_close();
    char *text = read_text(path);
    assert_string_equal(skip_timestamp(text),
                        "level=warn msg=\"to the file\"\n");
    free(text);
    free(path);
    tu_tmpdir_remove(dir);
}

static void
test_log_journal_not_detected_for_other_streams(void **state)
{
    assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
    assert_false(log_detect_journal());

    FILE *other = tmpfile();
    assert_non_null(other);
    set_journal_stream(fileno(other)); /* some other file than stderr */
    assert_false(log_detect_journal());
    fclose(other);

    static const char *const junk[] = {"",      "1",   "1:",  ":1",
                                       "1:2:3", "a:b", "1:2x"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        assert_int_equal(setenv("JOURNAL_STREAM", junk[i], 1), 0);
        if (log_detect_journal())
            fail_msg("JOURNAL_STREAM='%s' taken for the journal", junk[i]);
    }

    struct capture c;
    size_t len;
    capture_begin(&c);
    log_info("plain");
    char *out = capture_end(&c, &len);
    assert_string_equal(skip_timestamp(out), "level=info msg=plain\n");
    free(out);
}

static void
escape(const void *bytes, size_t len, char *out, size_t cap)
{
    log_escape(st_slice_make(bytes, len), out, cap);
}

static void
test_log_escape_keeps_printable_bytes(void **state)
{
    char out[128];
    escape("user:42 key=a~b", 15, out, sizeof out);
    assert_string_equal(out, "user:42 key=a~b");
    escape("", 0, out, sizeof out);
    assert_string_equal(out, "");
}

static void
test_log_escape_escapes_nonprintable_bytes_as_hex(void **state)
{
    char out[128];
    escape("a\0b\n\x1f\x7f\x80\xff", 8, out, sizeof out);
    assert_string_equal(out, "a\\x00b\\x0a\\x1f\\x7f\\x80\\xff");
}

/* Otherwise a key holding the text "\x00" would print like one holding
 * a NUL byte. */
static void
test_log_escape_escapes_backslash(void **state)
{
    char out[128];
    escape("a\\x00", 5, out, sizeof out);
    assert_string_equal(out, "a\\x5cx00");
}

static void
test_log_escape_cuts_long_input_with_dots(void **state)
{
    char in[200], out[512];
    memset(in, 'k', sizeof in);

    escape(in, sizeof in, out, sizeof out);
    size_t n = strlen(out);
    assert_in_range(n, 20, 80); /* a few dozen bytes, not all 200 */
    assert_string_equal(out + n - 3, "...");
    for (size_t i = 0; i < n - 3; i++)
        assert_int_equal(out[i], 'k');

    /* Short input is never marked. */
    escape(in, 20, out, sizeof out);
    assert_int_equal(strlen(out), 20);
    assert_null(strstr(out, "..."));
}

/* With any cap: NUL-terminated inside 'cap', nothing written past it,
 * and no escape sequence split in half. */
static void
test_log_escape_always_terminates_with_tiny_cap(void **state)
{
    static const size_t caps[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 20};
    static const uint8_t in[] = {'a', 0x01, 'b', '\\', 0xff, 'c', 0x00,
                                 'd', 'e',  'f', 'g',  'h',  'i'};
    char full[256];
    escape(in, sizeof in, full, sizeof full);

    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        size_t cap = caps[i];
        char out[64];
        memset(out, '#', sizeof out);
        escape(in, sizeof in, out, cap);
        size_t n = strnlen(out, cap);
        assert_true(n < cap);            /* terminated inside cap */
        assert_int_equal(out[cap], '#'); /* nothing past cap */
        size_t shown = n;
        if (n >= 3 && memcmp(out + n - 3, "...", 3) == 0)
            shown = n - 3;
        assert_memory_equal(out, full, shown); /* a prefix */
        /* Never ends inside an escape: a '\' starts 4 whole chars. */
        for (size_t k = 0; k < shown; k++)
            if (out[k] == '\\')
                assert_true(k + 4 <= shown);
    }

    char one = '#';
    log_escape(st_slice_make("abc", 3), &one, 1);
    assert_int_equal(one, '\0');
}

/* A key cut because 'out' is small must be marked as cut, as a long one
 * is: otherwise a log line shows a shorter key as if it were whole. */
static void
test_log_escape_marks_cut_by_small_cap(void **state)
{
    char in[20], out[32];
    memset(in, 'a', sizeof in);
    memset(out, '#', sizeof out);
    escape(in, sizeof in, out, 16);
    size_t n = strlen(out);
    assert_true(n < 16);
    assert_true(n >= 3);
    assert_string_equal(out + n - 3, "...");
    for (size_t i = 0; i < n - 3; i++)
        assert_int_equal(out[i], 'a');
}

int
main(void)
{
#define T(name) cmocka_unit_test_teardown(name, restore_defaults)
    const struct CMUnitTest tests[] = {
        T(test_log_level_parse_knows_every_name),
        T(test_log_level_parse_rejects_unknown_names),
        T(test_log_msg_below_level_prints_nothing),
        T(test_log_msg_at_or_above_level_prints_one_line_each),
        T(test_log_msg_debug_level_prints_every_level),
        T(test_log_msg_level_off_prints_nothing),
        T(test_log_format_splits_module_message_and_fields),
        T(test_log_format_quotes_and_escapes_values),
        T(test_log_format_journal_form_has_priority_and_no_timestamp),
        T(test_log_msg_cuts_long_line_and_keeps_newline),
        T(test_log_open_file_appends_with_mode_0640),
        T(test_log_open_file_fails_with_the_path_and_changes_nothing),
        T(test_log_file_is_close_on_exec_also_after_reopen),
        T(test_log_reopen_after_rename_writes_to_a_new_file),
        T(test_log_reopen_without_a_file_does_nothing),
        T(test_log_reopen_failure_keeps_the_old_file),
        T(test_log_reopen_while_threads_log_loses_and_tears_nothing),
        T(test_log_journal_form_when_stderr_is_the_journal_stream),
        T(test_log_journal_not_detected_for_other_streams),
        T(test_log_escape_keeps_printable_bytes),
        T(test_log_escape_escapes_nonprintable_bytes_as_hex),
        T(test_log_escape_escapes_backslash),
        T(test_log_escape_cuts_long_input_with_dots),
        T(test_log_escape_always_terminates_with_tiny_cap),
        T(test_log_escape_marks_cut_by_small_cap),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
