/* The control interface's snapshot, for the entry points that report from it
 * (tca_stats_print, and glibc's mallinfo family in glibc_stats.c). */
#ifndef TCA_CTL_H
#define TCA_CTL_H

#include "src/stats.h"

/* Refreshes the statistics snapshot (as an "epoch" write does) and hands it
 * to reader under the ctl lock, which is recursive: reader may call tca_ctl
 * and allocate.  False when the allocator cannot start. */
bool ctl_read_snapshot(void (*reader)(const struct tca_stats *stats, uint64_t epoch, void *arg), void *arg);

#endif
