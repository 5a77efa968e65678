#include "pageheap/decay.h"

#include "pageheap/os.h"

/* Fraction (of 2^16) of the pages freed age epochs ago still allowed to stay
 * dirty: 1 - smoothstep(age / DECAY_STEPS). */
#define DECAY_SMOOTH(x) ((x) * (x) * (3.0 - 2.0 * (x)))
#define DECAY_WEIGHT(age) ((uint32_t)(65536.0 * (1.0 - DECAY_SMOOTH((double)(age) / DECAY_STEPS))))
static const uint32_t decay_weight[DECAY_STEPS] = {
    DECAY_WEIGHT(0),  DECAY_WEIGHT(1),  DECAY_WEIGHT(2),  DECAY_WEIGHT(3),  DECAY_WEIGHT(4),
    DECAY_WEIGHT(5),  DECAY_WEIGHT(6),  DECAY_WEIGHT(7),  DECAY_WEIGHT(8),  DECAY_WEIGHT(9),
    DECAY_WEIGHT(10), DECAY_WEIGHT(11), DECAY_WEIGHT(12), DECAY_WEIGHT(13), DECAY_WEIGHT(14),
    DECAY_WEIGHT(15), DECAY_WEIGHT(16), DECAY_WEIGHT(17), DECAY_WEIGHT(18), DECAY_WEIGHT(19),
};

static long decay_time_ms = DECAY_MS_DEFAULT;

long decay_ms(void) { return __atomic_load_n(&decay_time_ms, __ATOMIC_RELAXED); }

void decay_set_ms(long ms) { __atomic_store_n(&decay_time_ms, ms, __ATOMIC_RELAXED); }

void decay_restart(struct decay *decay, size_t dirty_pages)
{
    long ms = decay_ms();
    decay->epoch_ms = ms > DECAY_STEPS ? (uint64_t)ms / DECAY_STEPS : 1;
    decay->epoch_end_ms = os_clock_ms() + decay->epoch_ms;
    /* Whatever is dirty now starts its decay now. */
    for (unsigned i = 0; i < DECAY_STEPS; i++)
        decay->freed[i] = 0;
    decay->freed[decay->epoch] = dirty_pages;
}

bool decay_advance(struct decay *decay)
{
    uint64_t now = os_clock_ms();
    if (now < decay->epoch_end_ms)
        return false;
    uint64_t ended = (now - decay->epoch_end_ms) / decay->epoch_ms + 1;
    decay->epoch_end_ms += ended * decay->epoch_ms;
    for (uint64_t i = 0; i < ended && i < DECAY_STEPS; i++) {
        decay->epoch = (decay->epoch + 1) % DECAY_STEPS;
        decay->freed[decay->epoch] = 0;
    }
    return true;
}

size_t decay_dirty_allowed(const struct decay *decay)
{
    uint64_t allowed = 0;
    for (unsigned age = 0; age < DECAY_STEPS; age++)
        allowed += (uint64_t)decay->freed[(decay->epoch + DECAY_STEPS - age) % DECAY_STEPS] * decay_weight[age];
    return (size_t)(allowed >> 16);
}

uint64_t decay_ms_to_epoch_end(const struct decay *decay)
{
    uint64_t now = os_clock_ms();
    return decay->epoch_end_ms > now ? decay->epoch_end_ms - now : 1;
}
