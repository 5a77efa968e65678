/* The report at exit (option stats_print): the statistics printed once, in
 * stats_format, to stats_file or stderr, by the process stats_pid names. */
#include "src/report.h"

#include <stdlib.h>

#include "pageheap/os.h"
#include "src/options.h"
#include "tcarena.h"

static void write_fd(void *fd, const char *text) { os_write_fd((int)(intptr_t)fd, text); }

/* stats_file with each "%p" replaced by the process id, so that the children
 * of a program run under tcarena do not overwrite its report. */
static void stats_file_path(char *path, size_t len)
{
    const char *from = tca_options.stats_file;
    size_t used = 0;
    char digits[24];
    for (; *from && used + 1 < len; from++) {
        const char *piece = from[0] == '%' && from[1] == 'p' ? os_format_u64(digits, os_process_id(), 10) : NULL;
        if (!piece) {
            path[used++] = *from;
            continue;
        }
        from++;
        for (; *piece && used + 1 < len; piece++)
            path[used++] = *piece;
    }
    path[used] = '\0';
}

static void print_at_exit(void)
{
    if (tca_options.stats_pid && (unsigned)tca_options.stats_pid != os_process_id())
        return;
    static const char *const format_opts[] = {[STATS_TEXT] = "", [STATS_JSON] = "J", [STATS_PROMETHEUS] = "P"};
    char path[sizeof tca_options.stats_file + 32];
    stats_file_path(path, sizeof path);
    int fd = path[0] ? os_open_output(path) : -1;
    if (path[0] && fd < 0)
        os_write_stderr("tcarena: cannot open stats_file, printing to stderr\n");
    tca_stats_print(write_fd, (void *)(intptr_t)(fd >= 0 ? fd : 2), format_opts[tca_options.stats_format]);
    if (fd >= 0)
        os_close(fd);
}

void report_at_exit(void) { atexit(print_at_exit); }
