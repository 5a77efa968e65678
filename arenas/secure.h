/* The secure build (meson -Dsecure=true): each slab is followed by a guard
 * page, a slab hands out its free blocks in random order, and a freed block
 * waits in its bin's quarantine before its slot can be handed out again.  The
 * thread cache stays in bypass mode there, so every malloc and free reaches
 * the arena, whose checks (invalid pointer, double free, also of a block in
 * quarantine) then run at the free call itself.
 *
 * None of this is compiled into the default build: arena.c calls these
 * functions under if (TCA_SECURE), which the compiler drops there, and
 * secure.c is built only for the secure build. */
#ifndef TCA_SECURE_H
#define TCA_SECURE_H

#include <pthread.h>

#include "pageheap/pageheap.h"

/* Freed blocks a bin holds back: a block becomes reusable only after this
 * many later frees of its class in its arena. */
#define SECURE_QUARANTINE_LEN 64

/* A FIFO ring, under its bin's lock; empty entries are NULL. */
struct secure_quarantine {
    void *blocks[SECURE_QUARANTINE_LEN];
    uint32_t oldest; /* the entry the next push replaces */
};

/* A slab of class cls from node's page heap (-1: the default) with one
 * inaccessible page after its blocks (the pagemap sees that page as no
 * block); NULL when out of memory. */
struct span *secure_slab_alloc(unsigned cls, int node);
/* Makes a slab's guard page accessible again, before it goes back to the page heap. */
void secure_slab_unguard(struct span *slab);
/* Takes up to want of the slab's free blocks (of size bytes) into out[], each
 * the first free one from a random slot on; returns how many. */
unsigned secure_slab_take(struct span *slab, size_t size, void **out, unsigned want);
/* Puts block, a block of slab being freed, in quarantine once it is known to
 * be a block in use, and returns the block it pushed out (to go back to its
 * slab), or NULL while the ring is not full yet.  Aborts, with bin_lock (held)
 * released, on a pointer that is no block, a double free (also of a block in
 * quarantine), and a write into the block leaving quarantine. */
void *secure_quarantine_swap(struct secure_quarantine *quarantine, pthread_mutex_t *bin_lock,
                             const struct span *slab, void *block);
/* The child of fork() draws slot orders of its own, not its parent's. */
void secure_fork_child(void);

#endif
