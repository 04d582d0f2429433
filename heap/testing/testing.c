/* Native helpers for the tests: structures too big to build through the
 * Python API in reasonable time, and the classic lost-object race of
 * concurrent marking driven by native mutators. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "testing.h"

static int list_class(agc_heap *h, int *cls)
{
    return agc_define_class(h, "ListNode", 1, 8, cls);
}

int agc_test_build_list(agc_heap *h, uint64_t n, uint32_t *handle)
{
    int cls, rc = list_class(h, &cls);
    if (rc)
        return rc;
    agc_mutator *m = agc_attach(h);
    if (!m)
        return AGC_ECLOSED;
    size_t head = agc_push(m, NULL);
    for (uint64_t i = n; i-- > 0;) {
        void *node = agc_alloc(m, cls);
        if (!node) {
            agc_detach(m);
            return AGC_EOOM;
        }
        agc_init_ref(m, node, 0, agc_root(m, head));
        memcpy(agc_data(m, node), &i, 8);
        agc_set_root(m, head, node);
    }
    rc = agc_handle_alloc(h, (agc_word)agc_root(m, head), handle);
    agc_detach(m);
    return rc;
}

int agc_test_check_list(agc_heap *h, uint32_t handle, uint64_t n)
{
    int rc = agc_handle_check(h, handle);
    if (rc)
        return rc;
    agc_mutator *m = agc_attach(h);
    if (!m)
        return AGC_ECLOSED;
    uint64_t i = 0;
    size_t cur = agc_push(m, (void *)AGC_HSLOT(h, handle));
    while (agc_root(m, cur)) {
        uint64_t v;
        memcpy(&v, agc_data(m, agc_root(m, cur)), 8);
        if (v != i) {
            agc_detach(m);
            return agc_fail(AGC_ECORRUPT, "list node %llu holds %llu", (unsigned long long)i, (unsigned long long)v);
        }
        agc_set_root(m, cur, agc_load_ref(m, agc_root(m, cur), 0));
        i++;
        if ((i & 1023) == 0)
            agc_poll(m);
    }
    agc_detach(m);
    if (i != n)
        return agc_fail(AGC_ECORRUPT, "list has %llu nodes, expected %llu", (unsigned long long)i, (unsigned long long)n);
    return AGC_OK;
}

/* The lost-object race: each thread keeps A (a root, scanned at the start of
 * marking) and B -> chain. Repeatedly it moves the only reference to the
 * chain's head from B into A and back, while allocating, so that marking
 * finds A already scanned and B already emptied: only the deletion barrier
 * keeps the chain alive. New nodes (allocated in every phase) are appended
 * with known contents and checked at the end. */
typedef struct {
    agc_heap *h;
    int cls;
    uint64_t iters;
    uint64_t chain;
    int rc;
    char err[256];
} race_arg;

static void *race_thread(void *p)
{
    race_arg *a = p;
    agc_mutator *m = agc_attach(a->h);
    if (!m) {
        a->rc = AGC_ECLOSED;
        return NULL;
    }
    void *o;
    size_t A = agc_push(m, NULL), B = agc_push(m, NULL), tmp = agc_push(m, NULL);
    if (!(o = agc_alloc(m, a->cls)))
        goto oom;
    agc_set_root(m, A, o);
    if (!(o = agc_alloc(m, a->cls)))
        goto oom;
    agc_set_root(m, B, o);
    /* chain of `chain` nodes under B, values 0..chain-1 */
    for (uint64_t i = a->chain; i-- > 0;) {
        if (!(o = agc_alloc(m, a->cls)))
            goto oom;
        memcpy(agc_data(m, o), &i, 8);
        agc_init_ref(m, o, 0, agc_load_ref(m, agc_root(m, B), 0));
        agc_store_ref(m, agc_root(m, B), 0, o);
    }
    uint64_t appended = 0;
    for (uint64_t it = 0; it < a->iters; it++) {
        /* move the chain head B -> A, then drop it from B */
        void *x = agc_load_ref(m, agc_root(m, B), 0);
        agc_store_ref(m, agc_root(m, A), 0, x);
        agc_store_ref(m, agc_root(m, B), 0, NULL);
        /* garbage, so cycles keep coming */
        for (int g = 0; g < 32; g++)
            if (!agc_alloc(m, a->cls))
                goto oom;
        /* a new node with known contents, pushed at the head */
        if (!(o = agc_alloc(m, a->cls)))
            goto oom;
        uint64_t v = 1000000000ull + appended++;
        memcpy(agc_data(m, o), &v, 8);
        agc_set_root(m, tmp, o);
        agc_init_ref(m, o, 0, agc_load_ref(m, agc_root(m, A), 0));
        /* and back: A -> B */
        agc_store_ref(m, agc_root(m, B), 0, agc_root(m, tmp));
        agc_store_ref(m, agc_root(m, A), 0, NULL);
        agc_set_root(m, tmp, NULL);
    }
    /* check: appended nodes (newest first), then the original chain */
    void *cur = agc_load_ref(m, agc_root(m, B), 0);
    for (uint64_t k = appended; k-- > 0;) {
        uint64_t v;
        if (!cur) {
            snprintf(a->err, sizeof a->err, "chain ended early at appended node %llu", (unsigned long long)k);
            a->rc = AGC_ECORRUPT;
            goto out;
        }
        memcpy(&v, agc_data(m, cur), 8);
        if (v != 1000000000ull + k) {
            snprintf(a->err, sizeof a->err, "appended node %llu holds %llu", (unsigned long long)k, (unsigned long long)v);
            a->rc = AGC_ECORRUPT;
            goto out;
        }
        cur = agc_load_ref(m, cur, 0);
    }
    for (uint64_t i = 0; i < a->chain; i++) {
        uint64_t v;
        if (!cur) {
            snprintf(a->err, sizeof a->err, "original chain ended at %llu of %llu", (unsigned long long)i,
                     (unsigned long long)a->chain);
            a->rc = AGC_ECORRUPT;
            goto out;
        }
        memcpy(&v, agc_data(m, cur), 8);
        if (v != i) {
            snprintf(a->err, sizeof a->err, "chain node %llu holds %llu", (unsigned long long)i, (unsigned long long)v);
            a->rc = AGC_ECORRUPT;
            goto out;
        }
        cur = agc_load_ref(m, cur, 0);
    }
    a->rc = AGC_OK;
    goto out;
oom:
    snprintf(a->err, sizeof a->err, "%s", agc_last_error());
    a->rc = AGC_EOOM;
out:
    agc_detach(m);
    return NULL;
}

int agc_test_rewire_race(agc_heap *h, int threads, uint64_t iters, uint64_t chain)
{
    if (threads < 1 || threads > 64)
        return agc_fail(AGC_EINVAL, "threads must be 1..64");
    int cls;
    int rc = agc_define_class(h, "RaceNode", 1, 8, &cls);
    if (rc)
        return rc;
    race_arg args[64];
    pthread_t tids[64];
    for (int i = 0; i < threads; i++) {
        args[i] = (race_arg){h, cls, iters, chain, 0, ""};
        pthread_create(&tids[i], NULL, race_thread, &args[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(tids[i], NULL);
    for (int i = 0; i < threads; i++)
        if (args[i].rc)
            return agc_fail(args[i].rc, "thread %d: %s", i, args[i].err);
    if (h->corrupt)
        return agc_fail(AGC_ECORRUPT, "%s", h->corrupt_msg);
    return AGC_OK;
}

/* A native mutator that goes away without agc_detach: how 0 returns from
 * its thread function, 1 calls pthread_exit, 2 is cancelled by us while it
 * runs (allocating in a loop, at a cancellation point). The heap must go on:
 * the caller then collects and verifies. */
typedef struct {
    agc_heap *h;
    int how;
    volatile int started;
} abandon_arg;

static void *abandon_thread(void *p)
{
    abandon_arg *a = p;
    agc_mutator *m = agc_attach(a->h);
    if (!m)
        return NULL;
    int cls;
    agc_define_class(a->h, "Abandoned", 1, 8, &cls);
    agc_push(m, agc_alloc(m, cls));
    for (int i = 0; i < 1000; i++)
        agc_alloc(m, cls);
    a->started = 1;
    if (a->how == 1)
        pthread_exit(NULL);
    if (a->how == 2)
        for (;;) {
            agc_alloc(m, cls);
            pthread_testcancel();
        }
    return NULL;
}

int agc_test_abandon_mutator(agc_heap *h, int how)
{
    if (how < 0 || how > 2)
        return agc_fail(AGC_EINVAL, "how must be 0, 1 or 2");
    abandon_arg a = {h, how, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, abandon_thread, &a) != 0)
        return agc_fail(AGC_ESYS, "pthread_create failed");
    if (how == 2) {
        while (!a.started)
            sched_yield();
        pthread_cancel(t);
    }
    pthread_join(t, NULL);
    return AGC_OK;
}

/* Kill the heap's fault handler thread (thread delivery) as if it crashed. */
int agc_test_kill_fault_thread(agc_heap *h)
{
    if (!h->flt.fault_thread)
        return agc_fail(AGC_EINVAL, "this heap has no fault handler thread (delivery is not 'thread')");
    agc_fault_thread_kill(h->flt.fault_thread);
    return AGC_OK;
}

/* A young flip on anonymous memory moves the old generation back after
 * the pause: this late, so that a test's mutator touches it before. */
void agc_test_delay_old_back(agc_heap *h, uint64_t ns) { AGC_STORE(h->test_old_back_delay_ns, ns); }

int agc_test_fault_thread_restarts(agc_heap *h) { return h->flt.fault_thread_restarts; }
