/* The heap profiler's sampling and records: when to sample, the stack of a
 * sample, the table of stacks with their figures and the table of sampled
 * blocks by address.  Writing a profile is prof_dump.c's.
 *
 * Stacks are unwound with libgcc's unwinder (_Unwind_Backtrace), which reads
 * the DWARF call-frame tables every object carries for C++ exceptions: it
 * needs no frame pointers, which Debian's programs and libraries are built
 * without.  It is loaded with dlopen at start, outside any allocation, and
 * called once there, so that its lazy set-up never happens inside malloc.
 * Each frame costs a look-up of its object's table and the interpretation of
 * its rules: about a microsecond for a stack of ten frames.
 *
 * One lock (prof_lock) guards the tables; it is never held while unwinding
 * or calling malloc.  Records come from the metadata allocator and are
 * reused, never freed.  Under the same lock, each change of a stack's live
 * figures is mirrored in the statistics page's top sites (live.h), which
 * `tcarena stats --pid` reads from outside. */
#include "src/prof.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unwind.h>

#include "arenas/sizeclass.h"
#include "pageheap/base.h"
#include "pageheap/os.h"
#include "src/live.h"
#include "src/options.h"

__thread struct prof_thread prof_thread_state __attribute__((tls_model("initial-exec")));
bool prof_sampling;

/* Frames the unwinder reports above the program's: the profiler's own and
 * the allocator's path to it. */
#define OWN_FRAMES_MAX 16
/* Metadata is carved from pieces of this size. */
#define META_PIECE ((size_t)64 << 10)
#define STACK_BUCKETS_FIRST 1024
#define SAMPLE_BUCKETS_FIRST 4096

/* Chains of records that start with their link. */
struct link {
    struct link *next;
};

/* A chained hash table; each record's hash is its key's (prof_hash). */
struct table {
    struct link **buckets;
    size_t mask, count;
};

struct prof_stack {
    struct link link;         /* in the table of stacks */
    struct prof_stack *older; /* every stack, newest first: the dump walks this */
    uint64_t hash;
    uint64_t live_count, live_bytes, total_count, total_bytes;
    unsigned depth;
    unsigned top_slot; /* its entry among the page's top sites + 1; 0: none */
    const void *frames[];
};

struct prof_sample {
    struct link link; /* in the table of samples, or the list of spare records */
    uintptr_t block;
    size_t size;
    struct prof_stack *stack;
};

static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;
static bool started;
static struct table stacks, samples;
static struct prof_stack *newest_stack;
static struct link *spare_samples;
static char *meta_cursor, *meta_limit;
static uint64_t meta_bytes, nstacks;
/* The page's top sites (NULL until the profiler starts) and their stacks. */
static struct live_prof *top;
static struct prof_stack *top_stacks[LIVE_PROF_SITES];

static _Unwind_Reason_Code (*unwind_backtrace)(_Unwind_Trace_Fn trace, void *arg);
static _Unwind_Ptr (*unwind_get_ip)(struct _Unwind_Context *context);
/* The allocator's code, when it is a library of its own (else the frames
 * above the caller's are told by the caller's return address alone). */
static uintptr_t own_code_start, own_code_end;

/* ---- When to sample ---- */

static uint64_t next_random(struct prof_thread *self)
{
    uint64_t x = self->random; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->random = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* ln(u) for u in (0, 1]: u = m * 2^e with m in [1, 2), ln m = 2 atanh(z),
 * z = (m - 1) / (m + 1) < 1/3, whose series gives 7 digits in six terms
 * (no libm in the allocator). */
static double natural_log(double u)
{
    uint64_t bits;
    memcpy(&bits, &u, sizeof bits);
    int exponent = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & ((1ull << 52) - 1)) | ((uint64_t)1023 << 52);
    double m;
    memcpy(&m, &bits, sizeof m);
    double z = (m - 1) / (m + 1), z2 = z * z, sum = 0;
    for (int k = 11; k >= 1; k -= 2)
        sum = sum * z2 + 1.0 / k;
    return exponent * 0.69314718055994531 + 2 * z * sum;
}

/* Bytes to the next sample: exponential with mean prof_sample, so that each
 * byte is equally likely to end an interval, whatever came before. */
static int64_t draw_interval(struct prof_thread *self)
{
    double u = (double)((next_random(self) >> 11) + 1) / 9007199254740992.0; /* (0, 1] */
    return (int64_t)(-natural_log(u) * (double)tca_options.prof_sample) + 1;
}

bool prof_countdown_expired(size_t size)
{
    struct prof_thread *self = &prof_thread_state;
    if (self->busy)
        return false;
    if (!self->random) {
        self->random = os_random_u64() | 1;
        self->countdown = draw_interval(self) - (int64_t)size;
        if (self->countdown > 0)
            return false;
    }
    self->countdown = draw_interval(self);
    return true;
}

/* ---- Stacks ---- */

/* Loads libgcc's unwinder (kept loaded); false when it is not there. */
static bool unwinder_load(void)
{
    void *library = os_library_open("libgcc_s.so.1");
    if (!library)
        return false;
    unwind_backtrace = (_Unwind_Reason_Code(*)(_Unwind_Trace_Fn, void *))os_library_symbol(library, "_Unwind_Backtrace");
    unwind_get_ip = (_Unwind_Ptr(*)(struct _Unwind_Context *))os_library_symbol(library, "_Unwind_GetIP");
    return unwind_backtrace && unwind_get_ip;
}

struct walk {
    const void **frames;
    unsigned depth, max;
};

static _Unwind_Reason_Code collect_frame(struct _Unwind_Context *context, void *arg)
{
    struct walk *walk = arg;
    const void *ip = (const void *)unwind_get_ip(context);
    if (!ip)
        return _URC_END_OF_STACK;
    walk->frames[walk->depth++] = ip;
    return walk->depth == walk->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static bool is_own_code(const void *ip) { return (uintptr_t)ip >= own_code_start && (uintptr_t)ip < own_code_end; }

/* The stack from the frame that returns to caller up, at most
 * PROF_MAX_DEPTH frames, into out; returns how many.  Where the caller's
 * frame is not found (a compiler's choice of calls), every frame of the
 * allocator's own library is dropped instead. */
static unsigned backtrace_from(const void *caller, const void **out)
{
    const void *frames[OWN_FRAMES_MAX + PROF_MAX_DEPTH];
    struct walk walk = {frames, 0, OWN_FRAMES_MAX + PROF_MAX_DEPTH};
    unwind_backtrace(collect_frame, &walk);
    unsigned first = 0;
    while (first < walk.depth && frames[first] != caller)
        first++;
    if (first == walk.depth)
        first = 0;
    while (first < walk.depth && is_own_code(frames[first]))
        first++;
    unsigned depth = walk.depth - first < PROF_MAX_DEPTH ? walk.depth - first : PROF_MAX_DEPTH;
    memcpy(out, frames + first, depth * sizeof *out);
    return depth;
}

static uint64_t hash_frames(const void *const *frames, unsigned depth)
{
    uint64_t hash = depth;
    for (unsigned i = 0; i < depth; i++)
        hash = (hash ^ (uintptr_t)frames[i]) * 0x9e3779b97f4a7c15ull;
    return hash ^ hash >> 29;
}

static uint64_t hash_address(uintptr_t block) { return (block >> 4) * 0x9e3779b97f4a7c15ull >> 20; }

/* ---- Records (under prof_lock) ---- */

/* Metadata carved from pieces of the metadata allocator; NULL when out of memory. */
static void *meta_alloc(size_t size)
{
    size = tca_align_up(size, sizeof(void *));
    if ((size_t)(meta_limit - meta_cursor) < size) {
        size_t piece = size > META_PIECE ? size : META_PIECE;
        char *fresh = base_alloc(piece);
        if (!fresh)
            return NULL;
        meta_bytes += piece;
        meta_cursor = fresh;
        meta_limit = fresh + piece;
    }
    void *result = meta_cursor;
    meta_cursor += size;
    return result;
}

static uint64_t stack_hash(const struct link *link) { return ((const struct prof_stack *)link)->hash; }
static uint64_t sample_hash(const struct link *link) { return hash_address(((const struct prof_sample *)link)->block); }

/* Makes room for one more record: twice the buckets once there are as many
 * records as buckets (the old array is left to the metadata allocator). */
static bool table_make_room(struct table *table, size_t first_buckets, uint64_t (*hash_of)(const struct link *))
{
    if (table->buckets && table->count < table->mask + 1)
        return true;
    size_t nbuckets = table->buckets ? 2 * (table->mask + 1) : first_buckets;
    struct link **buckets = meta_alloc(nbuckets * sizeof *buckets);
    if (!buckets)
        return table->buckets != NULL;
    memset(buckets, 0, nbuckets * sizeof *buckets);
    for (size_t i = 0; table->buckets && i <= table->mask; i++) {
        for (struct link *link = table->buckets[i], *next; link; link = next) {
            next = link->next;
            struct link **bucket = &buckets[hash_of(link) & (nbuckets - 1)];
            link->next = *bucket;
            *bucket = link;
        }
    }
    table->buckets = buckets;
    table->mask = nbuckets - 1;
    return true;
}

static void table_insert(struct table *table, struct link *link, uint64_t hash)
{
    struct link **bucket = &table->buckets[hash & table->mask];
    link->next = *bucket;
    *bucket = link;
    table->count++;
}

static struct prof_stack *stack_of(const void *const *frames, unsigned depth, uint64_t hash)
{
    if (stacks.buckets) {
        for (struct link *link = stacks.buckets[hash & stacks.mask]; link; link = link->next) {
            struct prof_stack *stack = (struct prof_stack *)link;
            if (stack->hash == hash && stack->depth == depth && !memcmp(stack->frames, frames, depth * sizeof *frames))
                return stack;
        }
    }
    struct prof_stack *stack = NULL;
    if (table_make_room(&stacks, STACK_BUCKETS_FIRST, stack_hash))
        stack = meta_alloc(sizeof *stack + depth * sizeof *frames);
    if (!stack)
        return NULL;
    *stack = (struct prof_stack){.older = newest_stack, .hash = hash, .depth = depth};
    memcpy(stack->frames, frames, depth * sizeof *frames);
    table_insert(&stacks, &stack->link, hash);
    newest_stack = stack;
    nstacks++;
    return stack;
}

/* ---- The page's top sites (under prof_lock) ---- */

/* A reader outside copies the sites without a lock, each word with acquire
 * order, and takes a copy again when the sequence was odd or moved meanwhile:
 * every word is stored with release order, so none is seen before the odd
 * sequence that precedes it. */
static void top_change_begin(void) { __atomic_store_n(&top->sequence, top->sequence + 1, __ATOMIC_RELAXED); }
static void top_change_end(void) { __atomic_store_n(&top->sequence, top->sequence + 1, __ATOMIC_RELEASE); }
static void top_store(uint64_t *word, uint64_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }

/* The entry of the top sites a stack not among them may take: a free one, or
 * the one holding the fewest sampled bytes when the stack holds more (so an
 * entry that shrinks stays until another site outgrows it); 0: none. */
static unsigned top_slot_for(const struct prof_stack *stack)
{
    if (top->nsites < LIVE_PROF_SITES)
        return (unsigned)top->nsites + 1;
    unsigned smallest = 0;
    for (unsigned i = 1; i < LIVE_PROF_SITES; i++)
        if (top_stacks[i]->live_bytes < top_stacks[smallest]->live_bytes)
            smallest = i;
    return stack->live_bytes > top_stacks[smallest]->live_bytes ? smallest + 1 : 0;
}

/* stack's live figures changed: its entry follows them, or it takes one. */
static void top_update(struct prof_stack *stack)
{
    if (!top)
        return;
    unsigned slot = stack->top_slot;
    bool entering = !slot;
    if (entering && !(slot = top_slot_for(stack)))
        return;
    struct live_prof_site *site = &top->sites[slot - 1];
    top_change_begin();
    if (entering) {
        if (top_stacks[slot - 1])
            top_stacks[slot - 1]->top_slot = 0;
        top_stacks[slot - 1] = stack;
        stack->top_slot = slot;
        top_store(&site->depth, stack->depth);
        for (unsigned f = 0; f < stack->depth; f++)
            top_store(&site->frames[f], (uintptr_t)stack->frames[f]);
        if (slot > top->nsites)
            top_store(&top->nsites, slot);
    }
    top_store(&site->live_count, stack->live_count);
    top_store(&site->live_bytes, stack->live_bytes);
    top_change_end();
}

static void top_clear(void)
{
    if (!top)
        return;
    top_change_begin();
    for (unsigned i = 0; i < top->nsites; i++) {
        top_stacks[i]->top_slot = 0;
        top_stacks[i] = NULL;
    }
    top_store(&top->nsites, 0);
    top_change_end();
}

static struct prof_sample *sample_new(void)
{
    struct link *spare = spare_samples;
    if (spare) {
        spare_samples = spare->next;
        return (struct prof_sample *)spare;
    }
    return table_make_room(&samples, SAMPLE_BUCKETS_FIRST, sample_hash) ? meta_alloc(sizeof(struct prof_sample)) : NULL;
}

void prof_record(void *block, size_t size, const void *caller)
{
    struct prof_thread *self = &prof_thread_state;
    const void *frames[PROF_MAX_DEPTH];
    self->busy = true;
    unsigned depth = backtrace_from(caller, frames);
    uint64_t hash = hash_frames(frames, depth);
    pthread_mutex_lock(&prof_lock);
    struct prof_stack *stack = stack_of(frames, depth, hash);
    struct prof_sample *sample = stack ? sample_new() : NULL;
    if (sample) {
        *sample = (struct prof_sample){.block = (uintptr_t)block, .size = size, .stack = stack};
        table_insert(&samples, &sample->link, hash_address(sample->block));
        stack->live_count++;
        stack->live_bytes += size;
        stack->total_count++;
        stack->total_bytes += size;
        top_update(stack);
    }
    pthread_mutex_unlock(&prof_lock);
    self->busy = false;
}

void prof_forget(const void *block)
{
    pthread_mutex_lock(&prof_lock);
    for (struct link **at = samples.buckets ? &samples.buckets[hash_address((uintptr_t)block) & samples.mask] : NULL;
         at && *at; at = &(*at)->next) {
        struct prof_sample *sample = (struct prof_sample *)*at;
        if (sample->block != (uintptr_t)block)
            continue;
        *at = sample->link.next;
        samples.count--;
        sample->stack->live_count--;
        sample->stack->live_bytes -= sample->size;
        top_update(sample->stack);
        sample->link.next = spare_samples;
        spare_samples = &sample->link;
        break;
    }
    pthread_mutex_unlock(&prof_lock);
}

int prof_reset(void)
{
    if (!started)
        return ENOENT;
    pthread_mutex_lock(&prof_lock);
    for (size_t i = 0; samples.buckets && i <= samples.mask; i++) {
        for (struct link *link = samples.buckets[i], *next; link; link = next) {
            next = link->next;
            link->next = spare_samples;
            spare_samples = link;
        }
        samples.buckets[i] = NULL;
    }
    samples.count = 0;
    for (struct prof_stack *stack = newest_stack; stack; stack = stack->older)
        stack->live_count = stack->live_bytes = stack->total_count = stack->total_bytes = 0;
    top_clear();
    pthread_mutex_unlock(&prof_lock);
    return 0;
}

/* ---- What the dump reads ---- */

unsigned prof_copy_stacks(const void **cursor, struct prof_stack_figures *out, unsigned max)
{
    unsigned n = 0;
    pthread_mutex_lock(&prof_lock);
    const struct prof_stack *stack = *cursor ? ((const struct prof_stack *)*cursor)->older : newest_stack;
    for (; stack && n < max; stack = stack->older) {
        *cursor = stack;
        if (stack->total_count)
            out[n++] = (struct prof_stack_figures){stack->frames, stack->depth, stack->live_count, stack->live_bytes,
                                                   stack->total_count, stack->total_bytes};
    }
    pthread_mutex_unlock(&prof_lock);
    return n;
}

void prof_totals(struct prof_stack_figures *totals)
{
    *totals = (struct prof_stack_figures){0};
    pthread_mutex_lock(&prof_lock);
    for (const struct prof_stack *stack = newest_stack; stack; stack = stack->older) {
        totals->live_count += stack->live_count;
        totals->live_bytes += stack->live_bytes;
        totals->total_count += stack->total_count;
        totals->total_bytes += stack->total_bytes;
    }
    pthread_mutex_unlock(&prof_lock);
}

void prof_read_stats(struct prof_stats *stats)
{
    pthread_mutex_lock(&prof_lock);
    *stats = (struct prof_stats){samples.count, nstacks, meta_bytes};
    pthread_mutex_unlock(&prof_lock);
}

/* ---- Starting and stopping ---- */

bool prof_started(void) { return started; }

void prof_start(void)
{
    if (!tca_options.prof || started)
        return;
    if (!unwinder_load()) {
        os_write_stderr("tcarena: prof: libgcc_s.so.1 (the unwinder) cannot be loaded: no heap profile\n");
        return;
    }
    bool in_program;
    if (!os_code_segment_of((const void *)prof_record, &own_code_start, &own_code_end, &in_program) || in_program)
        own_code_start = own_code_end = 0;
    /* The unwinder's first walk sets up what it keeps (and may allocate). */
    const void *frames[PROF_MAX_DEPTH];
    prof_thread_state.busy = true;
    backtrace_from(NULL, frames);
    prof_thread_state.busy = false;
    top = live_prof_section((uint64_t)tca_options.prof_sample);
    started = true;
    if (tca_options.prof_active)
        prof_set_active(true);
}

/* Sampling starts with the flag, then the class table is emptied (the flag's
 * exchange reads from sizeclass_route_fill's, so that no run filled meanwhile
 * stays filled); when it stops, the table fills again as sizes miss. */
int prof_set_active(bool active)
{
    if (!started)
        return active ? ENOENT : 0;
    pthread_mutex_lock(&prof_lock);
    if (active != prof_sampling) {
        (void)__atomic_exchange_n(&prof_sampling, active, __ATOMIC_SEQ_CST);
        if (active)
            sizeclass_routes_clear();
    }
    pthread_mutex_unlock(&prof_lock);
    return 0;
}

void prof_fork_prepare(void) { pthread_mutex_lock(&prof_lock); }
void prof_fork_parent(void) { pthread_mutex_unlock(&prof_lock); }

/* The child keeps the samples of the blocks it inherited; its thread draws
 * intervals of its own. */
void prof_fork_child(void)
{
    pthread_mutex_init(&prof_lock, NULL);
    prof_thread_state.random = 0;
    prof_thread_state.countdown = 0;
}
