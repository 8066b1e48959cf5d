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

static void
test_cli_usage_error_names_the_program_and_help(void **state)
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fileno(tmp), STDERR_FILENO);
    int rc = cli_usage_error("prog", "--x takes %d..%d, not '%s'", 1, 2, "z");
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char out[256] = {0};
    rewind(tmp);
    size_t n = fread(out, 1, sizeof out - 1, tmp);
    fclose(tmp);
    assert_int_equal(rc, CLI_EXIT_USAGE);
    assert_true(n > 0);
    assert_string_equal(out, "prog: --x takes 1..2, not 'z'\n"
                             "Try 'prog --help'.\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_parse_number_accepts_whole_numbers_in_range),
        cmocka_unit_test(test_cli_parse_number_rejects_everything_else),
        cmocka_unit_test(test_cli_usage_error_names_the_program_and_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
