/* Definitions every layer shares: build configuration, branch hints, page geometry. */
#ifndef TCA_COMMON_H
#define TCA_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tca_config.h"

#define TCA_LIKELY(x) __builtin_expect(!!(x), 1)
#define TCA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TCA_EXPORT __attribute__((visibility("default")))
/* On a declaration: the definition is in this library, so a fast path reads
 * the variable at a fixed offset from its code, not through the GOT. */
#define TCA_HIDDEN __attribute__((visibility("hidden")))
#define TCA_NOINLINE __attribute__((noinline))
#define TCA_INLINE static inline __attribute__((always_inline))
#define TCA_CACHELINE 64

/* The allocator's page: spans, slabs and the pagemap work in these units.
 * 8 KiB halves the pagemap against 4 KiB and keeps small slabs one page. */
#define TCA_PAGE_SHIFT 13
#define TCA_PAGE_SIZE ((size_t)1 << TCA_PAGE_SHIFT)

/* Every block is at least this aligned (max_align_t on x86-64 and arm64). */
#define TCA_MIN_ALIGN 16

/* Requests above this cannot be satisfied on any machine we run on; they fail
 * with ENOMEM before any arithmetic on them can overflow. */
#define TCA_MAX_REQUEST ((size_t)1 << 46)

static inline size_t tca_align_up(size_t n, size_t align) { return (n + align - 1) & ~(align - 1); }

#endif
