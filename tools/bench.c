/* tcarena bench: the benchmark suite, which lives in the source tree. */
#include "tcarena.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const struct command bench_command = {
    "bench", bench_main, "bench [--] [ARGS...]",
    "Runs the benchmark suite, benchmarks/run ARGS... (its own options: tcarena\n"
    "bench -- --help), from the source tree this command was built in: it works\n"
    "from a build directory inside the source tree, not from an installed command.\n"
    "\n"
    "  -h, --help   this help\n"
    "\n"
    "Exit status: the suite's; 2 outside a source tree.\n",
};

int bench_main(int argc, char **argv)
{
    /* Every other option is the suite's, so only these two are read here. */
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        print_help(&bench_command);
        return finish_output(0);
    }
    if (argc > 1 && !strcmp(argv[1], "--"))
        argv++;
    /* BUILD/tools/tcarena with BUILD in the source tree, or a build tree
     * that is the source tree. */
    const char *dir = command_dir();
    static const char *const tries[] = {"../../benchmarks/run", "../benchmarks/run"};
    for (size_t i = 0; dir && i < sizeof tries / sizeof tries[0]; i++) {
        char run[PATH_MAX + 32];
        snprintf(run, sizeof run, "%s/%s", dir, tries[i]);
        if (access(run, X_OK) == 0) {
            argv[0] = run;
            execv(run, argv);
            fail("%s: %s", run, strerror(errno));
        }
    }
    fail("no benchmarks/run near %s: run it from a build directory inside the source tree", dir ? dir : "this command");
}
