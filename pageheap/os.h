/* The operating system: every system call, and every call into the C library
 * that makes one, goes through these functions (os.c), so that what the
 * allocator asks of the kernel can be read in one place.  Reading the CPU
 * number from rseq (below) is a memory load, not a call. */
#ifndef TCA_OS_H
#define TCA_OS_H

#include <time.h>

#include "pageheap/common.h"

/* Anonymous read-write mapping of size bytes aligned to align (a power of two
 * ≥ the system page).  Returns NULL when the kernel refuses. */
void *os_map(size_t size, size_t align);
void os_unmap(void *addr, size_t size);
/* size bytes of address space that read zero and cannot be written until
 * os_protect(..., true) opens a part of them: no memory until then, never
 * huge pages, not in core dumps.  NULL when the kernel refuses (an
 * address-space limit, ulimit -v). */
void *os_reserve_zero(size_t size);
/* Drop the pages' contents and their RSS; the range stays mapped and reads
 * zero.  False when the kernel refused (then nothing can be assumed). */
bool os_purge(void *addr, size_t size);
/* Transparent huge pages for a range: huge true asks for them, false forbids them. */
void os_advise_huge_pages(void *addr, size_t size, bool huge);
/* Faults in [addr, addr + size) for writing now; false if the kernel cannot. */
bool os_populate(void *addr, size_t size);
/* Asks that the range's pages, when first touched, come from NUMA node node
 * (mbind MPOL_PREFERRED: another node when that one is full).  False when the
 * kernel refused (no such node, no NUMA support); the range is then unchanged. */
bool os_bind_preferred(void *addr, size_t size, unsigned node);
/* Makes a range readable and writable (accessible) or inaccessible (PROT_NONE);
 * false when the kernel refused (it ran out of mappings, vm.max_map_count). */
bool os_protect(void *addr, size_t size, bool accessible);
/* 64 random bits from the kernel (getrandom, else the bytes it gave at exec). */
uint64_t os_random_u64(void);
size_t os_system_page_size(void);
/* True when text lies among the argument and environment strings the kernel
 * placed at exec: on the stack, so writable, whatever the program did since. */
bool os_is_exec_string(const char *text);
/* Threads of this process still running (/proc/self/stat), 0 when unknown. */
unsigned os_live_thread_count(void);
/* CPUs this process may run on (sched_getaffinity), and the highest such id + 1. */
unsigned os_cpu_count(unsigned *max_cpu_id_plus_one);
/* Reads up to size-1 bytes of a small file (/sys) into buf, NUL-terminated;
 * returns the length, or -1 when it cannot be read. */
long os_read_file(const char *path, char *buf, size_t size);
/* The CPUs the process may run on as a bit mask of bytes bytes (bit i: CPU i):
 * the main thread's and the caller's affinity together, so that a thread pinned
 * before asking still sees the whole process.  False when neither can be read. */
bool os_allowed_cpus(uint64_t *mask, size_t bytes);
/* CLOCK_MONOTONIC_COARSE in milliseconds: a vDSO read, no system call.  Weak,
 * so a test linking the static library can supply its own clock; calls from
 * the library itself stay direct (hidden symbols), so production pays nothing. */
uint64_t os_clock_ms(void);
/* CLOCK_MONOTONIC ms milliseconds from now, for pthread_cond_clockwait(). */
struct timespec os_monotonic_deadline(uint64_t ms);
void os_write_stderr(const char *text);
/* False when not all of text could be written. */
bool os_write_fd(int fd, const char *text);
/* Creates or truncates path for writing; -1 when it cannot. */
int os_open_output(const char *path);
void os_close(int fd);

/* Descriptors the allocator keeps open are moved to this number or above
 * (close-on-exec): never 0-2, which a daemon that closed its standard streams
 * would get back from its next open, nor the low numbers programs count on. */
#define OS_HIGH_FD 100
/* Which open file a descriptor is (its device and inode): a program may close
 * one of ours, and another file may then take its number. */
struct os_file_id {
    uint64_t device, inode;
};
/* The file fd refers to; false when fd is not open. */
bool os_file_id_of(int fd, struct os_file_id *id);
/* A duplicate of fd at OS_HIGH_FD or above (or, under a descriptor limit
 * below that, at 3 or above), close-on-exec; -1 when it cannot. */
int os_dup_high(int fd);
/* An anonymous shared-memory file (memfd_create, close-on-exec) of size
 * bytes, named name (it shows as "/memfd:NAME" in /proc/PID/fd), at a
 * descriptor os_dup_high() chose; -1 when the kernel refuses (seccomp, limits). */
int os_shared_memory_create(const char *name, size_t size);
/* Maps size bytes of fd shared and read-write; at: over that address
 * (MAP_FIXED), else anywhere.  NULL when the kernel refuses. */
void *os_map_shared(int fd, size_t size, void *at);
/* Anonymous private memory over [at, at + size) (MAP_FIXED). */
bool os_map_private_at(void *at, size_t size);
/* Puts the file of from at descriptor number to (close-on-exec) and closes
 * from; false (from left open) when the kernel refuses. */
bool os_move_fd(int from, int to);
unsigned os_process_id(void);
/* Appends the whole file at path (/proc/self/maps) to fd; false when it
 * cannot be read or written. */
bool os_copy_file(const char *path, int fd);
/* "tcarena: <what> 0x<ptr>[ (size class <size>)]" on stderr, then abort(). */
_Noreturn void os_fatal_pointer(const char *what, const void *ptr, size_t class_size);
/* "tcarena: <fn>(): <what> 0x<ptr>" on stderr, then abort(): a bad pointer
 * given to a function other than free names that function. */
_Noreturn void os_fatal_call(const char *fn, const char *what, const void *ptr);
/* Formats an unsigned number into buf (at least 24 bytes) without allocating. */
char *os_format_u64(char *buf, uint64_t value, unsigned base);
/* Lets another thread run (sched_yield): a spin that waits on one. */
void os_yield(void);
/* Starts a detached thread named name running body(NULL) on a stack of
 * stack_size bytes, with every signal blocked (the program's handlers must
 * never run on it); false when it cannot be created. */
bool os_thread_start(void *(*body)(void *), size_t stack_size, const char *name);
/* dlopen(name, RTLD_NOW | RTLD_LOCAL): a library loaded for a moment, whose
 * symbols stay its own; NULL when it cannot be loaded. */
void *os_library_open(const char *name);
void *os_library_symbol(void *library, const char *name);
void os_library_close(void *library);
/* The next definition of a function after ours in the symbol search order
 * (dlsym RTLD_NEXT): the C++ library's operator new, behind tcarena's. */
void *os_next_symbol(const char *name);
/* The executable segment [*start, *end) of the loaded object (program or
 * shared library) whose code holds address; *in_program: that object is the
 * program itself.  False when none does.  Takes the dynamic linker's lock:
 * not from inside an allocation. */
bool os_code_segment_of(const void *address, uintptr_t *start, uintptr_t *end, bool *in_program);

/* sched_getcpu(), 0 when it fails. */
unsigned os_cpu_from_kernel(void);

/* The CPU the calling thread runs on now.  glibc ≥ 2.35 registers rseq for each
 * thread and publishes where its area lies (__rseq_offset from the thread
 * pointer); reading cpu_id there costs two loads and no system call.  Where rseq
 * is off (old glibc, GLIBC_TUNABLES=glibc.pthread.rseq=0, valgrind) we ask the
 * kernel. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

TCA_INLINE unsigned os_current_cpu(void)
{
    if (&__rseq_size && __rseq_size >= 8) {
        /* struct rseq: u32 cpu_id_start, then s32 cpu_id (negative until registered). */
        const volatile int *cpu_id = (const volatile int *)((char *)__builtin_thread_pointer() + __rseq_offset + 4);
        int cpu = *cpu_id;
        if (TCA_LIKELY(cpu >= 0))
            return (unsigned)cpu;
    }
    return os_cpu_from_kernel();
}

#endif
