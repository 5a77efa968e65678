/* tca_stats_print: JSON that a JSON parser accepts (python3's, when there is
 * one) with the totals' ordering, Prometheus lines in the exposition format,
 * aligned text; and printing allocates nothing. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tcarena.h"

static char output[1 << 20];
static size_t output_len;
static unsigned writes;

/* Appends to a static buffer: no allocation here either. */
static void collect(void *opaque, const char *text)
{
    (void)opaque;
    size_t len = strlen(text);
    CHECK(output_len + len < sizeof output);
    memcpy(output + output_len, text, len + 1);
    output_len += len;
    writes++;
}

static uint64_t thread_allocated(void)
{
    uint64_t value;
    size_t len = sizeof value;
    CHECK(tca_ctl("thread.allocated", &value, &len, NULL, 0) == 0);
    return value;
}

static void print(const char *opts)
{
    output_len = 0;
    output[0] = '\0';
    uint64_t before = thread_allocated();
    tca_stats_print(collect, NULL, opts);
    CHECK(thread_allocated() == before);
    CHECK(output_len > 0);
}

/* Writes the output to a file and runs a python3 check on it; false when
 * there is no python3. */
static bool python_accepts(const char *script)
{
    if (system("python3 -c '' 2>/dev/null") != 0)
        return false;
    char path[] = "/tmp/tcarena-stats-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, output, output_len) == (ssize_t)output_len);
    close(fd);
    char command[2048];
    snprintf(command, sizeof command, "python3 -c '%s' %s", script, path);
    int status = system(command);
    unlink(path);
    CHECK(status == 0);
    return true;
}

/* Without python3: brackets and quotes balance, one top-level object. */
static void check_json_shape(void)
{
    int depth = 0;
    bool in_string = false, closed = false;
    for (const char *p = output; *p; p++) {
        if (in_string) {
            if (*p == '\\')
                p++;
            else if (*p == '"')
                in_string = false;
            continue;
        }
        CHECK(!closed || *p == '\n');
        if (*p == '"')
            in_string = true;
        else if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            closed = --depth == 0;
        CHECK(depth >= 0);
    }
    CHECK(closed && !in_string);
}

static const char json_check[] =
    "import json, sys\n"
    "d = json.load(open(sys.argv[1]))[\"tcarena\"]\n"
    "t = d[\"totals\"]\n"
    "assert t[\"allocated\"] <= t[\"active\"] <= t[\"resident\"] <= t[\"mapped\"], t\n"
    "assert sum(a[\"allocated\"] for a in d[\"arenas\"]) == t[\"allocated\"]\n"
    "assert sum(a[\"active\"] for a in d[\"arenas\"]) == t[\"active\"]\n"
    "for a in d[\"arenas\"]:\n"
    "    assert sum(b[\"curregs\"] * b[\"size\"] for b in a[\"bins\"]) == a[\"small_allocated\"]\n"
    "assert d[\"options\"][\"stats_format\"] == \"text\"\n";

/* name{labels} value, families announced by HELP and TYPE before their samples. */
static void check_prometheus(void)
{
    char family[128] = "";
    unsigned samples = 0;
    for (char *line = output; *line; line = strchr(line, '\n') + 1) {
        char *end = strchr(line, '\n');
        CHECK(end != NULL);
        if (!strncmp(line, "# HELP ", 7)) {
            size_t len = strcspn(line + 7, " ");
            CHECK(len < sizeof family);
            memcpy(family, line + 7, len);
            family[len] = '\0';
            continue;
        }
        if (!strncmp(line, "# TYPE ", 7)) {
            CHECK(!strncmp(line + 7, family, strlen(family)));
            const char *type = line + 7 + strlen(family);
            CHECK(!strncmp(type, " gauge\n", 7) || !strncmp(type, " counter\n", 9));
            continue;
        }
        size_t name_len = strspn(line, "abcdefghijklmnopqrstuvwxyz_");
        CHECK(name_len == strlen(family) && !strncmp(line, family, name_len));
        const char *rest = line + name_len;
        if (*rest == '{')
            rest = strchr(rest, '}') + 1;
        CHECK(*rest == ' ');
        CHECK(strspn(rest + 1, "0123456789") == (size_t)(end - rest - 1));
        samples++;
    }
    CHECK(samples > 20);
}

int main(void)
{
    /* Something in a few bins and a large run, so every table has rows. */
    void *blocks[64];
    for (unsigned i = 0; i < 64; i++)
        blocks[i] = malloc(i < 63 ? 8 + 24 * i : 100000);

    print("J");
    check_json_shape();
    if (!python_accepts(json_check))
        fprintf(stderr, "python3 not found: JSON checked for shape only\n");
    print("Jab");
    check_json_shape();
    CHECK(strstr(output, "\"arenas\":[]"));

    print("P");
    check_prometheus();
    CHECK(strstr(output, "\n# TYPE tcarena_allocated_bytes gauge\n"));
    CHECK(strstr(output, "tcarena_bin_nmalloc_total{arena=\"0\",bin=\"0\",size=\"16\"}"));

    print(NULL);
    CHECK(strstr(output, "Totals (bytes)\n"));
    CHECK(strstr(output, "Bins in use, arena 0\n"));
    /* Aligned: every row of the bins table is as long as its header. */
    char *header = strstr(output, "    bin   size");
    size_t width = strcspn(header, "\n");
    for (char *row = header + width + 1; *row == ' '; row += strcspn(row, "\n") + 1)
        CHECK(strcspn(row, "\n") == width);
    print("");
    CHECK(writes > 1);

    for (unsigned i = 0; i < 64; i++)
        free(blocks[i]);
    return 0;
}
