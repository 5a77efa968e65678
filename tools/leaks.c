/* tcarena run --leaks: the report of what a program still held at exit, by
 * call site, read from the heap profile the library wrote then.
 *
 * The profile holds sampled figures per stack and the process's memory map;
 * each stack's figures are scaled up as google-pprof does (a block of size s
 * is sampled with chance 1 - exp(-s / interval)), the allocator's entry
 * points are dropped from the top, stacks that are the same below them are
 * merged, and frames are named from the ELF symbol tables of the files the
 * map names (.symtab, else .dynsym), with file:line from addr2line when it is
 * installed and the file has debug information. */
#include "tcarena.h"

#include <elf.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Sites printed, and frames printed per site. */
#define SITES_SHOWN 10
#define FRAMES_SHOWN 8

struct site {
    uint64_t *frames; /* call sites (return address - 1), the program's first */
    char **labels;    /* how each frame is printed (label_frames) */
    size_t depth;
    double bytes, blocks; /* estimated */
};

struct mapping {
    uint64_t start, end, offset;
    char *path;
};

struct symbol {
    uint64_t start, size;
    const char *name;
};

/* One ELF file's functions, sorted by address, and where its segments lie. */
struct object {
    char *path;
    void *image;
    size_t image_size;
    const Elf64_Phdr *segments;
    unsigned nsegments;
    struct symbol *symbols;
    size_t nsymbols;
};

struct profile {
    double interval;
    struct site *sites;
    size_t nsites;
    struct mapping *maps;
    size_t nmaps;
    struct object *objects;
    size_t nobjects;
};

/* ---- Reading the profile ---- */

/* "<n>: <bytes> [<n>: <bytes>] @ 0x.. 0x.." with frames kept as call sites. */
static bool read_stack_line(struct profile *profile, char *line)
{
    unsigned long long live_n, live_bytes, total_n, total_bytes;
    int used = 0;
    if (sscanf(line, " %llu: %llu [ %llu: %llu] @%n", &live_n, &live_bytes, &total_n, &total_bytes, &used) != 4 ||
        !used)
        return false;
    if (!live_n)
        return true;
    struct site site = {NULL, NULL, 0, 0, 0};
    for (char *word = strtok(line + used, " \n"); word; word = strtok(NULL, " \n")) {
        site.frames = xrealloc(site.frames, (site.depth + 1) * sizeof *site.frames);
        /* The first frame is written as a call site already (pprof's way). */
        site.frames[site.depth] = strtoull(word, NULL, 16) - (site.depth != 0);
        site.depth++;
    }
    double scale = 1 / (1 - exp(-((double)live_bytes / (double)live_n) / profile->interval));
    site.bytes = (double)live_bytes * scale;
    site.blocks = (double)live_n * scale;
    profile->sites = xrealloc(profile->sites, (profile->nsites + 1) * sizeof *profile->sites);
    profile->sites[profile->nsites++] = site;
    return true;
}

/* "start-end perms offset dev inode /path": executable mappings of files. */
static void read_map_line(struct profile *profile, const char *line)
{
    unsigned long long start, end, offset;
    char perms[8];
    int path_at = 0;
    if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &path_at) < 4 || !path_at ||
        line[path_at] != '/' || perms[2] != 'x')
        return;
    profile->maps = xrealloc(profile->maps, (profile->nmaps + 1) * sizeof *profile->maps);
    profile->maps[profile->nmaps++] = (struct mapping){start, end, offset, strndup(line + path_at, strcspn(line + path_at, "\n"))};
}

static bool read_profile(FILE *file, struct profile *profile)
{
    char *line = NULL;
    size_t cap = 0;
    bool in_maps = false, header = false;
    while (getline(&line, &cap, file) > 0) {
        const char *rate = strstr(line, "@ heap_v2/");
        if (!header) {
            header = !strncmp(line, "heap profile:", 13) && rate;
            if (!header)
                break;
            profile->interval = strtod(rate + 10, NULL);
        } else if (!strncmp(line, "MAPPED_LIBRARIES:", 17)) {
            in_maps = true;
        } else if (in_maps) {
            read_map_line(profile, line);
        } else if (line[0] != '\n' && !read_stack_line(profile, line)) {
            header = false;
            break;
        }
    }
    free(line);
    return header && profile->interval > 0;
}

/* ---- ELF symbols ---- */

static int by_address(const void *a, const void *b)
{
    const struct symbol *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Functions of the symbol table of type type (SHT_SYMTAB or SHT_DYNSYM). */
static void load_symbols(struct object *object, const Elf64_Ehdr *header, uint32_t type)
{
    const char *base = object->image;
    const Elf64_Shdr *sections = (const Elf64_Shdr *)(base + header->e_shoff);
    for (unsigned i = 0; i < header->e_shnum; i++) {
        const Elf64_Shdr *table = &sections[i];
        if (table->sh_type != type || table->sh_link >= header->e_shnum || !table->sh_entsize ||
            table->sh_offset + table->sh_size > object->image_size)
            continue;
        const Elf64_Shdr *strings = &sections[table->sh_link];
        const Elf64_Sym *symbols = (const Elf64_Sym *)(base + table->sh_offset);
        for (size_t j = 0; j < table->sh_size / table->sh_entsize; j++) {
            const Elf64_Sym *symbol = &symbols[j];
            if (ELF64_ST_TYPE(symbol->st_info) != STT_FUNC || !symbol->st_value || symbol->st_name >= strings->sh_size)
                continue;
            object->symbols = xrealloc(object->symbols, (object->nsymbols + 1) * sizeof *object->symbols);
            object->symbols[object->nsymbols++] =
                (struct symbol){symbol->st_value, symbol->st_size, base + strings->sh_offset + symbol->st_name};
        }
    }
    qsort(object->symbols, object->nsymbols, sizeof *object->symbols, by_address);
}

/* The object at path, mapped and read once; its image NULL when it is no ELF file of this machine. */
static struct object *object_at(struct profile *profile, const char *path)
{
    for (size_t i = 0; i < profile->nobjects; i++)
        if (!strcmp(profile->objects[i].path, path))
            return &profile->objects[i];
    profile->objects = xrealloc(profile->objects, (profile->nobjects + 1) * sizeof *profile->objects);
    struct object *object = &profile->objects[profile->nobjects++];
    *object = (struct object){.path = xasprintf("%s", path)};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
        if (fd >= 0)
            close(fd);
        return object;
    }
    void *image = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    const Elf64_Ehdr *header = image;
    if (image == MAP_FAILED || memcmp(header->e_ident, ELFMAG, SELFMAG) || header->e_ident[EI_CLASS] != ELFCLASS64 ||
        header->e_phoff + (uint64_t)header->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)st.st_size ||
        header->e_shoff + (uint64_t)header->e_shnum * sizeof(Elf64_Shdr) > (uint64_t)st.st_size) {
        if (image != MAP_FAILED)
            munmap(image, (size_t)st.st_size);
        return object;
    }
    object->image = image;
    object->image_size = (size_t)st.st_size;
    object->segments = (const Elf64_Phdr *)((const char *)image + header->e_phoff);
    object->nsegments = header->e_phnum;
    load_symbols(object, header, SHT_SYMTAB);
    if (!object->nsymbols)
        load_symbols(object, header, SHT_DYNSYM);
    return object;
}

/* Where address lies: its object and the address in the object's own terms
 * (what its symbols and addr2line use); NULL when no file maps it. */
static struct object *locate(struct profile *profile, uint64_t address, uint64_t *in_object)
{
    for (size_t i = 0; i < profile->nmaps; i++) {
        const struct mapping *map = &profile->maps[i];
        if (address < map->start || address >= map->end)
            continue;
        struct object *object = object_at(profile, map->path);
        uint64_t file_offset = address - map->start + map->offset;
        for (unsigned s = 0; object->image && s < object->nsegments; s++) {
            const Elf64_Phdr *segment = &object->segments[s];
            if (segment->p_type == PT_LOAD && file_offset >= segment->p_offset &&
                file_offset < segment->p_offset + segment->p_filesz) {
                *in_object = file_offset - segment->p_offset + segment->p_vaddr;
                return object;
            }
        }
        return NULL;
    }
    return NULL;
}

/* The function holding address, or NULL. */
static const char *function_at(struct profile *profile, uint64_t address)
{
    uint64_t at;
    struct object *object = locate(profile, address, &at);
    if (!object || !object->nsymbols)
        return NULL;
    size_t low = 0, high = object->nsymbols;
    while (high - low > 1) {
        size_t middle = (low + high) / 2;
        if (object->symbols[middle].start <= at)
            low = middle;
        else
            high = middle;
    }
    const struct symbol *symbol = &object->symbols[low];
    return symbol->start <= at && (at < symbol->start + symbol->size || !symbol->size) ? symbol->name : NULL;
}

/* ---- Naming frames ---- */

/* Runs addr2line -e path on n addresses (the object's own), one line of
 * answer each, into lines[i] as "file:line" (its base name), or leaves them
 * NULL: no addr2line, no debug information. */
static void source_lines(const char *path, const uint64_t *addresses, size_t n, char **lines)
{
    FILE *input = tmpfile();
    int out[2];
    if (!input || pipe(out)) {
        if (input)
            fclose(input);
        return;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(input, "0x%llx\n", (unsigned long long)addresses[i]);
    fflush(input);
    rewind(input);
    pid_t child = fork();
    if (child == 0) {
        dup2(fileno(input), STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDERR_FILENO);
        execlp("addr2line", "addr2line", "-e", path, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    fclose(input);
    FILE *answers = fdopen(out[0], "r");
    char *line = NULL;
    size_t cap = 0;
    for (size_t i = 0; child > 0 && answers && i < n && getline(&line, &cap, answers) > 0; i++) {
        line[strcspn(line, "\n")] = '\0';
        const char *colon = strrchr(line, ':'), *slash = strrchr(line, '/');
        line[strcspn(line, " ")] = '\0'; /* " (discriminator N)" */
        if (line[0] != '?' && colon && colon[1] >= '1' && colon[1] <= '9')
            lines[i] = xasprintf("%s", slash ? slash + 1 : line);
    }
    free(line);
    if (answers)
        fclose(answers);
    else
        close(out[0]);
    if (child > 0)
        waitpid(child, NULL, 0);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Every frame's label: "function (file:line)", or the address and its file
 * where no symbol names it.  addr2line runs once per object. */
static void label_frames(struct profile *profile)
{
    for (size_t i = 0; i < profile->nsites; i++) {
        struct site *site = &profile->sites[i];
        site->labels = xrealloc(NULL, (site->depth + 1) * sizeof *site->labels);
        memset(site->labels, 0, (site->depth + 1) * sizeof *site->labels);
        for (size_t f = 0; f < site->depth; f++) { /* every object read now: the list grows no more */
            uint64_t at;
            locate(profile, site->frames[f], &at);
        }
    }
    for (size_t o = 0; o < profile->nobjects; o++) {
        struct object *object = &profile->objects[o];
        uint64_t *addresses = NULL;
        char ***slots = NULL, **lines;
        size_t n = 0;
        for (size_t i = 0; i < profile->nsites; i++) {
            for (size_t f = 0; f < profile->sites[i].depth; f++) {
                uint64_t at;
                if (locate(profile, profile->sites[i].frames[f], &at) != object)
                    continue;
                addresses = xrealloc(addresses, (n + 1) * sizeof *addresses);
                slots = xrealloc(slots, (n + 1) * sizeof *slots);
                addresses[n] = at;
                slots[n++] = &profile->sites[i].labels[f];
            }
        }
        lines = xrealloc(NULL, (n + 1) * sizeof *lines);
        memset(lines, 0, (n + 1) * sizeof *lines);
        if (n)
            source_lines(object->path, addresses, n, lines);
        for (size_t k = 0; k < n; k++)
            *slots[k] = lines[k]; /* the file:line for now; named below */
        free(addresses);
        free(slots);
        free(lines);
    }
    for (size_t i = 0; i < profile->nsites; i++) {
        struct site *site = &profile->sites[i];
        for (size_t f = 0; f < site->depth; f++) {
            char *line = site->labels[f];
            const char *name = function_at(profile, site->frames[f]);
            uint64_t at;
            struct object *object = locate(profile, site->frames[f], &at);
            char *where = name ? xasprintf("%s", name)
                               : xasprintf("0x%llx in %s", (unsigned long long)site->frames[f],
                                           object ? base_name(object->path) : "?");
            site->labels[f] = line ? xasprintf("%s (%s)", where, line) : where;
            if (line)
                free(where);
            free(line);
        }
    }
}

/* ---- Sites ---- */

/* The allocator's entry points, which may stand above the program's frame
 * (a program linked with the static library has them in its own code). */
static bool is_allocator_entry(const char *name)
{
    static const char *const entries[] = {"malloc", "calloc", "realloc", "reallocarray", "posix_memalign",
                                          "aligned_alloc", "memalign", "valloc", "pvalloc", "__posix_memalign",
                                          NULL};
    if (!name)
        return false;
    if (!strncmp(name, "tca_", 4) || !strncmp(name, "__libc_", 7) || !strncmp(name, "_Znwm", 5) ||
        !strncmp(name, "_Znam", 5))
        return true;
    for (unsigned i = 0; entries[i]; i++)
        if (!strcmp(name, entries[i]))
            return true;
    return false;
}

/* Drops the allocator's frames from the top of each site. */
static void drop_allocator_frames(struct profile *profile)
{
    for (size_t i = 0; i < profile->nsites; i++) {
        struct site *site = &profile->sites[i];
        size_t skip = 0;
        while (skip + 1 < site->depth && is_allocator_entry(function_at(profile, site->frames[skip])))
            skip++;
        memmove(site->frames, site->frames + skip, (site->depth - skip) * sizeof *site->frames);
        site->depth -= skip;
    }
}

static int compare_labels(const struct site *x, const struct site *y)
{
    for (size_t f = 0; f < x->depth && f < y->depth; f++) {
        int order = strcmp(x->labels[f], y->labels[f]);
        if (order)
            return order;
    }
    return (x->depth > y->depth) - (x->depth < y->depth);
}

static int by_labels(const void *a, const void *b) { return compare_labels(a, b); }

/* Sites whose frames read the same are one site (a compiler may have copied
 * a call, and inlined code be reached from several places of one line). */
static void merge_sites(struct profile *profile)
{
    qsort(profile->sites, profile->nsites, sizeof *profile->sites, by_labels);
    size_t kept = 0;
    for (size_t i = 0; i < profile->nsites; i++) {
        struct site *site = &profile->sites[i];
        if (kept && !compare_labels(&profile->sites[kept - 1], site)) {
            profile->sites[kept - 1].bytes += site->bytes;
            profile->sites[kept - 1].blocks += site->blocks;
        } else {
            profile->sites[kept++] = *site;
        }
    }
    profile->nsites = kept;
}

static int by_bytes(const void *a, const void *b)
{
    const struct site *x = a, *y = b;
    return x->bytes > y->bytes ? -1 : x->bytes < y->bytes;
}

/* "12.3 MiB", "456 bytes" */
static const char *human(double bytes, char *text, size_t len)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    unsigned unit = 0;
    for (; bytes >= 1024 && unit < 4; unit++)
        bytes /= 1024;
    snprintf(text, len, unit ? "%.1f %s" : "%.0f %s", bytes, units[unit]);
    return text;
}

static void print_site(FILE *out, const struct site *site, unsigned rank, double total)
{
    char size[32];
    fprintf(out, "#%u  %s (%.0f bytes, %.0f%%) in %.0f block%s, allocated at\n", rank,
            human(site->bytes, size, sizeof size), site->bytes, 100 * site->bytes / total, site->blocks,
            site->blocks >= 1.5 ? "s" : "");
    for (size_t f = 0; f < site->depth && f < FRAMES_SHOWN; f++)
        fprintf(out, "      %s\n", site->labels[f]);
    if (site->depth > FRAMES_SHOWN)
        fprintf(out, "      ... %zu more frames\n", site->depth - FRAMES_SHOWN);
}

int leaks_report(const char *path, const char *program, long pid, FILE *out)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        say("%s (pid %ld) wrote no leak profile (it did not exit normally, or cannot write %s)", program, pid, path);
        return -1;
    }
    struct profile profile = {0};
    bool read = read_profile(file, &profile);
    fclose(file);
    if (!read) {
        say("%s: not a heap profile tcarena can read", path);
        return -1;
    }
    drop_allocator_frames(&profile);
    label_frames(&profile);
    merge_sites(&profile);
    qsort(profile.sites, profile.nsites, sizeof *profile.sites, by_bytes);
    double bytes = 0, blocks = 0;
    for (size_t i = 0; i < profile.nsites; i++)
        bytes += profile.sites[i].bytes, blocks += profile.sites[i].blocks;
    char size[32], interval[32];
    human(profile.interval, interval, sizeof interval);
    if (!profile.nsites) {
        fprintf(out, "%s: %s (pid %ld) held no sampled block at exit (one sampled per %s allocated, on average)\n",
                tool_name, program, pid, interval);
        return 0;
    }
    fprintf(out, "%s: %s (pid %ld) still held about %s in about %.0f blocks at exit, from %zu call site%s\n",
            tool_name, program, pid, human(bytes, size, sizeof size), blocks, profile.nsites,
            profile.nsites > 1 ? "s" : "");
    for (size_t i = 0; i < profile.nsites && i < SITES_SHOWN; i++)
        print_site(out, &profile.sites[i], (unsigned)i + 1, bytes);
    if (profile.nsites > SITES_SHOWN)
        fprintf(out, "... and %zu more call sites\n", profile.nsites - SITES_SHOWN);
    fprintf(out, "(Estimates from samples: one sample per %s allocated, on average.)\n", interval);
    return 0;
}
