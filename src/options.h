/*
 * stratad's options: one table of flags, read first from a configuration
 * file (--config FILE: "key = value" lines, see util/config_file.h) and
 * then from the command line, which wins. Every long flag except
 * --config, --help and --version is also a key of the same name
 * ("data-dir = /var/lib/strata"), and each has exactly one parser and
 * one range check, shared by both sources.
 */
#ifndef STRATA_OPTIONS_H
#define STRATA_OPTIONS_H

#include "engines/engine.h"
#include "store.h"
#include "util/log.h"

enum {
    OPTIONS_DEFAULT_THREADS = 32,
    OPTIONS_MAX_THREADS = 1024,
    OPTIONS_EXIT_OK = -1, /* options_parse: --help or --version done */
};

/* What stratad runs with. The strings are owned by the struct (copies of
 * argv or of the file's values) and freed by options_deinit(). */
struct stratad_options {
    char *engine;       /* a name from the engine registry */
    char *data_dir;     /* the engine's files go to data_dir/engine/ */
    char *socket_path;  /* unix socket to create */
    char *socket_group; /* NULL: leave the socket's group as created */
    char *pid_file;     /* NULL: none */
    char *log_file;     /* NULL: log to stderr */
    char *config_file;  /* NULL: none was given */
    unsigned threads;
    enum log_level log_level;
    struct engine_options engine_opt;
    struct store_limits limits;
};

/* The --help text. */
extern const char options_usage[];

/* Fills 'o' with the defaults, then the config file's settings, then the
 * command line's. Returns 0 to run; OPTIONS_EXIT_OK after printing
 * --help or --version to stdout; or the exit status after printing the
 * error to stderr: CLI_EXIT_USAGE (2) for a bad flag or value, or a bad
 * or unreadable config file ("stratad: FILE:LINE: key 'threads': ..."),
 * 1 when out of memory. Call options_deinit(o) afterwards in every case.
 * Uses getopt_long (so: not thread-safe; argv may be permuted). */
int options_parse(struct stratad_options *o, int argc, char **argv);

/* Frees the strings. 'o' may be partly filled; deinit twice is fine. */
void options_deinit(struct stratad_options *o);

/* The long flags' names ("engine", "data-dir", ...), i from 0; NULL
 * past the last. */
const char *options_flag_name(unsigned i);

#endif
