/* All-remote frees at scale, after mimalloc-bench's xmalloc-test: P producer
 * threads fill batches of 4096 blocks, sizes drawn from xmalloc-test's mixed
 * list (8 B to 2 KiB), and push them on one shared stack of up to 100
 * batches; C consumer threads pop whichever batch is on top, verify and free
 * its blocks and free the batch itself. No block is freed by the thread that
 * allocated it, and a consumer frees blocks of every producer. Message
 * queues, request pipelines and work-stealing pools free memory this way.
 * -t N runs N producers and N consumers (default 2 + 2); the total number of
 * batches does not depend on N.
 *
 * Blocks are bare pointers: a block's tag (its batch and index) gives its
 * size. */
#include "bench.h"

#include <pthread.h>
#include <stdio.h>

#define BATCH_BLOCKS 4096
#define STACK_LIMIT 100

struct batch {
    struct batch *next;
    uint64_t id;
    void *blocks[BATCH_BLOCKS];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t pushed, popped;
    struct batch *top;
    int depth;
    uint64_t batches_claimed, batches_popped, batches_total;
} stack = {.lock = PTHREAD_MUTEX_INITIALIZER, .pushed = PTHREAD_COND_INITIALIZER,
            .popped = PTHREAD_COND_INITIALIZER};

static size_t block_size(uint64_t tag)
{
    static const size_t sizes[] = {8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512,
                                   768, 1024, 1536, 2048};
    return sizes[rng_hash(tag) % (sizeof sizes / sizeof sizes[0])];
}

static uint64_t block_tag_of(uint64_t batch_id, size_t index)
{
    return batch_id << 12 | index;
}

/* The next batch this producer should fill, or false when all are claimed. */
static bool claim_batch(uint64_t *id)
{
    pthread_mutex_lock(&stack.lock);
    bool claimed = stack.batches_claimed < stack.batches_total;
    *id = stack.batches_claimed;
    stack.batches_claimed += claimed;
    pthread_mutex_unlock(&stack.lock);
    return claimed;
}

static void produce(void)
{
    uint64_t id;
    while (claim_batch(&id)) {
        struct batch *batch = bench_malloc(sizeof *batch);
        batch->id = id;
        for (size_t i = 0; i < BATCH_BLOCKS; i++) {
            uint64_t tag = block_tag_of(id, i);
            batch->blocks[i] = bench_malloc(block_size(tag));
            block_stamp(batch->blocks[i], block_size(tag), tag);
        }
        pthread_mutex_lock(&stack.lock);
        while (stack.depth == STACK_LIMIT)
            pthread_cond_wait(&stack.popped, &stack.lock);
        batch->next = stack.top;
        stack.top = batch;
        stack.depth++;
        pthread_cond_signal(&stack.pushed);
        pthread_mutex_unlock(&stack.lock);
    }
}

/* Pops the top batch, or returns NULL once every batch has been popped. */
static struct batch *pop_batch(void)
{
    pthread_mutex_lock(&stack.lock);
    while (!stack.top && stack.batches_popped < stack.batches_total)
        pthread_cond_wait(&stack.pushed, &stack.lock);
    struct batch *batch = stack.top;
    if (batch) {
        stack.top = batch->next;
        stack.depth--;
        if (++stack.batches_popped == stack.batches_total)
            pthread_cond_broadcast(&stack.pushed); /* the other consumers may stop */
        pthread_cond_signal(&stack.popped);
    }
    pthread_mutex_unlock(&stack.lock);
    return batch;
}

static void consume(void)
{
    struct batch *batch;
    while ((batch = pop_batch())) {
        for (size_t i = 0; i < BATCH_BLOCKS; i++) {
            uint64_t tag = block_tag_of(batch->id, i);
            verified_free(batch->blocks[i], block_size(tag), tag);
        }
        free(batch);
    }
}

static void run_thread(int index, void *producers)
{
    if (index < *(int *)producers)
        produce();
    else
        consume();
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 2, NULL);
    stack.batches_total = bench_scaled(&args, 1000, 1);
    double start = bench_now();
    bench_run_threads(2 * args.threads, run_thread, &args.threads);
    bench_report("remote", bench_now() - start);
    return 0;
}
