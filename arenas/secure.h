/* The secure build (meson -Dsecure=true): each slab is followed by a guard
 * page, a slab hands out its free blocks in random order, and a freed block
 * waits in its bin's quarantine before its slot can be handed out again.  The
 * thread cache stays in bypass mode there, so every malloc and free reaches
 * the arena, whose checks (invalid pointer, double free, also of a block in
 * quarantine) then run at the free call itself.  None of this is compiled
 * into the default build. */
#ifndef TCA_SECURE_H
#define TCA_SECURE_H

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
/* The child of fork() draws slot orders of its own, not its parent's. */
void secure_fork_child(void);
/* Picks a free slot (a set bit of free_slots, of nslots) at random, marks it
 * used and returns its index; one must be free. */
unsigned secure_take_random_slot(uint64_t *free_slots, unsigned nslots);
/* Whether block (a block of one of the bin's slabs) is in its quarantine. */
bool secure_quarantined(const struct secure_quarantine *quarantine, const void *block);
/* Puts block in quarantine, which writes a mark into its first word; returns
 * the block it pushed out (to be freed for real), or NULL while the ring is
 * not full yet. */
void *secure_quarantine_push(struct secure_quarantine *quarantine, void *block);
/* Whether a block in quarantine still holds its mark.  A block whose mark was
 * overwritten (a write after free) could be freed twice unseen, so it must not
 * leave quarantine. */
bool secure_quarantine_mark_intact(const void *block);

#endif
