/* Classes and object layout (objects.c). */
#ifndef ARTGC_CLASSES_H
#define ARTGC_CLASSES_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"

typedef struct agc_class {
    char name[64];
    uint32_t nrefs;
    uint32_t data_bytes;
} agc_class;

/* Classes (objects.c, api.c). */
typedef struct agc_class_table {
    pthread_mutex_t class_lock;
    agc_class classes[AGC_MAX_CLASSES];
    uint32_t class_words[AGC_MAX_CLASSES];   /* size of fixed-size classes, for the fast path */
    _Atomic int nclasses;
} agc_class_table;

/* object layout helpers (objects.c) */
uint64_t agc_obj_data_len(agc_heap *h, const agc_header *o, uint64_t *data_off);
uint64_t agc_size_words(agc_heap *h, int cls, uint64_t length, int *err);
void agc_fill(uint8_t *p, uint64_t bytes);      /* write a filler object */
void agc_fill_header(uint8_t *p, uint64_t bytes);   /* only its (first) header */
void agc_heap_fill(agc_heap *h, uint64_t off, uint64_t bytes);  /* filler in the heap (black-aware) */
#endif
