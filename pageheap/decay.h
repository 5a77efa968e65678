/* Decay (after jemalloc's): how many dirty pages a node heap may keep now.
 * Time is cut into DECAY_STEPS epochs per decay time, and each epoch counts
 * the pages freed in it.  The dirty pages allowed at any moment are those
 * counts weighted by a smoothstep curve of their age, from 1 (freed in this
 * epoch) to 0 (freed a decay time ago); the page heap returns what exceeds
 * that, least recently freed spans first.  A count, not a per-span age, so
 * that coalescing never changes when memory is due: a burst of frees is gone
 * one decay time later however its spans merged, and a steady state keeps
 * about half a decay time's worth of freed pages for reuse.
 *
 * The clock is os_clock_ms() (coarse, no system call).  A struct decay is
 * its heap's, under that heap's lock; the decay time is shared by all. */
#ifndef TCA_DECAY_H
#define TCA_DECAY_H

#include "pageheap/common.h"

#define DECAY_STEPS 20
/* The decay time until decay_set_ms() is called (the decay_ms option's default). */
#define DECAY_MS_DEFAULT 1000L

struct decay {
    uint64_t epoch_ms, epoch_end_ms; /* epoch_ms 0: not started yet */
    unsigned epoch;                  /* index of the current epoch in freed[] */
    size_t freed[DECAY_STEPS];       /* pages freed per epoch, the last DECAY_STEPS epochs */
};

/* The decay time in ms: dirty pages idle about this long go back to the OS;
 * 0 at once, -1 never.  Read without a lock. */
long decay_ms(void);
void decay_set_ms(long ms);

/* Starts decay's epochs at the decay time now, counting dirty_pages (all that
 * is dirty) as freed now: at a heap's first use, and when the time changes. */
void decay_restart(struct decay *decay, size_t dirty_pages);
TCA_INLINE void decay_start_once(struct decay *decay, size_t dirty_pages)
{
    if (TCA_UNLIKELY(!decay->epoch_ms))
        decay_restart(decay, dirty_pages);
}
/* Moves the epoch ring forward to now; true when an epoch ended. */
bool decay_advance(struct decay *decay);
TCA_INLINE void decay_count_freed(struct decay *decay, size_t npages) { decay->freed[decay->epoch] += npages; }
/* Pages freed in the last whole epoch. */
TCA_INLINE size_t decay_freed_last_epoch(const struct decay *decay)
{
    return decay->freed[(decay->epoch + DECAY_STEPS - 1) % DECAY_STEPS];
}
/* Dirty pages the curve allows now. */
size_t decay_dirty_allowed(const struct decay *decay);
/* Milliseconds until the current epoch ends (at least 1). */
uint64_t decay_ms_to_epoch_end(const struct decay *decay);

#endif
