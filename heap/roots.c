/* Roots: per-thread shadow stacks, and the handle table (Python handles and
 * workloads' global roots). */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

size_t agc_push_slow(agc_mutator *m, void *obj)
{
    size_t nc = m->hot.roots_cap ? m->hot.roots_cap * 2 : 256;
    agc_word *n = realloc(m->hot.roots, nc * sizeof *n);
    if (!n)
        abort();   /* the process is out of malloc memory: nothing sane to do */
    m->hot.roots = n;
    m->hot.roots_cap = nc;
    m->hot.roots[m->hot.nroots] = (agc_word)obj;
    return m->hot.nroots++;
}

/* Handle table --------------------------------------------------------- */

int agc_handle_alloc(agc_heap *h, agc_word obj, uint32_t *out)
{
    pthread_mutex_lock(&h->roots.handle_lock);
    uint32_t idx;
    if (h->roots.nfree) {
        idx = h->roots.handle_free[--h->roots.nfree];
    } else {
        if (h->roots.nhandles == 0)
            h->roots.nhandles = 1;   /* index 0 is "no object" */
        idx = h->roots.nhandles;
        uint32_t c = idx / AGC_HCHUNK;
        if (c >= AGC_HCHUNKS) {
            pthread_mutex_unlock(&h->roots.handle_lock);
            return agc_fail(AGC_EOOM, "too many live handles (at most %u)", AGC_HCHUNK * AGC_HCHUNKS - 1);
        }
        if (!h->roots.hchunks[c]) {
            agc_word *w = calloc(AGC_HCHUNK, sizeof *w);
            uint8_t *u = calloc(AGC_HCHUNK, 1);
            if (!w || !u) {
                free(w);
                free(u);
                pthread_mutex_unlock(&h->roots.handle_lock);
                return agc_fail(AGC_ESYS, "out of process memory for handles");
            }
            h->roots.hused[c] = u;
            __atomic_store_n(&h->roots.hchunks[c], w, __ATOMIC_RELEASE);
        }
        h->roots.nhandles++;
    }
    AGC_HSLOT(h, idx) = obj;
    AGC_HUSED(h, idx) = 1;
    pthread_mutex_unlock(&h->roots.handle_lock);
    *out = idx;
    return AGC_OK;
}

int agc_handle_check(agc_heap *h, uint32_t idx)
{
    if (idx == 0 || idx >= h->roots.nhandles || !AGC_HUSED(h, idx))
        return agc_fail(AGC_EINVAL, "invalid handle %u (freed, or from another heap)", idx);
    return AGC_OK;
}

int agc_handle_release(agc_heap *h, uint32_t idx)
{
    pthread_mutex_lock(&h->roots.handle_lock);
    int rc = agc_handle_check(h, idx);
    if (!rc && h->roots.nfree == h->roots.free_cap) {
        uint32_t nc = h->roots.free_cap ? h->roots.free_cap * 2 : 1024;
        uint32_t *nf = realloc(h->roots.handle_free, nc * sizeof *nf);
        if (!nf)
            rc = agc_fail(AGC_ESYS, "out of process memory for handles");
        else {
            h->roots.handle_free = nf;
            h->roots.free_cap = nc;
        }
    }
    if (!rc) {
        AGC_HUSED(h, idx) = 0;
        AGC_HSLOT(h, idx) = 0;
        h->roots.handle_free[h->roots.nfree++] = idx;
    }
    pthread_mutex_unlock(&h->roots.handle_lock);
    return rc;
}

void agc_handles_free(agc_heap *h)
{
    for (uint32_t c = 0; c < AGC_HCHUNKS; c++) {
        free(h->roots.hchunks[c]);
        free(h->roots.hused[c]);
        h->roots.hchunks[c] = NULL;
        h->roots.hused[c] = NULL;
    }
    free(h->roots.handle_free);
    h->roots.handle_free = NULL;
}

int agc_global_root_new(agc_mutator *m, void *obj, uint32_t *idx_out)
{
    return agc_handle_alloc(m->heap, (agc_word)obj, idx_out);
}
/* Chunks never move, so a global root is read and written without a lock. */
void *agc_global_root(agc_mutator *m, uint32_t idx) { return (void *)AGC_HSLOT(m->heap, idx); }
void agc_global_root_set(agc_mutator *m, uint32_t idx, void *obj) { AGC_HSLOT(m->heap, idx) = (agc_word)obj; }
void agc_global_root_free(agc_mutator *m, uint32_t idx) { agc_handle_release(m->heap, idx); }

void agc_for_each_root(agc_heap *h, agc_root_fn fn, void *ctx)
{
    for (uint32_t i = 1; i < h->roots.nhandles; i++)
        if (AGC_HUSED(h, i) && AGC_HSLOT(h, i))
            fn(h, &AGC_HSLOT(h, i), ctx);
    for (agc_mutator *m = h->world.mutators; m; m = m->next)
        for (size_t i = 0; i < m->hot.nroots; i++)
            if (m->hot.roots[i])
                fn(h, &m->hot.roots[i], ctx);
}
