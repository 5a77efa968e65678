/* Process bootstrap: the entry points (malloc's miss path, the large and
 * aligned paths, ctl) call tca_bootstrap() before any lower layer's slow path. */
#ifndef TCA_BOOTSTRAP_H
#define TCA_BOOTSTRAP_H

#include "pageheap/common.h"

/* Initialises the allocator once; true when ready.  Never allocates through
 * malloc.  A thread that re-enters while initialising gets false (its
 * allocation fails with ENOMEM) instead of deadlocking on the boot lock. */
bool tca_bootstrap(void);

#endif
