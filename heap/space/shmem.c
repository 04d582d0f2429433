/* shmem memory: one memfd of two halves of capacity. The primary mapping
 * (1 GiB aligned, mutators) shows the live half, the alias maps the whole
 * memfd (GC writes), the standby maps the next to-space half ahead of time
 * with the page tables it kept as the previous from-space. Every mapping of
 * a half spans its whole 1 GiB-aligned reservation, so the flip's mremap
 * moves top-level page-table entries whatever the heap size. A young cycle
 * leaves the old generation's pages [0, K) mapped where they are and flips
 * only the rest: the live space is then runs in either half
 * (heap/space/halves.c), each mapped, moved and punched on its own. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"
#include "space/space.h"
#include "modes/mode.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static off_t half_off(agc_heap *h, int half) { return (off_t)((uint64_t)half * h->mem.cap); }

/* Where from-space and to-space part: below it they are the same memfd
 * pages (a young cycle's kept old generation, or a full cycle's dense
 * prefix updated in place). */
static uint64_t split(const agc_heap *h)
{
    return h->mem.keep ? h->mem.keep : h->mem.inplace;
}

/* The halves of the space outside the live one from the split up:
 * from-space after a flip, to-space before it. */
static agc_halves other_halves(agc_heap *h)
{
    agc_halves l = h->mem.live;
    agc_halves_toggle(&l, split(h));
    return l;
}

static int shmem_map(agc_heap *h)
{
    int rc = agc_shmem_file(h, 2 * h->mem.cap);
    if (rc != AGC_OK)
        return rc;
    h->mem.alias = mmap(NULL, 2 * h->mem.cap, PROT_READ | PROT_WRITE, MAP_SHARED, h->mem.memfd, 0);
    if (h->mem.alias == MAP_FAILED) {
        h->mem.alias = NULL;
        return agc_fail(AGC_ESYS, "cannot map the heap alias: %s", strerror(errno));
    }
    if (mmap(h->mem.primary, h->mem.span, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
             h->mem.memfd, 0) == MAP_FAILED)
        return agc_fail(AGC_ESYS, "cannot map the heap: %s", strerror(errno));
    agc_shmem_advise(h, h->mem.alias, 2 * h->mem.cap);
    agc_shmem_advise(h, h->mem.primary, h->mem.span);
    if (h->mem.shmem_huge != AGC_SHMEM_SMALL) {
        /* a mutator that builds a page nobody made yet allocates it small:
         * a fresh 2 MiB folio in a fault took 5-7 ms on this VM */
        void *a = mmap(NULL, 2 * h->mem.cap, PROT_READ | PROT_WRITE, MAP_SHARED, h->mem.memfd, 0);
        if (a == MAP_FAILED)
            return agc_fail(AGC_ESYS, "cannot map the heap alias: %s", strerror(errno));
        h->mem.alias_small = a;
        madvise(a, 2 * h->mem.cap, MADV_NOHUGEPAGE);
    }
    memset(&h->mem.live, 0, sizeof h->mem.live);
    h->mem.keep = 0;
    return AGC_OK;
}

static void shmem_unmap(agc_heap *h)
{
    if (h->mem.alias)
        munmap(h->mem.alias, 2 * h->mem.cap);
    if (h->mem.alias_small)
        munmap(h->mem.alias_small, 2 * h->mem.cap);
    h->mem.alias_small = NULL;
    if (h->mem.memfd >= 0)
        close(h->mem.memfd);
    h->mem.alias = NULL;
    h->mem.memfd = -1;
}

/* A young cycle keeps [0, K) where it is: K is an existing cut a little
 * below the old generation's end when there is one (the old pages above it
 * are copied as they are, at most an eighth of the heap), else that end. */
static uint64_t near_cut(const agc_heap *h)
{
    uint64_t near = h->mem.cap / 8;
    return near < (16ull << 20) ? 16ull << 20 : near;
}

static uint64_t shmem_keep(agc_heap *h, uint64_t want)
{
    return agc_halves_keep(&h->mem.live, want, near_cut(h));
}

/* Over the runs of [lo, hi) that lie in one half of l. */
static void punch(agc_heap *h, const agc_halves *l, uint64_t lo, uint64_t hi)
{
    for (uint64_t a = lo, b; a < hi; a = b) {
        b = agc_halves_run_end(l, a, hi);
        fallocate(h->mem.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  half_off(h, agc_halves_at(l, a)) + (off_t)a, (off_t)(b - a));
    }
}

static int populate(agc_heap *h, const agc_halves *l, uint64_t lo, uint64_t hi)
{
    for (uint64_t a = lo, b; a < hi; a = b) {
        b = agc_halves_run_end(l, a, hi);
        if (fallocate(h->mem.memfd, 0, half_off(h, agc_halves_at(l, a)) + (off_t)a, (off_t)(b - a)) != 0)
            return -1;
    }
    return 0;
}

/* Map at + [lo, hi) to the halves of l (the last run to the span's end). */
static int map_halves(agc_heap *h, uint8_t *at, const agc_halves *l, uint64_t lo, uint64_t hi)
{
    for (uint64_t a = lo, b; a < hi; a = b) {
        b = agc_halves_run_end(l, a, hi);
        uint64_t e = b == h->mem.cap ? h->mem.span : b;
        if (mmap(at + a, e - a, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, h->mem.memfd,
                 half_off(h, agc_halves_at(l, a)) + (off_t)a) == MAP_FAILED)
            return -1;
        agc_shmem_advise(h, at + a, e - a);
    }
    return 0;
}

/* Move [off, off + len) of one run: one mremap, or, should the run be more
 * than one mapping (a kernel that did not merge them back), in parts. */
static int move_run(uint8_t *from, uint8_t *to, uint64_t len)
{
    if (agc_move_mapping(from, to, len) != MAP_FAILED)
        return 0;
    if (errno != EFAULT || len <= AGC_PAGE)
        return -1;
    uint64_t mid = (len / 2 + AGC_PAGE - 1) & ~(uint64_t)(AGC_PAGE - 1);
    return move_run(from, to, mid) || move_run(from + mid, to + mid, len - mid);
}

/* Move what `from` maps over [lo, span) to `to`, one run of l at a time. */
static int move_halves(agc_heap *h, uint8_t *from, uint8_t *to, const agc_halves *l, uint64_t lo)
{
    for (uint64_t a = lo, b; a < h->mem.cap; a = b) {
        b = agc_halves_run_end(l, a, h->mem.cap);
        uint64_t e = b == h->mem.cap ? h->mem.span : b;
        if (move_run(from + a, to + a, e - a) != 0)
            return -1;
    }
    return 0;
}

/* Make the standby map to-space's halves from K up, and drop the page-table
 * entries of its bytes [K, zap_len) (the pages compaction will build, which
 * must fault). Runs already mapped to the right half keep their entries
 * from the cycle before, so mutators allocating there after the flip take
 * no page fault; the others are mapped afresh. */
static int standby_prepare(agc_heap *h, uint64_t zap_len)
{
    const agc_halves *to = &h->mem.to;
    const uint64_t K = h->mem.keep, cap = h->mem.cap;
    uint64_t fresh = 0;
    for (uint64_t a = K, b; a < cap; a = b) {
        b = agc_halves_run_end(to, a, cap);
        int same = h->mem.standby_valid && a >= h->mem.sb_lo;
        if (h->mem.standby_valid && a < h->mem.sb_lo && b > h->mem.sb_lo)
            b = h->mem.sb_lo;
        if (same) {
            uint64_t c = agc_halves_run_end(&h->mem.sb, a, cap);
            b = c < b ? c : b;
            same = agc_halves_at(&h->mem.sb, a) == agc_halves_at(to, a);
        }
        if (same)
            continue;
        uint64_t e = b == cap ? h->mem.span : b;
        if (mmap(h->mem.standby + a, e - a, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, h->mem.memfd,
                 half_off(h, agc_halves_at(to, a)) + (off_t)a) == MAP_FAILED) {
            h->mem.standby_valid = 0;
            agc_reserve_again(h->mem.standby, h->mem.span);
            return agc_fail(AGC_ESYS, "mapping the next to-space failed: %s", strerror(errno));
        }
        agc_shmem_advise(h, h->mem.standby + a, e - a);
        fresh += b - a;
    }
    h->mem.standby_valid = 1;
    h->mem.sb = *to;
    h->mem.sb_lo = K;
    if (fresh == cap - K) {
        h->mem.zapped_upto = cap;     /* a fresh mapping has no entries at all */
        return AGC_OK;
    }
    if (zap_len > K && madvise(h->mem.standby + K, zap_len - K, MADV_DONTNEED) != 0)
        return agc_fail(AGC_ESYS, "dropping to-space page tables failed: %s", strerror(errno));
    h->mem.zapped_upto = zap_len > K ? zap_len : K;
    return AGC_OK;
}

/* To-space: live's halves from the split up, each in the other half. A
 * full cycle of a mode that builds in place leaves its dense prefix in the
 * half it is in (inplace_prefix): those pages fault like the others after
 * the flip, and are updated where they are instead of copied to the other
 * half (no fresh memfd page, no copy, nothing to punch). With
 * inplace_prefix on the split is a cut the live space has a little below
 * the prefix's end when there is one (the prefix pages above it are
 * copied), so the cuts stay few. But a cut that is not on a 1 GiB boundary
 * costs every flip after it: the primary, populated up to the allocation
 * pointer, then moves as two mappings, and the kernel moves the unaligned
 * one a 2 MiB page-table entry at a time with a TLB flush each (1.1 ms at
 * 1 GiB, measured, against 0.06 ms). So auto, the default, puts the split
 * only on a 1 GiB boundary (the prefix's part below it is updated in
 * place; none in a heap of 1 GiB or less). */
static void plan_tospace(agc_heap *h)
{
    h->mem.keep = h->plan.keep_end;
    h->mem.inplace = 0;
    const int ip = h->opt.inplace_prefix;
    uint64_t want = h->plan.dense_end;
    if (ip == AGC_INPLACE_AUTO)
        want &= ~(AGC_ALIGN_RESERVE - 1);
    if (!h->mem.keep && !h->gen.young && h->mode->build_in_place && ip != AGC_INPLACE_OFF && want >= AGC_PAGE)
        h->mem.inplace = agc_halves_keep(&h->mem.live, want, ip == AGC_INPLACE_AUTO ? 0 : near_cut(h));
    h->plan.inplace_end = h->mem.inplace;
    h->mem.to = other_halves(h);
}

static int shmem_prepare(agc_heap *h, uint64_t populate_len, uint64_t zap)
{
    plan_tospace(h);
    if (populate_len > split(h) &&
        populate(h, &h->mem.to, split(h), populate_len > h->mem.cap ? h->mem.cap : populate_len) != 0)
        return agc_fail(AGC_EOOM, "cannot populate %llu bytes of to-space: %s",
                        (unsigned long long)populate_len, strerror(errno));
    if (!h->mode->build_in_place || zap == 0)
        return AGC_OK;   /* the flip maps the (empty) to-space afresh */
    zap = zap > h->mem.cap ? h->mem.cap : (zap + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    return standby_prepare(h, zap);
}

static int shmem_populate(agc_heap *h, uint64_t off, uint64_t len)
{
    uint64_t lo = off > split(h) ? off : split(h);     /* below it the pages are there */
    return off + len > lo ? populate(h, &h->mem.to, lo, off + len) : 0;
}

/* Right before the flip's stop: drop the standby's entries up to `upto`
 * too, so that what was allocated since the preparation is not left for the
 * flip to drop. */
static int shmem_prepare_late(agc_heap *h, uint64_t upto)
{
    if (!h->mode->build_in_place || !h->mem.standby_valid)
        return AGC_OK;
    upto = upto > h->mem.cap ? h->mem.cap : (upto + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    if (upto <= h->mem.zapped_upto)
        return AGC_OK;
    if (madvise(h->mem.standby + h->mem.zapped_upto, upto - h->mem.zapped_upto, MADV_DONTNEED) != 0)
        return agc_fail(AGC_ESYS, "dropping to-space page tables failed: %s", strerror(errno));
    h->mem.zapped_upto = upto;
    return AGC_OK;
}

static int standby_is_tospace(agc_heap *h)
{
    if (!h->mem.standby_valid || h->mem.sb_lo > h->mem.keep)
        return 0;
    for (uint64_t a = h->mem.keep, b; a < h->mem.cap; a = b) {
        b = agc_halves_run_end(&h->mem.to, a, h->mem.cap);
        uint64_t c = agc_halves_run_end(&h->mem.sb, a, h->mem.cap);
        b = c < b ? c : b;
        if (agc_halves_at(&h->mem.sb, a) != agc_halves_at(&h->mem.to, a))
            return 0;
    }
    return 1;
}

/* The primary range from K up now shows to-space. Page tables move with
 * mremap (cheap at 1 GiB alignment); the bytes [K, must_zap) of to-space
 * lose their entries so that touching them faults. */
static int map_tospace(agc_heap *h, uint64_t must_zap)
{
    const uint64_t K = h->mem.keep;
    if (move_halves(h, h->mem.primary, h->mem.fromspace, &h->mem.live, K) != 0)
        return agc_fail(AGC_ESYS, "flip: mremap of the heap failed: %s", strerror(errno));
    if (standby_is_tospace(h)) {
        if (move_halves(h, h->mem.standby, h->mem.primary, &h->mem.sb, K) != 0)
            return agc_fail(AGC_ESYS, "flip: mremap of to-space failed: %s", strerror(errno));
        h->mem.standby_valid = 0;
        agc_reserve_again(h->mem.standby, h->mem.span);
        uint64_t lo = h->mem.zapped_upto > K ? h->mem.zapped_upto : K;
        if (must_zap > lo && madvise(h->mem.primary + lo, must_zap - lo, MADV_DONTNEED) != 0)
            return agc_fail(AGC_ESYS, "flip: dropping to-space page tables failed: %s", strerror(errno));
        return AGC_OK;
    }
    if (map_halves(h, h->mem.primary, &h->mem.to, K, h->mem.cap) != 0)
        return agc_fail(AGC_ESYS, "flip: mapping to-space failed: %s", strerror(errno));
    return AGC_OK;
}

static int shmem_flip(agc_heap *h, uint64_t must_zap)
{
    int rc = map_tospace(h, must_zap);
    if (rc)
        return rc;
    /* from-space read where the flip moved the primary, with its page
     * tables; to-space written through the alias, in each page's half */
    h->plan.from_base = h->mem.fromspace;
    h->plan.to_base = NULL;
    h->plan.to_halves = h->mode->build_in_place ? &h->mem.to : NULL;
    h->plan.map_halves = &h->mem.to;
    h->mem.live = h->mem.to;
    return AGC_OK;
}

static int shmem_stw_begin(agc_heap *h)
{
    plan_tospace(h);
    h->plan.from_base = h->mem.primary;   /* the world is stopped: it shows from-space until stw_end */
    h->plan.to_base = NULL;
    h->plan.to_halves = &h->mem.to;
    return AGC_OK;
}

static int shmem_stw_end(agc_heap *h)
{
    /* no fault is taken: the standby's page tables can all stay */
    int rc = standby_prepare(h, 0);
    if (!rc)
        rc = map_tospace(h, 0);
    if (!rc)
        h->mem.live = h->mem.to;
    return rc;
}

/* recycle_fromspace: from-space this far above the allocation pointer is
 * kept when its chunk is done with; the cycle's end maps it as the free
 * space above what the mutators have allocated by then. */
static uint64_t recycle_headroom(const agc_heap *h)
{
    uint64_t w = h->mem.cap / 16;
    return w < (16ull << 20) ? 16ull << 20 : w;
}

/* keep_tospace: from-space below a little above this cycle's live end is
 * not punched (neither as compaction goes nor at the cycle's end), so the
 * next cycle's to-space, which is this memfd half, has its pages already: a
 * fresh memfd page costs a kernel allocation, a clear and a page-cache
 * insert (about 3 us on this VM; fallocate was a third of the GC thread's
 * samples on lru). Only where pages are built in place (a mode whose pages
 * are installed by MISSING faults needs an empty to-space), and not for a
 * young cycle (its to-space is not the other half below K). The kept pages
 * hold stale objects: the builder writes every page below the live end
 * whole, and the free space above it is zeroed as it is allocated
 * (zero_from). */
static uint64_t keep_tospace_hi(const agc_heap *h)
{
    if (!h->opt.keep_tospace || !h->mode->build_in_place || h->opt.recycle_fromspace || h->gen.young)
        return 0;
    uint64_t k = h->plan.new_end + h->plan.new_end / 8;
    k = (k + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    return k < h->mem.cap ? k : h->mem.cap;
}

/* From-space [off, off + len) goes back (never below the split: there
 * from-space and the live space are the same pages), unless it is kept to
 * be recycled as free space (it stays charged as used until then). */
static uint64_t shmem_release(agc_heap *h, uint64_t off, uint64_t len)
{
    uint64_t lo = off > split(h) ? off : split(h), hi = off + len;
    if (hi > h->mem.cap)
        hi = h->mem.cap;
    if (hi <= lo)
        return 0;
    if (h->opt.recycle_fromspace && hi <= h->plan.plan_top &&
        lo >= __atomic_load_n(&h->alloc.top, __ATOMIC_RELAXED) + recycle_headroom(h))
        return 0;
    uint64_t kh = keep_tospace_hi(h);
    if (lo < kh) {
        if (hi <= kh)
            return 0;
        lo = kh;
    }
    agc_halves from = other_halves(h);
    punch(h, &from, lo, hi);
    return hi - lo;
}

static void shmem_release_live(agc_heap *h, uint64_t off, uint64_t len)
{
    punch(h, &h->mem.live, off, off + len > h->mem.cap ? h->mem.cap : off + len);
}

/* recycle_fromspace, at the cycle's end: from-space above the allocation
 * pointer A (kept populated by shmem_release) becomes the primary's free
 * space at the same offsets, so the mutators allocate into pages that
 * exist instead of fresh ones (a fresh memfd page costs the kernel an
 * allocation, a clear and a page-cache insert: most of what a mutator
 * spends beside its own work on binarytrees); to-space's pages above A go.
 * Under the allocation lock: every TLAB lies below A and none is carved
 * while the mapping changes. A is a cut of the halves a little above the
 * pointer when there is one (toggling there removes it), so the cuts stay
 * few; with too many, nothing is recycled. Returns A (0: not done). */
static uint64_t recycle_free_space(agc_heap *h, const agc_halves *from)
{
    const uint64_t P = (h->plan.plan_top + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    agc_halves l = h->mem.live;
    pthread_mutex_lock(&h->alloc.alloc_lock);
    uint64_t top = (__atomic_load_n(&h->alloc.top, __ATOMIC_RELAXED) + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    uint64_t A = top;
    int at_cut = 0;
    for (int i = 0; i < l.ncut; i++)
        if (l.cut[i] >= top && l.cut[i] <= top + recycle_headroom(h)) {
            A = l.cut[i];
            at_cut = 1;
            break;
        }
    if (A >= P || A <= split(h) || (!at_cut && l.ncut >= AGC_MAX_CUTS - 2)) {
        pthread_mutex_unlock(&h->alloc.alloc_lock);
        return 0;
    }
    int rc = map_halves(h, h->mem.primary, from, A, h->mem.cap);
    if (rc == 0) {
        agc_halves_toggle(&l, A);
        h->mem.live = l;
    } else if (map_halves(h, h->mem.primary, &h->mem.live, A, h->mem.cap) != 0 && !h->corrupt) {
        h->corrupt = 1;
        snprintf(h->corrupt_msg, sizeof h->corrupt_msg, "recycling from-space: the heap's free space "
                 "cannot be mapped again: %s", strerror(errno));
    }
    pthread_mutex_unlock(&h->alloc.alloc_lock);
    return rc == 0 ? A : 0;
}

/* The old primary, now at F from K up, either becomes the standby of the
 * next cycle (its halves are the next to-space's; its page tables are
 * kept) or is dropped and its memory punched (the next to-space must be
 * empty for a mode whose pages are installed by MISSING faults, or when
 * reuse_tospace is off). */
static void shmem_after_cycle(agc_heap *h)
{
    const uint64_t K = h->mem.keep, I = split(h);
    agc_halves from = other_halves(h);
    h->mem.inplace = 0;
    int keep = h->opt.reuse_tospace && h->mode->build_in_place && !h->rel.released_during;
    if (keep) {
        if (move_halves(h, h->mem.fromspace, h->mem.standby, &from, K) == 0) {
            h->mem.standby_valid = 1;
            h->mem.sb = from;
            h->mem.sb_lo = K;
            agc_reserve_again(h->mem.fromspace, h->mem.span);
            h->mem.keep = 0;
            return;      /* its pages below I are the live ones: it maps them as from says */
        }
        h->mem.standby_valid = 0;
        agc_reserve_again(h->mem.standby, h->mem.span);
    }
    agc_halves to = h->mem.live;
    uint64_t A = h->opt.recycle_fromspace ? recycle_free_space(h, &from) : 0;
    agc_reserve_again(h->mem.fromspace, h->mem.span);
    if (A) {
        punch(h, &from, I, A);
        punch(h, &to, A, h->mem.cap);
        h->mem.recycled = h->plan.plan_top > A ? ((h->plan.plan_top + AGC_PAGE - 1) & ~(AGC_PAGE - 1)) - A : 0;
    } else {
        uint64_t kh = keep_tospace_hi(h);
        punch(h, &from, kh > I ? kh : I, h->mem.cap);
    }
    h->mem.keep = 0;
}

static int shmem_pretouch(agc_heap *h, uint64_t off, uint64_t len)
{
    return madvise(h->mem.primary + off, len, MADV_POPULATE_WRITE);
}

static uint64_t shmem_held(agc_heap *h)
{
    struct stat st;
    return h->mem.memfd >= 0 && fstat(h->mem.memfd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static int cut_unaligned(const agc_halves *l, uint64_t from)
{
    for (int i = 0; i < l->ncut; i++)
        if (l->cut[i] > from && (l->cut[i] & (AGC_ALIGN_RESERVE - 1)))
            return 1;
    return 0;
}

/* The flip moves the primary by live's runs and the standby by to-space's
 * from K up. */
static int shmem_flip_unaligned(agc_heap *h)
{
    const uint64_t K = h->mem.keep;
    return (K & (AGC_ALIGN_RESERVE - 1)) || cut_unaligned(&h->mem.live, K) || cut_unaligned(&h->mem.to, K);
}

const agc_space_ops agc_space_shmem = {
    .name = "shmem", .id = AGC_MEMORY_SHMEM,
    .map = shmem_map, .unmap = shmem_unmap, .keep = shmem_keep,
    .prepare = shmem_prepare, .prepare_late = shmem_prepare_late, .populate = shmem_populate,
    .flip = shmem_flip,
    .stw_begin = shmem_stw_begin, .stw_end = shmem_stw_end,
    .release = shmem_release, .release_live = shmem_release_live, .after_cycle = shmem_after_cycle,
    .pretouch = shmem_pretouch, .held_bytes = shmem_held, .flip_unaligned = shmem_flip_unaligned,
};
