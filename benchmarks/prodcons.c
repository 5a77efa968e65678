/* Producer/consumer: T producers each allocate and stamp blocks and hand them,
 * in batches, to their own consumer, which verifies and frees them. Every free
 * is remote. -t 1 is the 1:1 case; -t 4 puts 8 threads on this 2-core
 * machine, so threads are descheduled while holding cached blocks. */
#include "bench.h"

#include <pthread.h>
#include <stdio.h>

#define BATCH_BLOCKS 256
#define QUEUE_DEPTH 8

struct batch {
    struct stamped_block blocks[BATCH_BLOCKS];
};

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint64_t head, tail; /* batches taken, batches put */
    struct batch ring[QUEUE_DEPTH];
};

struct shared {
    struct queue *queues;
    int pairs;
    uint64_t batches_per_pair;
};

static size_t message_size(uint64_t *rng)
{
    return rng_below(rng, 16) ? rng_between(rng, 16, 512) : rng_between(rng, 513, 4096);
}

static void produce(struct shared *shared, int pair)
{
    struct queue *queue = &shared->queues[pair];
    uint64_t rng = 7 + (uint64_t)pair, tag = (uint64_t)pair << 48;
    struct batch filled;
    for (uint64_t b = 0; b < shared->batches_per_pair; b++) {
        for (size_t i = 0; i < BATCH_BLOCKS; i++)
            stamped_alloc(&filled.blocks[i], message_size(&rng), tag++);
        pthread_mutex_lock(&queue->lock);
        while (queue->tail - queue->head == QUEUE_DEPTH)
            pthread_cond_wait(&queue->changed, &queue->lock);
        queue->ring[queue->tail % QUEUE_DEPTH] = filled;
        queue->tail++;
        pthread_cond_signal(&queue->changed);
        pthread_mutex_unlock(&queue->lock);
    }
}

static void consume(struct shared *shared, int pair)
{
    struct queue *queue = &shared->queues[pair];
    struct batch taken;
    for (uint64_t b = 0; b < shared->batches_per_pair; b++) {
        pthread_mutex_lock(&queue->lock);
        while (queue->tail == queue->head)
            pthread_cond_wait(&queue->changed, &queue->lock);
        taken = queue->ring[queue->head % QUEUE_DEPTH];
        queue->head++;
        pthread_cond_signal(&queue->changed);
        pthread_mutex_unlock(&queue->lock);
        for (size_t i = 0; i < BATCH_BLOCKS; i++)
            stamped_free(&taken.blocks[i]);
    }
}

/* Threads 0..pairs-1 produce, pairs..2*pairs-1 consume. */
static void run_thread(int index, void *shared_arg)
{
    struct shared *shared = shared_arg;
    if (index < shared->pairs)
        produce(shared, index);
    else
        consume(shared, index - shared->pairs);
}

int main(int argc, char **argv)
{
    struct bench_args args = bench_parse(argc, argv, 1, NULL);
    struct shared shared = {.pairs = args.threads};
    /* The same total number of blocks whatever the pair count. */
    shared.batches_per_pair = bench_scaled(&args, 24000 / (uint64_t)args.threads, 1);
    shared.queues = calloc((size_t)args.threads, sizeof *shared.queues);
    if (!shared.queues)
        bench_fail("calloc of the queues failed");
    for (int p = 0; p < args.threads; p++) {
        pthread_mutex_init(&shared.queues[p].lock, NULL);
        pthread_cond_init(&shared.queues[p].changed, NULL);
    }
    double start = bench_now();
    bench_run_threads(2 * args.threads, run_thread, &shared);
    char name[32];
    snprintf(name, sizeof name, "prodcons-%dx%d", args.threads, args.threads);
    bench_report(name, bench_now() - start);
    free(shared.queues);
    return 0;
}
