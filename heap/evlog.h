/* A thread's event log: append-only, signal-safe (stats.c). */
#ifndef ARTGC_EVLOG_H
#define ARTGC_EVLOG_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"

/* Append-only, chunked, signal-safe (mmap'd chunks) event log of one thread. */
#define AGC_EVCHUNK 8192
typedef struct agc_evchunk {
    struct agc_evchunk *next;
    uint64_t n;
    agc_event ev[AGC_EVCHUNK];
} agc_evchunk;
typedef struct agc_evlog {
    agc_evchunk *head, *tail;
    uint64_t count;
} agc_evlog;
void agc_evlog_add(agc_evlog *log, const agc_event *e);   /* async-signal-safe */
void agc_evlog_free(agc_evlog *log);
#endif
