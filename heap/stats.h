/* The statistics listener's state, the cycle records, verification (stats.c, verify.c). */
#ifndef ARTGC_STATS_H
#define ARTGC_STATS_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"

/* The statistics listener's state and the cycle records (stats.c). */
typedef struct agc_stats_state {
    uint64_t st_stop_t0, st_stopped_t, st_roots_t;
    int st_phase;
    pthread_mutex_t stats_lock;
    agc_cycle_stats *cycles;
    uint64_t ncycles, cycles_cap;
    agc_cycle_stats cur;
    uint32_t *map_before, *map_after;
    uint64_t map_before_n, map_after_n;
} agc_stats_state;

/* stats.c */
void agc_record_event(agc_mutator *m, int kind, uint64_t t0, uint64_t dur, uint32_t phase);
void agc_cycle_push(agc_heap *h, const agc_cycle_stats *c);

/* verify.c */
int agc_verify_heap(agc_heap *h, char *hex33, int only_check);   /* world stopped */
int agc_digest_obj(agc_heap *h, uint64_t off, char *hex33);
#endif
