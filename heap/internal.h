/* The heap's internals, shared by the core's C files (not by workloads).
 * Each concern keeps its state in a struct of its own, declared in its own
 * header with its functions; struct agc_heap only puts them together:
 *   h->mem    the memory and its mappings  (space/space.h: heap.c, heap/space)
 *   h->alloc  allocation                   (alloc.h: alloc.c)
 *   h->types  classes                      (classes.h: objects.c)
 *   h->world  mutators and safepoints      (world.h: safepoint.c)
 *   h->roots  handle slots                 (roots.h: roots.c)
 *   h->mk     the marker                   (mark.h: mark.c, bitmap.c)
 *   h->plan   the compaction plan          (plan.h: plan.c)
 *   h->rel    from-space given back        (release.h: release.c)
 *   h->cp     the compactor                (compact.h: compact.c)
 *   h->flt    fault delivery               (compact.h: compact.c, heap/os)
 *   h->gen    generations, cards           (gen.h: gen.c)
 *   h->gc     the GC thread and pacing     (collector.h: collector.c)
 *   h->st     statistics                   (stats.h: stats.c)
 * and the heap's lifetime (api.c) at the top. No concern header includes
 * another's; only this one sees them all. */
#ifndef ARTGC_INTERNAL_H
#define ARTGC_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "mutator.h"
#include "sizes.h"
#include "clock.h"
#include "error.h"
#include "events.h"
#include "modes/mode.h"
#include "space/space.h"
#include "alloc.h"
#include "classes.h"
#include "world.h"
#include "roots.h"
#include "mark.h"
#include "plan.h"
#include "release.h"
#include "compact.h"
#include "collector.h"
#include "gen.h"
#include "stats.h"

struct agc_heap {
    agc_options opt;
    const agc_mode_ops *mode;   /* where pages are built, how installed, the cycle driver */
    const agc_space_ops *space; /* what the memory is, how the flip moves it */
    const agc_listener *listener;   /* the GC's events go here (statistics) */
    /* the heap's lifetime (api.c) */
    int closed;
    _Atomic int closing;        /* api.c: closing, API calls refused, waiters woken */
    _Atomic int inflight;       /* api.c: API calls inside the heap */
    int manual_state;           /* api.c: where a collect_begin() cycle is (gc_lock) */
    int pid;                    /* the process that created the heap (fork) */
    pthread_mutex_t api_lock;
    agc_mutator *api;
    int corrupt;
    char corrupt_msg[512];
    uint64_t test_old_back_delay_ns;   /* tests: the old generation comes back this late */
    agc_mem mem;
    agc_alloc_state alloc;
    agc_class_table types;
    agc_world world;
    agc_handles roots;
    agc_marker mk;
    agc_plan plan;
    agc_release_state rel;
    agc_compactor cp;
    agc_faults flt;
    agc_gen gen;
    agc_gc_thread gc;
    agc_stats_state st;
};

/* api.c */
int agc_heap_foreign(const agc_heap *h);

/* Inline helpers over several parts (the page builder, the marker and the
 * allocator call them for every object). */
static inline uint8_t *agc_obj_at(agc_heap *h, uint64_t off) { return h->mem.primary + off; }
static inline uint64_t agc_off_of(agc_heap *h, const void *p) { return (uint64_t)((const uint8_t *)p - h->mem.primary); }
/* Where the GC writes to-space page p (modes that build in place): the
 * memfd half the page goes to, through the alias (shmem), or to_base. */
static inline uint8_t *agc_to_page(agc_heap *h, uint64_t p)
{
    uint64_t off = p * AGC_PAGE;
    if (!h->plan.to_halves)
        return h->plan.to_base + off;
    return h->mem.alias + (uint64_t)agc_halves_at(h->plan.to_halves, off) * h->mem.cap + off;
}
/* The same page as a faulting mutator writes it: through the alias of
 * small pages when the heap's file has huge ones (a page not there yet is
 * then a 4 KiB allocation in the fault, not a fresh 2 MiB one). */
static inline uint8_t *agc_to_page_in_fault(agc_heap *h, uint64_t p)
{
    uint8_t *a = agc_to_page(h, p);
    return h->plan.to_halves && h->mem.alias_small ? h->mem.alias_small + (a - h->mem.alias) : a;
}
/* How many reference slots an object has, and the word they start at
 * (inline: the page builder and the marker call it for every object). */
static inline uint64_t agc_obj_refs(const agc_heap *h, const agc_header *o, uint64_t *first_word)
{
    switch (o->cls) {
    case AGC_CLS_FILLER:
    case AGC_CLS_BYTEARRAY:
        *first_word = o->cls == AGC_CLS_FILLER ? 1 : 2;
        return 0;
    case AGC_CLS_REFARRAY:
        *first_word = 2;
        return ((const uint64_t *)o)[1];
    default:
        *first_word = 1;
        return h->types.classes[o->cls].nrefs;
    }
}
static inline void agc_mark_black_alloc(agc_heap *h, uint64_t off)
{
    if (atomic_load_explicit(&h->mk.alloc_black, memory_order_relaxed))
        __atomic_fetch_or(&h->mk.mark_bits[off >> 9], 1ull << ((off >> 3) & 63), __ATOMIC_RELAXED);
}
static inline uint64_t agc_forward_off(agc_heap *h, uint64_t off)
{
    if (off < h->plan.dense_end)          /* the black-dense prefix stays where it is */
        return off;
    /* the region allocated during the cycle, [S, T), is live as a whole and
     * slides by one distance: no bitmap needed */
    if (off >= h->mk.mark_start_top)
        return h->mk.black_new_start + (off - h->mk.mark_start_top);
    uint64_t w = off >> 3;
    uint64_t c = w >> 6;
    uint64_t mask = (1ull << (w & 63)) - 1;
    return h->plan.chunk_prefix[c] + 8ull * (uint64_t)__builtin_popcountll(h->mk.live_bits[c] & mask);
}
#endif
