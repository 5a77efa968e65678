/* tcarena top: a running process's statistics page read every interval, as
 * a frame of what changes: the totals, each arena's allocations and frees per
 * second, the size classes handing out the most blocks per second, and the
 * heap profile's largest sites when the process profiles.  On a
 * terminal each frame replaces the last; elsewhere (a pipe, a log) frames
 * follow each other. */
#include "attach.h"
#include "tcarena.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Size classes shown, busiest first; heap profile sites shown, largest first. */
#define TOP_CLASSES 10
#define TOP_SITES 5

const struct command top_command = {
    "top", top_main, "top --pid=PID [--interval=SECONDS] [--count=N]",
    "Shows running process PID's statistics every SECONDS (default 1, decimals\n"
    "allowed), read from outside it as stats --pid reads them: allocated,\n"
    "resident, dirty and mapped bytes with their change per second, each arena's\n"
    "allocations and frees per second, and the size classes handing out the most\n"
    "blocks per second (blocks the slabs hand to the caches and take back: what a\n"
    "thread cache serves alone is thread-local); in a process that runs the heap\n"
    "profiler (prof:true), its five largest allocation sites.  The first frame\n"
    "comes at once, without rates.  On a terminal each frame replaces the last;\n"
    "otherwise they follow one another.\n"
    "It ends when PID ends, or after N frames.\n"
    "\n"
    "  --pid=PID             the process, started under tcarena\n"
    "  --interval=SECONDS    time between frames\n"
    "  --count=N             stop after N frames\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit status: 0; 2 for a bad invocation or a process that cannot be read\n"
    "(none, another user's, not running tcarena).\n",
};

static const struct option top_options[] = {
    {"pid", required_argument, NULL, 'p'},
    {"interval", required_argument, NULL, 'i'},
    {"count", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static double now_seconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* A rate between two readings, or "-" for the first frame. */
static void add_rate(struct table *table, double change, double seconds)
{
    if (seconds > 0)
        table_add(table, "%.0f", change / seconds);
    else
        table_add(table, "-");
}

static void print_totals(const struct tca_stats *now, const struct tca_stats *before, double seconds)
{
    static const char *const names[] = {"allocated", "resident", "dirty", "mapped"};
    const size_t values[][2] = {
        {now->allocated, before->allocated},
        {now->resident, before->resident},
        {now->dirty, before->dirty},
        {now->mapped, before->mapped},
    };
    struct table table = {.ncolumns = 4};
    table_add(&table, "%s", "");
    table_add(&table, "bytes");
    table_add(&table, "MiB");
    table_add(&table, "bytes/s");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        table_add(&table, "%s", names[i]);
        table_add(&table, "%zu", values[i][0]);
        table_add(&table, "%.1f", (double)values[i][0] / 1048576);
        add_rate(&table, (double)values[i][0] - (double)values[i][1], seconds);
    }
    table_print(&table, "Totals");
}

static void print_arenas(const struct tca_stats *now, const struct tca_stats *before, double seconds)
{
    struct table table = {.ncolumns = 5};
    table_add(&table, "arena");
    table_add(&table, "allocated");
    table_add(&table, "mapped");
    table_add(&table, "mallocs/s");
    table_add(&table, "frees/s");
    for (unsigned i = 0; i < now->narenas; i++) {
        const struct arena_stats *arena = &now->arenas[i], *was = &before->arenas[i];
        if (!arena->mapped && !arena->small_nmalloc && !arena->large_nmalloc)
            continue; /* never used */
        table_add(&table, "%u", i);
        table_add(&table, "%zu", arena->allocated);
        table_add(&table, "%zu", arena->mapped);
        add_rate(&table, (double)(arena->small_nmalloc + arena->large_nmalloc) -
                             (double)(was->small_nmalloc + was->large_nmalloc), seconds);
        add_rate(&table, (double)(arena->small_ndalloc + arena->large_ndalloc) -
                             (double)(was->small_ndalloc + was->large_ndalloc), seconds);
    }
    table_print(&table, "Arenas");
}

struct class_rate {
    unsigned bin;
    double mallocs, frees; /* blocks since the last reading, every arena */
    uint64_t out;          /* blocks out now */
};

/* Most blocks handed out first, then most blocks out. */
static int busier(const void *a, const void *b)
{
    const struct class_rate *x = a, *y = b;
    if (x->mallocs != y->mallocs)
        return x->mallocs < y->mallocs ? 1 : -1;
    return x->out < y->out ? 1 : x->out > y->out ? -1 : (int)x->bin - (int)y->bin;
}

/* The classes handing out most blocks since the last reading (the first
 * frame: most blocks out). */
static void print_classes(const struct tca_stats *now, const struct tca_stats *before, double seconds)
{
    struct class_rate classes[STATS_NBINS];
    for (unsigned j = 0; j < STATS_NBINS; j++) {
        classes[j] = (struct class_rate){.bin = j};
        for (unsigned i = 0; i < now->narenas; i++) {
            const struct bin_stats *bin = &now->arenas[i].bins[j], *was = &before->arenas[i].bins[j];
            classes[j].mallocs += seconds > 0 ? (double)bin->nmalloc - (double)was->nmalloc : (double)bin->curregs;
            classes[j].frees += (double)bin->ndalloc - (double)was->ndalloc;
            classes[j].out += bin->curregs;
        }
    }
    qsort(classes, STATS_NBINS, sizeof classes[0], busier);
    struct table table = {.ncolumns = 4};
    table_add(&table, "size");
    table_add(&table, "mallocs/s");
    table_add(&table, "frees/s");
    table_add(&table, "blocks out");
    for (unsigned k = 0; k < TOP_CLASSES && k < STATS_NBINS; k++) {
        if (!classes[k].mallocs && !classes[k].out)
            break;
        table_add(&table, "%u", now->view->header->class_size[classes[k].bin + 1]);
        add_rate(&table, classes[k].mallocs, seconds);
        add_rate(&table, classes[k].frees, seconds);
        table_add(&table, "%llu", (unsigned long long)classes[k].out);
    }
    table_print(&table, "Busiest size classes");
}

/* The heap profile's largest sites, by the first frame a symbol names
 * (stats --pid shows their whole stacks). */
static void print_sites(const struct tca_stats *now)
{
    struct table table = {.ncolumns = 4};
    table_add(&table, "#");
    table_add(&table, "bytes");
    table_add(&table, "blocks");
    table_add(&table, "allocated in");
    for (unsigned i = 0; i < now->nsites && i < TOP_SITES; i++) {
        table_add(&table, "%u", i + 1);
        table_add(&table, "%.0f", now->sites[i].bytes);
        table_add(&table, "%.0f", now->sites[i].blocks);
        table_add(&table, "%s", site_first_named(&now->sites[i]));
    }
    if (now->nsites)
        table_print(&table, "Top allocation sites (heap profile estimates)");
    else
        printf("Top allocation sites (heap profile): none holds a sampled block\n");
}

static void print_frame(const struct attached *process, const struct tca_stats *now, const struct tca_stats *before,
                        double seconds, bool terminal)
{
    time_t wall = time(NULL);
    char clock[16];
    strftime(clock, sizeof clock, "%H:%M:%S", localtime(&wall));
    if (terminal)
        fputs("\033[H\033[J", stdout);
    printf("process %d, tcarena %s, %llu arenas, %s%s\n", process->pid, process->header.version,
           (unsigned long long)process->header.narenas, clock,
           seconds > 0 ? "" : " (rates from the next frame on)");
    print_totals(now, before, seconds);
    print_arenas(now, before, seconds);
    print_classes(now, before, seconds);
    if (now->prof_interval)
        print_sites(now);
    printf("thread caches are thread-local: not counted from outside the process\n%s", terminal ? "" : "\n");
}

int top_main(int argc, char **argv)
{
    const char *pid = NULL;
    double interval = 1;
    long count = -1;
    for (int c; (c = next_option(argc, argv, top_options)) != -1;) {
        char *end;
        switch (c) {
        case 'h':
            print_help(&top_command);
            return finish_output(0);
        case 'p':
            pid = optarg;
            break;
        case 'i':
            interval = strtod(optarg, &end);
            if (!*optarg || *end || !(interval >= 0.001 && interval <= 86400))
                usage_error("--interval=%s: not a number of seconds from 0.001 to 86400", optarg);
            break;
        case 'c':
            errno = 0;
            count = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || count < 1)
                usage_error("--count=%s: not a number of frames above 0", optarg);
            break;
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (!pid)
        usage_error("no process given (--pid=PID)");
    struct attached process;
    attach(&process, pid);
    struct tca_stats *now = attached_stats_new(&process), *before = attached_stats_new(&process);
    bool terminal = isatty(STDOUT_FILENO);
    struct symbols symbols = {0};
    double read_at = 0, seconds = 0;
    for (long frame = 0; count < 0 || frame < count; frame++) {
        if (frame && !attached_wait(&process, (unsigned)(interval * 1000))) {
            printf("process %d ended\n", process.pid);
            break;
        }
        attached_read(&process, now);
        attached_read_sites(&process, &symbols, false, now);
        double read_now = now_seconds();
        seconds = frame ? read_now - read_at : 0;
        print_frame(&process, now, frame ? before : now, seconds, terminal);
        if (fflush(stdout) != 0)
            break;
        struct tca_stats *swap = before;
        before = now;
        now = swap;
        read_at = read_now;
    }
    return finish_output(0);
}
