/* Generations (gen.c): the card table, the old generation's bounds, young
 * cycles and the choice between young and full, as ART's generational CMC
 * has them. The heap is one bump space:
 *   [0, old_end)        the old generation: survived two cycles; a young
 *                       cycle neither marks it (it is live as a whole) nor
 *                       moves it (the flip leaves it mapped where it is)
 *   [old_end, mid_end)  survived one cycle
 *   [mid_end, top)      allocated since the last cycle
 * Sliding compaction keeps the order, so after a cycle what survived twice
 * lies below the forwarded mid_end: that is the next old_end. A young
 * cycle keeps the whole pages below O mapped (plan.keep_end, O rounded down
 * to a page); the page O falls in is moved away and rebuilt: its bytes below
 * O copied as they are, the young objects compacted from O on. */
#ifndef ARTGC_GEN_H
#define ARTGC_GEN_H
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"

#define AGC_CARD_SHIFT 9
#define AGC_CARD (1ull << AGC_CARD_SHIFT)   /* bytes of heap per card */

enum { AGC_KIND_FULL = 0, AGC_KIND_YOUNG = 1 };

typedef struct agc_gen {
    uint8_t *cards;             /* a byte per AGC_CARD of heap: 1 dirty (a reference was stored there) */
    uint64_t ncards;
    uint64_t *page_obj;         /* per page: offset of the object covering its start (set when built) */
    uint64_t old_end;           /* O: an object boundary (any 8 bytes: the page it falls in is
                                 * rebuilt by a young cycle, its old part copied as it is) */
    uint64_t mid_end;           /* M */
    int young;                  /* this cycle is young */
    uint64_t young_start;       /* marking skips objects below it (O in a young cycle, else 0) */
    uint64_t next_old;          /* this cycle's new O, in to-space (the page builder's cards) */
    uint64_t old_survived;      /* where what was old before this cycle ends after it */
    uint64_t cards_scanned;     /* dirty cards traced from in this cycle's marking */
    uint64_t cards_forwarded;   /* dirty cards whose references the flip forwarded */
    int reason;                 /* AGC_GEN_WHY_* of this cycle's kind */
    /* the heuristic: bytes freed per second of cycle, of full cycles (mean)
     * and of the last young cycle */
    double full_tp_sum;
    uint64_t nfull;
    double young_tp;
    double fwd_ns_per_card;     /* the last young flip's card forwarding, ns per card (0: none yet) */
    _Atomic int requested;      /* an explicit cycle's kind: AGC_COLLECT_* + 1, 0 none */
    int last_young;             /* the last cycle that compacted was young */
} agc_gen;

enum { AGC_GEN_WHY_OFF = 0, AGC_GEN_WHY_FIRST, AGC_GEN_WHY_EXPLICIT, AGC_GEN_WHY_ALLOC_FAILURE,
       AGC_GEN_WHY_THROUGHPUT, AGC_GEN_WHY_PRESSURE, AGC_GEN_WHY_YOUNG, AGC_GEN_WHY_ASKED,
       AGC_GEN_WHY_CARDS, AGC_GEN_WHY_N };

/* A concurrent young cycle forwards its dirty cards in the flip pause: not
 * when that would take longer than young_flip_max_ms, estimated from the
 * cards dirty at the cycle's start and the last young flip's time per card
 * or, before one was timed, this (lru / 512 MiB measured 1.0-2.5 us). */
#define AGC_FWD_NS_PER_CARD_PRIOR 1000.0

/* gen.c */
int agc_gen_alloc(agc_heap *h);                /* the tables (at heap creation) */
void agc_gen_free(agc_heap *h);
uint64_t agc_gen_meta_bytes(const agc_heap *h);
const char *agc_gen_reason_name(int why);
/* At a cycle's start: young or full, and why. */
void agc_gen_choose(agc_heap *h, int cycle_reason);
/* Young marking: trace from the old generation's dirty cards (GC thread;
 * concurrently with mutators, or world stopped). */
void agc_gen_mark_cards(agc_heap *h);
/* After planning: the new old generation's end (to-space), cards of what
 * moves cleared (mutators may run). */
void agc_gen_plan(agc_heap *h);
/* World stopped, after the plan is final: references from the old
 * generation's dirty cards forwarded in place (young cycles). */
void agc_gen_forward_cards(agc_heap *h);
/* Before the flip: the old generation's pages are left where they are. */
void agc_gen_mark_pages(agc_heap *h);
/* The cycle compacted: promotion, and the heuristic's throughputs. */
void agc_gen_cycle_done(agc_heap *h, const agc_cycle_stats *c);
#endif
