/* Entry points: the standard allocation API, glibc's __libc_* aliases and the
 * tca_* names.  malloc and free are the fast paths: a size-class lookup and a
 * thread-cache pop, a pagemap lookup and a thread-cache push. */
#include <errno.h>
#include <string.h>

#include "arenas/arena.h"
#include "pageheap/os.h"
#include "pageheap/pagemap.h"
#include "src/background.h"
#include "src/bootstrap.h"
#include "src/options.h"
#include "src/prof.h"
#include "src/report.h"
#include "tcache/tcache.h"
#include "tcarena.h"

static void *fail_nomem(void)
{
    errno = ENOMEM;
    return NULL;
}

/* A page run from the arena of the CPU, counted for the thread; NULL when out of memory. */
static void *alloc_run(size_t size, size_t alignment, bool zero)
{
    void *block = arena_alloc_large(arena_current(), size, alignment, zero);
    if (block) /* The run may be a little longer than asked (a cached one): count it all. */
        tcache_count_uncached(pagemap_span_of(block)->npages << TCA_PAGE_SHIFT, 0);
    return block;
}

/* A block the heap profiler samples (src/prof.h): a run of its own, even for
 * a small size (cls: the class it stands for, else 0), marked so that its
 * free finds the sample.  Called last by the entry point, so that its return
 * address is the program's call site (prof_record starts the stack there). */
static TCA_NOINLINE void *alloc_sampled(size_t size, size_t alignment, bool zero, unsigned cls)
{
    void *block = alloc_run(size, alignment, zero);
    if (!block)
        return fail_nomem();
    large_mark_sampled(pagemap_span_of(block), cls);
    prof_record(block, size, __builtin_return_address(0));
    return block;
}

/* Blocks above TCA_SMALL_MAX, or aligned beyond what a slab guarantees. */
static TCA_NOINLINE void *alloc_large(size_t size, size_t alignment, bool zero)
{
    if (size > TCA_MAX_REQUEST || alignment > TCA_MAX_REQUEST)
        return fail_nomem();
    if (!tca_bootstrap())
        return fail_nomem();
    if (prof_is_sampling() && prof_sample_due(size))
        return alloc_sampled(size, alignment, zero, 0);
    void *block = alloc_run(size, alignment, zero);
    return block ? block : fail_nomem();
}

/* A small malloc whose thread ran out of its countdown. */
static TCA_NOINLINE void *malloc_countdown_out(size_t size)
{
    unsigned cls = sizeclass_of(size);
    if (prof_countdown_expired(size))
        return alloc_sampled(size, 0, false, cls);
    return tcache_alloc(cls, size, tcache_alloc_slow);
}

/* The first allocation of the process misses (the class table reads 0 until
 * a size's first miss), so this is where the allocator boots, and where each
 * class's run of the table is filled, before the thread cache's slow path.
 * Only a run that reads 0 is filled: the fill's atomic read-modify-write of
 * the profiler's flag would otherwise pull that line, which every thread's
 * miss path reads, into this core's cache at every refill. */
TCA_INLINE void *boot_then_refill(size_t size, void *(*cache_slow_path)(size_t size))
{
    if (!tca_bootstrap())
        return fail_nomem();
    if (!sizeclass_for_fast_path(size))
        sizeclass_route_fill(size, &prof_sampling);
    return cache_slow_path(size);
}

static TCA_NOINLINE void *malloc_refill(size_t size) { return boot_then_refill(size, tcache_alloc_slow); }

/* The thread cache's miss path.  While the heap profiler samples, the class
 * table reads 0 for every size and every small malloc comes here: the
 * countdown, then the pop the fast path would have made, in a function with
 * no frame of its own (what needs one is in the functions it jumps to). */
static TCA_NOINLINE void *malloc_miss(size_t size)
{
    if (prof_is_sampling()) { /* which it does on a booted allocator only */
        if (prof_countdown_ran_out(size))
            return malloc_countdown_out(size);
        return tcache_alloc(sizeclass_of(size), size, tcache_alloc_slow);
    }
    return malloc_refill(size);
}

static TCA_NOINLINE void *malloc_large(size_t size) { return alloc_large(size, 0, false); }

/* calloc's miss path: malloc's, the block cleared (the thread cache's slow
 * path leaves a fresh block as it is). */
static TCA_NOINLINE void *calloc_miss(size_t size)
{
    if (!prof_is_sampling())
        return boot_then_refill(size, tcache_alloc_slow_cleared);
    void *block = malloc_miss(size);
    if (block)
        memset(block, 0, size);
    return block;
}

/* malloc's fast path, shared with operator new, which differs only in what
 * it does when memory runs out (miss and large: where a pop cannot serve). */
TCA_INLINE void *alloc_small_or(size_t size, void *(*miss)(size_t), void *(*large)(size_t))
{
    if (TCA_LIKELY(size <= TCA_SMALL_MAX))
        return tcache_alloc(sizeclass_for_fast_path(size), size, miss);
    return large(size);
}

TCA_EXPORT void *malloc(size_t size) { return alloc_small_or(size, malloc_miss, malloc_large); }

/* A block of a slab (cls ≠ 0) exists only once the allocator is booted, so
 * the cache's free path needs no bootstrap; a large one goes to its arena. */
static TCA_NOINLINE void free_slow(void *ptr)
{
    if (!ptr)
        return;
    unsigned cls = pagemap_class_of(ptr);
    if (cls) {
        tcache_free_slow(ptr, cls);
        return;
    }
    struct span *span = large_span_of(ptr, "free");
    if (large_is_sampled(span))
        prof_forget(ptr);
    tcache_count_uncached(0, span->npages << TCA_PAGE_SHIFT);
    arena_free_large(span);
}

TCA_EXPORT void free(void *ptr)
{
    /* Large blocks, NULL and foreign pointers read class 0, whose bin is
     * always full: the same test that catches a full bin sends them to the
     * slow path. */
    uintptr_t page = pagemap_page_of((uintptr_t)ptr);
    const uint8_t *classes = pagemap_class_map();
    if (TCA_LIKELY(classes != NULL) && TCA_LIKELY(tcache_free(ptr, classes[page])))
        return;
    free_slow(ptr);
}

/* Usable size of one of our blocks; aborts on a pointer that is not one,
 * naming the function it was given to (fn). */
static size_t block_usable_size(const void *ptr, const char *fn)
{
    unsigned cls = pagemap_class_of(ptr);
    if (cls) {
        if (!sizeclass_is_block_start(cls, (uintptr_t)ptr))
            os_fatal_call(fn, "invalid pointer", ptr);
        return sizeclass_size(cls);
    }
    struct span *span = large_span_of(ptr, fn);
    /* A sampled small block: what it stands for, so realloc treats it as one. */
    cls = large_sampled_class(span);
    return cls ? sizeclass_size(cls) : span->npages << TCA_PAGE_SHIFT;
}

/* Any alignment that is a power of two. */
static void *alloc_aligned(size_t alignment, size_t size)
{
    if (alignment <= TCA_MIN_ALIGN)
        return malloc(size);
    if (size > TCA_MAX_REQUEST)
        return fail_nomem();
    if (!tca_bootstrap())
        return fail_nomem();
    unsigned cls = sizeclass_for_aligned(size, alignment);
    if (cls && prof_is_sampling() && prof_sample_due(size))
        return alloc_sampled(size, alignment, false, cls);
    if (cls)
        return tcache_alloc(cls, sizeclass_size(cls), tcache_alloc_slow); /* booted above */
    return alloc_large(size, alignment, false);
}

TCA_EXPORT void *calloc(size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total))
        return fail_nomem();
    if (total > TCA_SMALL_MAX)
        return alloc_large(total, 0, true);
    return tcache_alloc_cleared(sizeclass_for_fast_path(total), total, calloc_miss);
}

TCA_EXPORT void *realloc(void *ptr, size_t size)
{
    if (!ptr)
        return malloc(size);
    if (size == 0) {
        /* glibc frees and returns NULL. */
        free(ptr);
        return NULL;
    }
    size_t usable = block_usable_size(ptr, "realloc");
    /* Stay in place while the block fits and is not more than twice too big
     * (for small sizes: while the new size maps to the same class). */
    if (size <= usable && (usable <= TCA_SMALL_MAX ? sizeclass_of(size) == sizeclass_of(usable) : size > usable / 2))
        return ptr;
    void *moved = malloc(size);
    if (!moved)
        return NULL;
    memcpy(moved, ptr, size < usable ? size : usable);
    free(ptr);
    return moved;
}

TCA_EXPORT void *reallocarray(void *ptr, size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total))
        return fail_nomem();
    return realloc(ptr, total);
}

TCA_EXPORT int posix_memalign(void **result, size_t alignment, size_t size)
{
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)))
        return EINVAL;
    int saved = errno;
    void *block = alloc_aligned(alignment, size);
    errno = saved;
    if (!block)
        return ENOMEM;
    *result = block;
    return 0;
}

TCA_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    if (alignment == 0 || (alignment & (alignment - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return alloc_aligned(alignment, size);
}

/* glibc's memalign rounds an alignment that is no power of two up to one. */
TCA_EXPORT void *memalign(size_t alignment, size_t size)
{
    if (alignment > ((size_t)1 << (sizeof(size_t) * 8 - 1))) {
        errno = EINVAL;
        return NULL;
    }
    size_t power = TCA_MIN_ALIGN;
    while (power < alignment)
        power <<= 1;
    return alloc_aligned(power, size);
}

TCA_EXPORT void *valloc(size_t size) { return alloc_aligned(os_system_page_size(), size); }

TCA_EXPORT void *pvalloc(size_t size)
{
    size_t page = os_system_page_size();
    if (size > TCA_MAX_REQUEST)
        return fail_nomem();
    return alloc_aligned(page, size ? tca_align_up(size, page) : page);
}

TCA_EXPORT size_t malloc_usable_size(void *ptr) { return ptr ? block_usable_size(ptr, "malloc_usable_size") : 0; }

TCA_EXPORT void free_sized(void *ptr, size_t size)
{
    (void)size;
    free(ptr);
}

TCA_EXPORT void free_aligned_sized(void *ptr, size_t alignment, size_t size)
{
    (void)alignment, (void)size;
    free(ptr);
}

/* glibc's own internals call these names; a mixed pointer would crash otherwise. */
#define TCA_ALIAS(name, target) __typeof__(target) name __attribute__((alias(#target), visibility("default")))
TCA_ALIAS(__libc_malloc, malloc);
TCA_ALIAS(__libc_free, free);
TCA_ALIAS(__libc_calloc, calloc);
TCA_ALIAS(__libc_realloc, realloc);
TCA_ALIAS(__libc_memalign, memalign);
TCA_ALIAS(__libc_valloc, valloc);
TCA_ALIAS(__libc_pvalloc, pvalloc);
TCA_ALIAS(__posix_memalign, posix_memalign);

TCA_ALIAS(tca_malloc, malloc);
TCA_ALIAS(tca_calloc, calloc);
TCA_ALIAS(tca_realloc, realloc);
TCA_ALIAS(tca_free, free);
TCA_ALIAS(tca_free_sized, free_sized);
TCA_ALIAS(tca_free_aligned_sized, free_aligned_sized);
TCA_ALIAS(tca_aligned_alloc, aligned_alloc);

/* ---- C++: operator new and delete ----
 * Defined here a new/delete pair costs what a malloc/free pair does; through
 * the C++ library's own operators it costs that and their call on top (about
 * 16 instructions).  What the C++ standard asks of a failed new (call the
 * new-handler until it gives up, then throw std::bad_alloc) is the C++
 * library's business: a failure is handed to the operator it defines, found
 * after ours, which tries malloc again and does the rest. */

/* The C++ library's definition of operator name, called on a failure of ours. */
static void *cxx_new_failed(const char *name, size_t size, size_t alignment)
{
    void *(*next)(size_t, ...) = (void *(*)(size_t, ...))os_next_symbol(name);
    if (!next)
        os_fatal_call("operator new", "out of memory, and no C++ library to throw std::bad_alloc; size", (void *)size);
    return alignment ? next(size, alignment) : next(size);
}

static TCA_NOINLINE void *new_miss(size_t size)
{
    void *block = malloc_miss(size);
    return block ? block : cxx_new_failed("_Znwm", size, 0);
}

static TCA_NOINLINE void *new_large(size_t size)
{
    void *block = malloc_large(size);
    return block ? block : cxx_new_failed("_Znwm", size, 0);
}

/* operator new(size_t).  The array forms below are the same functions: the
 * C++ library's own array forms only call the scalar ones (in a try block for
 * nothrow), so a failure handed to its scalar form behaves the same. */
TCA_EXPORT void *_Znwm(size_t size) { return alloc_small_or(size, new_miss, new_large); }

/* The nothrow and aligned forms are no fast paths: malloc's, then the C++
 * library's on a failure. */
struct cxx_nothrow;
TCA_EXPORT void *_ZnwmRKSt9nothrow_t(size_t size, const struct cxx_nothrow *tag)
{
    void *block = malloc(size);
    return block ? block : ((void *(*)(size_t, const void *))os_next_symbol("_ZnwmRKSt9nothrow_t"))(size, tag);
}

/* operator new(size_t, std::align_val_t) and its array form. */
TCA_EXPORT void *_ZnwmSt11align_val_t(size_t size, size_t alignment)
{
    void *block = alloc_aligned(alignment, size);
    return block ? block : cxx_new_failed("_ZnwmSt11align_val_t", size, alignment);
}

typedef void *cxx_aligned_nothrow_new(size_t, size_t, const struct cxx_nothrow *);

TCA_EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t size, size_t alignment, const struct cxx_nothrow *tag)
{
    void *block = alloc_aligned(alignment, size);
    return block ? block
                 : ((cxx_aligned_nothrow_new *)os_next_symbol("_ZnwmSt11align_val_tRKSt9nothrow_t"))(size, alignment, tag);
}

TCA_ALIAS(_Znam, _Znwm);
TCA_ALIAS(_ZnamRKSt9nothrow_t, _ZnwmRKSt9nothrow_t);
TCA_ALIAS(_ZnamSt11align_val_t, _ZnwmSt11align_val_t);
TCA_ALIAS(_ZnamSt11align_val_tRKSt9nothrow_t, _ZnwmSt11align_val_tRKSt9nothrow_t);

/* Every operator delete is free(): the size and alignment they also pass
 * (in registers free does not read) change nothing. */
TCA_ALIAS(_ZdlPv, free);
TCA_ALIAS(_ZdaPv, free);
TCA_ALIAS(_ZdlPvm, free);
TCA_ALIAS(_ZdaPvm, free);
TCA_ALIAS(_ZdlPvRKSt9nothrow_t, free);
TCA_ALIAS(_ZdaPvRKSt9nothrow_t, free);
TCA_ALIAS(_ZdlPvSt11align_val_t, free);
TCA_ALIAS(_ZdaPvSt11align_val_t, free);
TCA_ALIAS(_ZdlPvmSt11align_val_t, free);
TCA_ALIAS(_ZdaPvmSt11align_val_t, free);
TCA_ALIAS(_ZdlPvSt11align_val_tRKSt9nothrow_t, free);
TCA_ALIAS(_ZdaPvSt11align_val_tRKSt9nothrow_t, free);

TCA_EXPORT size_t tca_malloc_usable_size(const void *ptr)
{
    return ptr ? block_usable_size(ptr, "tca_malloc_usable_size") : 0;
}

/* glibc's name for "give free memory back to the OS now".  Our caller's thread
 * cache goes back to the slabs first (other threads' caches are theirs alone),
 * then every arena's empty slabs, then the page heap's dirty pages.  pad (how
 * much to keep at the top of glibc's heap) has no meaning here. */
TCA_EXPORT int malloc_trim(size_t pad)
{
    (void)pad;
    if (!tca_bootstrap())
        return 0;
    tcache_flush_all(&tcache_tls, true);
    return arenas_purge() != 0;
}

/* The allocator otherwise starts at the first allocation.  Three options need
 * it at load, before main(), and only when TCARENA_CONF names them, so other
 * processes keep starting for free: stats_print, whose exit report a program
 * that never allocates (true(1)) would miss, background_thread, which must
 * not be created inside an allocation (see background.h), and prof, whose
 * unwinder is loaded and set up outside any allocation (prof.c).  The names
 * are looked for without their colon, which may follow blanks; a stats_file
 * that holds one only starts the allocator at load.  Here, with the entry
 * points: a program linked with the static library gets every object that
 * defines a name it uses, and this one always. */
__attribute__((constructor)) static void start_when_asked(void)
{
    const char *conf = options_environment();
    if (!conf || !(strstr(conf, "stats_print") || strstr(conf, "background_thread") || strstr(conf, "prof")) ||
        !tca_bootstrap())
        return;
    if (tca_options.stats_print)
        report_at_exit();
    if (tca_options.background_thread)
        background_start();
    prof_start();
    if (tca_options.prof && tca_options.prof_leak)
        report_leaks_at_exit();
}
