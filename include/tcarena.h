/* tcarena: a thread-caching, multi-arena memory allocator.
 *
 * Linking libtcarena (or LD_PRELOAD=libtcarena.so) replaces malloc, free and
 * the rest of the standard API.  This header adds the tca_* names: the same
 * operations callable explicitly, sized and aligned variants, and the control
 * interface tca_ctl() modelled on jemalloc's mallctl().
 */
#ifndef TCARENA_H
#define TCARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TCARENA_VERSION "0.1.0"

#if defined(__GNUC__)
#define TCA_API __attribute__((visibility("default")))
#else
#define TCA_API
#endif

TCA_API void *tca_malloc(size_t size);
TCA_API void *tca_calloc(size_t count, size_t size);
TCA_API void *tca_realloc(void *ptr, size_t size);
TCA_API void tca_free(void *ptr);
/* Free a block whose requested size (and alignment) the caller still knows. */
TCA_API void tca_free_sized(void *ptr, size_t size);
TCA_API void tca_free_aligned_sized(void *ptr, size_t alignment, size_t size);
/* alignment: a power of two; NULL with errno = EINVAL otherwise. */
TCA_API void *tca_aligned_alloc(size_t alignment, size_t size);
TCA_API size_t tca_malloc_usable_size(const void *ptr);

/* Read and/or write the control value called name (see README, "Control").
 * oldp/oldlenp: where to copy the current value (both NULL: don't read).
 * newp/newlen: the value to write (NULL/0: don't write).
 * Returns 0, or ENOENT (no such name), EINVAL (wrong length or value),
 * EPERM (read-only name written), EFAULT (NULL where a buffer is needed). */
TCA_API int tca_ctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
/* Translate a name once, then call tca_ctl_bymib in a hot loop. */
TCA_API int tca_ctl_nametomib(const char *name, size_t *mibp, size_t *miblenp);
TCA_API int tca_ctl_bymib(const size_t *mib, size_t miblen, void *oldp, size_t *oldlenp,
                  void *newp, size_t newlen);

/* Print statistics through write_cb (NULL: stderr).  opts: NULL or "" for text,
 * "J" for JSON, "P" for Prometheus text exposition. */
TCA_API void tca_stats_print(void (*write_cb)(void *cbopaque, const char *text), void *cbopaque,
                     const char *opts);

#ifdef __cplusplus
}
#endif

#endif
