/* stw: the same marking and sliding compaction, all inside one pause; works
 * on every kernel (no userfaultfd). Its own cycle driver. */
#include "internal.h"
#include "modes/mode.h"
#include "modes/driver.h"

int agc_cycle_stw(agc_heap *h, agc_cycle_stats *c)
{
    (void)c;
    agc_do_marking(h, 1);           /* leaves the world stopped */
    agc_layout_changed(h);
    uint64_t T = h->mk.black_top;
    int rc = AGC_OK;
    if (agc_plan_below_s(h, T)) {
        /* nothing would move: the heap stays as it is */
        h->plan.cycle_skipped = AGC_SKIP_DENSE;
        h->plan.npages = 0;
        agc_gc_emit(h, AGC_GE_COMPACTION_DONE, 0, 0);
        agc_resume_world(h, AGC_PHASE_STW);
        return AGC_OK;
    }
    agc_gen_plan(h);
    /* forwarded before anything is built, as at a concurrent flip: the page
     * the old generation ends on is copied with its old part forwarded, and
     * the cards the builder dirties for what it promotes onto the card the
     * old end falls in stay dirty (forwarding cleans the cards whose old
     * part holds no young reference) */
    agc_for_each_root(h, agc_forward_root, NULL);
    agc_gen_forward_cards(h);
    rc = h->space->stw_begin(h);   /* a young cycle leaves the old generation where it is */
    if (!rc) {
        for (uint64_t p = h->plan.keep_end / AGC_PAGE; p < h->plan.npages; p++) {
            uint64_t moved = agc_build_page(h, p, agc_to_page(h, p));
            agc_gc_count(h, AGC_GE_PAGE_BUILT, 1, moved);
        }
        rc = h->space->stw_end(h);
    }
    if (!rc)
        agc_alloc_flipped(h, (h->plan.new_end + AGC_PAGE - 1) & ~(AGC_PAGE - 1), 0);
    agc_gc_emit(h, AGC_GE_FLIPPED, 0, 0);
    agc_gc_emit(h, AGC_GE_COMPACTION_DONE, 0, 0);
    agc_resume_world(h, AGC_PHASE_STW);
    return rc;
}

const agc_mode_ops agc_mode_stw = {
    .name = "stw", .id = AGC_MODE_STW,
    .memories = AGC_MEM_OK_SHMEM | AGC_MEM_OK_ANON, .default_memory = AGC_MEMORY_ANON,
    .faults = 0, .build_in_place = 1,
    .cycle = agc_cycle_stw,
};
