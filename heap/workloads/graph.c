/* graph: several mutators rewire and replace parts of a large shared object
 * graph; the result is an address-independent digest that is the same in
 * every GC mode for one seed, size and mutator count.
 *
 * --size N (1..10000, default 100): N thousand nodes. A node (class
 * GraphNode) has 4 reference slots and 16 data bytes (its index and version).
 * The table, a heap ref array of the N current nodes, is held in a global
 * root. Thread t owns the indexes i with i % M == t and is the only thread
 * that ever writes those nodes or their table entries.
 *
 * Determinism despite threads: the run is a sequence of phases separated by
 * barriers, and in each phase a thread writes only objects it owns and reads
 * only what no thread writes in that phase:
 *   init:   thread 0 makes the table; barrier; each thread makes its nodes
 *           and puts them in the table; barrier; each thread points every
 *           slot of its nodes at random table entries; barrier.
 *   round (GRAPH_ROUNDS times), ops = N / M per thread:
 *           pick an owned node x = table[i] and a random table entry j:
 *           1/8 clear a slot of x, 3/8 point a slot of x at table[j],
 *           1/2 make a fresh copy of x (version + 1) with one slot pointed at
 *           table[j], staged in the thread's shadow stack (not in the table:
 *           the table does not change during a round); barrier;
 *   commit: each thread stores its staged copies into its table entries, in
 *           order, and clears the slots of the nodes they replace; barrier.
 * Replaced nodes stay reachable (as leaves) as long as other nodes point at
 * them, so garbage arises all over the heap while the live graph stays
 * within about 5 N nodes (280 bytes a node at most). Every choice comes from the thread's own
 * xoshiro256** seeded by (seed, thread). At the end thread 0, alone on the
 * heap (the others have detached), computes agc_digest_from(table), printed
 * as "graph digest: <32 hex>".
 * counters: 0 slot writes, 1 slots cleared, 2 replacements, 3 rounds, 4 nodes. */
#include <stdlib.h>
#include <string.h>
#include "wl.h"
#include "../error.h"

#define GRAPH_ROUNDS 32
#define GRAPH_REFS 4

typedef struct graph_state {
    int cls;
    uint64_t n;                /* nodes */
    uint32_t groot;            /* global root of the table */
    atomic_int groot_ok;
    atomic_uint_fast64_t writes, clears, replacements, rounds;
    char digest[33];
    int have_digest;
} graph_state;

static int graph_setup(wl_ctx *c)
{
    graph_state *s = calloc(1, sizeof *s);
    if (!s)
        return agc_fail(AGC_ESYS, "out of process memory");
    c->priv = s;
    s->n = (uint64_t)c->size * 1000;
    return agc_define_class(c->h, "GraphNode", GRAPH_REFS, 16, &s->cls);
}

static inline void *table(agc_mutator *m, graph_state *s) { return agc_global_root(m, s->groot); }

/* Owned indexes of thread t: t, t + M, t + 2M, ... < n. */
static uint64_t owned_count(uint64_t n, int t, int M) { return n > (uint64_t)t ? (n - (uint64_t)t + (uint64_t)M - 1) / (uint64_t)M : 0; }

static void graph_thread(wl_ctx *c, agc_mutator *m, int tid)
{
    graph_state *s = c->priv;
    const uint64_t n = s->n, M = (uint64_t)c->nthreads;
    const uint64_t mine = owned_count(n, tid, c->nthreads);
    wl_rng rng;
    wl_rng_seed(&rng, c->seed, 0x67726170ull + (uint64_t)tid);
    uint64_t writes = 0, clears = 0, repl = 0;

    /* init: the table */
    if (tid == 0) {
        void *t = agc_alloc_refarray(m, n);
        if (!t) {
            wl_fail_heap(c, AGC_EOOM, "allocating the node table");
            return;
        }
        int rc = agc_global_root_new(m, t, &s->groot);
        if (rc) {
            wl_fail_heap(c, rc, "registering the node table as a global root");
            return;
        }
        atomic_store(&s->groot_ok, 1);
    }
    if (wl_barrier_wait(c, m) < 0)
        return;

    /* init: the nodes */
    for (uint64_t k = 0; k < mine; k++) {
        if ((k & 1023) == 0 && wl_should_stop(c))
            return;
        uint64_t i = (uint64_t)tid + k * M;
        void *x = agc_alloc(m, s->cls);
        if (!x) {
            wl_fail_heap(c, AGC_EOOM, "allocating a graph node");
            return;
        }
        uint64_t d[2] = {i, 0};
        memcpy(agc_data(m, x), d, 16);
        agc_store_ref(m, table(m, s), i, x);
    }
    if (wl_barrier_wait(c, m) < 0)
        return;

    /* init: the edges */
    for (uint64_t k = 0; k < mine; k++) {
        if ((k & 255) == 0) {
            if (wl_should_stop(c))
                return;
            agc_poll(m);
        }
        void *tb = table(m, s);
        void *x = agc_load_ref(m, tb, (uint64_t)tid + k * M);
        for (int r = 0; r < GRAPH_REFS; r++)
            agc_store_field(m, x, (uint64_t)r, agc_load_ref(m, tb, wl_below(&rng, n)));
        writes += GRAPH_REFS;
    }
    if (wl_barrier_wait(c, m) < 0)
        return;

    uint64_t *staged = malloc((mine ? mine : 1) * sizeof *staged);
    uint64_t staged_cap = mine ? mine : 1;
    if (!staged) {
        wl_fail(c, AGC_ESYS, "graph: out of process memory");
        return;
    }
    size_t base = agc_depth(m);
    for (int round = 0; round < GRAPH_ROUNDS && mine; round++) {
        uint64_t nst = 0;
        for (uint64_t op = 0; op < mine; op++) {
            if (wl_should_stop(c))
                goto out;
            agc_poll(m);
            uint64_t i = (uint64_t)tid + wl_below(&rng, mine) * M;
            uint64_t j = wl_below(&rng, n);
            uint64_t slot = wl_below(&rng, GRAPH_REFS);
            uint64_t act = wl_below(&rng, 8);
            if (act == 0) {
                agc_store_field(m, agc_load_ref(m, table(m, s), i), slot, NULL);
                clears++;
            } else if (act < 4) {
                void *tb = table(m, s);
                agc_store_field(m, agc_load_ref(m, tb, i), slot, agc_load_ref(m, tb, j));
                writes++;
            } else {
                void *y = agc_alloc(m, s->cls);
                if (!y) {
                    wl_fail_heap(c, AGC_EOOM, "allocating a replacement graph node");
                    goto out;
                }
                /* y is fresh: no safepoint since, its slots are null */
                void *tb = table(m, s);
                void *x = agc_load_ref(m, tb, i);
                for (uint64_t r = 0; r < GRAPH_REFS; r++)
                    agc_init_field(y, r, r == slot ? agc_load_ref(m, tb, j) : agc_load_field(x, r));
                uint64_t d[2];
                memcpy(d, agc_data(m, x), 16);
                d[1]++;
                memcpy(agc_data(m, y), d, 16);
                agc_push(m, y);
                if (nst == staged_cap) {
                    uint64_t *ns = realloc(staged, 2 * staged_cap * sizeof *ns);
                    if (!ns) {
                        wl_fail(c, AGC_ESYS, "graph: out of process memory");
                        goto out;
                    }
                    staged = ns;
                    staged_cap *= 2;
                }
                staged[nst++] = i;
                repl++;
            }
        }
        if (wl_barrier_wait(c, m) < 0)
            goto out;
        /* commit, in staging order (the last copy of an index wins); the
         * replaced node (still owned: only this thread ever wrote it) loses
         * its edges, so replaced nodes that others still point at are leaves
         * and the live graph stays within about 5 N nodes */
        for (uint64_t k = 0; k < nst; k++) {
            if ((k & 1023) == 1023)
                agc_poll(m);
            void *tb = table(m, s);
            void *old = agc_load_ref(m, tb, staged[k]);
            agc_store_ref(m, tb, staged[k], agc_root(m, base + k));
            for (uint64_t r = 0; r < GRAPH_REFS; r++)
                agc_store_field(m, old, r, NULL);
        }
        agc_truncate(m, base);
        if (wl_barrier_wait(c, m) < 0)
            goto out;
        if (tid == 0)
            atomic_fetch_add(&s->rounds, 1);
    }
out:
    free(staged);
    agc_truncate(m, base);
    atomic_fetch_add(&s->writes, writes);
    atomic_fetch_add(&s->clears, clears);
    atomic_fetch_add(&s->replacements, repl);
}

/* Thread 0, alone on the heap (the others have detached): the digest. */
static void graph_solo(wl_ctx *c, agc_mutator *m)
{
    graph_state *s = c->priv;
    if (!atomic_load(&s->groot_ok))
        return;
    if (!wl_should_stop(c) && atomic_load(&s->rounds) == GRAPH_ROUNDS) {
        if (agc_digest_from(m, table(m, s), s->digest) != 0)
            wl_fail_heap(c, AGC_ECORRUPT, "computing the graph's digest");
        else
            s->have_digest = 1;
    }
    agc_global_root_free(m, s->groot);
    atomic_store(&s->groot_ok, 0);
}

static void graph_finish(wl_ctx *c)
{
    graph_state *s = c->priv;
    c->r->counters[0] = atomic_load(&s->writes);
    c->r->counters[1] = atomic_load(&s->clears);
    c->r->counters[2] = atomic_load(&s->replacements);
    c->r->counters[3] = atomic_load(&s->rounds);
    c->r->counters[4] = s->n;
    wl_printf(c, "graph: nodes %llu mutators %d rounds %llu writes %llu clears %llu replacements %llu\n",
              (unsigned long long)s->n, c->nthreads, (unsigned long long)c->r->counters[3],
              (unsigned long long)c->r->counters[0], (unsigned long long)c->r->counters[1],
              (unsigned long long)c->r->counters[2]);
    if (s->have_digest)
        wl_printf(c, "graph digest: %s\n", s->digest);
}

static void graph_cleanup(wl_ctx *c)
{
    free(c->priv);
    c->priv = NULL;
}

const wl_desc wl_graph = {
    .name = "graph",
    .def_size = 100,
    .min_size = 1,
    .max_size = 10000,
    .size_doc = "thousands of nodes",
    .setup = graph_setup,
    .thread = graph_thread,
    .solo = graph_solo,
    .finish = graph_finish,
    .cleanup = graph_cleanup,
};
