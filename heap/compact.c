/* Building to-space pages and getting them to the primary mapping. One
 * function builds a page (agc_build_page); the modes differ only in where it
 * builds and how the page is installed (install_page: the seam). */
#define _GNU_SOURCE
#define AGC_BATCH 16
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"
#include "uffd.h"

/* Build to-space page `page` into dst (PAGE bytes): slide the live objects
 * that land on it out of from-space and rewrite their references. Reads only
 * from-space and the plan; safe to run from any thread, in any order. */
void agc_build_page(agc_heap *h, uint64_t page, uint8_t *dst)
{
    const uint64_t lo = page * AGC_PAGE, hi = lo + AGC_PAGE;
    const uint8_t *from = h->from_base;
    const agc_word base = (agc_word)h->primary;
    const uint64_t end_w = h->plan_top / 8;
    uint64_t moved = 0;
    /* the reference slots landing on this page, as ranges of to-space
     * offsets: at most one range per object, one object per two words (an
     * object with references has a header and a slot), plus one that starts
     * on an earlier page */
    uint64_t ra[AGC_PAGE / 16 + 1], rb[AGC_PAGE / 16 + 1];
    unsigned n = 0;
    uint64_t w = agc_page_first(h, page);
    /* to-space is dense: only the first object needs the bitmap arithmetic,
     * each next one starts where the previous one ends */
    uint64_t noff = w != AGC_NONE ? agc_forward_off(h, w * 8) : 0;
    /* pass 1: copy, one memcpy per run of objects adjacent in from-space,
     * noting where each object's references land (its header is read once) */
    uint64_t run_src = 0, run_dst = 0, run_len = 0;
    while (w != AGC_NONE && noff < hi) {
        const agc_header *o = (const agc_header *)(from + w * 8);
        uint64_t size = (uint64_t)o->nwords * 8;
        uint64_t a = noff > lo ? noff : lo;
        uint64_t b = noff + size < hi ? noff + size : hi;
        uint64_t src = w * 8 + (a - noff);
        if (run_len && src == run_src + run_len) {
            run_len += b - a;
        } else {
            if (run_len)
                memcpy(dst + (run_dst - lo), from + run_src, run_len);
            run_src = src;
            run_dst = a;
            run_len = b - a;
        }
        moved += b - a;
        uint64_t fw;
        uint64_t nrefs = agc_obj_refs(h, o, &fw);
        if (nrefs) {
            uint64_t r0 = noff + fw * 8, r1 = r0 + nrefs * 8;
            r0 = r0 < lo ? lo : r0;
            r1 = r1 > hi ? hi : r1;
            if (r0 < r1 && n < sizeof ra / sizeof ra[0]) {
                ra[n] = r0;
                rb[n++] = r1;
            }
        }
        noff += size;
        if (noff >= hi)
            break;
        w = bm_next(h->mark_bits, w + o->nwords, end_w);
    }
    if (run_len)
        memcpy(dst + (run_dst - lo), from + run_src, run_len);
    /* pass 2: rewrite the references that lie on this page */
    for (unsigned k = 0; k < n; k++)
        for (uint64_t s = ra[k]; s < rb[k]; s += 8) {
            agc_word *slot = (agc_word *)(dst + (s - lo));
            agc_word v = *slot;
            if (v)
                *slot = base + agc_forward_off(h, v - base);
        }
    if (hi > h->new_end) {
        uint64_t tail = h->new_end > lo ? h->new_end : lo;
        memset(dst + (tail - lo), 0, hi - tail);
        agc_fill(dst + (tail - lo), hi - tail);
    }
    atomic_fetch_add_explicit(&h->moved_bytes, moved, memory_order_relaxed);
}

/* Per-thread page buffers, mmap'd on first use (async-signal-safe). */
static __thread uint8_t *copy_buf;
static __thread uint8_t *move_scratch;
static __thread uint8_t *batch_buf;     /* AGC_BATCH pages, copy and move modes */
_Atomic long agc_page_buffers_live;     /* of every thread (the tests check none outlives its thread) */

static uint8_t *page_buffer(uint8_t **slot)
{
    if (!*slot) {
        void *s = mmap(NULL, AGC_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (s == MAP_FAILED)
            return NULL;
        *slot = s;
        atomic_fetch_add(&agc_page_buffers_live, 1);
    }
    return *slot;
}

/* Give back this thread's page buffers (a thread that is done compacting). */
void agc_compact_thread_done(void)
{
    atomic_fetch_sub(&agc_page_buffers_live, (copy_buf != NULL) + (move_scratch != NULL) + (batch_buf != NULL));
    if (copy_buf)
        munmap(copy_buf, AGC_PAGE);
    if (move_scratch)
        munmap(move_scratch, AGC_PAGE);
    if (batch_buf)
        munmap(batch_buf, AGC_BATCH * AGC_PAGE);
    copy_buf = move_scratch = batch_buf = NULL;
}

/* Build page p and put it where mutators see it, per mode. */
static int build_and_install(agc_heap *h, uint64_t p, int install)
{
    uint8_t *target = h->primary + p * AGC_PAGE;
    int rc = 0;
    switch (h->opt.mode) {
    case AGC_MODE_MINOR:
        agc_build_page(h, p, h->to_base + p * AGC_PAGE);
        if (install)
            rc = agc_uffd_continue(h->uffd, target, AGC_PAGE, 0);
        break;
    case AGC_MODE_COPY: {
        uint8_t *buf = page_buffer(&copy_buf);
        if (!buf)
            return -1;
        agc_build_page(h, p, buf);
        rc = agc_uffd_copy(h->uffd, target, buf, AGC_PAGE, 0);
        break;
    }
    case AGC_MODE_MOVE: {
        /* MOVE takes the scratch page away; the next write refills it */
        uint8_t *buf = page_buffer(&move_scratch);
        if (!buf)
            return -1;
        agc_build_page(h, p, buf);
        rc = agc_uffd_move(h->uffd, target, buf, AGC_PAGE, 0);
        break;
    }
    default:
        agc_build_page(h, p, h->to_base + p * AGC_PAGE);
        break;
    }
    return rc < 0 ? rc : 0;
}

/* Make sure page p is built (and installed unless by_gc && !gc_install).
 * Exactly one thread builds a page; others wait for it. */
int agc_resolve_page(agc_heap *h, uint64_t p, int by_gc, int in_signal)
{
    _Atomic uint8_t *st = &h->page_state[p];
    int waited = 0;
    int install = !by_gc || h->opt.gc_install || h->opt.mode != AGC_MODE_MINOR;
    for (;;) {
        uint8_t s = atomic_load_explicit(st, memory_order_acquire);
        if (s == PG_UNPROCESSED) {
            uint8_t exp = PG_UNPROCESSED;
            if (!atomic_compare_exchange_strong_explicit(st, &exp, PG_PROCESSING,
                                                         memory_order_acq_rel, memory_order_acquire))
                continue;
            int rc = build_and_install(h, p, install);
            atomic_store_explicit(st, install ? PG_MAPPED : PG_PROCESSED, memory_order_release);
            if (by_gc)
                atomic_fetch_add_explicit(&h->pages_by_gc, 1, memory_order_relaxed);
            else
                atomic_fetch_add_explicit(&h->pages_by_mutator, 1, memory_order_relaxed);
            return rc;
        }
        if (s == PG_PROCESSING) {
            if (by_gc)
                return 0;            /* someone else has it */
            if (!waited++)
                atomic_fetch_add_explicit(&h->fault_waits, 1, memory_order_relaxed);
            if (waited > 64)
                sched_yield();
            else
                __builtin_ia32_pause();
            continue;
        }
        if (s == PG_PROCESSED) {
            if (by_gc)
                return 0;
            /* built by a GC thread that left the install to us */
            int rc = agc_uffd_continue(h->uffd, h->primary + p * AGC_PAGE, AGC_PAGE, 0);
            uint8_t exp = PG_PROCESSED;
            atomic_compare_exchange_strong(st, &exp, PG_MAPPED);
            return rc < 0 ? rc : 0;
        }
        /* mapped: a thread-delivered fault may still be waiting in the kernel */
        if (!in_signal && !by_gc && h->opt.delivery == AGC_DELIVERY_THREAD)
            agc_uffd_wake(h->uffd, h->primary + p * AGC_PAGE, AGC_PAGE);
        return 0;
    }
}

/* The fault resolver, for both deliveries (ctx is the heap). */
int agc_fault_resolver_fn(void *ctx, void *addr, int kind, uint64_t t_fault_ns, uint32_t tid, int in_signal)
{
    agc_heap *h = ctx;
    uint8_t *a = addr;
    if (a < h->primary || a >= h->primary + h->cap)
        return -1;
    atomic_fetch_add(&h->in_fault, 1);
    uint64_t p = (uint64_t)(a - h->primary) / AGC_PAGE;
    int rc = 0;
    if (atomic_load(&h->phase) != PH_COMPACTING || p >= h->npages) {
        /* a late fault of a finished cycle: the access just retries */
        if (!in_signal)
            agc_uffd_wake(h->uffd, h->primary + p * AGC_PAGE, AGC_PAGE);
        atomic_fetch_sub(&h->in_fault, 1);
        return 0;
    }
    if (in_signal)   /* SIGBUS does not say which kind: it is the one registered */
        kind = h->opt.mode == AGC_MODE_MINOR ? AGC_FAULT_MINOR : AGC_FAULT_MISSING;
    if (kind == AGC_FAULT_MINOR)
        atomic_fetch_add_explicit(&h->faults_minor, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&h->faults_missing, 1, memory_order_relaxed);
    rc = agc_resolve_page(h, p, 0, in_signal);
    uint64_t t1 = agc_now_ns();
    if (in_signal) {
        agc_mutator *m = agc_self;
        if (m && m->heap == h) {
            agc_event e = {t_fault_ns, t1 - t_fault_ns, m->id, AGC_EV_FAULT,
                           (uint32_t)AGC_LOAD(h->cycles_started), 0};
            agc_evlog_add(&m->events, &e);
        }
    } else {
        uint32_t who = tid;
        uint32_t n = AGC_LOAD(h->ntid_map);
        for (uint32_t i = n; i-- > 0;)          /* newest first: tids are reused */
            if (AGC_LOAD(h->tid_map[i][0]) == tid) {
                who = AGC_LOAD(h->tid_map[i][1]);
                break;
            }
        agc_event e = {t_fault_ns, t1 - t_fault_ns, who, AGC_EV_FAULT, (uint32_t)AGC_LOAD(h->cycles_started), 1};
        pthread_mutex_lock(&h->fault_ev_lock);
        agc_evlog_add(&h->fault_events, &e);
        pthread_mutex_unlock(&h->fault_ev_lock);
    }
    atomic_fetch_sub(&h->in_fault, 1);
    return rc < 0 ? -1 : 0;
}

/* GC threads claim pages in batches and install each run of consecutive
 * pages they built with one ioctl (ART maps runs the same way); a page in a
 * batch stays visible to faulting mutators through its state. */

static void worker_fail(agc_heap *h, uint64_t p, int rc)
{
    if (!h->corrupt) {
        h->corrupt = 1;
        snprintf(h->corrupt_msg, sizeof h->corrupt_msg,
                 "compaction: installing to-space pages from %llu failed (%d)", (unsigned long long)p, rc);
    }
}

/* Install the run [p, p + k) built by this thread, then mark it mapped. */
static void install_run(agc_heap *h, uint64_t p, uint64_t k, uint8_t *buf)
{
    uint8_t *target = h->primary + p * AGC_PAGE;
    int rc = 0;
    if (h->opt.mode == AGC_MODE_MINOR) {
        if (!h->opt.gc_install)
            return;
        rc = agc_uffd_continue(h->uffd, target, k * AGC_PAGE, 0);
    } else if (h->opt.mode == AGC_MODE_COPY) {
        rc = agc_uffd_copy(h->uffd, target, buf, k * AGC_PAGE, 0);
    } else if (h->opt.mode == AGC_MODE_MOVE) {
        rc = agc_uffd_move(h->uffd, target, buf, k * AGC_PAGE, 0);
    }
    if (rc < 0)
        worker_fail(h, p, rc);
    for (uint64_t q = p; q < p + k; q++)
        atomic_store_explicit(&h->page_state[q], PG_MAPPED, memory_order_release);
}

void agc_compact_worker_run(agc_heap *h, int worker)
{
    uint64_t n = h->npages;
    int inplace = h->opt.mode == AGC_MODE_MINOR;
    if (!inplace && !batch_buf) {
        void *b = mmap(NULL, AGC_BATCH * AGC_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b == MAP_FAILED) {
            worker_fail(h, 0, -12);
            return;
        }
        batch_buf = b;
        atomic_fetch_add(&agc_page_buffers_live, 1);
    }
    for (;;) {
        uint64_t i0 = atomic_fetch_add_explicit(&h->next_page, AGC_BATCH, memory_order_relaxed);
        if (i0 >= n)
            break;
        uint64_t i1 = i0 + AGC_BATCH < n ? i0 + AGC_BATCH : n;
        uint64_t run_start = 0, run_len = 0;
        for (uint64_t i = i0; i < i1; i++) {
            uint64_t p = h->opt.order == AGC_ORDER_DESCENDING ? n - 1 - i
                       : h->opt.order == AGC_ORDER_RANDOM ? h->page_order[i] : i;
            _Atomic uint8_t *st = &h->page_state[p];
            uint8_t exp = PG_UNPROCESSED;
            int mine = atomic_load_explicit(st, memory_order_relaxed) == PG_UNPROCESSED &&
                       atomic_compare_exchange_strong_explicit(st, &exp, PG_PROCESSING,
                                                               memory_order_acq_rel, memory_order_acquire);
            /* a run continues only with the next page up */
            if (run_len && (!mine || p != run_start + run_len)) {
                install_run(h, run_start, run_len, batch_buf);
                run_len = 0;
            }
            if (!mine)
                continue;
            if (!run_len)
                run_start = p;
            if (inplace) {
                agc_build_page(h, p, h->to_base + p * AGC_PAGE);
                /* built: a faulting mutator may install it from now on */
                atomic_store_explicit(st, PG_PROCESSED, memory_order_release);
            } else {
                agc_build_page(h, p, batch_buf + run_len * AGC_PAGE);
            }
            run_len++;
            atomic_fetch_add_explicit(&h->pages_by_gc, 1, memory_order_relaxed);
        }
        if (run_len)
            install_run(h, run_start, run_len, batch_buf);
    }
}

/* In the flip pause: register the to-space pages with userfaultfd. */
int agc_compact_setup(agc_heap *h)
{
    if (h->npages == 0)
        return AGC_OK;
    int modes = h->opt.mode == AGC_MODE_MINOR ? AGC_UFFD_REG_MINOR : AGC_UFFD_REG_MISSING;
    if (h->minor_catch_missing)
        modes |= AGC_UFFD_REG_MISSING;
    if (agc_uffd_register(h->uffd, h->primary, h->npages * AGC_PAGE, modes) != 0)
        return agc_fail(AGC_ESYS, "flip: registering to-space with userfaultfd failed: %s",
                        agc_last_error());
    return AGC_OK;
}

/* After every page is built: stop taking faults, unregister. */
void agc_compact_teardown(agc_heap *h)
{
    atomic_store(&h->phase, PH_RELEASE);
    while (atomic_load(&h->in_fault))
        sched_yield();
    /* every page is built: release any thread still waiting in the kernel
     * (a handler thread may have died under it) */
    if (h->npages && h->opt.delivery == AGC_DELIVERY_THREAD)
        agc_uffd_wake(h->uffd, h->primary, h->npages * AGC_PAGE);
    if (h->npages)
        agc_uffd_unregister(h->uffd, h->primary, h->npages * AGC_PAGE);
}
