/* Native workloads run as mutator threads on a heap. */
#ifndef ARTGC_WORKLOADS_H
#define ARTGC_WORKLOADS_H
#include <stddef.h>
#include <stdint.h>
#include "../heap_api.h"

typedef struct agc_wl_params {
    const char *name;      /* binarytrees | gcbench | lru | graph */
    int64_t size;          /* the workload's own size parameter; <= 0: its default */
    int mutators;          /* >= 1 */
    uint64_t seed;
} agc_wl_params;

typedef struct agc_wl_result {
    char *output;          /* the workload's text (malloc'd; agc_wl_result_free) */
    size_t output_len;
    int failed;            /* its own checks failed, or out of memory */
    char error[512];
    /* request latencies of request-driven workloads (lru): metered and raw */
    uint64_t *latency_ns, *metered_latency_ns;
    uint64_t nlatency;
    uint64_t counters[8];  /* workload-specific: lru hits, misses; graph ops */
    uint64_t wall_ns;
    uint64_t interrupted;
} agc_wl_result;

const char *agc_workload_names(void);          /* "binarytrees,gcbench,lru,graph" */
int64_t agc_workload_default_size(const char *name);  /* -1 if unknown */
/* Runs the workload to completion on h (attaching its own threads). Returns
 * AGC_OK, or an AGC_E* code with agc_last_error / r->error set. */
int agc_workload_run(agc_heap *h, const agc_wl_params *p, agc_wl_result *r);
void agc_wl_result_free(agc_wl_result *r);
/* Ask a running workload to stop early (e.g. on SIGINT); safe from any thread. */
void agc_workload_interrupt(void);
#endif
