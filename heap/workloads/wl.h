/* Internal to the native workloads: the run context shared by a workload's
 * threads, an abortable barrier, output, failure reporting, RNG and the tree
 * helpers that binarytrees and gcbench share. Not part of the cffi API. */
#ifndef ARTGC_WL_H
#define ARTGC_WL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "mutator.h"
#include "workloads.h"

typedef struct wl_ctx wl_ctx;

/* A workload: its size range and its hooks. setup and finish run in the
 * caller's thread (not a mutator: no heap object access); thread runs in each
 * of the run's mutator threads, attached, with tid 0..nthreads-1; solo (if
 * any) runs in thread 0 after thread returned everywhere and every other
 * thread has detached (thread 0 alone on the heap, its roots kept). */
typedef struct wl_desc {
    const char *name;
    int64_t def_size, min_size, max_size;
    const char *size_doc;                     /* what --size means, for messages */
    int (*setup)(wl_ctx *c);                  /* AGC_OK or a code (message set) */
    void (*thread)(wl_ctx *c, agc_mutator *m, int tid);
    void (*solo)(wl_ctx *c, agc_mutator *m);
    void (*finish)(wl_ctx *c);                /* after join: final output/results */
    void (*cleanup)(wl_ctx *c);               /* frees priv */
} wl_desc;

/* Abortable barrier: a failing or interrupted thread aborts it, and every
 * waiter returns -1 (and so do all later waits). Waiters are agc_block'ed. */
typedef struct wl_barrier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n, count, aborted;
    uint64_t gen;
} wl_barrier;

struct wl_ctx {
    agc_heap *h;
    const wl_desc *d;
    int64_t size;
    int nthreads;
    uint64_t seed;
    uint64_t live;               /* agc_wl_params.live */
    agc_wl_result *r;

    pthread_mutex_t out_mu;
    char *out;
    size_t out_len, out_cap;
    int out_nomem;

    atomic_int stop;             /* a thread failed, or the run was interrupted */
    atomic_int interrupted;
    pthread_mutex_t err_mu;
    int err_code;                /* first failure's code */
    char err[512];

    wl_barrier bar;
    pthread_mutex_t solo_mu;     /* threads other than 0 still attached */
    pthread_cond_t solo_cv;
    int solo_left;
    void *priv;                  /* the workload's own state */
};

/* Output (thread-safe, appended in call order). */
__attribute__((format(printf, 2, 3)))
void wl_printf(wl_ctx *c, const char *fmt, ...);

/* Record a failure (the first one's code and message win) and stop the run. */
__attribute__((format(printf, 3, 4)))
void wl_fail(wl_ctx *c, int code, const char *fmt, ...);
/* A heap call (agc_alloc*, agc_global_root_new, ...) failed in this thread:
 * record its code/message (agc_last_error of this thread). what: context. */
void wl_fail_heap(wl_ctx *c, int code, const char *what);

/* True when the run must end: a failure anywhere or agc_workload_interrupt(). */
int wl_should_stop(wl_ctx *c);

/* -1 when aborted (then stop), 1 in exactly one thread per generation, else 0. */
int wl_barrier_wait(wl_ctx *c, agc_mutator *m);

/* RNG: splitmix64 (seeding, hashing) and xoshiro256**. */
static inline uint64_t wl_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
typedef struct wl_rng { uint64_t s[4]; } wl_rng;
static inline void wl_rng_seed(wl_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ wl_mix64(stream + 0x5851f42d4c957f2dull);
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ull;
        r->s[i] = wl_mix64(x);
    }
}
static inline uint64_t wl_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static inline uint64_t wl_next(wl_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = wl_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = wl_rotl(s[3], 45);
    return res;
}
/* Uniform in [0, n), n > 0 (Lemire's multiply; the bias is negligible here
 * and, above all, deterministic). */
static inline uint64_t wl_below(wl_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)wl_next(r) * n) >> 64);
}

/* Trees of a fixed-size class whose slots 0 and 1 are left and right
 * (agc_load_field / agc_init_field: no header read). */
/* Bottom-up (children before parent). Returns the raw new root (valid until
 * this thread's next safepoint: push it at once) or NULL after wl_fail_heap
 * or when the run is stopping (wl_should_stop). */
void *wl_make_tree(wl_ctx *c, agc_mutator *m, int cls, int depth);
/* Node count (the game's itemCheck), polling every few thousand nodes.
 * *bad is set when a node has exactly one child (a corrupted tree). */
uint64_t wl_tree_count(agc_mutator *m, void *tree, int *bad);

/* The workloads. */
extern const wl_desc wl_binarytrees, wl_gcbench, wl_lru, wl_graph;
#endif
