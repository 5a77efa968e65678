/* A recursive-descent JSON reader (RFC 8259) that stops at the first syntax
 * error but hands back the tree built so far, marked incomplete on the way
 * from the root down to the error. */
#include "json.h"
#include "tcarena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Dumps nest three deep; anything far deeper is not one, and the limit
 * keeps the recursion off the end of the stack. */
#define MAX_DEPTH 32

struct parser {
    const char *text;
    size_t len, pos;
    bool failed;
    unsigned depth;
    struct {
        const char *key; /* NULL: an array's element */
        size_t index;
    } path[MAX_DEPTH];
    struct json_problem *problem;
};

/* Keys and strings from the file may hold anything: a message about them
 * must still be one line. */
static void blank_controls(char *text)
{
    for (; *text; text++)
        if ((unsigned char)*text < 0x20)
            *text = '?';
}

void json_problem_set(struct json_problem *problem, size_t offset, const char *path, const char *format, ...)
{
    if (problem->found && problem->offset <= offset)
        return;
    problem->found = true;
    problem->offset = offset;
    snprintf(problem->path, sizeof problem->path, "%s", path);
    va_list args;
    va_start(args, format);
    vsnprintf(problem->what, sizeof problem->what, format, args);
    va_end(args);
    blank_controls(problem->path);
    blank_controls(problem->what);
}

/* "expected ',' or '}', found 'x'" or "..., but the text ends (truncated?)" */
static void syntax_error(struct parser *p, const char *expected)
{
    char path[sizeof p->problem->path] = "";
    for (unsigned i = 0; i < p->depth; i++) {
        size_t used = strlen(path);
        if (p->path[i].key)
            snprintf(path + used, sizeof path - used, "%s%s", i ? "." : "", p->path[i].key);
        else
            snprintf(path + used, sizeof path - used, "[%zu]", p->path[i].index);
    }
    if (p->pos >= p->len)
        json_problem_set(p->problem, p->pos, path, "expected %s, but the text ends (truncated?)", expected);
    else if (p->text[p->pos] >= 0x20 && p->text[p->pos] < 0x7f)
        json_problem_set(p->problem, p->pos, path, "expected %s, found '%c'", expected, p->text[p->pos]);
    else
        json_problem_set(p->problem, p->pos, path, "expected %s, found byte 0x%02x", expected,
                         (unsigned char)p->text[p->pos]);
    p->failed = true;
}

static size_t space_end(const char *text, size_t len, size_t pos)
{
    while (pos < len && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r' || text[pos] == '\n'))
        pos++;
    return pos;
}

static void skip_space(struct parser *p) { p->pos = space_end(p->text, p->len, p->pos); }

bool json_at_end(const char *text, size_t len, size_t *at)
{
    *at = space_end(text, len, *at);
    return *at == len;
}

static bool next_is(struct parser *p, char c)
{
    skip_space(p);
    if (p->pos < p->len && p->text[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

static struct json *new_node(enum json_type type, size_t offset)
{
    struct json *node = xrealloc(NULL, sizeof *node);
    *node = (struct json){.type = type, .complete = true, .offset = offset};
    return node;
}

static void add_item(struct json *container, char *key, struct json *item)
{
    /* Grown at each power of two. */
    if ((container->count & (container->count - 1)) == 0) {
        size_t capacity = container->count ? 2 * container->count : 1;
        container->items = xrealloc(container->items, capacity * sizeof *container->items);
        if (container->type == JSON_OBJECT)
            container->keys = xrealloc(container->keys, capacity * sizeof *container->keys);
    }
    if (key)
        container->keys[container->count] = key;
    container->items[container->count++] = item;
}

static unsigned hex_digit(char c)
{
    return c >= '0' && c <= '9' ? (unsigned)(c - '0')
         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
}

/* The four hex digits of a \u escape at text[pos]; -1 when they are not. */
static long hex4(const struct parser *p, size_t pos)
{
    long value = 0;
    for (size_t i = pos; i < pos + 4; i++) {
        unsigned digit = i < p->len ? hex_digit(p->text[i]) : 16;
        if (digit > 15)
            return -1;
        value = value * 16 + digit;
    }
    return value;
}

static size_t put_utf8(char *out, unsigned long code)
{
    if (code < 0x80)
        return out[0] = (char)code, 1;
    if (code < 0x800)
        return out[0] = (char)(0xc0 | code >> 6), out[1] = (char)(0x80 | (code & 0x3f)), 2;
    if (code < 0x10000)
        return out[0] = (char)(0xe0 | code >> 12), out[1] = (char)(0x80 | (code >> 6 & 0x3f)),
               out[2] = (char)(0x80 | (code & 0x3f)), 3;
    return out[0] = (char)(0xf0 | code >> 18), out[1] = (char)(0x80 | (code >> 12 & 0x3f)),
           out[2] = (char)(0x80 | (code >> 6 & 0x3f)), out[3] = (char)(0x80 | (code & 0x3f)), 4;
}

/* The string at text[pos] (a '"'), decoded; NULL after a syntax error.
 * Decoding never makes it longer than the text it came from. */
static char *parse_string(struct parser *p)
{
    char *out = xrealloc(NULL, p->len - p->pos + 1);
    size_t used = 0;
    for (p->pos++; p->pos < p->len && p->text[p->pos] != '"'; p->pos++) {
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c < 0x20) {
            syntax_error(p, "'\"' (a control character inside a string)");
            free(out);
            return NULL;
        }
        if (c != '\\') {
            out[used++] = (char)c;
            continue;
        }
        char escape = ++p->pos < p->len ? p->text[p->pos] : '\0';
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        if (escape && strchr(from, escape)) {
            out[used++] = to[strchr(from, escape) - from];
            continue;
        }
        long code = escape == 'u' ? hex4(p, p->pos + 1) : -1;
        if (code < 0) {
            syntax_error(p, "an escape: \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX");
            free(out);
            return NULL;
        }
        p->pos += 4;
        long low = p->pos + 2 < p->len && p->text[p->pos + 1] == '\\' && p->text[p->pos + 2] == 'u'
                 ? hex4(p, p->pos + 3) : -1;
        if (code >= 0xd800 && code < 0xdc00 && low >= 0xdc00 && low < 0xe000) {
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
            p->pos += 6;
        } else if (code >= 0xd800 && code < 0xe000) {
            code = 0xfffd; /* half a surrogate pair: the replacement character */
        }
        used += put_utf8(out + used, (unsigned long)code);
    }
    if (p->pos >= p->len) {
        syntax_error(p, "'\"' to end the string");
        free(out);
        return NULL;
    }
    p->pos++;
    out[used] = '\0';
    return out;
}

static size_t skip_digits(const struct parser *p, size_t pos)
{
    while (pos < p->len && p->text[pos] >= '0' && p->text[pos] <= '9')
        pos++;
    return pos;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at text[pos]; its end, or 0. */
static size_t number_end(const struct parser *p, size_t pos)
{
    pos += pos < p->len && p->text[pos] == '-';
    size_t digits = skip_digits(p, pos);
    if (digits == pos || (p->text[pos] == '0' && digits > pos + 1))
        return 0;
    pos = digits;
    if (pos < p->len && p->text[pos] == '.') {
        digits = skip_digits(p, pos + 1);
        if (digits == pos + 1)
            return 0;
        pos = digits;
    }
    if (pos < p->len && (p->text[pos] == 'e' || p->text[pos] == 'E')) {
        pos += pos + 1 < p->len && (p->text[pos + 1] == '+' || p->text[pos + 1] == '-');
        digits = skip_digits(p, pos + 1);
        if (digits == pos + 1)
            return 0;
        pos = digits;
    }
    return pos;
}

static struct json *parse_value(struct parser *p);

/* An array or an object, from its opening bracket. */
static struct json *parse_container(struct parser *p, enum json_type type)
{
    struct json *node = new_node(type, p->pos++);
    bool object = type == JSON_OBJECT;
    char close = object ? '}' : ']';
    if (p->depth == MAX_DEPTH) {
        p->pos--;
        syntax_error(p, "a value nested at most 32 deep");
        node->complete = false;
        return node;
    }
    if (next_is(p, close))
        return node;
    for (;;) {
        char *key = NULL;
        if (object) {
            skip_space(p);
            if (p->pos < p->len && p->text[p->pos] == '"')
                key = parse_string(p);
            else
                syntax_error(p, "'\"' to start a key");
            if (key && !next_is(p, ':'))
                syntax_error(p, "':' after the key");
            if (p->failed) {
                free(key);
                break;
            }
        }
        p->path[p->depth].key = key;
        p->path[p->depth].index = node->count;
        p->depth++;
        struct json *item = parse_value(p);
        p->depth--;
        if (item)
            add_item(node, key, item);
        else
            free(key);
        if (!p->failed && next_is(p, ','))
            continue;
        if (!p->failed && next_is(p, close))
            return node;
        if (!p->failed)
            syntax_error(p, object ? "',' or '}'" : "',' or ']'");
        /* A scalar not followed by its separator may be the front of a longer
         * one (a file cut inside "123456"): it does not count as read. */
        if (item && item->type != JSON_ARRAY && item->type != JSON_OBJECT)
            item->complete = false;
        break;
    }
    node->complete = false;
    return node;
}

static struct json *parse_value(struct parser *p)
{
    skip_space(p);
    size_t start = p->pos;
    char c = start < p->len ? p->text[start] : '\0';
    if (c == '{')
        return parse_container(p, JSON_OBJECT);
    if (c == '[')
        return parse_container(p, JSON_ARRAY);
    struct json *node = NULL;
    if (c == '"') {
        char *string = parse_string(p);
        if (!string)
            return NULL;
        node = new_node(JSON_STRING, start);
        node->string = string;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        size_t end = number_end(p, start);
        if (!end) {
            syntax_error(p, "a number");
            return NULL;
        }
        node = new_node(JSON_NUMBER, start);
        p->pos = end;
    } else {
        static const char *const words[] = {"true", "false", "null"};
        for (size_t i = 0; i < 3 && !node; i++)
            if (p->len - start >= strlen(words[i]) && !strncmp(p->text + start, words[i], strlen(words[i]))) {
                node = new_node(i < 2 ? JSON_BOOL : JSON_NULL, start);
                p->pos += strlen(words[i]);
            }
        if (!node) {
            syntax_error(p, "a value");
            return NULL;
        }
    }
    node->literal = p->text + start;
    node->literal_len = p->pos - start;
    return node;
}

struct json *json_parse(const char *text, size_t len, size_t *at, struct json_problem *problem)
{
    struct parser p = {.text = text, .len = len, .pos = *at, .problem = problem};
    struct json *value = parse_value(&p);
    *at = p.pos;
    return value;
}

const struct json *json_member(const struct json *object, const char *key)
{
    const struct json *found = NULL;
    for (size_t i = 0; object->type == JSON_OBJECT && i < object->count; i++)
        if (!strcmp(object->keys[i], key))
            found = object->items[i];
    return found;
}
