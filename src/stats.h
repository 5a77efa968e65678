/* Statistics: a snapshot assembled from the counters each layer keeps under the
 * locks it already takes; nothing here touches a fast path. */
#ifndef TCA_STATS_H
#define TCA_STATS_H

#include "common.h"

struct tca_stats {
    size_t allocated; /* bytes in blocks the program holds */
    size_t active;    /* bytes in pages holding slabs or large blocks */
    size_t metadata;  /* bytes of internal metadata mapped */
    size_t resident;  /* upper bound of bytes in RAM */
    size_t mapped;    /* bytes mapped from the OS */
    size_t returned;  /* bytes given back with madvise and still mapped */
    size_t cached;    /* bytes sitting in thread caches */
};

void stats_collect(struct tca_stats *out);
void stats_print_at_exit(void);

#endif
