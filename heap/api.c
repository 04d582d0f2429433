/* The Python object API: each call is a mutator step of the calling thread,
 * through the heap's API mutator (blocked between calls, so it never holds
 * up a pause). */
#include <stdio.h>
#include <string.h>
#include "internal.h"

typedef struct {
    agc_heap *h;
    agc_mutator *prev;
} api_scope;

static int api_enter(agc_heap *h, api_scope *s)
{
    if (!h || h->closed)
        return agc_fail(AGC_ECLOSED, "the heap is closed");
    pthread_mutex_lock(&h->api_lock);
    if (!h->api) {
        h->api = agc_mutator_new(h, 1);
        if (!h->api) {
            pthread_mutex_unlock(&h->api_lock);
            return agc_fail(AGC_ESYS, "out of process memory");
        }
    }
    s->h = h;
    s->prev = agc_self;
    agc_self = h->api;
    agc_unblock(h->api);
    return AGC_OK;
}

static int api_leave(api_scope *s, int rc)
{
    agc_heap *h = s->h;
    agc_block(h->api);
    agc_self = s->prev;
    pthread_mutex_unlock(&h->api_lock);
    return rc;
}

static int obj_of(agc_heap *h, uint32_t handle, void **obj)
{
    int rc = agc_handle_check(h, handle);
    if (rc)
        return rc;
    *obj = (void *)AGC_HSLOT(h, handle);
    return AGC_OK;
}

static const char *cls_name(agc_heap *h, void *obj)
{
    return h->classes[((agc_header *)obj)->cls].name;
}

int agc_new(agc_heap *h, int cls, uint64_t length, uint32_t *handle_out)
{
    api_scope s;
    int rc = api_enter(h, &s);
    if (rc)
        return rc;
    if (cls <= AGC_CLS_FILLER || cls >= atomic_load(&h->nclasses)) {
        rc = agc_fail(AGC_EINVAL, "unknown class id %d", cls);
        return api_leave(&s, rc);
    }
    void *o = agc_alloc_obj(h->api, cls, length);
    if (!o) {
        rc = strstr(agc_last_error(), "unknown class") ? AGC_EINVAL
           : strstr(agc_last_error(), "collection it needed failed") ? AGC_ECORRUPT : AGC_EOOM;
        return api_leave(&s, rc);
    }
    rc = agc_handle_alloc(h, (agc_word)o, handle_out);
    return api_leave(&s, rc);
}

int agc_handle_free(agc_heap *h, uint32_t handle)
{
    if (!h || h->closed)
        return AGC_OK;   /* dropping handles of a closed heap is harmless */
    api_scope s;
    int rc = api_enter(h, &s);    /* not during a pause: the GC reads the table */
    if (rc)
        return rc;
    return api_leave(&s, agc_handle_release(h, handle));
}

int agc_handle_dup(agc_heap *h, uint32_t handle, uint32_t *out)
{
    api_scope s;
    int rc = api_enter(h, &s);
    if (rc)
        return rc;
    void *o;
    rc = obj_of(h, handle, &o);
    if (!rc)
        rc = agc_handle_alloc(h, (agc_word)o, out);
    return api_leave(&s, rc);
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
    int rc = api_enter(h, &s);
    if (rc)
        return rc;
    void *o;
    rc = obj_of(h, handle, &o);
    if (!rc)
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
    int rc = api_enter(h, &s);
    if (rc)
        return rc;
    void *o, *v = NULL;
    rc = obj_of(h, handle, &o);
    if (!rc)
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
    int rc = api_enter(h, &s);
    if (rc)
        return rc;
    void *x, *y;
    rc = obj_of(h, a, &x);
    if (!rc)
        rc = obj_of(h, b, &y);
    if (!rc)
        *out = x == y;
    return api_leave(&s, rc);
}

int agc_obj_info(agc_heap *h, uint32_t handle, int *cls, uint64_t *nrefs, uint64_t *data_len, uintptr_t *addr)
{
    api_scope s;
    int rc = api_enter(h, &s);
    if (rc)
        return rc;
    void *o;
    rc = obj_of(h, handle, &o);
    if (!rc) {
        *cls = (int)((agc_header *)o)->cls;
        *nrefs = agc_nrefs(h->api, o);
        *data_len = agc_data_len(h->api, o);
        *addr = (uintptr_t)o;
    }
    return api_leave(&s, rc);
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
    int rc = api_enter(h, &s);
    if (rc)
        return rc;
    void *o;
    rc = obj_of(h, handle, &o);
    if (!rc)
        rc = data_range(h, o, offset, len);
    if (!rc)
        memcpy(buf, agc_data(h->api, o) + offset, len);
    return api_leave(&s, rc);
}

int agc_write_data(agc_heap *h, uint32_t handle, uint64_t offset, const uint8_t *buf, uint64_t len)
{
    api_scope s;
    int rc = api_enter(h, &s);
    if (rc)
        return rc;
    void *o;
    rc = obj_of(h, handle, &o);
    if (!rc)
        rc = data_range(h, o, offset, len);
    if (!rc)
        memcpy(agc_data(h->api, o) + offset, buf, len);
    return api_leave(&s, rc);
}

static int last_cycle(agc_heap *h, agc_cycle_stats *out)
{
    if (out && h->ncycles)
        return agc_cycle_get(h, h->ncycles - 1, out);
    return AGC_OK;
}

int agc_collect(agc_heap *h, agc_cycle_stats *out)
{
    if (!h || h->closed)
        return agc_fail(AGC_ECLOSED, "the heap is closed");
    if (h->manual_compaction)
        return agc_fail(AGC_EINVAL, "a cycle begun with collect_begin() is waiting for collect_finish()");
    int rc = agc_request_cycle(h, 1, 1, 0);
    if (rc)
        return rc;
    return last_cycle(h, out);
}

int agc_collect_begin(agc_heap *h)
{
    if (!h || h->closed)
        return agc_fail(AGC_ECLOSED, "the heap is closed");
    if (h->opt.mode == AGC_MODE_STW)
        return agc_fail(AGC_EINVAL, "collect_begin() needs a concurrent mode (minor, copy or move); this heap is stw");
    if (h->manual_compaction)
        return agc_fail(AGC_EINVAL, "a cycle begun with collect_begin() is already waiting for collect_finish()");
    return agc_request_cycle(h, 1, 1, 1);
}

int agc_collect_finish(agc_heap *h, agc_cycle_stats *out)
{
    if (!h || h->closed)
        return agc_fail(AGC_ECLOSED, "the heap is closed");
    if (!h->manual_compaction)
        return agc_fail(AGC_EINVAL, "no cycle is waiting: call collect_begin() first");
    int rc = agc_collect_finish_cycle(h);
    if (rc)
        return rc;
    return last_cycle(h, out);
}

int agc_page_states(agc_heap *h, uint8_t *out, uint64_t n, uint64_t *npages)
{
    if (!h || h->closed)
        return agc_fail(AGC_ECLOSED, "the heap is closed");
    uint64_t np = atomic_load(&h->phase) == PH_COMPACTING ? h->npages : 0;
    *npages = np;
    for (uint64_t i = 0; i < np && i < n; i++)
        out[i] = atomic_load(&h->page_state[i]);
    return AGC_OK;
}

int agc_verify(agc_heap *h, char *digest_hex)
{
    if (!h || h->closed)
        return agc_fail(AGC_ECLOSED, "the heap is closed");
    if (h->manual_compaction)
        return agc_fail(AGC_EINVAL, "cannot verify in the middle of a cycle begun with collect_begin(); call collect_finish() first");
    if (h->corrupt)
        return agc_fail(AGC_ECORRUPT, "%s", h->corrupt_msg);
    pthread_mutex_lock(&h->gc_lock);
    while (h->gc_busy || h->gc_request)
        pthread_cond_wait(&h->gc_done_cond, &h->gc_lock);
    /* hold gc_lock so no cycle starts while we look */
    agc_stop_world(h, -1);
    int rc = agc_verify_heap(h, digest_hex, 0);
    agc_start_world(h);
    pthread_mutex_unlock(&h->gc_lock);
    return rc;
}

/* Wait until no cycle is running or requested (so every cycle a run caused
 * is recorded); returns at once when idle. */
int agc_heap_quiesce(agc_heap *h)
{
    if (!h || h->closed)
        return agc_fail(AGC_ECLOSED, "the heap is closed");
    pthread_mutex_lock(&h->gc_lock);
    while ((h->gc_busy || h->gc_request) && !h->manual_compaction && !h->gc_shutdown)
        pthread_cond_wait(&h->gc_done_cond, &h->gc_lock);
    int rc = h->last_cycle_error;
    pthread_mutex_unlock(&h->gc_lock);
    return rc ? agc_fail(rc, "%s", h->last_cycle_msg) : AGC_OK;
}
