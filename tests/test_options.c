/*
 * Tests for src/options.c, stratad's options: defaults, flags, the
 * config file and the command line winning over it, one error message
 * per bad value whichever its source ("--threads takes ..." or
 * "FILE:LINE: key 'threads': takes ..."), exit status 2, and a help
 * text that names every flag.
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

#include "options.h"
#include "testutil.h"
#include "util/cli.h"

struct fixture {
    char *dir;
    char *conf;
    struct stratad_options o;
    char out[4096]; /* stderr (or stdout) of the last parse */
};

static int
setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = tu_tmpdir_create();
    fx->conf = tu_path_join(fx->dir, "stratad.conf");
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    options_deinit(&fx->o);
    free(fx->conf);
    tu_tmpdir_remove(fx->dir);
    free(fx);
    return 0;
}

static void
write_conf(struct fixture *fx, const char *text)
{
    tu_write_file(fx->conf, (const uint8_t *)text, strlen(text));
}

/* options_parse over a NULL-terminated argument list, with stdout and
 * stderr captured into fx->out. */
static int
parse(struct fixture *fx, const char *first, ...)
{
    static char prog[] = "stratad";
    char *argv[32] = {prog};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
        assert_true(argc < 31);
        argv[argc++] = (char *)a;
    }
    va_end(ap);

    options_deinit(&fx->o);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(STDOUT_FILENO), saved_err = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDOUT_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    int rc = options_parse(&fx->o, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, STDOUT_FILENO);
    dup2(saved_err, STDERR_FILENO);
    close(saved_out);
    close(saved_err);
    rewind(tmp);
    size_t n = fread(fx->out, 1, sizeof fx->out - 1, tmp);
    fx->out[n] = '\0';
    fclose(tmp);
    return rc;
}

static void
test_options_defaults(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(parse(fx, NULL), 0);
    assert_string_equal(fx->out, "");
    struct stratad_options *o = &fx->o;
    assert_string_equal(o->engine, "lsm");
    assert_string_equal(o->data_dir, "data");
    assert_string_equal(o->socket_path, "run/stratad.sock");
    assert_null(o->socket_group);
    assert_null(o->pid_file);
    assert_null(o->log_file);
    assert_null(o->config_file);
    assert_int_equal(o->threads, OPTIONS_DEFAULT_THREADS);
    assert_int_equal(o->log_level, LOG_INFO);
    struct engine_options eo;
    engine_options_default(&eo);
    assert_int_equal(o->engine_opt.sync, eo.sync);
    assert_int_equal(o->engine_opt.memtable_bytes, eo.memtable_bytes);
    struct store_limits lim;
    store_limits_default(&lim);
    assert_int_equal(o->limits.max_value_len, lim.max_value_len);
}

static void
test_options_flags_set_every_field(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(
        parse(fx, "--engine", "file", "--data-dir", "/d", "--socket", "/s",
              "--socket-group", "www-data", "--threads", "7", "--sync",
              "interval:25", "--max-key-bytes", "100", "--max-value-bytes",
              "2000", "--segment-bytes", "8192", "--memtable-bytes", "65536",
              "--block-cache-bytes", "0", "--log-level", "warn", "--log-file",
              "/l", "--pid-file=/p", NULL),
        0);
    struct stratad_options *o = &fx->o;
    assert_string_equal(o->engine, "file");
    assert_string_equal(o->data_dir, "/d");
    assert_string_equal(o->socket_path, "/s");
    assert_string_equal(o->socket_group, "www-data");
    assert_string_equal(o->log_file, "/l");
    assert_string_equal(o->pid_file, "/p");
    assert_int_equal(o->threads, 7);
    assert_int_equal(o->engine_opt.sync, ENGINE_SYNC_INTERVAL);
    assert_int_equal(o->engine_opt.sync_interval_ms, 25);
    assert_int_equal(o->limits.max_key_len, 100);
    assert_int_equal(o->limits.max_value_len, 2000);
    assert_int_equal(o->engine_opt.segment_bytes, 8192);
    assert_int_equal(o->engine_opt.memtable_bytes, 65536);
    assert_int_equal(o->engine_opt.block_cache_bytes, 0);
    assert_int_equal(o->log_level, LOG_WARN);
}

static void
test_options_config_file_sets_and_command_line_wins(void **state)
{
    struct fixture *fx = *state;
    write_conf(fx, "# test\n"
                   "engine = memory\n"
                   "threads = 4\n"
                   "data-dir = /from/file\n"
                   "log-level = debug\n"
                   "socket-group = adm\n");
    /* --threads before --config still wins: the file is read first. */
    assert_int_equal(parse(fx, "--threads", "9", "--config", fx->conf,
                           "--engine", "file", NULL),
                     0);
    struct stratad_options *o = &fx->o;
    assert_string_equal(o->config_file, fx->conf);
    assert_int_equal(o->threads, 9);
    assert_string_equal(o->engine, "file");
    assert_string_equal(o->data_dir, "/from/file");
    assert_int_equal(o->log_level, LOG_DEBUG);
    assert_string_equal(o->socket_group, "adm");
    assert_string_equal(o->socket_path, "run/stratad.sock"); /* default */
}

/* Every flag but config, help and version is a key of the file. */
static void
test_options_every_flag_is_a_file_key(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *name, *value;
    } good[] = {
        {"engine", "file"},
        {"data-dir", "d"},
        {"socket", "s"},
        {"socket-group", "g"},
        {"threads", "3"},
        {"sync", "none"},
        {"max-key-bytes", "10"},
        {"max-value-bytes", "10"},
        {"segment-bytes", "4096"},
        {"memtable-bytes", "65536"},
        {"block-cache-bytes", "1"},
        {"log-level", "error"},
        {"log-file", "l"},
        {"pid-file", "p"},
    };
    unsigned flags = 0;
    for (; options_flag_name(flags) != NULL; flags++) {
        const char *name = options_flag_name(flags);
        bool listed = false;
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
            listed |= strcmp(good[i].name, name) == 0;
        bool cli_only = strcmp(name, "config") == 0 ||
                        strcmp(name, "help") == 0 ||
                        strcmp(name, "version") == 0;
        if (listed == cli_only)
            fail_msg("flag --%s: file key %s", name,
                     listed ? "unexpected" : "missing from this test");
    }
    assert_int_equal(flags, sizeof good / sizeof good[0] + 3);

    char text[2048] = "";
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t n = strlen(text);
        snprintf(text + n, sizeof text - n, "%s = %s\n", good[i].name,
                 good[i].value);
    }
    write_conf(fx, text);
    assert_int_equal(parse(fx, "--config", fx->conf, NULL), 0);
    assert_string_equal(fx->out, "");
    assert_int_equal(fx->o.threads, 3);
    assert_int_equal(fx->o.log_level, LOG_ERROR);
    assert_int_equal(fx->o.engine_opt.block_cache_bytes, 1);

    static const char *const cli_only[] = {"config = x\n", "help = 1\n",
                                           "version = 1\n"};
    for (size_t i = 0; i < 3; i++) {
        write_conf(fx, cli_only[i]);
        assert_int_equal(parse(fx, "--config", fx->conf, NULL), CLI_EXIT_USAGE);
        tu_assert_contains(fx->out, "works on the command line only");
    }
}

/* A bad value says the same thing from the file and from the command
 * line: the one parser's reason. */
static void
test_options_bad_values_same_reason_from_file_and_flag(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *name, *value, *reason;
    } bad[] = {
        {"threads", "x", "takes a number from 1 to 1024, not 'x'"},
        {"threads", "0", "takes a number from 1 to 1024, not '0'"},
        {"threads", "1025", "takes a number from 1 to 1024, not '1025'"},
        {"max-key-bytes", "2049", "takes a number from 1 to 2048"},
        {"memtable-bytes", "1", "takes a number from 65536 to 1073741824"},
        {"engine", "btree", "takes memory, file or lsm, not 'btree'"},
        {"sync", "sometimes",
         "takes always, none, interval or "
         "interval:MS (1..60000), not 'sometimes'"},
        {"sync", "interval:0",
         "takes always, none, interval or "
         "interval:MS (1..60000), not 'interval:0'"},
        {"log-level", "loud",
         "takes debug, info, warn, error or off, "
         "not 'loud'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char flag[64], want[512], text[256];
        snprintf(flag, sizeof flag, "--%s", bad[i].name);
        assert_int_equal(parse(fx, flag, bad[i].value, NULL), CLI_EXIT_USAGE);
        snprintf(want, sizeof want, "stratad: %s %s", flag, bad[i].reason);
        tu_assert_contains(fx->out, want);
        tu_assert_contains(fx->out, "Try 'stratad --help'.");

        snprintf(text, sizeof text, "# c\n%s = %s\n", bad[i].name,
                 bad[i].value);
        write_conf(fx, text);
        assert_int_equal(parse(fx, "--config", fx->conf, NULL), CLI_EXIT_USAGE);
        snprintf(want, sizeof want, "stratad: %s:2: key '%s': %s", fx->conf,
                 bad[i].name, bad[i].reason);
        tu_assert_contains(fx->out, want);
    }
}

static void
test_options_config_errors_exit_2_naming_file_and_line(void **state)
{
    struct fixture *fx = *state;
    char want[512];

    write_conf(fx, "threads = 4\nthread = 5\n");
    assert_int_equal(parse(fx, "--config", fx->conf, NULL), CLI_EXIT_USAGE);
    snprintf(want, sizeof want, "stratad: %s:2: unknown key 'thread'\n",
             fx->conf);
    assert_string_equal(fx->out, want);

    write_conf(fx, "threads = 4\n\nthreads = 5\n");
    assert_int_equal(parse(fx, "--config", fx->conf, NULL), CLI_EXIT_USAGE);
    snprintf(want, sizeof want,
             "stratad: %s:3: key 'threads' is set twice (first on line 1)\n",
             fx->conf);
    assert_string_equal(fx->out, want);

    write_conf(fx, "threads: 4\n");
    assert_int_equal(parse(fx, "--config", fx->conf, NULL), CLI_EXIT_USAGE);
    snprintf(want, sizeof want, "stratad: %s:1: missing '='", fx->conf);
    tu_assert_contains(fx->out, want);

    char *missing = tu_path_join(fx->dir, "none.conf");
    assert_int_equal(parse(fx, "--config", missing, NULL), CLI_EXIT_USAGE);
    snprintf(want, sizeof want,
             "stratad: %s: cannot open: No such file or directory\n", missing);
    assert_string_equal(fx->out, want);
    free(missing);

    assert_int_equal(parse(fx, "--config", "", NULL), CLI_EXIT_USAGE);
    tu_assert_contains(fx->out, "--config takes a non-empty value");
}

/* A bad file does not stand in the way of --help or --version. */
static void
test_options_help_and_version_skip_the_config_file(void **state)
{
    struct fixture *fx = *state;
    write_conf(fx, "threads = many\n");
    assert_int_equal(parse(fx, "--config", fx->conf, "--help", NULL),
                     OPTIONS_EXIT_OK);
    assert_string_equal(fx->out, options_usage);
    assert_int_equal(parse(fx, "--version", "--config", fx->conf, NULL),
                     OPTIONS_EXIT_OK);
    assert_string_equal(fx->out, "stratad " PACKAGE_VERSION "\n");
}

static void
test_options_other_usage_errors(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(parse(fx, "--data-dir", "", NULL), CLI_EXIT_USAGE);
    tu_assert_contains(fx->out, "stratad: --data-dir takes a non-empty value");
    assert_int_equal(parse(fx, "--no-such-flag", NULL), CLI_EXIT_USAGE);
    tu_assert_contains(fx->out, "bad option");
    assert_int_equal(parse(fx, "stray", NULL), CLI_EXIT_USAGE);
    tu_assert_contains(fx->out, "unexpected argument 'stray'");
    assert_int_equal(parse(fx, "--threads", NULL), CLI_EXIT_USAGE);
}

/* Parsing twice in one process starts over (getopt's state is reset). */
static void
test_options_parse_twice_starts_over(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(parse(fx, "--threads", "5", NULL), 0);
    assert_int_equal(fx->o.threads, 5);
    assert_int_equal(parse(fx, "--engine", "memory", NULL), 0);
    assert_int_equal(fx->o.threads, OPTIONS_DEFAULT_THREADS);
    assert_string_equal(fx->o.engine, "memory");
}

static void
test_options_help_names_every_flag(void **state)
{
    for (unsigned i = 0; options_flag_name(i) != NULL; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "  --%s ", options_flag_name(i));
        if (strstr(options_usage, flag) == NULL)
            fail_msg("--help does not list --%s", options_flag_name(i));
    }
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_options_defaults),
        T(test_options_flags_set_every_field),
        T(test_options_config_file_sets_and_command_line_wins),
        T(test_options_every_flag_is_a_file_key),
        T(test_options_bad_values_same_reason_from_file_and_flag),
        T(test_options_config_errors_exit_2_naming_file_and_line),
        T(test_options_help_and_version_skip_the_config_file),
        T(test_options_other_usage_errors),
        T(test_options_parse_twice_starts_over),
        T(test_options_help_names_every_flag),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
