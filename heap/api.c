/* The Python object API: each call is a mutator step of the calling thread,
 * through the heap's API mutator (blocked between calls, so it never holds
 * up a pause).
 *
 * Lifetime: every call enters the heap (counted in h->inflight) and leaves
 * it; agc_heap_close_begin refuses new calls, wakes every waiter (they return
 * "the heap is closed") and waits until the last caller has left, so the
 * memory is freed only when nobody is inside. A heap belongs to the process
 * that created it: after fork() the child's calls are refused.
 *
 * Manual cycles: h->manual_state (under gc_lock) says where a cycle begun
 * with agc_collect_begin is, so that any number of threads can call
 * collect_begin / collect_finish / collect / verify: exactly one begins and
 * one finishes each manual cycle; the others get a clear error or wait. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

enum { MANUAL_NONE = 0, MANUAL_BEGINNING = 1, MANUAL_WAITING = 2, MANUAL_FINISHING = 3 };

static int closed_error(void) { return agc_fail(AGC_ECLOSED, "the heap is closed"); }

/* The process that may use h: after fork() a child holds a copy of the
 * heap's bookkeeping but none of its memory or threads. */
int agc_heap_foreign(const agc_heap *h)
{
    return h->pid != (int)getpid();
}

static int foreign_error(const agc_heap *h)
{
    return agc_fail(AGC_ECLOSED,
                    "this heap belongs to process %d: after fork() a child process cannot use its "
                    "parent's heap (its memory is not mapped in the child); create a new Heap there",
                    h->pid);
}

static int heap_enter(agc_heap *h)
{
    if (!h)
        return closed_error();
    if (agc_heap_foreign(h))
        return foreign_error(h);
    atomic_fetch_add(&h->inflight, 1);
    if (atomic_load(&h->closing)) {
        atomic_fetch_sub(&h->inflight, 1);
        return closed_error();
    }
    if (h->flt.sigbus_slot >= 0)
        agc_sigbus_install();        /* in front again if a handler displaced ours */
    agc_thread_uses_heap();          /* its fault buffers go when the thread exits */
    return AGC_OK;
}

static int heap_leave(agc_heap *h, int rc)
{
    atomic_fetch_sub(&h->inflight, 1);
    return rc;
}

/* A wait inside the heap ended because it is closing. */
static int closing(agc_heap *h) { return atomic_load(&h->closing); }

/* Refuse new calls, wake every waiter, wait for the callers inside to leave.
 * Returns nonzero for a heap of another process (after fork: leave it). */
int agc_heap_close_begin(agc_heap *h)
{
    if (agc_heap_foreign(h))
        return -1;
    atomic_store(&h->closing, 1);
    pthread_mutex_lock(&h->gc.gc_lock);
    h->gc.gc_shutdown = 1;          /* the GC thread ends after the cycle it runs */
    AGC_STORE(h->gc.gc_request, 0); /* nobody waits for a cycle that will not run */
    pthread_cond_broadcast(&h->gc.gc_done_cond);
    pthread_cond_broadcast(&h->gc.gc_req_cond);
    pthread_mutex_unlock(&h->gc.gc_lock);
    while (atomic_load(&h->inflight) > 0) {
        pthread_mutex_lock(&h->gc.gc_lock);
        pthread_cond_broadcast(&h->gc.gc_done_cond);
        pthread_mutex_unlock(&h->gc.gc_lock);
        usleep(100);
    }
    return 0;
}

/* Entering as the API mutator, optionally looking up one handle. */
typedef struct {
    agc_heap *h;
    agc_mutator *prev;
} api_scope;

static int api_leave(api_scope *s, int rc)
{
    agc_heap *h = s->h;
    agc_block(h->api);
    agc_self = s->prev;
    pthread_mutex_unlock(&h->api_lock);
    return heap_leave(h, rc);
}

static int api_enter(agc_heap *h, api_scope *s)
{
    int rc = heap_enter(h);
    if (rc)
        return rc;
    pthread_mutex_lock(&h->api_lock);
    if (closing(h)) {
        pthread_mutex_unlock(&h->api_lock);
        return heap_leave(h, closed_error());
    }
    if (!h->api) {
        h->api = agc_mutator_new(h, 1);
        if (!h->api) {
            pthread_mutex_unlock(&h->api_lock);
            return heap_leave(h, agc_fail(AGC_ESYS, "out of process memory"));
        }
    }
    s->h = h;
    s->prev = agc_self;
    agc_self = h->api;
    agc_unblock(h->api);
    return AGC_OK;
}

static int obj_of(agc_heap *h, uint32_t handle, void **obj)
{
    int rc = agc_handle_check(h, handle);
    if (rc)
        return rc;
    *obj = (void *)AGC_HSLOT(h, handle);
    return AGC_OK;
}

/* The prologue of every call on one object: enter, then look up the handle
 * (leaving again if it is bad). */
static int api_enter_obj(agc_heap *h, api_scope *s, uint32_t handle, void **obj)
{
    int rc = api_enter(h, s);
    if (rc)
        return rc;
    rc = obj_of(h, handle, obj);
    return rc ? api_leave(s, rc) : AGC_OK;
}

static const char *cls_name(agc_heap *h, void *obj)
{
    return h->types.classes[((agc_header *)obj)->cls].name;
}

int agc_new(agc_heap *h, int cls, uint64_t length, uint32_t *handle_out)
{
    api_scope s;
    int rc = api_enter(h, &s);
    if (rc)
        return rc;
    if (cls <= AGC_CLS_FILLER || cls >= atomic_load(&h->types.nclasses))
        return api_leave(&s, agc_fail(AGC_EINVAL, "unknown class id %d", cls));
    void *o = agc_alloc_obj(h->api, cls, length);
    if (!o) {
        rc = closing(h) ? closed_error()
           : strstr(agc_last_error(), "unknown class") ? AGC_EINVAL
           : strstr(agc_last_error(), "collection it needed failed") ? AGC_ECORRUPT : AGC_EOOM;
        return api_leave(&s, rc);
    }
    return api_leave(&s, agc_handle_alloc(h, (agc_word)o, handle_out));
}

int agc_handle_free(agc_heap *h, uint32_t handle)
{
    /* dropping handles of a closed heap (or in a forked child) is harmless */
    if (!h || agc_heap_foreign(h) || atomic_load(&h->closing))
        return AGC_OK;
    api_scope s;
    int rc = api_enter(h, &s);    /* not during a pause: the GC reads the table */
    if (rc)
        return rc == AGC_ECLOSED ? AGC_OK : rc;
    return api_leave(&s, agc_handle_release(h, handle));
}

int agc_handle_dup(agc_heap *h, uint32_t handle, uint32_t *out)
{
    api_scope s;
    void *o;
    int rc = api_enter_obj(h, &s, handle, &o);
    if (rc)
        return rc;
    return api_leave(&s, agc_handle_alloc(h, (agc_word)o, out));
}

static int check_slot(agc_heap *h, void *o, uint64_t slot)
{
    uint64_t n = agc_nrefs(h->api, o);
    if (slot >= n)
        return agc_fail(AGC_EINVAL, "slot %llu out of range: %s has %llu reference slot%s",
                        (unsigned long long)slot, cls_name(h, o), (unsigned long long)n, n == 1 ? "" : "s");
    return AGC_OK;
}

int agc_get_ref(agc_heap *h, uint32_t handle, uint64_t slot, uint32_t *out)
{
    api_scope s;
    void *o;
    int rc = api_enter_obj(h, &s, handle, &o);
    if (rc)
        return rc;
    rc = check_slot(h, o, slot);
    if (!rc) {
        void *v = agc_load_ref(h->api, o, slot);
        *out = 0;
        if (v)
            rc = agc_handle_alloc(h, (agc_word)v, out);
    }
    return api_leave(&s, rc);
}

int agc_set_ref(agc_heap *h, uint32_t handle, uint64_t slot, uint32_t value)
{
    api_scope s;
    void *o, *v = NULL;
    int rc = api_enter_obj(h, &s, handle, &o);
    if (rc)
        return rc;
    rc = check_slot(h, o, slot);
    if (!rc && value)
        rc = obj_of(h, value, &v);
    if (!rc)
        agc_store_ref(h->api, o, slot, v);
    return api_leave(&s, rc);
}

int agc_same_object(agc_heap *h, uint32_t a, uint32_t b, int *out)
{
    api_scope s;
    void *x, *y;
    int rc = api_enter_obj(h, &s, a, &x);
    if (rc)
        return rc;
    rc = obj_of(h, b, &y);
    if (!rc)
        *out = x == y;
    return api_leave(&s, rc);
}

int agc_obj_info(agc_heap *h, uint32_t handle, int *cls, uint64_t *nrefs, uint64_t *data_len, uintptr_t *addr)
{
    api_scope s;
    void *o;
    int rc = api_enter_obj(h, &s, handle, &o);
    if (rc)
        return rc;
    *cls = (int)((agc_header *)o)->cls;
    *nrefs = agc_nrefs(h->api, o);
    *data_len = agc_data_len(h->api, o);
    *addr = (uintptr_t)o;
    return api_leave(&s, AGC_OK);
}

static int data_range(agc_heap *h, void *o, uint64_t offset, uint64_t len)
{
    uint64_t n = agc_data_len(h->api, o);
    if (offset > n || len > n - offset)
        return agc_fail(AGC_EINVAL, "data out of range: %s has %llu data bytes; asked for %llu at offset %llu",
                        cls_name(h, o), (unsigned long long)n, (unsigned long long)len,
                        (unsigned long long)offset);
    return AGC_OK;
}

int agc_read_data(agc_heap *h, uint32_t handle, uint64_t offset, uint8_t *buf, uint64_t len)
{
    api_scope s;
    void *o;
    int rc = api_enter_obj(h, &s, handle, &o);
    if (rc)
        return rc;
    rc = data_range(h, o, offset, len);
    if (!rc)
        memcpy(buf, agc_data(h->api, o) + offset, len);
    return api_leave(&s, rc);
}

int agc_write_data(agc_heap *h, uint32_t handle, uint64_t offset, const uint8_t *buf, uint64_t len)
{
    api_scope s;
    void *o;
    int rc = api_enter_obj(h, &s, handle, &o);
    if (rc)
        return rc;
    rc = data_range(h, o, offset, len);
    if (!rc)
        memcpy(agc_data(h->api, o) + offset, buf, len);
    return api_leave(&s, rc);
}

/* Cycles --------------------------------------------------------------- */

static int last_cycle(agc_heap *h, agc_cycle_stats *out)
{
    if (out && h->st.ncycles)
        return agc_cycle_get(h, h->st.ncycles - 1, out);
    return AGC_OK;
}

static void gc_wait(agc_heap *h)
{
    AGC_NOCANCEL_BEGIN;
    pthread_cond_wait(&h->gc.gc_done_cond, &h->gc.gc_lock);
    AGC_NOCANCEL_END;
}

/* With gc_lock held: wait out the passing manual states (another thread
 * beginning or finishing); fail if closing or, unless allowed, if a manual
 * cycle waits for collect_finish. */
static int settle_manual(agc_heap *h, const char *waiting_msg)
{
    for (;;) {
        if (closing(h))
            return closed_error();
        if (h->manual_state == MANUAL_WAITING && waiting_msg)
            return agc_fail(AGC_EINVAL, "%s", waiting_msg);
        if (h->manual_state != MANUAL_BEGINNING && h->manual_state != MANUAL_FINISHING)
            return AGC_OK;
        gc_wait(h);
    }
}

/* With gc_lock held: ask for a cycle (or join the one asked for and not yet
 * started) and wait until it has run (for a manual cycle: to its flip). */
static int run_requested(agc_heap *h, int stop_after_flip)
{
    if (!h->gc.gc_request) {
        AGC_STORE(h->gc.gc_request, 1);
        h->gc.gc_request_reason = 1;
        h->gc.gc_stop_after_flip = stop_after_flip;
        pthread_cond_broadcast(&h->gc.gc_req_cond);
    }
    uint64_t target = h->gc.cycles_started + 1;
    while (h->gc.cycles_done < target && !closing(h))
        gc_wait(h);
    if (closing(h))
        return closed_error();
    return h->gc.last_cycle_error ? agc_fail(h->gc.last_cycle_error, "%s", h->gc.last_cycle_msg) : AGC_OK;
}

int agc_collect(agc_heap *h, agc_cycle_stats *out) { return agc_collect_kind(h, AGC_COLLECT_FULL, out); }

int agc_collect_kind(agc_heap *h, int kind, agc_cycle_stats *out)
{
    if (kind != AGC_COLLECT_FULL && kind != AGC_COLLECT_YOUNG && kind != AGC_COLLECT_AUTO)
        return agc_fail(AGC_EINVAL, "unknown cycle kind %d; valid: full, young, auto", kind);
    int rc = heap_enter(h);
    if (rc)
        return rc;
    if (kind != AGC_COLLECT_FULL && h->opt.generational != AGC_GEN_ON)
        return heap_leave(h, agc_fail(AGC_EINVAL, "a %s cycle needs a generational heap (generational='on'); "
                                      "this heap runs full cycles only",
                                      kind == AGC_COLLECT_YOUNG ? "young" : "chosen (auto)"));
    pthread_mutex_lock(&h->gc.gc_lock);
    rc = settle_manual(h, "a cycle begun with collect_begin() is waiting for collect_finish()");
    if (!rc) {
        atomic_store(&h->gen.requested, kind + 1);
        rc = run_requested(h, 0);
    }
    pthread_mutex_unlock(&h->gc.gc_lock);
    if (!rc)
        rc = last_cycle(h, out);
    return heap_leave(h, rc);
}

int agc_collect_begin(agc_heap *h)
{
    int rc = heap_enter(h);
    if (rc)
        return rc;
    if (!h->mode->faults)
        return heap_leave(h, agc_fail(AGC_EINVAL, "collect_begin() needs a concurrent mode (minor, copy or "
                                      "move); this heap is stw"));
    pthread_mutex_lock(&h->gc.gc_lock);
    rc = settle_manual(h, "a cycle begun with collect_begin() is already waiting for collect_finish()");
    /* a cycle asked for by a trigger and not yet started would take our
     * request in: let it run first */
    while (!rc && h->gc.gc_request) {
        gc_wait(h);
        rc = settle_manual(h, "a cycle begun with collect_begin() is already waiting for collect_finish()");
    }
    if (!rc) {
        h->manual_state = MANUAL_BEGINNING;
        rc = run_requested(h, 1);
        if (!rc && !h->cp.manual_compaction)
            rc = agc_fail(AGC_ECORRUPT, "collect_begin(): the cycle ended without stopping after its flip");
        h->manual_state = rc ? MANUAL_NONE : MANUAL_WAITING;
        pthread_cond_broadcast(&h->gc.gc_done_cond);
    }
    pthread_mutex_unlock(&h->gc.gc_lock);
    return heap_leave(h, rc);
}

int agc_collect_finish(agc_heap *h, agc_cycle_stats *out)
{
    int rc = heap_enter(h);
    if (rc)
        return rc;
    pthread_mutex_lock(&h->gc.gc_lock);
    while (!closing(h) && h->manual_state == MANUAL_BEGINNING)
        gc_wait(h);
    if (closing(h))
        rc = closed_error();
    else if (h->manual_state == MANUAL_FINISHING)
        rc = agc_fail(AGC_EINVAL, "another thread is already finishing this cycle (collect_finish() is running)");
    else if (h->manual_state != MANUAL_WAITING)
        rc = agc_fail(AGC_EINVAL, "no cycle is waiting: call collect_begin() first");
    else
        h->manual_state = MANUAL_FINISHING;
    pthread_mutex_unlock(&h->gc.gc_lock);
    if (rc)
        return heap_leave(h, rc);
    rc = agc_collect_finish_cycle(h);
    pthread_mutex_lock(&h->gc.gc_lock);
    h->manual_state = MANUAL_NONE;
    pthread_cond_broadcast(&h->gc.gc_done_cond);
    pthread_mutex_unlock(&h->gc.gc_lock);
    if (!rc)
        rc = last_cycle(h, out);
    return heap_leave(h, rc);
}

/* For the tests: page buffers of every thread still mapped. */
long agc_test_page_buffers(void) { return atomic_load(&agc_page_buffers_live); }

int agc_page_states(agc_heap *h, uint8_t *out, uint64_t n, uint64_t *npages)
{
    int rc = heap_enter(h);
    if (rc)
        return rc;
    uint64_t np = atomic_load(&h->cp.phase) == PH_COMPACTING ? h->plan.npages : 0;
    *npages = np;
    for (uint64_t i = 0; i < np && i < n; i++)
        out[i] = atomic_load(&h->plan.page_state[i]);
    return heap_leave(h, AGC_OK);
}

int agc_verify(agc_heap *h, char *digest_hex)
{
    int rc = heap_enter(h);
    if (rc)
        return rc;
    if (h->corrupt)
        return heap_leave(h, agc_fail(AGC_ECORRUPT, "%s", h->corrupt_msg));
    pthread_mutex_lock(&h->gc.gc_lock);
    for (;;) {
        rc = settle_manual(h, "cannot verify in the middle of a cycle begun with collect_begin(); "
                              "call collect_finish() first");
        if (rc || !(h->gc.gc_busy || h->gc.gc_request))
            break;
        gc_wait(h);
    }
    if (!rc) {
        /* hold gc_lock so no cycle starts while we look */
        agc_stop_world(h, -1);
        rc = agc_verify_heap(h, digest_hex, 0);
        agc_start_world(h);
    }
    pthread_mutex_unlock(&h->gc.gc_lock);
    return heap_leave(h, rc);
}

/* Wait until no cycle is running or requested (so every cycle a run caused
 * is recorded); returns at once when idle. */
int agc_heap_quiesce(agc_heap *h)
{
    int rc = heap_enter(h);
    if (rc)
        return rc;
    pthread_mutex_lock(&h->gc.gc_lock);
    while ((h->gc.gc_busy || h->gc.gc_request) && !h->cp.manual_compaction && !h->gc.gc_shutdown && !closing(h))
        gc_wait(h);
    rc = h->gc.last_cycle_error;
    pthread_mutex_unlock(&h->gc.gc_lock);
    return heap_leave(h, rc ? agc_fail(rc, "%s", h->gc.last_cycle_msg) : AGC_OK);
}
