/* Roots: per-thread shadow stacks, and the handle table (Python handles and
 * workloads' global roots). */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

size_t agc_push(agc_mutator *m, void *obj)
{
    if (m->nroots == m->roots_cap) {
        size_t nc = m->roots_cap ? m->roots_cap * 2 : 256;
        agc_word *n = realloc(m->roots, nc * sizeof *n);
        if (!n)
            abort();   /* the process is out of malloc memory: nothing sane to do */
        m->roots = n;
        m->roots_cap = nc;
    }
    m->roots[m->nroots] = (agc_word)obj;
    return m->nroots++;
}

void *agc_root(agc_mutator *m, size_t idx) { return (void *)m->roots[idx]; }
void agc_set_root(agc_mutator *m, size_t idx, void *obj) { m->roots[idx] = (agc_word)obj; }
void agc_pop(agc_mutator *m, size_t n) { m->nroots = n > m->nroots ? 0 : m->nroots - n; }
size_t agc_depth(agc_mutator *m) { return m->nroots; }
void agc_truncate(agc_mutator *m, size_t depth)
{
    if (depth < m->nroots)
        m->nroots = depth;
}

/* Handle table --------------------------------------------------------- */

int agc_handle_alloc(agc_heap *h, agc_word obj, uint32_t *out)
{
    pthread_mutex_lock(&h->handle_lock);
    uint32_t idx;
    if (h->nfree) {
        idx = h->handle_free[--h->nfree];
    } else {
        if (h->nhandles + 1 >= h->handles_cap) {
            uint32_t nc = h->handles_cap ? h->handles_cap * 2 : 1024;
            agc_word *nh = realloc(h->handles, nc * sizeof *nh);
            uint32_t *nf = realloc(h->handle_free, nc * sizeof *nf);
            uint8_t *nu = realloc(h->handle_used, nc);
            if (nh)
                h->handles = nh;
            if (nf)
                h->handle_free = nf;
            if (nu)
                h->handle_used = nu;
            if (!nh || !nf || !nu) {
                pthread_mutex_unlock(&h->handle_lock);
                return agc_fail(AGC_ESYS, "out of process memory for handles");
            }
            memset(h->handle_used + h->handles_cap, 0, nc - h->handles_cap);
            h->handles_cap = nc;
            if (h->nhandles == 0)
                h->nhandles = 1;   /* index 0 is "no object" */
        }
        idx = h->nhandles++;
    }
    h->handles[idx] = obj;
    h->handle_used[idx] = 1;
    pthread_mutex_unlock(&h->handle_lock);
    *out = idx;
    return AGC_OK;
}

int agc_handle_check(agc_heap *h, uint32_t idx)
{
    if (idx == 0 || idx >= h->nhandles || !h->handle_used[idx])
        return agc_fail(AGC_EINVAL, "invalid handle %u (freed, or from another heap)", idx);
    return AGC_OK;
}

int agc_handle_release(agc_heap *h, uint32_t idx)
{
    pthread_mutex_lock(&h->handle_lock);
    int rc = agc_handle_check(h, idx);
    if (!rc) {
        h->handle_used[idx] = 0;
        h->handles[idx] = 0;
        h->handle_free[h->nfree++] = idx;
    }
    pthread_mutex_unlock(&h->handle_lock);
    return rc;
}

int agc_global_root_new(agc_mutator *m, void *obj, uint32_t *idx_out)
{
    return agc_handle_alloc(m->heap, (agc_word)obj, idx_out);
}
void *agc_global_root(agc_mutator *m, uint32_t idx) { return (void *)m->heap->handles[idx]; }
void agc_global_root_set(agc_mutator *m, uint32_t idx, void *obj) { m->heap->handles[idx] = (agc_word)obj; }
void agc_global_root_free(agc_mutator *m, uint32_t idx) { agc_handle_release(m->heap, idx); }

void agc_for_each_root(agc_heap *h, agc_root_fn fn, void *ctx)
{
    for (uint32_t i = 1; i < h->nhandles; i++)
        if (h->handle_used[i] && h->handles[i])
            fn(h, &h->handles[i], ctx);
    for (agc_mutator *m = h->mutators; m; m = m->next)
        for (size_t i = 0; i < m->nroots; i++)
            if (m->roots[i])
                fn(h, &m->roots[i], ctx);
}
