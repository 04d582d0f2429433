/* Allocation: the bump pointer, TLABs and the allocation wait (alloc.c). */
#ifndef ARTGC_ALLOC_H
#define ARTGC_ALLOC_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"
#include "mutator.h"

/* Allocation (alloc.c). */
typedef struct agc_alloc_state {
    pthread_mutex_t alloc_lock;
    uint64_t top;               /* bump pointer (offset) */
    uint64_t limit;             /* allocation limit (cap) */
    /* charge_fromspace: from-space not given back yet, counted as used
     * while compaction runs (release.c lowers it chunk by chunk), less the
     * to-space below top not built yet (unbuilt: no memory holds it yet;
     * it falls a page per page built); the mutators allocate up to
     * limit - (charge - unbuilt) */
    _Atomic uint64_t charge;
    _Atomic uint64_t unbuilt;
    /* [zero_from, cap) of the primary is known to be zero: memory nothing
     * has written since it was fresh, so a TLAB carved there needs no
     * memset. The high-water mark of allocation (it rises in bump and
     * align_top, under alloc_lock); at a flip, anonymous memory's to-space
     * is empty above the new top (zero_from drops to it, rounded up to
     * 2 MiB), a shmem heap's other half is not known to be (zero_from goes
     * to cap). */
    uint64_t zero_from;
} agc_alloc_state;

/* alloc.c */
void *agc_alloc_slow(agc_mutator *m, uint64_t words, int cls, uint64_t length);
uint64_t agc_align_top(agc_heap *h, uint64_t align); /* world stopped: fill to alignment */
uint64_t agc_alloc_limit(agc_heap *h);     /* limit less the charge */
uint64_t agc_charge_now(agc_heap *h);      /* the charge less the unbuilt to-space (0 when none) */
void agc_alloc_flipped(agc_heap *h, uint64_t top, int charge); /* world stopped: the new top, zero_from
                                                              * (and the from-space charge with it) */
#endif
