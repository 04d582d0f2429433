/* The GC's own measurements as events, in the manner of Whippet's
 * gc-event-listener.h: the collector announces what happens, a listener
 * turns the announcements into records. The statistics listener (stats.c)
 * builds the per-cycle record (agc_cycle_stats) from them; nothing else in
 * the collector times itself. */
#ifndef ARTGC_EVENTS_H
#define ARTGC_EVENTS_H
#include <stdint.h>

typedef struct agc_heap agc_heap;

typedef enum agc_gc_event {
    AGC_GE_CYCLE_START,         /* a: reason (AGC_REASON_*) */
    AGC_GE_REQUESTING_STOP,     /* a: phase (AGC_PHASE_*); t: when the stop was asked */
    AGC_GE_MUTATORS_STOPPED,    /* a: phase, b: time-to-safepoint */
    AGC_GE_MUTATORS_RESTARTED,  /* a: phase, b: the pause, from the stop request */
    AGC_GE_MARK_START,
    AGC_GE_MARKING_DONE,        /* a: SATB entries drained */
    AGC_GE_PLANNED,             /* concurrent planning done */
    AGC_GE_FLIP_PLANNED,        /* in the flip: a: bytes allocated during the cycle */
    AGC_GE_FLIP_ROOTS_DONE,     /* in the flip: roots forwarded */
    AGC_GE_FLIPPED,             /* in the flip: primary remapped, to-space registered */
    AGC_GE_COMPACTION_DONE,
    AGC_GE_RELEASED,            /* from-space given back, cycle's data final */
    AGC_GE_CYCLE_END,           /* a: the cycle's result (AGC_OK or an error) */
    AGC_GE_PAGE_BUILT,          /* a: 1 by a GC thread, 0 by a mutator; b: bytes moved (hot) */
    AGC_GE_FAULT,               /* a: AGC_FAULT_* (hot, async-signal-safe) */
    AGC_GE_FAULT_WAIT,          /* a faulting mutator waited for a page being built (hot) */
    AGC_GE_OLD_BACK,            /* after a young flip (anon): a: old bytes moved back, b: the time */
} agc_gc_event;

typedef struct agc_listener {
    /* t is CLOCK_MONOTONIC ns; a and b as the event says. Hot events (page
     * built, fault, fault wait) come with t = 0 and must be async-signal-safe. */
    void (*event)(void *ctx, agc_heap *h, agc_gc_event ev, uint64_t t, uint64_t a, uint64_t b);
    void *ctx;
} agc_listener;

/* Announce an event (timestamped now) to the heap's listener. */
void agc_gc_event_at(agc_heap *h, agc_gc_event ev, uint64_t t, uint64_t a, uint64_t b);
void agc_gc_emit(agc_heap *h, agc_gc_event ev, uint64_t a, uint64_t b);
/* Hot events: no timestamp. */
void agc_gc_count(agc_heap *h, agc_gc_event ev, uint64_t a, uint64_t b);

/* The statistics listener (stats.c). */
extern const agc_listener agc_stats_listener;
#endif
