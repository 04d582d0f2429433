/* move (ART 2025): GC threads build runs of pages into recycled from-space
 * pages (ones no page left to build reads: heap/release.c) and move them into
 * place with UFFDIO_MOVE: no kernel allocation, zeroing or copy, and no
 * madvise for them. A faulting mutator builds in its own scratch page (MOVE
 * takes it; the next write refills it). Anonymous memory only: Linux 6.18's
 * UFFDIO_MOVE refuses shmem on either side (heap/testing/uffd_selftest.c). */
#include <errno.h>
#include "internal.h"
#include "modes/mode.h"

static int move_check(const agc_options *o, int memory, const agc_uffd_caps *c)
{
    (void)o; (void)memory;
    if (!c->move)
        return agc_fail(AGC_EUNSUPPORTED,
                        "mode 'move' needs UFFDIO_MOVE (UFFD_FEATURE_MOVE, Linux 6.8+), which this "
                        "kernel does not grant (see `artgc probe`: features.move)");
    return AGC_OK;
}

static unsigned move_want(agc_heap *h, const agc_uffd_caps *c) { (void)h; (void)c; return AGC_UFFD_WANT_MOVE; }
static int missing_reg(agc_heap *h) { (void)h; return AGC_UFFD_REG_MISSING; }

/* EBUSY: the source pages belong to a large folio the kernel could not
 * split for the move: a huge page that a young cycle's flip left mapped
 * partly in the primary (the old generation ends inside it) and partly in
 * from-space. Their contents are built all the same: copy them (pages
 * already moved answer EEXIST, which counts as done). */
static int move_or_copy(agc_heap *h, uint64_t p, uint64_t k, uint8_t *buf)
{
    int rc = agc_uffd_move(h->flt.uffd, h->mem.primary + p * AGC_PAGE, buf, k * AGC_PAGE, 0);
    if (rc == -EBUSY)
        rc = agc_uffd_copy(h->flt.uffd, h->mem.primary + p * AGC_PAGE, buf, k * AGC_PAGE, 0);
    return rc;
}

static int move_install(agc_heap *h, uint64_t p, uint64_t k, uint8_t *buf)
{
    /* huge_moves: only whole blocks are moved (the kernel moves their PMD);
     * a run or a mutator's page goes in with COPY, which here costs less
     * than MOVE of 4 KiB pages: MOVE flushes each source page's TLB entry,
     * an IPI to every CPU running a mutator (benchmarks/move_cost.c: one
     * page with another thread running, MOVE 16 us, COPY 2.5 us; in a
     * compaction's runs of 16, MOVE 1.5-1.7 us a page, COPY 1.3-1.4) */
    if (h->opt.huge_moves && !(k == AGC_BLOCK_PAGES && p % AGC_BLOCK_PAGES == 0))
        return agc_uffd_copy(h->flt.uffd, h->mem.primary + p * AGC_PAGE, buf, k * AGC_PAGE, 0);
    /* MOVE takes the buffer's pages away; the next write refills them */
    int rc = move_or_copy(h, p, k, buf);
    if (rc != -EINVAL || k == 1)
        return rc;
    /* A run of recycled pages can cross a boundary between from-space's
     * mappings (the kernel does not always merge the primary's mappings
     * again after a cycle's registration, and the flip moves them as they
     * are); one ioctl must stay within one mapping: page by page (pages
     * already moved answer EEXIST, which counts as done). */
    int any = 0;
    for (uint64_t i = 0; i < k; i++) {
        rc = move_or_copy(h, p + i, 1, buf + i * AGC_PAGE);
        if (rc < 0)
            return rc;
        any |= rc;
    }
    return any;
}

const agc_mode_ops agc_mode_move = {
    .name = "move", .id = AGC_MODE_MOVE,
    .memories = AGC_MEM_OK_ANON, .default_memory = AGC_MEMORY_ANON,
    .memory_refusal = "UFFDIO_MOVE needs private anonymous memory on both sides (Linux 6.18 refuses "
                      "shmem, see heap/testing/uffd_selftest.c); use --memory anon",
    .faults = 1, .fault_kind = AGC_FAULT_MISSING,
    .check = move_check, .uffd_want = move_want, .reg_modes = missing_reg,
    .recycles = 1, .install = move_install, .cycle = agc_cycle_concurrent,
};
