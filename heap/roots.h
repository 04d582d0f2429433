/* Roots: handle slots for Python handles and workloads' globals (roots.c). */
#ifndef ARTGC_ROOTS_H
#define ARTGC_ROOTS_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"

/* Handles: Python handles and workloads' global roots (roots.c). */
typedef struct agc_handles {
    pthread_mutex_t handle_lock;
    agc_word *hchunks[AGC_HCHUNKS];   /* handle slots, in chunks that never move */
    uint8_t *hused[AGC_HCHUNKS];
    uint32_t *handle_free;
    uint32_t nhandles, nfree, free_cap;
} agc_handles;

/* roots.c */
typedef void (*agc_root_fn)(agc_heap *h, agc_word *slot, void *ctx);
void agc_for_each_root(agc_heap *h, agc_root_fn fn, void *ctx);   /* world stopped */
int agc_handle_alloc(agc_heap *h, agc_word obj, uint32_t *out);
#define AGC_HSLOT(h, i) ((h)->roots.hchunks[(i) / AGC_HCHUNK][(i) % AGC_HCHUNK])
#define AGC_HUSED(h, i) ((h)->roots.hused[(i) / AGC_HCHUNK][(i) % AGC_HCHUNK])
int agc_handle_check(agc_heap *h, uint32_t idx);
int agc_handle_release(agc_heap *h, uint32_t idx);
void agc_handles_free(agc_heap *h);
#endif
