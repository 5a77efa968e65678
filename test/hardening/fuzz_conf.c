/* Fuzz target: the input, up to its first NUL (an environment string has
 * none), is a TCARENA_CONF text, parsed as the allocator parses it at
 * start-up.  Checked on every input: the parser stays in its buffers (ASan
 * under libFuzzer), every option ends within its documented range, each
 * warning is one line of printable text starting "tcarena: TCARENA_CONF: "
 * and there are as many as options_parse() says, at most one per entry; the
 * text with its malformed entries struck out keeps its length and, parsed
 * again from the same defaults, sets the same options and prints nothing
 * (what an image exec'd by the same process sees).
 *
 * Built with libFuzzer (clang -fsanitize=fuzzer) or with fuzz_replay.c as its
 * main; tools/fuzz runs it for minutes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "src/options.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(FUZZ_SANITIZED)
#include <sanitizer/common_interface_defs.h>
#endif

static const char prefix[] = "tcarena: TCARENA_CONF: ";

static _Noreturn void broken(const char *what, const char *text)
{
    dprintf(2, "fuzz conf: %s; text \"%s\"\n", what, text);
    abort();
}

/* The warnings go to a memory file for the length of one parse; the original
 * stderr stays open for the sanitizers' reports and ours. */
static int warnings_fd = -1, stderr_fd = -1;

static void capture_begin(void)
{
    if (warnings_fd < 0) {
        warnings_fd = memfd_create("warnings", 0);
        stderr_fd = dup(2);
        if (warnings_fd < 0 || stderr_fd < 0)
            abort();
#if defined(__SANITIZE_ADDRESS__) || defined(FUZZ_SANITIZED)
        __sanitizer_set_report_fd((void *)(intptr_t)stderr_fd);
#endif
    }
    if (ftruncate(warnings_fd, 0) != 0 || dup2(warnings_fd, 2) != 2)
        abort();
}

/* The captured text, NUL-terminated (free it). */
static char *capture_end(void)
{
    dup2(stderr_fd, 2);
    off_t size = lseek(warnings_fd, 0, SEEK_END);
    char *text = malloc((size_t)size + 1);
    if (!text || pread(warnings_fd, text, (size_t)size, 0) != size)
        abort();
    text[size] = '\0';
    return text;
}

static void check_lines(const char *warnings, unsigned printed, size_t entries, const char *text)
{
    unsigned lines = 0;
    for (const char *line = warnings; *line; lines++) {
        const char *end = strchr(line, '\n');
        if (!end)
            broken("a warning does not end its line", text);
        if (strncmp(line, prefix, sizeof prefix - 1))
            broken("a warning does not start with the prefix", text);
        if (end - line >= 512)
            broken("a warning is longer than its line buffer", text);
        for (const char *c = line; c < end; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                broken("a warning holds a control character", text);
        line = end + 1;
    }
    if (lines != printed)
        broken("options_parse() miscounts its warnings", text);
    if (lines > entries)
        broken("more warnings than entries", text);
}

static void check_ranges(const char *text)
{
    for (unsigned i = 0; i < tca_option_count; i++) {
        const struct tca_option_desc *desc = &tca_option_descs[i];
        long value = 0, choices = 0;
        switch (desc->type) {
        case OPTION_BOOL:
            if (*(const unsigned char *)desc->value > 1)
                broken("a boolean is neither true nor false", text);
            break;
        case OPTION_LONG:
            value = *(const long *)desc->value;
            if (value < desc->min || value > desc->max)
                broken("a number is out of its range", text);
            break;
        case OPTION_CHOICE:
            value = *(const long *)desc->value;
            while (desc->choices[choices])
                choices++;
            if (value < 0 || value >= choices)
                broken("a choice is not one of its names", text);
            break;
        case OPTION_STRING:
            if (strnlen(desc->value, (size_t)desc->max + 1) > (size_t)desc->max)
                broken("a string is longer than its buffer", text);
            break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tca_options defaults;
    static bool saved;
    if (!saved) {
        memcpy(&defaults, &tca_options, sizeof defaults);
        saved = true;
    }
    size_t len = strnlen((const char *)data, size), entries = 1;
    char *text = malloc(len + 1), *original = malloc(len + 1);
    memcpy(text, data, len);
    text[len] = '\0';
    memcpy(original, text, len + 1);
    for (size_t i = 0; i < len; i++)
        entries += text[i] == ',';

    /* The options go back to their defaults before anything allocates: the
     * replay's malloc is tcarena's own. */
    struct tca_options first;
    memcpy(&tca_options, &defaults, sizeof defaults);
    capture_begin();
    unsigned printed = options_parse(text, true);
    check_ranges(original);
    memcpy(&first, &tca_options, sizeof first);
    memcpy(&tca_options, &defaults, sizeof defaults);
    char *warnings = capture_end();
    check_lines(warnings, printed, entries, original);
    if (strlen(text) != len)
        broken("striking out changed the text's length", original);

    capture_begin();
    unsigned again = options_parse(text, false);
    bool same = !memcmp(&first, &tca_options, sizeof first);
    memcpy(&tca_options, &defaults, sizeof defaults);
    free(capture_end());
    if (again)
        broken("the struck-out text still warns", original);
    if (!same)
        broken("the struck-out text sets other options", original);

    free(warnings);
    free(text);
    free(original);
    return 0;
}
