/* Allocation: a global bump pointer handing out thread-local allocation
 * buffers (TLABs); large objects directly. A full heap starts a collection
 * and, if that does not free enough, fails with a clear message. While
 * compaction runs, from-space not given back yet is charged against the
 * capacity (charge_fromspace). */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>
#include "internal.h"

/* What the heap holds beyond its bump pointer while compaction runs:
 * from-space not given back, less the to-space below the pointer whose
 * pages are not built yet (counted in top, held by no memory yet) */
uint64_t agc_charge_now(agc_heap *h)
{
    uint64_t c = atomic_load_explicit(&h->alloc.charge, memory_order_acquire);
    uint64_t u = atomic_load_explicit(&h->alloc.unbuilt, memory_order_acquire);
    return c > u ? c - u : 0;
}

uint64_t agc_alloc_limit(agc_heap *h)
{
    uint64_t c = agc_charge_now(h);
    return h->alloc.limit > c ? h->alloc.limit - c : 0;
}

/* Grab `need` bytes from the global bump pointer; returns offset or
 * AGC_NONE. *zero: where the bytes known to be zero begin in them (the
 * zero mark before this grab). */
static uint64_t bump(agc_heap *h, uint64_t need, uint64_t *got, uint64_t min, uint64_t *zero)
{
    pthread_mutex_lock(&h->alloc.alloc_lock);
    uint64_t top = AGC_LOAD(h->alloc.top), limit = agc_alloc_limit(h);
    uint64_t avail = limit > top ? limit - top : 0;
    if (avail < min) {
        pthread_mutex_unlock(&h->alloc.alloc_lock);
        return AGC_NONE;
    }
    if (need > avail)
        need = avail & ~7ull;
    __atomic_store_n(&h->alloc.top, top + need, __ATOMIC_RELAXED);
    *zero = h->alloc.zero_from;
    if (h->alloc.zero_from < top + need)
        h->alloc.zero_from = top + need;
    pthread_mutex_unlock(&h->alloc.alloc_lock);
    *got = need;
    return top;
}

/* World stopped: pad the bump pointer to `align` with a filler; returns it. */
uint64_t agc_align_top(agc_heap *h, uint64_t align)
{
    pthread_mutex_lock(&h->alloc.alloc_lock);
    uint64_t t = AGC_LOAD(h->alloc.top);
    uint64_t a = (t + align - 1) & ~(align - 1);
    if (a > h->alloc.limit)
        a = h->alloc.limit;
    if (a > t)
        agc_heap_fill(h, t, a - t);
    AGC_STORE(h->alloc.top, a);
    if (h->alloc.zero_from < a)
        h->alloc.zero_from = a;
    pthread_mutex_unlock(&h->alloc.alloc_lock);
    return a;
}

/* World stopped, compaction set up: allocation goes on from `top`. On
 * anonymous memory the flip (and the stw cycle) moved the primary's pages
 * away from keep_end up and the builders write below top only (the last
 * page's rest a filler; a whole 2 MiB block moved in ends below top
 * rounded up to 2 MiB): above that the range is empty, zero when touched.
 * A shmem heap's primary now shows the other half, whose bytes above top
 * may be an older cycle's. */
void agc_alloc_flipped(agc_heap *h, uint64_t top, int charge)
{
    pthread_mutex_lock(&h->alloc.alloc_lock);
    /* the charge and the new top together: agc_heap_used reads both under
     * this lock, so a sample never adds the new charge to the old top
     * (test_charge saw the garbage counted twice for that instant, 16 MiB) */
    if (charge)
        agc_charge_fromspace(h);
    AGC_STORE(h->alloc.top, top);
    uint64_t z = (top + (2ull << 20) - 1) & ~((2ull << 20) - 1);
    h->alloc.zero_from = h->opt.memory == AGC_MEMORY_ANON && z < h->mem.cap ? z : h->mem.cap;
    pthread_mutex_unlock(&h->alloc.alloc_lock);
}

/* Zero what of a fresh grab [off, off + len) is not known to be zero. */
static void zero_grab(agc_heap *h, uint64_t off, uint64_t len, uint64_t zero)
{
    if (off < zero)
        memset(agc_obj_at(h, off), 0, zero - off < len ? zero - off : len);
}

/* Before taking `bytes` at the bump pointer: memory not known to be mapped
 * is mapped first (up to the end of its block, MADV_POPULATE_WRITE), out of the
 * world's way (agc_block), so that a pause beginning meanwhile does not
 * wait for the fresh pages' faults: with huge pages on this VM a fresh 2 MiB
 * page costs 0.25-5 ms (the host backs it anew), and a mutator in such a
 * fault held up most pauses of the designs on anonymous memory. The pages
 * are free space, no object's: a flip meanwhile moves them away, or the
 * populate lands in to-space's free space, or where to-space is registered
 * it fails (SIGBUS delivery) or faults through the handler like any touch.
 * A whole 2 MiB block only where a fresh fault is a huge page (anonymous
 * memory with huge_pages); elsewhere (shmem, small pages) 128 KiB at a time:
 * a fresh small page faults in 2-6 us, no pause waits long for one, while
 * mapping a whole block of them takes 1-3 ms under the mm's lock, which a
 * flip's mremap then waits out (minor mode, binarytrees 21 / 1 GiB: flip
 * pauses of 1-3.6 ms in 8 of 27 cycles with whole blocks). Mapped in a
 * batch, a page costs less than its own fault (README's figures). */
#define AGC_MAP_AHEAD_SMALL (128ull << 10)
static void map_before_bump(agc_mutator *m, uint64_t bytes)
{
    agc_heap *h = m->heap;
    if (!h->opt.pretouch || AGC_LOAD(h->gc.pretouch_unsupported) || m->in_api)
        return;
    const uint64_t G = h->opt.memory == AGC_MEMORY_ANON && h->opt.huge_pages ? 2ull << 20
                                                                             : AGC_MAP_AHEAD_SMALL;
    uint64_t top = __atomic_load_n(&h->alloc.top, __ATOMIC_RELAXED);
    uint64_t upto = AGC_LOAD(h->gc.mapped_to);
    if (top + bytes <= upto)
        return;
    uint64_t from = upto > top ? upto : top & ~(AGC_PAGE - 1);
    uint64_t to = (top + bytes + G - 1) & ~(G - 1);
    if (to > h->mem.cap)
        to = h->mem.cap;
    if (from >= to)
        return;
    uint64_t epoch = __atomic_load_n(&h->gc.layout_epoch, __ATOMIC_SEQ_CST);
    /* while compaction runs, from-space compaction is done with, not fresh
     * memory (mutator_recycle): running, not out of the world's way, so
     * that no flip comes between the checks and the move (a few us) */
    if ((from & ((2ull << 20) - 1)) == 0) {
        uint64_t t0 = agc_now_ns();
        if (agc_recycle_free_space(h, from)) {
            __atomic_add_fetch(&h->gc.mutator_maps, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&h->gc.mutator_map_ns, agc_now_ns() - t0, __ATOMIC_RELAXED);
            agc_mapped_to_max(h, from + (2ull << 20));
            return;
        }
    }
    agc_block(m);
    uint64_t t0 = agc_now_ns();
    (void)h->space->pretouch(h, from, to - from);
    uint64_t t1 = agc_now_ns();
    agc_unblock(m);     /* waits out a pause that began meanwhile (recorded as one) */
    __atomic_add_fetch(&h->gc.mutator_maps, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&h->gc.mutator_map_ns, t1 - t0, __ATOMIC_RELAXED);
    /* running again, so no flip can come between this check and the store;
     * stored even if mapping failed (a registered page in the range), so
     * that the next TLABs of this block do not try again */
    if (__atomic_load_n(&h->gc.layout_epoch, __ATOMIC_SEQ_CST) == epoch)
        agc_mapped_to_max(h, to);
}

static void *try_alloc(agc_mutator *m, uint64_t bytes)
{
    agc_heap *h = m->heap;
    if (bytes <= AGC_LARGE) {
        if (m->hot.tlab_cur + bytes <= m->hot.tlab_end && m->hot.tlab_end) {
            uint64_t off = m->hot.tlab_cur;
            m->hot.tlab_cur += bytes;
            return agc_obj_at(h, off);
        }
        if (m->hot.tlab_end > m->hot.tlab_cur)
            agc_heap_fill(h, m->hot.tlab_cur, m->hot.tlab_end - m->hot.tlab_cur);
        m->hot.tlab_cur = m->hot.tlab_end = 0;
        m->hot.own_n = 0;
        /* a TLAB, smaller when many threads share little free space */
        uint64_t want = AGC_TLAB;
        uint64_t top = __atomic_load_n(&h->alloc.top, __ATOMIC_RELAXED), limit = agc_alloc_limit(h);
        uint64_t avail = limit > top ? limit - top : 0;
        int nm = AGC_LOAD(h->world.nmutators) > 0 ? AGC_LOAD(h->world.nmutators) : 1;
        if (avail / (4ull * (uint64_t)nm) < want)
            want = (avail / (4ull * (uint64_t)nm)) & ~7ull;
        if (want < bytes)
            want = bytes;
        map_before_bump(m, want);
        uint64_t got, zero;
        uint64_t off = bump(h, want, &got, bytes, &zero);
        if (off == AGC_NONE)
            return NULL;
        zero_grab(h, off, got, zero);
        m->bytes_allocated += got;
        m->hot.tlab_cur = off + bytes;
        m->hot.tlab_end = off + got;
        /* the bitmap words wholly inside this TLAB (a word covers 512 bytes) */
        m->hot.own_lo = (off + 511) >> 9;
        m->hot.own_n = (off + got) >> 9 > m->hot.own_lo ? ((off + got) >> 9) - m->hot.own_lo : 0;
        return agc_obj_at(h, off);
    }
    uint64_t got, zero;
    map_before_bump(m, bytes);
    uint64_t off = bump(h, bytes, &got, bytes, &zero);
    if (off == AGC_NONE)
        return NULL;
    zero_grab(h, off, bytes, zero);
    return agc_obj_at(h, off);
}

/* The heap has room for `bytes` but from-space not given back yet is
 * charged against it (charge_fromspace). */
static int charge_limited(agc_heap *h, uint64_t bytes)
{
    return agc_charge_now(h) && __atomic_load_n(&h->alloc.top, __ATOMIC_RELAXED) + bytes <= h->alloc.limit;
}

/* Wait, out of the world's way, while GC threads give from-space back
 * chunk by chunk (the charge falls) or the cycle ends (it goes to 0): an
 * allocation wait, as ART's mutators wait for a cycle to free what they
 * need. Polls: the releases come every few hundred microseconds. */
static void *wait_for_fromspace(agc_mutator *m, uint64_t bytes)
{
    agc_heap *h = m->heap;
    uint64_t t0 = agc_now_ns();
    void *p = NULL;
    atomic_fetch_add_explicit(&h->rel.charge_waits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->rel.charge_waiting, 1, memory_order_relaxed);
    agc_block(m);
    while (!p && charge_limited(h, bytes) && !AGC_LOAD(h->gc.gc_shutdown)) {
        struct timespec ts = {0, 100 * 1000};
        nanosleep(&ts, NULL);
        /* try under the lock: the space is this thread's only if bump gives it */
        if (__atomic_load_n(&h->alloc.top, __ATOMIC_RELAXED) + bytes <= agc_alloc_limit(h))
            break;
    }
    atomic_fetch_sub_explicit(&h->rel.charge_waiting, 1, memory_order_relaxed);
    agc_unblock(m);
    p = try_alloc(m, bytes);
    agc_record_event(m, AGC_EV_ALLOC_WAIT, t0, agc_now_ns() - t0, 0);
    return p;
}

void *agc_alloc_obj(agc_mutator *m, int cls, uint64_t length)
{
    agc_heap *h = m->heap;
    int err;
    uint64_t words = agc_size_words(h, cls, length, &err);
    if (err == AGC_EINVAL) {
        agc_fail(AGC_EINVAL, "unknown class id %d", cls);
        return NULL;
    }
    if (err || words > 0xffffffffull || words * 8 > h->mem.cap) {
        agc_fail(AGC_EOOM, "an object of %llu elements does not fit in a heap of %llu bytes",
                 (unsigned long long)length, (unsigned long long)h->mem.cap);
        return NULL;
    }
    agc_poll(m);
    uint64_t bytes = words * 8;
    void *p = try_alloc(m, bytes);
    if (!p && charge_limited(h, bytes))
        p = wait_for_fromspace(m, bytes);
    if (!p) {
        /* Full: wait for a cycle and retry. Other threads may take the space
         * a cycle freed before this one gets to it, so give up only when a
         * finished cycle leaves too little room for this object, or after
         * many rounds. */
        for (int round = 0; !p; round++) {
            if (AGC_LOAD(h->cp.manual_compaction)) {
                agc_fail(AGC_EOOM, "out of memory: %llu bytes requested and the heap of %llu bytes is full, "
                         "while a cycle begun with collect_begin() is not finished: no collection can "
                         "free space until collect_finish()", (unsigned long long)bytes,
                         (unsigned long long)h->mem.cap);
                return NULL;
            }
            uint64_t t0 = agc_now_ns();
            agc_block(m);
            int rc = agc_request_cycle(h, AGC_REASON_ALLOC_FAILURE, 1, 0);
            agc_unblock(m);
            agc_record_event(m, AGC_EV_ALLOC_WAIT, t0, agc_now_ns() - t0, 0);
            if (rc) {
                agc_fail(rc, "allocation of %llu bytes failed: the collection it needed failed: %s",
                         (unsigned long long)bytes, h->gc.last_cycle_msg);
                return NULL;
            }
            p = try_alloc(m, bytes);
            /* objects allocated during a cycle count as live in it, so judge
             * on what the cycle found reachable */
            if (!p && (AGC_LOAD(h->mk.last_traced_live) + bytes > h->alloc.limit || round >= 64)) {
                agc_fail(AGC_EOOM,
                         "out of memory: %llu bytes requested, heap of %llu bytes holds %llu live bytes "
                         "after a full collection (use a larger --heap)",
                         (unsigned long long)bytes, (unsigned long long)h->mem.cap,
                         (unsigned long long)AGC_LOAD(h->mk.last_traced_live));
                return NULL;
            }
        }
    }
    agc_header hd = {(uint32_t)cls, (uint32_t)words};
    memcpy(p, &hd, 8);
    agc_mark_black_alloc(h, agc_off_of(h, p));
    if (cls == AGC_CLS_REFARRAY || cls == AGC_CLS_BYTEARRAY)
        ((uint64_t *)p)[1] = length;
    agc_maybe_trigger(h);
    return p;
}

void *agc_alloc_refarray(agc_mutator *m, uint64_t length) { return agc_alloc_obj(m, AGC_CLS_REFARRAY, length); }
void *agc_alloc_bytearray(agc_mutator *m, uint64_t length) { return agc_alloc_obj(m, AGC_CLS_BYTEARRAY, length); }
