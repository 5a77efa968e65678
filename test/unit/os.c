/* The OS seam (pageheap/os.c), the one place that makes system calls: aligned
 * mappings that read zero and give their pages back, the machine's CPUs and
 * this process's, files written and read, the clocks, number formatting, the
 * one-line abort, a library loaded for a moment, a thread started with its
 * name and every signal blocked, and the secure build's protection and random
 * bits. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>

#include "check.h"
#include "pageheap/os.h"

static void check_mappings(void)
{
    size_t page = os_system_page_size();
    CHECK(page == (size_t)sysconf(_SC_PAGESIZE));
    for (size_t align = page; align <= ((size_t)4 << 20); align *= 8) {
        size_t size = 3 * align;
        unsigned char *memory = os_map(size, align);
        CHECK(memory && (uintptr_t)memory % align == 0);
        for (size_t i = 0; i < size; i += page)
            CHECK(memory[i] == 0);
        memset(memory, 0x5a, size);
        /* Purged pages stay mapped, read zero and leave the resident set. */
        CHECK(os_purge(memory, size));
        unsigned char resident[3 * (4 << 20) / 4096];
        CHECK(mincore(memory, size, resident) == 0);
        for (size_t i = 0; i < size / page; i++)
            CHECK(!(resident[i] & 1) && memory[i * page] == 0);
        os_advise_huge_pages(memory, size, false); /* a hint: only that it is harmless */
        memory[size - 1] = 1;
        os_unmap(memory, size);
    }
    /* More than the address space has: refused, not aborted. */
    CHECK(os_map((size_t)1 << 62, page) == NULL);
}

static void check_cpus(void)
{
    unsigned top = 0, count = os_cpu_count(&top);
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    CHECK(count == (unsigned)CPU_COUNT(&set) && count >= 1 && top >= count);
    CHECK(CPU_ISSET(top - 1, &set));
    uint64_t mask[4096 / 64] = {0};
    CHECK(os_allowed_cpus(mask, sizeof mask));
    for (unsigned cpu = 0; cpu < top; cpu++)
        if (CPU_ISSET(cpu, &set))
            CHECK(mask[cpu / 64] >> (cpu % 64) & 1);
    /* The CPU we run on is one we may run on (rseq's cpu_id or the kernel's answer). */
    unsigned now = os_current_cpu(), asked = os_cpu_from_kernel();
    CHECK(now < top && asked < top && CPU_ISSET(now, &set) && CPU_ISSET(asked, &set));
    os_yield();
}

static void check_files(void)
{
    char path[] = "/tmp/tcarena-os-XXXXXX";
    int made = mkstemp(path);
    CHECK(made >= 0);
    close(made);
    int fd = os_open_output(path);
    CHECK(fd >= 0);
    os_write_fd(fd, "tcarena ");
    os_write_fd(fd, "os\n");
    os_close(fd);
    char text[64];
    CHECK(os_read_file(path, text, sizeof text) == 11 && !strcmp(text, "tcarena os\n"));
    CHECK(os_read_file(path, text, 4) == 3 && !strcmp(text, "tca")); /* cut to the buffer */
    unlink(path);
    CHECK(os_read_file(path, text, sizeof text) == -1);
    CHECK(os_open_output("/nonexistent/directory/file") == -1);
    CHECK(os_process_id() == (unsigned)getpid());
}

static void check_clocks_and_numbers(void)
{
    uint64_t before = os_clock_ms();
    usleep(30 * 1000);
    uint64_t after = os_clock_ms();
    CHECK(after >= before + 20 && after < before + 5000);
    struct timespec now, deadline = os_monotonic_deadline(1500);
    CHECK(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
    int64_t ahead_ms = (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
    CHECK(ahead_ms > 1000 && ahead_ms <= 1500 && deadline.tv_nsec < 1000000000);
    char digits[24];
    CHECK(!strcmp(os_format_u64(digits, 0, 10), "0"));
    CHECK(!strcmp(os_format_u64(digits, 18446744073709551615ull, 10), "18446744073709551615"));
    CHECK(!strcmp(os_format_u64(digits, 0x7f3a2c000040ull, 16), "7f3a2c000040"));
}

static void fatal_pointer(void *ptr) { os_fatal_pointer("double free of", ptr, 48); }

static int thread_answer; /* 1: the thread runs with every signal blocked, under its name; 2: not */
static int thread_may_end;

static void *thread_body(void *arg)
{
    (void)arg;
    sigset_t blocked;
    char name[16];
    bool all_blocked = pthread_sigmask(SIG_SETMASK, NULL, &blocked) == 0 && sigismember(&blocked, SIGINT) &&
                       sigismember(&blocked, SIGTERM) && sigismember(&blocked, SIGUSR1);
    bool named = pthread_getname_np(pthread_self(), name, sizeof name) == 0 && !strcmp(name, "tcarena-test");
    __atomic_store_n(&thread_answer, all_blocked && named ? 1 : 2, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&thread_may_end, __ATOMIC_ACQUIRE))
        usleep(1000);
    return NULL;
}

static void check_threads(void)
{
    unsigned before = os_live_thread_count();
    CHECK(before == 1);
    CHECK(os_thread_start(thread_body, 256 << 10, "tcarena-test"));
    for (int waited_ms = 0; !__atomic_load_n(&thread_answer, __ATOMIC_ACQUIRE) && waited_ms < 10000; waited_ms++)
        usleep(1000);
    CHECK(thread_answer == 1);
    CHECK(os_live_thread_count() == before + 1);
    __atomic_store_n(&thread_may_end, 1, __ATOMIC_RELEASE);
}

static void check_library(void)
{
    void *libc = os_library_open("libc.so.6");
    CHECK(libc != NULL);
    pid_t (*process_id)(void) = (pid_t (*)(void))os_library_symbol(libc, "getpid");
    CHECK(process_id && process_id() == getpid());
    CHECK(os_library_symbol(libc, "tcarena_no_such_symbol") == NULL);
    os_library_close(libc);
    CHECK(os_library_open("libtcarena-no-such-library.so") == NULL);
}

#if TCA_SECURE
/* The secure build's guard pages and random slot order. */
static void check_protection_and_randomness(void)
{
    size_t page = os_system_page_size();
    char *memory = os_map(page, page);
    CHECK(memory && os_protect(memory, page, false) && os_protect(memory, page, true));
    memory[0] = 1;
    os_unmap(memory, page);
    uint64_t first = os_random_u64(), second = os_random_u64();
    CHECK(first != second);
}
#endif

int main(void)
{
    check_mappings();
    check_cpus();
    check_files();
    check_clocks_and_numbers();
    check_threads();
    check_library();
#if TCA_SECURE
    check_protection_and_randomness();
#endif
    check_aborts(fatal_pointer, (void *)0x7f3a2c000040, "double free of", (void *)0x7f3a2c000040);
    return 0;
}
