/* shmem memory: one memfd of two halves of capacity. The primary mapping
 * (1 GiB aligned, mutators) shows the live half, the alias maps the whole
 * memfd (GC writes), the standby maps the next to-space half ahead of time
 * with the page tables it kept as the previous from-space. Every mapping of
 * a half spans its whole 1 GiB-aligned reservation, so the flip's mremap
 * moves top-level page-table entries whatever the heap size. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

static int shmem_map(agc_heap *h)
{
    h->mem.memfd = memfd_create("artgc-heap", MFD_CLOEXEC);
    if (h->mem.memfd < 0)
        return agc_fail(AGC_ESYS, "memfd_create failed: %s", strerror(errno));
    if (ftruncate(h->mem.memfd, (off_t)(2 * h->mem.cap)) != 0)
        return agc_fail(AGC_ESYS, "cannot size the heap memfd to %llu bytes: %s",
                        (unsigned long long)(2 * h->mem.cap), strerror(errno));
    h->mem.alias = mmap(NULL, 2 * h->mem.cap, PROT_READ | PROT_WRITE, MAP_SHARED, h->mem.memfd, 0);
    if (h->mem.alias == MAP_FAILED) {
        h->mem.alias = NULL;
        return agc_fail(AGC_ESYS, "cannot map the heap alias: %s", strerror(errno));
    }
    if (mmap(h->mem.primary, h->mem.span, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
             h->mem.memfd, 0) == MAP_FAILED)
        return agc_fail(AGC_ESYS, "cannot map the heap: %s", strerror(errno));
    h->mem.live_half = 0;
    return AGC_OK;
}

static void shmem_unmap(agc_heap *h)
{
    if (h->mem.alias)
        munmap(h->mem.alias, 2 * h->mem.cap);
    if (h->mem.memfd >= 0)
        close(h->mem.memfd);
    h->mem.alias = NULL;
    h->mem.memfd = -1;
}

static void punch_half(agc_heap *h, int half, uint64_t off, uint64_t len)
{
    fallocate(h->mem.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, half_off(h, half) + (off_t)off, (off_t)len);
}

/* Make the standby map the to-space half, and drop the page-table entries
 * of its first zap_len bytes (the pages compaction will build, which must
 * fault). The rest keeps its entries from the cycle before, so mutators
 * allocating there after the flip take no page fault. */
static int standby_prepare(agc_heap *h, uint64_t zap_len)
{
    if (!h->mem.standby_valid || h->mem.standby_half != h->plan.to_half) {
        if (mmap(h->mem.standby, h->mem.span, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, h->mem.memfd,
                 half_off(h, h->plan.to_half)) == MAP_FAILED)
            return agc_fail(AGC_ESYS, "mapping the next to-space failed: %s", strerror(errno));
        h->mem.standby_valid = 1;
        h->mem.standby_half = h->plan.to_half;
        h->mem.zapped_upto = h->mem.cap;     /* a fresh mapping has no entries at all */
        return AGC_OK;
    }
    if (zap_len && madvise(h->mem.standby, zap_len, MADV_DONTNEED) != 0)
        return agc_fail(AGC_ESYS, "dropping to-space page tables failed: %s", strerror(errno));
    h->mem.zapped_upto = zap_len;
    return AGC_OK;
}

static int shmem_prepare(agc_heap *h, uint64_t populate, uint64_t zap)
{
    h->plan.to_half = 1 - h->mem.live_half;
    if (populate) {
        if (fallocate(h->mem.memfd, 0, half_off(h, h->plan.to_half), (off_t)populate) != 0)
            return agc_fail(AGC_EOOM, "cannot populate %llu bytes of to-space: %s",
                            (unsigned long long)populate, strerror(errno));
    }
    if (!h->mode->build_in_place || zap == 0)
        return AGC_OK;   /* the flip maps the (empty) to-space half afresh */
    zap = zap > h->mem.cap ? h->mem.cap : (zap + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    return standby_prepare(h, zap);
}

static int shmem_populate(agc_heap *h, uint64_t off, uint64_t len)
{
    return fallocate(h->mem.memfd, 0, half_off(h, h->plan.to_half) + (off_t)off, (off_t)len);
}

/* Right before the flip's stop: drop the standby's entries up to `upto`
 * too, so that what was allocated since the preparation is not left for the
 * flip to drop. */
static int shmem_prepare_late(agc_heap *h, uint64_t upto)
{
    if (!h->mode->build_in_place || !h->mem.standby_valid || h->mem.standby_half != h->plan.to_half)
        return AGC_OK;
    upto = upto > h->mem.cap ? h->mem.cap : (upto + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    if (upto <= h->mem.zapped_upto)
        return AGC_OK;
    if (madvise(h->mem.standby + h->mem.zapped_upto, upto - h->mem.zapped_upto, MADV_DONTNEED) != 0)
        return agc_fail(AGC_ESYS, "dropping to-space page tables failed: %s", strerror(errno));
    h->mem.zapped_upto = upto;
    return AGC_OK;
}

/* The primary range now shows to-space. Page tables move with mremap
 * (cheap at 1 GiB alignment); must_zap bytes at the start of to-space lose
 * their entries so that touching them faults. */
static int map_tospace(agc_heap *h, uint64_t must_zap)
{
    void *r = agc_move_mapping(h->mem.primary, h->mem.fromspace, h->mem.span);
    if (r == MAP_FAILED)
        return agc_fail(AGC_ESYS, "flip: mremap of the heap failed: %s", strerror(errno));
    if (h->mem.standby_valid && h->mem.standby_half == h->plan.to_half) {
        r = agc_move_mapping(h->mem.standby, h->mem.primary, h->mem.span);
        if (r == MAP_FAILED)
            return agc_fail(AGC_ESYS, "flip: mremap of to-space failed: %s", strerror(errno));
        h->mem.standby_valid = 0;
        agc_reserve_again(h->mem.standby, h->mem.span);
        if (must_zap > h->mem.zapped_upto &&
            madvise(h->mem.primary + h->mem.zapped_upto, must_zap - h->mem.zapped_upto, MADV_DONTNEED) != 0)
            return agc_fail(AGC_ESYS, "flip: dropping to-space page tables failed: %s", strerror(errno));
        return AGC_OK;
    }
    if (mmap(h->mem.primary, h->mem.span, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, h->mem.memfd,
             half_off(h, h->plan.to_half)) == MAP_FAILED)
        return agc_fail(AGC_ESYS, "flip: mapping to-space failed: %s", strerror(errno));
    return AGC_OK;
}

static void set_bases(agc_heap *h)
{
    h->plan.from_base = h->mem.alias + (uint64_t)h->mem.live_half * h->mem.cap;
    h->plan.to_base = h->mem.alias + (uint64_t)h->plan.to_half * h->mem.cap;
}

static int shmem_flip(agc_heap *h, uint64_t must_zap)
{
    int rc = map_tospace(h, must_zap);
    if (rc)
        return rc;
    set_bases(h);
    if (!h->mode->build_in_place)
        h->plan.to_base = NULL;
    h->mem.live_half = h->plan.to_half;
    return AGC_OK;
}

static int shmem_stw_begin(agc_heap *h)
{
    h->plan.to_half = 1 - h->mem.live_half;
    set_bases(h);
    return AGC_OK;
}

static int shmem_stw_end(agc_heap *h)
{
    /* no fault is taken: the standby's page tables can all stay */
    int rc = standby_prepare(h, 0);
    if (!rc)
        rc = map_tospace(h, 0);
    h->mem.live_half = h->plan.to_half;
    return rc;
}

static void shmem_release(agc_heap *h, uint64_t off, uint64_t len)
{
    punch_half(h, 1 - h->mem.live_half, off, len);
}

static void shmem_release_live(agc_heap *h, uint64_t off, uint64_t len)
{
    punch_half(h, h->mem.live_half, off, len);
}

/* The old primary, now at F, either becomes the standby of the next cycle
 * (its half is the next to-space; its page tables are kept) or is dropped
 * and its half punched (the next to-space must be empty for a mode whose
 * pages are installed by MISSING faults, or when reuse_tospace is off). */
static void shmem_after_cycle(agc_heap *h)
{
    int from_half = 1 - h->mem.live_half;
    int keep = h->opt.reuse_tospace && h->mode->build_in_place && !h->rel.released_during;
    if (keep) {
        void *r = agc_move_mapping(h->mem.fromspace, h->mem.standby, h->mem.span);
        if (r != MAP_FAILED) {
            h->mem.standby_valid = 1;
            h->mem.standby_half = from_half;
            agc_reserve_again(h->mem.fromspace, h->mem.span);
            return;
        }
    }
    agc_reserve_again(h->mem.fromspace, h->mem.span);
    punch_half(h, from_half, 0, h->mem.cap);
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

const agc_space_ops agc_space_shmem = {
    .name = "shmem", .id = AGC_MEMORY_SHMEM,
    .map = shmem_map, .unmap = shmem_unmap,
    .prepare = shmem_prepare, .prepare_late = shmem_prepare_late, .populate = shmem_populate,
    .flip = shmem_flip,
    .stw_begin = shmem_stw_begin, .stw_end = shmem_stw_end,
    .release = shmem_release, .release_live = shmem_release_live, .after_cycle = shmem_after_cycle,
    .pretouch = shmem_pretouch, .held_bytes = shmem_held,
};
