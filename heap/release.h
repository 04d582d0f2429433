/* From-space given back as compaction goes (release.c). */
#ifndef ARTGC_RELEASE_H
#define ARTGC_RELEASE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"

/* From-space released as compaction goes (release.c). */
typedef struct agc_release_state {
    uint64_t rel_chunk, rel_n, rel_early;
    _Atomic int rel_active;
    uint64_t *rel_lo, *rel_hi;  /* per chunk: the to-space pages that read from it */
    uint64_t *rel_hmax;         /* running maximum of rel_hi (for the search) */
    _Atomic uint32_t *rel_pending;
    _Atomic uint8_t *rel_state; /* 0 pending, 1 ready, 2 released, 3 recycled */
    _Atomic uint64_t rec_scan;  /* where to look for a ready chunk to recycle */
    uint64_t rec_gen;           /* this cycle's recycling number (release.c) */
    _Atomic uint64_t recycled_pages;
    int released_during;        /* this cycle gave from-space back early */
    int populate_lazy;          /* to-space made to exist ahead of the builders, not before the flip */
    _Atomic uint64_t pop_done;  /* claim indices below it are populated */
    _Atomic int pop_busy;
    _Atomic uint64_t released_bytes;
    uint64_t charge_lo, charge_hi;   /* charge_fromspace: the from-space range charged as used */
    uint64_t charged_bytes;          /* at the flip */
    _Atomic uint64_t unbuilt_lo;     /* charge_fromspace: the first to-space page the charge leaves out until
                                      * built (read by any thread that builds a page) */
    _Atomic uint64_t charge_waits;
    _Atomic int charge_waiting;      /* mutators waiting now for from-space to go (wait_for_fromspace) */
    /* release pacing (agc_release_ready): this compaction's GC-thread time
     * building pages and giving chunks back */
    _Atomic uint64_t build_spent_ns, release_spent_ns;
    /* mutator_recycle, under the allocation lock: the from-space chunk
     * mutators take their fresh memory from (what of it is left: [frec_off,
     * frec_off + frec_left)), the next chunk to look at, and the lowest
     * live-space offset it may go to (above to-space's registered pages
     * and a whole block GC threads may move in, set at the flip) */
    uint64_t frec_off, frec_left, frec_scan;
    uint64_t free_floor;
    _Atomic uint64_t free_recycled;   /* bytes moved in since the cycle's statistics were read */
} agc_release_state;

/* release.c: from-space given back as compaction goes */
void agc_release_plan_early(agc_heap *h);     /* after planning, outside the pause */
void agc_compact_plan_release(agc_heap *h);   /* in the flip, after the remap */
void agc_release_page_built(agc_heap *h, uint64_t p);   /* async-signal-safe */
void agc_release_ready(agc_heap *h);          /* GC threads, between batches (paced) */
void agc_release_built(agc_heap *h, uint64_t ns);   /* GC threads: time spent building */
void agc_compact_release_rest(agc_heap *h);
void agc_charge_fromspace(agc_heap *h);       /* in the flip: from-space counts as used */
void agc_charge_clear(agc_heap *h);           /* from-space is all given back */
uint8_t *agc_recycled_run(agc_heap *h, uint64_t k);   /* k dead from-space pages, or NULL */
uint8_t *agc_recycled_block(agc_heap *h);             /* AGC_BLOCK_PAGES of them, 2 MiB-aligned, or NULL */
int agc_release_urgent(agc_heap *h);     /* a mutator waits for room, or little is left */
int agc_recycle_free_space(agc_heap *h, uint64_t dst); /* mutators: 2 MiB of from-space to dst, or 0 */
void agc_heap_release_memory(agc_heap *h);  /* unmap and close the heap's memory */
#endif
