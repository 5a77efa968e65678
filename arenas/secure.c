/* The secure build's guard pages, random slot choice and quarantine (see secure.h). */
#include "arenas/secure.h"

#include "arenas/sizeclass.h"
#include "pageheap/os.h"
#include "pageheap/pagemap.h"

static __thread uint64_t random_state __attribute__((tls_model("initial-exec")));

/* xorshift64*: unpredictable enough that an attacker cannot place blocks
 * next to each other by allocation order, and a few cycles per draw. */
static uint64_t random_next(void)
{
    uint64_t x = random_state;
    if (TCA_UNLIKELY(x == 0))
        x = (os_random_u64() ^ (uintptr_t)&random_state) | 1; /* one seed per thread */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    random_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

void secure_fork_child(void) { random_state = 0; }

static uintptr_t guard_page_of(const struct span *slab)
{
    return slab->start + ((uintptr_t)sizeclass_table[slab->sizeclass].slab_pages << TCA_PAGE_SHIFT);
}

struct span *secure_slab_alloc(unsigned cls, int node)
{
    struct span *slab = pageheap_alloc_span(sizeclass_table[cls].slab_pages + 1, sizeclass_table[cls].slab_align_pages, cls, node);
    if (!slab)
        return NULL;
    uintptr_t guard = guard_page_of(slab);
    /* Each guard splits a mapping in three: the kernel's mapping limit is the
     * limit on slabs here, and reaching it is running out of memory. */
    if (!os_protect((void *)guard, TCA_PAGE_SIZE, false)) {
        pageheap_free_span(slab);
        return NULL;
    }
    /* Class 0, the span still the slab's: free() of a pointer into the guard
     * page finds no large block starting there and aborts as an invalid free.
     * Only the class byte is written: the page heap reads the span entries of
     * its spans' neighbours under its own lock. */
    pagemap_set_class(guard, 0);
    return slab;
}

void secure_slab_unguard(struct span *slab)
{
    /* Lifting the protection merges the mappings back, which needs no new one;
     * should the kernel still refuse, the page heap must not reuse the page. */
    if (!os_protect((void *)guard_page_of(slab), TCA_PAGE_SIZE, true))
        os_fatal_pointer("cannot lift the guard page after the slab at", (void *)slab->start, 0);
}

/* The first free slot from a random one on, wrapping around (hardened_malloc's
 * choice): slots after a run of used ones come up more often than others, but
 * a uniform pick costs a count of every word.  Marks it used; one must be free. */
static unsigned take_random_slot(uint64_t *free_slots, unsigned nslots)
{
    unsigned start = (unsigned)(((random_next() >> 32) * nslots) >> 32);
    unsigned nwords = (nslots + 63) / 64, word = start / 64;
    uint64_t bits = free_slots[word] & (~(uint64_t)0 << (start % 64));
    while (!bits) {
        word = word + 1 < nwords ? word + 1 : 0;
        bits = free_slots[word];
    }
    unsigned bit = (unsigned)__builtin_ctzll(bits);
    free_slots[word] &= ~((uint64_t)1 << bit);
    return word * 64 + bit;
}

/* Random free blocks: where the next block lies cannot be told from the last. */
unsigned secure_slab_take(struct span *slab, size_t size, void **out, unsigned want)
{
    unsigned got = 0;
    for (unsigned nslots = sizeclass_table[slab->sizeclass].nslots; got < want && slab->nfree; got++, slab->nfree--)
        out[got] = (void *)(slab->blocks + take_random_slot(slab->free_slots, nslots) * size);
    return got;
}

/* Written into the first word of a block entering quarantine: a block without
 * it is not there, and only one with it costs a look through the ring. */
static uint64_t quarantine_mark(const void *block) { return (uintptr_t)block ^ 0x9e3779b97f4a7c15ull; }

/* A block whose mark was overwritten (a write after free) could be freed
 * twice unseen, so it must not leave quarantine. */
static bool quarantine_mark_intact(const void *block) { return *(const uint64_t *)block == quarantine_mark(block); }

static bool quarantined(const struct secure_quarantine *quarantine, const void *block)
{
    if (!quarantine_mark_intact(block))
        return false;
    for (unsigned i = 0; i < SECURE_QUARANTINE_LEN; i++)
        if (quarantine->blocks[i] == block)
            return true;
    return false;
}

/* Puts block in quarantine, writing the mark into its first word; returns the
 * block it pushed out, or NULL while the ring is not full yet. */
static void *quarantine_push(struct secure_quarantine *quarantine, void *block)
{
    void *oldest = quarantine->blocks[quarantine->oldest];
    *(uint64_t *)block = quarantine_mark(block);
    quarantine->blocks[quarantine->oldest] = block;
    quarantine->oldest = (quarantine->oldest + 1) % SECURE_QUARANTINE_LEN;
    return oldest;
}

static _Noreturn __attribute__((cold)) void swap_abort(pthread_mutex_t *bin_lock, const char *what, const void *ptr,
                                                       size_t class_size)
{
    pthread_mutex_unlock(bin_lock);
    os_fatal_pointer(what, ptr, class_size);
}

void *secure_quarantine_swap(struct secure_quarantine *quarantine, pthread_mutex_t *bin_lock,
                             const struct span *slab, void *block)
{
    unsigned cls = slab->sizeclass;
    uint32_t slot = sizeclass_slot_of_offset(cls, (uintptr_t)block - slab->blocks);
    if (slot >= sizeclass_table[cls].nslots)
        swap_abort(bin_lock, "free(): invalid pointer", block, 0);
    if ((slab->free_slots[slot / 64] & ((uint64_t)1 << (slot % 64))) || quarantined(quarantine, block))
        swap_abort(bin_lock, "double free of", block, sizeclass_size(cls));
    void *leaving = quarantine_push(quarantine, block);
    if (leaving && !quarantine_mark_intact(leaving))
        swap_abort(bin_lock, "write after free of", leaving, sizeclass_size(cls));
    return leaving;
}
