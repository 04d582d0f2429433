/* anon memory: private anonymous memory, as ART's moving space. The flip
 * moves the primary's pages to the from-space reservation with
 * mremap(MREMAP_DONTUNMAP): page tables move, the primary range stays
 * mapped and empty, and every touch of a page not yet built faults (MISSING).
 * From-space is read at its new address and given back after the cycle. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "space/space.h"
#include "modes/mode.h"

static void advise(agc_heap *h, uint64_t off, uint64_t len);
static int multi_mapping_moves(void);

/* The primary maps the whole 1 GiB-aligned span, past the capacity when the
 * heap is smaller (never touched there: allocation stops at the capacity),
 * so that the flip moves whole 1 GiB page-table entries whatever the heap
 * size, as on shmem (binarytrees 21's default 701 MiB heap moved 2 MiB
 * entries one by one before). It maps AGC_ANCHOR more, the anchor: never
 * touched and never moved, it keeps the heap's anon_vma when the flip
 * empties the span (give_anon_vma). */
static int anon_map(agc_heap *h)
{
    if (mmap(h->mem.primary, h->mem.span + AGC_ANCHOR, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
        return agc_fail(AGC_ESYS, "cannot map the heap: %s", strerror(errno));
    advise(h, 0, h->mem.span + AGC_ANCHOR);
    return AGC_OK;
}

static void anon_unmap(agc_heap *h) { (void)h; }   /* the reservations go with the heap */

/* the old generation's whole pages all stay: the flip moves the rest away */
static uint64_t anon_keep(agc_heap *h, uint64_t want) { (void)h; return want; }

static int anon_prepare(agc_heap *h, uint64_t populate, uint64_t zap)
{
    (void)populate; (void)zap;     /* to-space is the primary range itself, emptied at the flip */
    return AGC_OK;
}

static int anon_prepare_late(agc_heap *h, uint64_t upto) { (void)h; (void)upto; return AGC_OK; }

static int anon_populate(agc_heap *h, uint64_t off, uint64_t len) { (void)h; (void)off; (void)len; return 0; }

static void advise(agc_heap *h, uint64_t off, uint64_t len)
{
    madvise(h->mem.primary + off, len, MADV_DONTFORK);   /* a child gets no copy (fork) */
    /* a fresh 2 MiB page costs the mutator about a third of what 512 fresh
     * 4 KiB pages do (artgc probe --fastpath); the flip's mremap carries the
     * advice to from-space, and to-space pages installed by ioctl are small
     * pages all the same. Refused (THP "never"): small pages, as before. */
    if (h->opt.huge_pages)
        madvise(h->mem.primary + off, len, MADV_HUGEPAGE);
}

static void *move(uint8_t *from, uint8_t *to, uint64_t off, uint64_t len)
{
    return mremap(from + off, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to + off);
}

/* A young cycle's flip: the whole heap over whole 1 GiB page-table entries,
 * then the old generation [0, K) back, rather than [K, span) 2 MiB entry by
 * entry (K is not 1 GiB-aligned), when the old generation is under half of
 * what is mapped (binarytrees 21 / 1 GiB: 96 MiB old, ~600 MiB in use).
 * From-space [0, K) stays mapped, empty; nothing reads it. Needs a kernel
 * that moves a range spanning several mappings (the heap's range is
 * usually one: give_anon_vma). In a concurrent cycle the move back comes
 * right after the pause (anon_flip_done); a mutator touching the old
 * generation before then waits for it (registered: it faults). binarytrees
 * 21 / 1 GiB, art-2023: young flips as the mutator felt them p50 190-271
 * -> 92-96 us (full ones 68-105), and no sleeping through them. */
static int whole_then_back(agc_heap *h, uint64_t k)
{
    uint64_t top = AGC_LOAD(h->alloc.top), ahead = AGC_LOAD(h->gc.pretouched_upto);
    uint64_t used = top > ahead ? top : ahead;
    return k && used > 2 * k && multi_mapping_moves();
}

/* Everything from keep_end up (a young cycle keeps the old generation
 * mapped where it is; otherwise 0: the whole heap). */
static int move_away(agc_heap *h, int later)
{
    uint64_t k = h->plan.keep_end;
    if (whole_then_back(h, k) && move(h->mem.primary, h->mem.fromspace, 0, h->mem.span) != MAP_FAILED) {
        /* later: after the pause (its pages fault until then) */
        if (!later && move(h->mem.fromspace, h->mem.primary, 0, k) == MAP_FAILED) {
            /* the old generation is in from-space: everything back if the
             * kernel lets us, else the heap is lost */
            int err = errno;
            if (move(h->mem.fromspace, h->mem.primary, 0, h->mem.span) == MAP_FAILED && !h->corrupt) {
                h->corrupt = 1;
                snprintf(h->corrupt_msg, sizeof h->corrupt_msg, "flip: the old generation could not be "
                         "moved back into the heap: %s", strerror(err));
            }
            return agc_fail(AGC_ESYS, "flip: mremap of the old generation back failed: %s", strerror(err));
        }
        if (later)
            AGC_STORE(h->plan.keep_away, k);
    } else if (move(h->mem.primary, h->mem.fromspace, k, h->mem.span - k) == MAP_FAILED) {
        return agc_fail(AGC_ESYS, "flip: mremap(DONTUNMAP) of the heap failed: %s", strerror(errno));
    }
    h->plan.from_base = h->mem.fromspace;
    /* from-space moved in by mutators (anon_adopt) left mappings of their
     * own in the primary, which never merge again (another anon_vma and
     * page offset): the range, empty now, becomes one mapping again, so
     * that to-space is registered as one and an install never crosses a
     * boundary (UFFDIO_COPY refuses that: ENOENT), and mappings do not pile
     * up cycle after cycle (about 30 us at 1 GiB, only after such moves) */
    if (AGC_LOAD(h->mem.adopted)) {
        if (mmap(h->mem.primary + k, h->mem.span - k, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED)
            return agc_fail(AGC_ESYS, "flip: mapping the emptied heap range again failed: %s", strerror(errno));
        advise(h, k, h->mem.span - k);
        AGC_STORE(h->mem.adopted, 0);
    }
    return AGC_OK;
}

/* Is THP off for the whole system ("never")? Then a read fault maps a small
 * zero page, which gives the mapping no anon_vma. Read once. */
static int thp_never(void)
{
    static _Atomic int known = -1;
    int k = atomic_load(&known);
    if (k >= 0)
        return k;
    char buf[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
    }
    k = f == NULL || strstr(buf, "[never]") != NULL;
    atomic_store(&known, k);
    return k;
}

/* The range the flip emptied is one mapping with no anon_vma
 * (MREMAP_DONTUNMAP leaves the old mapping none). Its first fault gives it
 * one; when that came after the registration had split to-space [K, to_end)
 * off (VM_UFFD_MISSING), each part got its own, they never merged again,
 * and every flip after the first moved two mappings 2 MiB entry by entry
 * instead of one 1 GiB entry (binarytrees 21 / 1 GiB, art-2023, full
 * cycles only: a flip's remap 1.1-1.3 ms with small pages). So one page of
 * the free space above to-space is faulted in now, before the
 * registration, in a 2 MiB block of its own: with huge pages a read (the
 * huge zero page: no memory, ~10 us), else a write of one small page. That
 * fault takes the anon_vma of the neighbour past the span, the anchor
 * (anon_map), which never moves: the heap keeps one anon_vma cycle after
 * cycle, so a young cycle's old generation, moved back after the pause
 * with the anon_vma it had, merges with the rest again. */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
static void give_anon_vma(agc_heap *h, uint64_t to_end)
{
    const uint64_t B = 2ull << 20;
    uint64_t at = (to_end + B - 1) & ~(B - 1);
    if (at + B > h->mem.cap)
        return;     /* no whole free block: the mapping splits, as before */
    madvise(h->mem.primary + at, AGC_PAGE, h->opt.huge_pages && !thp_never() ? MADV_POPULATE_READ
                                                                             : MADV_POPULATE_WRITE);
}

static int anon_flip(agc_heap *h, uint64_t must_zap)
{
    /* must_zap: the end of to-space; all of it is empty after the move */
    int rc = move_away(h, 1);
    if (!rc)
        give_anon_vma(h, must_zap);
    h->plan.to_base = NULL;   /* pages are built in buffers and installed by ioctl */
    h->plan.to_halves = NULL;
    h->plan.map_halves = NULL;
    return rc;
}

/* After a concurrent flip: the old generation back (move_away),
 * then the faults waiting for it go on. Mutators run meanwhile; the move
 * takes the mm's lock, so a fault elsewhere in the heap may wait for it. */
static void anon_flip_done(agc_heap *h)
{
    uint64_t k = AGC_LOAD(h->plan.keep_away);
    if (!k)
        return;
    uint64_t t0 = agc_now_ns();
    uint64_t delay = AGC_LOAD(h->test_old_back_delay_ns);
    if (delay) {
        struct timespec ts = {(time_t)(delay / 1000000000u), (long)(delay % 1000000000u)};
        nanosleep(&ts, NULL);
    }
    if (move(h->mem.fromspace, h->mem.primary, 0, k) == MAP_FAILED && !h->corrupt) {
        /* the old generation stays in from-space: the heap is lost */
        h->corrupt = 1;
        snprintf(h->corrupt_msg, sizeof h->corrupt_msg, "flip: the old generation could not be "
                 "moved back into the heap: %s", strerror(errno));
    }
    __atomic_store_n(&h->plan.keep_away, 0, __ATOMIC_RELEASE);
    if (h->opt.delivery == AGC_DELIVERY_THREAD)     /* faults waiting in the kernel */
        agc_uffd_wake(h->flt.uffd, h->mem.primary, k);
    agc_gc_emit(h, AGC_GE_OLD_BACK, k, agc_now_ns() - t0);
}

/* stw: everything moves away, every page is written straight into the
 * (unregistered, empty) primary range. */
static int anon_stw_begin(agc_heap *h)
{
    int rc = move_away(h, 0);
    h->plan.to_base = h->mem.primary;
    h->plan.to_halves = NULL;
    h->plan.map_halves = NULL;
    return rc;
}

static int anon_stw_end(agc_heap *h) { (void)h; return AGC_OK; }

static uint64_t anon_release(agc_heap *h, uint64_t off, uint64_t len)
{
    return madvise(h->mem.fromspace + off, len, MADV_DONTNEED) == 0 ? len : 0;
}

static void anon_release_live(agc_heap *h, uint64_t off, uint64_t len)
{
    madvise(h->mem.primary + off, len, MADV_DONTNEED);
}

static void anon_after_cycle(agc_heap *h)
{
    agc_reserve_again(h->mem.fromspace, h->mem.span);   /* from-space's pages go back */
}

/* Between cycles only (the primary range is not registered then): map the
 * free space a window ahead of allocation, so the first touch of each page
 * (with huge pages one per 2 MiB) is paid by the GC thread, not the mutator.
 * On this VM a fresh page is dearer the more memory a process touches: the
 * guest gives freed 2 MiB blocks back to the host (virtio-balloon free page
 * reporting) and their next touch faults in the host too. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
static int anon_pretouch(agc_heap *h, uint64_t off, uint64_t len)
{
    return madvise(h->mem.primary + off, len, MADV_POPULATE_WRITE) == 0 ? 0 : -1;
}

/* Can one mremap move a range that spans several mappings (Linux 6.17
 * on)? A from-space chunk moved into the primary (anon_adopt) keeps its
 * own anon_vma, so it stays a mapping of its own, and the next flip moves
 * the primary as one range. Tried once, on three pages of scratch memory. */
static int multi_mapping_moves(void)
{
    static _Atomic int known = -1;
    int k = atomic_load(&known);
    if (k >= 0)
        return k;
    const size_t pg = AGC_PAGE;
    uint8_t *a = mmap(NULL, 6 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *b = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ok = 0, b_moved = 0;
    if (a != MAP_FAILED && b != MAP_FAILED) {
        a[0] = a[2 * pg] = b[0] = 1;          /* each its own anon_vma */
        b_moved = mremap(b, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED, a + pg) != MAP_FAILED;
        ok = b_moved &&
             mremap(a, 3 * pg, 3 * pg, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, a + 3 * pg) != MAP_FAILED &&
             a[4 * pg] == 1;
    }
    if (a != MAP_FAILED)
        munmap(a, 6 * pg);                    /* b's page too, once moved into it */
    if (b != MAP_FAILED && !b_moved)
        munmap(b, pg);
    atomic_store(&known, ok);
    return ok;
}

/* mutator_recycle: from-space pages become free space in the primary (the
 * range above the allocation pointer, unregistered, empty or fresh); the
 * from-space range stays mapped, empty (MREMAP_DONTUNMAP). */
static int anon_adopt(agc_heap *h, uint64_t from, uint64_t to, uint64_t len)
{
    if (!multi_mapping_moves())
        return -1;
    AGC_STORE(h->mem.adopted, 1);    /* before: a failed move may have split the mapping all the same */
    return mremap(h->mem.fromspace + from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
                  h->mem.primary + to) == MAP_FAILED ? -1 : 0;
}

/* Resident pages of the primary and of from-space (mincore: one byte a page). */
static uint64_t resident(uint8_t *base, uint64_t len)
{
    static __thread unsigned char vec[4096];
    uint64_t n = 0;
    for (uint64_t off = 0; off < len; off += sizeof vec * AGC_PAGE) {
        uint64_t l = len - off < sizeof vec * AGC_PAGE ? len - off : sizeof vec * AGC_PAGE;
        if (mincore(base + off, l, vec) != 0)
            continue;
        for (uint64_t i = 0; i < (l + AGC_PAGE - 1) / AGC_PAGE; i++)
            n += vec[i] & 1;
    }
    return n * AGC_PAGE;
}

static uint64_t anon_held(agc_heap *h)
{
    return resident(h->mem.primary, h->mem.cap) + resident(h->mem.fromspace, h->mem.cap);
}

/* mremap moves a whole 1 GiB entry at once only where the range [keep_end,
 * span) covers it as one mapping (the primary spans the whole 1 GiB-aligned
 * reservation, past the capacity, as on shmem): a young cycle's old end
 * (unless the whole range moves and the old generation back) and from-space
 * moved in since the last flip (mutator_recycle: mappings of their own)
 * move 2 MiB entries one by one. */
static int anon_flip_unaligned(agc_heap *h)
{
    uint64_t k = h->plan.keep_end;
    int whole = whole_then_back(h, k);     /* the old generation back after the pause */
    return ((k & (AGC_ALIGN_RESERVE - 1)) != 0 && !whole) || AGC_LOAD(h->mem.adopted);
}

const agc_space_ops agc_space_anon = {
    .name = "anon", .id = AGC_MEMORY_ANON,
    .map = anon_map, .unmap = anon_unmap, .keep = anon_keep,
    .prepare = anon_prepare, .prepare_late = anon_prepare_late, .populate = anon_populate,
    .flip = anon_flip, .flip_done = anon_flip_done,
    .stw_begin = anon_stw_begin, .stw_end = anon_stw_end,
    .release = anon_release, .release_live = anon_release_live, .after_cycle = anon_after_cycle,
    .adopt = anon_adopt, .pretouch = anon_pretouch, .held_bytes = anon_held, .flip_unaligned = anon_flip_unaligned,
};
