/* tcarena stats: a running process's statistics (--pid), read from its
 * statistics page and printed by the library's own formatters, once, every
 * --interval seconds, or into a file rewritten while the process runs; or a
 * saved JSON dump (stats_format:json) as the tables an operator reads, the
 * shape tca_stats_print's JSON has (src/stats_print.c):
 *
 *   {"tcarena":{"version":"...","epoch":N,"options":{...},"totals":{...},
 *    "arenas":[{"index":0,"cpus":"0-3","numa_node":-1,...,"bins":[{...},...]},...]}}
 *
 * Keys are read by name and columns come from the first record, so fields
 * a newer library adds show up without a change here.  A damaged dump still
 * shows every row that reads well; the first bad byte is named at the end. */
#include "attach.h"
#include "json.h"
#include "src/stats_print.h"
#include "tcarena.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const struct command stats_command = {
    "stats", stats_main,
    "stats --pid=PID [--format=FORMAT] [--output=FILE] [--interval=SECONDS] | stats FILE",
    "With --pid: the statistics of running process PID, read from outside it (no\n"
    "restart, no debugger), in the format of the report at exit: text (the\n"
    "default), json or prometheus.  The bytes parked in thread caches are thread-\n"
    "local: they show as unknown (null in JSON, a comment in Prometheus' format).\n"
    "A process that runs the heap profiler (prof:true) also shows its top\n"
    "allocation sites: estimated bytes and blocks, and the stack, named from the\n"
    "files it maps (JSON: \"top_sites\"; Prometheus: tcarena_prof_site_bytes and\n"
    "tcarena_prof_site_blocks, labelled with the rank and the first frame).\n"
    "Only PID's own user and root may read them.\n"
    "\n"
    "  --pid=PID             the process, started under tcarena (run, LD_PRELOAD or linked)\n"
    "  --format=FORMAT       text, json or prometheus\n"
    "  --output=FILE         write to FILE instead of stdout, atomically (a temporary\n"
    "                        file FILE.tmp.N renamed over it); with --interval, FILE\n"
    "                        is rewritten while PID runs and removed when it ends,\n"
    "                        or when this command is stopped (node_exporter's\n"
    "                        textfile collector sees live figures, no stale file)\n"
    "  --interval=SECONDS    read again every SECONDS (decimals allowed) until PID ends;\n"
    "                        \"epoch\" counts this command's readings\n"
    "  -h, --help            this help\n"
    "\n"
    "With FILE: statistics dumps written with stats_format:json (tcarena run\n"
    "--stats=json) as tables: Totals, Options, Arenas and the bins in use in each\n"
    "arena.  FILE may hold several dumps in a row (processes sharing one\n"
    "stats_file); \"-\" reads standard input.  A damaged or cut-off file: every part\n"
    "that reads well is printed, then one line names the first bad byte and the key\n"
    "it is in.\n"
    "\n"
    "Exit status: 0; 2 for a bad invocation, a process that cannot be read (none,\n"
    "another user's, not running tcarena), a file that cannot be read, or damage.\n",
};

static const struct option stats_options[] = {
    {"pid", required_argument, NULL, 'p'},
    {"format", required_argument, NULL, 'f'},
    {"output", required_argument, NULL, 'o'},
    {"interval", required_argument, NULL, 'i'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* ---- A running process ---- */

static void write_stream(void *stream, const char *text) { fputs(text, stream); }

/* --output's file and the temporary file beside it, removed when the
 * command is stopped while it writes them. */
static const char *output_path, *temporary_path;

static void remove_output(void)
{
    if (temporary_path)
        unlink(temporary_path);
    if (output_path)
        unlink(output_path);
}

static void stop(int signal)
{
    (void)signal;
    remove_output();
    _exit(0);
}

/* One reading of process, printed to stdout or written over output. */
static void print_reading(const struct attached *process, struct tca_stats *stats, uint64_t epoch, const char *opts)
{
    FILE *to = stdout;
    if (output_path) {
        int fd = open(temporary_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || !(to = fdopen(fd, "w")))
            fail("%s: %s", temporary_path, strerror(errno));
    }
    static struct symbols symbols;
    attached_read(process, stats);
    attached_read_sites(process, &symbols, true, stats);
    stats_print(stats, epoch, write_stream, to, opts);
    if (!output_path)
        return;
    if (fclose(to) != 0 || rename(temporary_path, output_path) != 0) {
        int error = errno;
        unlink(temporary_path);
        fail("%s: %s", output_path, strerror(error));
    }
}

static int stats_of_process(const char *pid_text, const char *format, const char *output, double interval)
{
    static const char *const formats[] = {"text", "json", "prometheus"}, *const opts[] = {"", "J", "P"};
    unsigned chosen = 0;
    while (chosen < 3 && strcmp(format, formats[chosen]))
        chosen++;
    if (chosen == 3)
        usage_error("--format=%s: the formats are text, json and prometheus", format);
    struct attached process;
    attach(&process, pid_text);
    struct tca_stats *stats = attached_stats_new(&process);
    if (output) {
        output_path = output;
        temporary_path = xasprintf("%s.tmp.%d", output, (int)getpid());
        struct sigaction on_stop = {.sa_handler = stop};
        sigaction(SIGTERM, &on_stop, NULL);
        sigaction(SIGINT, &on_stop, NULL);
        sigaction(SIGHUP, &on_stop, NULL);
    }
    for (uint64_t epoch = 1;; epoch++) {
        print_reading(&process, stats, epoch, opts[chosen]);
        if (!interval)
            return finish_output(0);
        if (!output && (fflush(stdout) != 0 || ferror(stdout)))
            return finish_output(0);
        if (!attached_wait(&process, (unsigned)(interval * 1000)))
            break;
    }
    /* The process ended: a file left behind would show its last figures as live. */
    remove_output();
    return finish_output(0);
}

/* ---- A saved dump ---- */

/* The first bad thing in the file, by byte offset. */
static struct json_problem problem;

static const char *type_name(enum json_type type)
{
    static const char *const names[] = {
        [JSON_NULL] = "null", [JSON_BOOL] = "true or false", [JSON_NUMBER] = "a number",
        [JSON_STRING] = "a string", [JSON_ARRAY] = "an array", [JSON_OBJECT] = "an object",
    };
    return names[type];
}

/* node when it is a value of that type, else NULL.  An array or object cut
 * off by a syntax error still serves (its members before the cut are
 * whole), a cut-off scalar does not.  A wrong type is named; a cut-off
 * value is not (the syntax error that cut it is). */
static const struct json *expect(const struct json *node, enum json_type type, const char *path)
{
    if (node && node->type == type && (node->complete || type == JSON_ARRAY || type == JSON_OBJECT))
        return node;
    if (node && node->complete)
        json_problem_set(&problem, node->offset, path, "expected %s, found %s", type_name(type),
                         type_name(node->type));
    return NULL;
}

/* A member of a dump's section, as expect(); a missing one is named only
 * when the object around it is whole. */
static const struct json *member(const struct json *object, const char *key, enum json_type type,
                                 const char *object_path)
{
    char path[128];
    snprintf(path, sizeof path, "%s%s%s", object_path, *object_path ? "." : "", key);
    const struct json *found = json_member(object, key);
    if (!found && object->complete)
        json_problem_set(&problem, object->offset, object_path, "no key \"%s\"", key);
    return expect(found, type, path);
}

static bool is_cell(const struct json *node)
{
    return node->complete && (node->type == JSON_NUMBER || node->type == JSON_STRING);
}

/* A table cell: numbers as written, strings without their quotes. */
static void add_cell(struct table *table, const struct json *node)
{
    if (node->type == JSON_STRING)
        table_add(table, "%s", node->string);
    else
        table_add(table, "%.*s", (int)node->literal_len, node->literal);
}

/* Adds the keys of record's plain members (not arrays or objects, such as
 * an arena's bins) that columns lacks. */
static size_t add_columns(const char **columns, size_t ncolumns, const struct json *record)
{
    for (size_t i = 0; i < record->count; i++) {
        size_t c = 0;
        while (c < ncolumns && strcmp(columns[c], record->keys[i]))
            c++;
        if (c == ncolumns && record->items[i]->type != JSON_ARRAY && record->items[i]->type != JSON_OBJECT)
            columns[ncolumns++] = record->keys[i];
    }
    return ncolumns;
}

/* A row per record of an array of flat objects.  The columns are every key
 * of a plain member in any record, in the order they first appear, with
 * lead_key (when given) first under the header lead_header.  A record
 * missing a column or holding a bad value is left out and named. */
static void print_records(const struct json *records, const char *path, const char *title,
                          const char *lead_key, const char *lead_header)
{
    if (!records)
        return;
    size_t most = 1;
    for (size_t r = 0; r < records->count; r++)
        most += records->items[r]->type == JSON_OBJECT ? records->items[r]->count : 0;
    const char **columns = xrealloc(NULL, most * sizeof *columns);
    size_t ncolumns = 0;
    if (lead_key)
        columns[ncolumns++] = lead_key;
    for (size_t r = 0; r < records->count; r++)
        if (records->items[r]->type == JSON_OBJECT)
            ncolumns = add_columns(columns, ncolumns, records->items[r]);
    if (!ncolumns) {
        free(columns);
        return;
    }
    char record_path[128];
    struct table table = {.ncolumns = ncolumns};
    for (size_t c = 0; c < ncolumns; c++)
        table_add(&table, "%s", c == 0 && lead_key ? lead_header : columns[c]);
    for (size_t r = 0; r < records->count; r++) {
        snprintf(record_path, sizeof record_path, "%s[%zu]", path, r);
        const struct json *record = expect(records->items[r], JSON_OBJECT, record_path);
        const struct json *cells[ncolumns];
        size_t c = 0;
        for (; record && c < ncolumns; c++) {
            char cell_path[192];
            snprintf(cell_path, sizeof cell_path, "%s.%s", record_path, columns[c]);
            cells[c] = json_member(record, columns[c]);
            if (!cells[c] && record->complete)
                json_problem_set(&problem, record->offset, record_path, "no key \"%s\"", columns[c]);
            else if (cells[c] && cells[c]->complete && !is_cell(cells[c]))
                json_problem_set(&problem, cells[c]->offset, cell_path, "expected a number or a string, found %s",
                                 type_name(cells[c]->type));
            if (!cells[c] || !is_cell(cells[c]))
                break;
        }
        for (size_t i = 0; c == ncolumns && i < ncolumns; i++)
            add_cell(&table, cells[i]);
    }
    table_print(&table, title);
    free(columns);
}

/* "allocated  2671680  2.5": bytes and MiB. */
static void print_totals(const struct json *totals)
{
    struct table table = {.ncolumns = 3};
    table_add(&table, "%s", "");
    table_add(&table, "bytes");
    table_add(&table, "MiB");
    for (size_t i = 0; totals && i < totals->count; i++) {
        char path[128];
        snprintf(path, sizeof path, "tcarena.totals.%s", totals->keys[i]);
        if (totals->items[i]->complete && totals->items[i]->type == JSON_NULL) {
            /* read from outside the process: thread-local, unknown */
            table_add(&table, "%s", totals->keys[i]);
            table_add(&table, "unknown");
            table_add(&table, "-");
            continue;
        }
        const struct json *value = expect(totals->items[i], JSON_NUMBER, path);
        if (!value)
            continue;
        table_add(&table, "%s", totals->keys[i]);
        table_add(&table, "%.*s", (int)value->literal_len, value->literal);
        table_add(&table, "%.1f", strtod(value->literal, NULL) / 1048576);
    }
    table_print(&table, "Totals");
}

/* Options as JSON writes them: strings quoted. */
static void print_options(const struct json *options)
{
    struct table table = {.ncolumns = 2};
    table_add(&table, "option");
    table_add(&table, "value");
    for (size_t i = 0; options && i < options->count; i++) {
        const struct json *value = options->items[i];
        if (value->complete && (value->type == JSON_ARRAY || value->type == JSON_OBJECT)) {
            char path[128];
            snprintf(path, sizeof path, "tcarena.options.%s", options->keys[i]);
            json_problem_set(&problem, value->offset, path, "expected a number, a string, true or false, found %s",
                             type_name(value->type));
        }
        if (!value->complete || value->type == JSON_ARRAY || value->type == JSON_OBJECT)
            continue;
        table_add(&table, "%s", options->keys[i]);
        table_add(&table, "%.*s", (int)value->literal_len, value->literal);
    }
    table_print(&table, "Options");
}

static void print_dump(const struct json *root)
{
    if (root->type != JSON_OBJECT) {
        json_problem_set(&problem, root->offset, "", "not a tcarena dump: expected {\"tcarena\":{...}}, found %s",
                         type_name(root->type));
        return;
    }
    if (!json_member(root, "tcarena") && root->complete)
        json_problem_set(&problem, root->offset, "", "not a tcarena dump: no key \"tcarena\"");
    const struct json *dump = member(root, "tcarena", JSON_OBJECT, "");
    if (!dump)
        return;
    const struct json *version = member(dump, "version", JSON_STRING, "tcarena");
    const struct json *epoch = member(dump, "epoch", JSON_NUMBER, "tcarena");
    printf("tcarena %s statistics (epoch %.*s)\n", version ? version->string : "?",
           epoch ? (int)epoch->literal_len : 1, epoch ? epoch->literal : "?");
    print_totals(member(dump, "totals", JSON_OBJECT, "tcarena"));
    print_options(member(dump, "options", JSON_OBJECT, "tcarena"));
    const struct json *arenas = member(dump, "arenas", JSON_ARRAY, "tcarena");
    if (!arenas)
        return;
    print_records(arenas, "tcarena.arenas", "Arenas", "index", "arena");
    for (size_t i = 0; i < arenas->count; i++) {
        const struct json *arena = arenas->items[i];
        const struct json *index = arena->type == JSON_OBJECT ? json_member(arena, "index") : NULL;
        if (!index || !is_cell(index))
            continue; /* named by the Arenas table */
        char path[64], title[64];
        snprintf(path, sizeof path, "tcarena.arenas[%zu]", i);
        const struct json *bins = member(arena, "bins", JSON_ARRAY, path);
        if (!bins)
            continue;
        snprintf(path, sizeof path, "tcarena.arenas[%zu].bins", i);
        snprintf(title, sizeof title, "Bins in use, arena %.*s", (int)index->literal_len, index->literal);
        print_records(bins, path, title, NULL, NULL);
    }
}

/* The whole of FILE ("-": standard input), or an exit with one line. */
static char *read_file(const char *name, size_t *len)
{
    int fd = strcmp(name, "-") ? open(name, O_RDONLY | O_CLOEXEC) : 0;
    if (fd < 0)
        fail("%s", strerror(errno));
    size_t used = 0, capacity = 1 << 16;
    char *text = xrealloc(NULL, capacity);
    for (ssize_t got; (got = read(fd, text + used, capacity - used)) != 0;) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            fail("%s", strerror(errno));
        used += (size_t)got;
        if (used == capacity)
            text = xrealloc(text, capacity *= 2);
    }
    *len = used;
    return text;
}

int stats_main(int argc, char **argv)
{
    const char *pid = NULL, *format = NULL, *output = NULL, *interval_text = NULL;
    for (int c; (c = next_option(argc, argv, stats_options)) != -1;) {
        switch (c) {
        case 'h':
            print_help(&stats_command);
            return finish_output(0);
        case 'p': pid = optarg; break;
        case 'f': format = optarg; break;
        case 'o': output = optarg; break;
        case 'i': interval_text = optarg; break;
        }
    }
    if (pid && optind < argc)
        usage_error("unexpected argument '%s' (a FILE and --pid exclude each other)", argv[optind]);
    if (!pid && (format || output || interval_text))
        usage_error("--%s goes with --pid (a FILE is printed as tables)",
                    format ? "format" : output ? "output" : "interval");
    if (pid) {
        if (output && !*output)
            usage_error("--output= needs a path");
        double interval = 0;
        if (interval_text) {
            char *end;
            interval = strtod(interval_text, &end);
            if (!*interval_text || *end || !(interval >= 0.001 && interval <= 86400))
                usage_error("--interval=%s: not a number of seconds from 0.001 to 86400", interval_text);
        }
        return stats_of_process(pid, format ? format : "text", output, interval);
    }
    if (optind == argc)
        usage_error("no file given (or --pid)");
    if (argc - optind > 1)
        usage_error("unexpected argument '%s'", argv[optind + 1]);
    const char *name = argv[optind];
    /* Every message from here on is about the file: "tcarena stats FILE: ..." */
    tool_name = xasprintf("tcarena stats %s", name);

    size_t len, at = 0;
    char *text = read_file(name, &len);
    bool any = false;
    /* One dump, or several in a row; a syntax error ends the reading. */
    while (!json_at_end(text, len, &at)) {
        struct json *root = json_parse(text, len, &at, &problem);
        if (!root)
            break;
        print_dump(root);
        any = true;
        if (!root->complete)
            break;
    }
    if (!any && !problem.found)
        json_problem_set(&problem, 0, "", "no dump in it: the file is empty");
    int status = finish_output(0);
    if (!problem.found)
        return status;
    say("byte %zu%s%s%s: %s", problem.offset, problem.path[0] ? " (" : "", problem.path,
        problem.path[0] ? ")" : "", problem.what);
    return EXIT_USAGE;
}
