/* Building to-space pages and getting them to the primary mapping. One
 * function builds a page (agc_build_page); the mode (h->mode) says where it
 * is built (in place through the alias, or in a buffer) and how a run of
 * built pages is installed (h->mode->install). */
#define _GNU_SOURCE
#define AGC_BATCH 16
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"
#include "uffd.h"

/* A page of the black-dense prefix: its objects stay where they are. The
 * page is copied whole (or, below plan.inplace_end, updated where it is:
 * dst and from's page are the same memfd page), every gap between live
 * objects that starts on it becomes a filler, and the references on it are
 * forwarded. Only its own slots and gaps are written: live headers, which
 * the builders of other pages read, never change. */
static void rewrite_slots(agc_heap *h, uint8_t *dst, uint64_t lo, uint64_t r0, uint64_t r1)
{
    const agc_word base = (agc_word)h->mem.primary;
    /* generations: a slot of the next old generation that refers to
     * something younger gets its card dirtied (gen.c: the invariant) */
    const uint64_t old = h->gen.next_old;
    for (uint64_t s = r0; s < r1; s += 8) {
        agc_word *slot = (agc_word *)(dst + (s - lo));
        agc_word v = *slot;
        if (v) {
            uint64_t f = agc_forward_off(h, v - base);
            *slot = base + f;
            if (s < old && f >= old)
                __atomic_store_n(&h->gen.cards[s >> AGC_CARD_SHIFT], 1, __ATOMIC_RELAXED);
        }
    }
}

static void build_prefix_page(agc_heap *h, uint64_t page, uint8_t *dst)
{
    const uint64_t lo = page * AGC_PAGE, hi = lo + AGC_PAGE;
    const uint8_t *from = h->plan.from_base;
    const uint64_t end_w = h->plan.dense_end / 8;
    if (hi > h->plan.inplace_end)      /* else dst is from's page itself (shmem, inplace_prefix) */
        memcpy(dst, from + lo, AGC_PAGE);
    /* the live object covering lo, if any, else the first one after it */
    uint64_t gap = 0;       /* where the gap before the next live object starts */
    uint64_t w = lo ? bm_prev(h->mk.mark_bits, lo / 8 - 1) : AGC_NONE;
    if (w != AGC_NONE) {
        const agc_header *o = (const agc_header *)(from + w * 8);
        gap = w * 8 + (uint64_t)o->nwords * 8;
        if (gap <= lo)
            w = AGC_NONE;
    }
    /* the object covering lo: the live one, else the filler of the gap */
    h->gen.page_obj[page] = w != AGC_NONE ? w * 8 : gap;
    if (w == AGC_NONE)
        w = bm_next(h->mk.mark_bits, lo / 8, end_w);
    for (;;) {
        uint64_t start = w != AGC_NONE ? w * 8 : h->plan.dense_end;
        if (start >= hi && gap >= hi)
            break;
        if (gap < start && gap >= lo && gap < hi)
            agc_fill_header(dst + (gap - lo), start - gap);
        if (w == AGC_NONE || start >= hi)
            break;
        const agc_header *o = (const agc_header *)(from + start);
        uint64_t fw, nrefs = agc_obj_refs(h, o, &fw);
        uint64_t r0 = start + fw * 8, r1 = r0 + nrefs * 8;
        r0 = r0 < lo ? lo : r0;
        r1 = r1 > hi ? hi : r1;
        if (r0 < r1)
            rewrite_slots(h, dst, lo, r0, r1);
        gap = start + (uint64_t)o->nwords * 8;
        w = bm_next(h->mk.mark_bits, gap / 8, end_w);
    }
}

/* Build to-space page `page` into dst (PAGE bytes): slide the live objects
 * that land on it out of from-space and rewrite their references. Reads only
 * from-space and the plan; safe to run from any thread, in any order. */
uint64_t agc_build_page(agc_heap *h, uint64_t page, uint8_t *dst)
{
    const uint64_t lo = page * AGC_PAGE, hi = lo + AGC_PAGE;
    if (hi <= h->plan.dense_end) {
        if (h->gen.young) {
            /* an old page a young cycle does not keep mapped (shmem,
             * above its K): copied as it is, the flip forwarded its cards */
            memcpy(dst, h->plan.from_base + lo, AGC_PAGE);
            return 0;
        }
        build_prefix_page(h, page, dst);
        return 0;           /* nothing moved */
    }
    const uint8_t *from = h->plan.from_base;
    const uint64_t end_w = h->plan.plan_top / 8;
    uint64_t moved = 0;
    /* the reference slots landing on this page, as ranges of to-space
     * offsets: at most one range per object, one object per two words (an
     * object with references has a header and a slot), plus one that starts
     * on an earlier page */
    uint64_t ra[AGC_PAGE / 16 + 1], rb[AGC_PAGE / 16 + 1];
    unsigned n = 0;
    uint64_t w;
    if (lo < h->plan.dense_end) {
        /* a young cycle's page the old generation ends on: its old part as
         * it is (the flip forwarded what its dirty cards held), then the
         * first young object; the page's first object stays the old one */
        memcpy(dst, from + lo, h->plan.dense_end - lo);
        w = bm_next(h->mk.mark_bits, h->plan.dense_end / 8, end_w);
    } else {
        w = agc_page_first(h, page);
    }
    /* to-space is dense: only the first object needs the bitmap arithmetic,
     * each next one starts where the previous one ends */
    uint64_t noff = w != AGC_NONE ? agc_forward_off(h, w * 8) : 0;
    /* the object covering the page's start (generations walk cards from it) */
    if (lo >= h->plan.dense_end)
        h->gen.page_obj[page] = w != AGC_NONE && noff <= lo ? noff : (h->plan.new_end > lo ? h->plan.new_end : lo);
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
        w = bm_next(h->mk.mark_bits, w + o->nwords, end_w);
    }
    if (run_len)
        memcpy(dst + (run_dst - lo), from + run_src, run_len);
    /* pass 2: rewrite the references that lie on this page */
    for (unsigned k = 0; k < n; k++)
        rewrite_slots(h, dst, lo, ra[k], rb[k]);
    if (hi > h->plan.new_end) {
        uint64_t tail = h->plan.new_end > lo ? h->plan.new_end : lo;
        memset(dst + (tail - lo), 0, hi - tail);
        agc_fill(dst + (tail - lo), hi - tail);
    }
    return moved;
}

/* Per-thread page buffers, mmap'd on first use (async-signal-safe). */
static __thread uint8_t *page_buf;      /* one page: a fault, or a GC thread's single page */
static __thread uint8_t *batch_buf;     /* AGC_BATCH pages: a GC thread's runs */
_Atomic long agc_page_buffers_live;     /* of every thread (the tests check none outlives its thread) */

static uint8_t *thread_buffer(uint8_t **slot, uint64_t pages)
{
    if (!*slot) {
        void *s = mmap(NULL, pages * AGC_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
    atomic_fetch_sub(&agc_page_buffers_live, (page_buf != NULL) + (batch_buf != NULL));
    if (page_buf)
        munmap(page_buf, AGC_PAGE);
    if (batch_buf)
        munmap(batch_buf, AGC_BATCH * AGC_PAGE);
    page_buf = batch_buf = NULL;
}

/* Build page p where the mode builds it, and install it if asked. A
 * faulting mutator's build is timed in three parts (the cycle's fault_*_ns):
 * its first write to the page is made apart from the build, so that what
 * the page itself costs (a fresh memfd page, an alias page-table entry) is
 * told from the work of building it. The byte is written back as it was:
 * only this thread builds the page, and the builder writes it whole. */
static int build_and_install(agc_heap *h, uint64_t p, int by_gc, int install)
{
    uint8_t *buf = NULL, *dst;
    uint64_t t0 = by_gc ? 0 : agc_now_ns();
    if (h->mode->build_in_place) {
        dst = by_gc ? agc_to_page(h, p) : agc_to_page_in_fault(h, p);
    } else {
        buf = dst = thread_buffer(&page_buf, 1);
        if (!buf)
            return -1;
    }
    uint64_t t1 = 0;
    if (!by_gc) {
        volatile uint8_t *first = dst;
        *first = *first;
        t1 = agc_now_ns();
    }
    uint64_t moved = agc_build_page(h, p, dst);
    uint64_t t2 = by_gc ? 0 : agc_now_ns();
    agc_gc_count(h, AGC_GE_PAGE_BUILT, (uint64_t)by_gc, moved);
    int rc = install ? h->mode->install(h, p, 1, buf) : 0;
    if (!by_gc) {
        uint64_t t3 = agc_now_ns();
        atomic_fetch_add_explicit(&h->cp.fault_touch_ns, t1 - t0, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->cp.fault_build_ns, t2 - t1, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->cp.fault_install_ns, t3 - t2, memory_order_relaxed);
    }
    agc_release_page_built(h, p);
    return rc < 0 ? rc : 0;
}

/* Make sure page p is built (and installed unless by_gc && !gc_install).
 * Exactly one thread builds a page; others wait for it. */
int agc_resolve_page(agc_heap *h, uint64_t p, int by_gc, int in_signal)
{
    _Atomic uint8_t *st = &h->plan.page_state[p];
    int waited = 0;
    int install = !by_gc || h->opt.gc_install || !h->mode->build_in_place;
    for (;;) {
        uint8_t s = atomic_load_explicit(st, memory_order_acquire);
        if (s == PG_UNPROCESSED) {
            uint8_t exp = PG_UNPROCESSED;
            if (!atomic_compare_exchange_strong_explicit(st, &exp, PG_PROCESSING,
                                                         memory_order_acq_rel, memory_order_acquire))
                continue;
            int rc = build_and_install(h, p, by_gc, install);
            atomic_store_explicit(st, install ? PG_MAPPED : PG_PROCESSED, memory_order_release);
            return rc;
        }
        if (s == PG_PROCESSING) {
            if (by_gc)
                return 0;            /* someone else has it */
            /* a GC thread building a whole block installs this page first */
            if ((waited & 63) == 0 && h->opt.huge_moves && h->mode->recycles)
                atomic_store_explicit(&h->cp.want_page, p, memory_order_relaxed);
            if (!waited++)
                agc_gc_count(h, AGC_GE_FAULT_WAIT, 0, 0);
            if (waited > 64)
                sched_yield();
            else
                __builtin_ia32_pause();
            continue;
        }
        if (s == PG_PROCESSED) {
            if (by_gc)
                return 0;
            /* built in place by a GC thread that left the install to us */
            int rc = h->mode->install(h, p, 1, NULL);
            uint8_t exp = PG_PROCESSED;
            atomic_compare_exchange_strong(st, &exp, PG_MAPPED);
            return rc < 0 ? rc : 0;
        }
        /* mapped: a thread-delivered fault may still be waiting in the kernel */
        if (!in_signal && !by_gc && h->opt.delivery == AGC_DELIVERY_THREAD)
            agc_uffd_wake(h->flt.uffd, h->mem.primary + p * AGC_PAGE, AGC_PAGE);
        return 0;
    }
}

/* A young flip moved the old generation away with the rest (anon): it
 * comes back right after the pause (space->flip_done); a mutator that
 * touches it before waits. */
static int wait_old_back(agc_heap *h, uint64_t p, int in_signal)
{
    for (unsigned waited = 0; __atomic_load_n(&h->plan.keep_away, __ATOMIC_ACQUIRE); waited++) {
        if (!waited)
            agc_gc_count(h, AGC_GE_FAULT_WAIT, 0, 0);
        if (waited > 64)
            sched_yield();
        else
            __builtin_ia32_pause();
    }
    if (h->corrupt)
        return -1;       /* it did not come back (anon_flip_done said why) */
    if (!in_signal && h->opt.delivery == AGC_DELIVERY_THREAD)
        agc_uffd_wake(h->flt.uffd, h->mem.primary + p * AGC_PAGE, AGC_PAGE);
    return 0;
}

static int claims_blocks(const agc_heap *h, int ord)
{
    return h->opt.huge_moves && h->mode->recycles && !h->mode->build_in_place && ord != AGC_ORDER_RANDOM;
}

/* How many pages GC threads have claimed in their order, from the claim
 * counter (next_page): pages, or with whole blocks (worker_loop) block
 * and tail-batch claims. A fault event records it. */
static uint64_t claimed_pages(const agc_heap *h, uint64_t i)
{
    const uint64_t n = h->plan.npages;
    uint64_t c = i;
    if (claims_blocks(h, h->opt.order)) {
        const uint64_t K = AGC_BLOCK_PAGES, nb = n / K, t0 = nb * K;
        const uint64_t ntb = (n - t0 + AGC_BATCH - 1) / AGC_BATCH;
        if (h->opt.order == AGC_ORDER_DESCENDING)
            c = i <= ntb ? i * AGC_BATCH : (n - t0) + (i - ntb) * K;
        else
            c = i <= nb ? i * K : t0 + (i - nb) * AGC_BATCH;
    }
    return c < n ? c : n;
}

/* The fault resolver, for both deliveries (ctx is the heap). */
int agc_fault_resolver_fn(void *ctx, void *addr, int kind, uint64_t t_fault_ns, uint32_t tid, int in_signal)
{
    agc_heap *h = ctx;
    uint8_t *a = addr;
    if (a < h->mem.primary || a >= h->mem.primary + h->mem.cap)
        return -1;
    atomic_fetch_add(&h->cp.in_fault, 1);
    uint64_t p = (uint64_t)(a - h->mem.primary) / AGC_PAGE;
    int rc = 0;
    if (atomic_load(&h->cp.phase) != PH_COMPACTING || p >= h->plan.npages) {
        /* a late fault of a finished cycle: the access just retries */
        if (!in_signal)
            agc_uffd_wake(h->flt.uffd, h->mem.primary + p * AGC_PAGE, AGC_PAGE);
        atomic_fetch_sub(&h->cp.in_fault, 1);
        return 0;
    }
    if (in_signal)   /* SIGBUS does not say which kind: it is the one registered */
        kind = h->mode->fault_kind;
    agc_gc_count(h, AGC_GE_FAULT, (uint64_t)kind, 0);
    if (p * AGC_PAGE < AGC_LOAD(h->plan.keep_away))
        rc = wait_old_back(h, p, in_signal);
    else
        rc = agc_resolve_page(h, p, 0, in_signal);
    /* the pages after a faulting page are what this mutator touches next
     * (binarytrees 21 / 1 GiB: after a flip a mutator's faults climb
     * through the black block, the fault_map plot): GC threads build
     * ahead of it before going on in their order (worker_loop) */
    if (h->opt.build_ahead)
        atomic_store_explicit(&h->cp.hint_page, p, memory_order_relaxed);
    uint64_t t1 = agc_now_ns();
    uint64_t claimed = claimed_pages(h, atomic_load_explicit(&h->cp.next_page, memory_order_relaxed));
    if (in_signal) {
        agc_mutator *m = agc_self;
        if (m && m->heap == h) {
            agc_event e = {t_fault_ns, t1 - t_fault_ns, m->id, AGC_EV_FAULT,
                           (uint32_t)AGC_LOAD(h->gc.cycles_started), 0, (uint32_t)p, (uint32_t)claimed};
            agc_evlog_add(&m->events, &e);
        }
    } else {
        uint32_t who = tid;
        uint32_t n = AGC_LOAD(h->world.ntid_map);
        for (uint32_t i = n; i-- > 0;)          /* newest first: tids are reused */
            if (AGC_LOAD(h->world.tid_map[i][0]) == tid) {
                who = AGC_LOAD(h->world.tid_map[i][1]);
                break;
            }
        agc_event e = {t_fault_ns, t1 - t_fault_ns, who, AGC_EV_FAULT, (uint32_t)AGC_LOAD(h->gc.cycles_started), 1,
                       (uint32_t)p, (uint32_t)claimed};
        pthread_mutex_lock(&h->flt.fault_ev_lock);
        agc_evlog_add(&h->flt.fault_events, &e);
        pthread_mutex_unlock(&h->flt.fault_ev_lock);
    }
    atomic_fetch_sub(&h->cp.in_fault, 1);
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
    if (h->mode->build_in_place && !h->opt.gc_install)
        return;   /* left to the faulting mutators (the pages stay processed) */
    uint64_t t0 = agc_now_ns();
    int rc = 0;
    /* one ioctl a run, and one a mapping: on shmem after young cycles the
     * primary is a mapping per run of one memfd half */
    for (uint64_t q = p, n; q < p + k && rc >= 0; q += n) {
        n = p + k - q;
        if (h->plan.map_halves)
            n = agc_halves_run_end(h->plan.map_halves, q * AGC_PAGE, (p + k) * AGC_PAGE) / AGC_PAGE - q;
        rc = h->mode->install(h, q, n, h->mode->build_in_place ? NULL : buf + (q - p) * AGC_PAGE);
    }
    atomic_fetch_add_explicit(&h->cp.install_ns, agc_now_ns() - t0, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->cp.gc_installs, 1, memory_order_relaxed);
    if (rc < 0)
        worker_fail(h, p, rc);
    for (uint64_t q = p; q < p + k; q++)
        atomic_store_explicit(&h->plan.page_state[q], PG_MAPPED, memory_order_release);
}

/* In-place modes that populate lazily: to-space is made to exist a few MiB
 * ahead of where the builders claim pages (in claim order), by whichever GC
 * thread gets there first; a mutator's fault on a page not there yet is a
 * missing fault, built through the alias all the same. */
#define AGC_POPULATE_AHEAD 1024ull    /* pages (4 MiB) */
static void populate_ahead(agc_heap *h, uint64_t i0, uint64_t n)
{
    if (!h->rel.populate_lazy || i0 + AGC_POPULATE_AHEAD / 2 < atomic_load(&h->rel.pop_done))
        return;
    int exp = 0;
    if (!atomic_compare_exchange_strong(&h->rel.pop_busy, &exp, 1))
        return;
    uint64_t a = atomic_load(&h->rel.pop_done), b = a + AGC_POPULATE_AHEAD;
    if (b > n)
        b = n;
    if (a < b) {
        uint64_t lo = h->opt.order == AGC_ORDER_DESCENDING ? n - b : a;
        /* a failure only means the builders' writes through the alias
         * allocate those pages themselves */
        (void)h->space->populate(h, lo * AGC_PAGE, (b - a) * AGC_PAGE);
        atomic_store(&h->rel.pop_done, b);
    }
    atomic_store(&h->rel.pop_busy, 0);
}

/* A batch is AGC_BATCH claim indices [i0, i1). In ascending and descending
 * order its pages are one contiguous range [p_lo, p_lo + (i1 - i0)), and
 * page p is built at slot p - p_lo of the batch's buffer, so a run of
 * consecutive pages (in either direction) is contiguous in the buffer too
 * and goes in with one ioctl. In random order runs are whatever happens to
 * be consecutive. Pages another thread has claimed are skipped. */
static uint64_t build_batch(agc_heap *h, uint64_t i0, uint64_t i1, uint64_t p_lo, int ord)
{
    int inplace = h->mode->build_in_place;
    uint8_t *buf = batch_buf;
    int recycled = 0;
    if (!inplace && h->mode->recycles && !h->opt.huge_moves) {   /* huge_moves: runs are copied */
        uint8_t *r = agc_recycled_run(h, AGC_BATCH);
        if (r) {
            buf = r;
            recycled = 1;
        }
    }
    uint64_t run_lo = 0, run_len = 0, built = 0;
    for (uint64_t i = i0; i < i1; i++) {
        uint64_t p = ord == AGC_ORDER_DESCENDING ? p_lo + (i1 - 1 - i)
                   : ord == AGC_ORDER_RANDOM ? h->plan.page_order[i] : p_lo + (i - i0);
        uint64_t slot = ord == AGC_ORDER_RANDOM ? i - i0 : p - p_lo;
        _Atomic uint8_t *st = &h->plan.page_state[p];
        uint8_t exp = PG_UNPROCESSED;
        int mine = atomic_load_explicit(st, memory_order_relaxed) == PG_UNPROCESSED &&
                   atomic_compare_exchange_strong_explicit(st, &exp, PG_PROCESSING,
                                                           memory_order_acq_rel, memory_order_acquire);
        /* a run goes on with the neighbour page in claim direction, at the
         * neighbour slot */
        int extends = ord == AGC_ORDER_DESCENDING ? p + 1 == run_lo
                    : p == run_lo + run_len;
        if (run_len && (!mine || !extends)) {
            uint64_t s0 = ord == AGC_ORDER_RANDOM ? (i - run_len) - i0 : run_lo - p_lo;
            install_run(h, run_lo, run_len, buf + s0 * AGC_PAGE);
            run_len = 0;
        }
        if (!mine)
            continue;
        if (!run_len || ord == AGC_ORDER_DESCENDING)
            run_lo = p;
        uint64_t moved;
        if (inplace) {
            moved = agc_build_page(h, p, agc_to_page(h, p));
            /* built: a faulting mutator may install it from now on */
            atomic_store_explicit(st, PG_PROCESSED, memory_order_release);
        } else {
            moved = agc_build_page(h, p, buf + slot * AGC_PAGE);
        }
        run_len++;
        built++;
        agc_gc_count(h, AGC_GE_PAGE_BUILT, 1, moved);
        agc_release_page_built(h, p);
    }
    if (run_len) {
        uint64_t s0 = ord == AGC_ORDER_RANDOM ? (i1 - run_len) - i0 : run_lo - p_lo;
        install_run(h, run_lo, run_len, buf + s0 * AGC_PAGE);
    }
    if (!inplace && h->mode->recycles && built)
        atomic_fetch_add_explicit(recycled ? &h->rel.recycled_pages : &h->cp.fresh_pages, built,
                                  memory_order_relaxed);
    return built;
}

/* huge_moves (a mode that recycles): to-space block [b0, b0 + AGC_BLOCK_PAGES),
 * one PMD, is built into a 2 MiB-aligned run of recycled from-space pages
 * (a huge page, where from-space has them) and moved with one UFFDIO_MOVE:
 * the kernel moves the PMD, one TLB flush for 512 pages where runs of 16
 * pages cost a flush (an IPI to every CPU running a mutator) per page and
 * split the source's huge page. Pages are claimed as they are built; a
 * mutator that took one first, or waits for one already built, breaks the
 * block: what is built goes in as runs (the waited-for page first), the
 * rest in batches. Returns 0 if the block was not taken (nothing built). */
static int build_block(agc_heap *h, uint64_t b0, int ord)
{
    const uint64_t K = AGC_BLOCK_PAGES;
    for (uint64_t q = b0; q < b0 + K; q++)
        if (atomic_load_explicit(&h->plan.page_state[q], memory_order_relaxed) != PG_UNPROCESSED)
            return 0;
    uint8_t *src = agc_recycled_block(h);
    if (!src)
        return 0;
    uint64_t built = 0;      /* pages b0 .. b0 + built - 1 (ascending) or down from the top */
    int broken = 0;
    for (; built < K; built++) {
        uint64_t p = ord == AGC_ORDER_DESCENDING ? b0 + K - 1 - built : b0 + built;
        _Atomic uint8_t *st = &h->plan.page_state[p];
        uint8_t exp = PG_UNPROCESSED;
        if (!atomic_compare_exchange_strong_explicit(st, &exp, PG_PROCESSING,
                                                     memory_order_acq_rel, memory_order_acquire)) {
            broken = 1;      /* a mutator has it */
            break;
        }
        uint64_t moved = agc_build_page(h, p, src + (p - b0) * AGC_PAGE);
        agc_gc_count(h, AGC_GE_PAGE_BUILT, 1, moved);
        agc_release_page_built(h, p);
        uint64_t w = atomic_load_explicit(&h->cp.want_page, memory_order_relaxed);
        if (w >= b0 && w < b0 + K) {
            broken = 1;      /* a mutator waits in this block */
            built++;
            break;
        }
    }
    atomic_fetch_add_explicit(&h->rel.recycled_pages, built, memory_order_relaxed);
    uint64_t lo = ord == AGC_ORDER_DESCENDING ? b0 + K - built : b0;   /* built: [lo, lo + built) */
    if (!broken) {
        install_run(h, b0, K, src);
        atomic_fetch_add_explicit(&h->cp.huge_blocks, 1, memory_order_relaxed);
        return 1;
    }
    atomic_fetch_add_explicit(&h->cp.broken_blocks, 1, memory_order_relaxed);
    uint64_t w = atomic_exchange_explicit(&h->cp.want_page, AGC_NONE, memory_order_relaxed);
    if (w >= lo && w < lo + built) {
        install_run(h, w, 1, src + (w - b0) * AGC_PAGE);
        if (w > lo)
            install_run(h, lo, w - lo, src + (lo - b0) * AGC_PAGE);
        if (w + 1 < lo + built)
            install_run(h, w + 1, lo + built - (w + 1), src + (w + 1 - b0) * AGC_PAGE);
    } else {
        if (w != AGC_NONE)   /* not ours: leave it for the thread that has it */
            atomic_store_explicit(&h->cp.want_page, w, memory_order_relaxed);
        if (built)
            install_run(h, lo, built, src + (lo - b0) * AGC_PAGE);
    }
    /* the rest of the block in batches (skipping what others have) */
    uint64_t r0 = ord == AGC_ORDER_DESCENDING ? b0 : b0 + built;
    uint64_t r1 = ord == AGC_ORDER_DESCENDING ? b0 + K - built : b0 + K;
    while (r0 < r1) {
        uint64_t m = r1 - r0 < AGC_BATCH ? r1 - r0 : AGC_BATCH;
        if (ord == AGC_ORDER_DESCENDING) {
            build_batch(h, 0, m, r1 - m, ord);
            r1 -= m;
        } else {
            build_batch(h, 0, m, r0, ord);
            r0 += m;
        }
    }
    return 1;
}

/* With build_ahead: the first page of the batch around a mutator's last
 * fault, taken by the first GC thread to look; AGC_NONE when there is none. */
static uint64_t take_hint(agc_heap *h, uint64_t n)
{
    if (!h->opt.build_ahead || atomic_load_explicit(&h->cp.hint_page, memory_order_relaxed) == AGC_NONE)
        return AGC_NONE;
    uint64_t p = atomic_exchange_explicit(&h->cp.hint_page, AGC_NONE, memory_order_relaxed);
    return p < n ? p : AGC_NONE;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* build_ahead: a GC thread follows a faulting mutator from AGC_FOLLOW_LEAD
 * pages past its fault, in runs of AGC_FOLLOW_RUN pages (each installed
 * at once, so that the mutator finds them mapped), up to AGC_FOLLOW_RUNS
 * runs. Started at the fault itself, in batches of 16 installed at the
 * batch's end, the two built the same pages in turn: the mutator waited
 * for the page the thread was building or took a fault only to install
 * one it had built (935-3,885 such faults a run on binarytrees 21 / 1
 * GiB with keep_tospace, descending order and release pacing, 16-102
 * with the lead; fault stalls 46-208 ms a run against 57-110 ms,
 * 2026-12-07 15:27-15:34 UTC, README) */
#define AGC_FOLLOW_LEAD 8
#define AGC_FOLLOW_RUN 4
#define AGC_FOLLOW_RUNS 64
static void worker_loop(agc_heap *h, uint64_t n, int ord);

void agc_compact_worker_run(agc_heap *h, int worker)
{
    (void)worker;
    uint64_t t0 = thread_cpu_ns();
    worker_loop(h, h->plan.npages, h->opt.order);
    atomic_fetch_add_explicit(&h->cp.cpu_ns, thread_cpu_ns() - t0, memory_order_relaxed);
}

static void worker_loop(agc_heap *h, uint64_t n, int ord)
{
    /* blocks: GC threads install, in a mode that builds in buffers and
     * recycles, in claim order ascending or descending */
    int blocks = claims_blocks(h, ord);
    if (!h->mode->build_in_place && !thread_buffer(&batch_buf, AGC_BATCH)) {
        worker_fail(h, 0, -12);
        return;
    }
    uint64_t follow = 0, follow_left = 0;
    for (;;) {
        /* a mutator is faulting its way through to-space: build the pages
         * ahead of it first, a run at a time, up to AGC_FOLLOW_RUNS or
         * until a run is all built already (it has caught up or gone
         * elsewhere), then go on in claim order */
        uint64_t hp = take_hint(h, n), tb = agc_now_ns();
        if (hp != AGC_NONE) {
            /* the mutator has passed what this thread builds (or nothing
             * was followed): start a little ahead of it, so that the two
             * build different pages at once; a fault behind is a page this
             * thread has passed (taken by the mutator): go on from here */
            if (!follow_left || hp >= follow)
                follow = hp + AGC_FOLLOW_LEAD;
            follow_left = AGC_FOLLOW_RUNS;
        }
        if (follow_left && follow < n) {
            uint64_t k = follow + AGC_FOLLOW_RUN < n ? AGC_FOLLOW_RUN : n - follow;
            uint64_t built = build_batch(h, 0, k, follow, AGC_ORDER_ASCENDING);
            follow += k;
            follow_left = built && follow < n ? follow_left - 1 : 0;
            agc_release_built(h, agc_now_ns() - tb);
            if (agc_release_urgent(h))    /* else after the walk: punching is ms */
                agc_release_ready(h);
            continue;
        }
        if (blocks) {
            /* whole blocks in claim order; the part past the last whole
             * block (the pages allocated last: first in descending order)
             * in batches, as is a block that cannot be taken whole */
            const uint64_t K = AGC_BLOCK_PAGES, nb = n / K, t0 = nb * K;
            const uint64_t ntb = (n - t0 + AGC_BATCH - 1) / AGC_BATCH;
            uint64_t i = atomic_fetch_add_explicit(&h->cp.next_page, 1, memory_order_relaxed);
            if (i >= nb + ntb)
                break;
            int tail = ord == AGC_ORDER_DESCENDING ? i < ntb : i >= nb;
            if (tail) {
                uint64_t k = ord == AGC_ORDER_DESCENDING ? i : i - nb;
                uint64_t t = ord == AGC_ORDER_DESCENDING ? n - (k + 1) * AGC_BATCH : t0 + k * AGC_BATCH;
                uint64_t t1 = ord == AGC_ORDER_DESCENDING ? n - k * AGC_BATCH : t + AGC_BATCH;
                if (ord == AGC_ORDER_DESCENDING && (t < t0 || t > t1))
                    t = t0;
                if (t1 > n)
                    t1 = n;
                build_batch(h, 0, t1 - t, t, ord);
            } else {
                uint64_t b = ord == AGC_ORDER_DESCENDING ? nb - 1 - (i - ntb) : i;
                if (!build_block(h, b * K, ord))
                    for (uint64_t q = 0; q < K; q += AGC_BATCH)
                        build_batch(h, 0, AGC_BATCH, ord == AGC_ORDER_DESCENDING
                                    ? b * K + K - AGC_BATCH - q : b * K + q, ord);
            }
            agc_release_built(h, agc_now_ns() - tb);
            agc_release_ready(h);
            continue;
        }
        uint64_t i0 = atomic_fetch_add_explicit(&h->cp.next_page, AGC_BATCH, memory_order_relaxed);
        if (i0 >= n)
            break;
        uint64_t i1 = i0 + AGC_BATCH < n ? i0 + AGC_BATCH : n;
        populate_ahead(h, i0, n);
        build_batch(h, i0, i1, ord == AGC_ORDER_DESCENDING ? n - i1 : i0, ord);
        agc_release_built(h, agc_now_ns() - tb);
        agc_release_ready(h);
    }
}

/* In the flip pause: register the to-space pages with userfaultfd. */
int agc_compact_setup(agc_heap *h)
{
    if (h->plan.npages == 0)
        return AGC_OK;
    /* a young cycle's kept old pages are mapped and stay unregistered,
     * unless the flip moved them away for now (keep_away): then a touch
     * before they are back faults and waits */
    uint64_t k = h->plan.keep_end < h->plan.npages * AGC_PAGE && !h->plan.keep_away ? h->plan.keep_end : 0;
    h->cp.reg_lo = k;
    int modes = h->mode->reg_modes(h);
    if (agc_uffd_register(h->flt.uffd, h->mem.primary + k, h->plan.npages * AGC_PAGE - k, modes) != 0)
        return agc_fail(AGC_ESYS, "flip: registering to-space with userfaultfd failed: %s",
                        agc_last_error());
    return AGC_OK;
}

/* After every page is built: stop taking faults, unregister. */
void agc_compact_teardown(agc_heap *h)
{
    atomic_store(&h->cp.phase, PH_RELEASE);
    while (atomic_load(&h->cp.in_fault))
        sched_yield();
    /* every page is built: release any thread still waiting in the kernel
     * (a handler thread may have died under it) */
    if (h->plan.npages && h->opt.delivery == AGC_DELIVERY_THREAD)
        agc_uffd_wake(h->flt.uffd, h->mem.primary, h->plan.npages * AGC_PAGE);
    if (h->plan.npages)
        agc_uffd_unregister(h->flt.uffd, h->mem.primary + h->cp.reg_lo, h->plan.npages * AGC_PAGE - h->cp.reg_lo);
}
