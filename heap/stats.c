/* Statistics: per-thread event logs (async-signal-safe appends) and the
 * per-cycle records. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "internal.h"

void agc_evlog_add(agc_evlog *log, const agc_event *e)
{
    agc_evchunk *c = log->tail;
    if (!c || c->n == AGC_EVCHUNK) {
        /* mmap, not malloc: this runs in the SIGBUS handler too */
        void *p = mmap(NULL, sizeof(agc_evchunk), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return;
        agc_evchunk *n = p;
        n->next = NULL;
        n->n = 0;
        if (log->tail)
            log->tail->next = n;
        else
            log->head = n;
        log->tail = n;
        c = n;
    }
    c->ev[c->n] = *e;
    __atomic_store_n(&c->n, c->n + 1, __ATOMIC_RELEASE);
    log->count++;
}

void agc_evlog_free(agc_evlog *log)
{
    agc_evchunk *c = log->head;
    while (c) {
        agc_evchunk *n = c->next;
        munmap(c, sizeof *c);
        c = n;
    }
    log->head = log->tail = NULL;
    log->count = 0;
}

void agc_record_event(agc_mutator *m, int kind, uint64_t t0, uint64_t dur, uint32_t phase)
{
    agc_event e = {t0, dur, m->id, (uint32_t)kind, (uint32_t)AGC_LOAD(m->heap->cycles_started), phase};
    agc_evlog_add(&m->events, &e);
}

void agc_cycle_push(agc_heap *h, const agc_cycle_stats *c)
{
    pthread_mutex_lock(&h->stats_lock);
    if (h->ncycles == h->cycles_cap) {
        uint64_t nc = h->cycles_cap ? h->cycles_cap * 2 : 64;
        agc_cycle_stats *n = realloc(h->cycles, nc * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&h->stats_lock);
            return;
        }
        h->cycles = n;
        h->cycles_cap = nc;
    }
    h->cycles[h->ncycles] = *c;
    AGC_STORE(h->ncycles, h->ncycles + 1);
    pthread_mutex_unlock(&h->stats_lock);
}

uint64_t agc_cycle_count(agc_heap *h) { return AGC_LOAD(h->ncycles); }

int agc_cycle_get(agc_heap *h, uint64_t i, agc_cycle_stats *out)
{
    pthread_mutex_lock(&h->stats_lock);
    if (i >= h->ncycles) {
        pthread_mutex_unlock(&h->stats_lock);
        return agc_fail(AGC_EINVAL, "no cycle %llu (there are %llu)", (unsigned long long)i,
                        (unsigned long long)h->ncycles);
    }
    *out = h->cycles[i];
    pthread_mutex_unlock(&h->stats_lock);
    return AGC_OK;
}

static uint64_t copy_log(const agc_evlog *log, agc_event *out, uint64_t n, uint64_t k)
{
    for (const agc_evchunk *c = log->head; c; c = c->next) {
        uint64_t cn = __atomic_load_n(&c->n, __ATOMIC_ACQUIRE);
        for (uint64_t i = 0; i < cn; i++) {
            if (out && k < n)
                out[k] = c->ev[i];
            k++;
        }
    }
    return k;
}

/* Events of every mutator (alive or gone) and of the fault handler thread.
 * Call with the mutators idle (after a run) for a complete picture. */
uint64_t agc_events(agc_heap *h, agc_event *out, uint64_t n)
{
    uint64_t k = 0;
    pthread_mutex_lock(&h->mut_lock);
    k = copy_log(&h->dead_events, out, n, k);
    for (agc_mutator *m = h->mutators; m; m = m->next)
        k = copy_log(&m->events, out, n, k);
    pthread_mutex_unlock(&h->mut_lock);
    pthread_mutex_lock(&h->fault_ev_lock);
    k = copy_log(&h->fault_events, out, n, k);
    pthread_mutex_unlock(&h->fault_ev_lock);
    return k;
}

uint64_t agc_event_count(agc_heap *h) { return agc_events(h, NULL, 0); }

uint64_t agc_heap_map(agc_heap *h, int after, uint32_t *out, uint64_t n)
{
    pthread_mutex_lock(&h->stats_lock);
    uint32_t *src = after ? h->map_after : h->map_before;
    uint64_t sn = after ? h->map_after_n : h->map_before_n;
    if (out && src)
        memcpy(out, src, (n < sn ? n : sn) * sizeof *out);
    pthread_mutex_unlock(&h->stats_lock);
    return sn;
}
