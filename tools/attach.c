/* Attaching to a running process's statistics page.  The library keeps its
 * memory file open at a high descriptor number; /proc/PID/fd lets only the
 * process's own user and root see it, which is the permission wanted.  A
 * process that closed it still maps it: root finds it in /proc/PID/map_files. */
#include "attach.h"
#include "tcarena.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MEMFD_LINK "/memfd:" LIVE_NAME

static int parse_pid(const char *text)
{
    char *end;
    errno = 0;
    long pid = strtol(text, &end, 10);
    if (!*text || *end || errno || pid <= 0 || pid > INT_MAX || text[0] == '+' || text[0] == ' ')
        usage_error("--pid=%s: not a process id", text);
    return (int)pid;
}

/* Whether a /proc/PID/fd link names our memory file ("... (deleted)" after). */
static bool is_page_link(const char *target)
{
    size_t len = strlen(MEMFD_LINK);
    return !strncmp(target, MEMFD_LINK, len) && (!target[len] || target[len] == ' ');
}

/* Every string the header holds ends inside its array. */
static bool header_strings_end(const struct live_header *header)
{
    if (!memchr(header->version, 0, sizeof header->version))
        return false;
    for (unsigned i = 0; i < header->noptions; i++)
        if (!memchr(header->options[i].name, 0, sizeof header->options[i].name) ||
            !memchr(header->options[i].value, 0, sizeof header->options[i].value))
            return false;
    return true;
}

/* Whether page_pid is process pid as its own PID namespace numbers it: a
 * process in a container wrote the id it sees (the last of /proc/PID/status's
 * "NSpid:" ids, from the outermost namespace in). */
static bool is_own_pid(int pid, uint64_t page_pid)
{
    if (page_pid == (uint64_t)pid)
        return true;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *status = fopen(path, "re");
    bool found = false;
    while (status && !found && fgets(line, sizeof line, status)) {
        if (strncmp(line, "NSpid:", 6))
            continue;
        for (char *at = line + 6, *end;; at = end) {
            unsigned long long id = strtoull(at, &end, 10);
            if (end == at)
                break;
            found |= id == page_pid;
        }
        break;
    }
    if (status)
        fclose(status);
    return found;
}

/* Checks the page mapped at map (size bytes) and sets process up from it;
 * NULL when it is one, else what is wrong with it. */
static const char *adopt(struct attached *process, const void *map, size_t size)
{
    struct live_header *header = &process->header;
    if (size < sizeof *header)
        return "shorter than its header";
    memcpy(header, map, sizeof *header);
    if (header->magic != LIVE_MAGIC)
        return "no tcarena statistics header";
    if (header->layout_version != LIVE_LAYOUT_VERSION || header->header_bytes != sizeof *header ||
        header->heap_bytes != sizeof(struct pageheap_counters) || header->arena_bytes != sizeof(struct arena_counters) ||
        header->placement_bytes != sizeof(struct topology_placement) || header->prof_bytes != sizeof(struct live_prof) ||
        header->nclasses != TCA_NCLASSES)
        fail("process %d: its library (tcarena %.*s) writes statistics layout %llu, this command reads layout %d: "
             "use the tcarena command installed with that library",
             process->pid, (int)sizeof header->version, header->version, (unsigned long long)header->layout_version,
             LIVE_LAYOUT_VERSION);
    if (header->total_bytes != size || header->narenas < 1 || header->narenas > ARENA_MAX ||
        header->noptions > LIVE_MAX_OPTIONS || header->heap_offset < sizeof *header ||
        header->heap_offset + header->heap_bytes > size ||
        header->arenas_offset + header->narenas * header->arena_bytes > size ||
        header->placement_offset + header->placement_bytes > size || header->prof_offset + header->prof_bytes > size ||
        !header_strings_end(header))
        return "its sections do not fit";
    if (!is_own_pid(process->pid, header->pid))
        return "another process's (a parent's, inherited)";
    const char *base = map;
    process->map = map;
    process->size = size;
    process->view = (struct live_view){
        .header = header,
        .heap = (const void *)(base + header->heap_offset),
        .arenas = (const void *)(base + header->arenas_offset),
        .placement = (const void *)(base + header->placement_offset),
        .prof = (const void *)(base + header->prof_offset),
    };
    return NULL;
}

/* Maps the file at path (a /proc magic link) and adopts it; the reason it is
 * not a page, or NULL. */
static const char *try_path(struct attached *process, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || st.st_size <= 0) {
        if (fd >= 0)
            close(fd);
        return strerror(errno ? errno : EINVAL);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return strerror(errno);
    const char *problem = adopt(process, map, (size_t)st.st_size);
    if (problem)
        munmap(map, (size_t)st.st_size);
    return problem;
}

/* The page among the process's descriptors; false when none is there. */
static bool find_in_fds(struct attached *process, const char **problem)
{
    char dir_path[64];
    snprintf(dir_path, sizeof dir_path, "/proc/%d/fd", process->pid);
    DIR *dir = opendir(dir_path);
    if (!dir && errno == ENOENT)
        fail("no process %d", process->pid);
    if (!dir && (errno == EACCES || errno == EPERM))
        fail("process %d: permission denied (only its own user and root may read its statistics)", process->pid);
    if (!dir)
        fail("process %d: %s: %s", process->pid, dir_path, strerror(errno));
    bool found = false;
    for (struct dirent *entry; !found && (entry = readdir(dir));) {
        char path[PATH_MAX], target[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir_path, entry->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (is_page_link(target))
            found = !(*problem = try_path(process, path));
    }
    closedir(dir);
    return found;
}

/* Whether one of the process's mappings is of a file whose path holds text. */
static bool maps_name(int pid, const char *text)
{
    char path[64], line[PATH_MAX + 128];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    FILE *maps = fopen(path, "re");
    bool found = false;
    while (maps && !found && fgets(line, sizeof line, maps))
        found = strstr(line, text) != NULL;
    if (maps)
        fclose(maps);
    return found;
}

/* A process that closed the descriptor still maps the file: root may open
 * the mapping through /proc/PID/map_files. */
static bool find_in_maps(struct attached *process, bool *mapped, const char **problem)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/proc/%d/maps", process->pid);
    FILE *maps = fopen(path, "re");
    if (!maps)
        return false;
    bool found = false;
    char line[PATH_MAX + 128];
    while (!found && fgets(line, sizeof line, maps)) {
        char *name = strchr(line, '/');
        if (!name)
            continue;
        name[strcspn(name, "\n")] = '\0';
        if (!is_page_link(name))
            continue;
        *mapped = true;
        snprintf(path, sizeof path, "/proc/%d/map_files/%.*s", process->pid, (int)strcspn(line, " "), line);
        found = !(*problem = try_path(process, path));
    }
    fclose(maps);
    return found;
}

void attach(struct attached *process, const char *pid_text)
{
    *process = (struct attached){.pid = parse_pid(pid_text)};
    /* Held from the start: a process that ends and whose number is reused
     * while we read is never mistaken for the one asked. */
    process->pidfd = (int)syscall(SYS_pidfd_open, process->pid, 0);
    if (process->pidfd < 0 && errno == ESRCH)
        fail("no process %d", process->pid);
    const char *problem = NULL;
    bool mapped = false;
    if (find_in_fds(process, &problem) || find_in_maps(process, &mapped, &problem))
        return;
    if (problem && strcmp(problem, strerror(EACCES)) && strcmp(problem, strerror(EPERM)))
        fail("process %d: its statistics page is unusable: %s", process->pid, problem);
    if (mapped)
        fail("process %d closed tcarena's statistics descriptor: only root can still read them "
             "(through /proc/%d/map_files)", process->pid, process->pid);
    if (maps_name(process->pid, "/libtcarena.so"))
        fail("process %d runs tcarena without a statistics file: it has not allocated yet, or "
             "memfd_create was refused (a descriptor limit, seccomp) and its counters stay private", process->pid);
    fail("process %d does not run tcarena: none of its descriptors is the " LIVE_NAME " memory file "
         "(not preloaded or linked, or it has not allocated yet)", process->pid);
}

struct tca_stats *attached_stats_new(const struct attached *process)
{
    struct tca_stats *stats = xrealloc(NULL, sizeof *stats);
    *stats = (struct tca_stats){0};
    stats->arenas = xrealloc(NULL, process->header.narenas * sizeof *stats->arenas);
    return stats;
}

void attached_read(const struct attached *process, struct tca_stats *stats)
{
    stats_read_page(&process->view, stats);
}

/* The profiler's section as it was at one moment: copied again while the
 * profiler changes it (see src/prof.c); false when it kept changing. */
static bool copy_prof(const struct live_prof *shared, struct live_prof *copy)
{
    const uint64_t *from = (const uint64_t *)shared;
    uint64_t *to = (uint64_t *)copy;
    for (unsigned tries = 0; tries < 1000; tries++) {
        uint64_t before = __atomic_load_n(&shared->sequence, __ATOMIC_ACQUIRE);
        for (size_t i = 0; i < sizeof *copy / sizeof *to; i++)
            to[i] = __atomic_load_n(&from[i], __ATOMIC_ACQUIRE);
        if (!(before & 1) && __atomic_load_n(&shared->sequence, __ATOMIC_RELAXED) == before)
            return true;
        sched_yield();
    }
    return false;
}

void attached_read_sites(const struct attached *process, struct symbols *symbols, bool source_lines,
                         struct tca_stats *stats)
{
    sites_free(stats->sites, stats->nsites);
    stats->nsites = 0;
    /* Read from the page: the profiler writes it after the header was copied. */
    const struct live_header *page = process->map;
    stats->prof_interval = __atomic_load_n(&page->prof_interval, __ATOMIC_ACQUIRE);
    if (!stats->prof_interval)
        return; /* its section untouched: reading it would give the process pages */
    static struct live_prof copy;
    /* A copy that kept changing may mix two sites' figures; its bounds are checked all the same. */
    (void)copy_prof(process->view.prof, &copy);
    struct stats_site *sites = xrealloc(stats->sites, LIVE_PROF_SITES * sizeof *sites);
    size_t n = 0;
    for (size_t i = 0; i < copy.nsites && i < LIVE_PROF_SITES; i++) {
        const struct live_prof_site *entry = &copy.sites[i];
        if (!entry->live_count || !entry->depth || entry->depth > PROF_MAX_DEPTH)
            continue;
        struct stats_site *site = &sites[n++];
        *site = (struct stats_site){.depth = entry->depth};
        site->frames = xrealloc(NULL, entry->depth * sizeof *site->frames);
        for (size_t f = 0; f < entry->depth; f++)
            site->frames[f] = entry->frames[f] - 1; /* the call sites */
        site_estimate(site, entry->live_count, entry->live_bytes, (double)stats->prof_interval);
    }
    if (n)
        (void)symbols_read_maps(symbols, process->pid); /* where it ended meanwhile, the last map read serves */
    stats->sites = sites;
    stats->nsites = (unsigned)sites_name(symbols, sites, n, source_lines);
}

bool attached_wait(const struct attached *process, unsigned ms)
{
    if (process->pidfd >= 0) {
        struct pollfd ended = {.fd = process->pidfd, .events = POLLIN};
        while (poll(&ended, 1, (int)ms) < 0)
            if (errno != EINTR)
                return kill(process->pid, 0) == 0;
        return !(ended.revents & POLLIN);
    }
    struct timespec pause = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&pause, &pause) && errno == EINTR)
        ;
    return kill(process->pid, 0) == 0 || errno == EPERM;
}
