/* Marking: bitmaps, the mark stack, SATB buffers (mark.c, bitmap.c). */
#ifndef ARTGC_MARK_H
#define ARTGC_MARK_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"

typedef struct agc_markstack {
    uint64_t *v;                /* word offsets of objects */
    size_t n, cap;
} agc_markstack;

typedef struct agc_satb_block {
    struct agc_satb_block *next;
    size_t n;
    agc_word v[];
} agc_satb_block;

/* Marking (mark.c, bitmap.c). */
typedef struct agc_marker {
    uint64_t *mark_bits;        /* 1 bit per word: object starts */
    uint64_t *live_bits;        /* 1 bit per word: every word of live objects */
    uint64_t nbitwords;
    agc_markstack mstack;
    _Atomic int marking;        /* SATB barrier on */
    uint64_t mark_start_top;    /* S: objects at or above are allocated black */
    uint64_t black_top;         /* B: top at the end of the marking pause */
    _Atomic int alloc_black;    /* objects allocated now get a mark bit (S..flip) */
    uint64_t black_new_start;   /* to-space offset where the black region [S, T) lands */
    pthread_mutex_t satb_lock;
    agc_satb_block *satb_full;
    uint64_t satb_total;
    uint64_t last_traced_live;  /* live bytes marked by the last cycle (not allocated black) */
} agc_marker;

/* bitmap helpers (bitmap.c) */
static inline void bm_set(uint64_t *bm, uint64_t i) { bm[i >> 6] |= 1ull << (i & 63); }
static inline int bm_get(const uint64_t *bm, uint64_t i) { return (bm[i >> 6] >> (i & 63)) & 1; }
void bm_set_range(uint64_t *bm, uint64_t from, uint64_t n);
uint64_t bm_next(const uint64_t *bm, uint64_t from, uint64_t end);   /* AGC_NONE if none */
uint64_t bm_next_zero(const uint64_t *bm, uint64_t from, uint64_t end);   /* first clear bit */
uint64_t bm_prev(const uint64_t *bm, uint64_t at);                   /* last set <= at */
uint64_t bm_prev_floor(const uint64_t *bm, uint64_t at, uint64_t floor);   /* last set in [floor, at] */

/* mark.c */
void agc_mark_roots(agc_heap *h);               /* world stopped: grey the roots */
void agc_mark_drain(agc_heap *h);               /* trace until the stack is empty */
void agc_mark_flush_satb(agc_heap *h);          /* world stopped: grey SATB entries */
void agc_mark_object(agc_heap *h, uint64_t woff);
void agc_mark_value(agc_heap *h, agc_word v, uint64_t from_off);   /* a reference: mark what it refers to */
void agc_mark_reset(agc_heap *h);
uint64_t agc_mark_concurrent_step(agc_heap *h);
#endif
