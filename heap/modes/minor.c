/* minor (the seed's plan): to-space is the other half of the memfd, built in
 * place through the alias and mapped with UFFDIO_CONTINUE (no copy, no
 * allocation). The range is registered MINOR, and MISSING too where the
 * kernel can, so a to-space page not populated before the flip (allocation
 * since marking) is caught as a missing fault instead of being populated
 * inside the pause. */
#include "internal.h"
#include "modes/mode.h"

static int minor_check(const agc_options *o, int memory, const agc_uffd_caps *c)
{
    (void)o; (void)memory;
    if (!c->minor_shmem)
        return agc_fail(AGC_EUNSUPPORTED,
                        "mode 'minor' needs UFFD_FEATURE_MINOR_SHMEM (Linux 5.14+), which this kernel "
                        "does not grant (see `artgc probe`: features.minor_shmem)");
    return AGC_OK;
}

static unsigned minor_want(agc_heap *h, const agc_uffd_caps *c)
{
    unsigned want = AGC_UFFD_WANT_MINOR_SHMEM;
    if (c->missing_shmem) {
        want |= AGC_UFFD_WANT_MISSING_SHMEM;
        h->flt.minor_catch_missing = 1;
    }
    return want;
}

static int minor_reg(agc_heap *h)
{
    return AGC_UFFD_REG_MINOR | (h->flt.minor_catch_missing ? AGC_UFFD_REG_MISSING : 0);
}

static int minor_install(agc_heap *h, uint64_t p, uint64_t k, uint8_t *buf)
{
    (void)buf;
    return agc_uffd_continue(h->flt.uffd, h->mem.primary + p * AGC_PAGE, k * AGC_PAGE, 0);
}

const agc_mode_ops agc_mode_minor = {
    .name = "minor", .id = AGC_MODE_MINOR,
    .memories = AGC_MEM_OK_SHMEM, .default_memory = AGC_MEMORY_SHMEM,
    .memory_refusal = "UFFDIO_CONTINUE maps pages that exist in a shared mapping's page cache, "
                      "which private anonymous memory has not; use --memory shmem",
    .faults = 1, .fault_kind = AGC_FAULT_MINOR,
    .check = minor_check, .uffd_want = minor_want, .reg_modes = minor_reg,
    .populate_tospace = 1, .build_in_place = 1,
    .install = minor_install, .cycle = agc_cycle_concurrent,
};
