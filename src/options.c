/* TCARENA_CONF: parsing, the warning line each malformed entry gets, and the
 * strike-out that keeps those warnings from being printed again after exec.
 * All of it runs inside the first allocation: no malloc, no stdio, no getenv;
 * a warning is built in a line on the stack and written with one write(). */
#include "src/options.h"

#include <limits.h>
#include <string.h>

#include "arenas/topology.h"
#include "pageheap/decay.h"
#include "pageheap/os.h"
#include "pageheap/pageheap.h"

struct tca_options tca_options = {
    .narenas = 0,
    .tcache = true,
    .hwloc = true,
    .arena_per = ARENA_PER_CPU,
    .decay_ms = DECAY_MS_DEFAULT,
    .background_thread = false,
    .thp = THP_DEFAULT,
    .stats_print = false,
    .stats_format = STATS_TEXT,
    .prof = false,
    .prof_active = true,
    .prof_sample = (long)1 << 19,
    .prof_leak = false,
};

static const char *const thp_names[] = {
    [THP_DEFAULT] = "default", [THP_ALWAYS] = "always", [THP_NEVER] = "never", NULL};
static const char *const arena_per_names[] = {
    [ARENA_PER_CPU] = "cpu", [ARENA_PER_CORE] = "core", [ARENA_PER_L3] = "l3", [ARENA_PER_NUMA] = "numa", NULL};
static const char *const stats_format_names[] = {"text", "json", "prometheus", NULL};
/* Every boolean option takes these words: an even index means true. */
static const char *const bool_words[] = {"true", "false", "1", "0", NULL};

const struct tca_option_desc tca_option_descs[] = {
    {"narenas", OPTION_LONG, &tca_options.narenas, 0, 1024, NULL},
    {"tcache", OPTION_BOOL, &tca_options.tcache, 0, 1, bool_words},
    {"hwloc", OPTION_BOOL, &tca_options.hwloc, 0, 1, bool_words},
    {"arena_per", OPTION_CHOICE, &tca_options.arena_per, 0, 0, arena_per_names},
    {"decay_ms", OPTION_LONG, &tca_options.decay_ms, -1, 3600000, NULL},
    {"background_thread", OPTION_BOOL, &tca_options.background_thread, 0, 1, bool_words},
    {"thp", OPTION_CHOICE, &tca_options.thp, 0, 0, thp_names},
    {"stats_print", OPTION_BOOL, &tca_options.stats_print, 0, 1, bool_words},
    {"stats_format", OPTION_CHOICE, &tca_options.stats_format, 0, 0, stats_format_names},
    {"stats_file", OPTION_STRING, tca_options.stats_file, 0, sizeof tca_options.stats_file - 1, NULL},
    {"stats_pid", OPTION_LONG, &tca_options.stats_pid, 0, 99999999, NULL},
    {"prof", OPTION_BOOL, &tca_options.prof, 0, 1, bool_words},
    {"prof_active", OPTION_BOOL, &tca_options.prof_active, 0, 1, bool_words},
    {"prof_sample", OPTION_LONG, &tca_options.prof_sample, 1, (long)1 << 40, NULL},
    {"prof_leak", OPTION_BOOL, &tca_options.prof_leak, 0, 1, bool_words},
    {"prof_leak_file", OPTION_STRING, tca_options.prof_leak_file, 0, sizeof tca_options.prof_leak_file - 1, NULL},
};
const unsigned tca_option_count = sizeof tca_option_descs / sizeof tca_option_descs[0];

/* value in decimal, formatted in digits (24 bytes). */
static const char *format_long(char *digits, long value)
{
    char *text = os_format_u64(digits, value < 0 ? -(uint64_t)value : (uint64_t)value, 10);
    if (value < 0)
        *--text = '-';
    return text;
}

const char *options_value_text(const struct tca_option_desc *desc, char *digits)
{
    switch (desc->type) {
    case OPTION_BOOL:
        return *(const bool *)desc->value ? "true" : "false";
    case OPTION_CHOICE:
        return desc->choices[*(const long *)desc->value];
    case OPTION_STRING:
        return desc->value;
    case OPTION_LONG:
        break;
    }
    return format_long(digits, *(const long *)desc->value);
}

/* ---- pieces of the text ---- */

struct piece {
    const char *text;
    size_t len;
};

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static struct piece trim(const char *text, size_t len)
{
    while (len && is_blank(*text))
        text++, len--;
    while (len && is_blank(text[len - 1]))
        len--;
    return (struct piece){text, len};
}

static bool piece_is(struct piece piece, const char *word)
{
    return strlen(word) == piece.len && !memcmp(piece.text, word, piece.len);
}

/* Walks the comma-separated entries; a text of blanks only has none. */
struct cursor {
    const char *next; /* NULL after the last entry */
    unsigned position; /* of the entry returned last, from 1 */
};

static struct cursor cursor_start(const char *text)
{
    struct piece all = trim(text, strlen(text));
    return (struct cursor){all.len ? text : NULL, 0};
}

/* The next entry, untrimmed; false when there is none. */
static bool cursor_next(struct cursor *cursor, struct piece *entry)
{
    if (!cursor->next)
        return false;
    const char *start = cursor->next, *comma = strchr(start, ',');
    *entry = (struct piece){start, comma ? (size_t)(comma - start) : strlen(start)};
    cursor->next = comma ? comma + 1 : NULL;
    cursor->position++;
    return true;
}

/* An entry's key and value, trimmed; has_value: it holds a colon. */
static void split_entry(struct piece entry, struct piece *key, struct piece *value, bool *has_value)
{
    const char *colon = memchr(entry.text, ':', entry.len);
    *has_value = colon != NULL;
    size_t key_len = colon ? (size_t)(colon - entry.text) : entry.len;
    *key = trim(entry.text, key_len);
    *value = colon ? trim(colon + 1, entry.len - key_len - 1) : (struct piece){entry.text + entry.len, 0};
}

/* A decimal number with an optional '-'.  Too many digits saturate, so that
 * they read as out of range rather than as not a number. */
static bool parse_number(struct piece text, long *out)
{
    bool negative = text.len && text.text[0] == '-';
    if (text.len == negative)
        return false;
    long value = 0;
    for (size_t i = negative; i < text.len; i++) {
        if (text.text[i] < '0' || text.text[i] > '9')
            return false;
        value = value > (LONG_MAX - 9) / 10 ? LONG_MAX : value * 10 + (text.text[i] - '0');
    }
    *out = negative ? -value : value;
    return true;
}

/* ---- warning lines ---- */

struct line {
    char text[512];
    size_t len;
};

/* Appends what fits, keeping room for the newline. */
static void line_add(struct line *line, const char *text, size_t len)
{
    size_t room = sizeof line->text - 2 - line->len;
    len = len < room ? len : room;
    memcpy(line->text + line->len, text, len);
    line->len += len;
}

static void line_str(struct line *line, const char *text) { line_add(line, text, strlen(text)); }

static void line_number(struct line *line, long value)
{
    char digits[24];
    line_str(line, format_long(digits, value));
}

/* Text from the environment, quoted: its first QUOTE_MAX characters and then
 * its length when longer, control characters as '?', so that a warning stays
 * one readable line whatever the text. */
#define QUOTE_MAX 40

static void line_quote(struct line *line, struct piece text)
{
    line_str(line, "\"");
    for (size_t i = 0; i < text.len && i < QUOTE_MAX; i++) {
        char c = (unsigned char)text.text[i] < 0x20 || text.text[i] == 0x7f ? '?' : text.text[i];
        line_add(line, &c, 1);
    }
    if (text.len <= QUOTE_MAX) {
        line_str(line, "\"");
        return;
    }
    line_str(line, "...\" (");
    line_number(line, (long)text.len);
    line_str(line, " characters)");
}

static void line_list(struct line *line, const char *const *words)
{
    for (unsigned i = 0; words[i]; i++) {
        line_str(line, i ? ", " : "");
        line_str(line, words[i]);
    }
}

static void line_option_names(struct line *line)
{
    line_str(line, " (options: ");
    for (unsigned i = 0; i < tca_option_count; i++) {
        line_str(line, i ? ", " : "");
        line_str(line, tca_option_descs[i].name);
    }
    line_str(line, ")");
}

/* What an option takes: "-1..3600000", the words, or "255 characters". */
static void line_allowed(struct line *line, const struct tca_option_desc *desc)
{
    if (desc->choices) {
        line_list(line, desc->choices);
        return;
    }
    if (desc->type == OPTION_LONG) {
        line_number(line, desc->min);
        line_str(line, "..");
    }
    line_number(line, desc->max);
    if (desc->type == OPTION_STRING)
        line_str(line, " characters");
}

/* The value in effect, which a malformed entry keeps. */
static void line_current(struct line *line, const struct tca_option_desc *desc)
{
    char digits[24];
    const char *text = options_value_text(desc, digits);
    if (desc->type != OPTION_STRING)
        line_str(line, text);
    else if (text[0])
        line_quote(line, (struct piece){text, strlen(text)});
    else
        line_str(line, desc->value == tca_options.stats_file ? "stderr" : "the default");
}

/* "NAME: "VALUE" is not a number (0..1024), keeping 0": before and after
 * frame what the option takes. */
static bool bad_value(struct line *line, const struct tca_option_desc *desc, struct piece value,
                      const char *before, const char *after)
{
    line_str(line, desc->name);
    line_str(line, ": ");
    line_quote(line, value);
    line_str(line, before);
    line_allowed(line, desc);
    line_str(line, after);
    line_str(line, ", keeping ");
    line_current(line, desc);
    return false;
}

/* ---- parsing ---- */

static bool set_option(const struct tca_option_desc *desc, struct piece value, struct line *warning)
{
    long number;
    switch (desc->type) {
    case OPTION_BOOL:
    case OPTION_CHOICE:
        for (long i = 0; desc->choices[i]; i++) {
            if (!piece_is(value, desc->choices[i]))
                continue;
            if (desc->type == OPTION_BOOL)
                *(bool *)desc->value = !(i & 1);
            else
                *(long *)desc->value = i;
            return true;
        }
        return bad_value(warning, desc, value, desc->type == OPTION_BOOL ? " is not a boolean (" : " is not one of (",
                         ")");
    case OPTION_LONG:
        if (!parse_number(value, &number))
            return bad_value(warning, desc, value, " is not a number (", ")");
        if (number < desc->min || number > desc->max)
            return bad_value(warning, desc, value, " is out of range ", "");
        *(long *)desc->value = number;
        return true;
    case OPTION_STRING:
        if (value.len > (size_t)desc->max)
            return bad_value(warning, desc, value, " is longer than ", "");
        memcpy(desc->value, value.text, value.len);
        ((char *)desc->value)[value.len] = '\0';
        return true;
    }
    return false;
}

static const struct tca_option_desc *find_option(struct piece key)
{
    for (unsigned i = 0; i < tca_option_count; i++)
        if (piece_is(key, tca_option_descs[i].name))
            return &tca_option_descs[i];
    return NULL;
}

/* Applies one entry; false with warning completed when it is malformed. */
static bool parse_entry(struct piece entry, unsigned position, struct line *warning)
{
    struct piece key, value;
    bool has_value;
    split_entry(entry, &key, &value, &has_value);
    const struct tca_option_desc *desc = find_option(key);
    if (!key.len && !has_value) {
        line_str(warning, "empty entry at position ");
        line_number(warning, position);
        line_str(warning, " (a comma goes only between two NAME:VALUE entries)");
    } else if (!key.len) {
        line_quote(warning, trim(entry.text, entry.len));
        line_str(warning, " has no option name (write NAME:VALUE)");
    } else if (!desc) {
        line_str(warning, "unknown option ");
        line_quote(warning, key);
        line_option_names(warning);
    } else if (!has_value || (!value.len && desc->type != OPTION_STRING)) {
        line_quote(warning, key);
        line_str(warning, " has no value (write ");
        line_str(warning, desc->name);
        line_str(warning, ":VALUE)");
    } else {
        return set_option(desc, value, warning);
    }
    return false;
}

/* Blanks out a malformed entry (untrimmed) and one comma next to it: the
 * one after it, else the last one left before it, so that the text parses
 * to the same options with no malformed entry, empty ones included. */
static void strike_out(char *text, struct piece entry)
{
    char *start = text + (entry.text - text), *end = start + entry.len;
    memset(start, ' ', entry.len);
    if (*end == ',') {
        *end = ' ';
        return;
    }
    while (start > text && start[-1] == ' ')
        start--;
    if (start > text && start[-1] == ',')
        start[-1] = ' ';
}

unsigned options_parse(char *text, bool strike)
{
    unsigned printed = 0;
    struct cursor cursor = cursor_start(text);
    struct piece entry;
    while (cursor_next(&cursor, &entry)) {
        struct line warning = {.len = 0};
        line_str(&warning, "tcarena: TCARENA_CONF: ");
        if (parse_entry(entry, cursor.position, &warning))
            continue;
        warning.text[warning.len++] = '\n';
        warning.text[warning.len] = '\0';
        os_write_stderr(warning.text);
        printed++;
        if (strike)
            strike_out(text, entry);
    }
    return printed;
}

/* ---- the environment ---- */

extern char **environ;
static const char conf_prefix[] = "TCARENA_CONF=";
#define CONF_PREFIX_LEN (sizeof conf_prefix - 1)

static char **conf_entry(void)
{
    for (char **entry = environ; entry && *entry; entry++)
        if (!strncmp(*entry, conf_prefix, CONF_PREFIX_LEN))
            return entry;
    return NULL;
}

const char *options_environment(void)
{
    char **entry = conf_entry();
    return entry ? *entry + CONF_PREFIX_LEN : NULL;
}

/* Once per process, not once per image: the entries warned about are
 * blanked out in the environment string itself, in place (it has no room
 * for more, and malloc cannot be called here), so the program this process
 * execs (a wrapper script's real program: same process, new image) parses a
 * text with nothing to warn about and the same options.  The processes it
 * starts inherit that text and stay quiet too: the warnings are printed once
 * for the whole tree of processes below the first one that read the
 * variable.  Only the strings the kernel placed at exec are written to (a
 * string the program set itself before its first allocation may be
 * read-only); such a string is warned about again in each image that reads
 * it.  A program in the tree linked with another version of tcarena does not
 * see entries this one rejected (an option it does not know yet). */
void options_read_environment(void)
{
    char **entry = conf_entry();
    if (entry)
        options_parse(*entry + CONF_PREFIX_LEN, os_is_exec_string(*entry));
}
