/* Out of memory: in a child whose address space is capped (RLIMIT_AS) a
 * little above what it uses, every entry point is driven into failure, small
 * and large sizes.  Each failure must be NULL with errno ENOMEM (posix_memalign:
 * ENOMEM returned), never an abort; blocks handed out before must be intact;
 * once everything is freed the allocator must count no byte still out (no
 * internal state leaked by a failure), and allocation must work again.
 * Threads whose first allocation (which sets up their cache) meets the
 * exhaustion must fail cleanly too, and allocate once memory is back. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "blocks.h"
#include "check.h"
#include "tcarena.h"

#define HEADROOM ((size_t)96 << 20)
#define MAX_BLOCKS (4 << 20)
#define LATE_THREADS 3

enum api { USE_MALLOC, USE_CALLOC, USE_REALLOC, USE_POSIX_MEMALIGN, USE_ALIGNED_ALLOC, API_COUNT };
static const char *const api_names[] = {"malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc"};

struct block {
    void *ptr;
    size_t size;
};
/* Outside the heap, mapped before the cap: the test's own bookkeeping. */
static struct block *blocks;
static size_t nblocks;

/* One allocation through api; NULL after checking the failure is ENOMEM. */
static void *allocate(enum api api, size_t size)
{
    void *ptr = NULL;
    errno = 0;
    switch (api) {
    case USE_MALLOC:
        ptr = malloc(size);
        break;
    case USE_CALLOC:
        ptr = calloc(size / 16, 16);
        break;
    case USE_REALLOC:
        /* Grow a fresh small block: the large request is realloc's. */
        ptr = malloc(16);
        if (!ptr)
            break;
        memset(ptr, 0x5a, 16);
        void *grown = realloc(ptr, size);
        if (!grown) {
            int failure = errno;
            CHECK(((uint8_t *)ptr)[15] == 0x5a); /* the old block is intact */
            free(ptr);
            errno = failure;
        }
        ptr = grown;
        break;
    case USE_POSIX_MEMALIGN: {
        int result = posix_memalign(&ptr, 256, size);
        if (result) {
            CHECK(result == ENOMEM);
            return NULL;
        }
        break;
    }
    case USE_ALIGNED_ALLOC:
        ptr = aligned_alloc(4096, size);
        break;
    default:
        break;
    }
    if (!ptr) {
        if (errno != ENOMEM)
            fprintf(stderr, "%s(%zu) failed with errno %d\n", api_names[api], size, errno);
        CHECK(errno == ENOMEM);
    }
    return ptr;
}

static void free_all(void)
{
    for (size_t i = 0; i < nblocks; i++) {
        CHECK(pattern_holds(blocks[i].ptr, blocks[i].size, (uintptr_t)i));
        free(blocks[i].ptr);
    }
    nblocks = 0;
}

/* Allocates size after size through api until one fails; returns how many
 * succeeded.  A cap on the count keeps a heap that never fails from looping. */
static size_t exhaust(enum api api, size_t size)
{
    size_t before = nblocks;
    void *ptr;
    while (nblocks < MAX_BLOCKS && (ptr = allocate(api, size))) {
        pattern_write(ptr, 0, size, (uintptr_t)nblocks);
        blocks[nblocks++] = (struct block){ptr, size};
    }
    CHECK(nblocks < MAX_BLOCKS);
    return nblocks - before;
}

/* Bytes in blocks the program holds, after the calling thread's cache went back to the slabs. */
static uint64_t bytes_out(void)
{
    uint64_t epoch = 1, allocated = 0, cached = 0;
    size_t length = sizeof allocated;
    CHECK(tca_ctl("thread.tcache.flush", NULL, NULL, NULL, 0) == 0);
    CHECK(tca_ctl("epoch", NULL, NULL, &epoch, sizeof epoch) == 0);
    CHECK(tca_ctl("stats.allocated", &allocated, &length, NULL, 0) == 0 && length == sizeof allocated);
    CHECK(tca_ctl("stats.tcache_bytes", &cached, &length, NULL, 0) == 0 && length == sizeof cached);
    return allocated - cached; /* the transfer caches keep blocks the program freed */
}

static size_t address_space_in_use(void)
{
    FILE *statm = fopen("/proc/self/statm", "r");
    CHECK(statm != NULL);
    unsigned long pages = 0;
    CHECK(fscanf(statm, "%lu", &pages) == 1);
    fclose(statm);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Every API, every size, driven into failure, all freed, and again. */
static void every_api_fails_cleanly(void)
{
    static const size_t sizes[] = {64, 3000, 40000, 1 << 20, 16 << 20};
    for (enum api api = 0; api < API_COUNT; api++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            uint64_t out_before = bytes_out();
            size_t count = exhaust(api, sizes[s]);
            /* Memory is gone: smaller sizes may still fit in slabs, but
             * every failure on the way down is a clean ENOMEM too. */
            for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++)
                exhaust(api == USE_MALLOC ? USE_CALLOC : USE_MALLOC, sizes[t]);
            CHECK(count > 0 || sizes[s] >= HEADROOM / 8);
            free_all();
            uint64_t out_after = bytes_out();
            if (out_after != out_before)
                fprintf(stderr, "%s, %zu bytes: %llu bytes out before, %llu after freeing all\n", api_names[api],
                        sizes[s], (unsigned long long)out_before, (unsigned long long)out_after);
            CHECK(out_after == out_before);
            /* Everything is back: the same sizes fit again. */
            void *again = allocate(api, sizes[s]);
            CHECK(again != NULL);
            free(again);
        }
        printf("%s: every failure was ENOMEM; after freeing, no byte counted out and allocation works\n", api_names[api]);
    }
}

/* The main thread and the late threads pass it three times: memory is gone;
 * the late threads have tried; memory is back. */
static pthread_barrier_t phase;

static void *allocate_first_when_exhausted(void *unused)
{
    (void)unused;
    pthread_barrier_wait(&phase);
    free(allocate(USE_MALLOC, 100)); /* a block or a clean ENOMEM: allocate() checks */
    free(allocate(USE_MALLOC, 100000));
    pthread_barrier_wait(&phase);
    pthread_barrier_wait(&phase);
    for (size_t size = 1; size < (1 << 20); size = size * 3 + 1) {
        void *block = malloc(size);
        CHECK(block != NULL);
        free(block);
    }
    return NULL;
}

static void run_capped(void)
{
    blocks = mmap(NULL, MAX_BLOCKS * sizeof *blocks, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(blocks != MAP_FAILED);
    /* The allocator is set up before the cap, its background purging thread
     * included (started once 64 MiB were freed in all): libc allocates that
     * thread's TLS vector with our calloc, which bytes_out() would count. */
    for (int i = 0; i < 100; i++)
        free(malloc(1 << 20));
    /* The late threads' stacks are mapped before the cap; they allocate nothing yet. */
    pthread_t late[LATE_THREADS];
    CHECK(pthread_barrier_init(&phase, NULL, LATE_THREADS + 1) == 0);
    for (int i = 0; i < LATE_THREADS; i++)
        CHECK(pthread_create(&late[i], NULL, allocate_first_when_exhausted, NULL) == 0);
    size_t limit = address_space_in_use() + HEADROOM;
    CHECK(setrlimit(RLIMIT_AS, &(struct rlimit){limit, limit}) == 0);

    every_api_fails_cleanly();

    exhaust(USE_MALLOC, 4096);
    exhaust(USE_MALLOC, 16);
    pthread_barrier_wait(&phase);
    pthread_barrier_wait(&phase);
    free_all();
    pthread_barrier_wait(&phase);
    for (int i = 0; i < LATE_THREADS; i++)
        CHECK(pthread_join(late[i], NULL) == 0);
    printf("threads whose first allocation met the exhaustion failed cleanly, then allocated\n");
    fflush(stdout);
}

int main(void)
{
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        alarm(50);
        run_capped();
        _exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "child ended with status 0x%x\n", status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return 0;
}
