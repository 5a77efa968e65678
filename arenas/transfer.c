/* Transfer caches (see transfer.h). */
#include "arenas/transfer.h"

#include <pthread.h>
#include <string.h>

#include "pageheap/base.h"
#include "pageheap/pageheap.h"

/* A stack holds about this many bytes of blocks (16 to 4096 blocks): a few
 * thread-cache batches, so that a thread freeing what another allocates, or
 * a batch bigger than a thread cache, passes through without the slabs. */
#define TRANSFER_BYTES ((size_t)512 << 10)
#define TRANSFER_MIN_BLOCKS 16
/* A checked build looks for every freed block in the stacks (a double free
 * may hide there): short stacks keep that affordable. */
#define TRANSFER_MAX_BLOCKS (TCA_CHECKED ? 64 : 4096)

struct transfer_stack {
    pthread_mutex_t lock;
    unsigned count;     /* blocks in slots[0 .. count), oldest first */
    unsigned low_water; /* fewest blocks held since the last decay step */
    void **slots;       /* NULL until the first put */
} __attribute__((aligned(TCA_CACHELINE)));

static struct transfer_stack stacks[PAGEHEAP_NODES][TCA_NCLASSES];
static unsigned nodes_used = 1; /* stacks[0 .. nodes_used) may hold blocks */

static unsigned capacity_of(unsigned cls)
{
    size_t blocks = TRANSFER_BYTES / sizeclass_size(cls);
    return blocks < TRANSFER_MIN_BLOCKS ? TRANSFER_MIN_BLOCKS : blocks > TRANSFER_MAX_BLOCKS ? TRANSFER_MAX_BLOCKS : (unsigned)blocks;
}

static struct transfer_stack *stack_of(unsigned cls, int node)
{
    unsigned index = node <= 0 ? 0 : (unsigned)node % PAGEHEAP_NODES;
    unsigned used = __atomic_load_n(&nodes_used, __ATOMIC_RELAXED);
    while (TCA_UNLIKELY(index >= used) &&
           !__atomic_compare_exchange_n(&nodes_used, &used, index + 1, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    return &stacks[index][cls];
}

unsigned transfer_take(unsigned cls, int node, void **out, unsigned want)
{
    struct transfer_stack *stack = stack_of(cls, node);
    if (!__atomic_load_n(&stack->count, __ATOMIC_RELAXED))
        return 0;
    pthread_mutex_lock(&stack->lock);
    unsigned got = stack->count < want ? stack->count : want;
    __atomic_store_n(&stack->count, stack->count - got, __ATOMIC_RELAXED);
    memcpy(out, stack->slots + stack->count, got * sizeof(void *));
    if (stack->count < stack->low_water)
        stack->low_water = stack->count;
    pthread_mutex_unlock(&stack->lock);
    return got;
}

unsigned transfer_put(unsigned cls, int node, void *const *blocks, unsigned n)
{
    struct transfer_stack *stack = stack_of(cls, node);
    unsigned capacity = capacity_of(cls);
    if (__atomic_load_n(&stack->count, __ATOMIC_RELAXED) >= capacity)
        return 0;
    pthread_mutex_lock(&stack->lock);
    if (!stack->slots && !(stack->slots = base_alloc(capacity * sizeof(void *)))) {
        pthread_mutex_unlock(&stack->lock);
        return 0;
    }
    unsigned kept = capacity - stack->count < n ? capacity - stack->count : n;
    memcpy(stack->slots + stack->count, blocks, kept * sizeof(void *));
    __atomic_store_n(&stack->count, stack->count + kept, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&stack->lock);
    return kept;
}

bool transfer_holds(unsigned cls, const void *block)
{
    bool found = false;
    for (unsigned node = 0; node < __atomic_load_n(&nodes_used, __ATOMIC_RELAXED) && !found; node++) {
        struct transfer_stack *stack = &stacks[node][cls];
        pthread_mutex_lock(&stack->lock);
        for (unsigned i = 0; i < stack->count && !found; i++)
            found = stack->slots[i] == block;
        pthread_mutex_unlock(&stack->lock);
    }
    return found;
}

/* The oldest blocks, at the bottom, go to their slabs: a batch copied out
 * first, so that the slabs' locks are never taken under the stack's. */
static void stack_decay(struct transfer_stack *stack, unsigned cls, bool all, transfer_flush_fn *flush)
{
    void *batch[256];
    for (;;) {
        pthread_mutex_lock(&stack->lock);
        unsigned idle = all ? stack->count : stack->low_water;
        unsigned n = idle < 256 ? idle : 256;
        memcpy(batch, stack->slots, n * sizeof(void *));
        memmove(stack->slots, stack->slots + n, (stack->count - n) * sizeof(void *));
        __atomic_store_n(&stack->count, stack->count - n, __ATOMIC_RELAXED);
        stack->low_water = idle > n ? stack->low_water - n : stack->count;
        pthread_mutex_unlock(&stack->lock);
        if (!n)
            return;
        flush(cls, batch, n);
    }
}

void transfer_decay(bool all, transfer_flush_fn *flush)
{
    for (unsigned node = 0; node < __atomic_load_n(&nodes_used, __ATOMIC_RELAXED); node++)
        for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
            if (stacks[node][cls].slots)
                stack_decay(&stacks[node][cls], cls, all, flush);
}

size_t transfer_cached_bytes(void)
{
    size_t bytes = 0;
    for (unsigned node = 0; node < __atomic_load_n(&nodes_used, __ATOMIC_RELAXED); node++)
        for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
            bytes += (size_t)__atomic_load_n(&stacks[node][cls].count, __ATOMIC_RELAXED) * sizeclass_size(cls);
    return bytes;
}

void transfer_fork_prepare(void)
{
    for (unsigned node = 0; node < nodes_used; node++)
        for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
            pthread_mutex_lock(&stacks[node][cls].lock);
}

void transfer_fork_parent(void)
{
    for (unsigned node = 0; node < nodes_used; node++)
        for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
            pthread_mutex_unlock(&stacks[node][cls].lock);
}

void transfer_fork_child(void)
{
    for (unsigned node = 0; node < nodes_used; node++)
        for (unsigned cls = 1; cls < TCA_NCLASSES; cls++)
            pthread_mutex_init(&stacks[node][cls].lock, NULL);
}
