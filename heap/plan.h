/* The compaction plan: where every live object goes (plan.c). */
#ifndef ARTGC_PLAN_H
#define ARTGC_PLAN_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"

/* The compaction plan (plan.c). */
typedef struct agc_plan {
    uint32_t *chunk_live;       /* live bytes per 512 B chunk */
    uint64_t *chunk_prefix;     /* exclusive prefix sums */
    uint64_t nchunks;
    uint64_t *page_first;       /* from-space word offset of the object covering to-page start */
    uint64_t plan_top;          /* from-space end covered by the plan */
    uint64_t dense_end;         /* the black-dense prefix [0, dense_end) does not move */
    uint64_t dense_live;        /* live bytes in it (the rest of it is fillers now) */
    uint64_t keep_end;          /* a young cycle: the old generation's whole pages [0, keep_end)
                                 * are neither moved nor rebuilt (0 in a full cycle); the
                                 * prefix that does not move is [0, O), O = dense_end */
    uint64_t keep_away;         /* a young flip moved the old generation [0, keep_away) out
                                 * with the rest; it moves back right after the pause
                                 * (space->flip_done) and its pages fault until then (0: none
                                 * away) */
    uint64_t inplace_end;       /* a full cycle on shmem that builds in place: the dense
                                 * prefix's pages [0, inplace_end) are updated where they are
                                 * (the memfd pages from-space and to-space share; 0: none) */
    int cycle_skipped;          /* AGC_SKIP_*: this cycle does not compact */
    uint64_t new_end;           /* end of compacted data in to-space */
    uint64_t npages;            /* to-space pages to build */
    _Atomic uint8_t *page_state;
    uint8_t *from_base;         /* where the GC reads from-space */
    uint8_t *to_base;           /* where the GC writes to-space (memfd modes) */
    const struct agc_halves *to_halves;   /* shmem: to-space's halves (to_base unused) */
    const struct agc_halves *map_halves;  /* shmem: the same; an ioctl spans one mapping */
    uint64_t *page_order;       /* for AGC_ORDER_RANDOM */
} agc_plan;

/* plan.c */
void agc_plan_chunks(agc_heap *h, uint64_t from, uint64_t to);  /* chunk_live for [from,to) */
void agc_plan_range(agc_heap *h, uint64_t from, uint64_t to);   /* prefix, first objects */
void agc_plan_heap_maps(agc_heap *h);
void agc_plan_black(agc_heap *h, uint64_t top);   /* [S, top) slides as one block */
/* The black-dense prefix below S and the plan of the rest of [0, S): sets
 * dense_end; returns 1 when nothing would move. */
int agc_plan_below_s(agc_heap *h, uint64_t S);
uint64_t agc_page_first(agc_heap *h, uint64_t p);
#endif
