/* The collector: a GC thread per heap runs cycles on request (occupancy
 * trigger, explicit collect, allocation failure). A cycle: marking (stw or
 * concurrent with an SATB barrier), planning outside any pause, the flip
 * pause, concurrent compaction by gc_threads threads, release. In stw mode
 * everything after marking happens inside the one pause. */
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

static void forward_root(agc_heap *h, agc_word *slot, void *ctx)
{
    agc_word v = *slot;
    uint64_t off = v - (agc_word)h->primary;
    if (v < (agc_word)h->primary || off >= h->plan_top || !bm_get(h->mark_bits, off >> 3)) {
        if (!h->corrupt) {
            h->corrupt = 1;
            snprintf(h->corrupt_msg, sizeof h->corrupt_msg,
                     "flip: a root refers to %#llx, which is not a live object", (unsigned long long)v);
        }
        *slot = 0;
        return;
    }
    *slot = (agc_word)h->primary + agc_forward_off(h, off);
}

static void shuffle_pages(agc_heap *h, uint64_t n)
{
    uint64_t x = h->opt.seed * 0x9E3779B97F4A7C15ull + h->cycles_started + 1;
    for (uint64_t i = 0; i < n; i++)
        h->page_order[i] = i;
    for (uint64_t i = n; i > 1; i--) {
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
        uint64_t j = (x * 0x2545F4914F6CDD1Dull) % i;
        uint64_t t = h->page_order[i - 1];
        h->page_order[i - 1] = h->page_order[j];
        h->page_order[j] = t;
    }
}

static uint64_t pause_end(agc_heap *h)
{
    uint64_t t0 = h->stop_t0;
    if (h->stop_ttsp_ns > h->cur.ttsp_max_ns)
        h->cur.ttsp_max_ns = h->stop_ttsp_ns;
    agc_start_world(h);
    return agc_now_ns() - t0;
}

static int populate_tospace(agc_heap *h, uint64_t upto)
{
    if (h->opt.mode != AGC_MODE_MINOR || upto == 0)
        return AGC_OK;
    if (fallocate(h->memfd, 0, (off_t)((uint64_t)h->to_half * h->cap), (off_t)upto) != 0)
        return agc_fail(AGC_EOOM, "cannot populate %llu bytes of to-space: %s",
                        (unsigned long long)upto, strerror(errno));
    return AGC_OK;
}

static void release_half(agc_heap *h, int half)
{
    if (h->anon)
        return;
    fallocate(h->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
              (off_t)((uint64_t)half * h->cap), (off_t)h->cap);
}

static void *worker_main(void *arg)
{
    agc_heap *h = arg;
    agc_compact_worker_run(h, 1);
    agc_compact_thread_done();
    return NULL;
}

static void compact_concurrently(agc_heap *h)
{
    int extra = h->opt.gc_threads - 1;
    pthread_t tids[64];
    int started = 0;
    for (int i = 0; i < extra; i++)
        if (pthread_create(&tids[started], NULL, worker_main, h) == 0)
            pthread_setname_np(tids[started++], "artgc-gc-work");
    agc_compact_worker_run(h, 0);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    /* pages a mutator is still building */
    for (uint64_t p = 0; p < h->npages; p++)
        while (atomic_load_explicit(&h->page_state[p], memory_order_acquire) < PG_PROCESSED)
            sched_yield();
}

static void reset_counters(agc_heap *h)
{
    atomic_store(&h->next_page, 0);
    atomic_store(&h->pages_by_gc, 0);
    atomic_store(&h->pages_by_mutator, 0);
    atomic_store(&h->faults_minor, 0);
    atomic_store(&h->faults_missing, 0);
    atomic_store(&h->fault_waits, 0);
    atomic_store(&h->moved_bytes, 0);
    h->satb_total = 0;
}

/* Before the first pauses of a cycle: give the mark and live bitmaps pages
 * for the heap up to `upto` (they are mapped lazily and kept once touched),
 * so that the initial-mark pause does not take a page fault per bitmap page
 * its roots land on (0.5-1 ms in the first cycle of a 4 GiB heap). */
static void populate_bitmaps(agc_heap *h, uint64_t upto)
{
    if (!h->opt.pretouch || upto <= h->bitmaps_ready)
        return;
    uint64_t a = (h->bitmaps_ready / 64) & ~(AGC_PAGE - 1);
    uint64_t b = (upto / 64 + 8 + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    uint64_t max = (h->nbitwords * 8 + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    if (b > max)
        b = max;
    if (b > a && (madvise((uint8_t *)h->mark_bits + a, b - a, MADV_POPULATE_WRITE) != 0 ||
                  madvise((uint8_t *)h->live_bits + a, b - a, MADV_POPULATE_WRITE) != 0))
        return;   /* an older kernel: the bitmaps fault in as they are touched */
    h->bitmaps_ready = upto;
}

/* Marking, stop-the-world or concurrent. Ends with S (mark_start_top) and B
 * (black_top) set and everything below S traced. */
static void do_marking(agc_heap *h, agc_cycle_stats *c)
{
    c->t_mark_start_ns = agc_now_ns();
    if (h->opt.marking == AGC_MARKING_CONCURRENT && h->opt.mode != AGC_MODE_STW) {
        populate_bitmaps(h, AGC_LOAD(h->top));
        agc_stop_world(h, 0);
        h->mark_start_top = agc_align_top(h, AGC_PAGE);
        atomic_store(&h->alloc_black, 1);
        agc_mark_roots(h);
        atomic_store(&h->marking, 1);
        __atomic_add_fetch(&agc_any_marking, 1, __ATOMIC_SEQ_CST);
        c->init_pause_ns = pause_end(h);
        while (agc_mark_concurrent_step(h))
            ;
        agc_stop_world(h, 1);
        agc_mark_flush_satb(h);
        atomic_store(&h->marking, 0);
        __atomic_sub_fetch(&agc_any_marking, 1, __ATOMIC_SEQ_CST);
        h->black_top = agc_align_top(h, AGC_PAGE);
        c->mark_pause_ns = pause_end(h);
    } else {
        agc_stop_world(h, h->opt.mode == AGC_MODE_STW ? 3 : 1);
        h->mark_start_top = h->black_top = agc_align_top(h, AGC_PAGE);
        if (h->opt.mode != AGC_MODE_STW)
            atomic_store(&h->alloc_black, 1);
        agc_mark_roots(h);
        agc_mark_drain(h);
        if (h->opt.mode != AGC_MODE_STW)
            c->mark_pause_ns = pause_end(h);
        /* stw mode: the world stays stopped */
    }
    c->t_mark_end_ns = agc_now_ns();
    c->mark_ns = c->t_mark_end_ns - c->t_mark_start_ns;
    c->satb_entries = h->satb_total;
}

static int cycle_stw(agc_heap *h, agc_cycle_stats *c)
{
    do_marking(h, c);
    uint64_t t0 = h->stop_t0;
    uint64_t tm = agc_now_ns();
    c->mark_pause_ns = tm - t0;
    uint64_t T = h->black_top;
    agc_plan_chunks(h, 0, T);
    agc_plan_range(h, 0, T);
    c->t_flip_start_ns = tm;
    h->to_half = 1 - h->live_half;
    h->from_base = h->alias + (uint64_t)h->live_half * h->cap;
    h->to_base = h->alias + (uint64_t)h->to_half * h->cap;
    for (uint64_t p = 0; p < h->npages; p++)
        agc_build_page(h, p, h->to_base + p * AGC_PAGE);
    agc_for_each_root(h, forward_root, NULL);
    /* stw needs no fault: the standby's page tables can all stay */
    int rc = agc_standby_prepare(h, 0);
    if (!rc)
        rc = agc_map_tospace(h, 0);
    h->live_half = h->to_half;
    uint64_t nt = (h->new_end + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    AGC_STORE(h->top, nt);
    c->t_flip_end_ns = c->t_compact_end_ns = agc_now_ns();
    c->prepare_ns = 0;
    c->compact_ns = c->t_compact_end_ns - tm;
    c->pages_by_gc = h->npages;
    uint64_t total = pause_end(h);
    c->flip_pause_ns = total - c->mark_pause_ns;
    return rc;
}

static int cycle_concurrent(agc_heap *h, agc_cycle_stats *c)
{
    do_marking(h, c);
    /* prepare, concurrently: objects allocated during marking are live */
    uint64_t tp = agc_now_ns();
    uint64_t S = h->mark_start_top, B = h->black_top;
    agc_plan_chunks(h, 0, S);
    agc_plan_range(h, 0, S);
    agc_plan_black(h, B);
    h->to_half = h->anon ? 0 : 1 - h->live_half;
    /* pages needed for sure: those planned so far; the rest at the flip */
    uint64_t sure = h->npages * AGC_PAGE;
    int rc = populate_tospace(h, sure);
    if (rc)
        return rc;
    h->populated_upto = sure;
    /* minor mode keeps the standby's page tables above to-space; copy mode
     * punched that half, so it has none to keep */
    if (h->opt.mode == AGC_MODE_MINOR) {
        /* what gets allocated until the flip joins to-space too: drop the
         * entries of about twice what came since the marking pause, so the
         * flip rarely has any left to drop */
        uint64_t grown = AGC_LOAD(h->top) - B;
        uint64_t zap = sure + 2 * grown + (16ull << 20);
        zap = zap > h->cap ? h->cap : (zap + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
        rc = agc_standby_prepare(h, zap);
        if (rc)
            return rc;
    }
    c->prepare_ns = agc_now_ns() - tp;
    /* the preparation takes a while and allocation goes on: catch up on the
     * entries to drop, with room for what comes until the world stops. In
     * to-space what is allocated since B lands right after the planned
     * pages; dropping more would only cost page faults after the flip. */
    if (h->opt.mode == AGC_MODE_MINOR) {
        rc = agc_standby_zap_to(h, sure + (AGC_LOAD(h->top) - B) + (4ull << 20));
        if (rc)
            return rc;
    }

    /* the flip */
    agc_stop_world(h, 2);
    uint64_t tf[8] = {0};
    tf[0] = agc_now_ns();
    c->t_flip_start_ns = h->stop_t0;
    uint64_t T = agc_align_top(h, AGC_PAGE);
    agc_plan_black(h, T);
    atomic_store(&h->alloc_black, 0);
    tf[1] = agc_now_ns();
    c->black_bytes = T - S;
    if (h->npages * AGC_PAGE > h->populated_upto && !h->minor_catch_missing)
        rc = populate_tospace(h, h->npages * AGC_PAGE);
    if (!rc) {
        if (h->opt.order == AGC_ORDER_RANDOM)
            shuffle_pages(h, h->npages);
        agc_for_each_root(h, forward_root, NULL);
        tf[2] = agc_now_ns();
        rc = agc_map_tospace(h, h->npages * AGC_PAGE);
        tf[3] = agc_now_ns();
    }
    if (!rc) {
        h->from_base = h->anon ? h->fromspace : h->alias + (uint64_t)h->live_half * h->cap;
        h->to_base = h->anon ? NULL : h->alias + (uint64_t)h->to_half * h->cap;
        h->live_half = h->to_half;
        rc = agc_compact_setup(h);
        AGC_STORE(h->top, (h->new_end + AGC_PAGE - 1) & ~(AGC_PAGE - 1));
        atomic_store(&h->phase, PH_COMPACTING);
        tf[4] = agc_now_ns();
        c->flip_plan_ns = tf[1] - tf[0];
        c->flip_remap_ns = tf[4] - tf[2];
        if (tf[0] - h->stop_t0 > c->ttsp_max_ns)
            c->ttsp_max_ns = tf[0] - h->stop_t0;
    }
    c->flip_pause_ns = pause_end(h);
    c->t_flip_end_ns = agc_now_ns();
    if (rc)
        return rc;
    if (h->manual_compaction) {
        /* agc_collect_begin: leave the pages to faults until agc_collect_finish */
        return AGC_OK;
    }
    compact_concurrently(h);
    c->t_compact_end_ns = agc_now_ns();
    c->compact_ns = c->t_compact_end_ns - c->t_flip_end_ns;
    agc_compact_teardown(h);
    return AGC_OK;
}

static void finish_cycle(agc_heap *h, agc_cycle_stats *c)
{
    uint64_t tr = agc_now_ns();
    int from_half = h->anon ? 0 : 1 - h->live_half;
    agc_plan_heap_maps(h);
    int punch = h->opt.mode == AGC_MODE_COPY || (!h->opt.reuse_tospace && h->opt.mode != AGC_MODE_MOVE);
    agc_release_fromspace(h, !punch && (h->opt.mode == AGC_MODE_MINOR || h->opt.mode == AGC_MODE_STW));
    if (punch)
        release_half(h, from_half);
    agc_mark_reset(h);
    memset((void *)h->page_state, 0, h->npages);
    atomic_store(&h->phase, PH_IDLE);
    c->live_bytes = h->new_end;
    c->used_after = (h->new_end + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    c->pages = h->npages;
    c->pages_by_gc = atomic_load(&h->pages_by_gc) + (h->opt.mode == AGC_MODE_STW ? h->npages : 0);
    c->pages_by_mutator = atomic_load(&h->pages_by_mutator);
    c->faults_minor = atomic_load(&h->faults_minor);
    c->faults_missing = atomic_load(&h->faults_missing);
    c->faults = c->faults_minor + c->faults_missing;
    c->fault_waits = atomic_load(&h->fault_waits);
    c->moved_bytes = h->opt.mode == AGC_MODE_STW ? h->new_end : atomic_load(&h->moved_bytes);
    c->pause_ns = c->init_pause_ns + c->mark_pause_ns + c->flip_pause_ns;
    c->release_ns = agc_now_ns() - tr;
    struct stat st;
    if (h->memfd >= 0 && fstat(h->memfd, &st) == 0)
        c->memfd_bytes = (uint64_t)st.st_blocks * 512;
    AGC_STORE(h->gc_baseline, c->used_after);
    /* allocation rate since the previous cycle, and this cycle's length:
     * keep 1.5x what the mutators allocate during a cycle in reserve */
    uint64_t now = agc_now_ns();
    if (h->prev_cycle_end_ns && c->t_start_ns > h->prev_cycle_end_ns && c->used_before > h->prev_used_after) {
        double rate = (double)(c->used_before - h->prev_used_after) / (double)(c->t_start_ns - h->prev_cycle_end_ns);
        double dur = (double)(now - c->t_start_ns);
        double r = 1.5 * rate * dur;
        uint64_t cap_half = (h->cap - c->used_after) / 2;   /* never more than half the free space */
        AGC_STORE(h->trigger_reserve, r > (double)cap_half ? cap_half : (uint64_t)r);
    }
    h->prev_cycle_end_ns = now;
    h->prev_used_after = c->used_after;
    AGC_STORE(h->last_traced_live, h->black_new_start);   /* live without what the cycle allocated */
}

static int run_cycle(agc_heap *h, int reason, int stop_after_flip)
{
    agc_cycle_stats *c = &h->cur;
    memset(c, 0, sizeof *c);
    c->index = h->cycles_started;
    c->mode = h->opt.mode;
    c->reason = reason;
    c->t_start_ns = agc_now_ns();
    c->used_before = AGC_LOAD(h->top);
    reset_counters(h);
    if (h->sigbus_slot >= 0)
        agc_sigbus_install();   /* in front again if a handler displaced ours */
    if (h->fault_thread && !agc_fault_thread_alive(h->fault_thread)) {
        /* the handler thread died: say so, and start a new one */
        fprintf(stderr, "artgc: the userfaultfd handler thread of heap %p had died; starting a new one\n",
                (void *)h);
        agc_fault_thread_stop(h->fault_thread);
        h->fault_thread = agc_fault_thread_start(h->uffd, agc_fault_resolver_fn, h);
        h->fault_thread_restarts++;
        if (!h->fault_thread)
            return agc_fail(AGC_ESYS, "the userfaultfd handler thread died and cannot be restarted: %s",
                            agc_last_error());
    }
    AGC_STORE(h->manual_compaction, stop_after_flip && h->opt.mode != AGC_MODE_STW);
    int rc = h->opt.mode == AGC_MODE_STW ? cycle_stw(h, c) : cycle_concurrent(h, c);
    if (rc == AGC_OK && h->manual_compaction)
        return AGC_OK;   /* finished by agc_collect_finish */
    if (rc == AGC_OK)
        finish_cycle(h, c);
    c->t_end_ns = agc_now_ns();
    if (rc == AGC_OK && h->corrupt)
        rc = agc_fail(AGC_ECORRUPT, "%s", h->corrupt_msg);
    if (rc == AGC_OK && h->opt.verify) {
        agc_stop_world(h, -1);
        char hex[33];
        rc = agc_verify_heap(h, hex, 1);
        agc_start_world(h);
    }
    agc_cycle_push(h, c);
    return rc;
}

/* Between cycles, the GC thread maps the free space ahead of the
 * allocation pointer (MADV_POPULATE_WRITE), so mutators do not take a page
 * fault per fresh page after every flip. Stops as soon as a cycle is wanted. */
static void pretouch_free_space(agc_heap *h)
{
    if (!h->opt.pretouch || h->anon)
        return;
    const uint64_t step = 16ull << 20;
    uint64_t from = (__atomic_load_n(&h->top, __ATOMIC_RELAXED) + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    while (from < h->cap) {
        pthread_mutex_lock(&h->gc_lock);
        int stop = h->gc_request || h->gc_shutdown;
        pthread_mutex_unlock(&h->gc_lock);
        if (stop)
            return;
        uint64_t len = h->cap - from < step ? h->cap - from : step;
        if (madvise(h->primary + from, len, MADV_POPULATE_WRITE) != 0)
            return;   /* an older kernel: mutators fault the pages in themselves */
        from += len;
    }
}

/* The GC thread. */
static void *gc_main(void *arg)
{
    agc_heap *h = arg;
    pthread_mutex_lock(&h->gc_lock);
    for (;;) {
        while ((!h->gc_request || h->manual_compaction) && !h->gc_shutdown)
            pthread_cond_wait(&h->gc_req_cond, &h->gc_lock);
        if (h->gc_shutdown)
            break;
        int reason = h->gc_request_reason;
        int saf = h->gc_stop_after_flip;
        AGC_STORE(h->gc_request, 0);
        h->gc_stop_after_flip = 0;
        AGC_STORE(h->gc_busy, 1);
        AGC_STORE(h->cycles_started, h->cycles_started + 1);
        pthread_mutex_unlock(&h->gc_lock);
        int rc = h->corrupt ? agc_fail(AGC_ECORRUPT, "%s", h->corrupt_msg) : run_cycle(h, reason, saf);
        pthread_mutex_lock(&h->gc_lock);
        h->last_cycle_error = rc;
        snprintf(h->last_cycle_msg, sizeof h->last_cycle_msg, "%s", rc ? agc_last_error() : "");
        if (rc && !h->corrupt) {
            h->corrupt = 1;
            snprintf(h->corrupt_msg, sizeof h->corrupt_msg, "%s", h->last_cycle_msg);
        }
        if (!(rc == AGC_OK && h->manual_compaction)) {
            AGC_STORE(h->gc_busy, 0);
            h->cycles_done++;
        } else {
            h->cycles_done++;   /* the flip is done; agc_collect_finish completes it */
        }
        pthread_cond_broadcast(&h->gc_done_cond);
        if (rc == AGC_OK && !h->manual_compaction && !h->gc_request) {
            pthread_mutex_unlock(&h->gc_lock);
            pretouch_free_space(h);
            pthread_mutex_lock(&h->gc_lock);
        }
    }
    pthread_mutex_unlock(&h->gc_lock);
    agc_compact_thread_done();
    return NULL;
}

int agc_gc_start(agc_heap *h)
{
    if (h->opt.mode != AGC_MODE_STW) {
        unsigned want = 0;
        if (h->opt.delivery == AGC_DELIVERY_SIGBUS)
            want |= AGC_UFFD_WANT_SIGBUS;
        else
            want |= AGC_UFFD_WANT_THREAD_ID;
        if (h->opt.mode == AGC_MODE_MINOR) {
            want |= AGC_UFFD_WANT_MINOR_SHMEM;
            /* also catch missing faults on to-space pages not populated in
             * advance (the allocation since marking), instead of populating
             * them inside the flip pause */
            agc_uffd_caps caps;
            agc_uffd_caps_get(&caps);
            if (caps.missing_shmem) {
                want |= AGC_UFFD_WANT_MISSING_SHMEM;
                h->minor_catch_missing = 1;
            }
        }
        if (h->opt.mode == AGC_MODE_COPY)
            want |= AGC_UFFD_WANT_MISSING_SHMEM;
        if (h->opt.mode == AGC_MODE_MOVE)
            want |= AGC_UFFD_WANT_MOVE;
        h->uffd = agc_uffd_open(want);
        if (h->uffd < 0)
            return AGC_EUNSUPPORTED;
        if (h->opt.delivery == AGC_DELIVERY_SIGBUS) {
            if (agc_sigbus_install() != 0)
                return agc_fail(AGC_ESYS, "cannot install the SIGBUS handler: %s", agc_last_error());
            h->sigbus_slot = agc_sigbus_add_range(h->primary, h->cap, agc_fault_resolver_fn, h);
            if (h->sigbus_slot < 0)
                return agc_fail(AGC_ESYS, "too many heaps with SIGBUS delivery in this process");
        } else {
            __atomic_store_n(&agc_fault_thread_exit_hook, agc_compact_thread_done, __ATOMIC_RELEASE);
            h->fault_thread = agc_fault_thread_start(h->uffd, agc_fault_resolver_fn, h);
            if (!h->fault_thread)
                return agc_fail(AGC_ESYS, "cannot start the fault handler thread: %s", agc_last_error());
        }
    }
    h->gc_baseline = 0;
    if (pthread_create(&h->gc_thread, NULL, gc_main, h) != 0)
        return agc_fail(AGC_ESYS, "cannot start the GC thread");
    pthread_setname_np(h->gc_thread, "artgc-gc");    /* for top, perf and gdb */
    h->gc_thread_started = 1;
    return AGC_OK;
}

void agc_gc_shutdown(agc_heap *h)
{
    if (h->gc_thread_started) {
        pthread_mutex_lock(&h->gc_lock);
        h->gc_shutdown = 1;
        pthread_cond_broadcast(&h->gc_req_cond);
        pthread_mutex_unlock(&h->gc_lock);
        pthread_join(h->gc_thread, NULL);
        h->gc_thread_started = 0;
    }
    if (h->fault_thread) {
        agc_fault_thread_stop(h->fault_thread);
        h->fault_thread = NULL;
    }
    if (h->sigbus_slot >= 0) {
        agc_sigbus_remove_range(h->sigbus_slot);
        h->sigbus_slot = -1;
    }
    if (h->uffd >= 0) {
        close(h->uffd);
        h->uffd = -1;
    }
}

/* reason: 0 trigger, 1 explicit, 2 allocation failure. */
int agc_request_cycle(agc_heap *h, int reason, int wait, int stop_after_flip)
{
    if (!wait) {
        /* from a running mutator: never block on the GC's lock */
        if (pthread_mutex_trylock(&h->gc_lock) != 0)
            return AGC_OK;
    } else {
        pthread_mutex_lock(&h->gc_lock);
    }
    if (h->gc_shutdown) {
        pthread_mutex_unlock(&h->gc_lock);
        return agc_fail(AGC_ECLOSED, "the heap is closed");
    }
    uint64_t target;
    if (h->gc_busy && reason == 2 && !h->gc_request) {
        target = h->cycles_started;          /* the running cycle frees space at its flip */
    } else {
        if (!h->gc_request) {
            AGC_STORE(h->gc_request, 1);
            h->gc_request_reason = reason;
            h->gc_stop_after_flip = stop_after_flip;
            pthread_cond_broadcast(&h->gc_req_cond);
        }
        target = h->cycles_started + (h->gc_busy ? 2 : 1);
        if (h->gc_request && h->gc_busy)
            target = h->cycles_started + 1;
    }
    int rc = AGC_OK;
    if (wait) {
        AGC_NOCANCEL_BEGIN;
        while (h->cycles_done < target && !h->gc_shutdown)
            pthread_cond_wait(&h->gc_done_cond, &h->gc_lock);
        AGC_NOCANCEL_END;
        rc = h->last_cycle_error;
        if (rc)
            agc_fail(rc, "%s", h->last_cycle_msg);
    }
    pthread_mutex_unlock(&h->gc_lock);
    return rc;
}

void agc_maybe_trigger(agc_heap *h)
{
    uint64_t top = __atomic_load_n(&h->top, __ATOMIC_RELAXED);
    uint64_t base = AGC_LOAD(h->gc_baseline);
    uint64_t thr = base + (uint64_t)((double)(h->cap - base) * h->opt.trigger);
    /* adaptive, as Shenandoah's heuristic: start early enough that the
     * free space lasts through a cycle at the recent allocation rate */
    uint64_t reserve = AGC_LOAD(h->trigger_reserve);
    if (reserve && h->cap - top < reserve && thr > top)
        thr = top;
    if (top < thr || __atomic_load_n(&h->gc_busy, __ATOMIC_RELAXED) ||
        __atomic_load_n(&h->gc_request, __ATOMIC_RELAXED))
        return;
    agc_request_cycle(h, 0, 0, 0);
}

/* Finish a cycle begun with agc_collect_begin. */
int agc_collect_finish_cycle(agc_heap *h)
{
    agc_cycle_stats *c = &h->cur;
    compact_concurrently(h);
    c->t_compact_end_ns = agc_now_ns();
    c->compact_ns = c->t_compact_end_ns - c->t_flip_end_ns;
    agc_compact_teardown(h);
    finish_cycle(h, c);
    c->t_end_ns = agc_now_ns();
    int rc = AGC_OK;
    if (h->corrupt)
        rc = agc_fail(AGC_ECORRUPT, "%s", h->corrupt_msg);
    agc_cycle_push(h, c);
    pthread_mutex_lock(&h->gc_lock);
    h->manual_compaction = 0;
    pthread_mutex_unlock(&h->gc_lock);
    pthread_mutex_lock(&h->gc_lock);
    AGC_STORE(h->gc_busy, 0);
    h->last_cycle_error = rc;
    pthread_cond_broadcast(&h->gc_done_cond);
    pthread_cond_broadcast(&h->gc_req_cond);
    pthread_mutex_unlock(&h->gc_lock);
    return rc;
}
