/* The verifier: walk the heap and the graph from the roots, check every
 * header and every reference, and compute an address-independent digest of
 * what the handles reach (shape, class ids, data bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

typedef struct {
    uint64_t *keys;   /* offset + 1; 0 = empty */
    uint64_t *vals;
    uint64_t cap, n;
} idmap;

static int idmap_grow(idmap *m)
{
    uint64_t nc = m->cap ? m->cap * 2 : 1024;
    uint64_t *k = calloc(nc, 8), *v = calloc(nc, 8);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    for (uint64_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            uint64_t j = (m->keys[i] * 0x9E3779B97F4A7C15ull) & (nc - 1);
            while (k[j])
                j = (j + 1) & (nc - 1);
            k[j] = m->keys[i];
            v[j] = m->vals[i];
        }
    free(m->keys);
    free(m->vals);
    m->keys = k;
    m->vals = v;
    m->cap = nc;
    return 0;
}

/* Returns the id of off, inserting next_id if absent (*fresh = 1). */
static int idmap_get(idmap *m, uint64_t off, uint64_t next_id, uint64_t *id, int *fresh)
{
    if ((m->n + 1) * 2 > m->cap && idmap_grow(m))
        return -1;
    uint64_t key = off + 1;
    uint64_t j = (key * 0x9E3779B97F4A7C15ull) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->keys[j] == key) {
            *id = m->vals[j];
            *fresh = 0;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = key;
    m->vals[j] = next_id;
    m->n++;
    *id = next_id;
    *fresh = 1;
    return 0;
}

typedef struct {
    uint64_t a, b;
} digest;

static inline void mix(digest *d, uint64_t w)
{
    d->a = (d->a ^ w) * 0x100000001B3ull;
    d->a ^= d->a >> 29;
    d->b = (d->b + w) * 0xC2B2AE3D27D4EB4Full;
    d->b ^= d->b >> 31;
}

typedef struct {
    agc_heap *h;
    uint64_t top;
    const uint64_t *starts;   /* object-start bitmap, or NULL */
    idmap ids;
    uint64_t *stack;
    size_t n, cap;
    uint64_t next_id;
    digest d;
    char err[512];
} vctx;

static int bad(vctx *v, const char *fmt, unsigned long long a, unsigned long long b)
{
    if (!v->err[0])
        snprintf(v->err, sizeof v->err, fmt, a, b);
    return -1;
}

static int check_header(vctx *v, uint64_t off)
{
    agc_heap *h = v->h;
    const agc_header *o = (const agc_header *)agc_obj_at(h, off);
    int ncls = atomic_load(&h->types.nclasses);
    if (o->cls == 0 || (int)o->cls >= ncls)
        return bad(v, "object at offset %#llx has an invalid class id %llu", off, o->cls);
    if (o->nwords == 0 || off + (uint64_t)o->nwords * 8 > v->top)
        return bad(v, "object at offset %#llx has an invalid size of %llu words", off, o->nwords);
    int err;
    uint64_t len = (o->cls == AGC_CLS_REFARRAY || o->cls == AGC_CLS_BYTEARRAY) ? ((const uint64_t *)o)[1] : 0;
    uint64_t want = agc_size_words(h, (int)o->cls, len, &err);
    if (err || want != o->nwords)
        return bad(v, "object at offset %#llx: its size (%llu words) does not match its class", off, o->nwords);
    return 0;
}

/* Visit a reference found at from_off (or a root when from_off is ~0). */
static int visit(vctx *v, agc_word val, uint64_t from_off, uint64_t *id_out)
{
    agc_heap *h = v->h;
    if (!val) {
        *id_out = 0;
        return 0;
    }
    uint64_t off = val - (agc_word)h->mem.primary;
    if (val < (agc_word)h->mem.primary || off >= v->top || (off & 7))
        return bad(v, "object at offset %#llx refers to %#llx, outside the heap's used space", from_off, val);
    if (v->starts && !bm_get(v->starts, off >> 3))
        return bad(v, "object at offset %#llx refers to offset %#llx, which is not an object start", from_off, off);
    int fresh;
    if (idmap_get(&v->ids, off, v->next_id, id_out, &fresh))
        return bad(v, "verifier out of memory (%llu objects)%llu", v->next_id, 0);
    if (!fresh)
        return 0;
    v->next_id++;
    if (check_header(v, off))
        return -1;
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 4096;
        uint64_t *s = realloc(v->stack, nc * 8);
        if (!s)
            return bad(v, "verifier out of memory (%llu objects)%llu", v->next_id, 0);
        v->stack = s;
        v->cap = nc;
    }
    v->stack[v->n++] = off;
    return 0;
}

static int trace(vctx *v)
{
    agc_heap *h = v->h;
    while (v->n) {
        uint64_t off = v->stack[--v->n];
        const agc_header *o = (const agc_header *)agc_obj_at(h, off);
        mix(&v->d, 0xABCDEFull);
        mix(&v->d, o->cls);
        mix(&v->d, o->nwords);
        uint64_t fw;
        uint64_t nrefs = agc_obj_refs(h, o, &fw);
        if (o->cls == AGC_CLS_REFARRAY || o->cls == AGC_CLS_BYTEARRAY)
            mix(&v->d, ((const uint64_t *)o)[1]);
        const agc_word *slots = (const agc_word *)o + fw;
        for (uint64_t i = 0; i < nrefs; i++) {
            uint64_t id;
            if (visit(v, __atomic_load_n(&slots[i], __ATOMIC_RELAXED), off, &id))
                return -1;
            mix(&v->d, id);
        }
        uint64_t doff;
        uint64_t dlen = agc_obj_data_len(h, o, &doff);
        const uint8_t *data = (const uint8_t *)o + doff;
        uint64_t i = 0;
        for (; i + 8 <= dlen; i += 8) {
            uint64_t w;
            memcpy(&w, data + i, 8);
            mix(&v->d, w);
        }
        if (i < dlen) {
            uint64_t w = 0;
            memcpy(&w, data + i, dlen - i);
            mix(&v->d, w ^ (0x5Aull << 56));
        }
    }
    return 0;
}

static void finish(vctx *v, char *hex33)
{
    mix(&v->d, v->next_id);
    snprintf(hex33, 33, "%016llx%016llx", (unsigned long long)v->d.a, (unsigned long long)v->d.b);
    free(v->ids.keys);
    free(v->ids.vals);
    free(v->stack);
}

static void vinit(vctx *v, agc_heap *h)
{
    memset(v, 0, sizeof *v);
    v->h = h;
    v->top = AGC_LOAD(h->alloc.top);
    v->next_id = 1;
    v->d.a = 0xcbf29ce484222325ull;
    v->d.b = 0x84222325cbf29ce4ull;
}

/* Walk [0, top) linearly: every header sane, the heap walkable. */
static int walk(vctx *v, uint64_t *bm)
{
    uint64_t off = 0;
    while (off < v->top) {
        const agc_header *o = (const agc_header *)agc_obj_at(v->h, off);
        if (o->cls == AGC_CLS_FILLER) {
            if (o->nwords == 0 || off + (uint64_t)o->nwords * 8 > v->top)
                return bad(v, "heap walk: filler at offset %#llx has a bad size %llu", off, o->nwords);
        } else {
            if (check_header(v, off))
                return -1;
            bm_set(bm, off >> 3);
        }
        off += (uint64_t)o->nwords * 8;
    }
    return 0;
}

static void root_check(agc_heap *h, agc_word *slot, void *ctx)
{
    vctx *v = ctx;
    uint64_t id;
    if (!v->err[0])
        visit(v, *slot, ~0ull, &id);
}

/* World stopped (or no mutator running). */
int agc_verify_heap(agc_heap *h, char *hex33, int only_check)
{
    vctx v;
    vinit(&v, h);
    uint64_t words = (v.top / 8 + 63) / 64 + 1;
    uint64_t *bm = calloc(words, 8);
    if (!bm)
        return agc_fail(AGC_ESYS, "verifier: out of memory");
    v.starts = bm;
    int rc = walk(&v, bm);
    /* every root, then the digest of what the handles reach, in handle order */
    if (!rc) {
        for (agc_mutator *m = h->world.mutators; m && !rc; m = m->next)
            for (size_t i = 0; i < m->hot.nroots && !rc; i++) {
                uint64_t id;
                rc = visit(&v, m->hot.roots[i], ~0ull, &id);
            }
        if (!rc)
            rc = trace(&v);
        /* digest over handles only, fresh ids */
        free(v.ids.keys);
        free(v.ids.vals);
        memset(&v.ids, 0, sizeof v.ids);
        v.next_id = 1;
        v.d.a = 0xcbf29ce484222325ull;
        v.d.b = 0x84222325cbf29ce4ull;
        for (uint32_t i = 1; i < h->roots.nhandles && !rc; i++) {
            if (!AGC_HUSED(h, i))
                continue;
            uint64_t id;
            rc = visit(&v, AGC_HSLOT(h, i), ~0ull, &id);
            mix(&v.d, id);
            if (!rc)
                rc = trace(&v);
        }
    }
    (void)root_check;
    free(bm);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", v.err);
    finish(&v, hex33);
    if (rc)
        return agc_fail(AGC_ECORRUPT, "heap corrupt: %s", msg);
    (void)only_check;
    return AGC_OK;
}

int agc_digest_obj(agc_heap *h, uint64_t off, char *hex33)
{
    vctx v;
    vinit(&v, h);
    uint64_t id;
    int rc = visit(&v, (agc_word)h->mem.primary + off, ~0ull, &id);
    if (!rc)
        rc = trace(&v);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", v.err);
    finish(&v, hex33);
    if (rc)
        return agc_fail(AGC_ECORRUPT, "heap corrupt: %s", msg);
    return AGC_OK;
}

int agc_digest_from(agc_mutator *m, void *obj, char *hex33)
{
    return agc_digest_obj(m->heap, agc_off_of(m->heap, obj), hex33);
}

/* A copy of the used heap [0, top) with every reference rewritten as an
 * offset from the heap's start (+1, so null stays 0): two heaps that hold the
 * same objects at the same offsets give the same bytes whatever their
 * addresses. Returns the number of words (copies at most n). */
uint64_t agc_heap_snapshot(agc_heap *h, uint64_t *out, uint64_t n)
{
    if (!h || h->closed)
        return 0;
    if (h->cp.manual_compaction) {
        agc_fail(AGC_EINVAL, "cannot snapshot in the middle of a cycle begun with collect_begin(); "
                 "call collect_finish() first");
        return 0;
    }
    pthread_mutex_lock(&h->gc.gc_lock);
    while (h->gc.gc_busy || h->gc.gc_request)
        pthread_cond_wait(&h->gc.gc_done_cond, &h->gc.gc_lock);
    agc_stop_world(h, -1);
    uint64_t top = AGC_LOAD(h->alloc.top), words = top / 8;
    if (out) {
        uint64_t k = words < n ? words : n;
        memcpy(out, h->mem.primary, k * 8);
        uint64_t off = 0;
        while (off < top) {
            const agc_header *o = (const agc_header *)agc_obj_at(h, off);
            if (o->nwords == 0)
                break;
            uint64_t fw;
            uint64_t nr = agc_obj_refs(h, o, &fw);
            for (uint64_t i = 0; i < nr; i++) {
                uint64_t w = off / 8 + fw + i;
                if (w < k && out[w])
                    out[w] = out[w] - (uint64_t)h->mem.primary + 1;
            }
            off += (uint64_t)o->nwords * 8;
        }
    }
    agc_start_world(h);
    pthread_mutex_unlock(&h->gc.gc_lock);
    return words;
}
