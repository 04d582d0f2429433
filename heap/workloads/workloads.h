/* Native workloads run as mutator threads on a heap. */
#ifndef ARTGC_WORKLOADS_H
#define ARTGC_WORKLOADS_H
#include <stddef.h>
#include <stdint.h>
#include "heap_api.h"

typedef struct agc_wl_params {
    const char *name;      /* binarytrees | gcbench | lru | graph */
    int64_t size;          /* the workload's own size parameter; <= 0: its default */
    int mutators;          /* >= 1 */
    uint64_t seed;
    uint64_t live;         /* lru: the cache's live data in bytes; 0: 8192 entries */
} agc_wl_params;

typedef struct agc_wl_result {
    char *output;          /* the workload's text (malloc'd; agc_wl_result_free) */
    size_t output_len;
    int failed;            /* its own checks failed, or out of memory */
    char error[512];
    /* request-driven workloads (lru): each request's latency and start
     * (CLOCK_MONOTONIC ns); metered latency is computed from them (artgc.metrics) */
    uint64_t *latency_ns, *start_ns;
    uint64_t nlatency;
    uint64_t counters[8];  /* workload-specific: lru hits, misses; graph ops */
    uint64_t wall_ns;
    uint64_t interrupted;
} agc_wl_result;

const char *agc_workload_names(void);          /* "binarytrees,gcbench,lru,graph" */
int64_t agc_workload_default_size(const char *name);  /* -1 if unknown */
/* Runs the workload to completion on h (attaching its own threads). Returns
 * AGC_OK, or an AGC_E* code with agc_last_error / r->error set. */
/* Details (all added; the declarations above and below are unchanged):
 *  - r is overwritten (zeroed first): free a previous result before reuse.
 *    r->output is always set (possibly ""), also on failure: partial output.
 *  - AGC_EINVAL: bad name / mutators (1..256) / size (per workload, the
 *    message states the range; size <= 0 means the workload's default).
 *  - AGC_EOOM: an allocation failed even after a collection: every thread
 *    stops, failed = 1, error names the workload and what it was allocating.
 *  - AGC_ECORRUPT: the workload's own checks failed (binarytrees/gcbench
 *    tree counts, gcbench's array, lru's payload bytes): failed = 1.
 *  - AGC_EINTR: agc_workload_interrupt() was called: interrupted = 1,
 *    failed = 0, output and counters hold what was done until then.
 *  - sizes: binarytrees 1..30 (default 21, the game's N); gcbench 4..24
 *    (default 16 = the original parameters); lru 1..20000 (default 500,
 *    thousands of requests); graph 1..10000 (default 100, thousands of nodes).
 *  - counters: lru 0 hits, 1 misses, 2 LRU evictions, 3 invalidations,
 *    4 requests; graph 0 slot writes, 1 slots cleared, 2 replacements,
 *    3 rounds, 4 nodes. latency_ns / start_ns: lru only (nlatency
 *    requests, thread by thread). */
int agc_workload_run(agc_heap *h, const agc_wl_params *p, agc_wl_result *r);
void agc_wl_result_free(agc_wl_result *r);
/* Ask a running workload to stop early (e.g. on SIGINT); safe from any thread. */
void agc_workload_interrupt(void);
#endif
