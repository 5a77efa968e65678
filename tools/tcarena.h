/* The tcarena command: what its subcommands share.
 *
 * Each subcommand is one file with one entry point, listed in the table in
 * tcarena.c; output.c holds what they all print with: the one-line error,
 * the aligned table, and the check that standard output took everything. */
#ifndef TCARENA_TOOL_H
#define TCARENA_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The exit status of every bad invocation, a missing file or a damaged dump
 * (126 and 127 are left to the program `run` could not start, as env(1)). */
#define EXIT_USAGE 2

struct command {
    const char *name;
    int (*main)(int argc, char **argv); /* argv[0] is the subcommand's name */
    const char *synopsis;               /* one line, for the overview */
    const char *help;                   /* the rest of `tcarena help NAME` */
};

int run_main(int argc, char **argv);
int stats_main(int argc, char **argv);
int top_main(int argc, char **argv);
int bench_main(int argc, char **argv);

extern const struct command run_command, stats_command, top_command, bench_command;

/* ---- tcarena.c ---- */

struct option;
/* getopt_long(3) for a subcommand's options ("+": they stop at "--" or at
 * the first word that is not one; -h is --help).  A bad one ends the run
 * with one line and EXIT_USAGE, so callers only see options they listed. */
int next_option(int argc, char **argv, const struct option *options);

/* The directory this binary is in, symbolic links resolved (from
 * /proc/self/exe), or NULL without /proc: where the library and the
 * benchmarks are looked for. */
const char *command_dir(void);

/* ---- leaks.c ---- */

/* Prints to out the report of the heap profile at path, written at the exit
 * of program (process pid): the call sites that still held memory, largest
 * first.  -1 after one line when the profile is missing or unreadable. */
int leaks_report(const char *path, const char *program, long pid, FILE *out);

/* ---- output.c ---- */

/* Set by main to "tcarena" or "tcarena run": the start of every message. */
extern const char *tool_name;

/* One line on stderr, "tcarena run: ..." */
void say(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* ... and exit with EXIT_USAGE. */
_Noreturn void fail(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* A bad invocation: the line ends in "(try 'tcarena run --help')". */
_Noreturn void usage_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Prints a subcommand's full help to stdout. */
void print_help(const struct command *command);

/* Flushes stdout and returns status, or EXIT_USAGE with one line when the
 * output was lost.  A reader that went away (EPIPE: `| head`) is not an
 * error: it asked for no more. */
int finish_output(int status);

/* A table printed as tcarena's text statistics are: a title line, then
 * rows of right-aligned cells, each column as wide as its widest cell. */
struct table {
    size_t ncolumns, ncells, capacity;
    char **cells; /* row-major; the first row holds the headers */
};

void table_add(struct table *table, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* Prints the title and the table when it has a row below the headers, and
 * empties it for the next one. */
void table_print(struct table *table, const char *title);

/* Memory for the rest of the run: the command is short-lived, so what it
 * allocates is given back by its exit; out of memory is one line, status 2. */
void *xrealloc(void *old, size_t size);
char *xasprintf(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
