#include "pageheap/base.h"

#include <pthread.h>

#include "pageheap/os.h"

#define BASE_CHUNK_SIZE ((size_t)2 << 20)

static pthread_mutex_t base_lock = PTHREAD_MUTEX_INITIALIZER;
static char *base_cursor, *base_limit;
/* Bytes of chunks mapped: a counter of the statistics page from base_boot()
 * on, a word of its own before (nothing should allocate metadata earlier). */
static uint64_t mapped_before_boot;
static uint64_t *base_mapped = &mapped_before_boot;
static bool huge_chunks_allowed;

void base_boot(uint64_t *mapped_bytes, bool huge_pages)
{
    pthread_mutex_lock(&base_lock);
    *mapped_bytes = *base_mapped;
    base_mapped = mapped_bytes;
    huge_chunks_allowed = huge_pages;
    pthread_mutex_unlock(&base_lock);
}

/* A chunk after the first is aligned and asks for a huge page: a big heap's
 * span records (a slab's is some 200 bytes) are otherwise a page fault each
 * 4 KiB, thousands in a heap of a GiB, where one huge page fault maps 2 MiB.
 * The first chunk stays in small pages, so a small program's metadata costs
 * it a few pages, not 2 MiB. */
static void *map_chunk(size_t size)
{
    if (huge_chunks_allowed && *base_mapped != 0) {
        /* Aligning maps 2 MiB more for a moment: near an address-space
         * limit, a chunk in small pages may still fit. */
        void *chunk = os_map(size, BASE_CHUNK_SIZE);
        if (chunk) {
            os_advise_huge_pages(chunk, size, true);
            return chunk;
        }
    }
    return os_map(size, os_system_page_size());
}

void *base_alloc(size_t size)
{
    size = tca_align_up(size, TCA_CACHELINE);
    pthread_mutex_lock(&base_lock);
    if ((size_t)(base_limit - base_cursor) < size) {
        size_t chunk = size > BASE_CHUNK_SIZE ? tca_align_up(size, BASE_CHUNK_SIZE) : BASE_CHUNK_SIZE;
        char *fresh = map_chunk(chunk);
        if (!fresh) {
            pthread_mutex_unlock(&base_lock);
            return NULL;
        }
        /* The rest of the old chunk is abandoned: metadata is small next to a chunk. */
        base_cursor = fresh;
        base_limit = fresh + chunk;
        *base_mapped += chunk;
    }
    void *result = base_cursor;
    base_cursor += size;
    pthread_mutex_unlock(&base_lock);
    return result;
}

size_t base_mapped_bytes(void) { return __atomic_load_n(base_mapped, __ATOMIC_RELAXED); }

void base_fork_prepare(void) { pthread_mutex_lock(&base_lock); }
void base_fork_parent(void) { pthread_mutex_unlock(&base_lock); }
void base_fork_child(void) { pthread_mutex_init(&base_lock, NULL); }
