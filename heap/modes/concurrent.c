/* The concurrent cycle driver (minor, copy, move): marking, planning outside
 * any pause, the flip, concurrent compaction by gc_threads threads. What
 * differs between modes and memory kinds goes through h->mode and h->space. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include "internal.h"
#include "modes/mode.h"
#include "modes/driver.h"

static void shuffle_pages(agc_heap *h, uint64_t n)
{
    uint64_t x = h->opt.seed * 0x9E3779B97F4A7C15ull + h->gc.cycles_started + 1;
    for (uint64_t i = 0; i < n; i++)
        h->plan.page_order[i] = i;
    for (uint64_t i = n; i > 1; i--) {
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
        uint64_t j = (x * 0x2545F4914F6CDD1Dull) % i;
        uint64_t t = h->plan.page_order[i - 1];
        h->plan.page_order[i - 1] = h->plan.page_order[j];
        h->plan.page_order[j] = t;
    }
}

static void *worker_main(void *arg)
{
    agc_heap *h = arg;
    agc_compact_worker_run(h, 1);
    agc_compact_thread_done();
    return NULL;
}

/* From-space above plan_top holds no object: only the free space mapped
 * ahead of allocation before the flip (pretouch), moved away with the rest.
 * No to-space page reads it: it goes back now, not with the cycle. */
static void release_tail(agc_heap *h)
{
    if (!h->opt.eager_release)
        return;
    uint64_t lo = (h->plan.plan_top + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    uint64_t hi = AGC_LOAD(h->gc.pretouched_upto);
    if (hi > h->mem.cap)
        hi = h->mem.cap;
    if (hi > lo)
        atomic_fetch_add_explicit(&h->rel.released_bytes, h->space->release(h, lo, hi - lo),
                                  memory_order_relaxed);
}

void agc_compact_concurrently(agc_heap *h)
{
    release_tail(h);
    int extra = h->opt.gc_threads - 1;
    pthread_t tids[AGC_MAX_GC_THREADS];
    int started = 0;
    for (int i = 0; i < extra && i < AGC_MAX_GC_THREADS; i++)
        if (pthread_create(&tids[started], NULL, worker_main, h) == 0)
            pthread_setname_np(tids[started++], "artgc-gc-work");
    agc_compact_worker_run(h, 0);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    /* pages a mutator is still building */
    for (uint64_t p = 0; p < h->plan.npages; p++)
        while (atomic_load_explicit(&h->plan.page_state[p], memory_order_acquire) < PG_PROCESSED)
            sched_yield();
    agc_compact_release_rest(h);
    agc_compact_teardown(h);
    agc_gc_emit(h, AGC_GE_COMPACTION_DONE, 0, 0);
}

/* The pages planned before the flip, and (in to-space) what is allocated
 * until the flip lands right after them: drop the entries of about twice
 * what came since the marking pause, so the flip rarely has any left. */
static uint64_t zap_estimate(agc_heap *h, uint64_t sure)
{
    uint64_t grown = AGC_LOAD(h->alloc.top) - h->mk.black_top;
    uint64_t zap = sure + 2 * grown + (16ull << 20);
    return zap > h->mem.cap ? h->mem.cap : zap;
}

/* Nothing would move (the whole heap below S is the dense prefix): no flip,
 * only a short stop to end black allocation. */
static int skip_compaction(agc_heap *h)
{
    h->plan.cycle_skipped = AGC_SKIP_DENSE;
    agc_gc_emit(h, AGC_GE_PLANNED, 0, 0);
    agc_halt_world(h, AGC_PHASE_FLIP);
    uint64_t T = agc_align_top(h, AGC_PAGE);
    agc_plan_black(h, T);
    atomic_store(&h->mk.alloc_black, 0);
    agc_gc_emit(h, AGC_GE_FLIP_PLANNED, T - h->mk.mark_start_top, 0);
    h->plan.npages = 0;
    agc_resume_world(h, AGC_PHASE_FLIP);
    agc_gc_emit(h, AGC_GE_COMPACTION_DONE, 0, 0);
    return AGC_OK;
}

int agc_cycle_concurrent(agc_heap *h, agc_cycle_stats *c)
{
    (void)c;
    agc_do_marking(h, 0);
    /* prepare, concurrently: objects allocated during marking are live */
    uint64_t S = h->mk.mark_start_top, B = h->mk.black_top;
    if (agc_plan_below_s(h, S))
        return skip_compaction(h);
    agc_plan_black(h, B);
    agc_gen_plan(h);
    agc_gen_mark_pages(h);          /* a young cycle leaves the old generation mapped */
    /* pages needed for sure: those planned so far; the rest at the flip.
     * To save memory, a mode that builds in place can have to-space made
     * to exist ahead of the builders instead, when a fault on a page not
     * there yet is caught (MISSING registered too). */
    uint64_t sure = h->plan.npages * AGC_PAGE;
    h->rel.populate_lazy = h->mode->populate_tospace && h->opt.eager_release && h->flt.minor_catch_missing &&
                       h->opt.order != AGC_ORDER_RANDOM;
    atomic_store(&h->rel.pop_done, 0);
    int populate = h->mode->populate_tospace && !h->rel.populate_lazy;
    int rc = h->space->prepare(h, populate ? sure : 0, zap_estimate(h, sure));
    if (rc)
        return rc;
    agc_release_plan_early(h);
    agc_gc_emit(h, AGC_GE_PLANNED, 0, 0);
    /* the preparation takes a while and allocation goes on: catch up on the
     * entries to drop, with room for what comes until the world stops. In
     * to-space what is allocated since B lands right after the planned
     * pages; dropping more would only cost page faults after the flip. */
    rc = h->space->prepare_late(h, sure + (AGC_LOAD(h->alloc.top) - B) + (4ull << 20));
    if (rc)
        return rc;

    atomic_store(&h->cp.next_page, 0);     /* no GC thread claims pages before the flip */
    atomic_store(&h->cp.hint_page, AGC_NONE);
    atomic_store(&h->cp.want_page, AGC_NONE);

    /* the flip; one that moves a mapping 2 MiB entry by entry would
     * interrupt a spinning mutator's CPU for each entry's TLB flush: the
     * mutators sleep through it instead (binarytrees 21 / 1 GiB, young
     * cycles of minor: flip_remap median 1.1 ms spinning, 0.18 sleeping) */
    AGC_STORE(h->world.park_sleep, h->space->flip_unaligned(h));
    agc_halt_world(h, AGC_PHASE_FLIP);
    agc_layout_changed(h);
    uint64_t T = agc_align_top(h, AGC_PAGE);
    agc_plan_black(h, T);
    atomic_store(&h->mk.alloc_black, 0);
    agc_gc_emit(h, AGC_GE_FLIP_PLANNED, T - S, 0);
    if (populate && !h->flt.minor_catch_missing && h->plan.npages * AGC_PAGE > sure)
        rc = h->space->prepare(h, h->plan.npages * AGC_PAGE, 0);
    if (!rc) {
        if (h->opt.order == AGC_ORDER_RANDOM)
            shuffle_pages(h, h->plan.npages);
        agc_for_each_root(h, agc_forward_root, NULL);
        agc_gen_forward_cards(h);
        agc_gc_emit(h, AGC_GE_FLIP_ROOTS_DONE, 0, 0);
        rc = h->space->flip(h, h->plan.npages * AGC_PAGE);
    }
    if (!rc)
        rc = agc_compact_setup(h);
    if (!rc) {
        /* the charge and the new top in one step, under the allocation
         * lock that agc_heap_used takes: a memory sample sees both or
         * neither (with the top first, one CI run of test_charge's move
         * case counted 146 MiB beyond the used bytes, about from-space's
         * size; with the charge first, one counted the garbage twice, 16
         * MiB over what the memfd held) */
        agc_alloc_flipped(h, (h->plan.new_end + AGC_PAGE - 1) & ~(AGC_PAGE - 1), 1);
        atomic_store(&h->cp.phase, PH_COMPACTING);
        agc_gc_emit(h, AGC_GE_FLIPPED, 0, 0);
        agc_compact_plan_release(h);     /* after the flip's timing: not the remap's */
    }
    agc_resume_world(h, AGC_PHASE_FLIP);
    AGC_STORE(h->world.park_sleep, 0);
    if (h->space->flip_done)
        h->space->flip_done(h);
    if (rc)
        return rc;
    if (h->cp.manual_compaction) {
        /* agc_collect_begin: leave the pages to faults until agc_collect_finish */
        return AGC_OK;
    }
    agc_compact_concurrently(h);
    return AGC_OK;
}
