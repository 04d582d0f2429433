/* Ellis, Kovac and Boehm's GCBench on the GC'd heap.
 *
 * --size N (4..24, default 16) is kMaxTreeDepth and kLongLivedTreeDepth;
 * kStretchTreeDepth = N + 2, kMinTreeDepth = 4 and kArraySize =
 * 500000 * 2^(N - 16) doubles (at least 2002, so that array[1000] exists).
 * So the default size 16 is the original program: stretch tree 18, long-lived
 * tree 16, array of 500000 doubles, trees of depth 4..16, and smaller sizes
 * shrink every live and allocated volume by the same factor per step.
 *
 * As in the original: a stretch tree is built and dropped; a long-lived tree
 * (top-down) and a long-lived array of doubles (array[i] = 1/i for the first
 * half) are built and held; then for each depth d from kMinTreeDepth to
 * kMaxTreeDepth step 2, NumIters(d) = 2 * TreeSize(kStretchTreeDepth) /
 * TreeSize(d) trees are built top-down (Populate) and as many bottom-up
 * (MakeTree) and dropped. Its checks, made stricter: the long-lived tree
 * still has TreeSize(kLongLivedTreeDepth) nodes in full-tree shape and every
 * element of the array still holds its value (array[1000] == 1.0/1000 among
 * them). With M mutators each thread runs its own copy of the whole program;
 * thread 0 prints the original's text (without timings) and the run ends with
 * "gcbench checks: ok", or fails with the first check that did not hold. */
#include <stdlib.h>
#include <string.h>
#include "wl.h"
#include "../error.h"

typedef struct gb_state {
    int cls;
    int stretch, long_lived, min_depth, max_depth;
    uint64_t array_size;
    atomic_int passed;         /* threads whose checks passed */
} gb_state;

static uint64_t tree_size(int d) { return (2ull << d) - 1; }

static int gb_setup(wl_ctx *c)
{
    gb_state *s = calloc(1, sizeof *s);
    if (!s)
        return agc_fail(AGC_ESYS, "out of process memory");
    c->priv = s;
    int n = (int)c->size;
    s->max_depth = n;
    s->long_lived = n;
    s->stretch = n + 2;
    s->min_depth = 4;
    s->array_size = n >= 16 ? 500000ull << (n - 16) : 500000ull >> (16 - n);
    if (s->array_size < 2002)
        s->array_size = 2002;
    /* the original's Node: left, right, int i, j */
    return agc_define_class(c->h, "GCBenchNode", 2, 8, &s->cls);
}

/* Top-down: give the node in shadow slot `slot` two fresh children and
 * populate them. 0, or -1 after a failure. */
static int populate(wl_ctx *c, agc_mutator *m, int cls, int depth, size_t slot)
{
    if (depth <= 0)
        return 0;
    depth--;
    void *l = agc_alloc(m, cls);
    if (!l) {
        wl_fail_heap(c, AGC_EOOM, "allocating a tree node");
        return -1;
    }
    agc_store_field(m, agc_root(m, slot), 0, l);
    void *r = agc_alloc(m, cls);
    if (!r) {
        wl_fail_heap(c, AGC_EOOM, "allocating a tree node");
        return -1;
    }
    agc_store_field(m, agc_root(m, slot), 1, r);
    size_t child = agc_push(m, agc_load_field(agc_root(m, slot), 0));
    int rc = populate(c, m, cls, depth, child);
    if (!rc) {
        agc_set_root(m, child, agc_load_field(agc_root(m, slot), 1));
        rc = populate(c, m, cls, depth, child);
    }
    agc_pop(m, 1);
    return rc;
}

/* A fresh node populated to depth, left in a new shadow slot (returned), or
 * (size_t)-1 after a failure. */
static size_t top_down(wl_ctx *c, agc_mutator *m, int cls, int depth)
{
    void *t = agc_alloc(m, cls);
    if (!t) {
        wl_fail_heap(c, AGC_EOOM, "allocating a tree node");
        return (size_t)-1;
    }
    size_t slot = agc_push(m, t);
    if (populate(c, m, cls, depth, slot)) {
        agc_pop(m, 1);
        return (size_t)-1;
    }
    return slot;
}

static int check_tree(wl_ctx *c, agc_mutator *m, void *t, int depth, const char *what)
{
    int bad = 0;
    uint64_t n = wl_tree_count(m, t, &bad);
    if (bad || n != tree_size(depth)) {
        wl_fail(c, AGC_ECORRUPT, "gcbench: %s of depth %d has %llu nodes, expected %llu%s: "
                "the heap is corrupt", what, depth, (unsigned long long)n,
                (unsigned long long)tree_size(depth), bad ? " (and a node with one child)" : "");
        return -1;
    }
    return 0;
}

static double expected(uint64_t i, uint64_t size)
{
    return i < size / 2 ? 1.0 / (double)i : 0.0;
}

static void gb_thread(wl_ctx *c, agc_mutator *m, int tid)
{
    gb_state *s = c->priv;
    int p = tid == 0;
    if (p) {
        uint64_t node_bytes = 8 + 2 * 8 + 8;
        wl_printf(c, "Garbage Collector Test\n");
        wl_printf(c, " Live storage will peak at %llu bytes.\n\n",
                  (unsigned long long)(2 * node_bytes * tree_size(s->long_lived) + 8 * s->array_size));
        wl_printf(c, " Stretching memory with a binary tree of depth %d\n", s->stretch);
    }
    /* stretch the heap (bottom-up, as the original's MakeTree) */
    if (!wl_make_tree(c, m, s->cls, s->stretch))
        return;

    if (p)
        wl_printf(c, " Creating a long-lived binary tree of depth %d\n", s->long_lived);
    size_t ll = top_down(c, m, s->cls, s->long_lived);
    if (ll == (size_t)-1 || wl_should_stop(c))
        return;

    if (p)
        wl_printf(c, " Creating a long-lived array of %llu doubles\n", (unsigned long long)s->array_size);
    void *a = agc_alloc_bytearray(m, 8 * s->array_size);
    if (!a) {
        wl_fail_heap(c, AGC_EOOM, "allocating the long-lived array");
        return;
    }
    size_t arr = agc_push(m, a);
    for (uint64_t i = 0; i < s->array_size / 2;) {
        uint64_t end = i + 8192 < s->array_size / 2 ? i + 8192 : s->array_size / 2;
        uint8_t *d = agc_data(m, agc_root(m, arr));
        for (; i < end; i++) {
            double v = 1.0 / (double)i;
            memcpy(d + 8 * i, &v, 8);
        }
        agc_poll(m);
    }

    for (int d = s->min_depth; d <= s->max_depth; d += 2) {
        uint64_t iters = 2 * tree_size(s->stretch) / tree_size(d);
        if (p)
            wl_printf(c, "Creating %llu trees of depth %d\n", (unsigned long long)iters, d);
        for (uint64_t i = 0; i < iters; i++) {
            if (wl_should_stop(c))
                return;
            size_t tmp = top_down(c, m, s->cls, d);
            if (tmp == (size_t)-1)
                return;
            agc_pop(m, 1);
        }
        for (uint64_t i = 0; i < iters; i++) {
            if (wl_should_stop(c))
                return;
            if (!wl_make_tree(c, m, s->cls, d))
                return;
        }
    }

    /* the checks */
    if (check_tree(c, m, agc_root(m, ll), s->long_lived, "the long-lived tree"))
        return;
    uint64_t nd = 8 * s->array_size;
    if (agc_data_len(m, agc_root(m, arr)) != nd) {
        wl_fail(c, AGC_ECORRUPT, "gcbench: the long-lived array lost its length (%llu bytes, expected %llu)",
                (unsigned long long)agc_data_len(m, agc_root(m, arr)), (unsigned long long)nd);
        return;
    }
    for (uint64_t i = 0; i < s->array_size;) {
        uint64_t end = i + 8192 < s->array_size ? i + 8192 : s->array_size;
        const uint8_t *d = agc_data(m, agc_root(m, arr));
        for (; i < end; i++) {
            double v;
            memcpy(&v, d + 8 * i, 8);
            double e = expected(i, s->array_size);
            if (memcmp(&v, &e, 8) != 0) {
                wl_fail(c, AGC_ECORRUPT, "gcbench: check failed: array[%llu] is %g, expected %g: "
                        "the heap is corrupt", (unsigned long long)i, v, e);
                return;
            }
        }
        agc_poll(m);
    }
    atomic_fetch_add(&s->passed, 1);
}

static void gb_finish(wl_ctx *c)
{
    gb_state *s = c->priv;
    if (atomic_load(&s->passed) == c->nthreads)
        wl_printf(c, "gcbench checks: ok\n");
}

static void gb_cleanup(wl_ctx *c)
{
    free(c->priv);
    c->priv = NULL;
}

const wl_desc wl_gcbench = {
    .name = "gcbench",
    .def_size = 16,
    .min_size = 4,
    .max_size = 24,
    .size_doc = "kMaxTreeDepth = kLongLivedTreeDepth; 16 is the original program",
    .setup = gb_setup,
    .thread = gb_thread,
    .finish = gb_finish,
    .cleanup = gb_cleanup,
};
