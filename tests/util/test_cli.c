/* Command-line helpers: numbers are strict, usage errors look alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "util/cli.h"

static void
test_cli_parse_number_accepts_whole_numbers_in_range(void **state)
{
    unsigned long long v = 0;
    assert_true(cli_parse_number("0", 0, 10, &v));
    assert_int_equal(v, 0);
    assert_true(cli_parse_number("10", 0, 10, &v));
    assert_int_equal(v, 10);
    assert_true(cli_parse_number("18446744073709551615", 0, ~0ull, &v));
    assert_true(v == ~0ull);
}

static void
test_cli_parse_number_rejects_everything_else(void **state)
{
    static const char *const bad[] = {
        "",   "-1",   "+1", " 1",  "1 ",
        "1x", "0x10", "11", "1e3", "18446744073709551616", /* overflows */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned long long v = 77;
        if (cli_parse_number(bad[i], 0, 10, &v))
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(v, 77); /* untouched */
    }
    unsigned long long v = 77;
    assert_false(cli_parse_number("18446744073709551616", 0, ~0ull, &v));
    assert_false(cli_parse_number("4", 5, 10, &v));
    assert_false(cli_parse_number(NULL, 0, 10, &v));
}

/* stderr of one call, through a temp file over fd 2. */
struct captured {
    int rc;
    char out[256];
};

static void
finish_capture(FILE *tmp, int saved, struct captured *c)
{
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(c->out, 1, sizeof c->out - 1, tmp);
    c->out[n] = '\0';
    fclose(tmp);
}

static FILE *
start_capture(int *saved)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    *saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fileno(tmp), STDERR_FILENO);
    return tmp;
}

static void
test_cli_usage_error_names_the_program_and_help(void **state)
{
    struct captured c;
    int saved;
    FILE *tmp = start_capture(&saved);
    c.rc = cli_usage_error("prog", "--x takes %d..%d, not '%s'", 1, 2, "z");
    finish_capture(tmp, saved, &c);
    assert_int_equal(c.rc, CLI_EXIT_USAGE);
    assert_string_equal(c.out, "prog: --x takes 1..2, not 'z'\n"
                               "Try 'prog --help'.\n");
}

static void
test_cli_file_error_names_the_file_and_line(void **state)
{
    struct captured c;
    int saved;
    FILE *tmp = start_capture(&saved);
    c.rc = cli_file_error("prog", "a.conf", 7, "key '%s': bad", "threads");
    finish_capture(tmp, saved, &c);
    assert_int_equal(c.rc, CLI_EXIT_USAGE);
    assert_string_equal(c.out, "prog: a.conf:7: key 'threads': bad\n");

    tmp = start_capture(&saved);
    c.rc = cli_file_error("prog", "a.conf", 0, "cannot open: %s", "gone");
    finish_capture(tmp, saved, &c);
    assert_int_equal(c.rc, CLI_EXIT_USAGE);
    assert_string_equal(c.out, "prog: a.conf: cannot open: gone\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_parse_number_accepts_whole_numbers_in_range),
        cmocka_unit_test(test_cli_parse_number_rejects_everything_else),
        cmocka_unit_test(test_cli_usage_error_names_the_program_and_help),
        cmocka_unit_test(test_cli_file_error_names_the_file_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
