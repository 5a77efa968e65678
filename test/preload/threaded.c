/* A threaded program that knows nothing of tcarena, for the preload tests:
 * threads build strings with asprintf and realloc, hand half of them to the
 * next thread, and hash what they saw; the main thread forks (and runs a shell
 * through system()) while they work.  Its output does not depend on
 * scheduling, so a run under LD_PRELOAD must print exactly what a plain one does. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 8
#define STRINGS 20000

struct mailbox {
    pthread_mutex_t lock;
    char **items;
    size_t count, capacity;
};

static struct mailbox mailboxes[THREADS];
static uint64_t results[THREADS];
static pthread_barrier_t all_sent;

static uint64_t hash(const char *text)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *text; text++)
        h = (h ^ (uint8_t)*text) * 1099511628211ULL;
    return h;
}

static void post(struct mailbox *box, char *text)
{
    pthread_mutex_lock(&box->lock);
    if (box->count == box->capacity) {
        box->capacity = box->capacity ? 2 * box->capacity : 64;
        box->items = realloc(box->items, box->capacity * sizeof *box->items);
    }
    box->items[box->count++] = text;
    pthread_mutex_unlock(&box->lock);
}

static void *worker(void *arg)
{
    int self = (int)(intptr_t)arg;
    uint64_t sum = 0;
    char *log = NULL;
    size_t log_len = 0;
    for (int i = 0; i < STRINGS; i++) {
        char *text;
        if (asprintf(&text, "thread %d string %d %*s", self, i, i % 300, "") < 0)
            abort();
        if (i % 2) {
            post(&mailboxes[(self + 1) % THREADS], text);
            continue;
        }
        size_t len = strlen(text);
        log = realloc(log, log_len + len + 1);
        memcpy(log + log_len, text, len + 1);
        log_len = i % 1000 == 0 ? 0 : log_len + len; /* grow, then start over */
        sum += hash(text);
        free(text);
    }
    free(log);
    pthread_barrier_wait(&all_sent);
    /* Strings from the previous thread: the sum does not depend on their order. */
    struct mailbox *box = &mailboxes[self];
    for (size_t i = 0; i < box->count; i++) {
        sum += hash(box->items[i]);
        free(box->items[i]);
    }
    free(box->items);
    results[self] = sum;
    return NULL;
}

int main(void)
{
    pthread_t threads[THREADS];
    pthread_barrier_init(&all_sent, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        pthread_mutex_init(&mailboxes[i].lock, NULL);
        pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i);
    }
    for (int i = 0; i < 5; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            char *text = strdup("forked child allocates");
            printf("fork %d: %s\n", i, text);
            free(text);
            exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        printf("fork %d: status %d\n", i, status);
    }
    fflush(stdout);
    if (system("echo shell from a threaded process") != 0)
        return 1;
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < THREADS; i++)
        printf("thread %d: %016llx\n", i, (unsigned long long)results[i]);
    return 0;
}
