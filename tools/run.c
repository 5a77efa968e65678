/* tcarena run: exec a program with the library preloaded.
 *
 * The program replaces this process (as with env or nice), so it keeps the
 * process id the caller saw, its signals reach the program itself, and
 * stats_pid can name it before it starts.  With --leaks the command has a
 * report to print after the program's exit: the program runs in a child,
 * which the command waits for. */
#include "tcarena.h"
#include "tool_config.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define LIBRARY_NAME "libtcarena.so"

const struct command run_command = {
    "run", run_main,
    "run [--stats[=FORMAT]] [--stats-file=PATH] [--profile=PATH] [--leaks] [--conf=KEY:VALUE,...]\n"
    "              [--] PROGRAM [ARGS...]",
    "Runs PROGRAM with " LIBRARY_NAME " preloaded (LD_PRELOAD).  PROGRAM takes over this\n"
    "process, as with env(1): same process id, same signals.\n"
    "\n"
    "  --stats[=FORMAT]      print the allocator's statistics when PROGRAM exits;\n"
    "                        FORMAT is text (the default), json or prometheus\n"
    "  --stats-file=PATH     print them to PATH instead of stderr (implies --stats);\n"
    "                        \"%p\" in PATH becomes the process id\n"
    "  --profile=PATH        write a heap profile of what PROGRAM still holds when it\n"
    "                        exits to PATH (google-pprof --text PROGRAM PATH reads it)\n"
    "  --leaks               when PROGRAM exits, print on stderr the call sites that\n"
    "                        still hold memory, largest first (estimates from samples)\n"
    "  --conf=KEY:VALUE,...  more allocator options, added to TCARENA_CONF (tcarena(3));\n"
    "                        prof_sample:BYTES sets the mean interval between samples\n"
    "  -h, --help            this help\n"
    "\n"
    "Options end at \"--\" or at PROGRAM.  Only PROGRAM's own process prints its\n"
    "statistics and writes its profile, not the processes it starts, unless PATH\n"
    "has \"%p\".  With --leaks, PROGRAM runs as a child of this command, which\n"
    "waits for it; its output is its own.\n"
    "\n"
    "The library: $TCARENA_LIBRARY if set, else the one installed with this command,\n"
    "found from this command's own directory (" TCARENA_LIBDIR_FROM_BINDIR "/, the build tree),\n"
    "then in " TCARENA_LIBDIR ".  A PROGRAM that cannot load it (statically linked,\n"
    "set-user-ID) gets a warning and runs without it.\n"
    "\n"
    "Exit status: PROGRAM's (128 + N when --leaks saw it killed by signal N); 2 for\n"
    "a bad invocation or no library; 126 when PROGRAM cannot be run; 127 when it\n"
    "is not found.\n",
};

static const struct option run_options[] = {
    {"stats", optional_argument, NULL, 's'},
    {"stats-file", required_argument, NULL, 'f'},
    {"profile", required_argument, NULL, 'p'},
    {"leaks", no_argument, NULL, 'l'},
    {"conf", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* ---- TCARENA_CONF ---- */

/* Appends "item" to a "key:value,..." list. */
static char *conf_append(char *conf, const char *item)
{
    size_t used = conf ? strlen(conf) : 0;
    conf = xrealloc(conf, used + strlen(item) + 2);
    sprintf(conf + used, "%s%s", used ? "," : "", item);
    return conf;
}

/* The last value given to key in a "key:value,..." list (the one the
 * library keeps), or NULL; *len is its length. */
static const char *conf_value(const char *conf, const char *key, size_t *len)
{
    const char *found = NULL;
    size_t key_len = strlen(key);
    for (const char *item = conf; item && *item;) {
        size_t item_len = strcspn(item, ",");
        if (item_len > key_len && !strncmp(item, key, key_len) && item[key_len] == ':') {
            found = item + key_len + 1;
            *len = item_len - key_len - 1;
        }
        item += item_len + (item[item_len] == ',');
    }
    return found;
}

static void check_conf(const char *conf)
{
    for (const char *item = conf; *item;) {
        size_t len = strcspn(item, ",");
        const char *colon = memchr(item, ':', len);
        if (len && (!colon || colon == item))
            usage_error("--conf=%s: '%.*s' is not KEY:VALUE", conf, (int)len, item);
        item += len + (item[len] == ',');
    }
}

/* ---- The library ---- */

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The library this command was installed (or built) with: the same layout
 * relative to this binary under any prefix or DESTDIR, else the configured
 * libdir.  Never NULL: running the program without it would look like a run
 * under tcarena and be one under glibc. */
static char *find_library(void)
{
    const char *chosen = getenv("TCARENA_LIBRARY");
    if (chosen && *chosen) {
        struct stat st;
        if (stat(chosen, &st))
            fail("TCARENA_LIBRARY=%s: %s", chosen, strerror(errno));
        if (!S_ISREG(st.st_mode))
            fail("TCARENA_LIBRARY=%s: not a file", chosen);
        return realpath(chosen, NULL);
    }
    const char *dir = command_dir();
    char installed[PATH_MAX + 64] = "", built[PATH_MAX + 64] = "";
    if (dir) {
        snprintf(installed, sizeof installed, "%s/" TCARENA_LIBDIR_FROM_BINDIR "/" LIBRARY_NAME, dir);
        snprintf(built, sizeof built, "%s/../" LIBRARY_NAME, dir);
    }
    const char *candidates[] = {installed, built, TCARENA_LIBDIR "/" LIBRARY_NAME};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (*candidates[i] && is_file(candidates[i]))
            return realpath(candidates[i], NULL);
    if (!dir)
        fail(LIBRARY_NAME " not found in %s, nor this command's directory (no /proc/self/exe); "
             "set TCARENA_LIBRARY to its path", candidates[2]);
    fail(LIBRARY_NAME " not found in %s, %s or %s; set TCARENA_LIBRARY to its path",
         installed, built, candidates[2]);
}

/* ---- The program ---- */

/* PROGRAM's file, found the way execvp(3) finds it, or an exit with env(1)'s
 * status: 127 when there is none, 126 when none can be run. */
static char *find_program(const char *name)
{
    if (strchr(name, '/'))
        return strdup(name);
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin"; /* execvp's default */
    bool denied = false;
    for (const char *dir = path;; dir += strcspn(dir, ":") + 1) {
        int dir_len = (int)strcspn(dir, ":");
        /* An empty element is the current directory, as for execvp. */
        char *candidate = xasprintf("%.*s%s%s", dir_len, dir, dir_len ? "/" : "", name);
        struct stat st;
        if (stat(candidate, &st) == 0) {
            if (S_ISREG(st.st_mode) && access(candidate, X_OK) == 0)
                return candidate;
            denied = true;
        }
        free(candidate);
        if (!dir[dir_len])
            break;
    }
    say("%s: %s", name, denied ? strerror(EACCES) : "command not found");
    exit(denied ? 126 : 127);
}

/* Whether an ELF file starts through the dynamic linker (a PT_INTERP
 * header), which is what reads LD_PRELOAD: 1 or 0; -1 when it is not an ELF
 * file of this machine (a script, say), for which there is nothing to tell. */
static int elf_is_dynamic(int fd)
{
    unsigned char ident[EI_NIDENT];
    if (pread(fd, ident, sizeof ident, 0) != sizeof ident || memcmp(ident, ELFMAG, SELFMAG) ||
        ident[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB))
        return -1;
    uint64_t phoff;
    unsigned phentsize, phnum;
    if (ident[EI_CLASS] == ELFCLASS64) {
        Elf64_Ehdr header;
        if (pread(fd, &header, sizeof header, 0) != sizeof header)
            return -1;
        phoff = header.e_phoff, phentsize = header.e_phentsize, phnum = header.e_phnum;
    } else if (ident[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr header;
        if (pread(fd, &header, sizeof header, 0) != sizeof header)
            return -1;
        phoff = header.e_phoff, phentsize = header.e_phentsize, phnum = header.e_phnum;
    } else {
        return -1;
    }
    for (unsigned i = 0; i < phnum; i++) {
        uint32_t type; /* p_type leads both Elf32_Phdr and Elf64_Phdr */
        if (pread(fd, &type, sizeof type, (off_t)(phoff + (uint64_t)i * phentsize)) != sizeof type)
            return -1;
        if (type == PT_INTERP)
            return 1;
    }
    return 0;
}

/* Why the program will run without the library, or NULL. */
static const char *preload_obstacle(const char *path)
{
    struct stat st;
    struct statvfs fs;
    if (stat(path, &st) || access(path, X_OK))
        return NULL; /* exec will say why it cannot run it */
    /* The kernel runs these with AT_SECURE (a change of user or group, or
     * capabilities gained: root has them all already), and the dynamic
     * linker then ignores LD_PRELOAD; a nosuid mount drops the change, and
     * with it the problem. */
    bool nosuid = statvfs(path, &fs) == 0 && (fs.f_flag & ST_NOSUID);
    if ((st.st_mode & S_ISUID) && st.st_uid != getuid() && !nosuid)
        return "is set-user-ID (the dynamic linker ignores LD_PRELOAD for it)";
    if ((st.st_mode & S_ISGID) && st.st_gid != getgid() && !nosuid)
        return "is set-group-ID (the dynamic linker ignores LD_PRELOAD for it)";
    if (getuid() != 0 && getxattr(path, "security.capability", NULL, 0) > 0 && !nosuid)
        return "has file capabilities (the dynamic linker ignores LD_PRELOAD for it)";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int dynamic = fd < 0 ? -1 : elf_is_dynamic(fd);
    if (fd >= 0)
        close(fd);
    return dynamic == 0 ? "is statically linked (no dynamic linker reads LD_PRELOAD)" : NULL;
}

/* A report's path for TCARENA_CONF, which separates its items with commas
 * and has no quoting. */
static const char *report_path(const char *option, const char *path)
{
    if (!*path)
        usage_error("--%s= needs a path", option);
    if (strchr(path, ','))
        usage_error("--%s=%s: a path with ',' cannot go in TCARENA_CONF", option, path);
    return path;
}

/* path with each "%p" replaced by pid, as the library does. */
static char *path_of_process(const char *path, long pid)
{
    char *result = xasprintf("%s", "");
    for (const char *at = path; *at;) {
        const char *mark = strstr(at, "%p");
        size_t len = mark ? (size_t)(mark - at) : strlen(at);
        char *longer = mark ? xasprintf("%s%.*s%ld", result, (int)len, at, pid) : xasprintf("%s%s", result, at);
        free(result);
        result = longer;
        at += len + (mark ? 2 : 0);
    }
    return result;
}

/* Runs the program in place of this process; returns only when it cannot
 * be run (126, 127 as env(1), after one line). */
static int exec_program(char *program, char **program_argv)
{
    execv(program, program_argv);
    if (errno == ENOEXEC) {
        /* execvp's fallback, kept: a file without "#!" is a shell script. */
        size_t argc = 0;
        while (program_argv[argc])
            argc++;
        char **sh_argv = xrealloc(NULL, (argc + 2) * sizeof *sh_argv);
        sh_argv[0] = "sh";
        sh_argv[1] = program;
        memcpy(sh_argv + 2, program_argv + 1, argc * sizeof *sh_argv);
        execv("/bin/sh", sh_argv);
    }
    int error = errno;
    say("%s: %s", program_argv[0], strerror(error));
    return error == ENOENT ? 127 : 126;
}

/* Adds "stats_pid:PID" to TCARENA_CONF (which conf is) when filter says so. */
static void set_conf(char *conf, bool filter, long pid)
{
    if (filter) {
        char item[32];
        snprintf(item, sizeof item, "stats_pid:%ld", pid);
        conf = conf_append(strdup(conf), item);
    }
    setenv("TCARENA_CONF", conf, 1);
}

/* --leaks: the program in a child; after its exit, the report from the
 * profile it wrote to profile_path ("%p": its pid).  Interrupts from the
 * terminal reach the program, which may exit on them; this command waits
 * for it (as system(3) does), then reports. */
static int run_and_report(char *program, char **program_argv, char *conf, bool filter, const char *profile_path,
                          bool temporary)
{
    fflush(NULL);
    pid_t child = fork();
    if (child < 0)
        fail("cannot start %s: %s", program_argv[0], strerror(errno));
    if (child == 0) {
        set_conf(conf, filter, (long)getpid());
        _exit(exec_program(program, program_argv));
    }
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR)
            fail("waiting for %s: %s", program_argv[0], strerror(errno));
    int exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    char *path = path_of_process(profile_path, (long)child);
    if (WIFSIGNALED(status))
        say("%s (pid %ld) was killed by signal %d: no leak report", program_argv[0], (long)child, WTERMSIG(status));
    else if (access(path, F_OK) == 0 || (exit_status != 126 && exit_status != 127))
        leaks_report(path, program_argv[0], (long)child, stderr);
    if (temporary) {
        unlink(path);
        char *dir = xasprintf("%s", path);
        *strrchr(dir, '/') = '\0';
        rmdir(dir);
    }
    return exit_status;
}

/* A private directory for the profile --leaks reads. */
static char *temporary_profile(void)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp || strchr(tmp, ','))
        tmp = "/tmp";
    char *dir = xasprintf("%s/tcarena-leaks.XXXXXX", tmp);
    if (!mkdtemp(dir))
        fail("cannot make a directory in %s for the leak profile: %s", tmp, strerror(errno));
    return xasprintf("%s/leaks.heap", dir);
}

int run_main(int argc, char **argv)
{
    char *conf = NULL, *profile = NULL;
    bool reports = false, leaks = false;
    for (int c; (c = next_option(argc, argv, run_options)) != -1;) {
        switch (c) {
        case 'h':
            print_help(&run_command);
            return finish_output(0);
        case 's': {
            const char *format = optarg ? optarg : "text";
            if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "prometheus"))
                usage_error("--stats=%s: the formats are text, json and prometheus", format);
            char item[64];
            snprintf(item, sizeof item, "stats_print:true,stats_format:%s", format);
            conf = conf_append(conf, item);
            reports = true;
            break;
        }
        case 'f': {
            char *item = xasprintf("stats_print:true,stats_file:%s", report_path("stats-file", optarg));
            conf = conf_append(conf, item);
            free(item);
            reports = true;
            break;
        }
        case 'p':
            profile = xasprintf("%s", report_path("profile", optarg));
            reports = true;
            break;
        case 'l':
            leaks = reports = true;
            break;
        case 'c': {
            check_conf(optarg);
            conf = conf_append(conf, optarg);
            size_t len;
            reports |= conf_value(optarg, "stats_print", &len) != NULL;
            break;
        }
        }
    }
    if (optind == argc)
        usage_error("no program given");
    char **program_argv = argv + optind;
    bool temporary = leaks && !profile;
    if (temporary)
        profile = temporary_profile();
    if (profile) {
        char *item = xasprintf("prof:true,prof_leak:true,prof_leak_file:%s", profile);
        conf = conf_append(conf, item);
        free(item);
    }

    char *library = find_library();
    /* LD_PRELOAD splits at spaces and colons: such a path would preload
     * pieces of it, that is nothing. */
    if (strpbrk(library, " :"))
        fail("cannot preload %s: LD_PRELOAD cannot hold a path with ' ' or ':' (copy or link it elsewhere)", library);
    char *program = find_program(program_argv[0]);
    const char *obstacle = preload_obstacle(program);
    if (obstacle)
        say("warning: %s %s: it runs without tcarena", program, obstacle);

    const char *preload = getenv("LD_PRELOAD");
    setenv("LD_PRELOAD", xasprintf("%s%s%s", library, preload && *preload ? ":" : "", preload ? preload : ""), 1);
    /* Only the program writes its reports, not what it (or a wrapper script
     * standing for it) starts, unless each of them gets a file of its own.
     * An explicit --conf=stats_pid:N wins. */
    bool filter = false;
    if (conf) {
        const char *old = getenv("TCARENA_CONF");
        conf = old && *old ? conf_append(strdup(old), conf) : conf;
        size_t len;
        const char *file = conf_value(conf, "stats_file", &len);
        bool per_process_file = (file && memmem(file, len, "%p", 2)) || (profile && strstr(profile, "%p"));
        filter = reports && !per_process_file && !conf_value(conf, "stats_pid", &len);
    }
    if (leaks)
        return run_and_report(program, program_argv, conf, filter, profile, temporary);
    if (conf)
        set_conf(conf, filter, (long)getpid());
    return exec_program(program, program_argv);
}
