/* A running process's statistics page (src/live.h), found through
 * /proc/PID/fd and mapped read-only: what `tcarena stats --pid` and
 * `tcarena top` read.  The figures come from the library's own computation
 * and formatters (src/stats.c, src/stats_print.c, built into this command). */
#ifndef TCARENA_ATTACH_H
#define TCARENA_ATTACH_H

#include "sites.h"
#include "src/stats.h"

struct attached {
    int pid;
    int pidfd;                 /* readable once the process ends; -1 without pidfd_open */
    struct live_header header; /* a copy, checked once: it does not change */
    struct live_view view;     /* the header copy and the counters in the mapping */
    const void *map;
    size_t size;
};

/* Finds and maps process pid_text's page, or exits with one line and status
 * 2: not a process id, no such process, another user's, no tcarena in it,
 * the descriptor closed, another layout. */
void attach(struct attached *process, const char *pid_text);
/* A snapshot with room for every arena of process, and its filling. */
struct tca_stats *attached_stats_new(const struct attached *process);
void attached_read(const struct attached *process, struct tca_stats *stats);
/* The heap profiler's top sites into stats (sites, nsites, prof_interval:
 * 0 when the process does not profile), largest first, their frames named
 * from the files the process maps now (sites_name; a previous reading's
 * sites are freed). */
void attached_read_sites(const struct attached *process, struct symbols *symbols, bool source_lines,
                         struct tca_stats *stats);
/* Waits ms milliseconds, or less if the process ends: false when it did. */
bool attached_wait(const struct attached *process, unsigned ms);

#endif
