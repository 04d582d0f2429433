/* A standalone driver of the C core, for sanitizer runs (ThreadSanitizer
 * cannot be loaded into CPython): runs the graph and lru workloads with
 * several mutators in every mode and delivery, verifier on, and prints the
 * cycles survived.  Build and run: heap/tools/tsan.sh */
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
    for (int mode = 0; mode < 4; mode++)
        for (int d = 0; d < (mode ? 2 : 1); d++) {
            unsigned long long cycles = 0;
            for (int r = 0; r < rounds; r++)
                for (int w = 0; w < 2; w++) {
                    agc_options o;
                    agc_options_default(&o);
                    o.mode = mode;
                    o.delivery = d;
                    o.verify = 1;
                    o.gc_threads = 2;
                    o.capacity = w == 0 ? 4u << 20 : 16u << 20;
                    agc_heap *h;
                    if (agc_heap_create(&o, &h) != AGC_OK) {
                        printf("%s: %s\n", modes[mode], agc_last_error());
                        failures++;
                        continue;
                    }
                    agc_wl_params p = {w == 0 ? "graph" : "lru", w == 0 ? 20 : 200, 4, (uint64_t)r + 1, 0};
                    agc_wl_result res;
                    memset(&res, 0, sizeof res);
                    int rc = agc_workload_run(h, &p, &res);
                    if (rc != AGC_OK) {
                        printf("%s/%s %s: %s\n", modes[mode], d ? "thread" : "sigbus", p.name, res.error);
                        failures++;
                    }
                    cycles += agc_cycle_count(h);
                    agc_wl_result_free(&res);
                    agc_heap_destroy(h);
                }
            printf("%s/%s: %llu cycles survived, verifier on\n", modes[mode], d ? "thread" : "sigbus", cycles);
        }
    return failures ? 1 : 0;
}
