/* Call sites of a heap profile: the frames named from ELF symbol tables and
 * addr2line, the allocator's entry points dropped, sites that read the same
 * merged (see sites.h). */
#include "sites.h"
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
    char *path; /* as the map names it */
    char *file; /* where it was opened: under the process's root, or as named */
    void *image;
    size_t image_size;
    const Elf64_Phdr *segments;
    unsigned nsegments;
    struct symbol *symbols;
    size_t nsymbols;
};

/* ---- Memory maps ---- */

/* "start-end perms offset dev inode /path": executable mappings of files. */
void symbols_add_map_line(struct symbols *symbols, const char *line)
{
    unsigned long long start, end, offset;
    char perms[8];
    int path_at = 0;
    if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &path_at) < 4 || !path_at ||
        line[path_at] != '/' || perms[2] != 'x')
        return;
    symbols->maps = xrealloc(symbols->maps, (symbols->nmaps + 1) * sizeof *symbols->maps);
    symbols->maps[symbols->nmaps++] =
        (struct mapping){start, end, offset, xasprintf("%.*s", (int)strcspn(line + path_at, "\n"), line + path_at)};
}

bool symbols_read_maps(struct symbols *symbols, int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *maps = fopen(path, "re");
    if (!maps)
        return false;
    snprintf(symbols->root, sizeof symbols->root, "/proc/%d/root", pid);
    for (size_t i = 0; i < symbols->nmaps; i++)
        free(symbols->maps[i].path);
    symbols->nmaps = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, maps) > 0)
        symbols_add_map_line(symbols, line);
    free(line);
    fclose(maps);
    return true;
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
static struct object *object_at(struct symbols *symbols, const char *path)
{
    for (size_t i = 0; i < symbols->nobjects; i++)
        if (!strcmp(symbols->objects[i].path, path))
            return &symbols->objects[i];
    symbols->objects = xrealloc(symbols->objects, (symbols->nobjects + 1) * sizeof *symbols->objects);
    struct object *object = &symbols->objects[symbols->nobjects++];
    *object = (struct object){.path = xasprintf("%s", path), .file = xasprintf("%s%s", symbols->root, path)};
    int fd = open(object->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && symbols->root[0]) { /* the process's root is not ours to open: the same path here */
        free(object->file);
        object->file = xasprintf("%s", path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
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
static struct object *locate(struct symbols *symbols, uint64_t address, uint64_t *in_object)
{
    for (size_t i = 0; i < symbols->nmaps; i++) {
        const struct mapping *map = &symbols->maps[i];
        if (address < map->start || address >= map->end)
            continue;
        struct object *object = object_at(symbols, map->path);
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

/* The function holding address, or NULL; *offset: address's from its start. */
static const char *function_at(struct symbols *symbols, uint64_t address, uint64_t *offset)
{
    uint64_t at;
    struct object *object = locate(symbols, address, &at);
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
    *offset = at - symbol->start;
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


/* Every frame's label (see sites_name).  addr2line runs once per object. */
static void label_frames(struct symbols *symbols, struct stats_site *sites, size_t nsites, bool with_lines)
{
    for (size_t i = 0; i < nsites; i++) {
        struct stats_site *site = &sites[i];
        site->labels = xrealloc(NULL, (site->depth + 1) * sizeof *site->labels);
        memset(site->labels, 0, (site->depth + 1) * sizeof *site->labels);
        for (size_t f = 0; f < site->depth; f++) { /* every object read now: the list grows no more */
            uint64_t at;
            locate(symbols, site->frames[f], &at);
        }
    }
    for (size_t o = 0; with_lines && o < symbols->nobjects; o++) {
        struct object *object = &symbols->objects[o];
        uint64_t *addresses = NULL;
        char ***slots = NULL, **lines;
        size_t n = 0;
        for (size_t i = 0; i < nsites; i++) {
            for (size_t f = 0; f < sites[i].depth; f++) {
                uint64_t at;
                if (locate(symbols, sites[i].frames[f], &at) != object)
                    continue;
                addresses = xrealloc(addresses, (n + 1) * sizeof *addresses);
                slots = xrealloc(slots, (n + 1) * sizeof *slots);
                addresses[n] = at;
                slots[n++] = &sites[i].labels[f];
            }
        }
        lines = xrealloc(NULL, (n + 1) * sizeof *lines);
        memset(lines, 0, (n + 1) * sizeof *lines);
        if (n)
            source_lines(object->file, addresses, n, lines);
        for (size_t k = 0; k < n; k++)
            *slots[k] = lines[k]; /* the file:line for now; named below */
        free(addresses);
        free(slots);
        free(lines);
    }
    for (size_t i = 0; i < nsites; i++) {
        struct stats_site *site = &sites[i];
        for (size_t f = 0; f < site->depth; f++) {
            char *line = site->labels[f];
            uint64_t at, offset;
            const char *name = function_at(symbols, site->frames[f], &offset);
            struct object *object = locate(symbols, site->frames[f], &at);
            const char *file = object ? base_name(object->path) : "?";
            /* The offset is the return address's, as backtrace(3) and debuggers print it. */
            if (name && line)
                site->labels[f] = xasprintf("%s (%s)", name, line);
            else if (name)
                site->labels[f] = xasprintf("%s+0x%llx (%s)", name, (unsigned long long)offset + 1, file);
            else
                site->labels[f] = xasprintf("0x%llx in %s%s%s%s", (unsigned long long)site->frames[f], file,
                                            line ? " (" : "", line ? line : "", line ? ")" : "");
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
static void drop_allocator_frames(struct symbols *symbols, struct stats_site *sites, size_t nsites)
{
    for (size_t i = 0; i < nsites; i++) {
        struct stats_site *site = &sites[i];
        size_t skip = 0;
        uint64_t offset;
        while (skip + 1 < site->depth && is_allocator_entry(function_at(symbols, site->frames[skip], &offset)))
            skip++;
        memmove(site->frames, site->frames + skip, (site->depth - skip) * sizeof *site->frames);
        site->depth -= skip;
    }
}

static int compare_labels(const struct stats_site *x, const struct stats_site *y)
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
static size_t merge_sites(struct stats_site *sites, size_t nsites)
{
    qsort(sites, nsites, sizeof *sites, by_labels);
    size_t kept = 0;
    for (size_t i = 0; i < nsites; i++) {
        struct stats_site *site = &sites[i];
        if (kept && !compare_labels(&sites[kept - 1], site)) {
            sites[kept - 1].bytes += site->bytes;
            sites[kept - 1].blocks += site->blocks;
            sites_free(site, 1);
        } else {
            sites[kept++] = *site;
        }
    }
    return kept;
}

static int by_bytes(const void *a, const void *b)
{
    const struct stats_site *x = a, *y = b;
    return x->bytes > y->bytes ? -1 : x->bytes < y->bytes;
}

void site_estimate(struct stats_site *site, uint64_t count, uint64_t bytes, double interval)
{
    double scale = count ? 1 / (1 - exp(-((double)bytes / (double)count) / interval)) : 0;
    site->bytes = (double)bytes * scale;
    site->blocks = (double)count * scale;
}

size_t sites_name(struct symbols *symbols, struct stats_site *sites, size_t n, bool source_lines)
{
    drop_allocator_frames(symbols, sites, n);
    label_frames(symbols, sites, n, source_lines);
    n = merge_sites(sites, n);
    qsort(sites, n, sizeof *sites, by_bytes);
    return n;
}

const char *site_first_named(const struct stats_site *site)
{
    for (size_t f = 0; f < site->depth; f++)
        if (strncmp(site->labels[f], "0x", 2))
            return site->labels[f];
    return site->depth ? site->labels[0] : "?";
}

void sites_free(struct stats_site *sites, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; sites[i].labels && f < sites[i].depth; f++)
            free(sites[i].labels[f]);
        free(sites[i].labels);
        free(sites[i].frames);
        sites[i].labels = NULL;
        sites[i].frames = NULL;
    }
}
