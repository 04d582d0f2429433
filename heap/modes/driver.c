/* Phases shared by the cycle drivers: stopping and restarting the world,
 * marking, forwarding roots. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include "internal.h"
#include "modes/driver.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

void agc_halt_world(agc_heap *h, int phase)
{
    agc_stop_world(h, phase);
    agc_gc_event_at(h, AGC_GE_REQUESTING_STOP, h->world.stop_t0, (uint64_t)phase, 0);
    agc_gc_emit(h, AGC_GE_MUTATORS_STOPPED, (uint64_t)phase, h->world.stop_ttsp_ns);
}

uint64_t agc_resume_world(agc_heap *h, int phase)
{
    uint64_t t0 = h->world.stop_t0;
    agc_start_world(h);
    uint64_t t = agc_now_ns();
    agc_gc_event_at(h, AGC_GE_MUTATORS_RESTARTED, t, (uint64_t)phase, t - t0);
    return t - t0;
}

void agc_forward_root(agc_heap *h, agc_word *slot, void *ctx)
{
    (void)ctx;
    agc_word v = *slot;
    uint64_t off = v - (agc_word)h->mem.primary;
    if (v >= (agc_word)h->mem.primary && off < h->gen.young_start)
        return;      /* the old generation, in a young cycle: it stays where it is */
    if (v < (agc_word)h->mem.primary || off >= h->plan.plan_top || !bm_get(h->mk.mark_bits, off >> 3)) {
        if (!h->corrupt) {
            h->corrupt = 1;
            snprintf(h->corrupt_msg, sizeof h->corrupt_msg,
                     "flip: a root refers to %#llx, which is not a live object", (unsigned long long)v);
        }
        *slot = 0;
        return;
    }
    *slot = (agc_word)h->mem.primary + agc_forward_off(h, off);
}

/* Before the first pauses of a cycle: give the mark and live bitmaps pages
 * for the heap up to `upto` (they are mapped lazily and kept once touched),
 * so that the initial-mark pause does not take a page fault per bitmap page
 * its roots land on (0.5-1 ms in the first cycle of a 4 GiB heap). */
static void populate_bitmaps(agc_heap *h, uint64_t upto)
{
    if (!h->opt.pretouch || upto <= h->mem.bitmaps_ready)
        return;
    uint64_t a = (h->mem.bitmaps_ready / 64) & ~(AGC_PAGE - 1);
    uint64_t b = (upto / 64 + 8 + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    uint64_t max = (h->mk.nbitwords * 8 + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    if (b > max)
        b = max;
    if (b > a && (madvise((uint8_t *)h->mk.mark_bits + a, b - a, MADV_POPULATE_WRITE) != 0 ||
                  madvise((uint8_t *)h->mk.live_bits + a, b - a, MADV_POPULATE_WRITE) != 0))
        return;   /* an older kernel: the bitmaps fault in as they are touched */
    h->mem.bitmaps_ready = upto;
}

void agc_do_marking(agc_heap *h, int world_stays_stopped)
{
    agc_gc_emit(h, AGC_GE_MARK_START, 0, 0);
    if (!world_stays_stopped && h->opt.marking == AGC_MARKING_CONCURRENT) {
        populate_bitmaps(h, AGC_LOAD(h->alloc.top));
        agc_halt_world(h, AGC_PHASE_INIT_MARK);
        h->mk.mark_start_top = agc_align_top(h, AGC_PAGE);
        atomic_store(&h->mk.alloc_black, 1);
        agc_mark_roots(h);
        atomic_store(&h->mk.marking, 1);
        __atomic_add_fetch(&agc_any_marking, 1, __ATOMIC_SEQ_CST);
        agc_resume_world(h, AGC_PHASE_INIT_MARK);
        agc_gen_mark_cards(h);      /* a young cycle: from the old generation's dirty cards */
        while (agc_mark_concurrent_step(h))
            ;
        agc_halt_world(h, AGC_PHASE_MARK);
        agc_mark_flush_satb(h);
        atomic_store(&h->mk.marking, 0);
        __atomic_sub_fetch(&agc_any_marking, 1, __ATOMIC_SEQ_CST);
        h->mk.black_top = agc_align_top(h, AGC_PAGE);
        agc_resume_world(h, AGC_PHASE_MARK);
    } else {
        agc_halt_world(h, world_stays_stopped ? AGC_PHASE_STW : AGC_PHASE_MARK);
        h->mk.mark_start_top = h->mk.black_top = agc_align_top(h, AGC_PAGE);
        if (!world_stays_stopped)
            atomic_store(&h->mk.alloc_black, 1);
        agc_mark_roots(h);
        agc_gen_mark_cards(h);
        agc_mark_drain(h);
        if (!world_stays_stopped)
            agc_resume_world(h, AGC_PHASE_MARK);
    }
    agc_gc_emit(h, AGC_GE_MARKING_DONE, h->mk.satb_total, 0);
}
