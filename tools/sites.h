/* Call sites of a heap profile, named the way an operator reads them: from a
 * profile written at exit (leaks.c) or from a running process's statistics
 * page (stats --pid, top).  Frames are named from the ELF symbol tables of
 * the files the process maps (.symtab, else .dynsym), with file:line from
 * addr2line when it is installed and the file has debug information. */
#ifndef TCARENA_SITES_H
#define TCARENA_SITES_H

#include "src/stats.h"

/* A process's executable file mappings, and the ELF files read for them
 * (each read once, kept while the command runs). */
struct symbols {
    struct mapping *maps;
    size_t nmaps;
    struct object *objects;
    size_t nobjects;
    /* Where the mapped paths are opened: "" (this file system), or a running
     * process's root, "/proc/PID/root", so that a process in a container of
     * its own is named from its own files. */
    char root[32];
};

/* Adds one line in the format of /proc/PID/maps (executable mappings of
 * files are kept, others ignored). */
void symbols_add_map_line(struct symbols *symbols, const char *line);
/* Replaces the mappings with process pid's, now, its files to be opened
 * under its root; false when /proc/PID/maps cannot be read. */
bool symbols_read_maps(struct symbols *symbols, int pid);

/* A site's estimated figures from its samples (count blocks, bytes bytes)
 * taken one per interval bytes on average: each scaled up by the chance
 * that a block of their average size is sampled, as google-pprof does. */
void site_estimate(struct stats_site *site, uint64_t count, uint64_t bytes, double interval);

/* Readies sites (frames set, labels NULL) to be printed: drops the
 * allocator's entry points from the top of each, names every frame
 * ("function (file:line)" with source_lines and debug information, else
 * "function+0x1c (object)", or "0x7f... in object" where no symbol covers
 * it), merges sites whose frames read the same and sorts them, most bytes
 * first.  Returns how many sites remain. */
size_t sites_name(struct symbols *symbols, struct stats_site *sites, size_t n, bool source_lines);
/* The label of a site's first frame that a symbol names (else its first). */
const char *site_first_named(const struct stats_site *site);
/* Frees each site's frames and labels. */
void sites_free(struct stats_site *sites, size_t n);

#endif
