/* The collector: a GC thread per heap runs cycles on request (occupancy
 * trigger, explicit collect, allocation failure) through the mode's cycle
 * driver (heap/modes: stw, or concurrent: marking, planning, the flip,
 * concurrent compaction), then releases from-space and decides when the
 * next cycle starts. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"
#include "uffd.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static void finish_cycle(agc_heap *h, agc_cycle_stats *c)
{
    agc_plan_heap_maps(h);
    if (!h->plan.cycle_skipped)
        h->space->after_cycle(h);   /* a skipped cycle did not flip: from-space is the heap */
    agc_layout_changed(h);
    agc_charge_clear(h);
    h->rel.released_during = 0;
    agc_mark_reset(h);
    memset((void *)h->plan.page_state, 0, h->plan.npages);
    atomic_store(&h->cp.phase, PH_IDLE);
    agc_gc_emit(h, AGC_GE_RELEASED, 0, 0);
    agc_gen_cycle_done(h, c);      /* promotion: after the statistics read this cycle's */
    h->plan.cycle_skipped = AGC_SKIP_NONE;
    h->plan.dense_end = 0;
    h->plan.inplace_end = 0;
    AGC_STORE(h->gc.gc_baseline, c->used_after);
    /* allocation rate since the previous cycle, and this cycle's length:
     * keep 1.5x what the mutators allocate during a cycle in reserve */
    uint64_t now = agc_now_ns();
    if (h->gc.prev_cycle_end_ns && c->t_start_ns > h->gc.prev_cycle_end_ns && c->used_before > h->gc.prev_used_after) {
        double rate = (double)(c->used_before - h->gc.prev_used_after) / (double)(c->t_start_ns - h->gc.prev_cycle_end_ns);
        double dur = (double)(now - c->t_start_ns);
        double r = 1.5 * rate * dur;
        uint64_t cap_half = (h->mem.cap - c->used_after) / 2;   /* never more than half the free space */
        AGC_STORE(h->gc.trigger_reserve, r > (double)cap_half ? cap_half : (uint64_t)r);
    }
    h->gc.prev_cycle_end_ns = now;
    h->gc.prev_used_after = c->used_after;
    AGC_STORE(h->mk.last_traced_live, h->mk.black_new_start);   /* live without what the cycle allocated */
}

static int run_cycle(agc_heap *h, int reason, int stop_after_flip)
{
    agc_cycle_stats *c = &h->st.cur;
    agc_gc_emit(h, AGC_GE_CYCLE_START, (uint64_t)reason, 0);
    h->mk.satb_total = 0;
    if (h->flt.sigbus_slot >= 0)
        agc_sigbus_install();   /* in front again if a handler displaced ours */
    if (h->flt.fault_thread && !agc_fault_thread_alive(h->flt.fault_thread)) {
        /* the handler thread died: say so, and start a new one */
        fprintf(stderr, "artgc: the userfaultfd handler thread of heap %p had died; starting a new one\n",
                (void *)h);
        agc_fault_thread_stop(h->flt.fault_thread);
        h->flt.fault_thread = agc_fault_thread_start(h->flt.uffd, agc_fault_resolver_fn, h);
        h->flt.fault_thread_restarts++;
        if (!h->flt.fault_thread)
            return agc_fail(AGC_ESYS, "the userfaultfd handler thread died and cannot be restarted: %s",
                            agc_last_error());
    }
    AGC_STORE(h->cp.manual_compaction, stop_after_flip && h->mode->faults);
    agc_gen_choose(h, reason);
    int rc = h->mode->cycle(h, c);
    if (rc == AGC_OK && h->cp.manual_compaction)
        return AGC_OK;   /* finished by agc_collect_finish */
    if (rc == AGC_OK)
        finish_cycle(h, c);
    else
        agc_charge_clear(h);      /* no allocation waits on a cycle that failed */
    if (rc == AGC_OK && h->corrupt)
        rc = agc_fail(AGC_ECORRUPT, "%s", h->corrupt_msg);
    agc_gc_emit(h, AGC_GE_CYCLE_END, (uint64_t)rc, 0);
    if (rc == AGC_OK && h->opt.verify) {
        agc_stop_world(h, AGC_PHASE_VERIFY);
        char hex[33];
        rc = agc_verify_heap(h, hex, 1);
        agc_start_world(h);
    }
    return rc;
}

/* The window mapped ahead of allocation: the option, or with "auto" a
 * 16th of the capacity, at least 16 MiB (on this VM fresh memory is dear
 * and a bigger heap touches more of it; a 16 MiB window left binarytrees 20
 * at 4 GiB 1.25x slower than at 1 GiB, 256 MiB 1.0x). */
static uint64_t pretouch_window(const agc_heap *h)
{
    uint64_t w = h->opt.pretouch_window;
    if (w != AGC_PRETOUCH_AUTO)
        return w;
    w = h->mem.cap / 16;
    return w < (16ull << 20) ? 16ull << 20 : w;
}

void agc_mapped_to_max(agc_heap *h, uint64_t end)
{
    uint64_t cur = AGC_LOAD(h->gc.mapped_to);
    while (cur < end && !__atomic_compare_exchange_n(&h->gc.mapped_to, &cur, end, 1,
                                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* The GC thread, at a flip (world stopped) or a cycle's end: the free space
 * above the allocation pointer is not what it was. A mutator that mapped
 * some across a flip publishes nothing (its epoch is old). At a cycle's end
 * the mutators run, and one may publish its block just after the reset:
 * then its next TLABs there are not mapped ahead and fault as they are
 * touched, which costs time, never correctness (mapped_to is only a hint). */
void agc_layout_changed(agc_heap *h)
{
    __atomic_add_fetch(&h->gc.layout_epoch, 1, __ATOMIC_SEQ_CST);
    AGC_STORE(h->gc.mapped_to, 0);
}

/* Where allocation starts the next cycle: the trigger fraction of the free
 * space after the last cycle, but never more than max_free past the last
 * cycle's used bytes (ART's heapmaxfree), or earlier (adaptive, as
 * Shenandoah's heuristic) so that the free space lasts through a cycle at
 * the recent allocation rate; a trigger of 1 asks for cycles only when the
 * heap is full, and gets them.
 *
 * Why the cap (issue #15, a bigger heap must never be slower): past some
 * size, more free space between cycles buys fewer cycles at the price of
 * memory the run has not touched yet, and on this VM such memory is dear:
 * freed guest memory goes back to the host (free page reporting), and a
 * page the host must back anew costs more than the cycles it saves.
 * binarytrees 20 at 4 GiB (2026-12-04, 2 rounds): stw 5.62 / 4.86 s with all
 * the free space, 2.37 / 2.31 s with 1 GiB of it, 3.55 / 3.18 s at a 1 GiB
 * heap; minor 18.0 / 15.6, 9.62 / 9.64 and 8.26 / 9.40 s. With huge pages
 * on shmem too (2026-12-06) the default went from 1 GiB to 512 MiB:
 * binarytrees 20, 3 interleaved rounds, 512 MiB against 1 GiB at a 1 GiB
 * heap: stw 3.42 / 3.81 s, copy 3.05 / 3.21, move 3.10 / 3.17, minor
 * 3.29 / 3.61; at 4 GiB 3.32 / 3.98, 3.06 / 3.89, 3.05 / 3.59, 3.13 / 4.24;
 * peak PSS 170-450 MiB lower. A heap of up to 0.67 GiB is not affected at
 * the default trigger. The mutators may still
 * allocate into the rest of the capacity while a cycle runs: the cap moves
 * the cycle's start, not the budget. */
static uint64_t trigger_point(const agc_heap *h)
{
    uint64_t base = AGC_LOAD(h->gc.gc_baseline);
    uint64_t thr = base + (uint64_t)((double)(h->mem.cap - base) * h->opt.trigger);
    if (h->opt.trigger >= 1.0)
        return h->mem.cap;
    if (h->opt.max_free && thr - base > h->opt.max_free)
        thr = base + h->opt.max_free;
    uint64_t reserve = AGC_LOAD(h->gc.trigger_reserve);
    if (reserve && reserve < h->mem.cap && h->mem.cap - reserve < thr)
        thr = h->mem.cap - reserve;
    return thr;
}

/* How far the pretouch maps: the window ahead of `top` (all the free space
 * with a window of 0); with the auto window never more than
 * AGC_PRETOUCH_PAST_TRIGGER past the point where the next cycle starts, so
 * that a cycle does not begin with a window of free space mapped and unused
 * (issue #13: memory beyond the used bytes during a cycle, 64 MiB of window
 * at 1 GiB). During the cycle the mutators map what they allocate into
 * themselves (map_before_bump), which costs them the fresh pages' faults.
 * A window given in bytes is mapped whole. */
#define AGC_PRETOUCH_PAST_TRIGGER (16ull << 20)
uint64_t agc_pretouch_end(const agc_heap *h, uint64_t top)
{
    uint64_t win = pretouch_window(h);
    if (!win || win >= h->mem.cap - top)
        return h->mem.cap;
    uint64_t end = top + win;
    uint64_t lim = trigger_point(h) + AGC_PRETOUCH_PAST_TRIGGER;
    if (h->opt.pretouch_window == AGC_PRETOUCH_AUTO && end > lim)
        end = lim > top ? (lim + (2ull << 20) - 1) & ~((2ull << 20) - 1) : top;   /* a whole huge page */
    return end > h->mem.cap ? h->mem.cap : end;
}

/* Between cycles, the GC thread maps the free space ahead of the
 * allocation pointer (MADV_POPULATE_WRITE), so mutators do not take a page
 * fault per fresh page after every flip: pretouch_window bytes ahead, topped
 * up when allocation has used half of it (agc_maybe_trigger asks), or all of
 * the free space at once with a window of 0. Stops as soon as a cycle is
 * wanted. */
static void pretouch_free_space(agc_heap *h)
{
    if (!h->opt.pretouch)
        return;
    const uint64_t step = 16ull << 20;
    uint64_t top = (__atomic_load_n(&h->alloc.top, __ATOMIC_RELAXED) + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    uint64_t from = top > AGC_LOAD(h->gc.pretouched_upto) ? top : AGC_LOAD(h->gc.pretouched_upto);
    uint64_t end = agc_pretouch_end(h, top);
    while (from < end) {
        pthread_mutex_lock(&h->gc.gc_lock);
        int stop = h->gc.gc_request || h->gc.gc_shutdown;
        pthread_mutex_unlock(&h->gc.gc_lock);
        if (stop)
            return;
        uint64_t len = end - from < step ? end - from : step;
        if (h->space->pretouch(h, from, len) != 0) {
            /* not for this memory, or an older kernel: mutators fault the
             * pages in, and nobody asks again */
            AGC_STORE(h->gc.pretouch_unsupported, 1);
            return;
        }
        from += len;
        AGC_STORE(h->gc.pretouched_upto, from);
        agc_mapped_to_max(h, from);   /* the mutators need not map it (map_before_bump) */
    }
}

/* The GC thread. */
static void *gc_main(void *arg)
{
    agc_heap *h = arg;
    pthread_mutex_lock(&h->gc.gc_lock);
    for (;;) {
        while ((!h->gc.gc_request || h->cp.manual_compaction) && !h->gc.gc_shutdown &&
               !(h->gc.pretouch_wanted && !h->gc.gc_busy))
            pthread_cond_wait(&h->gc.gc_req_cond, &h->gc.gc_lock);
        if (h->gc.gc_shutdown)
            break;
        if (!h->gc.gc_request || h->cp.manual_compaction) {
            AGC_STORE(h->gc.pretouch_wanted, 0);
            pthread_mutex_unlock(&h->gc.gc_lock);
            pretouch_free_space(h);
            pthread_mutex_lock(&h->gc.gc_lock);
            continue;
        }
        int reason = h->gc.gc_request_reason;
        int saf = h->gc.gc_stop_after_flip;
        AGC_STORE(h->gc.gc_request, 0);
        h->gc.gc_stop_after_flip = 0;
        AGC_STORE(h->gc.gc_busy, 1);
        AGC_STORE(h->gc.cycles_started, h->gc.cycles_started + 1);
        pthread_mutex_unlock(&h->gc.gc_lock);
        int rc = h->corrupt ? agc_fail(AGC_ECORRUPT, "%s", h->corrupt_msg) : run_cycle(h, reason, saf);
        pthread_mutex_lock(&h->gc.gc_lock);
        h->gc.last_cycle_error = rc;
        snprintf(h->gc.last_cycle_msg, sizeof h->gc.last_cycle_msg, "%s", rc ? agc_last_error() : "");
        if (rc && !h->corrupt) {
            h->corrupt = 1;
            snprintf(h->corrupt_msg, sizeof h->corrupt_msg, "%s", h->gc.last_cycle_msg);
        }
        if (!(rc == AGC_OK && h->cp.manual_compaction)) {
            AGC_STORE(h->gc.gc_busy, 0);
            h->gc.cycles_done++;
        } else {
            h->gc.cycles_done++;   /* the flip is done; agc_collect_finish completes it */
        }
        pthread_cond_broadcast(&h->gc.gc_done_cond);
        AGC_STORE(h->gc.pretouched_upto, 0);   /* the live space is new: map ahead from its top */
        if (rc == AGC_OK && !h->cp.manual_compaction && !h->gc.gc_request) {
            pthread_mutex_unlock(&h->gc.gc_lock);
            pretouch_free_space(h);
            pthread_mutex_lock(&h->gc.gc_lock);
        }
    }
    pthread_mutex_unlock(&h->gc.gc_lock);
    agc_compact_thread_done();
    return NULL;
}

int agc_gc_start(agc_heap *h)
{
    if (h->mode->faults) {
        agc_uffd_caps caps;
        agc_uffd_caps_get(&caps);
        unsigned want = h->opt.delivery == AGC_DELIVERY_SIGBUS ? AGC_UFFD_WANT_SIGBUS : AGC_UFFD_WANT_THREAD_ID;
        want |= h->mode->uffd_want(h, &caps);
        h->flt.uffd = agc_uffd_open(want);
        if (h->flt.uffd < 0)
            return AGC_EUNSUPPORTED;
        if (h->opt.delivery == AGC_DELIVERY_SIGBUS) {
            if (agc_sigbus_install() != 0)
                return agc_fail(AGC_ESYS, "cannot install the SIGBUS handler: %s", agc_last_error());
            h->flt.sigbus_slot = agc_sigbus_add_range(h->mem.primary, h->mem.cap, agc_fault_resolver_fn, h);
            if (h->flt.sigbus_slot < 0)
                return agc_fail(AGC_ESYS, "too many heaps with SIGBUS delivery in this process");
        } else {
            __atomic_store_n(&agc_fault_thread_exit_hook, agc_compact_thread_done, __ATOMIC_RELEASE);
            h->flt.fault_thread = agc_fault_thread_start(h->flt.uffd, agc_fault_resolver_fn, h);
            if (!h->flt.fault_thread)
                return agc_fail(AGC_ESYS, "cannot start the fault handler thread: %s", agc_last_error());
        }
    }
    h->gc.gc_baseline = 0;
    /* Before any cycle the allocation rate and a cycle's length are not
     * known: the first cycle keeps half the capacity in reserve (starts at
     * half the heap at the latest, as Shenandoah's learning cycles start
     * early), and the second's reserve takes the rate since the heap
     * started. Without them mutators waited for the first two cycles
     * (binarytrees 21 / 1 GiB minor: allocation waits of 3-38 ms there in
     * 5 of 6 runs; with them no wait at all in 4 of 6) and the first
     * cycle's peak memory was the run's. */
    h->gc.prev_cycle_end_ns = agc_now_ns();
    h->gc.prev_used_after = 0;
    h->gc.trigger_reserve = h->mem.cap / 2;
    if (pthread_create(&h->gc.gc_thread, NULL, gc_main, h) != 0)
        return agc_fail(AGC_ESYS, "cannot start the GC thread");
    pthread_setname_np(h->gc.gc_thread, "artgc-gc");    /* for top, perf and gdb */
    h->gc.gc_thread_started = 1;
    return AGC_OK;
}

void agc_gc_shutdown(agc_heap *h)
{
    if (h->gc.gc_thread_started) {
        pthread_mutex_lock(&h->gc.gc_lock);
        h->gc.gc_shutdown = 1;
        pthread_cond_broadcast(&h->gc.gc_req_cond);
        pthread_mutex_unlock(&h->gc.gc_lock);
        pthread_join(h->gc.gc_thread, NULL);
        h->gc.gc_thread_started = 0;
    }
    if (h->flt.fault_thread) {
        agc_fault_thread_stop(h->flt.fault_thread);
        h->flt.fault_thread = NULL;
    }
    if (h->flt.sigbus_slot >= 0) {
        agc_sigbus_remove_range(h->flt.sigbus_slot);
        h->flt.sigbus_slot = -1;
    }
    if (h->flt.uffd >= 0) {
        close(h->flt.uffd);
        h->flt.uffd = -1;
    }
}

/* reason: AGC_REASON_*. */
int agc_request_cycle(agc_heap *h, int reason, int wait, int stop_after_flip)
{
    if (!wait) {
        /* from a running mutator: never block on the GC's lock */
        if (pthread_mutex_trylock(&h->gc.gc_lock) != 0)
            return AGC_OK;
    } else {
        pthread_mutex_lock(&h->gc.gc_lock);
    }
    if (h->gc.gc_shutdown) {
        pthread_mutex_unlock(&h->gc.gc_lock);
        return agc_fail(AGC_ECLOSED, "the heap is closed");
    }
    uint64_t target;
    if (h->gc.gc_busy && reason == AGC_REASON_ALLOC_FAILURE && !h->gc.gc_request) {
        target = h->gc.cycles_started;          /* the running cycle frees space at its flip */
    } else {
        if (!h->gc.gc_request) {
            AGC_STORE(h->gc.gc_request, 1);
            h->gc.gc_request_reason = reason;
            h->gc.gc_stop_after_flip = stop_after_flip;
            pthread_cond_broadcast(&h->gc.gc_req_cond);
        }
        target = h->gc.cycles_started + (h->gc.gc_busy ? 2 : 1);
        if (h->gc.gc_request && h->gc.gc_busy)
            target = h->gc.cycles_started + 1;
    }
    int rc = AGC_OK;
    if (wait) {
        AGC_NOCANCEL_BEGIN;
        while (h->gc.cycles_done < target && !h->gc.gc_shutdown)
            pthread_cond_wait(&h->gc.gc_done_cond, &h->gc.gc_lock);
        AGC_NOCANCEL_END;
        rc = h->gc.last_cycle_error;
        if (rc)
            agc_fail(rc, "%s", h->gc.last_cycle_msg);
    }
    pthread_mutex_unlock(&h->gc.gc_lock);
    return rc;
}

/* From a mutator's slow path: half the window mapped ahead is used up. */
static void pretouch_kick(agc_heap *h, uint64_t top)
{
    uint64_t w = pretouch_window(h);
    if (!h->opt.pretouch || !w || AGC_LOAD(h->gc.pretouch_unsupported) ||
        top + w / 2 < AGC_LOAD(h->gc.pretouched_upto) ||
        AGC_LOAD(h->gc.pretouch_wanted) || AGC_LOAD(h->gc.pretouched_upto) >= agc_pretouch_end(h, top))
        return;
    if (pthread_mutex_trylock(&h->gc.gc_lock) != 0)
        return;             /* never block a mutator on the GC's lock */
    AGC_STORE(h->gc.pretouch_wanted, 1);
    pthread_cond_broadcast(&h->gc.gc_req_cond);
    pthread_mutex_unlock(&h->gc.gc_lock);
}

void agc_maybe_trigger(agc_heap *h)
{
    uint64_t top = __atomic_load_n(&h->alloc.top, __ATOMIC_RELAXED);
    uint64_t thr = trigger_point(h);
    if (top < thr || __atomic_load_n(&h->gc.gc_busy, __ATOMIC_RELAXED) ||
        __atomic_load_n(&h->gc.gc_request, __ATOMIC_RELAXED)) {
        pretouch_kick(h, top);
        return;
    }
    agc_request_cycle(h, AGC_REASON_TRIGGER, 0, 0);
}

/* Finish a cycle begun with agc_collect_begin. */
int agc_collect_finish_cycle(agc_heap *h)
{
    agc_cycle_stats *c = &h->st.cur;
    agc_compact_concurrently(h);
    finish_cycle(h, c);
    int rc = AGC_OK;
    if (h->corrupt)
        rc = agc_fail(AGC_ECORRUPT, "%s", h->corrupt_msg);
    agc_gc_emit(h, AGC_GE_CYCLE_END, (uint64_t)rc, 0);
    pthread_mutex_lock(&h->gc.gc_lock);
    h->cp.manual_compaction = 0;
    pthread_mutex_unlock(&h->gc.gc_lock);
    pthread_mutex_lock(&h->gc.gc_lock);
    AGC_STORE(h->gc.gc_busy, 0);
    h->gc.last_cycle_error = rc;
    pthread_cond_broadcast(&h->gc.gc_done_cond);
    pthread_cond_broadcast(&h->gc.gc_req_cond);
    pthread_mutex_unlock(&h->gc.gc_lock);
    return rc;
}
