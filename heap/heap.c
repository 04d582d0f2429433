/* Creating and destroying a heap: options checked, the mode and memory kind
 * chosen (heap/modes, heap/space), the address reservations (primary,
 * from-space, standby: 1 GiB aligned), the collector's side tables. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"
#include "uffd.h"

void agc_options_default(agc_options *o)
{
    memset(o, 0, sizeof *o);
    o->capacity = 64ull << 20;
    o->mode = AGC_MODE_COPY;   /* as artgc/options.py: ART's shipped mode */
    o->delivery = AGC_DELIVERY_SIGBUS;
    o->gc_threads = 1;
    o->marking = AGC_MARKING_CONCURRENT;
    o->gc_install = 1;
    o->reuse_tospace = 1;
    o->order = AGC_ORDER_ASCENDING;
    o->trigger = 0.75;
    o->verify = 0;
    o->seed = 0;
    o->pretouch = 1;
    o->memory = AGC_MEMORY_AUTO;
    o->eager_release = 1;
    o->pretouch_window = AGC_PRETOUCH_AUTO;
    o->dense_prefix = 0.95;
    o->release_gaps = 0;
    o->huge_pages = 1;
    o->build_ahead = 0;
    o->huge_moves = 1;
    o->charge_fromspace = 1;
    o->inplace_prefix = AGC_INPLACE_AUTO;
    o->recycle_fromspace = 0;
    o->mutator_recycle = 0;
    o->keep_tospace = 0;
    o->release_pacing = 0;
    o->max_free = AGC_MAX_FREE_DEFAULT;
    o->young_flip_max_ms = 1.0;
}

static uint64_t mem_total(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    return pages > 0 ? (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* The memory kind a heap runs on: the option, or the mode's default. */
static int memory_of(const agc_options *o, const agc_mode_ops *m)
{
    return o->memory == AGC_MEMORY_AUTO ? m->default_memory : o->memory;
}

/* Refuse a mode the kernel (or the memory kind) cannot do, naming the
 * missing feature. */
static int check_mode(const agc_options *o)
{
    const agc_mode_ops *m = agc_mode_lookup(o->mode);
    int memory = memory_of(o, m);
    int ok = memory == AGC_MEMORY_SHMEM ? AGC_MEM_OK_SHMEM : AGC_MEM_OK_ANON;
    if (!(m->memories & ok))
        return agc_fail(AGC_EUNSUPPORTED, "mode '%s' cannot run on %s memory: %s", m->name,
                        agc_memory_name(memory), m->memory_refusal);
    if (!m->faults)
        return AGC_OK;
    agc_uffd_caps c;
    agc_uffd_caps_get(&c);
    if (!c.available)
        return agc_fail(AGC_EUNSUPPORTED,
                        "mode '%s' needs userfaultfd, which is not available here: %s "
                        "(see `artgc probe`: uffd.available); mode 'stw' works without it",
                        m->name, c.reason);
    if (o->delivery == AGC_DELIVERY_SIGBUS && !c.sigbus)
        return agc_fail(AGC_EUNSUPPORTED,
                        "delivery 'sigbus' needs UFFD_FEATURE_SIGBUS, which this kernel does not "
                        "grant (see `artgc probe`: features.sigbus); use --delivery thread");
    return m->check(o, memory, &c);
}

static int check_options(const agc_options *o)
{
    if (!agc_mode_lookup(o->mode))
        return agc_fail(AGC_EINVAL, "unknown mode %d; valid modes: stw, copy, minor, move", o->mode);
    if (o->memory != AGC_MEMORY_AUTO && !agc_space_lookup(o->memory))
        return agc_fail(AGC_EINVAL, "unknown memory kind %d; valid: anon, shmem", o->memory);
    if (o->delivery != AGC_DELIVERY_SIGBUS && o->delivery != AGC_DELIVERY_THREAD)
        return agc_fail(AGC_EINVAL, "unknown delivery %d; valid deliveries: sigbus, thread", o->delivery);
    if (o->marking != AGC_MARKING_STW && o->marking != AGC_MARKING_CONCURRENT)
        return agc_fail(AGC_EINVAL, "unknown marking %d; valid: concurrent, stw", o->marking);
    if (o->order < AGC_ORDER_ASCENDING || o->order > AGC_ORDER_RANDOM)
        return agc_fail(AGC_EINVAL, "unknown compaction order %d; valid: ascending, descending, random", o->order);
    if (o->gc_threads < 1 || o->gc_threads > AGC_MAX_GC_THREADS)
        return agc_fail(AGC_EINVAL, "gc_threads must be between 1 and %d, got %d", AGC_MAX_GC_THREADS,
                        o->gc_threads);
    if (o->pretouch_window > (1ull << 40) && o->pretouch_window != AGC_PRETOUCH_AUTO)
        return agc_fail(AGC_EINVAL, "pretouch_window must be at most 1TiB, got %llu bytes",
                        (unsigned long long)o->pretouch_window);
    if (o->eager_release != 0 && o->eager_release != 1)
        return agc_fail(AGC_EINVAL, "eager_release must be 0 or 1, got %d", o->eager_release);
    if (o->release_gaps != 0 && o->release_gaps != 1)
        return agc_fail(AGC_EINVAL, "release_gaps must be 0 or 1, got %d", o->release_gaps);
    if (o->huge_pages != 0 && o->huge_pages != 1)
        return agc_fail(AGC_EINVAL, "huge_pages must be 0 or 1, got %d", o->huge_pages);
    if (o->build_ahead != 0 && o->build_ahead != 1)
        return agc_fail(AGC_EINVAL, "build_ahead must be 0 or 1, got %d", o->build_ahead);
    if (o->huge_moves != 0 && o->huge_moves != 1)
        return agc_fail(AGC_EINVAL, "huge_moves must be 0 or 1, got %d", o->huge_moves);
    if (o->charge_fromspace != 0 && o->charge_fromspace != 1)
        return agc_fail(AGC_EINVAL, "charge_fromspace must be 0 or 1, got %d", o->charge_fromspace);
    if (o->recycle_fromspace != 0 && o->recycle_fromspace != 1)
        return agc_fail(AGC_EINVAL, "recycle_fromspace must be 0 or 1, got %d", o->recycle_fromspace);
    if (o->keep_tospace != 0 && o->keep_tospace != 1)
        return agc_fail(AGC_EINVAL, "keep_tospace must be 0 or 1, got %d", o->keep_tospace);
    if (o->release_pacing != 0 && o->release_pacing != 1)
        return agc_fail(AGC_EINVAL, "release_pacing must be 0 or 1, got %d", o->release_pacing);
    if (o->mutator_recycle != 0 && o->mutator_recycle != 1)
        return agc_fail(AGC_EINVAL, "mutator_recycle must be 0 or 1, got %d", o->mutator_recycle);
    if (o->inplace_prefix != AGC_INPLACE_OFF && o->inplace_prefix != AGC_INPLACE_ON &&
        o->inplace_prefix != AGC_INPLACE_AUTO)
        return agc_fail(AGC_EINVAL, "inplace_prefix must be AGC_INPLACE_OFF, _ON or _AUTO, got %d",
                        o->inplace_prefix);
    if (o->generational != AGC_GEN_OFF && o->generational != AGC_GEN_ON && o->generational != AGC_GEN_AUTO)
        return agc_fail(AGC_EINVAL, "generational must be off (%d), on (%d) or auto (%d), got %d", AGC_GEN_OFF,
                        AGC_GEN_ON, AGC_GEN_AUTO, o->generational);
    if (!(o->dense_prefix >= 0.0 && o->dense_prefix <= 1.0))
        return agc_fail(AGC_EINVAL, "dense_prefix must be a fraction in [0, 1] (0: off), got %g",
                        o->dense_prefix);
    if (!(o->young_flip_max_ms >= 0.0 && o->young_flip_max_ms <= 1000.0))
        return agc_fail(AGC_EINVAL, "young_flip_max_ms must be in [0, 1000] (0: no limit), got %g",
                        o->young_flip_max_ms);
    if (o->max_free > (1ull << 40))
        return agc_fail(AGC_EINVAL, "max_free must be at most 1TiB (0: no cap), got %llu bytes",
                        (unsigned long long)o->max_free);
    if (o->max_free && o->max_free < AGC_PAGE)
        return agc_fail(AGC_EINVAL, "max_free must be 0 (no cap) or at least a page (%u bytes), got %llu",
                        (unsigned)AGC_PAGE, (unsigned long long)o->max_free);
    if (!(o->trigger > 0.0 && o->trigger <= 1.0))
        return agc_fail(AGC_EINVAL, "trigger must be a fraction in (0, 1], got %g", o->trigger);
    const agc_mode_ops *m = agc_mode_lookup(o->mode);
    if (!o->gc_install && m->faults && !m->build_in_place)
        return agc_fail(AGC_EINVAL,
                        "gc_install=False needs mode 'minor': in copy and move modes a page is built in "
                        "the GC thread's private buffer, so only that thread can install it");
    if (o->capacity < (1ull << 20))
        return agc_fail(AGC_EINVAL, "heap size must be at least 1MiB, got %llu bytes",
                        (unsigned long long)o->capacity);
    if (o->capacity > (1ull << 40))
        return agc_fail(AGC_EINVAL, "heap size must be at most 1TiB, got %llu bytes",
                        (unsigned long long)o->capacity);
    uint64_t mt = mem_total();
    if (mt && 2 * o->capacity > mt)
        return agc_fail(AGC_EINVAL,
                        "a heap of %llu MiB needs up to %llu MiB of memory (two halves), "
                        "more than this machine's %llu MiB",
                        (unsigned long long)(o->capacity >> 20),
                        (unsigned long long)(2 * o->capacity >> 20), (unsigned long long)(mt >> 20));
    return AGC_OK;
}

static void *anon_zeroed(size_t len)
{
    if (len == 0)
        len = 1;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void anon_free(void *p, size_t len)
{
    if (p)
        munmap(p, len ? len : 1);
}

static size_t bm_bytes(agc_heap *h) { return h->mk.nbitwords * 8; }
static size_t rel_table_len(agc_heap *h) { return h->rel.rel_chunk ? h->mem.cap / h->rel.rel_chunk + 2 : 0; }

static void free_side_tables(agc_heap *h)
{
    anon_free(h->mk.mark_bits, bm_bytes(h));
    anon_free(h->mk.live_bits, bm_bytes(h));
    anon_free(h->plan.chunk_live, h->plan.nchunks * 4);
    anon_free(h->plan.chunk_prefix, (h->plan.nchunks + 1) * 8);
    anon_free(h->plan.page_first, (h->mem.cap / AGC_PAGE + 1) * 8);
    anon_free((void *)h->plan.page_state, h->mem.cap / AGC_PAGE + 1);
    anon_free(h->plan.page_order, (h->mem.cap / AGC_PAGE + 1) * 8);
    anon_free(h->rel.rel_lo, rel_table_len(h) * 8);
    anon_free(h->rel.rel_hi, rel_table_len(h) * 8);
    anon_free(h->rel.rel_hmax, rel_table_len(h) * 8);
    anon_free((void *)h->rel.rel_pending, rel_table_len(h) * 4);
    anon_free((void *)h->rel.rel_state, rel_table_len(h));
    agc_gen_free(h);
}

static void release_memory(agc_heap *h)
{
    if (h->mem.res_p)
        munmap(h->mem.res_p, h->mem.res_p_len);
    if (h->mem.res_f)
        munmap(h->mem.res_f, h->mem.res_f_len);
    if (h->mem.res_s)
        munmap(h->mem.res_s, h->mem.res_s_len);
    if (h->space)
        h->space->unmap(h);
    h->mem.res_p = h->mem.res_f = h->mem.res_s = NULL;
    free_side_tables(h);
}

void agc_heap_release_memory(agc_heap *h) { release_memory(h); }

int agc_heap_create(const agc_options *o, agc_heap **out)
{
    *out = NULL;
    int rc = check_options(o);
    if (rc)
        return rc;
    rc = check_mode(o);
    if (rc)
        return rc;
    agc_heap *h = calloc(1, sizeof *h);
    if (!h)
        return agc_fail(AGC_ESYS, "out of process memory creating a heap");
    h->opt = *o;
    h->mem.cap = (o->capacity + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    h->mem.nwords = h->mem.cap / 8;
    h->mem.memfd = -1;
    h->flt.uffd = -1;
    h->flt.sigbus_slot = -1;
    h->mode = agc_mode_lookup(o->mode);
    h->space = agc_space_lookup(memory_of(o, h->mode));
    h->opt.memory = h->space->id;
    h->listener = &agc_stats_listener;
    h->pid = (int)getpid();
    h->alloc.limit = h->mem.cap;
    h->types.nclasses = AGC_FIRST_USER_CLASS;
    snprintf(h->types.classes[AGC_CLS_FILLER].name, 64, "<filler>");
    snprintf(h->types.classes[AGC_CLS_REFARRAY].name, 64, "RefArray");
    snprintf(h->types.classes[AGC_CLS_BYTEARRAY].name, 64, "ByteArray");
    /* every concern's locks and condition variables */
    pthread_mutex_t *locks[] = {&h->alloc.alloc_lock, &h->types.class_lock, &h->world.mut_lock,
                                &h->roots.handle_lock, &h->api_lock, &h->mk.satb_lock, &h->gc.gc_lock,
                                &h->st.stats_lock, &h->flt.fault_ev_lock};
    pthread_cond_t *conds[] = {&h->world.mut_cond, &h->world.gc_cond, &h->gc.gc_req_cond, &h->gc.gc_done_cond};
    for (size_t i = 0; i < sizeof locks / sizeof locks[0]; i++)
        pthread_mutex_init(locks[i], NULL);
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++)
        pthread_cond_init(conds[i], NULL);

    h->mem.span = (h->mem.cap + AGC_ALIGN_RESERVE - 1) & ~(AGC_ALIGN_RESERVE - 1);
    h->mem.primary = agc_reserve_aligned(h->mem.span + AGC_ANCHOR, &h->mem.res_p, &h->mem.res_p_len);
    h->mem.fromspace = agc_reserve_aligned(h->mem.span, &h->mem.res_f, &h->mem.res_f_len);
    h->mem.standby = agc_reserve_aligned(h->mem.span, &h->mem.res_s, &h->mem.res_s_len);
    if (!h->mem.primary || !h->mem.fromspace || !h->mem.standby) {
        rc = agc_fail(AGC_ESYS, "cannot reserve %llu MiB of address space: %s",
                      (unsigned long long)(h->mem.cap >> 20), strerror(errno));
        goto fail;
    }
    rc = h->space->map(h);
    if (rc)
        goto fail;
    if (h->opt.generational == AGC_GEN_AUTO)
        h->opt.generational = h->space->id == AGC_MEMORY_ANON || h->mem.shmem_huge != AGC_SHMEM_SMALL
                              ? AGC_GEN_ON : AGC_GEN_OFF;
    h->mk.nbitwords = (h->mem.nwords + 63) / 64;
    h->plan.nchunks = h->mk.nbitwords;
    uint64_t maxpages = h->mem.cap / AGC_PAGE + 1;
    h->mk.mark_bits = anon_zeroed(bm_bytes(h));
    h->mk.live_bits = anon_zeroed(bm_bytes(h));
    h->plan.chunk_live = anon_zeroed(h->plan.nchunks * 4);
    h->plan.chunk_prefix = anon_zeroed((h->plan.nchunks + 1) * 8);
    h->plan.page_first = anon_zeroed(maxpages * 8);
    h->plan.page_state = anon_zeroed(maxpages);
    h->plan.page_order = anon_zeroed(maxpages * 8);
    /* from-space release chunks: ART's 8 MiB, smaller in small heaps */
    h->rel.rel_chunk = AGC_RELEASE_CHUNK;
    while (h->rel.rel_chunk > (64ull << 10) && h->rel.rel_chunk * 16 > h->mem.cap)
        h->rel.rel_chunk /= 2;
    h->rel.rel_lo = anon_zeroed(rel_table_len(h) * 8);
    h->rel.rel_hi = anon_zeroed(rel_table_len(h) * 8);
    h->rel.rel_hmax = anon_zeroed(rel_table_len(h) * 8);
    h->rel.rel_pending = anon_zeroed(rel_table_len(h) * 4);
    h->rel.rel_state = anon_zeroed(rel_table_len(h));
    if (agc_gen_alloc(h) != 0 || !h->mk.mark_bits || !h->mk.live_bits || !h->plan.chunk_live || !h->plan.chunk_prefix ||
        !h->plan.page_first || !h->plan.page_state || !h->plan.page_order || !h->rel.rel_lo || !h->rel.rel_hi || !h->rel.rel_hmax ||
        !h->rel.rel_pending || !h->rel.rel_state) {
        rc = agc_fail(AGC_ESYS, "cannot allocate the collector's side tables: %s", strerror(errno));
        goto fail;
    }
    rc = agc_gc_start(h);
    if (rc) {
        agc_gc_shutdown(h);
        goto fail;
    }
    agc_heap_registry_add(h);
    *out = h;
    return AGC_OK;
fail:
    release_memory(h);
    free(h);
    return rc;
}

void agc_heap_destroy(agc_heap *h)
{
    if (!h || agc_heap_close_begin(h))
        return;   /* a forked child leaves its parent's heap alone */
    h->closed = 1;
    agc_heap_registry_remove(h);
    agc_gc_shutdown(h);
    agc_mutator_free_all(h);
    release_memory(h);
    pthread_mutex_lock(&h->roots.handle_lock);
    agc_handles_free(h);
    pthread_mutex_unlock(&h->roots.handle_lock);
    free(h->mk.mstack.v);
    while (h->mk.satb_full) {
        agc_satb_block *b = h->mk.satb_full;
        h->mk.satb_full = b->next;
        free(b);
    }
    free(h->st.cycles);
    free(h->st.map_before);
    free(h->st.map_after);
    agc_evlog_free(&h->world.dead_events);
    agc_evlog_free(&h->flt.fault_events);
    free(h);
}

/* What allocation cannot have: the bump pointer, and while compaction runs
 * the from-space charged as used (charge_fromspace) */
uint64_t agc_heap_used(agc_heap *h)
{
    pthread_mutex_lock(&h->alloc.alloc_lock);      /* the flip stores both under it */
    uint64_t u = __atomic_load_n(&h->alloc.top, __ATOMIC_RELAXED) + agc_charge_now(h);
    pthread_mutex_unlock(&h->alloc.alloc_lock);
    return u;
}
uint64_t agc_heap_charged(agc_heap *h) { return agc_charge_now(h); }
uint64_t agc_heap_capacity(agc_heap *h) { return h->mem.cap; }
uintptr_t agc_heap_primary(agc_heap *h) { return (uintptr_t)h->mem.primary; }
uintptr_t agc_heap_alias(agc_heap *h) { return (uintptr_t)h->mem.alias; }
int agc_heap_memfd(agc_heap *h) { return h->mem.memfd; }
int agc_heap_live_half(agc_heap *h) { return agc_halves_at(&h->mem.live, 0); }
int agc_heap_memory(agc_heap *h) { return h->space->id; }
int agc_heap_generational(agc_heap *h) { return h->opt.generational; }
const char *agc_heap_shmem_huge(agc_heap *h)
{
    return agc_shmem_huge_name(h->space->id == AGC_MEMORY_SHMEM ? h->mem.shmem_huge : AGC_SHMEM_SMALL);
}
uint64_t agc_heap_held_bytes(agc_heap *h) { return h->space->held_bytes(h); }

/* artgc's own metadata: the side tables (counted as mapped, an upper bound:
 * they are populated lazily), the event logs and the cycle records. */
uint64_t agc_heap_meta_bytes(agc_heap *h)
{
    uint64_t maxpages = h->mem.cap / AGC_PAGE + 1;
    uint64_t n = 2 * bm_bytes(h) + h->plan.nchunks * 4 + (h->plan.nchunks + 1) * 8 + maxpages * (8 + 1 + 8);
    n += rel_table_len(h) * (8 + 8 + 8 + 4 + 1);
    n += agc_gen_meta_bytes(h);
    n += (uint64_t)AGC_LOAD(h->st.cycles_cap) * sizeof(agc_cycle_stats);
    n += (agc_event_count(h) + AGC_EVCHUNK - 1) / AGC_EVCHUNK * sizeof(agc_evchunk);
    return n;
}
