/* The process live.sh reads from outside while it runs under the heap
 * profiler (it runs under LD_PRELOAD, built with debug information): it
 * keeps a known big leak at one function and two smaller ones at others,
 * says "ready", then follows its stdin line by line:
 *
 *   free    frees the big leak, says "freed"
 *   fork    forks a child that keeps everything and waits to be killed;
 *           says the child's process id
 *
 * and ends when stdin closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BIG_BLOCKS 2000 /* of 4000 bytes: 8 MB */

static void *big[BIG_BLOCKS];
static void *volatile small[600];

/* The big leak: 8 MB, one site. */
__attribute__((noinline)) void keep_big_leak(void)
{
    for (int i = 0; i < BIG_BLOCKS; i++) {
        big[i] = malloc(4000);
        memset(big[i], 1, 4000);
    }
}

/* 400 KB and 100 KB. */
__attribute__((noinline)) void keep_middle_leak(void)
{
    for (int i = 0; i < 400; i++)
        small[i] = malloc(1000);
}

__attribute__((noinline)) void keep_small_leak(void)
{
    for (int i = 400; i < 600; i++)
        small[i] = malloc(500);
}

int main(void)
{
    keep_big_leak();
    keep_middle_leak();
    keep_small_leak();
    printf("ready\n");
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        if (!strcmp(line, "free\n")) {
            for (int i = 0; i < BIG_BLOCKS; i++)
                free(big[i]);
            printf("freed\n");
        } else if (!strcmp(line, "fork\n")) {
            pid_t child = fork();
            if (child == 0) {
                for (;;)
                    pause();
            }
            printf("%d\n", (int)child);
        }
        fflush(stdout);
    }
    return 0;
}
