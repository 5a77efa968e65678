/* Internal metadata allocator: bump allocation from mmap'd chunks, never freed.
 * Span records, arenas, thread caches' slot arrays, topology tables and the
 * statistics snapshot live here, never in malloc. */
#ifndef TCA_BASE_H
#define TCA_BASE_H

#include "pageheap/common.h"

/* Zeroed, cache-line aligned memory; NULL when the OS refuses. */
void *base_alloc(size_t size);
size_t base_mapped_bytes(void);
/* Counts the bytes mapped in *mapped_bytes from now on (the statistics page),
 * during bootstrap. */
void base_boot(uint64_t *mapped_bytes);
void base_fork_prepare(void);
void base_fork_parent(void);
void base_fork_child(void);

#endif
