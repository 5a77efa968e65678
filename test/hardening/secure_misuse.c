/* Secure build (-Dsecure=true): misuse is caught at the free call that commits
 * it, though the block waits in quarantine: a double free right after the
 * first, with another free between (free(a); free(b); free(a)), and after the
 * block left quarantine; an interior pointer.  A write into a block in
 * quarantine aborts when the block leaves it.  Writing past the end of a slab
 * faults in its guard page, and freeing a pointer into that page aborts. */
#include <malloc.h>
#include <signal.h>
#include <stdint.h>

#include "arenas/secure.h"
#include "secure_bin.h"

#define BLOCK_SIZE 64

static void free_once(void *ptr) { free(ptr); }

static void free_twice(void *ptr)
{
    free(ptr);
    free(ptr);
}

static void free_twice_apart(void *ptr)
{
    void *other = malloc(BLOCK_SIZE);
    free(ptr);
    free(other);
    free(ptr);
}

/* Frees ptr, optionally writes into it, then frees enough other blocks to push it out of quarantine. */
static void free_then_push_out(void *ptr, bool write_after_free)
{
    void *others[2 * SECURE_QUARANTINE_LEN];
    for (unsigned i = 0; i < 2 * SECURE_QUARANTINE_LEN; i++)
        others[i] = malloc(BLOCK_SIZE);
    free(ptr);
    if (write_after_free)
        memset(ptr, 0, sizeof(void *));
    for (unsigned i = 0; i < 2 * SECURE_QUARANTINE_LEN; i++)
        free(others[i]);
}

/* The second free finds the block free in its slab, not in quarantine. */
static void free_twice_past_quarantine(void *ptr)
{
    free_then_push_out(ptr, false);
    free(ptr);
}

/* Caught when the block leaves quarantine. */
static void write_after_free(void *ptr) { free_then_push_out(ptr, true); }

static void check_misuse(void (*misuse)(void *), const char *what)
{
    void *block = malloc(BLOCK_SIZE);
    CHECK(block != NULL);
    char line[80];
    snprintf(line, sizeof line, "%s of %p (size class %d)", what, block, BLOCK_SIZE);
    check_aborts(misuse, block, line, block);
    free(block);
}

static int fault_pipe[2];

static void report_fault(int sig, siginfo_t *info, void *context)
{
    (void)sig, (void)context;
    void *address = info->si_addr;
    _exit(write(fault_pipe[1], &address, sizeof address) == sizeof address ? 0 : 1);
}

/* Writes byte after byte from a block on, in a child, until it faults;
 * returns where (NULL when the child did not fault). */
static char *first_fault_after(char *block)
{
    CHECK(pipe(fault_pipe) == 0);
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        struct sigaction action = {.sa_sigaction = report_fault, .sa_flags = SA_SIGINFO};
        sigaction(SIGSEGV, &action, NULL);
        for (volatile char *byte = block;; byte++)
            *byte = 1;
    }
    close(fault_pipe[1]);
    char *fault = NULL;
    if (read(fault_pipe[0], &fault, sizeof fault) != sizeof fault)
        fault = NULL;
    close(fault_pipe[0]);
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return fault;
}

int main(void)
{
    check_misuse(free_twice, "double free");
    check_misuse(free_twice_apart, "double free");
    check_misuse(free_twice_past_quarantine, "double free");
    check_misuse(write_after_free, "write after free");

    char *block = malloc(BLOCK_SIZE);
    check_aborts(free_once, block + 16, "invalid", block + 16);
    check_aborts(free_once, block + 1, "invalid", block + 1);

    /* The guard page starts where the block's slab ends. */
    struct secure_bin_geometry bin = secure_bin_of(BLOCK_SIZE);
    char *fault = first_fault_after(block);
    CHECK(fault != NULL && fault > block && (size_t)(fault - block) <= bin.slab_size);
    CHECK((uintptr_t)fault % TCA_PAGE_SIZE == 0);
    check_aborts(free_once, fault, "invalid", fault);
    check_aborts(free_once, fault + BLOCK_SIZE, "invalid", fault + BLOCK_SIZE);
    free(block);
    return 0;
}
