/* The background purge thread (option background_thread): it runs the page
 * heap's decay on a timer, so a process that went idle still shrinks, and
 * gives back the arenas' spare slabs that stayed unused.  It is created
 * lazily, once the heap has grown big enough, from a slow path that holds
 * no lock (never from the first malloc: the polls come before its work). */
#ifndef TCA_BACKGROUND_H
#define TCA_BACKGROUND_H

#include "pageheap.h"

void background_start(void);

/* For slow paths that hold no lock and whose thread cache is consistent:
 * creating a thread allocates. */
TCA_INLINE void background_poll(void)
{
    if (TCA_UNLIKELY(__atomic_load_n(&pageheap_background_wanted, __ATOMIC_RELAXED)))
        background_start();
}

#endif
