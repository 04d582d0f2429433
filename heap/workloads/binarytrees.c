/* The Computer Language Benchmarks Game's binary-trees on the GC'd heap.
 *
 * --size N is the game's argument (default 21): max_depth = max(6, N); a
 * stretch tree of depth max_depth + 1 is built and checked, then a long-lived
 * tree of depth max_depth, held for the whole run; then for each depth d from
 * 4 to max_depth step 2, 1 << (max_depth - d + 4) trees of depth d are built
 * bottom-up and checked. Output is exactly the game's text. With M mutators
 * the iterations of each depth are split across the M threads (thread 0 also
 * builds the stretch and long-lived trees) and the lines come out in the
 * game's order with the game's numbers. A check that differs from the node
 * count of a full tree (2^(d+1) - 1) is heap corruption: the run fails. */
#include <stdlib.h>
#include "wl.h"
#include "../error.h"

#define MIN_DEPTH 4

typedef struct bt_state {
    int cls;
    int max_depth;
    int ndepths;
    _Atomic uint64_t *sums;   /* per depth: sum of checks over all threads */
} bt_state;

static uint64_t full_tree(int depth) { return (2ull << depth) - 1; }

static int bt_setup(wl_ctx *c)
{
    bt_state *s = calloc(1, sizeof *s);
    if (!s)
        return agc_fail(AGC_ESYS, "out of process memory");
    c->priv = s;
    s->max_depth = c->size > MIN_DEPTH + 2 ? (int)c->size : MIN_DEPTH + 2;
    s->ndepths = (s->max_depth - MIN_DEPTH) / 2 + 1;
    s->sums = calloc((size_t)s->ndepths, sizeof *s->sums);
    if (!s->sums)
        return agc_fail(AGC_ESYS, "out of process memory");
    return agc_define_class(c->h, "BinaryTreesNode", 2, 0, &s->cls);
}

/* Build a tree, check it, drop it. Returns the check, 0 on failure. */
static uint64_t build_and_check(wl_ctx *c, agc_mutator *m, int cls, int depth)
{
    void *t = wl_make_tree(c, m, cls, depth);
    if (!t)
        return 0;
    int bad = 0;
    uint64_t n = wl_tree_count(m, t, &bad);
    if (bad || n != full_tree(depth)) {
        wl_fail(c, AGC_ECORRUPT,
                "binarytrees: a tree of depth %d has %llu nodes, expected %llu%s: the heap is corrupt",
                depth, (unsigned long long)n, (unsigned long long)full_tree(depth),
                bad ? " (and a node with one child)" : "");
        return 0;
    }
    return n;
}

static void bt_thread(wl_ctx *c, agc_mutator *m, int tid)
{
    bt_state *s = c->priv;
    int maxd = s->max_depth;
    size_t ll = agc_push(m, NULL);   /* the long-lived tree (thread 0) */

    if (tid == 0) {
        uint64_t chk = build_and_check(c, m, s->cls, maxd + 1);
        if (!chk)
            return;
        wl_printf(c, "stretch tree of depth %d\t check: %llu\n", maxd + 1, (unsigned long long)chk);
        if (wl_should_stop(c))
            return;
        void *t = wl_make_tree(c, m, s->cls, maxd);
        if (!t)
            return;
        agc_set_root(m, ll, t);
    }
    if (wl_barrier_wait(c, m) < 0)
        return;

    for (int k = 0; k < s->ndepths; k++) {
        int d = MIN_DEPTH + 2 * k;
        uint64_t iters = 1ull << (maxd - d + MIN_DEPTH);
        uint64_t lo = iters * (uint64_t)tid / (uint64_t)c->nthreads;
        uint64_t hi = iters * (uint64_t)(tid + 1) / (uint64_t)c->nthreads;
        uint64_t sum = 0;
        for (uint64_t i = lo; i < hi; i++) {
            if (wl_should_stop(c))
                return;
            uint64_t chk = build_and_check(c, m, s->cls, d);
            if (!chk)
                return;
            sum += chk;
        }
        atomic_fetch_add(&s->sums[k], sum);
        if (wl_barrier_wait(c, m) < 0)
            return;
        if (tid == 0)
            wl_printf(c, "%llu\t trees of depth %d\t check: %llu\n", (unsigned long long)iters, d,
                      (unsigned long long)atomic_load(&s->sums[k]));
    }

    if (tid == 0) {
        int bad = 0;
        uint64_t n = wl_tree_count(m, agc_root(m, ll), &bad);
        if (bad || n != full_tree(maxd)) {
            wl_fail(c, AGC_ECORRUPT,
                    "binarytrees: the long-lived tree of depth %d has %llu nodes, expected %llu: "
                    "the heap is corrupt", maxd, (unsigned long long)n,
                    (unsigned long long)full_tree(maxd));
            return;
        }
        wl_printf(c, "long lived tree of depth %d\t check: %llu\n", maxd, (unsigned long long)n);
    }
}

static void bt_cleanup(wl_ctx *c)
{
    bt_state *s = c->priv;
    if (s)
        free(s->sums);
    free(s);
    c->priv = NULL;
}

const wl_desc wl_binarytrees = {
    .name = "binarytrees",
    .def_size = 21,
    .min_size = 1,
    .max_size = 30,
    .size_doc = "the game's depth N; max depth = max(6, N)",
    .setup = bt_setup,
    .thread = bt_thread,
    .finish = NULL,
    .cleanup = bt_cleanup,
};
