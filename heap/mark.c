/* Marking: mark bitmap (object starts) and live-words bitmap (every word of a
 * live object), a growable mark stack, and the SATB write barrier's buffers.
 * Objects at or above mark_start_top were allocated during the cycle and are
 * live without tracing ("allocated black"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

volatile int agc_any_marking;

static void corrupt(agc_heap *h, const char *what, uint64_t from_off, uint64_t val)
{
    if (h->corrupt)
        return;
    h->corrupt = 1;
    snprintf(h->corrupt_msg, sizeof h->corrupt_msg,
             "marking: %s: object at offset %#llx refers to %#llx, outside the heap's objects",
             what, (unsigned long long)from_off, (unsigned long long)val);
}

static void push(agc_heap *h, uint64_t w)
{
    agc_markstack *s = &h->mk.mstack;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4096;
        uint64_t *n = realloc(s->v, nc * sizeof *n);
        if (!n)
            abort();   /* no memory to finish marking: the heap cannot be collected */
        s->v = n;
        s->cap = nc;
    }
    s->v[s->n++] = w;
}

/* Marking an object sets its bit and pushes it; its header is read when it
 * is scanned (agc_mark_drain), after a prefetch, not here: a header read
 * per object reached was most of the marker's cache misses. */
void agc_mark_object(agc_heap *h, uint64_t w)
{
    if (w * 8 >= h->mk.mark_start_top || w * 8 < h->gen.young_start)
        return;                      /* allocated black, or old in a young cycle */
    if (bm_get(h->mk.mark_bits, w))
        return;
    bm_set(h->mk.mark_bits, w);
    push(h, w);
}

static inline void mark_ref(agc_heap *h, agc_word v, uint64_t from)
{
    if (!v)
        return;
    uint64_t off = v - (agc_word)h->mem.primary;
    if (v < (agc_word)h->mem.primary || off >= h->mem.cap || (off & 7)) {
        corrupt(h, "wild reference", from, v);
        return;
    }
    agc_mark_object(h, off >> 3);
}

/* A marked object: its live words, then what it refers to. */
static void scan(agc_heap *h, uint64_t w)
{
    agc_header *o = (agc_header *)agc_obj_at(h, w * 8);
    uint32_t nw = o->nwords;
    if (nw == 0 || o->cls == AGC_CLS_FILLER || o->cls >= (uint32_t)atomic_load(&h->types.nclasses) ||
        w * 8 + (uint64_t)nw * 8 > h->mk.mark_start_top) {
        corrupt(h, "bad header", w * 8, o->cls);
        return;
    }
    bm_set_range(h->mk.live_bits, w, nw);
    uint64_t fw;
    uint64_t n = agc_obj_refs(h, o, &fw);
    agc_word *slots = (agc_word *)o + fw;
    for (uint64_t i = 0; i < n; i++)
        mark_ref(h, __atomic_load_n(&slots[i], __ATOMIC_RELAXED), w * 8);
}

/* Objects popped from the mark stack wait in a small ring while their
 * headers are prefetched, and are scanned in the order they came. On
 * binarytrees 21 / 1 GiB, art-2023 with full cycles only (interleaved, 5
 * runs each, 2026-12-07): median marking rate 1.29-1.45 -> 1.48-1.60 GB/s
 * (8 and 16 ahead; 16 kept), and the allocation waits of 155-362 ms that 4
 * of 5 runs had before were gone in all 5 (cycles end sooner). */
#define AGC_MARK_AHEAD 16
void agc_mark_drain(agc_heap *h)
{
    agc_markstack *s = &h->mk.mstack;
    uint64_t ring[AGC_MARK_AHEAD];
    unsigned head = 0, n = 0;
    for (;;) {
        if (s->n && n < AGC_MARK_AHEAD) {
            uint64_t w = s->v[--s->n];
            __builtin_prefetch(agc_obj_at(h, w * 8));
            ring[(head + n) % AGC_MARK_AHEAD] = w;
            n++;
            continue;
        }
        if (!n)
            return;
        uint64_t w = ring[head];
        head = (head + 1) % AGC_MARK_AHEAD;
        n--;
        scan(h, w);
    }
}

void agc_mark_value(agc_heap *h, agc_word v, uint64_t from) { mark_ref(h, v, from); }

static void root_fn(agc_heap *h, agc_word *slot, void *ctx)
{
    mark_ref(h, *slot, 0);
}

void agc_mark_roots(agc_heap *h)
{
    agc_for_each_root(h, root_fn, NULL);
}

/* Mark what full SATB blocks recorded (concurrently, or in the pause). */
static uint64_t drain_satb_blocks(agc_heap *h)
{
    uint64_t n = 0;
    for (;;) {
        pthread_mutex_lock(&h->mk.satb_lock);
        agc_satb_block *b = h->mk.satb_full;
        h->mk.satb_full = NULL;
        pthread_mutex_unlock(&h->mk.satb_lock);
        if (!b)
            return n;
        while (b) {
            for (size_t i = 0; i < b->n; i++)
                mark_ref(h, b->v[i], 0);
            n += b->n;
            h->mk.satb_total += b->n;
            agc_satb_block *nx = b->next;
            free(b);
            b = nx;
            agc_mark_drain(h);
        }
    }
}

uint64_t agc_mark_concurrent_step(agc_heap *h)
{
    agc_mark_drain(h);
    return drain_satb_blocks(h);
}

/* World stopped: take every thread's partial SATB buffer too. */
void agc_mark_flush_satb(agc_heap *h)
{
    uint64_t n = 0;
    drain_satb_blocks(h);
    for (agc_mutator *m = h->world.mutators; m; m = m->next) {
        for (size_t i = 0; i < m->nsatb; i++)
            mark_ref(h, m->satb[i], 0);
        n += m->nsatb;
        m->nsatb = 0;
    }
    agc_mark_drain(h);
    h->mk.satb_total += n;
}

/* The deletion barrier: record the overwritten reference while marking. */
void agc_store_ref_slow(agc_mutator *m, agc_word *slot, void *val)
{
    agc_heap *h = m->heap;
    if (atomic_load_explicit(&h->mk.marking, memory_order_relaxed)) {
        agc_word old = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (old) {
            if (m->nsatb == m->satb_cap) {
                if (m->satb_cap >= 1024) {
                    agc_satb_block *b = malloc(sizeof *b + m->nsatb * sizeof(agc_word));
                    if (!b)
                        abort();
                    b->n = m->nsatb;
                    memcpy(b->v, m->satb, m->nsatb * sizeof(agc_word));
                    pthread_mutex_lock(&h->mk.satb_lock);
                    b->next = h->mk.satb_full;
                    h->mk.satb_full = b;
                    pthread_mutex_unlock(&h->mk.satb_lock);
                    m->nsatb = 0;
                } else {
                    size_t nc = m->satb_cap ? m->satb_cap * 2 : 256;
                    agc_word *n = realloc(m->satb, nc * sizeof *n);
                    if (!n)
                        abort();
                    m->satb = n;
                    m->satb_cap = nc;
                }
            }
            m->satb[m->nsatb++] = old;
        }
    }
    __atomic_store_n(slot, (agc_word)val, __ATOMIC_RELAXED);
    __atomic_store_n((uint8_t *)(m->hot.card_bias + ((uintptr_t)slot >> AGC_CARD_SHIFT_PUB)), 1, __ATOMIC_RELAXED);
}

void agc_mark_reset(agc_heap *h)
{
    uint64_t words = (h->plan.plan_top / 8 + 63) / 64 + 1;
    if (words > h->mk.nbitwords)
        words = h->mk.nbitwords;
    memset(h->mk.mark_bits, 0, words * 8);
    memset(h->mk.live_bits, 0, words * 8);
}
