/* Transfer caches: per size class, a bounded stack of free blocks between the
 * thread caches and the slabs.  A thread cache that overflows puts a batch
 * here with one copy, and one that runs dry takes a batch back, so blocks
 * that one thread frees and another (or the same one, later) allocates never
 * go through the slabs' bitmaps.  Only what the stack cannot hold reaches the
 * slabs.  One stack per class and NUMA node heap, shared by every arena. */
#ifndef TCA_TRANSFER_H
#define TCA_TRANSFER_H

#include "arenas/sizeclass.h"

/* Copies up to want blocks of class cls into out[]; returns how many. */
unsigned transfer_take(unsigned cls, int node, void **out, unsigned want);
/* Takes up to n blocks of class cls from blocks[]; returns how many it kept
 * (the caller flushes the rest to their slabs). */
unsigned transfer_put(unsigned cls, int node, void *const *blocks, unsigned n);
/* Whether block (of class cls) waits in some transfer cache. */
bool transfer_holds(unsigned cls, const void *block);
/* Hands to flush, in batches, the blocks that sat unused since the last call
 * (all with all), so that idle processes give their memory back: the arenas
 * pass their flush to the slabs (this layer's files call no arena code). */
typedef void transfer_flush_fn(unsigned cls, void *const *blocks, unsigned n);
void transfer_decay(bool all, transfer_flush_fn *flush);
/* Bytes of blocks waiting in transfer caches. */
size_t transfer_cached_bytes(void);

void transfer_fork_prepare(void);
void transfer_fork_parent(void);
void transfer_fork_child(void);

#endif
