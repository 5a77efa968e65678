/* Short-lived threads that each leave memory behind (a tool, not a test):
 * THREADS threads, WAVE alive at a time; each allocates BLOCKS blocks of 16 B
 * to 4 KiB (written), frees all but KEEP of them and exits; the survivors stay
 * allocated to the end.  Prints RSS right after the last thread is joined and
 * after one and two more seconds of idleness (the allocator is not called).
 *
 *   thread_churn [threads] [wave] [blocks] [keep]   (defaults 20000 8 256 4) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rss.h"

static unsigned blocks_per_thread, keep_per_thread;
static void **kept;

static void *worker(void *arg)
{
    uintptr_t index = (uintptr_t)arg;
    uint64_t seed = index * 0x9e3779b97f4a7c15ull + 1;
    void **mine = malloc(blocks_per_thread * sizeof *mine);
    for (unsigned i = 0; i < blocks_per_thread; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        size_t size = 16 + seed % 4081;
        mine[i] = malloc(size);
        memset(mine[i], (int)i, size);
    }
    for (unsigned i = 0; i < blocks_per_thread; i++) {
        if (i < keep_per_thread)
            kept[index * keep_per_thread + i] = mine[i];
        else
            free(mine[i]);
    }
    free(mine);
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned threads = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
    unsigned wave = argc > 2 ? (unsigned)atoi(argv[2]) : 8;
    blocks_per_thread = argc > 3 ? (unsigned)atoi(argv[3]) : 256;
    keep_per_thread = argc > 4 ? (unsigned)atoi(argv[4]) : 4;
    kept = calloc((size_t)threads * keep_per_thread, sizeof *kept);
    pthread_t *ids = malloc(wave * sizeof *ids);
    for (unsigned first = 0; first < threads; first += wave) {
        unsigned n = threads - first < wave ? threads - first : wave;
        for (unsigned i = 0; i < n; i++)
            if (pthread_create(&ids[i], NULL, worker, (void *)(uintptr_t)(first + i)))
                return 1;
        for (unsigned i = 0; i < n; i++)
            pthread_join(ids[i], NULL);
    }
    double at_end = rss_mib();
    sleep(1);
    double after_1s = rss_mib();
    sleep(1);
    printf("threads %u rss_end_mib %.1f rss_idle_1s_mib %.1f rss_idle_2s_mib %.1f\n", threads, at_end,
           after_1s, rss_mib());
    return 0;
}
