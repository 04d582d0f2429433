/* The mutator's fast paths, measured in C (fastpath.c): nanoseconds per
 * operation of what the native workloads do in their inner loops, next to
 * the same operation without a collector on the same machine. */
#ifndef ARTGC_FASTPATH_H
#define ARTGC_FASTPATH_H
#include <stdint.h>

/* Medians over `reps` repetitions of `ops` operations each, in ns per
 * operation (< 0: not measured, the reason in `reason`). */
typedef struct agc_fastpath_result {
    double alloc_ns;          /* agc_alloc of a 32-byte object, pages mapped ahead */
    double alloc_fresh_ns;    /* the same onto pages never touched (first-touch fault included) */
    double bump_ns;           /* a plain bump allocator, same header writes, pages mapped ahead */
    double bump_fresh_ns;     /* the plain bump onto fresh private anonymous pages (huge pages
                               * asked for when the heap is anon with huge_pages) */
    double store_ns;          /* agc_store_ref, no marking */
    double store_marking_ns;  /* agc_store_ref while marking (the SATB barrier logs the old value) */
    double plain_store_ns;    /* a plain pointer store into the same slots */
    double load_ns;           /* agc_load_ref */
    double push_pop_ns;       /* agc_push + agc_pop of one shadow-stack slot */
    double poll_ns;           /* agc_poll with no stop requested */
    double alloc_marking_ns;  /* agc_alloc while marking (black allocation), pages mapped ahead */
    double tree_build_ns;     /* per node: wl_make_tree, the workloads' bottom-up build */
    double tree_count_ns;     /* per node: wl_tree_count, the workloads' depth-first count */
    double plain_build_ns;    /* per node: the same build with a plain bump allocator, C stack only */
    double plain_count_ns;    /* per node: the same count over plain pointers */
    uint64_t ops, reps;
    int memory;               /* AGC_MEMORY_* the heap ran on */
    int huge_pages;           /* the heap's huge_pages option (anon: transparent huge pages asked for) */
    char reason[160];
} agc_fastpath_result;

/* memory: AGC_MEMORY_SHMEM or AGC_MEMORY_ANON (a stw heap, no cycle runs
 * while measuring); huge_pages: the heap's option of that name (0 or 1);
 * ops: operations per repetition (0: 2,000,000); reps: repetitions (0: 5). */
int agc_fastpath_measure(agc_fastpath_result *out, int memory, int huge_pages, uint64_t ops, uint64_t reps);
#endif
