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

void base_boot(uint64_t *mapped_bytes)
{
    pthread_mutex_lock(&base_lock);
    *mapped_bytes = *base_mapped;
    base_mapped = mapped_bytes;
    pthread_mutex_unlock(&base_lock);
}

void *base_alloc(size_t size)
{
    size = tca_align_up(size, TCA_CACHELINE);
    pthread_mutex_lock(&base_lock);
    if ((size_t)(base_limit - base_cursor) < size) {
        size_t chunk = size > BASE_CHUNK_SIZE ? tca_align_up(size, BASE_CHUNK_SIZE) : BASE_CHUNK_SIZE;
        char *fresh = os_map(chunk, os_system_page_size());
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
