/* The CPU the calling thread runs on now.  glibc ≥ 2.35 registers rseq for each
 * thread and publishes where its area lies (__rseq_offset from the thread
 * pointer); reading cpu_id there costs two loads and no system call.  Where rseq
 * is off (old glibc, GLIBC_TUNABLES=glibc.pthread.rseq=0, valgrind) we fall back
 * to sched_getcpu(). */
#ifndef TCA_CPU_H
#define TCA_CPU_H

#include <sched.h>

#include "pageheap/common.h"

extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

TCA_INLINE unsigned cpu_current(void)
{
    if (&__rseq_size && __rseq_size >= 8) {
        /* struct rseq: u32 cpu_id_start, then s32 cpu_id (negative until registered). */
        const volatile int *cpu_id = (const volatile int *)((char *)__builtin_thread_pointer() + __rseq_offset + 4);
        int cpu = *cpu_id;
        if (TCA_LIKELY(cpu >= 0))
            return (unsigned)cpu;
    }
    int cpu = sched_getcpu();
    return cpu >= 0 ? (unsigned)cpu : 0;
}

#endif
