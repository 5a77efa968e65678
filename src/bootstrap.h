/* Process bootstrap: the first allocation of any thread calls tca_bootstrap(). */
#ifndef TCA_BOOTSTRAP_H
#define TCA_BOOTSTRAP_H

#include "pageheap/common.h"

/* Initialises the allocator once; true when ready.  Never allocates through
 * malloc.  A thread that re-enters while initialising gets false (and the
 * caller serves it without a thread cache) instead of deadlocking. */
bool tca_bootstrap(void);

#endif
