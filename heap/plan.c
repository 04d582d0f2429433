/* Planning a sliding compaction, ART-style: live bytes per 512-byte chunk
 * (the chunk-info vector), their exclusive prefix sums, and for every
 * to-space page the first from-space object that lands on it. Then any live
 * object's new offset is chunk_prefix[chunk] + 8 * popcount(live words before
 * it in its chunk) (agc_forward_off), and every page can be built alone. */
#include <stdlib.h>
#include "internal.h"

void agc_plan_chunks(agc_heap *h, uint64_t from, uint64_t to)
{
    uint64_t c0 = from / AGC_CHUNK, c1 = (to + AGC_CHUNK - 1) / AGC_CHUNK;
    for (uint64_t c = c0; c < c1; c++)
        h->plan.chunk_live[c] = 8u * (uint32_t)__builtin_popcountll(h->mk.live_bits[c]);
}

/* Prefix sums and first objects for [from, to); everything below from
 * already planned, and chunk_prefix[from / AGC_CHUNK] set to where the live
 * words of that chunk land (from need not be chunk aligned when no live
 * word lies below it in its chunk: a young cycle's old end). Sets new_end
 * and npages. */
static void plan_range(agc_heap *h, uint64_t from, uint64_t to, int count);

void agc_plan_range(agc_heap *h, uint64_t from, uint64_t to) { plan_range(h, from, to, 0); }

/* count: chunk_live is counted in the same pass (one read of the live
 * bitmap instead of two passes: a young generation of 500 MiB is a million
 * chunks, planned before the flip while the mutators allocate black) */
static void plan_range(agc_heap *h, uint64_t from, uint64_t to, int count)
{
    uint64_t c0 = from / AGC_CHUNK, c1 = (to + AGC_CHUNK - 1) / AGC_CHUNK;
    uint64_t sum = from ? h->plan.chunk_prefix[c0] : 0;
    if (from == 0)
        h->plan.chunk_prefix[0] = 0;
    if (count) {
        const uint64_t *lb = h->mk.live_bits;
        uint32_t *cl = h->plan.chunk_live;
        uint64_t *cp = h->plan.chunk_prefix;
        for (uint64_t c = c0; c < c1; c++) {
            /* eight dead chunks at a time (most of a young generation) */
            if ((c & 7) == 0 && c + 8 <= c1 && !(lb[c] | lb[c + 1] | lb[c + 2] | lb[c + 3] | lb[c + 4] |
                                                 lb[c + 5] | lb[c + 6] | lb[c + 7])) {
                for (int i = 0; i < 8; i++) {
                    cl[c + i] = 0;
                    cp[c + i] = sum;
                }
                c += 7;
                continue;
            }
            uint32_t l = 8u * (uint32_t)__builtin_popcountll(lb[c]);
            cl[c] = l;
            cp[c] = sum;
            sum += l;
        }
    } else {
        for (uint64_t c = c0; c < c1; c++) {
            h->plan.chunk_prefix[c] = sum;
            sum += h->plan.chunk_live[c];
        }
    }
    h->plan.chunk_prefix[c1] = sum;
    /* first objects of pages below S, from the prefix sums, as ART does: the
     * to-space page starting at x begins inside the chunk c whose prefix
     * range holds x, at its k-th live word (k = (x - prefix[c]) / 8); the
     * object covering that word is the last object start at or before it.
     * Work per page, not per object. In the black region [S, T) pages find
     * theirs when built (agc_page_first). */
    uint64_t s_top = to < h->mk.mark_start_top ? to : h->mk.mark_start_top;
    uint64_t cs1 = (s_top + AGC_CHUNK - 1) / AGC_CHUNK;     /* chunks below S */
    uint64_t live_s = cs1 > c0 ? h->plan.chunk_prefix[cs1] : 0;
    if (cs1 == c1)
        live_s = sum;
    uint64_t c = c0, prev = AGC_NONE, prev_wk = 0;
    for (uint64_t p = (h->plan.chunk_prefix[c0] + AGC_PAGE - 1) / AGC_PAGE; p * AGC_PAGE < live_s; p++) {
        uint64_t x = p * AGC_PAGE;
        while (c + 1 < cs1 && h->plan.chunk_prefix[c + 1] <= x)
            c++;
        uint64_t k = (x - h->plan.chunk_prefix[c]) / 8;
        uint64_t bits = h->mk.live_bits[c];
        for (uint64_t i = 0; i < k; i++)
            bits &= bits - 1;                 /* drop the k lowest live words */
        uint64_t wk = c * 64 + (uint64_t)__builtin_ctzll(bits);
        /* back to the previous page's word at most (no object starts in
         * between: the previous page's first object): pages inside one
         * large object would each scan the bitmap back to its start */
        uint64_t w = prev == AGC_NONE ? bm_prev(h->mk.mark_bits, wk)
                                      : bm_prev_floor(h->mk.mark_bits, wk, prev_wk + 1);
        h->plan.page_first[p] = prev = w == AGC_NONE ? prev : w;
        prev_wk = wk;
    }
    if (from <= h->mk.mark_start_top && h->mk.mark_start_top <= to)
        h->mk.black_new_start = h->plan.chunk_prefix[h->mk.mark_start_top / AGC_CHUNK];
    h->plan.new_end = sum;
    h->plan.npages = (sum + AGC_PAGE - 1) / AGC_PAGE;
    h->plan.plan_top = to;
}

/* The black region [S, top): everything allocated since marking began, live
 * as a whole (objects and fillers got mark bits when allocated), lands right
 * after the compacted data at one distance. Constant work: this is all the
 * flip pause does for what the mutators allocated meanwhile. */
void agc_plan_black(agc_heap *h, uint64_t top)
{
    uint64_t S = h->mk.mark_start_top;
    h->plan.new_end = h->mk.black_new_start + (top > S ? top - S : 0);
    h->plan.npages = (h->plan.new_end + AGC_PAGE - 1) / AGC_PAGE;
    h->plan.plan_top = top;
}

/* The from-space object covering the start of to-space page p (not for
 * pages of the dense prefix: those are built from the bitmaps). */
uint64_t agc_page_first(agc_heap *h, uint64_t p)
{
    uint64_t pstart = p * AGC_PAGE;
    if (pstart < h->mk.black_new_start || h->mk.mark_start_top >= h->plan.plan_top)
        return h->plan.page_first[p];
    uint64_t from = h->mk.mark_start_top + (pstart - h->mk.black_new_start);
    return bm_prev(h->mk.mark_bits, from / 8);
}

/* Live bytes per from-space page, and per to-space page, for the heap map. */
void agc_plan_heap_maps(agc_heap *h)
{
    uint64_t np = (h->plan.plan_top + AGC_PAGE - 1) / AGC_PAGE;
    uint32_t *before = malloc(np * sizeof *before + 1);
    uint32_t *after = malloc(h->plan.npages * sizeof *after + 1);
    if (!before || !after) {
        free(before);
        free(after);
        return;
    }
    uint64_t cpp = AGC_PAGE / AGC_CHUNK;
    for (uint64_t p = 0; p < np; p++) {
        uint32_t s = 0;
        for (uint64_t c = p * cpp; c < (p + 1) * cpp && c < h->plan.nchunks; c++)
            s += (c * AGC_CHUNK < h->gen.young_start) ? (uint32_t)AGC_CHUNK   /* old, in a young cycle */
               : (c * AGC_CHUNK < h->mk.mark_start_top) ? h->plan.chunk_live[c]
               : (c * AGC_CHUNK < h->plan.plan_top) ? (uint32_t)AGC_CHUNK : 0;
        before[p] = s;
    }
    for (uint64_t p = 0; p < h->plan.npages; p++) {
        uint64_t e = (p + 1) * AGC_PAGE;
        after[p] = (uint32_t)(e <= h->plan.new_end ? AGC_PAGE : h->plan.new_end - p * AGC_PAGE);
    }
    pthread_mutex_lock(&h->st.stats_lock);
    free(h->st.map_before);
    free(h->st.map_after);
    h->st.map_before = before;
    h->st.map_before_n = np;
    h->st.map_after = after;
    h->st.map_after_n = h->plan.npages;
    pthread_mutex_unlock(&h->st.stats_lock);
}

/* A page short of the threshold is still dense when it holds the tail of a
 * live object of at least AGC_DENSE_TAIL_PAGES pages that began in the
 * prefix: the dead bytes left in place are at most one page, a sixteenth
 * of that object, where stopping before it would move the whole object
 * (gcbench's long-lived array after its long-lived tree: a prefix of 16
 * MiB instead of 31). */
#define AGC_DENSE_TAIL_PAGES 16
static int large_tail_page(agc_heap *h, uint64_t p)
{
    if (p == 0)
        return 0;
    uint64_t w = bm_prev(h->mk.mark_bits, p * AGC_PAGE / 8 - 1);
    if (w == AGC_NONE)
        return 0;
    uint64_t start = w * 8;
    uint64_t end = start + (uint64_t)((const agc_header *)(h->mem.primary + start))->nwords * 8;
    return end > p * AGC_PAGE && end <= (p + 1) * AGC_PAGE && end - start >= AGC_DENSE_TAIL_PAGES * AGC_PAGE;
}

/* The black-dense prefix, as ART's: the leading pages whose live bytes are
 * at least dense_prefix of a page are not moved (their objects keep their
 * addresses, their references are updated where they are). It ends at a
 * page boundary no live object crosses, so that no page after it reads
 * from it. */
static uint64_t dense_prefix_end(agc_heap *h, uint64_t S)
{
    double thr = h->opt.dense_prefix;
    if (!(thr > 0.0))
        return 0;
    uint64_t cpp = AGC_PAGE / AGC_CHUNK, need = (uint64_t)(thr * (double)AGC_PAGE);
    uint64_t p = 0;
    for (; (p + 1) * AGC_PAGE <= S; p++) {
        uint64_t live = 0;
        for (uint64_t c = p * cpp; c < (p + 1) * cpp; c++)
            live += h->plan.chunk_live[c];
        if (live < need && !large_tail_page(h, p))
            break;
    }
    uint64_t D = p * AGC_PAGE;
    while (D > 0) {
        uint64_t w = bm_prev(h->mk.mark_bits, D / 8 - 1);
        if (w == AGC_NONE)
            break;
        const agc_header *o = (const agc_header *)(h->mem.primary + w * 8);
        if (w * 8 + (uint64_t)o->nwords * 8 <= D)
            break;
        D = (w * 8) & ~(AGC_PAGE - 1);   /* before the object that crosses it */
    }
    return D;
}

int agc_plan_below_s(agc_heap *h, uint64_t S)
{
    /* a young cycle: the old generation [0, O) is the prefix, live as a
     * whole (unmarked: the chunks below O count no live words, and the one
     * O falls in only those of young objects after O) */
    uint64_t O = h->gen.young_start;     /* 0 in a full cycle */
    uint64_t K = O < S ? O : S;
    /* a young cycle counts live words from the chunk O falls in: below it
     * nothing is marked and nothing reads the counts (the prefix is [0, O)) */
    if (K) {
        /* the prefix is [0, K): counted and summed in one pass */
        h->plan.dense_end = K;
        h->plan.dense_live = K;
        h->plan.chunk_prefix[K / AGC_CHUNK] = K;     /* the rest slides down to just after it */
        plan_range(h, K, S, 1);
        return K == S;
    }
    agc_plan_chunks(h, 0, S);
    uint64_t D = dense_prefix_end(h, S);
    h->plan.dense_end = D;
    h->plan.dense_live = 0;
    for (uint64_t c = 0; c < D / AGC_CHUNK; c++)
        h->plan.dense_live += h->plan.chunk_live[c];
    if (D)
        h->plan.chunk_prefix[D / AGC_CHUNK] = D;
    agc_plan_range(h, D, S);
    return D == S;
}
