/* Printing a snapshot as aligned text, JSON or Prometheus' text exposition
 * format.  Printing never allocates: text is built in a stack buffer and
 * handed to the caller's callback a chunk at a time, so it works at exit,
 * from a signal-free context inside a broken heap, and with a callback that
 * itself allocates.  What the figures mean (the version, the options, the
 * size classes, the arenas' CPUs) comes from the page the snapshot was read
 * from: built into the tcarena command too, this prints another process's
 * statistics as that process would, and the heap profile's top sites when
 * that reader named them. */
#include "src/stats_print.h"

#include <string.h>

#include "pageheap/os.h"

void stats_format_arena_cpus(const struct topology_placement *placement, unsigned arena, char *buf, size_t len)
{
    unsigned cpus[TOPOLOGY_MAX_CPUS];
    size_t count = topology_placement_cpus(placement, arena, cpus, TOPOLOGY_MAX_CPUS);
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        size_t run_end = i;
        while (run_end + 1 < count && cpus[run_end + 1] == cpus[run_end] + 1)
            run_end++;
        char item[56], digits[24];
        strcpy(item, i ? "," : "");
        strcat(item, os_format_u64(digits, cpus[i], 10));
        if (run_end > i) {
            strcat(item, "-");
            strcat(item, os_format_u64(digits, cpus[run_end], 10));
        }
        size_t item_len = strlen(item);
        if (used + item_len + 4 > len) {
            if (used + 4 <= len)
                strcpy(buf + used, "...");
            return;
        }
        memcpy(buf + used, item, item_len + 1);
        used += item_len;
        i = run_end;
    }
}

/* ---- Output: a stack buffer flushed through the callback. ---- */

struct out {
    void (*write_cb)(void *, const char *);
    void *cbopaque;
    size_t len;
    char buf[1024];
};

static void out_flush(struct out *out)
{
    if (!out->len)
        return;
    out->buf[out->len] = '\0';
    out->write_cb(out->cbopaque, out->buf);
    out->len = 0;
}

static void out_str(struct out *out, const char *text)
{
    for (; *text; text++) {
        if (out->len + 1 >= sizeof out->buf)
            out_flush(out);
        out->buf[out->len++] = *text;
    }
}

static void out_u64(struct out *out, uint64_t value)
{
    char digits[24];
    out_str(out, os_format_u64(digits, value, 10));
}

static void out_i64(struct out *out, int64_t value)
{
    if (value < 0)
        out_str(out, "-");
    out_u64(out, value < 0 ? -(uint64_t)value : (uint64_t)value);
}

/* text in a column width wide: right-aligned (numbers) or left-aligned (names). */
static void out_cell(struct out *out, const char *text, int width, bool right)
{
    int pad = width - (int)strlen(text);
    if (!right)
        out_str(out, text);
    for (; pad > 0; pad--)
        out_str(out, " ");
    if (right)
        out_str(out, text);
}

static void out_cell_u64(struct out *out, uint64_t value, int width)
{
    char digits[24];
    out_str(out, " ");
    out_cell(out, os_format_u64(digits, value, 10), width, true);
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void out_json_string(struct out *out, const char *text)
{
    out_str(out, "\"");
    for (; *text; text++) {
        unsigned char c = (unsigned char)*text;
        if (c == '"' || c == '\\') {
            char escaped[3] = {'\\', (char)c, '\0'};
            out_str(out, escaped);
        } else if (c < 0x20) {
            char escaped[7] = {'\\', 'u', '0', '0', "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15], '\0'};
            out_str(out, escaped);
        } else {
            char plain[2] = {(char)c, '\0'};
            out_str(out, plain);
        }
    }
    out_str(out, "\"");
}

/* An option's value as text; strings and choices quoted when json. */
static void out_option(struct out *out, const struct live_option *option, bool json)
{
    if (json && option->quoted)
        out_json_string(out, option->value);
    else
        out_str(out, option->value);
}

static bool bin_in_use(const struct bin_stats *bin) { return bin->nmalloc != 0; }

/* ---- Text ---- */

/* After the help of a value a reading from outside cannot know. */
#define THREAD_LOCAL_NOTE " (thread caches are thread-local: not readable outside the process)"

/* Wide enough for "0-15,32-47"; longer lists end in "..." (JSON has them whole). */
#define CPUS_COLUMN 16

static void print_text(struct out *out, const struct tca_stats *stats, uint64_t epoch, bool arenas, bool bins)
{
    const struct live_header *header = stats->view->header;
    out_str(out, "___ tcarena ");
    out_str(out, header->version);
    out_str(out, " statistics (epoch ");
    out_u64(out, epoch);
    out_str(out, ") ___\nTotals (bytes)\n");
    for (unsigned f = 0; f < stats_total_nfields; f++) {
        const struct stats_field *field = &stats_total_fields[f];
        out_str(out, "  ");
        out_cell(out, field->name, 14, false);
        if (stats_field_known(field, stats))
            out_cell_u64(out, stats_field_value(field, stats), 16);
        else
            out_cell(out, " unknown", 17, true);
        out_str(out, "  ");
        out_str(out, field->help);
        if (!stats_field_known(field, stats))
            out_str(out, THREAD_LOCAL_NOTE);
        out_str(out, "\n");
    }
    out_str(out, "Options\n");
    for (unsigned i = 0; i < header->noptions; i++) {
        out_str(out, "  ");
        out_cell(out, header->options[i].name, 18, false);
        out_str(out, " ");
        out_option(out, &header->options[i], false);
        out_str(out, "\n");
    }
    if (!arenas)
        return;
    out_str(out, "Arenas\n");
    out_cell(out, "arena", 7, true);
    out_cell(out, "numa", 6, true);
    out_str(out, "  ");
    out_cell(out, "cpus", CPUS_COLUMN, false);
    for (unsigned f = 0; f < stats_arena_nfields; f++) {
        out_str(out, " ");
        out_cell(out, stats_arena_fields[f].name, 15, true);
    }
    out_str(out, "\n");
    for (unsigned i = 0; i < stats->narenas; i++) {
        char cpus[CPUS_COLUMN + 1], digits[24];
        stats_format_arena_cpus(stats->view->placement, i, cpus, sizeof cpus);
        int node = topology_placement_numa_node(stats->view->placement, i);
        out_cell(out, os_format_u64(digits, i, 10), 7, true);
        out_cell(out, node < 0 ? "-" : os_format_u64(digits, (unsigned)node, 10), 6, true);
        out_str(out, "  ");
        out_cell(out, cpus[0] ? cpus : "-", CPUS_COLUMN, false);
        for (unsigned f = 0; f < stats_arena_nfields; f++)
            out_cell_u64(out, stats_field_value(&stats_arena_fields[f], &stats->arenas[i]), 15);
        out_str(out, "\n");
    }
    for (unsigned i = 0; bins && i < stats->narenas; i++) {
        const struct arena_stats *arena = &stats->arenas[i];
        bool header_done = false;
        for (unsigned j = 0; j < STATS_NBINS; j++) {
            if (!bin_in_use(&arena->bins[j]))
                continue;
            if (!header_done) {
                out_str(out, "Bins in use, arena ");
                out_u64(out, i);
                out_str(out, "\n    bin   size");
                for (unsigned f = 0; f < stats_bin_nfields; f++) {
                    out_str(out, " ");
                    out_cell(out, stats_bin_fields[f].name, 14, true);
                }
                out_str(out, "\n");
                header_done = true;
            }
            out_cell_u64(out, j, 6);
            out_cell_u64(out, header->class_size[j + 1], 6);
            for (unsigned f = 0; f < stats_bin_nfields; f++)
                out_cell_u64(out, stats_field_value(&stats_bin_fields[f], &arena->bins[j]), 14);
            out_str(out, "\n");
        }
    }
}

/* Frames printed per site as text (JSON has them all). */
#define SITE_FRAMES_SHOWN 8

static uint64_t rounded(double value) { return value > 0 ? (uint64_t)(value + 0.5) : 0; }

static void print_sites_text(struct out *out, const struct tca_stats *stats)
{
    out_str(out, "Top allocation sites (heap profile: estimates from one sample per ");
    out_u64(out, stats->prof_interval);
    out_str(out, " bytes allocated, on average)\n");
    if (!stats->nsites)
        out_str(out, "  none: the process holds no sampled block\n");
    for (unsigned i = 0; i < stats->nsites; i++) {
        const struct stats_site *site = &stats->sites[i];
        out_str(out, "  #");
        out_u64(out, i + 1);
        out_str(out, "  ");
        out_u64(out, rounded(site->bytes));
        out_str(out, " bytes in ");
        out_u64(out, rounded(site->blocks));
        out_str(out, rounded(site->blocks) == 1 ? " block, allocated at\n" : " blocks, allocated at\n");
        for (size_t f = 0; f < site->depth && f < SITE_FRAMES_SHOWN; f++) {
            out_str(out, "        ");
            out_str(out, site->labels[f]);
            out_str(out, "\n");
        }
        if (site->depth > SITE_FRAMES_SHOWN) {
            out_str(out, "        ... ");
            out_u64(out, site->depth - SITE_FRAMES_SHOWN);
            out_str(out, " more frames\n");
        }
    }
}

/* ---- JSON: one object, keys in a fixed order. ---- */

/* A value a reading from outside cannot know is null. */
static void json_fields(struct out *out, const struct stats_field *fields, unsigned nfields, const void *record,
                        const struct tca_stats *stats)
{
    for (unsigned f = 0; f < nfields; f++) {
        out_str(out, f ? ",\"" : "\"");
        out_str(out, fields[f].name);
        out_str(out, "\":");
        if (stats_field_known(&fields[f], stats))
            out_u64(out, stats_field_value(&fields[f], record));
        else
            out_str(out, "null");
    }
}

static void json_sites(struct out *out, const struct tca_stats *stats)
{
    out_str(out, ",\n\"top_sites\":[");
    for (unsigned i = 0; i < stats->nsites; i++) {
        const struct stats_site *site = &stats->sites[i];
        out_str(out, i ? ",\n{\"bytes\":" : "\n{\"bytes\":");
        out_u64(out, rounded(site->bytes));
        out_str(out, ",\"blocks\":");
        out_u64(out, rounded(site->blocks));
        out_str(out, ",\"frames\":[");
        for (size_t f = 0; f < site->depth; f++) {
            out_str(out, f ? "," : "");
            out_json_string(out, site->labels[f]);
        }
        out_str(out, "]}");
    }
    out_str(out, "]");
}

static void print_json(struct out *out, const struct tca_stats *stats, uint64_t epoch, bool arenas, bool bins)
{
    const struct live_header *header = stats->view->header;
    out_str(out, "{\"tcarena\":{\"version\":");
    out_json_string(out, header->version);
    out_str(out, ",\"epoch\":");
    out_u64(out, epoch);
    out_str(out, ",\n\"options\":{");
    for (unsigned i = 0; i < header->noptions; i++) {
        out_str(out, i ? ",\"" : "\"");
        out_str(out, header->options[i].name);
        out_str(out, "\":");
        out_option(out, &header->options[i], true);
    }
    out_str(out, "},\n\"totals\":{");
    json_fields(out, stats_total_fields, stats_total_nfields, stats, stats);
    out_str(out, "},\n\"arenas\":[");
    for (unsigned i = 0; arenas && i < stats->narenas; i++) {
        const struct arena_stats *arena = &stats->arenas[i];
        char cpus[256];
        stats_format_arena_cpus(stats->view->placement, i, cpus, sizeof cpus);
        out_str(out, i ? ",\n{\"index\":" : "\n{\"index\":");
        out_u64(out, i);
        out_str(out, ",\"cpus\":");
        out_json_string(out, cpus);
        out_str(out, ",\"numa_node\":");
        out_i64(out, topology_placement_numa_node(stats->view->placement, i));
        out_str(out, ",");
        json_fields(out, stats_arena_fields, stats_arena_nfields, arena, stats);
        out_str(out, ",\"bins\":[");
        bool first = true;
        for (unsigned j = 0; bins && j < STATS_NBINS; j++) {
            if (!bin_in_use(&arena->bins[j]))
                continue;
            out_str(out, first ? "\n {\"bin\":" : ",\n {\"bin\":");
            first = false;
            out_u64(out, j);
            out_str(out, ",\"size\":");
            out_u64(out, header->class_size[j + 1]);
            out_str(out, ",");
            json_fields(out, stats_bin_fields, stats_bin_nfields, &arena->bins[j], stats);
            out_str(out, "}");
        }
        out_str(out, "]}");
    }
    out_str(out, "]");
    if (stats->prof_interval)
        json_sites(out, stats);
    out_str(out, "}}\n");
}

/* ---- Prometheus text exposition: one family per field, samples grouped. ---- */

/* prefix + name + the unit suffix Prometheus' conventions ask for. */
static void prometheus_name(struct out *out, const char *prefix, const struct stats_field *field)
{
    size_t len = strlen(field->name);
    bool says_bytes = len > 6 && !strcmp(field->name + len - 6, "_bytes");
    out_str(out, prefix);
    out_str(out, field->name);
    if (field->kind == FIELD_BYTES && !says_bytes)
        out_str(out, "_bytes");
    else if (field->kind == FIELD_COUNTER)
        out_str(out, "_total");
}

static void prometheus_family(struct out *out, const char *prefix, const struct stats_field *field)
{
    for (int line = 0; line < 2; line++) {
        out_str(out, line ? "# TYPE " : "# HELP ");
        prometheus_name(out, prefix, field);
        out_str(out, " ");
        out_str(out, line ? (field->kind == FIELD_COUNTER ? "counter" : "gauge") : field->help);
        out_str(out, "\n");
    }
}

static void prometheus_sample(struct out *out, const char *prefix, const struct stats_field *field,
                              const void *record, const char *labels)
{
    prometheus_name(out, prefix, field);
    out_str(out, labels);
    out_str(out, " ");
    out_u64(out, stats_field_value(field, record));
    out_str(out, "\n");
}

/* {arena="i"} or {arena="i",bin="j",size="s"} */
static void prometheus_labels(char *labels, const struct live_header *header, unsigned arena, int bin)
{
    char digits[24];
    strcpy(labels, "{arena=\"");
    strcat(labels, os_format_u64(digits, arena, 10));
    if (bin >= 0) {
        strcat(labels, "\",bin=\"");
        strcat(labels, os_format_u64(digits, (unsigned)bin, 10));
        strcat(labels, "\",size=\"");
        strcat(labels, os_format_u64(digits, header->class_size[bin + 1], 10));
    }
    strcat(labels, "\"}");
}

/* A label's value: backslashes, quotes and line ends escaped. */
static void prometheus_label_value(struct out *out, const char *text)
{
    for (; *text; text++) {
        char c[3] = {*text, '\0', '\0'};
        if (*text == '\\' || *text == '"' || *text == '\n')
            c[0] = '\\', c[1] = *text == '\n' ? 'n' : *text;
        out_str(out, c);
    }
}

/* A gauge per top site, labelled with its rank and its first frame. */
static void prometheus_sites(struct out *out, const struct tca_stats *stats)
{
    static const char *const names[] = {"tcarena_prof_site_bytes", "tcarena_prof_site_blocks"};
    static const char *const helps[] = {
        "Estimated bytes held by one of the heap profile's top allocation sites",
        "Estimated blocks held by one of the heap profile's top allocation sites",
    };
    for (unsigned k = 0; k < 2 && stats->nsites; k++) {
        out_str(out, "# HELP ");
        out_str(out, names[k]);
        out_str(out, " ");
        out_str(out, helps[k]);
        out_str(out, "\n# TYPE ");
        out_str(out, names[k]);
        out_str(out, " gauge\n");
        for (unsigned i = 0; i < stats->nsites; i++) {
            const struct stats_site *site = &stats->sites[i];
            out_str(out, names[k]);
            out_str(out, "{rank=\"");
            out_u64(out, i + 1);
            out_str(out, "\",site=\"");
            prometheus_label_value(out, site->depth ? site->labels[0] : "?");
            out_str(out, "\"} ");
            out_u64(out, rounded(k ? site->blocks : site->bytes));
            out_str(out, "\n");
        }
    }
}

/* A value a reading from outside cannot know has no family, and a comment
 * says why. */
static void print_prometheus(struct out *out, const struct tca_stats *stats, bool arenas, bool bins)
{
    const struct live_header *header = stats->view->header;
    char labels[96];
    for (unsigned f = 0; f < stats_total_nfields; f++) {
        const struct stats_field *field = &stats_total_fields[f];
        if (!stats_field_known(field, stats)) {
            out_str(out, "# ");
            prometheus_name(out, "tcarena_", field);
            out_str(out, " unknown" THREAD_LOCAL_NOTE "\n");
            continue;
        }
        prometheus_family(out, "tcarena_", field);
        prometheus_sample(out, "tcarena_", field, stats, "");
    }
    for (unsigned f = 0; arenas && f < stats_arena_nfields; f++) {
        prometheus_family(out, "tcarena_arena_", &stats_arena_fields[f]);
        for (unsigned i = 0; i < stats->narenas; i++) {
            prometheus_labels(labels, header, i, -1);
            prometheus_sample(out, "tcarena_arena_", &stats_arena_fields[f], &stats->arenas[i], labels);
        }
    }
    for (unsigned f = 0; arenas && bins && f < stats_bin_nfields; f++) {
        prometheus_family(out, "tcarena_bin_", &stats_bin_fields[f]);
        for (unsigned i = 0; i < stats->narenas; i++)
            for (unsigned j = 0; j < STATS_NBINS; j++) {
                if (!bin_in_use(&stats->arenas[i].bins[j]))
                    continue;
                prometheus_labels(labels, header, i, (int)j);
                prometheus_sample(out, "tcarena_bin_", &stats_bin_fields[f], &stats->arenas[i].bins[j], labels);
            }
    }
}

void stats_print(const struct tca_stats *stats, uint64_t epoch, void (*write_cb)(void *, const char *),
                 void *cbopaque, const char *opts)
{
    struct out out = {.write_cb = write_cb, .cbopaque = cbopaque};
    opts = opts ? opts : "";
    bool arenas = !strchr(opts, 'a'), bins = !strchr(opts, 'b');
    if (strchr(opts, 'J')) {
        print_json(&out, stats, epoch, arenas, bins);
    } else if (strchr(opts, 'P')) {
        print_prometheus(&out, stats, arenas, bins);
        prometheus_sites(&out, stats);
    } else {
        print_text(&out, stats, epoch, arenas, bins);
        if (stats->prof_interval)
            print_sites_text(&out, stats);
    }
    out_flush(&out);
}
