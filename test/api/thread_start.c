/* A thread's first malloc and free cost it no page fault of its own.  glibc
 * reuses the stacks of exited threads but hands their pages back first, all
 * but the top few, where the thread's TCB, the static TLS of every library
 * and the start of its stack lie; a thread cache too big for that space
 * pushes the stack a page further down, and every new thread faults that
 * page in again.  Counted by the kernel (minor faults), not timed: threads
 * that allocate must fault no more pages than threads that do not. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "check.h"

#define WAVES 40
#define WAVE 8

static void *slots[16];

static void *idle(void *arg) { return arg; }

/* mleak's pattern: a block each thread leaves for a later one to free. */
static void *allocate(void *arg)
{
    void *block = calloc(16, sizeof(void *));
    CHECK(block);
    uintptr_t index = (uintptr_t)arg % 16;
    free(__atomic_exchange_n(&slots[index], block, __ATOMIC_ACQ_REL));
    return arg;
}

static long minor_faults(void)
{
    struct rusage usage;
    CHECK(getrusage(RUSAGE_SELF, &usage) == 0);
    return usage.ru_minflt;
}

/* Faults per thread over WAVES waves of WAVE threads. */
static double faults_per_thread(void *(*body)(void *))
{
    long before = minor_faults();
    for (uintptr_t wave = 0; wave < WAVES; wave++) {
        pthread_t threads[WAVE];
        for (uintptr_t i = 0; i < WAVE; i++)
            CHECK(pthread_create(&threads[i], NULL, body, (void *)(wave * WAVE + i)) == 0);
        for (uintptr_t i = 0; i < WAVE; i++)
            CHECK(pthread_join(threads[i], NULL) == 0);
    }
    return (double)(minor_faults() - before) / (WAVES * WAVE);
}

int main(void)
{
    /* Warm up: the cached stack, the thread caches' slot memory and slabs. */
    faults_per_thread(allocate);
    faults_per_thread(idle);
    double idle_faults = faults_per_thread(idle), allocating_faults = faults_per_thread(allocate);
    fprintf(stderr, "page faults per thread: %.2f idle, %.2f allocating\n", idle_faults, allocating_faults);
    CHECK(allocating_faults < idle_faults + 0.25);
    for (unsigned i = 0; i < 16; i++)
        free(slots[i]);
    return 0;
}
