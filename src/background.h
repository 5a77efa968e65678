/* The background purge thread (option background_thread): it runs the page
 * heap's decay on a timer, so a process that went idle still shrinks, and
 * gives back the arenas' spare slabs that stayed unused.
 *
 * It is never created from inside malloc or free: glibc calls free while
 * holding locks that pthread_create takes (its stack cache's, when a thread's
 * TLS is freed), so a thread created there deadlocks.  It starts before main()
 * when TCARENA_CONF asks for it, or when a program writes true to the ctl
 * name "background_thread" (the program's own call: a safe point). */
#ifndef TCA_BACKGROUND_H
#define TCA_BACKGROUND_H

#include "pageheap/common.h"

/* Starts the thread unless it runs already; the caller has booted the allocator. */
void background_start(void);
bool background_running(void);

#endif
