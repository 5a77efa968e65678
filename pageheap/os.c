/* The only file with system calls.  Nothing here allocates, as it runs before
 * the allocator is initialised and inside its slow paths, but for loading a
 * library and starting a thread (glibc's dlopen and pthread_create call
 * malloc): those run on a booted allocator, outside every lock of its own. */
#include "pageheap/os.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void *os_map(size_t size, size_t align)
{
    size_t page = os_system_page_size();
    if (align < page)
        align = page;
    /* Over-map by the alignment and trim both ends: one mapping, no retries. */
    size_t span = size + align - page;
    if (span < size)
        return NULL;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *aligned = (char *)tca_align_up((uintptr_t)raw, align);
    if (aligned > raw)
        munmap(raw, (size_t)(aligned - raw));
    char *end = raw + span, *want_end = aligned + size;
    if (end > want_end)
        munmap(want_end, (size_t)(end - want_end));
    return aligned;
}

void os_unmap(void *addr, size_t size) { munmap(addr, size); }

/* Read-only private memory is no commitment: the kernel charges a private
 * mapping against its overcommit limit only once it is writable, which is
 * what makes a reservation larger than memory possible under
 * vm.overcommit_memory=2 as well.  No huge pages (one would hold a few bytes
 * that matter among megabytes of zeros) and no place in core dumps. */
void *os_reserve_zero(size_t size)
{
    void *addr = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (addr == MAP_FAILED)
        return NULL;
    madvise(addr, size, MADV_NOHUGEPAGE);
    madvise(addr, size, MADV_DONTDUMP);
    return addr;
}

/* MADV_DONTNEED, not MADV_FREE: MADV_FREE leaves the pages in RSS until the
 * kernel is short of memory, so RSS would not follow the live heap. */
bool os_purge(void *addr, size_t size) { return madvise(addr, size, MADV_DONTNEED) == 0; }

/* MADV_POPULATE_WRITE (Linux 5.14) faults the range in by one system call.
 * False where the kernel lacks it. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
bool os_populate(void *addr, size_t size) { return madvise(addr, size, MADV_POPULATE_WRITE) == 0 || errno != EINVAL; }

void os_advise_huge_pages(void *addr, size_t size, bool huge)
{
    madvise(addr, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

/* The raw system call: libnuma's mbind() wrapper would mean linking libnuma. */
#define OS_MPOL_PREFERRED 1
#define OS_BIND_MAX_NODES 1024

bool os_bind_preferred(void *addr, size_t size, unsigned node)
{
    if (node >= OS_BIND_MAX_NODES)
        return false;
    unsigned long mask[OS_BIND_MAX_NODES / (8 * sizeof(unsigned long))] = {0};
    const unsigned word_bits = 8 * sizeof(unsigned long);
    mask[node / word_bits] = 1ul << (node % word_bits);
    /* The kernel reads maxnode - 1 bits (an off-by-one kept for compatibility). */
    unsigned long maxnode = (node / word_bits + 1) * word_bits + 1;
    return syscall(SYS_mbind, addr, size, OS_MPOL_PREFERRED, mask, maxnode, 0u) == 0;
}

/* The secure build's guard pages (arenas/secure.c), and the pagemap's flat
 * classes opened as the heap reaches them. */
bool os_protect(void *addr, size_t size, bool accessible)
{
    return mprotect(addr, size, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) == 0;
}

/* Seeds: the secure build's random slot order, the heap profiler's intervals. */
uint64_t os_random_u64(void)
{
    uint64_t value;
    if (getrandom(&value, sizeof value, GRND_NONBLOCK) == (ssize_t)sizeof value)
        return value;
    memcpy(&value, (const void *)getauxval(AT_RANDOM), sizeof value);
    return value;
}

size_t os_system_page_size(void)
{
    static size_t cached;
    if (!cached) {
        size_t page = (size_t)getauxval(AT_PAGESZ);
        cached = page ? page : 4096;
    }
    return cached;
}

/* The kernel copies the file name (AT_EXECFN) highest on the new stack, the
 * environment and argument strings below it, and the random bytes
 * (AT_RANDOM) below those. */
bool os_is_exec_string(const char *text)
{
    uintptr_t low = (uintptr_t)getauxval(AT_RANDOM), high = (uintptr_t)getauxval(AT_EXECFN);
    return low && high && (uintptr_t)text > low && (uintptr_t)text < high;
}

unsigned os_cpu_count(unsigned *max_cpu_id_plus_one)
{
    cpu_set_t set;
    unsigned count = 1, top = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        count = (unsigned)CPU_COUNT(&set);
        for (unsigned cpu = 0; cpu < CPU_SETSIZE; cpu++)
            if (CPU_ISSET(cpu, &set))
                top = cpu + 1;
    }
    if (max_cpu_id_plus_one)
        *max_cpu_id_plus_one = top;
    return count ? count : 1;
}

long os_read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    ssize_t n;
    while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = '\0';
    return (long)len;
}

bool os_allowed_cpus(uint64_t *mask, size_t bytes)
{
    uint64_t caller[bytes / sizeof *mask];
    bool from_main = sched_getaffinity(getpid(), bytes, (cpu_set_t *)mask) == 0;
    bool from_caller = sched_getaffinity(0, bytes, (cpu_set_t *)caller) == 0;
    if (!from_main)
        memset(mask, 0, bytes);
    for (size_t i = 0; from_caller && i < bytes / sizeof *mask; i++)
        mask[i] |= caller[i];
    return from_main || from_caller;
}

unsigned os_live_thread_count(void)
{
    char text[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t len = read(fd, text, sizeof text - 1);
    close(fd);
    if (len <= 0)
        return 0;
    text[len] = '\0';
    /* The command name may hold spaces and ')': the fields start after the
     * last ')', with the state first and num_threads the 18th. */
    char *field = strrchr(text, ')');
    if (!field || field[1] != ' ')
        return 0;
    bool leader_exited = field[2] == 'Z';
    for (unsigned skip = 0; field && skip < 18; skip++)
        field = strchr(field + 1, ' ');
    unsigned threads = field ? (unsigned)strtoul(field + 1, NULL, 10) : 0;
    /* A main thread that left with pthread_exit() stays a zombie and counted. */
    return threads > (unsigned)leader_exited ? threads - leader_exited : 0;
}

__attribute__((weak)) uint64_t os_clock_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

bool os_write_fd(int fd, const char *text)
{
    size_t len = strlen(text);
    while (len) {
        ssize_t n = write(fd, text, len);
        if (n <= 0)
            return false;
        text += n;
        len -= (size_t)n;
    }
    return true;
}

struct timespec os_monotonic_deadline(uint64_t ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(ms / 1000);
    deadline.tv_nsec += (long)(ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    return deadline;
}

void os_write_stderr(const char *text) { os_write_fd(STDERR_FILENO, text); }

int os_open_output(const char *path) { return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644); }

void os_close(int fd) { close(fd); }

bool os_file_id_of(int fd, struct os_file_id *id)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return false;
    *id = (struct os_file_id){.device = st.st_dev, .inode = st.st_ino};
    return true;
}

int os_dup_high(int fd)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, OS_HIGH_FD);
    return high >= 0 ? high : fcntl(fd, F_DUPFD_CLOEXEC, 3); /* a descriptor limit below OS_HIGH_FD */
}

int os_shared_memory_create(const char *name, size_t size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    int high = ftruncate(fd, (off_t)size) == 0 ? os_dup_high(fd) : -1;
    close(fd);
    return high;
}

void *os_map_shared(int fd, size_t size, void *at)
{
    void *memory = mmap(at, size, PROT_READ | PROT_WRITE, MAP_SHARED | (at ? MAP_FIXED : 0), fd, 0);
    return memory == MAP_FAILED ? NULL : memory;
}

bool os_map_private_at(void *at, size_t size)
{
    return mmap(at, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
}

bool os_move_fd(int from, int to)
{
    if (dup3(from, to, O_CLOEXEC) != to)
        return false;
    close(from);
    return true;
}

unsigned os_process_id(void) { return (unsigned)getpid(); }

bool os_copy_file(const char *path, int fd)
{
    int from = open(path, O_RDONLY | O_CLOEXEC);
    if (from < 0)
        return false;
    char buf[4096];
    ssize_t n;
    bool copied = true;
    while (copied && (n = read(from, buf, sizeof buf)) > 0)
        for (ssize_t done = 0, written; copied && done < n; done += written)
            copied = (written = write(fd, buf + done, (size_t)(n - done))) > 0;
    close(from);
    return copied;
}

char *os_format_u64(char *buf, uint64_t value, unsigned base)
{
    char *end = buf + 23, *p = end;
    *p = '\0';
    do {
        *--p = "0123456789abcdef"[value % base];
        value /= base;
    } while (value);
    return p;
}

void os_fatal_pointer(const char *what, const void *ptr, size_t class_size)
{
    char line[160], num[24];
    strcpy(line, "tcarena: ");
    strcat(line, what);
    strcat(line, " 0x");
    strcat(line, os_format_u64(num, (uintptr_t)ptr, 16));
    if (class_size) {
        strcat(line, " (size class ");
        strcat(line, os_format_u64(num, class_size, 10));
        strcat(line, ")");
    }
    strcat(line, "\n");
    os_write_stderr(line);
    abort();
}

void os_fatal_call(const char *fn, const char *what, const void *ptr)
{
    char line[96];
    strcpy(line, fn);
    strcat(line, "(): ");
    strcat(line, what);
    os_fatal_pointer(line, ptr, 0);
}

void os_yield(void) { sched_yield(); }

unsigned os_cpu_from_kernel(void)
{
    int cpu = sched_getcpu();
    return cpu >= 0 ? (unsigned)cpu : 0;
}

bool os_thread_start(void *(*body)(void *), size_t stack_size, const char *name)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, stack_size);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    bool started = pthread_create(&thread, &attr, body, NULL) == 0;
    if (started)
        pthread_setname_np(thread, name);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return started;
}

void *os_library_open(const char *name) { return dlopen(name, RTLD_NOW | RTLD_LOCAL); }

void *os_library_symbol(void *library, const char *name) { return dlsym(library, name); }

void os_library_close(void *library) { dlclose(library); }

void *os_next_symbol(const char *name) { return dlsym(RTLD_NEXT, name); }

struct code_search {
    uintptr_t address, start, end;
    bool found, in_program;
};

static int find_code_segment(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct code_search *search = arg;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + segment->p_vaddr;
        if (segment->p_type != PT_LOAD || !(segment->p_flags & PF_X) || search->address < start ||
            search->address >= start + segment->p_memsz)
            continue;
        *search = (struct code_search){search->address, start, start + segment->p_memsz, true,
                                       !info->dlpi_name || !info->dlpi_name[0]};
        return 1;
    }
    return 0;
}

bool os_code_segment_of(const void *address, uintptr_t *start, uintptr_t *end, bool *in_program)
{
    struct code_search search = {.address = (uintptr_t)address};
    dl_iterate_phdr(find_code_segment, &search);
    *start = search.start, *end = search.end, *in_program = search.in_program;
    return search.found;
}
