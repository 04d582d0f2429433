/* A standalone driver of the C core, for sanitizer runs (ThreadSanitizer
 * cannot be loaded into CPython): runs the graph and lru workloads with
 * several mutators in every mode and delivery, verifier on, and prints the
 * cycles survived; then stw, copy and move again with generational cycles
 * (young cycles: the card table under concurrent stores). Build and run:
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
    /* mode 4..6: stw, copy, move with generational cycles (sigbus) */
    for (int mm = 0; mm < 7; mm++)
        for (int d = 0; d < (mm >= 1 && mm < 4 ? 2 : 1); d++) {
            int mode = mm < 4 ? mm : (int[]){AGC_MODE_STW, AGC_MODE_COPY, AGC_MODE_MOVE}[mm - 4];
            int gen = mm >= 4;
            unsigned long long cycles = 0, young = 0;
            for (int r = 0; r < rounds; r++)
                for (int w = 0; w < 2; w++) {
                    agc_options o;
                    agc_options_default(&o);
                    o.mode = mode;
                    o.delivery = d;
                    o.generational = gen ? AGC_GEN_ON : AGC_GEN_OFF;
                    o.verify = 1;
                    o.gc_threads = 2;
                    o.capacity = w == 0 ? 4u << 20 : 16u << 20;
                    agc_heap *h;
                    if (agc_heap_create(&o, &h) != AGC_OK) {
                        printf("%s%s: %s\n", modes[mode], gen ? " generational" : "", agc_last_error());
                        failures++;
                        continue;
                    }
                    agc_wl_params p = {w == 0 ? "graph" : "lru", w == 0 ? 20 : 200, 4, (uint64_t)r + 1, 0};
                    agc_wl_result res;
                    memset(&res, 0, sizeof res);
                    int rc = agc_workload_run(h, &p, &res);
                    if (rc != AGC_OK) {
                        printf("%s/%s%s %s: %s\n", modes[mode], d ? "thread" : "sigbus", gen ? " generational" : "",
                               p.name, res.error);
                        failures++;
                    }
                    cycles += agc_cycle_count(h);
                    for (uint64_t i = 0; i < agc_cycle_count(h); i++) {
                        agc_cycle_stats cs;
                        if (agc_cycle_get(h, i, &cs) == AGC_OK && cs.kind == 1)
                            young++;
                    }
                    agc_wl_result_free(&res);
                    agc_heap_destroy(h);
                }
            printf("%s/%s%s: %llu cycles survived (%llu young), verifier on\n", modes[mode], d ? "thread" : "sigbus",
                   gen ? " generational" : "", cycles, young);
        }
    return failures ? 1 : 0;
}
