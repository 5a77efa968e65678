/* The heap profiler: sampled allocations with the stack that made them, so
 * that the bytes a program holds can be told apart by call site.
 *
 * It costs nothing while it does not sample, not even a test on the fast
 * path: malloc's class table (sizeclass_by_size) is emptied while sampling
 * runs, so every small malloc misses its thread cache and reaches the entry
 * layer's miss path, where the sampling decision is made (src/malloc.c).
 * The other allocation paths (large, aligned) are slow paths and ask here
 * themselves.  A sampled block is a page run of its own, marked in its span
 * (arenas/large.h), so that only the large free path looks for samples. */
#ifndef TCA_PROF_H
#define TCA_PROF_H

#include "pageheap/common.h"

/* Frames kept per stack, from the program's call into the allocator up. */
#define PROF_MAX_DEPTH 64

/* Per thread: bytes left before the next sample, drawn from an exponential
 * distribution (a Poisson process over the bytes allocated, so that no
 * pattern of sizes escapes it); the generator's state, 0 until the thread's
 * first draw; busy while the thread records a sample, when nothing it
 * allocates (the unwinder's own needs) is sampled. */
struct prof_thread {
    int64_t countdown;
    uint64_t random;
    bool busy;
};

extern __thread struct prof_thread prof_thread_state __attribute__((tls_model("initial-exec")));
extern bool prof_sampling; /* read relaxed: a stale value only delays a change a little */

TCA_INLINE bool prof_is_sampling(void) { return __atomic_load_n(&prof_sampling, __ATOMIC_RELAXED); }

/* Slow part of prof_sample_due: the thread's first draw, an allocation while
 * it records a sample (never sampled), or a sample due. */
bool prof_countdown_expired(size_t size);

/* With sampling on: counts size bytes against the thread's countdown; true
 * when it ran out, and prof_countdown_expired must decide. */
TCA_INLINE bool prof_countdown_ran_out(size_t size)
{
    struct prof_thread *self = &prof_thread_state;
    self->countdown -= (int64_t)size;
    return TCA_UNLIKELY(self->countdown <= 0);
}

/* Whether an allocation of size bytes is to be sampled (then a new interval
 * is drawn). */
TCA_INLINE bool prof_sample_due(size_t size) { return prof_countdown_ran_out(size) && prof_countdown_expired(size); }

/* Records block (size bytes asked for) with the stack of the call that asked
 * for it: caller is the return address into the code that called the
 * allocator's entry point, the first frame kept.  Unwinds with no lock held. */
void prof_record(void *block, size_t size, const void *caller);
/* A sampled block is freed: its sample goes (none: forgotten by a reset). */
void prof_forget(const void *block);

/* At load, outside any allocation, when the prof option is set: loads and
 * warms the unwinder up, then starts sampling if prof_active says so. */
void prof_start(void);
/* prof.active.  ENOENT when the profiler was not started (prof:false, or no
 * unwinder); else 0. */
int prof_set_active(bool active);
/* prof.reset: forgets every sample and every cumulative figure. */
int prof_reset(void);
/* prof.dump: writes the profile to path (NULL: tcarena.PID.N.heap in the
 * current directory).  0, ENOENT without the profiler, or the error that
 * kept the file from being written. */
int prof_dump(const char *path);

struct prof_stats {
    uint64_t samples;  /* sampled blocks still allocated */
    uint64_t stacks;   /* distinct stacks recorded */
    uint64_t metadata; /* bytes of the profiler's records (part of stats.metadata) */
};
void prof_read_stats(struct prof_stats *stats);

/* What a profile is written from: the figures of one stack, taken under the
 * profiler's lock a few at a time (prof_dump.c). */
struct prof_stack_figures {
    const void *const *frames;
    unsigned depth;
    uint64_t live_count, live_bytes, total_count, total_bytes;
};
/* Copies the figures of up to max stacks, starting after *cursor (NULL: the
 * first), into out and moves the cursor on; returns how many (0: done). */
unsigned prof_copy_stacks(const void **cursor, struct prof_stack_figures *out, unsigned max);
/* The sums over every stack, for the profile's first line. */
void prof_totals(struct prof_stack_figures *totals);
bool prof_started(void);

void prof_fork_prepare(void);
void prof_fork_parent(void);
void prof_fork_child(void);

#endif
