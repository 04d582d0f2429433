/* Native helpers for the tests (see testing.c). */
#ifndef ARTGC_TESTING_H
#define ARTGC_TESTING_H
#include <stdint.h>
#include "heap_api.h"
int agc_test_build_list(agc_heap *h, uint64_t n, uint32_t *handle);
int agc_test_check_list(agc_heap *h, uint32_t handle, uint64_t n);
int agc_test_rewire_race(agc_heap *h, int threads, uint64_t iters, uint64_t chain);
int agc_test_abandon_mutator(agc_heap *h, int how);
int agc_test_kill_fault_thread(agc_heap *h);
void agc_test_delay_old_back(agc_heap *h, uint64_t ns);
int agc_test_fault_thread_restarts(agc_heap *h);
long agc_test_page_buffers(void);   /* api.c: page buffers of every thread */
#endif
