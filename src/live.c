/* The statistics page of this process (see live.h): made at bootstrap, its
 * storage handed to the layers, replaced in a forked child; and the process's
 * own reading of it, each bin's counters copied under the bin's lock. */
#include "src/live.h"

#include <string.h>

#include "arenas/transfer.h"
#include "pageheap/base.h"
#include "pageheap/os.h"
#include "pageheap/pagemap.h"
#include "src/options.h"
#include "src/stats.h"
#include "tcache/tcache.h"
#include "tcarena.h"

static struct {
    struct live_header *header; /* the page */
    size_t bytes;
    size_t copied_bytes;        /* what fork copies: the profiler's section once it runs */
    int fd;                     /* the memory file, at OS_HIGH_FD or above; -1: private memory */
    struct os_file_id file;     /* what fd is, so that a number the program reused is left alone */
    void *fork_copy;            /* the page as fork_prepare found it */
    struct live_view view;
} live = {.fd = -1};

static size_t section_end(const struct live_header *header)
{
    return header->prof_offset + header->prof_bytes;
}

/* The layout: each section on a cache line of its own, the profiler's on
 * pages of its own. */
static void place_sections(struct live_header *header, unsigned narenas)
{
    header->header_bytes = sizeof *header;
    header->heap_offset = tca_align_up(sizeof *header, TCA_CACHELINE);
    header->heap_bytes = sizeof(struct pageheap_counters);
    header->arenas_offset = tca_align_up(header->heap_offset + header->heap_bytes, TCA_CACHELINE);
    header->arena_bytes = sizeof(struct arena_counters);
    header->placement_offset = tca_align_up(header->arenas_offset + narenas * header->arena_bytes, TCA_CACHELINE);
    header->placement_bytes = sizeof(struct topology_placement);
    header->prof_offset = tca_align_up(header->placement_offset + header->placement_bytes, os_system_page_size());
    header->prof_bytes = sizeof(struct live_prof);
    header->narenas = narenas;
}

/* What the counters mean, for whoever reads them. */
static void describe(struct live_header *header)
{
    header->magic = LIVE_MAGIC;
    header->layout_version = LIVE_LAYOUT_VERSION;
    header->pid = os_process_id();
    header->page_size = TCA_PAGE_SIZE;
    strcpy(header->version, TCARENA_VERSION);
    header->nclasses = TCA_NCLASSES;
    for (unsigned cls = 1; cls < TCA_NCLASSES; cls++) {
        header->class_size[cls] = sizeclass_table[cls].size;
        header->class_slab_bytes[cls] = (sizeclass_table[cls].slab_pages + TCA_SECURE) << TCA_PAGE_SHIFT;
    }
    _Static_assert(sizeof tca_options.stats_file <= sizeof header->options[0].value, "an option's text fits");
    header->noptions = tca_option_count < LIVE_MAX_OPTIONS ? tca_option_count : LIVE_MAX_OPTIONS;
    for (unsigned i = 0; i < header->noptions; i++) {
        const struct tca_option_desc *desc = &tca_option_descs[i];
        struct live_option *option = &header->options[i];
        char digits[24];
        strncpy(option->name, desc->name, sizeof option->name - 1);
        strncpy(option->value, options_value_text(desc, digits), sizeof option->value - 1);
        option->quoted = desc->type == OPTION_CHOICE || desc->type == OPTION_STRING;
    }
}

static void set_view(void)
{
    char *base = (char *)live.header;
    live.view = (struct live_view){
        .header = live.header,
        .heap = (const void *)(base + live.header->heap_offset),
        .arenas = (const void *)(base + live.header->arenas_offset),
        .placement = (const void *)(base + live.header->placement_offset),
        .prof = (const void *)(base + live.header->prof_offset),
    };
}

bool live_boot(unsigned narenas, struct live_storage *storage)
{
    struct live_header layout = {0};
    place_sections(&layout, narenas);
    size_t bytes = tca_align_up(section_end(&layout), os_system_page_size());
    int fd = os_shared_memory_create(LIVE_NAME, bytes);
    struct live_header *header = fd >= 0 ? os_map_shared(fd, bytes, NULL) : NULL;
    if (!header && fd >= 0) {
        os_close(fd);
        fd = -1;
    }
    if (!header && !(header = os_map(bytes, 0)))
        return false;
    place_sections(header, narenas);
    header->total_bytes = bytes;
    describe(header);
    live.header = header;
    live.bytes = bytes;
    live.copied_bytes = header->prof_offset;
    live.fd = fd;
    if (fd >= 0)
        os_file_id_of(fd, &live.file);
    set_view();
    char *base = (char *)header;
    *storage = (struct live_storage){
        .heap = (void *)(base + header->heap_offset),
        .arenas = (void *)(base + header->arenas_offset),
        .placement = (void *)(base + header->placement_offset),
    };
    return true;
}

const struct live_view *live_self(void) { return &live.view; }

struct live_prof *live_prof_section(uint64_t interval)
{
    live.copied_bytes = live.bytes;
    __atomic_store_n(&live.header->prof_interval, interval, __ATOMIC_RELEASE);
    return (struct live_prof *)((char *)live.header + live.header->prof_offset);
}

void live_fork_prepare(void)
{
    if (live.fd < 0)
        return; /* private memory: fork copies it */
    live.fork_copy = os_map(live.bytes, 0);
    if (live.fork_copy)
        memcpy(live.fork_copy, live.header, live.copied_bytes);
}

void live_fork_parent(void)
{
    if (live.fork_copy)
        os_unmap(live.fork_copy, live.bytes);
    live.fork_copy = NULL;
}

/* Whether fd is still the memory file the page came from. */
static bool still_ours(int fd)
{
    struct os_file_id now;
    return fd >= 0 && os_file_id_of(fd, &now) && now.device == live.file.device && now.inode == live.file.inode;
}

void live_fork_child(void)
{
    if (live.fd < 0)
        return;
    void *copy = live.fork_copy;
    if (!copy && (copy = os_map(live.bytes, 0))) /* prepare had no memory: the page as it is now */
        memcpy(copy, live.header, live.copied_bytes);
    int fd = os_shared_memory_create(LIVE_NAME, live.bytes);
    if (fd >= 0 && !os_map_shared(fd, live.bytes, live.header)) {
        os_close(fd);
        fd = -1;
    }
    if (fd < 0)
        os_map_private_at(live.header, live.bytes); /* counters of its own that nobody can read */
    if (copy) {
        memcpy(live.header, copy, live.copied_bytes);
        os_unmap(copy, live.bytes);
    }
    live.fork_copy = NULL;
    live.header->pid = os_process_id();
    /* The parent's file goes, and the new one takes its number, unless the
     * program closed it and the number is another file now. */
    if (still_ours(live.fd)) {
        if (fd >= 0 && os_move_fd(fd, live.fd))
            fd = live.fd;
        else
            os_close(live.fd);
    }
    live.fd = fd;
    if (fd >= 0)
        os_file_id_of(fd, &live.file);
}

/* ---- The process's own reading ---- */

bool stats_init(struct tca_stats *stats)
{
    stats->view = &live.view;
    stats->narenas = arena_count;
    stats->arenas = base_alloc(arena_count * sizeof *stats->arenas);
    return stats->arenas != NULL;
}

void stats_collect(struct tca_stats *stats)
{
    stats->tcache_bytes = tcache_cached_bytes() + transfer_cached_bytes();
    stats->thread_caches_known = true;
    for (unsigned i = 0; i < stats->narenas; i++) {
        struct arena_counters counts;
        arena_copy_counters(i, &counts);
        stats_arena_figures(live.header, &counts, &stats->arenas[i]);
    }
    /* The page heap is read after the arenas: every page an arena was seen to
     * hold had been taken from a region already counted in mapped_bytes. */
    struct pageheap_stats heap;
    pageheap_read_stats(&heap);
    stats_add_totals(stats, &heap, base_mapped_bytes() + pagemap_mapped_bytes());
}
