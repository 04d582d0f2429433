/* The GC thread: requests, pacing, the cycle (collector.c). */
#ifndef ARTGC_COLLECTOR_H
#define ARTGC_COLLECTOR_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"

/* The GC thread, its requests and its pacing (collector.c). */
typedef struct agc_gc_thread {
    uint64_t gc_baseline;       /* used bytes after the last cycle (trigger base) */
    uint64_t trigger_reserve;   /* adaptive trigger: free space to keep for a cycle */
    uint64_t prev_cycle_end_ns, prev_used_after;
    pthread_t gc_thread;
    int gc_thread_started;
    pthread_mutex_t gc_lock;
    pthread_cond_t gc_req_cond, gc_done_cond;
    int gc_request;             /* a cycle is wanted */
    int gc_request_reason;
    int gc_stop_after_flip;
    int gc_busy;                /* a cycle is running */
    int gc_shutdown;
    int pretouch_wanted;        /* allocation came near the end of what is mapped ahead */
    uint64_t pretouched_upto;   /* live-space bytes mapped ahead of allocation */
    int pretouch_unsupported;   /* the memory or the kernel cannot map ahead */
    uint64_t mapped_to;         /* free space known mapped up to here in the current layout
                                 * (by the GC's pretouch or a mutator's map_before_bump) */
    uint64_t layout_epoch;      /* bumped when the heap's pages move (flip, cycle end) */
    uint64_t mutator_maps;      /* map_before_bump calls since the last cycle record */
    uint64_t mutator_map_ns;    /* and their time */
    uint64_t cycles_done;
    uint64_t cycles_started;
    int last_cycle_error;
    char last_cycle_msg[512];
} agc_gc_thread;

/* collector.c */
int agc_gc_start(agc_heap *h);
void agc_gc_shutdown(agc_heap *h);
int agc_request_cycle(agc_heap *h, int reason, int wait, int stop_after_flip);
void agc_maybe_trigger(agc_heap *h);
void agc_mapped_to_max(agc_heap *h, uint64_t end);   /* free space mapped up to end */
uint64_t agc_pretouch_end(const agc_heap *h, uint64_t top);   /* how far the free space is mapped ahead */
void agc_layout_changed(agc_heap *h);   /* the GC moved the heap's pages: nothing above is known mapped */
int agc_collect_finish_cycle(agc_heap *h);
#endif
