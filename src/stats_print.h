/* The statistics' three output formats (see stats_print.c). */
#ifndef TCA_STATS_PRINT_H
#define TCA_STATS_PRINT_H

#include "src/stats.h"

/* Writes stats in the format opts asks for (see tca_stats_print), through
 * write_cb, without allocating. */
void stats_print(const struct tca_stats *stats, uint64_t epoch, void (*write_cb)(void *, const char *),
                 void *cbopaque, const char *opts);

/* "0-3,8": the CPUs that arena serves by placement, formatted into buf (at
 * least 2 bytes; a list too long for it ends in "..."). */
void stats_format_arena_cpus(const struct topology_placement *placement, unsigned arena, char *buf, size_t len);

#endif
