/*
 * Tests for util/config_file.c: the "key = value" syntax (blanks,
 * comments, '=' and '#' inside values, CRLF, no final newline), every
 * syntax error with its line, the longest line allowed and one byte
 * more, NUL bytes, a callback that refuses, and files that cannot be
 * opened or read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testutil.h"
#include "util/config_file.h"

/* What the callback saw: "line:key=value\n" per setting. */
struct seen {
    char text[8192];
    size_t len;
    unsigned refuse_line; /* refuse the setting on this line, 0: none */
};

static bool
record(void *ctx, const char *key, const char *value, unsigned line, char *why,
       size_t cap)
{
    struct seen *s = ctx;
    if (line == s->refuse_line) {
        snprintf(why, cap, "key '%s': no thanks", key);
        return false;
    }
    int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%u:%s=%s\n",
                     line, key, value);
    assert_true(n > 0 && (size_t)n < sizeof s->text - s->len);
    s->len += (size_t)n;
    return true;
}

static int
setup(void **state)
{
    *state = tu_dir_fixture_new("test.conf");
    return 0;
}

static int
teardown(void **state)
{
    tu_dir_fixture_free(*state);
    return 0;
}

/* Writes 'len' bytes of 'text' as the file and reads it. */
static bool
read_bytes(struct tu_dir_fixture *fx, const char *text, size_t len, struct seen *s,
           struct config_file_error *err)
{
    tu_write_file(fx->path, (const uint8_t *)text, len);
    memset(err, 0, sizeof *err);
    return config_file_read(fx->path, record, s, err);
}

static bool
read_text(struct tu_dir_fixture *fx, const char *text, struct seen *s,
          struct config_file_error *err)
{
    return read_bytes(fx, text, strlen(text), s, err);
}

static void
test_config_file_reads_settings_in_order(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct seen s = {0};
    struct config_file_error err;
    assert_true(read_text(fx,
                          "# a comment\n"
                          "\n"
                          "threads = 8\n"
                          "  \t# an indented comment\n"
                          "engine=file\n"
                          "\t data-dir \t=\t /var/lib/my strata  \n"
                          "   \n"
                          "sync = interval:50\n",
                          &s, &err));
    assert_string_equal(s.text, "3:threads=8\n"
                                "5:engine=file\n"
                                "6:data-dir=/var/lib/my strata\n"
                                "8:sync=interval:50\n");
}

static void
test_config_file_value_keeps_equals_and_hash(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct seen s = {0};
    struct config_file_error err;
    assert_true(read_text(fx,
                          "a = b=c\n"
                          "log-file = /var/log/#1.log\n"
                          "threads = 8 # not a comment\n",
                          &s, &err));
    assert_string_equal(s.text, "1:a=b=c\n"
                                "2:log-file=/var/log/#1.log\n"
                                "3:threads=8 # not a comment\n");
}

static void
test_config_file_takes_crlf_and_no_final_newline(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct seen s = {0};
    struct config_file_error err;
    assert_true(read_text(fx, "a = 1\r\n# c\r\n\r\nb = 2\r\nc = 3", &s, &err));
    assert_string_equal(s.text, "1:a=1\n4:b=2\n5:c=3\n");

    memset(&s, 0, sizeof s);
    assert_true(read_text(fx, "last = x\r", &s, &err));
    assert_string_equal(s.text, "1:last=x\n");
}

static void
test_config_file_empty_file_calls_nothing(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct seen s = {0};
    struct config_file_error err;
    assert_true(read_text(fx, "", &s, &err));
    assert_int_equal(s.len, 0);
    assert_true(read_text(fx, "# only\n\n  \n", &s, &err));
    assert_int_equal(s.len, 0);
}

/* Each broken line, on line 2 after a good one: the error names line 2
 * and says what is wrong, and reading stops there. */
static void
test_config_file_syntax_errors_name_the_line(void **state)
{
    struct tu_dir_fixture *fx = *state;
    static const struct {
        const char *line, *msg;
    } cases[] = {
        {"threads 8", "missing '=' (settings read: key = value)"},
        {"threads", "missing '='"},
        {" = 8", "missing key before '='"},
        {"threads =", "key 'threads': empty value"},
        {"threads =   \t", "key 'threads': empty value"},
        {"data-dir = \"/srv\"", "key 'data-dir': values take no quotes"},
        {"data-dir = '/srv'", "key 'data-dir': values take no quotes"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "ok = 1\n%s\nlater = 3\n", cases[i].line);
        struct seen s = {0};
        struct config_file_error err;
        if (read_text(fx, text, &s, &err))
            fail_msg("accepted '%s'", cases[i].line);
        assert_int_equal(err.line, 2);
        tu_assert_contains(err.msg, cases[i].msg);
        assert_string_equal(s.text, "1:ok=1\n"); /* stopped at line 2 */
    }
}

static void
test_config_file_line_length_limit(void **state)
{
    struct tu_dir_fixture *fx = *state;
    size_t cap = CONFIG_FILE_LINE_MAX + 64;
    char *text = malloc(cap);
    assert_non_null(text);

    /* Exactly the limit, CRLF not counted: accepted. */
    memcpy(text, "k = ", 4);
    memset(text + 4, 'v', CONFIG_FILE_LINE_MAX - 4);
    memcpy(text + CONFIG_FILE_LINE_MAX, "\r\n", 2);
    struct seen s = {0};
    struct config_file_error err;
    assert_true(read_bytes(fx, text, CONFIG_FILE_LINE_MAX + 2, &s, &err));
    assert_int_equal(s.len, strlen("1:k=\n") + CONFIG_FILE_LINE_MAX - 4);

    /* One byte more, on line 2: refused. */
    memcpy(text, "a = 1\n", 6);
    memcpy(text + 6, "k = ", 4);
    memset(text + 10, 'v', CONFIG_FILE_LINE_MAX + 1 - 4);
    size_t len = 6 + CONFIG_FILE_LINE_MAX + 1;
    memset(&s, 0, sizeof s);
    assert_false(read_bytes(fx, text, len, &s, &err));
    assert_int_equal(err.line, 2);
    tu_assert_contains(err.msg, "line longer than 4096 bytes");
    free(text);

    /* A very long line (1 MiB) is refused the same way. */
    size_t big = 1 << 20;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'x', big);
    huge[0] = 'k';
    huge[1] = '=';
    assert_false(read_bytes(fx, huge, big, &s, &err));
    assert_int_equal(err.line, 1);
    tu_assert_contains(err.msg, "line longer than");
    free(huge);
}

static void
test_config_file_refuses_nul_bytes(void **state)
{
    struct tu_dir_fixture *fx = *state;
    static const char text[] = "a = 1\nb = x\0y\n";
    struct seen s = {0};
    struct config_file_error err;
    assert_false(read_bytes(fx, text, sizeof text - 1, &s, &err));
    assert_int_equal(err.line, 2);
    tu_assert_contains(err.msg, "NUL byte");
}

static void
test_config_file_callback_refusal_stops_with_its_reason(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct seen s = {.refuse_line = 3};
    struct config_file_error err;
    assert_false(read_text(fx, "a = 1\n\nb = 2\nc = 3\n", &s, &err));
    assert_int_equal(err.line, 3);
    assert_string_equal(err.msg, "key 'b': no thanks");
    assert_string_equal(s.text, "1:a=1\n");
}

static void
test_config_file_unreadable_file_is_line_0(void **state)
{
    struct tu_dir_fixture *fx = *state;
    struct seen s = {0};
    struct config_file_error err = {0};
    char *missing = tu_path_join(fx->dir, "missing.conf");
    assert_false(config_file_read(missing, record, &s, &err));
    assert_int_equal(err.line, 0);
    assert_string_equal(err.msg, "cannot open: No such file or directory");
    free(missing);

    /* A directory opens but cannot be read. */
    memset(&err, 0, sizeof err);
    assert_false(config_file_read(fx->dir, record, &s, &err));
    assert_int_equal(err.line, 0);
    tu_assert_contains(err.msg, "Is a directory");
    assert_int_equal(s.len, 0);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_config_file_reads_settings_in_order),
        T(test_config_file_value_keeps_equals_and_hash),
        T(test_config_file_takes_crlf_and_no_final_newline),
        T(test_config_file_empty_file_calls_nothing),
        T(test_config_file_syntax_errors_name_the_line),
        T(test_config_file_line_length_limit),
        T(test_config_file_refuses_nul_bytes),
        T(test_config_file_callback_refusal_stops_with_its_reason),
        T(test_config_file_unreadable_file_is_line_0),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
