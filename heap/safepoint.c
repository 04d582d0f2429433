/* Mutator threads: attach/detach, safepoint polls, blocking transitions, and
 * stopping / restarting the world. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include "internal.h"

volatile int agc_any_stop_requested;
__thread agc_mutator *agc_self;

/* A native mutator thread that exits or is cancelled without agc_detach is
 * detached by its thread-specific-data destructor, so it never holds up a
 * pause. The registry of live heaps keeps that from touching a closed heap.
 * Every thread that used a heap (a mutator, or a Python thread calling the
 * API, whose faults build pages in per-thread buffers) gives those buffers
 * back when it exits.
 *
 * fork(): the child gets a copy of the heaps' bookkeeping but must not touch
 * their memory (in the memfd modes the pages are shared with the parent) nor
 * wait for their threads (they do not exist in the child). A pthread_atfork
 * child handler unmaps every heap's address ranges and closes its
 * descriptors in the child; the API refuses the child's calls (pid check,
 * api.c) and agc_heap_destroy leaves the copy alone. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static agc_heap **registry;
static size_t registry_n, registry_cap;
static pthread_key_t exit_key, buf_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void) { pthread_mutex_lock(&registry_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&registry_lock); }

static void unmap_in_child(agc_heap *h)
{
    agc_heap_release_memory(h);
    if (h->flt.uffd >= 0)
        close(h->flt.uffd);
    h->flt.uffd = -1;
}

static void fork_child(void)
{
    for (size_t i = 0; i < registry_n; i++)
        unmap_in_child(registry[i]);
    pthread_mutex_unlock(&registry_lock);
}

static void make_fork_handlers(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void agc_heap_registry_add(agc_heap *h)
{
    pthread_once(&fork_once, make_fork_handlers);
    pthread_mutex_lock(&registry_lock);
    if (registry_n == registry_cap) {
        size_t nc = registry_cap ? 2 * registry_cap : 64;
        agc_heap **n = realloc(registry, nc * sizeof *n);
        if (!n)
            abort();   /* the process is out of malloc memory */
        registry = n;
        registry_cap = nc;
    }
    registry[registry_n++] = h;
    pthread_mutex_unlock(&registry_lock);
}

void agc_heap_registry_remove(agc_heap *h)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < registry_n; i++)
        if (registry[i] == h) {
            registry[i] = registry[--registry_n];
            break;
        }
    if (registry_n == 0) {
        free(registry);
        registry = NULL;
        registry_cap = 0;
    }
    pthread_mutex_unlock(&registry_lock);
}

static void thread_exit_detach(void *p)
{
    agc_mutator *m = p;
    pthread_mutex_lock(&registry_lock);
    int alive = 0;
    for (size_t i = 0; i < registry_n && !alive; i++)
        if (registry[i] == m->heap) {
            pthread_mutex_lock(&m->heap->world.mut_lock);
            for (agc_mutator *x = m->heap->world.mutators; x; x = x->next)
                alive |= x == m;
            pthread_mutex_unlock(&m->heap->world.mut_lock);
        }
    pthread_mutex_unlock(&registry_lock);
    if (alive)
        agc_detach(m);
    agc_compact_thread_done();
}

static void thread_exit_buffers(void *p)
{
    (void)p;
    agc_compact_thread_done();
}

static int exit_key_made;
static void make_exit_key(void)
{
    exit_key_made = pthread_key_create(&exit_key, thread_exit_detach) == 0 &&
                    pthread_key_create(&buf_key, thread_exit_buffers) == 0;
}
static int exit_key_ready(void) { return exit_key_made; }

void agc_thread_uses_heap(void)
{
    static __thread int noted;
    if (noted)
        return;
    pthread_once(&exit_once, make_exit_key);
    if (exit_key_ready())
        pthread_setspecific(buf_key, (void *)1);
    noted = 1;
}

agc_mutator *agc_mutator_new(agc_heap *h, int in_api)
{
    agc_mutator *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->heap = h;
    m->in_api = in_api;
    m->hot.base = h->mem.primary;
    m->hot.class_words = h->types.class_words;
    m->hot.mark_bits = h->mk.mark_bits;
    /* the primary is 1 GiB aligned (AGC_ALIGN_RESERVE), so its address >> 9 is exact */
    m->hot.card_bias = (uintptr_t)h->gen.cards - ((uintptr_t)h->mem.primary >> AGC_CARD_SHIFT_PUB);
    m->hot.alloc_black = (const int *)&h->mk.alloc_black;
    atomic_store(&m->state, MS_SAFE);
    AGC_NOCANCEL_BEGIN;
    pthread_mutex_lock(&h->world.mut_lock);
    while (atomic_load(&h->world.stop_requested))
        pthread_cond_wait(&h->world.mut_cond, &h->world.mut_lock);
    m->id = h->world.next_mutator_id++;
    m->tid = (uint32_t)gettid();
    {
        /* a small table the handler thread reads without locks */
        uint32_t k = h->world.ntid_map < 1024 ? h->world.ntid_map : (m->id % 1024);
        AGC_STORE(h->world.tid_map[k][1], m->id);
        AGC_STORE(h->world.tid_map[k][0], m->tid);
        if (h->world.ntid_map < 1024)
            AGC_STORE(h->world.ntid_map, h->world.ntid_map + 1);
    }
    m->next = h->world.mutators;
    h->world.mutators = m;
    AGC_STORE(h->world.nmutators, h->world.nmutators + 1);
    m->attached = 1;
    pthread_mutex_unlock(&h->world.mut_lock);
    AGC_NOCANCEL_END;
    return m;
}

agc_mutator *agc_attach(agc_heap *h)
{
    if (!h || h->closed || atomic_load(&h->closing)) {
        agc_fail(AGC_ECLOSED, "the heap is closed");
        return NULL;
    }
    if (agc_heap_foreign(h)) {
        agc_fail(AGC_ECLOSED, "this heap belongs to process %d: a forked child cannot use it", h->pid);
        return NULL;
    }
    agc_mutator *m = agc_mutator_new(h, 0);
    if (!m) {
        agc_fail(AGC_ESYS, "out of process memory attaching a mutator");
        return NULL;
    }
    agc_self = m;
    pthread_once(&exit_once, make_exit_key);
    pthread_setspecific(exit_key, m);
    agc_unblock(m);
    return m;
}

uint32_t agc_mutator_id(agc_mutator *m) { return m->id; }
agc_heap *agc_mutator_heap(agc_mutator *m) { return m->heap; }

static void retire_tlab(agc_mutator *m)
{
    if (m->hot.tlab_end > m->hot.tlab_cur)
        agc_heap_fill(m->heap, m->hot.tlab_cur, m->hot.tlab_end - m->hot.tlab_cur);
    m->hot.tlab_cur = m->hot.tlab_end = 0;
    m->hot.own_n = 0;
}

static void unlink_mutator(agc_heap *h, agc_mutator *m)
{
    for (agc_mutator **p = &h->world.mutators; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            break;
        }
}

static void move_events(agc_evlog *dst, agc_evlog *src)
{
    for (agc_evchunk *c = src->head; c; c = c->next)
        for (uint64_t i = 0; i < c->n; i++)
            agc_evlog_add(dst, &c->ev[i]);
    agc_evlog_free(src);
}

void agc_detach(agc_mutator *m)
{
    if (!m)
        return;
    agc_heap *h = m->heap;
    int m_in_api = m->in_api;
    if (!m_in_api && exit_key_ready() && pthread_getspecific(exit_key) == m)
        pthread_setspecific(exit_key, NULL);
    retire_tlab(m);
    agc_block(m);
    AGC_NOCANCEL_BEGIN;
    pthread_mutex_lock(&h->world.mut_lock);
    while (atomic_load(&h->world.stop_requested))
        pthread_cond_wait(&h->world.mut_cond, &h->world.mut_lock);
    unlink_mutator(h, m);
    AGC_STORE(h->world.nmutators, h->world.nmutators - 1);
    m->attached = 0;
    /* SATB entries of a leaving thread still matter to marking. */
    if (m->nsatb) {
        pthread_mutex_lock(&h->mk.satb_lock);
        agc_satb_block *b = malloc(sizeof *b + m->nsatb * sizeof(agc_word));
        if (b) {
            b->n = m->nsatb;
            memcpy(b->v, m->satb, m->nsatb * sizeof(agc_word));
            b->next = h->mk.satb_full;
            h->mk.satb_full = b;
        }
        pthread_mutex_unlock(&h->mk.satb_lock);
    }
    move_events(&h->world.dead_events, &m->events);
    pthread_mutex_unlock(&h->world.mut_lock);
    AGC_NOCANCEL_END;
    if (agc_self == m)
        agc_self = NULL;
    free(m->hot.roots);
    free(m->satb);
    free(m);
    if (!m_in_api)
        agc_compact_thread_done();
}

void agc_mutator_free_all(agc_heap *h)
{
    pthread_mutex_lock(&h->world.mut_lock);
    while (h->world.mutators) {
        agc_mutator *m = h->world.mutators;
        h->world.mutators = m->next;
        move_events(&h->world.dead_events, &m->events);
        free(m->hot.roots);
        free(m->satb);
        if (agc_self == m)
            agc_self = NULL;
        free(m);
    }
    pthread_mutex_unlock(&h->world.mut_lock);
}

/* Park until the current stop ends (called with mut_lock held). A futex
 * wake-up from another core costs tens of microseconds on these VMs and, now
 * and then, milliseconds (the idle virtual CPU has to be scheduled again by
 * the host), so when there is a core to spare the thread first spins, lock
 * released, for up to 1 ms: longer than a GC pause usually lasts. Not in a
 * stop-the-world collection or a verification pause, which take longer.
 * (Spinning through the flip costs its address-space calls a TLB-shootdown
 * interrupt each; measured on binarytrees 20 / 1 GiB, 24 runs: the flip's
 * median went from 0.11 to 0.08 ms anyway, and the pauses' p99 from 2.0 to
 * 0.2 ms.) A flip that moves a mapping 2 MiB entry by entry (park_sleep)
 * would pay hundreds of those interrupts: there the mutators sleep, and
 * their CPU, idle, is skipped by the shootdowns (lazy TLB). */
static long ncpus;
static const uint64_t spin_ns = 1000000;
static void park_locked(agc_heap *h)
{
    if (!ncpus)
        ncpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (atomic_load(&h->world.stop_requested) && AGC_LOAD(h->world.nmutators) < ncpus &&
        (h->world.stop_phase >= 0 && h->world.stop_phase <= 2) && !AGC_LOAD(h->world.park_sleep)) {
        uint64_t epoch = h->world.stop_epoch;
        pthread_mutex_unlock(&h->world.mut_lock);
        uint64_t t0 = agc_now_ns();
        while (atomic_load_explicit(&h->world.stop_requested, memory_order_acquire) &&
               agc_now_ns() - t0 < spin_ns)
            __builtin_ia32_pause();
        pthread_mutex_lock(&h->world.mut_lock);
        (void)epoch;
    }
    while (atomic_load(&h->world.stop_requested))
        pthread_cond_wait(&h->world.mut_cond, &h->world.mut_lock);
}

void agc_block(agc_mutator *m)
{
    agc_heap *h = m->heap;
    atomic_store(&m->state, MS_SAFE);
    if (atomic_load(&h->world.stop_requested)) {
        pthread_mutex_lock(&h->world.mut_lock);
        pthread_cond_broadcast(&h->world.gc_cond);
        pthread_mutex_unlock(&h->world.mut_lock);
    }
}

void agc_unblock(agc_mutator *m)
{
    agc_heap *h = m->heap;
    uint64_t t0 = 0;
    for (;;) {
        atomic_store(&m->state, MS_RUNNING);
        if (!atomic_load(&h->world.stop_requested))
            break;
        atomic_store(&m->state, MS_SAFE);
        if (!t0)
            t0 = agc_now_ns();
        AGC_NOCANCEL_BEGIN;
        pthread_mutex_lock(&h->world.mut_lock);
        pthread_cond_broadcast(&h->world.gc_cond);
        int phase = h->world.stop_phase;
        park_locked(h);
        pthread_mutex_unlock(&h->world.mut_lock);
        AGC_NOCANCEL_END;
        if (phase >= 0 && !m->in_api) {
            /* it wanted to run and the GC held it back: a pause */
            agc_record_event(m, AGC_EV_PAUSE, t0, agc_now_ns() - t0, (uint32_t)phase);
            t0 = 0;
        }
    }
}

void agc_poll_slow(agc_mutator *m)
{
    agc_heap *h = m->heap;
    if (!atomic_load(&h->world.stop_requested))
        return;
    pthread_mutex_lock(&h->world.mut_lock);
    if (!atomic_load(&h->world.stop_requested)) {
        pthread_mutex_unlock(&h->world.mut_lock);
        return;
    }
    uint64_t t0 = h->world.stop_t0;
    int phase = h->world.stop_phase;
    atomic_store(&m->state, MS_SAFE);
    pthread_cond_broadcast(&h->world.gc_cond);
    AGC_NOCANCEL_BEGIN;
    park_locked(h);
    AGC_NOCANCEL_END;
    atomic_store(&m->state, MS_RUNNING);
    pthread_mutex_unlock(&h->world.mut_lock);
    uint64_t t1 = agc_now_ns();
    if (phase >= 0)
        agc_record_event(m, AGC_EV_PAUSE, t0, t1 - t0, (uint32_t)phase);
}

static const uint64_t gc_spin_ns = 5000000;

static int all_stopped(agc_heap *h)
{
    for (agc_mutator *m = h->world.mutators; m; m = m->next)
        if (atomic_load_explicit(&m->state, memory_order_acquire) == MS_RUNNING)
            return 0;
    return 1;
}

/* Stop every mutator of h at a safepoint (or blocked). phase: 0 init-mark,
 * 1 mark, 2 flip, 3 stw, -1 a pause that is not the GC's (verification). */
void agc_stop_world(agc_heap *h, int phase)
{
    pthread_mutex_lock(&h->world.mut_lock);
    h->world.stop_t0 = agc_now_ns();
    h->world.stop_phase = phase;
    atomic_store(&h->world.stop_requested, 1);
    __atomic_add_fetch(&agc_any_stop_requested, 1, __ATOMIC_SEQ_CST);
    /* While a stop is requested the list of mutators is frozen (attach and
     * detach wait for the stop to end), so it can be read without the lock.
     * With a core to spare, spin first: waking this thread from another core
     * takes ~50 us here, and milliseconds when the idle virtual CPU has been
     * descheduled by the host, which made most of the worst pauses. */
    if (!ncpus)
        ncpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (AGC_LOAD(h->world.nmutators) < ncpus) {
        pthread_mutex_unlock(&h->world.mut_lock);
        uint64_t t0 = agc_now_ns();
        while (!all_stopped(h) && agc_now_ns() - t0 < gc_spin_ns)
            __builtin_ia32_pause();
        pthread_mutex_lock(&h->world.mut_lock);
    }
    for (agc_mutator *m = h->world.mutators; m; m = m->next)
        while (atomic_load(&m->state) == MS_RUNNING)
            pthread_cond_wait(&h->world.gc_cond, &h->world.mut_lock);
    h->world.stop_ttsp_ns = agc_now_ns() - h->world.stop_t0;
    pthread_mutex_unlock(&h->world.mut_lock);
    /* Every thread is stopped: allocation buffers go, so the heap is walkable. */
    for (agc_mutator *m = h->world.mutators; m; m = m->next)
        retire_tlab(m);
}

void agc_start_world(agc_heap *h)
{
    pthread_mutex_lock(&h->world.mut_lock);
    AGC_STORE(h->world.start_t, agc_now_ns());
    atomic_store(&h->world.stop_requested, 0);
    __atomic_sub_fetch(&agc_any_stop_requested, 1, __ATOMIC_SEQ_CST);
    h->world.stop_epoch++;
    pthread_cond_broadcast(&h->world.mut_cond);
    pthread_mutex_unlock(&h->world.mut_lock);
}
