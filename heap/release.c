/* From-space given back while compaction runs (ART: MADV_DONTNEED in 8 MiB
 * chunks, "reduce RSS peak during compaction"). For every from-space chunk
 * the plan gives the range of to-space pages that read from it (sliding
 * compaction is monotonic, so the range is contiguous): [lo, hi], widened
 * to the pages that read the header of the last object starting in it. A
 * chunk goes back to the kernel once every page of its range is built. The
 * counting is lock-free (mutators count in their SIGBUS handlers too); the
 * release itself (madvise, fallocate) is done by GC threads, never in a
 * pause or a fault. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include "internal.h"
#include "space/space.h"

/* every cycle's recycling gets a number no other cycle of any heap has: a
 * thread's run left from another cycle (or from a closed heap whose memory a
 * new heap now has at the same addresses) is never used again */
static _Atomic uint64_t rec_generation;

static uint64_t fwd_at(agc_heap *h, uint64_t off)
{
    /* to-space offset of the live bytes at or after from-space offset off
     * (off a multiple of AGC_CHUNK, or at or above S) */
    if (off < h->plan.dense_end)
        return off;
    if (off >= h->mk.mark_start_top)
        return h->mk.black_new_start + (off - h->mk.mark_start_top);
    return h->plan.chunk_prefix[off / AGC_CHUNK];
}

/* Plan chunk j: from-space [a, b). Reads headers through `base`. Ranges
 * stay nondecreasing in j: an empty chunk takes the previous one's end. */
static void plan_chunk(agc_heap *h, uint64_t j, const uint8_t *base)
{
    uint64_t prev_hi = j ? h->rel.rel_hi[j - 1] : 0;
    uint64_t a = j * h->rel.rel_chunk, b = a + h->rel.rel_chunk;
    if (b > h->plan.plan_top)
        b = h->plan.plan_top;
    uint64_t lo = a < b ? fwd_at(h, a) : 0, hi = a < b ? fwd_at(h, b) : 0;
    if (b > h->mk.mark_start_top && h->mk.mark_start_top > a && a < b)
        hi = h->mk.black_new_start + (b - h->mk.mark_start_top);
    /* the last live object starting in the chunk (the scan stops at a: a
     * dead chunk must not walk the bitmap back to the live data below) */
    /* (a young cycle's old chunks: nothing there is marked, none of their
     * pages is built, so they are never ready; the scan would read their
     * whole bitmap for nothing) */
    /* (nor a chunk below S with no live word: the prefix sums say so
     * without reading its 16 K bitmap words, which for a young generation
     * of mostly garbage was about 1 ms of the time before the flip) */
    int dead = a >= h->plan.dense_end && b <= h->mk.mark_start_top && lo == hi;
    uint64_t last = a < b && b > h->gen.young_start && !dead ? bm_prev_floor(h->mk.mark_bits, b / 8 - 1, a / 8)
                                                              : AGC_NONE;
    if (last != AGC_NONE) {
        const agc_header *o = (const agc_header *)(base + last * 8);
        uint64_t end = agc_forward_off(h, last * 8) + (uint64_t)o->nwords * 8;
        if (end > hi)
            hi = end;
    }
    if (hi <= lo) {
        h->rel.rel_lo[j] = h->rel.rel_hi[j] = prev_hi;
        h->rel.rel_hmax[j] = j ? h->rel.rel_hmax[j - 1] : 0;
        atomic_store_explicit(&h->rel.rel_pending[j], 0, memory_order_relaxed);
        atomic_store_explicit(&h->rel.rel_state[j], 1, memory_order_relaxed);   /* ready now */
        return;
    }
    uint64_t plo = lo / AGC_PAGE, phi = (hi - 1) / AGC_PAGE;
    if (phi >= h->plan.npages)
        phi = h->plan.npages ? h->plan.npages - 1 : 0;
    h->rel.rel_lo[j] = plo;
    h->rel.rel_hi[j] = phi;
    /* rel_lo grows with j, rel_hi need not (a chunk inside a large object
     * keeps a smaller range than the chunk the object starts in): the search
     * goes by the running maximum */
    h->rel.rel_hmax[j] = j && h->rel.rel_hmax[j - 1] > phi ? h->rel.rel_hmax[j - 1] : phi;
    atomic_store_explicit(&h->rel.rel_pending[j], (uint32_t)(phi - plo + 1), memory_order_relaxed);
    atomic_store_explicit(&h->rel.rel_state[j], 0, memory_order_relaxed);
}

/* Dead from-space goes back before the flip (the GC thread, mutators
 * running), not only whole chunks after it: every gap between live objects
 * below S, a run of clear bits in the live-words bitmap [E, L) from the end
 * of a live object to the start of the next, whose page-aligned inside is at
 * least AGC_GAP_MIN. No mutator can reach a dead object and no to-space
 * page reads one. The gap first becomes one filler (its header page stays),
 * so that from-space stays walkable should the cycle fail before the flip.
 * Chunks left with nothing live are released for good (state 2); a mode
 * that recycles keeps a few of those whole, for its GC threads to build
 * into, and mutator_recycle a few for the mutators (chunks_kept). The dense
 * prefix is left alone (its pages are rebuilt in place). */
#define AGC_GAP_MIN (64ull << 10)

/* Ready chunks left in from-space rather than given back: in a mode that
 * recycles, one for each GC thread and one more to build into; with
 * mutator_recycle, AGC_MUTATOR_KEEP_CHUNKS for the mutators' fresh memory
 * (they allocate right after the flip, before compaction has made many
 * chunks ready, and most chunks are wholly dead: kept from before the
 * flip). The charge keeps counting them while they wait. */
#define AGC_MUTATOR_KEEP_CHUNKS 8
static uint64_t chunks_kept(const agc_heap *h)
{
    return (h->mode->recycles ? (unsigned)h->opt.gc_threads + 1 : 0) +
           (h->opt.mutator_recycle && h->space->adopt && h->mode->faults ? AGC_MUTATOR_KEEP_CHUNKS : 0);
}

static void release_dead_early(agc_heap *h)
{
    uint64_t C = h->rel.rel_chunk, S = h->mk.mark_start_top, Sw = S / 8;
    uint64_t keep = chunks_kept(h);
    uint64_t keep_lo = AGC_NONE, keep_hi = 0;   /* the kept chunks lie in [keep_lo, keep_hi) */
    /* nothing below the prefix's end, nor below a young cycle's old
     * generation (unmarked there: every old object would look dead) */
    const uint64_t D = h->plan.dense_end > h->gen.young_start ? h->plan.dense_end : h->gen.young_start;
    for (uint64_t j = 0; j < h->rel.rel_early && keep; j++) {
        if (j * C >= D &&
            atomic_load_explicit(&h->rel.rel_state[j], memory_order_relaxed) == 1) {
            if (keep_lo == AGC_NONE)
                keep_lo = j * C;
            keep_hi = (j + 1) * C;
            keep--;
        }
    }
    /* the first gap starts where the last live object before D ends (an
     * object boundary; D itself, where the old generation ends, in a young
     * cycle: its objects are not in the bitmaps; 0 if there is none) */
    uint64_t start = (D + 7) / 8;
    uint64_t P = start && D > h->gen.young_start ? bm_prev_floor(h->mk.mark_bits, start - 1, h->gen.young_start / 8)
                                                  : AGC_NONE;
    uint64_t e = P == AGC_NONE ? h->gen.young_start / 8 : P + ((const agc_header *)agc_obj_at(h, P * 8))->nwords;
    uint64_t floor = (D + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    uint64_t released = 0;
    while (e < Sw) {
        e = bm_next_zero(h->mk.live_bits, e, Sw);        /* the end of a run of live objects */
        if (e == AGC_NONE)
            break;
        uint64_t l = bm_next(h->mk.live_bits, e, Sw);    /* the next live object, or S */
        uint64_t E = e * 8, L = l == AGC_NONE ? S : l * 8;
        uint64_t lo = (E + 8 + AGC_PAGE - 1) & ~(AGC_PAGE - 1), hi = L & ~(AGC_PAGE - 1);
        if (lo < floor)
            lo = floor;
        if (hi >= lo + AGC_GAP_MIN && L - E <= 0xffffffffull * 8) {
            agc_fill_header(agc_obj_at(h, E), L - E);
            /* around the kept chunks */
            uint64_t parts[2][2] = {{lo, hi}, {hi, hi}};
            if (keep_lo != AGC_NONE && lo < keep_hi && hi > keep_lo) {
                parts[0][1] = keep_lo > lo ? keep_lo : lo;
                parts[1][0] = keep_hi < hi ? keep_hi : hi;
            }
            for (int k = 0; k < 2; k++)
                if (parts[k][1] > parts[k][0]) {
                    h->space->release_live(h, parts[k][0], parts[k][1] - parts[k][0]);
                    released += parts[k][1] - parts[k][0];
                }
        }
        if (l == AGC_NONE)
            break;
        e = l;
    }
    if (released)
        AGC_STORE(h->rel.released_during, 1);
    /* whole dead chunks are done with; their bytes count as released once */
    for (uint64_t j = 0; j < h->rel.rel_early; j++) {
        uint64_t a = j * C;
        if (a < D || (keep_lo != AGC_NONE && a >= keep_lo && a < keep_hi) ||
            atomic_load_explicit(&h->rel.rel_state[j], memory_order_relaxed) != 1)
            continue;
        atomic_store_explicit(&h->rel.rel_state[j], 2, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->rel.released_bytes, C, memory_order_relaxed);
    }
}

/* Outside the pause, after planning: chunks entirely below B, the top at
 * the end of marking (below S the plan is final; [S, B) slides as one
 * block whose place is known; headers are read through the primary, where
 * they do not change and are mapped). Only what was allocated since B is
 * left to the flip: reading headers there through from-space after the
 * remap faults their page-table entries in, which at 4 GiB cost the flip
 * 0.27-0.29 ms when every chunk from S up was planned in it. */
void agc_release_plan_early(agc_heap *h)
{
    atomic_store_explicit(&h->rel.rel_active, 0, memory_order_relaxed);
    if (!h->opt.eager_release || !h->rel.rel_chunk)
        return;
    h->rel.rel_early = h->mk.black_top / h->rel.rel_chunk;
    for (uint64_t j = 0; j < h->rel.rel_early; j++)
        plan_chunk(h, j, h->mem.primary);
    if (h->opt.release_gaps)
        release_dead_early(h);
}

/* In the flip, after the remap: the chunks from B up (arithmetic and a
 * header read each: what was allocated during the cycle is one block). */
void agc_compact_plan_release(agc_heap *h)
{
    if (!h->opt.eager_release || !h->rel.rel_chunk)
        return;
    h->rel.rel_n = (h->plan.plan_top + h->rel.rel_chunk - 1) / h->rel.rel_chunk;
    /* headers through F, where the flip has moved the primary with its
     * page tables (from_base may be the alias, whose entries for what was
     * allocated lately are not there: each read would fault one in) */
    for (uint64_t j = h->rel.rel_early; j < h->rel.rel_n; j++)
        plan_chunk(h, j, h->mem.fromspace);
    h->rel.rec_gen = atomic_fetch_add(&rec_generation, 1) + 1;
    atomic_store(&h->rel.rec_scan, 0);
    /* mutator_recycle: above every registered page, and above a whole
     * block GC threads may move in past the last one */
    const uint64_t G = AGC_BLOCK_PAGES * AGC_PAGE;
    pthread_mutex_lock(&h->alloc.alloc_lock);
    h->rel.free_floor = (h->plan.npages * AGC_PAGE + G - 1) & ~(G - 1);
    h->rel.frec_left = h->rel.frec_scan = 0;
    pthread_mutex_unlock(&h->alloc.alloc_lock);
    atomic_store(&h->rel.build_spent_ns, 0);
    atomic_store(&h->rel.release_spent_ns, 0);
    /* release: a thread that sees it active sees the plan */
    atomic_store_explicit(&h->rel.rel_active, 1, memory_order_release);
}

/* charge_fromspace. From the flip on, from-space [keep_end, plan_top) (a
 * young cycle's old generation stays where it is; on shmem a full cycle's
 * prefix updated in place is to-space too: from inplace_end) counts as used: the
 * mutators allocate only up to the heap's capacity less what of it is not
 * given back yet, so the memory the heap holds stays within its budget as
 * ART's accounting keeps it (ART credits what a cycle frees when it ends;
 * here each chunk is credited when it goes, given back or recycled). */
void agc_charge_fromspace(agc_heap *h)
{
    uint64_t lo = h->plan.keep_end > h->plan.inplace_end ? h->plan.keep_end : h->plan.inplace_end;
    uint64_t hi = h->plan.plan_top;
    h->rel.charge_lo = lo;
    h->rel.charge_hi = hi;
    h->rel.charged_bytes = 0;
    if (!h->opt.charge_fromspace || hi <= lo || h->cp.manual_compaction)
        return;      /* collect_begin(): nothing would give from-space back until collect_finish() */
    h->rel.charged_bytes = hi - lo;
    /* to-space [lo, npages) is counted in top from now on, but held by no
     * memory until its pages are built: without this, up to the live data
     * would count twice, and mutators wait for room the heap has (binarytrees
     * 21 at --heap 3x, minor: one wait of 10-13 ms in every cycle) */
    /* (not where pages are built into recycled from-space (move): a chunk
     * taken for that leaves the charge at once, and counting its pages off
     * as they are built too would leave its unused rest counted nowhere:
     * test_charge.py's move case went 35 MiB past the metadata) */
    uint64_t lp = lo / AGC_PAGE;
    atomic_store_explicit(&h->rel.unbuilt_lo, lp, memory_order_relaxed);
    uint64_t ub = !h->mode->recycles && h->plan.npages > lp ? (h->plan.npages - lp) * AGC_PAGE : 0;
    atomic_store_explicit(&h->alloc.unbuilt, ub, memory_order_relaxed);
    atomic_store_explicit(&h->alloc.charge, hi - lo, memory_order_release);
}

/* Chunk [a, a + len) leaves from-space: credit its charged part. */
static void uncharge(agc_heap *h, uint64_t a, uint64_t len)
{
    uint64_t lo = a > h->rel.charge_lo ? a : h->rel.charge_lo;
    uint64_t hi = a + len < h->rel.charge_hi ? a + len : h->rel.charge_hi;
    if (hi <= lo || !atomic_load_explicit(&h->alloc.charge, memory_order_relaxed))
        return;
    /* never below 0: a cleared charge (the cycle's end) stays cleared */
    uint64_t cur = atomic_load_explicit(&h->alloc.charge, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&h->alloc.charge, &cur, cur > hi - lo ? cur - (hi - lo) : 0,
                                                  memory_order_release, memory_order_relaxed))
        ;
}

void agc_charge_clear(agc_heap *h)
{
    atomic_store_explicit(&h->alloc.charge, 0, memory_order_release);
    atomic_store_explicit(&h->alloc.unbuilt, 0, memory_order_release);
    h->rel.charge_lo = h->rel.charge_hi = 0;
}

/* Page p is built: count it in the chunks whose range holds it. */
void agc_release_page_built(agc_heap *h, uint64_t p)
{
    /* charged: one page less of to-space held by no memory (each page is
     * built once; never below 0 all the same) */
    if (atomic_load_explicit(&h->alloc.unbuilt, memory_order_relaxed) &&
        p >= atomic_load_explicit(&h->rel.unbuilt_lo, memory_order_relaxed)) {
        uint64_t u = atomic_load_explicit(&h->alloc.unbuilt, memory_order_relaxed);
        while (u && !atomic_compare_exchange_weak_explicit(&h->alloc.unbuilt, &u, u > AGC_PAGE ? u - AGC_PAGE : 0,
                                                           memory_order_release, memory_order_relaxed))
            ;
    }
    if (!atomic_load_explicit(&h->rel.rel_active, memory_order_acquire))
        return;
    /* the first chunk whose running maximum of hi reaches p; from there on
     * every chunk with lo <= p <= hi holds p (lo only grows) */
    uint64_t l = 0, r = h->rel.rel_n;
    while (l < r) {
        uint64_t m = (l + r) / 2;
        if (h->rel.rel_hmax[m] < p)
            l = m + 1;
        else
            r = m;
    }
    for (uint64_t j = l; j < h->rel.rel_n; j++) {
        if (h->rel.rel_lo[j] > p)
            break;
        if (h->rel.rel_hi[j] < p || atomic_load_explicit(&h->rel.rel_pending[j], memory_order_relaxed) == 0)
            continue;
        if (atomic_fetch_sub_explicit(&h->rel.rel_pending[j], 1, memory_order_acq_rel) == 1)
            atomic_store_explicit(&h->rel.rel_state[j], 1, memory_order_release);
    }
}

/* Recycling (move mode): a GC thread takes a ready chunk (state 1 -> 3) and
 * builds its runs into its pages; a recycled page leaves from-space when it
 * is moved into place. */
static __thread uint8_t *rec_ptr;
static __thread uint64_t rec_left, rec_gen;


uint8_t *agc_recycled_run(agc_heap *h, uint64_t k)
{
    if (!atomic_load_explicit(&h->rel.rel_active, memory_order_acquire))
        return NULL;
    if (rec_gen != h->rel.rec_gen)
        rec_left = 0;
    while (rec_left < k) {
        uint64_t j = atomic_load_explicit(&h->rel.rec_scan, memory_order_relaxed);
        for (; j < h->rel.rel_n; j++) {
            uint8_t exp = 1;
            if (atomic_load_explicit(&h->rel.rel_state[j], memory_order_acquire) == 1 &&
                atomic_compare_exchange_strong(&h->rel.rel_state[j], &exp, 3))
                break;
        }
        if (j >= h->rel.rel_n) {
            atomic_store_explicit(&h->rel.rec_scan, 0, memory_order_relaxed);
            return NULL;            /* nothing free yet: the thread's own buffer */
        }
        atomic_store_explicit(&h->rel.rec_scan, j + 1, memory_order_relaxed);
        uint64_t len = j * h->rel.rel_chunk + h->rel.rel_chunk > h->mem.cap ? h->mem.cap - j * h->rel.rel_chunk : h->rel.rel_chunk;
        uncharge(h, j * h->rel.rel_chunk, len);   /* its pages become to-space, counted below top */
        rec_ptr = h->mem.fromspace + j * h->rel.rel_chunk;
        rec_left = len / AGC_PAGE;
        rec_gen = h->rel.rec_gen;
    }
    uint8_t *p = rec_ptr;
    rec_ptr += k * AGC_PAGE;
    rec_left -= k;
    return p;
}

/* A 2 MiB-aligned run of AGC_BLOCK_PAGES recycled pages (huge_moves): the
 * rest of the thread's current run is left unused when it is not aligned. */
uint8_t *agc_recycled_block(agc_heap *h)
{
    const uint64_t k = AGC_BLOCK_PAGES;
    if (!atomic_load_explicit(&h->rel.rel_active, memory_order_acquire))
        return NULL;
    if (rec_gen != h->rel.rec_gen ||
        ((uintptr_t)rec_ptr & (k * AGC_PAGE - 1)) != 0)
        rec_left = 0;
    if (rec_left < k) {
        rec_left = 0;
        if (!agc_recycled_run(h, k))     /* a fresh chunk: its start is aligned */
            return NULL;
        rec_ptr -= k * AGC_PAGE;
        rec_left += k;
        if (((uintptr_t)rec_ptr & (k * AGC_PAGE - 1)) != 0 || rec_left < k) {
            rec_left = 0;
            return NULL;
        }
    }
    uint8_t *p = rec_ptr;
    rec_ptr += k * AGC_PAGE;
    rec_left -= k;
    return p;
}

void agc_release_built(agc_heap *h, uint64_t ns)
{
    atomic_fetch_add_explicit(&h->rel.build_spent_ns, ns, memory_order_relaxed);
}

/* Whether giving chunks back must not wait for building: a mutator waits
 * for from-space to go, or the room the charge leaves is nearly used up. */
int agc_release_urgent(agc_heap *h)
{
    if (atomic_load_explicit(&h->rel.charge_waiting, memory_order_relaxed))
        return 1;
    uint64_t room = h->mem.cap / 16 < (1ull << 20) ? 1ull << 20 : h->mem.cap / 16;
    uint64_t top = __atomic_load_n(&h->alloc.top, __ATOMIC_RELAXED), limit = agc_alloc_limit(h);
    return limit < top + room;
}

/* GC threads, between batches: give back the chunks that are ready (in a
 * mode that recycles, only what is more than the GC threads will soon
 * build into). With release_pacing, while nothing is urgent, giving back
 * takes no more of the GC threads' time than building has: right after
 * the flip most of from-space is ready at once (its dead chunks), and
 * giving it all back took the GC thread 80-115 ms on binarytrees 21 /
 * 1 GiB while the mutator built the black block's pages itself. */
void agc_release_ready(agc_heap *h)
{
    if (!atomic_load_explicit(&h->rel.rel_active, memory_order_acquire))
        return;
    uint64_t keep = chunks_kept(h), kept = 0;
    for (uint64_t j = 0; j < h->rel.rel_n; j++) {
        if (h->opt.release_pacing &&
            atomic_load_explicit(&h->rel.release_spent_ns, memory_order_relaxed) >
                atomic_load_explicit(&h->rel.build_spent_ns, memory_order_relaxed) && !agc_release_urgent(h))
            return;
        if (keep && atomic_load_explicit(&h->rel.rel_state[j], memory_order_acquire) == 1 && kept++ < keep)
            continue;
        uint8_t exp = 1;
        if (atomic_load_explicit(&h->rel.rel_state[j], memory_order_acquire) != 1 ||
            !atomic_compare_exchange_strong(&h->rel.rel_state[j], &exp, 2))
            continue;
        uint64_t a = j * h->rel.rel_chunk, len = h->rel.rel_chunk;
        if (a + len > h->mem.cap)
            len = h->mem.cap - a;
        uint64_t t0 = agc_now_ns();
        uint64_t r = h->space->release(h, a, len);
        atomic_fetch_add_explicit(&h->rel.release_spent_ns, agc_now_ns() - t0, memory_order_relaxed);
        if (r) {         /* kept (recycle_fromspace) or to-space too: still held */
            uncharge(h, a, len);
            AGC_STORE(h->rel.released_during, 1);
            atomic_fetch_add_explicit(&h->rel.released_bytes, r, memory_order_relaxed);
        }
    }
}

/* mutator_recycle (anon, while compaction runs): a mutator about to map
 * fresh memory at live-space offset dst (2 MiB-aligned, above every byte
 * allocated) takes 2 MiB of a from-space chunk compaction is done with
 * instead: its pages are moved there (mremap, page tables only), where a
 * fresh page would cost the kernel an allocation and a clear, and on this
 * VM the host a fresh backing (0.8 ms a 2 MiB page in binarytrees 21,
 * against about 0.08 ms to move and zero one). The allocator zeroes the
 * bytes as it hands them out (zero_from). The chunk leaves from-space: its
 * charge goes as it moves, as a chunk given back would. Under the
 * allocation lock, which no TLAB is carved without; rel_active is cleared
 * under it too, so no move is under way when from-space is dropped.
 * Returns 1 if dst now has memory. */
static int recycle_locked(agc_heap *h, uint64_t dst)
{
    const uint64_t G = AGC_BLOCK_PAGES * AGC_PAGE, C = h->rel.rel_chunk;
    int done = 0;
    if ((dst & (G - 1)) == 0 && dst + G <= h->mem.cap &&
        atomic_load_explicit(&h->rel.rel_active, memory_order_acquire) && dst >= h->rel.free_floor &&
        dst >= AGC_LOAD(h->alloc.top)) {
        /* from where the last one was found, once round (chunks become
         * ready in no strict order) */
        for (uint64_t i = 0; h->rel.frec_left < G && i < h->rel.rel_n; i++) {
            uint64_t j = h->rel.frec_scan++ % h->rel.rel_n;
            uint8_t exp = 1;
            if (atomic_load_explicit(&h->rel.rel_state[j], memory_order_acquire) != 1 ||
                !atomic_compare_exchange_strong(&h->rel.rel_state[j], &exp, 3))
                continue;
            uint64_t a = j * C, len = a + C > h->mem.cap ? h->mem.cap - a : C;
            h->rel.frec_off = a;
            h->rel.frec_left = len & ~(G - 1);
        }
        if (h->rel.frec_left >= G) {
            uint64_t src = h->rel.frec_off;
            h->rel.frec_off += G;
            h->rel.frec_left -= G;
            if (h->alloc.zero_from < dst + G)
                h->alloc.zero_from = dst + G;
            if (h->space->adopt(h, src, dst, G) == 0) {
                uncharge(h, src, G);
                atomic_fetch_add_explicit(&h->rel.free_recycled, G, memory_order_relaxed);
                done = 1;
            }
        }
    }
    return done;
}

int agc_recycle_free_space(agc_heap *h, uint64_t dst)
{
    if (!h->opt.mutator_recycle || !h->space->adopt ||
        !atomic_load_explicit(&h->rel.rel_active, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&h->alloc.alloc_lock);
    int done = recycle_locked(h, dst);
    pthread_mutex_unlock(&h->alloc.alloc_lock);
    return done;
}

/* The cycle's end (GC thread, mutators running): the chunks kept for the
 * mutators and not taken become the free space above what is allocated,
 * as far as the GC thread would map it ahead afresh (pretouch). */
static void recycle_rest(agc_heap *h)
{
    const uint64_t G = AGC_BLOCK_PAGES * AGC_PAGE;
    if (!h->opt.mutator_recycle || !h->space->adopt || !h->opt.pretouch)
        return;
    uint64_t top = AGC_LOAD(h->alloc.top);
    uint64_t dst = AGC_LOAD(h->gc.mapped_to) > top ? AGC_LOAD(h->gc.mapped_to) : top;
    dst = (dst + G - 1) & ~(G - 1);
    uint64_t end = agc_pretouch_end(h, top);
    while (dst + G <= end && recycle_locked(h, dst)) {
        agc_mapped_to_max(h, dst + G);
        dst += G;
    }
}

/* Every page is built: whatever is ready goes now; the rest with the cycle. */
void agc_compact_release_rest(agc_heap *h)
{
    pthread_mutex_lock(&h->alloc.alloc_lock);     /* no mutator moving from-space in (mutator_recycle) */
    recycle_rest(h);
    atomic_store_explicit(&h->rel.rel_active, 0, memory_order_relaxed);
    h->rel.frec_left = 0;
    pthread_mutex_unlock(&h->alloc.alloc_lock);
    for (uint64_t j = 0; j < h->rel.rel_n; j++) {
        uint8_t exp = 1;
        if (atomic_compare_exchange_strong(&h->rel.rel_state[j], &exp, 2)) {
            uint64_t a = j * h->rel.rel_chunk, len = a + h->rel.rel_chunk > h->mem.cap ? h->mem.cap - a : h->rel.rel_chunk;
            uint64_t r = h->space->release(h, a, len);
            if (r) {
                uncharge(h, a, len);
                AGC_STORE(h->rel.released_during, 1);
                atomic_fetch_add_explicit(&h->rel.released_bytes, r, memory_order_relaxed);
            }
        }
    }
}
