/* glibc's introspection calls, declared in <malloc.h>, answered with
 * tcarena's own figures (one snapshot each, as tca_stats_print takes), so
 * that monitoring code written for glibc sees the heap it runs on:
 *
 *   mallinfo2   arena = the page heap's bytes (mapped - metadata),
 *               uordblks = allocated, fordblks = arena - allocated,
 *               keepcost = dirty (what malloc_trim gives back); glibc's
 *               chunk counts and mmap figures have no counterpart: 0
 *   mallinfo    the same, each clamped to INT_MAX
 *   malloc_stats  glibc's lines on stderr: each arena's system bytes (its
 *               pages) and in-use bytes (allocated), then the totals
 *   malloc_info glibc's XML: per arena the free blocks of each size class in
 *               its slabs, its pages; then the totals */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "pageheap/os.h"
#include "src/ctl.h"

static void fill_mallinfo2(const struct tca_stats *stats, uint64_t epoch, void *arg)
{
    (void)epoch;
    struct mallinfo2 *info = arg;
    size_t heap = stats->mapped - stats->metadata;
    *info = (struct mallinfo2){
        .arena = heap,
        .uordblks = stats->allocated,
        .fordblks = heap - stats->allocated,
        .keepcost = stats->dirty,
    };
}

TCA_EXPORT struct mallinfo2 mallinfo2(void)
{
    struct mallinfo2 info = {0};
    ctl_read_snapshot(fill_mallinfo2, &info);
    return info;
}

static int clamped(size_t value) { return value > INT_MAX ? INT_MAX : (int)value; }

TCA_EXPORT struct mallinfo mallinfo(void)
{
    struct mallinfo2 wide = mallinfo2();
    return (struct mallinfo){
        .arena = clamped(wide.arena),
        .uordblks = clamped(wide.uordblks),
        .fordblks = clamped(wide.fordblks),
        .keepcost = clamped(wide.keepcost),
    };
}

/* "system bytes     =     135168\n" as glibc prints it (%10u), into line. */
static void stats_line(char *line, const char *label, uint64_t value)
{
    char digits[24];
    const char *number = os_format_u64(digits, value, 10);
    strcpy(line, label);
    for (size_t pad = strlen(number); pad < 10; pad++)
        strcat(line, " ");
    strcat(strcat(line, number), "\n");
}

/* Written with os_* calls: nothing allocates while the ctl lock is held. */
static void print_malloc_stats(const struct tca_stats *stats, uint64_t epoch, void *arg)
{
    (void)epoch, (void)arg;
    char line[64], digits[24];
    for (unsigned i = 0; i < stats->narenas; i++) {
        os_write_stderr(strcat(strcat(strcpy(line, "Arena "), os_format_u64(digits, i, 10)), ":\n"));
        stats_line(line, "system bytes     = ", stats->arenas[i].mapped);
        os_write_stderr(line);
        stats_line(line, "in use bytes     = ", stats->arenas[i].allocated);
        os_write_stderr(line);
    }
    os_write_stderr("Total (incl. mmap):\n");
    stats_line(line, "system bytes     = ", stats->mapped);
    os_write_stderr(line);
    stats_line(line, "in use bytes     = ", stats->allocated);
    os_write_stderr(line);
    stats_line(line, "max mmap regions = ", 0);
    os_write_stderr(line);
    stats_line(line, "max mmap bytes   = ", 0);
    os_write_stderr(line);
}

TCA_EXPORT void malloc_stats(void) { ctl_read_snapshot(print_malloc_stats, NULL); }

/* A heap's (or, whole, the totals') closing elements, as glibc writes them. */
static void print_xml_sizes(FILE *stream, uint64_t free_count, uint64_t free_bytes, uint64_t system, bool whole)
{
    fprintf(stream,
            "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
            "<total type=\"rest\" count=\"%llu\" size=\"%llu\"/>\n%s",
            (unsigned long long)free_count, (unsigned long long)free_bytes,
            whole ? "<total type=\"mmap\" count=\"0\" size=\"0\"/>\n" : "");
    fprintf(stream, "<system type=\"current\" size=\"%llu\"/>\n<system type=\"max\" size=\"%llu\"/>\n",
            (unsigned long long)system, (unsigned long long)system);
    fprintf(stream, "<aspace type=\"total\" size=\"%llu\"/>\n<aspace type=\"mprotect\" size=\"%llu\"/>\n",
            (unsigned long long)system, (unsigned long long)system);
}

/* stdio may allocate: the ctl lock is recursive and holds no allocator lock. */
static void print_malloc_info(const struct tca_stats *stats, uint64_t epoch, void *arg)
{
    (void)epoch;
    FILE *stream = arg;
    const struct live_header *header = stats->view->header;
    uint64_t all_count = 0, all_bytes = 0;
    fprintf(stream, "<malloc version=\"0\">\n");
    for (unsigned i = 0; i < stats->narenas; i++) {
        uint64_t count = 0, bytes = 0;
        fprintf(stream, "<heap nr=\"%u\">\n<sizes>\n", i);
        for (unsigned j = 0; j < STATS_NBINS; j++) {
            const struct bin_stats *bin = &stats->arenas[i].bins[j];
            uint64_t size = header->class_size[j + 1];
            uint64_t free_blocks = bin->curslabs * sizeclass_table[j + 1].nslots - bin->curregs;
            if (!free_blocks)
                continue;
            fprintf(stream, "  <size from=\"%llu\" to=\"%llu\" total=\"%llu\" count=\"%llu\"/>\n",
                    (unsigned long long)header->class_size[j] + 1, (unsigned long long)size,
                    (unsigned long long)(free_blocks * size), (unsigned long long)free_blocks);
            count += free_blocks;
            bytes += free_blocks * size;
        }
        fprintf(stream, "</sizes>\n");
        print_xml_sizes(stream, count, bytes, stats->arenas[i].mapped, false);
        fprintf(stream, "</heap>\n");
        all_count += count;
        all_bytes += bytes;
    }
    print_xml_sizes(stream, all_count, all_bytes, stats->mapped, true);
    fprintf(stream, "</malloc>\n");
}

/* options must be 0, as glibc asks. */
TCA_EXPORT int malloc_info(int options, FILE *stream)
{
    if (options != 0 || !stream) {
        errno = EINVAL;
        return -1;
    }
    return ctl_read_snapshot(print_malloc_info, stream) ? 0 : -1;
}
