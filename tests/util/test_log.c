/*
 * Tests for util/log.c: level names, the level filter, the one-line
 * format written to stderr (captured here by putting a temp file over
 * fd 2), and log_escape, which makes arbitrary key bytes safe to print:
 * escaped, cut, marked when cut, and always NUL-terminated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
restore_level(void **state)
{
    log_set_level(LOG_INFO);
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
    log_warn("cut torn tail file=%s off=%d", "000003.log", 4096);
    char *out = capture_end(&c, &len);
    assert_int_equal(out[len - 1], '\n');
    assert_ptr_equal(strchr(out, '\n'), out + len - 1); /* one line */
    assert_string_equal(skip_timestamp(out),
                        "WARN cut torn tail file=000003.log off=4096\n");
    free(out);

    capture_begin(&c);
    log_error("boom");
    out = capture_end(&c, &len);
    assert_string_equal(skip_timestamp(out), "ERROR boom\n");
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
    static const char *const expect[] = {"DEBUG a\n", "INFO b\n", "WARN c\n",
                                         "ERROR d\n"};
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
    char *out = capture_end(&c, &len);
    assert_in_range(len, 100, 1024);
    assert_int_equal(out[len - 1], '\n');
    assert_ptr_equal(strchr(out, '\n'), out + len - 1);
    const char *rest = skip_timestamp(out);
    assert_memory_equal(rest, "INFO xxxx", 9);
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
#define T(name) cmocka_unit_test_teardown(name, restore_level)
    const struct CMUnitTest tests[] = {
        T(test_log_level_parse_knows_every_name),
        T(test_log_level_parse_rejects_unknown_names),
        T(test_log_msg_below_level_prints_nothing),
        T(test_log_msg_at_or_above_level_prints_one_line_each),
        T(test_log_msg_debug_level_prints_every_level),
        T(test_log_msg_level_off_prints_nothing),
        T(test_log_msg_cuts_long_line_and_keeps_newline),
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
