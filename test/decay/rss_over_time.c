/* RSS over time after a burst (a tool, not a test): allocates 1.5 GiB in blocks
 * of 64 B to 4 KiB (every byte written), frees them all, never calls
 * malloc_trim, then samples RSS every 50 ms for 2 s.  Run it under any
 * allocator with LD_PRELOAD; test/decay/rss_plot runs it under each allocator and plots it.
 *
 *   rss_over_time [total MiB] [samples]   (defaults 1536, 40)
 *
 * Output: "# alloc_ms A free_ms F peak_mib P" then "ms rss_mib" lines, t = 0
 * at the end of the frees. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "rss.h"

#define SAMPLE_MS 50

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    size_t total = (size_t)(argc > 1 ? atof(argv[1]) : 1536) << 20;
    int samples = argc > 2 ? atoi(argv[2]) : 2000 / SAMPLE_MS;
    /* Pointers live in a private mapping so the allocator measured holds only the blocks. */
    size_t max_blocks = total / 64 + 1;
    void **blocks = mmap(NULL, max_blocks * sizeof *blocks, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (blocks == MAP_FAILED)
        return 1;
    uint64_t seed = 88172645463325252ull;
    size_t count = 0, bytes = 0;
    double start = now_ms();
    while (bytes < total) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        size_t size = 64 + seed % (4096 - 64 + 1);
        char *block = malloc(size);
        if (!block)
            return 1;
        memset(block, (int)count, size);
        blocks[count++] = block;
        bytes += size;
    }
    double allocated = now_ms();
    double peak = rss_mib();
    for (size_t i = 0; i < count; i++)
        free(blocks[i]);
    double freed = now_ms();
    munmap(blocks, max_blocks * sizeof *blocks);
    printf("# alloc_ms %.1f free_ms %.1f peak_mib %.1f blocks %zu\n", allocated - start,
           freed - allocated, peak, count);
    for (int i = 0; i <= samples; i++) {
        double due = freed + (double)i * SAMPLE_MS;
        while (now_ms() < due)
            usleep(1000);
        printf("%.0f %.1f\n", now_ms() - freed, rss_mib());
    }
    return 0;
}
