/* Mutators, safepoints and stopping the world (safepoint.c). */
#ifndef ARTGC_WORLD_H
#define ARTGC_WORLD_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"
#include "mutator.h"
#include "evlog.h"

enum { MS_RUNNING = 0, MS_SAFE = 1 };

struct agc_mutator {
    agc_mutator_hot hot;        /* first: the inline fast paths use it */
    agc_heap *heap;
    uint32_t id;
    _Atomic int state;          /* MS_RUNNING / MS_SAFE */
    int attached;
    int in_api;                 /* the Python API's mutator */
    /* SATB buffer */
    agc_word *satb;
    size_t nsatb, satb_cap;
    /* stats */
    agc_evlog events;
    uint64_t bytes_allocated;
    uint32_t tid;               /* kernel thread id */
    struct agc_mutator *next;
};

/* Mutators and safepoints (safepoint.c). */
typedef struct agc_world {
    int nmutators;
    uint32_t tid_map[1024][2];  /* kernel tid -> mutator id, for handler-thread faults */
    uint32_t ntid_map;
    pthread_mutex_t mut_lock;   /* guards the mutator list and the safepoint handshake */
    pthread_cond_t mut_cond;    /* mutators park here */
    pthread_cond_t gc_cond;     /* the GC waits here for mutators to stop */
    agc_mutator *mutators;
    uint32_t next_mutator_id;
    _Atomic int stop_requested;
    uint64_t stop_epoch;
    uint64_t stop_t0;
    uint64_t stop_ttsp_ns;      /* time-to-safepoint of the last stop */
    uint64_t start_t;           /* when the last stop ended */
    int stop_phase;
    int park_sleep;             /* this stop: mutators sleep at once instead of spinning first */
    agc_evlog dead_events;      /* events of detached mutators */
} agc_world;

/* safepoint.c */
void agc_heap_registry_add(agc_heap *h);
void agc_heap_registry_remove(agc_heap *h);
void agc_stop_world(agc_heap *h, int phase);
void agc_start_world(agc_heap *h);
agc_mutator *agc_mutator_new(agc_heap *h, int in_api);
void agc_mutator_free_all(agc_heap *h);
extern __thread agc_mutator *agc_self;
void agc_thread_uses_heap(void);   /* free this thread's fault buffers when it exits */
#endif
