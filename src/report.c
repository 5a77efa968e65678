/* The report at exit (option stats_print): the statistics printed once, in
 * stats_format, to stats_file or stderr, by the process stats_pid names. */
#include "src/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* "tcarena: stats_file "PATH": No such file or directory; printing to stderr".
 * strerrordesc_np: the English text, with no locale to load (strerror may
 * allocate for a translation). */
static void report_unopenable(const char *path, int error)
{
    char line[sizeof tca_options.stats_file * 5 + 128], digits[24];
    const char *reason = strerrordesc_np(error);
    strcpy(line, "tcarena: stats_file \"");
    strcat(line, path);
    strcat(line, "\": ");
    if (reason)
        strcat(line, reason);
    else
        strcat(strcat(line, "error "), os_format_u64(digits, (unsigned)error, 10));
    strcat(line, "; printing to stderr\n");
    os_write_stderr(line);
}

static void print_at_exit(void)
{
    if (tca_options.stats_pid && (unsigned)tca_options.stats_pid != os_process_id())
        return;
    static const char *const format_opts[] = {[STATS_TEXT] = "", [STATS_JSON] = "J", [STATS_PROMETHEUS] = "P"};
    char path[sizeof tca_options.stats_file * 5]; /* each 2-character "%p" may become 10 digits */
    stats_file_path(path, sizeof path);
    int fd = path[0] ? os_open_output(path) : -1;
    if (path[0] && fd < 0)
        report_unopenable(path, errno);
    tca_stats_print(write_fd, (void *)(intptr_t)(fd >= 0 ? fd : 2), format_opts[tca_options.stats_format]);
    if (fd >= 0)
        os_close(fd);
}

void report_at_exit(void) { atexit(print_at_exit); }
