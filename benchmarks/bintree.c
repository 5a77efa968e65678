/* Application mix, part one: binary trees built and torn down, as a compiler
 * or a document model does with its nodes. A long-lived tree stays up the
 * whole run; short-lived trees of depths 4..16 are built and freed, many
 * small ones and few big ones. Every node carries a value derived from its
 * position, checked at teardown. */
#include "bench.h"

#include <stdio.h>

#define MAX_DEPTH 16
#define MIN_DEPTH 4

struct node {
    struct node *left, *right;
    uint64_t check;
};

static uint64_t node_check(uint64_t position)
{
    return position * 0x9e3779b97f4a7c15ULL + 1;
}

static struct node *build(int depth, uint64_t position)
{
    struct node *node = bench_malloc(sizeof *node);
    node->check = node_check(position);
    node->left = depth > 0 ? build(depth - 1, 2 * position) : NULL;
    node->right = depth > 0 ? build(depth - 1, 2 * position + 1) : NULL;
    return node;
}

/* Returns the number of nodes freed. */
static uint64_t tear_down(struct node *node, uint64_t position)
{
    if (node->check != node_check(position))
        bench_fail("tree node %p was overwritten while live", (void *)node);
    uint64_t count = 1;
    if (node->left)
        count += tear_down(node->left, 2 * position) + tear_down(node->right, 2 * position + 1);
    free(node);
    return count;
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, NULL);
    double start = bench_now();
    struct node *long_lived = build(MAX_DEPTH, 1);
    for (int depth = MIN_DEPTH; depth <= MAX_DEPTH; depth += 2) {
        uint64_t iterations = bench_scaled(&args, (uint64_t)2 << (MAX_DEPTH - depth + MIN_DEPTH), 1);
        for (uint64_t i = 0; i < iterations; i++)
            if (tear_down(build(depth, 1), 1) != ((uint64_t)2 << depth) - 1)
                bench_fail("a tree of depth %d lost nodes", depth);
    }
    if (tear_down(long_lived, 1) != ((uint64_t)2 << MAX_DEPTH) - 1)
        bench_fail("the long-lived tree lost nodes");
    bench_report("bintree", bench_now() - start);
    return 0;
}
