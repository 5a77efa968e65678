/* Resident set size of this process, read without allocating (the allocator
 * under test must see no traffic while the process is meant to be idle). */
#ifndef TCA_TEST_DECAY_RSS_H
#define TCA_TEST_DECAY_RSS_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static inline double rss_mib(void)
{
    char text[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    ssize_t len = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (fd >= 0)
        close(fd);
    unsigned long size, resident;
    if (len <= 0)
        return -1;
    text[len] = '\0';
    if (sscanf(text, "%lu %lu", &size, &resident) != 2)
        return -1;
    return resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

#endif
