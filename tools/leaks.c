/* tcarena run --leaks: the report of what a program still held at exit, by
 * call site, read from the heap profile the library wrote then.
 *
 * The profile holds sampled figures per stack and the process's memory map;
 * each stack's figures are scaled up and its frames named as sites.h says. */
#include "sites.h"
#include "tcarena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sites printed, and frames printed per site. */
#define SITES_SHOWN 10
#define FRAMES_SHOWN 8

struct profile {
    double interval;
    struct stats_site *sites;
    size_t nsites;
    struct symbols symbols;
};

/* ---- Reading the profile ---- */

/* "<n>: <bytes> [<n>: <bytes>] @ 0x.. 0x.." with frames kept as call sites. */
static bool read_stack_line(struct profile *profile, char *line)
{
    unsigned long long live_n, live_bytes, total_n, total_bytes;
    int used = 0;
    if (sscanf(line, " %llu: %llu [ %llu: %llu] @%n", &live_n, &live_bytes, &total_n, &total_bytes, &used) != 4 ||
        !used)
        return false;
    if (!live_n)
        return true;
    struct stats_site site = {0};
    for (char *word = strtok(line + used, " \n"); word; word = strtok(NULL, " \n")) {
        site.frames = xrealloc(site.frames, (site.depth + 1) * sizeof *site.frames);
        /* The first frame is written as a call site already (pprof's way). */
        site.frames[site.depth] = strtoull(word, NULL, 16) - (site.depth != 0);
        site.depth++;
    }
    site_estimate(&site, live_n, live_bytes, profile->interval);
    profile->sites = xrealloc(profile->sites, (profile->nsites + 1) * sizeof *profile->sites);
    profile->sites[profile->nsites++] = site;
    return true;
}

static bool read_profile(FILE *file, struct profile *profile)
{
    char *line = NULL;
    size_t cap = 0;
    bool in_maps = false, header = false;
    while (getline(&line, &cap, file) > 0) {
        const char *rate = strstr(line, "@ heap_v2/");
        if (!header) {
            header = !strncmp(line, "heap profile:", 13) && rate;
            if (!header)
                break;
            profile->interval = strtod(rate + 10, NULL);
        } else if (!strncmp(line, "MAPPED_LIBRARIES:", 17)) {
            in_maps = true;
        } else if (in_maps) {
            symbols_add_map_line(&profile->symbols, line);
        } else if (line[0] != '\n' && !read_stack_line(profile, line)) {
            header = false;
            break;
        }
    }
    free(line);
    return header && profile->interval > 0;
}

/* ---- The report ---- */

/* "12.3 MiB", "456 bytes" */
static const char *human(double bytes, char *text, size_t len)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    unsigned unit = 0;
    for (; bytes >= 1024 && unit < 4; unit++)
        bytes /= 1024;
    snprintf(text, len, unit ? "%.1f %s" : "%.0f %s", bytes, units[unit]);
    return text;
}

static void print_site(FILE *out, const struct stats_site *site, unsigned rank, double total)
{
    char size[32];
    fprintf(out, "#%u  %s (%.0f bytes, %.0f%%) in %.0f block%s, allocated at\n", rank,
            human(site->bytes, size, sizeof size), site->bytes, 100 * site->bytes / total, site->blocks,
            site->blocks >= 1.5 ? "s" : "");
    for (size_t f = 0; f < site->depth && f < FRAMES_SHOWN; f++)
        fprintf(out, "      %s\n", site->labels[f]);
    if (site->depth > FRAMES_SHOWN)
        fprintf(out, "      ... %zu more frames\n", site->depth - FRAMES_SHOWN);
}

int leaks_report(const char *path, const char *program, long pid, FILE *out)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        say("%s (pid %ld) wrote no leak profile (it did not exit normally, or cannot write %s)", program, pid, path);
        return -1;
    }
    struct profile profile = {0};
    bool read = read_profile(file, &profile);
    fclose(file);
    if (!read) {
        say("%s: not a heap profile tcarena can read", path);
        return -1;
    }
    profile.nsites = sites_name(&profile.symbols, profile.sites, profile.nsites, true);
    double bytes = 0, blocks = 0;
    for (size_t i = 0; i < profile.nsites; i++)
        bytes += profile.sites[i].bytes, blocks += profile.sites[i].blocks;
    char size[32], interval[32];
    human(profile.interval, interval, sizeof interval);
    if (!profile.nsites) {
        fprintf(out, "%s: %s (pid %ld) held no sampled block at exit (one sampled per %s allocated, on average)\n",
                tool_name, program, pid, interval);
        return 0;
    }
    fprintf(out, "%s: %s (pid %ld) still held about %s in about %.0f blocks at exit, from %zu call site%s\n",
            tool_name, program, pid, human(bytes, size, sizeof size), blocks, profile.nsites,
            profile.nsites > 1 ? "s" : "");
    for (size_t i = 0; i < profile.nsites && i < SITES_SHOWN; i++)
        print_site(out, &profile.sites[i], (unsigned)i + 1, bytes);
    if (profile.nsites > SITES_SHOWN)
        fprintf(out, "... and %zu more call sites\n", profile.nsites - SITES_SHOWN);
    fprintf(out, "(Estimates from samples: one sample per %s allocated, on average.)\n", interval);
    return 0;
}
