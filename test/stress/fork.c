/* fork() while other threads allocate: the child must find every allocator
 * lock usable and the heap consistent.  It checks blocks the parent allocated
 * before the fork, allocates and frees (in a new thread too), and exits 0.
 * A child that hangs is killed after a deadline and fails the test. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "pattern.h"

#define WORKERS 3
#define FORKS 50
#define KEPT 64
#define CHILD_DEADLINE_MS 20000

struct block {
    void *ptr;
    size_t size;
};

static atomic_bool stopping;
static struct block kept[KEPT]; /* the main thread's blocks, alive across each fork */

static void *allocate_until_stopped(void *arg)
{
    uint64_t random = (uintptr_t)arg + 99;
    struct block slots[256] = {{0}};
    while (!atomic_load_explicit(&stopping, memory_order_relaxed)) {
        struct block *slot = &slots[random_next(&random) % 256];
        if (slot->ptr) {
            pattern_check(slot->ptr, slot->size);
            free(slot->ptr);
            slot->ptr = NULL;
        } else {
            slot->size = random_size(&random);
            CHECK((slot->ptr = malloc(slot->size)) != NULL);
            pattern_fill(slot->ptr, slot->size);
        }
    }
    for (int i = 0; i < 256; i++)
        free(slots[i].ptr);
    return NULL;
}

static void churn(uint64_t seed, int rounds)
{
    struct block blocks[64];
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < 64; i++) {
            blocks[i].size = random_size(&seed);
            CHECK((blocks[i].ptr = malloc(blocks[i].size)) != NULL);
            pattern_fill(blocks[i].ptr, blocks[i].size);
        }
        for (int i = 0; i < 64; i++) {
            pattern_check(blocks[i].ptr, blocks[i].size);
            free(blocks[i].ptr);
        }
    }
}

static void *child_thread(void *arg)
{
    churn((uintptr_t)arg, 5);
    return NULL;
}

static _Noreturn void child(int iteration)
{
    alarm(CHILD_DEADLINE_MS / 1000); /* a deadlock ends in SIGALRM, not a hang */
    for (int i = 0; i < KEPT; i++) {
        pattern_check(kept[i].ptr, kept[i].size);
        free(kept[i].ptr);
    }
    churn((uint64_t)iteration * 31 + 7, 10);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, child_thread, (void *)(uintptr_t)iteration) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    _exit(0);
}

static uint64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* The child's exit status; kills it and fails the test past the deadline. */
static int wait_with_deadline(pid_t pid)
{
    uint64_t deadline = now_ms() + CHILD_DEADLINE_MS + 5000;
    int status;
    pid_t done;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0) {
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "child %d hung after fork\n", (int)pid);
            exit(1);
        }
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    CHECK(done == pid);
    return status;
}

int main(void)
{
    pthread_t workers[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        CHECK(pthread_create(&workers[i], NULL, allocate_until_stopped, (void *)(uintptr_t)i) == 0);
    uint64_t random = 5;
    for (int iteration = 0; iteration < FORKS; iteration++) {
        for (int i = 0; i < KEPT; i++) {
            kept[i].size = random_size(&random);
            CHECK((kept[i].ptr = malloc(kept[i].size)) != NULL);
            pattern_fill(kept[i].ptr, kept[i].size);
        }
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            child(iteration);
        int status = wait_with_deadline(pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child of fork %d: status 0x%x\n", iteration, status);
            return 1;
        }
        for (int i = 0; i < KEPT; i++) {
            pattern_check(kept[i].ptr, kept[i].size);
            free(kept[i].ptr);
        }
    }
    atomic_store(&stopping, true);
    for (int i = 0; i < WORKERS; i++)
        CHECK(pthread_join(workers[i], NULL) == 0);
    return 0;
}
