/* move (ART 2025): a page is built in a buffer page and moved into place with
 * UFFDIO_MOVE (no copy by the kernel). Anonymous memory only: Linux 6.18's
 * UFFDIO_MOVE refuses shmem on either side (heap/uffd_selftest.c). */
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

static int move_install(agc_heap *h, uint64_t p, uint64_t k, uint8_t *buf)
{
    /* MOVE takes the buffer's pages away; the next write refills them */
    return agc_uffd_move(h->uffd, h->primary + p * AGC_PAGE, buf, k * AGC_PAGE, 0);
}

const agc_mode_ops agc_mode_move = {
    .name = "move", .id = AGC_MODE_MOVE,
    .memories = AGC_MEM_OK_ANON, .default_memory = AGC_MEMORY_ANON,
    .memory_refusal = "UFFDIO_MOVE needs private anonymous memory on both sides (Linux 6.18 refuses "
                      "shmem, see heap/uffd_selftest.c); use --memory anon",
    .faults = 1, .fault_kind = AGC_FAULT_MISSING,
    .check = move_check, .uffd_want = move_want, .reg_modes = missing_reg,
    .install = move_install, .cycle = agc_cycle_concurrent,
};
