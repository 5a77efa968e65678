/* What every subcommand prints with: one-line errors, aligned tables, and
 * the end of standard output. */
#include "tcarena.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tool_name = "tcarena";

static void say_va(const char *format, va_list args, const char *tail)
{
    fprintf(stderr, "%s: ", tool_name);
    vfprintf(stderr, format, args);
    fprintf(stderr, "%s\n", tail);
}

void say(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    say_va(format, args, "");
    va_end(args);
}

void fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    say_va(format, args, "");
    va_end(args);
    exit(EXIT_USAGE);
}

void usage_error(const char *format, ...)
{
    char tail[64];
    snprintf(tail, sizeof tail, " (try '%s --help')", tool_name);
    va_list args;
    va_start(args, format);
    say_va(format, args, tail);
    va_end(args);
    exit(EXIT_USAGE);
}

void print_help(const struct command *command)
{
    printf("usage: tcarena %s\n%s", command->synopsis, command->help);
}

int finish_output(int status)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return status;
    if (errno == EPIPE)
        return status;
    say("standard output: %s", strerror(errno));
    return EXIT_USAGE;
}

void *xrealloc(void *old, size_t size)
{
    void *p = realloc(old, size);
    if (!p)
        fail("out of memory");
    return p;
}

static char *xvasprintf(const char *format, va_list args)
{
    char *text;
    if (vasprintf(&text, format, args) < 0)
        fail("out of memory");
    return text;
}

char *xasprintf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *text = xvasprintf(format, args);
    va_end(args);
    return text;
}

void table_add(struct table *table, const char *format, ...)
{
    if (table->ncells == table->capacity) {
        table->capacity = table->capacity ? 2 * table->capacity : 64;
        table->cells = xrealloc(table->cells, table->capacity * sizeof *table->cells);
    }
    va_list args;
    va_start(args, format);
    table->cells[table->ncells++] = xvasprintf(format, args);
    va_end(args);
}

void table_print(struct table *table, const char *title)
{
    size_t ncolumns = table->ncolumns;
    if (ncolumns && table->ncells > ncolumns) {
        size_t width[ncolumns];
        memset(width, 0, sizeof width);
        for (size_t i = 0; i < table->ncells; i++) {
            size_t len = strlen(table->cells[i]);
            if (len > width[i % ncolumns])
                width[i % ncolumns] = len;
        }
        printf("%s\n", title);
        for (size_t i = 0; i < table->ncells; i++)
            printf("  %*s%s", (int)width[i % ncolumns], table->cells[i], i % ncolumns == ncolumns - 1 ? "\n" : "");
    }
    for (size_t i = 0; i < table->ncells; i++)
        free(table->cells[i]);
    free(table->cells);
    *table = (struct table){.ncolumns = ncolumns};
}
