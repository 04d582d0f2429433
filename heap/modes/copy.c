/* copy (ART 2023): a page is built in a buffer and installed with
 * UFFDIO_COPY into a MISSING-registered range; the kernel allocates, zeroes
 * and fills a page. Runs on anonymous memory (as ART) or on the memfd. */
#include "internal.h"
#include "modes/mode.h"

static int copy_check(const agc_options *o, int memory, const agc_uffd_caps *c)
{
    (void)o;
    if (memory == AGC_MEMORY_SHMEM && !c->missing_shmem)
        return agc_fail(AGC_EUNSUPPORTED,
                        "mode 'copy' on shmem needs UFFD_FEATURE_MISSING_SHMEM, which this kernel does not "
                        "grant (see `artgc probe`: features.missing_shmem); --memory anon does not need it");
    return AGC_OK;
}

static unsigned copy_want(agc_heap *h, const agc_uffd_caps *c)
{
    (void)c;
    return h->space->id == AGC_MEMORY_SHMEM ? AGC_UFFD_WANT_MISSING_SHMEM : 0;
}

static int missing_reg(agc_heap *h) { (void)h; return AGC_UFFD_REG_MISSING; }

static int copy_install(agc_heap *h, uint64_t p, uint64_t k, uint8_t *buf)
{
    return agc_uffd_copy(h->flt.uffd, h->mem.primary + p * AGC_PAGE, buf, k * AGC_PAGE, 0);
}

const agc_mode_ops agc_mode_copy = {
    .name = "copy", .id = AGC_MODE_COPY,
    .memories = AGC_MEM_OK_SHMEM | AGC_MEM_OK_ANON, .default_memory = AGC_MEMORY_ANON,
    .faults = 1, .fault_kind = AGC_FAULT_MISSING,
    .check = copy_check, .uffd_want = copy_want, .reg_modes = missing_reg,
    .install = copy_install, .cycle = agc_cycle_concurrent,
};
