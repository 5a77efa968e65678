/* The fuzz target's main where libFuzzer is not available (gcc): runs every
 * file named on the command line (a directory: every file in it), then
 * --random N inputs made of random operations, so the default test suite
 * exercises the target with any compiler.  usage: fuzz_replay [--random N] PATH... */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "blocks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t input[1 << 16];

static void run_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        perror(path);
        exit(1);
    }
    size_t size = fread(input, 1, sizeof input, file);
    fclose(file);
    LLVMFuzzerTestOneInput(input, size);
}

static int run_path(const char *path)
{
    struct stat info;
    if (stat(path, &info) != 0) {
        perror(path);
        exit(1);
    }
    if (!S_ISDIR(info.st_mode)) {
        run_file(path);
        return 1;
    }
    DIR *dir = opendir(path);
    int count = 0;
    for (struct dirent *entry; dir && (entry = readdir(dir));) {
        if (entry->d_name[0] == '.')
            continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
        count += run_path(child);
    }
    if (dir)
        closedir(dir);
    return count;
}

int main(int argc, char **argv)
{
    long random_inputs = 0;
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--random") && i + 1 < argc)
            random_inputs = atol(argv[++i]);
        else
            files += run_path(argv[i]);
    }
    uint64_t random = 1;
    for (long n = 0; n < random_inputs; n++) {
        size_t size = 4 + rng_next(&random) % 1024;
        for (size_t i = 0; i < size; i += 8) {
            uint64_t bits = rng_next(&random);
            memcpy(input + i, &bits, sizeof bits);
        }
        LLVMFuzzerTestOneInput(input, size);
    }
    printf("%d files and %ld random inputs ran\n", files, random_inputs);
    return 0;
}
