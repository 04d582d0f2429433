/* A standalone driver of the C core, for sanitizer runs (ThreadSanitizer
 * cannot be loaded into CPython): runs the graph and lru workloads with
 * several mutators in every mode and delivery, verifier on, and prints the
 * cycles survived; then copy (sigbus) and move (thread) again with
 * generational cycles on lru (young cycles: the card table under concurrent
 * stores), copy (sigbus) with mutator_recycle on lru (mutators moving
 * from-space in while GC threads release it), and minor (sigbus) with
 * keep_tospace on lru (to-space built into the pages the last cycle kept
 * while GC threads release the rest), and minor (sigbus) with
 * keep_tospace, release_pacing, build_ahead and descending order (GC
 * threads following faulting mutators, releases paced against builds).
 * Build and run:
 * heap/tools/tsan.sh */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "heap_api.h"
#include "../workloads/workloads.h"

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 1;
    const char *modes[] = {"stw", "copy", "minor", "move"};
    int failures = 0;
    /* mm 4, 5: copy/sigbus and move/thread with generational cycles;
     * 6: copy/sigbus with mutator_recycle; 7: minor/sigbus with keep_tospace;
     * 8: minor/sigbus with keep_tospace, release_pacing, build_ahead, descending */
    for (int mm = 0; mm < 9; mm++)
        for (int dd = 0; dd < (mm >= 1 && mm < 4 ? 2 : 1); dd++) {
            int mode = mm < 4 ? mm : mm == 5 ? AGC_MODE_MOVE : mm >= 7 ? AGC_MODE_MINOR : AGC_MODE_COPY;
            int gen = mm == 4 || mm == 5, rec = mm == 6, keep = mm >= 7, pace = mm == 8;
            const char *what = gen ? " generational" : rec ? " mutator_recycle" :
                               pace ? " keep_tospace release_pacing build_ahead descending" :
                               keep ? " keep_tospace" : "";
            int d = mm == 5 ? AGC_DELIVERY_THREAD : dd;
            unsigned long long cycles = 0, young = 0, recycled = 0;
            for (int r = 0; r < rounds; r++)
                for (int w = gen || rec || keep; w < 2; w++) {   /* generational, recycling, keep: lru only (CI's time) */
                    agc_options o;
                    agc_options_default(&o);
                    o.mode = mode;
                    o.delivery = d;
                    o.generational = gen ? AGC_GEN_ON : AGC_GEN_OFF;
                    o.young_flip_max_ms = 0;   /* young cycles however many cards lru dirties */
                    o.verify = 1;
                    o.gc_threads = 2;
                    o.mutator_recycle = rec;
                    o.keep_tospace = keep;
                    o.release_pacing = pace;
                    o.build_ahead = pace;
                    if (pace)
                        o.order = AGC_ORDER_DESCENDING;
                    o.capacity = w == 0 ? 4u << 20 : rec ? 32u << 20 : 16u << 20;
                    agc_heap *h;
                    if (agc_heap_create(&o, &h) != AGC_OK) {
                        printf("%s%s: %s\n", modes[mode], what, agc_last_error());
                        failures++;
                        continue;
                    }
                    agc_wl_params p = {w == 0 ? "graph" : "lru", w == 0 ? 20 : 200, 4, (uint64_t)r + 1, 0};
                    agc_wl_result res;
                    memset(&res, 0, sizeof res);
                    int rc = agc_workload_run(h, &p, &res);
                    if (rc != AGC_OK) {
                        printf("%s/%s%s %s: %s\n", modes[mode], d ? "thread" : "sigbus", what, p.name, res.error);
                        failures++;
                    }
                    cycles += agc_cycle_count(h);
                    for (uint64_t i = 0; i < agc_cycle_count(h); i++) {
                        agc_cycle_stats cs;
                        if (agc_cycle_get(h, i, &cs) == AGC_OK) {
                            young += cs.kind == 1;
                            recycled += cs.recycled_free_bytes;
                        }
                    }
                    agc_wl_result_free(&res);
                    agc_heap_destroy(h);
                }
            printf("%s/%s%s: %llu cycles survived (%llu young, %llu MiB recycled), verifier on\n", modes[mode],
                   d ? "thread" : "sigbus", what, cycles, young, recycled >> 20);
        }
    return failures ? 1 : 0;
}
