/* Application mix, part two: a chained hash table of strings, as an
 * interpreter's dictionaries or a cache keeps. Keys are 8-64 byte strings
 * derived from an id; random ids are inserted, looked up (checking key and
 * value) or deleted; the bucket array doubles as the table grows, and the
 * whole table is torn down and rebuilt a few times. */
#include "bench.h"

#include <stdio.h>

#define ID_SPACE 200000
#define MAX_KEY 64
#define REBUILDS 4

struct entry {
    struct entry *next;
    char *key;
    uint32_t key_length;
    uint32_t id;
};

struct table {
    struct entry **buckets;
    size_t bucket_count, entries;
};

static size_t make_key(uint32_t id, char *key)
{
    size_t length = 8 + id % (MAX_KEY - 7);
    uint64_t state = id;
    for (size_t i = 0; i < length; i++)
        key[i] = (char)('a' + rng_below(&state, 26));
    return length;
}

static uint64_t hash_key(const char *key, size_t length)
{
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ (unsigned char)key[i]) * 0x100000001b3ULL;
    return hash;
}

static struct entry **find_link(struct table *table, const char *key, size_t length)
{
    struct entry **link = &table->buckets[hash_key(key, length) & (table->bucket_count - 1)];
    while (*link && ((*link)->key_length != length || memcmp((*link)->key, key, length)))
        link = &(*link)->next;
    return link;
}

static void grow(struct table *table)
{
    size_t new_count = table->bucket_count * 2;
    struct entry **new_buckets = calloc(new_count, sizeof *new_buckets);
    if (!new_buckets)
        bench_fail("calloc of %zu buckets failed", new_count);
    for (size_t b = 0; b < table->bucket_count; b++) {
        for (struct entry *entry = table->buckets[b], *next; entry; entry = next) {
            next = entry->next;
            struct entry **head = &new_buckets[hash_key(entry->key, entry->key_length) & (new_count - 1)];
            entry->next = *head;
            *head = entry;
        }
    }
    free(table->buckets);
    table->buckets = new_buckets;
    table->bucket_count = new_count;
}

static void insert(struct table *table, uint32_t id, const char *key, size_t length, struct entry **link)
{
    struct entry *entry = bench_malloc(sizeof *entry);
    entry->key = bench_malloc(length);
    memcpy(entry->key, key, length);
    entry->key_length = (uint32_t)length;
    entry->id = id;
    entry->next = NULL;
    *link = entry;
    if (++table->entries > 2 * table->bucket_count)
        grow(table);
}

static void delete(struct table *table, struct entry **link)
{
    struct entry *entry = *link;
    *link = entry->next;
    free(entry->key);
    free(entry);
    table->entries--;
}

static void run_table(uint64_t steps, uint64_t seed)
{
    struct table table = {.bucket_count = 16};
    table.buckets = calloc(table.bucket_count, sizeof *table.buckets);
    if (!table.buckets)
        bench_fail("calloc of the buckets failed");
    uint64_t rng = seed;
    char key[MAX_KEY];
    for (uint64_t step = 0; step < steps; step++) {
        uint32_t id = (uint32_t)rng_below(&rng, ID_SPACE);
        size_t length = make_key(id, key);
        struct entry **link = find_link(&table, key, length);
        if (!*link)
            insert(&table, id, key, length, link);
        else if ((*link)->id != id)
            bench_fail("key of id %u found with id %u", id, (*link)->id);
        else if (rng_below(&rng, 2))
            delete(&table, link);
    }
    for (size_t b = 0; b < table.bucket_count; b++) {
        while (table.buckets[b]) {
            struct entry *entry = table.buckets[b];
            size_t length = make_key(entry->id, key);
            if (length != entry->key_length || memcmp(key, entry->key, length))
                bench_fail("the key of id %u was overwritten", entry->id);
            delete(&table, &table.buckets[b]);
        }
    }
    free(table.buckets);
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, NULL);
    uint64_t steps = bench_scaled(&args, 400000, 1);
    double start = bench_now();
    for (uint64_t r = 0; r < REBUILDS; r++)
        run_table(steps, r + 1);
    bench_report("strhash", bench_now() - start);
    return 0;
}
