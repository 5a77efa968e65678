/* tcarena: run a program under the allocator, print a running process's
 * statistics or a saved dump, watch them change, run the benchmarks.  This
 * file picks the subcommand; each one lives in a file of its own (run.c,
 * stats.c, top.c, bench.c) and is listed here once. */
#include "tcarena.h"
#include "tool_config.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct command *const commands[] = {&run_command, &stats_command, &top_command, &bench_command};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i]->name, name))
            return commands[i];
    usage_error("unknown command '%s'", name);
}

int next_option(int argc, char **argv, const struct option *options)
{
    opterr = 0; /* its messages are not one line naming the command */
    int c = getopt_long(argc, argv, "+:h", options, NULL);
    if (c != '?' && c != ':')
        return c;
    const char *word = argv[optind - 1];
    const char *equals = strchr(word, '=');
    if (c == ':')
        usage_error("option '%s' needs a value", word);
    if (strncmp(word, "--", 2))
        usage_error("unknown option '-%c'", optopt);
    if (optopt && equals) /* a known long option, given a value it does not take */
        usage_error("option '%.*s' takes no value", (int)(equals - word), word);
    usage_error("unknown option '%.*s'", (int)(equals ? (size_t)(equals - word) : strlen(word)), word);
}

const char *command_dir(void)
{
    static char dir[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", dir, sizeof dir - 1);
    char *slash = len > 0 ? memrchr(dir, '/', (size_t)len) : NULL;
    if (!slash)
        return NULL;
    *slash = '\0';
    return dir;
}

static void print_overview(void)
{
    printf("usage: tcarena COMMAND [ARGS...]\n\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("  tcarena %s\n", commands[i]->synopsis);
    printf("  tcarena help [COMMAND] | --help | --version\n\n"
           "'tcarena help COMMAND' or 'tcarena COMMAND --help' explains one command.\n"
           "Options for the allocator go in TCARENA_CONF=\"key:value,...\"; see tcarena(3).\n");
}

/* `tcarena help [COMMAND]`: the overview, or one command's help. */
static int help_main(int argc, char **argv)
{
    if (argc > 2)
        usage_error("unexpected argument '%s'", argv[2]);
    if (argc == 2)
        print_help(find_command(argv[1]));
    else
        print_overview();
    return finish_output(0);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage_error("no command given");
    const char *first = argv[1];
    if (!strcmp(first, "--help") || !strcmp(first, "-h"))
        return help_main(1, argv + 1);
    if (!strcmp(first, "help"))
        return help_main(argc - 1, argv + 1);
    if (!strcmp(first, "--version")) {
        printf("tcarena %s\n", TCARENA_VERSION);
        return finish_output(0);
    }
    if (first[0] == '-')
        usage_error("unknown option '%s'", first);
    const struct command *command = find_command(first);
    /* From here on every message names the subcommand: "tcarena run: ..." */
    static char name[64];
    snprintf(name, sizeof name, "tcarena %s", command->name);
    tool_name = name;
    return command->main(argc - 1, argv + 1);
}
