/* Statistics: per-thread event logs (async-signal-safe appends), the
 * statistics listener that turns the collector's events into the per-cycle
 * records, and the one name of each reason and phase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "internal.h"

/* --- the collector's events ------------------------------------------- */

void agc_gc_event_at(agc_heap *h, agc_gc_event ev, uint64_t t, uint64_t a, uint64_t b)
{
    if (h->listener)
        h->listener->event(h->listener->ctx, h, ev, t, a, b);
}

void agc_gc_emit(agc_heap *h, agc_gc_event ev, uint64_t a, uint64_t b)
{
    agc_gc_event_at(h, ev, agc_now_ns(), a, b);
}

void agc_gc_count(agc_heap *h, agc_gc_event ev, uint64_t a, uint64_t b)
{
    agc_gc_event_at(h, ev, 0, a, b);
}

static void reset_counters(agc_heap *h)
{
    atomic_store(&h->cp.pages_by_gc, 0);
    atomic_store(&h->cp.pages_by_mutator, 0);
    atomic_store(&h->cp.faults_minor, 0);
    atomic_store(&h->cp.faults_missing, 0);
    atomic_store(&h->cp.fault_waits, 0);
    atomic_store(&h->cp.moved_bytes, 0);
    atomic_store(&h->rel.released_bytes, 0);
    atomic_store(&h->rel.recycled_pages, 0);
    atomic_store(&h->rel.charge_waits, 0);
    h->rel.charged_bytes = 0;
    atomic_store(&h->cp.cpu_ns, 0);
    atomic_store(&h->cp.gc_installs, 0);
    atomic_store(&h->cp.install_ns, 0);
    atomic_store(&h->cp.fresh_pages, 0);
    atomic_store(&h->cp.fault_touch_ns, 0);
    atomic_store(&h->cp.fault_build_ns, 0);
    atomic_store(&h->cp.fault_install_ns, 0);
    atomic_store(&h->cp.huge_blocks, 0);
    atomic_store(&h->cp.broken_blocks, 0);
}

/* The cycle's data once from-space is given back. */
static void cycle_final(agc_heap *h, agc_cycle_stats *c, uint64_t t)
{
    c->release_ns = t - (c->t_compact_end_ns ? c->t_compact_end_ns : t);
    /* live: what was reachable (and allocated during the cycle); the dense
     * prefix keeps its dead objects as fillers, so used_after can be more */
    c->live_bytes = h->plan.new_end - h->plan.dense_end + h->plan.dense_live;
    c->used_after = (h->plan.new_end + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    c->pages = h->plan.npages;
    c->pages_by_gc = atomic_load(&h->cp.pages_by_gc);
    c->pages_by_mutator = atomic_load(&h->cp.pages_by_mutator);
    c->faults_minor = atomic_load(&h->cp.faults_minor);
    c->faults_missing = atomic_load(&h->cp.faults_missing);
    c->faults = c->faults_minor + c->faults_missing;
    c->fault_waits = atomic_load(&h->cp.fault_waits);
    c->moved_bytes = atomic_load(&h->cp.moved_bytes);
    c->released_bytes = atomic_load(&h->rel.released_bytes);
    c->compact_cpu_ns = atomic_load(&h->cp.cpu_ns);
    c->gc_installs = atomic_load(&h->cp.gc_installs);
    c->install_ns = atomic_load(&h->cp.install_ns);
    c->recycled_pages = atomic_load(&h->rel.recycled_pages);
    c->fresh_pages = atomic_load(&h->cp.fresh_pages);
    c->fault_touch_ns = atomic_load(&h->cp.fault_touch_ns);
    c->fault_build_ns = atomic_load(&h->cp.fault_build_ns);
    c->fault_install_ns = atomic_load(&h->cp.fault_install_ns);
    c->huge_blocks = atomic_load(&h->cp.huge_blocks);
    c->broken_blocks = atomic_load(&h->cp.broken_blocks);
    c->charged_bytes = h->rel.charged_bytes;
    c->charge_waits = atomic_load(&h->rel.charge_waits);
    c->mutator_maps = __atomic_exchange_n(&h->gc.mutator_maps, 0, __ATOMIC_RELAXED);
    c->mutator_map_ns = __atomic_exchange_n(&h->gc.mutator_map_ns, 0, __ATOMIC_RELAXED);
    c->pause_ns = c->init_pause_ns + c->mark_pause_ns + c->flip_pause_ns;
    c->held_bytes = h->space->held_bytes(h);
    c->memfd_bytes = h->space->id == AGC_MEMORY_SHMEM ? c->held_bytes : 0;
    c->skipped = h->plan.cycle_skipped;
    c->dense_prefix_bytes = h->gen.young ? 0 : h->plan.dense_end;
    c->inplace_bytes = c->skipped ? 0 : h->plan.inplace_end;
    c->recycled_free_bytes = (c->skipped ? 0 : h->mem.recycled) +
                             atomic_exchange_explicit(&h->rel.free_recycled, 0, memory_order_relaxed);
    h->mem.recycled = 0;
    c->kind = h->gen.young ? 1 : 0;
    snprintf(c->kind_reason, sizeof c->kind_reason, "%s", agc_gen_reason_name(h->gen.reason));
    c->cards_scanned = h->gen.cards_scanned;
    c->cards_forwarded = h->gen.cards_forwarded;
    uint64_t old_pages = h->gen.old_end & ~(uint64_t)(AGC_PAGE - 1);
    c->old_copied_bytes = h->gen.young && !c->skipped && old_pages > h->plan.keep_end ? old_pages - h->plan.keep_end : 0;
    if (!c->skipped) {
        /* traced: the live data below S but the prefix kept as a whole */
        uint64_t below_s = h->mk.black_new_start;
        c->marked_bytes = below_s - h->plan.dense_end + (h->gen.young ? 0 : h->plan.dense_live);
        c->promoted_bytes = h->gen.next_old > h->gen.old_survived ? h->gen.next_old - h->gen.old_survived : 0;
        c->old_bytes = h->opt.generational == AGC_GEN_ON ? h->gen.next_old : 0;
        /* the black block [S, T) slides as one unless nothing below S moved */
        c->black_moved_bytes = below_s != h->mk.mark_start_top ? c->black_bytes : 0;
    } else {
        c->old_bytes = h->opt.generational == AGC_GEN_ON ? h->gen.old_end : 0;
    }
}

static void stats_event(void *ctx, agc_heap *h, agc_gc_event ev, uint64_t t, uint64_t a, uint64_t b)
{
    (void)ctx;
    agc_cycle_stats *c = &h->st.cur;
    switch (ev) {
    case AGC_GE_CYCLE_START:
        memset(c, 0, sizeof *c);
        reset_counters(h);
        c->index = h->gc.cycles_started;
        c->mode = h->mode->id;
        c->memory = h->space->id;
        c->reason = (int)a;
        c->t_start_ns = t;
        c->used_before = AGC_LOAD(h->alloc.top);
        h->st.st_phase = -2;
        break;
    case AGC_GE_REQUESTING_STOP:
        h->st.st_stop_t0 = t;
        if (a == AGC_PHASE_FLIP)
            c->t_flip_start_ns = t;
        break;
    case AGC_GE_MUTATORS_STOPPED:
        h->st.st_phase = (int)a;
        h->st.st_stopped_t = t;
        if (b > c->ttsp_max_ns)
            c->ttsp_max_ns = b;
        /* the flip's: until the GC saw every mutator stopped */
        if (a == AGC_PHASE_FLIP && t - h->st.st_stop_t0 > c->ttsp_max_ns)
            c->ttsp_max_ns = t - h->st.st_stop_t0;
        break;
    case AGC_GE_MUTATORS_RESTARTED:
        h->st.st_phase = -2;
        switch ((int)a) {
        case AGC_PHASE_INIT_MARK: c->init_pause_ns += b; break;
        case AGC_PHASE_MARK: c->mark_pause_ns += b; break;
        case AGC_PHASE_FLIP: c->flip_pause_ns += b; c->t_flip_end_ns = t; break;
        case AGC_PHASE_STW:
            /* one pause: the marking part, then the compaction part */
            c->mark_pause_ns = c->t_mark_end_ns - h->st.st_stop_t0;
            c->flip_pause_ns = b - c->mark_pause_ns;
            break;
        default: break;
        }
        break;
    case AGC_GE_MARK_START: c->t_mark_start_ns = t; break;
    case AGC_GE_MARKING_DONE:
        c->t_mark_end_ns = t;
        c->mark_ns = t - c->t_mark_start_ns;
        c->satb_entries = a;
        break;
    case AGC_GE_PLANNED: c->prepare_ns = t - c->t_mark_end_ns; break;
    case AGC_GE_FLIP_PLANNED:
        c->flip_plan_ns = t - h->st.st_stopped_t;
        c->black_bytes = a;
        break;
    case AGC_GE_FLIP_ROOTS_DONE: h->st.st_roots_t = t; break;
    case AGC_GE_FLIPPED:
        if (h->st.st_phase == AGC_PHASE_STW)
            c->t_flip_start_ns = c->t_mark_end_ns;
        else
            c->flip_remap_ns = t - h->st.st_roots_t;
        break;
    case AGC_GE_COMPACTION_DONE:
        c->t_compact_end_ns = t;
        if (h->st.st_phase == AGC_PHASE_STW) {
            c->t_flip_end_ns = t;
            c->compact_ns = t - c->t_mark_end_ns;
        } else {
            c->compact_ns = t - c->t_flip_end_ns;
        }
        break;
    case AGC_GE_OLD_BACK: c->old_back_ns = b; break;
    case AGC_GE_RELEASED: cycle_final(h, c, t); break;
    case AGC_GE_CYCLE_END:
        c->t_end_ns = t;
        agc_cycle_push(h, c);
        break;
    case AGC_GE_PAGE_BUILT:
        atomic_fetch_add_explicit(a ? &h->cp.pages_by_gc : &h->cp.pages_by_mutator, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->cp.moved_bytes, b, memory_order_relaxed);
        break;
    case AGC_GE_FAULT:
        atomic_fetch_add_explicit(a == AGC_FAULT_MINOR ? &h->cp.faults_minor : &h->cp.faults_missing, 1,
                                  memory_order_relaxed);
        break;
    case AGC_GE_FAULT_WAIT: atomic_fetch_add_explicit(&h->cp.fault_waits, 1, memory_order_relaxed); break;
    }
}

const agc_listener agc_stats_listener = {stats_event, NULL};

const char *agc_reason_name(int reason)
{
    switch (reason) {
    case AGC_REASON_TRIGGER: return "trigger";
    case AGC_REASON_EXPLICIT: return "explicit";
    case AGC_REASON_ALLOC_FAILURE: return "allocation-failure";
    default: return "?";
    }
}

const char *agc_skip_name(int skipped)
{
    switch (skipped) {
    case AGC_SKIP_NONE: return "";
    case AGC_SKIP_DENSE: return "nothing would move: the live data below the cycle's start is dense";
    default: return "?";
    }
}

const char *agc_phase_name(int phase)
{
    switch (phase) {
    case AGC_PHASE_INIT_MARK: return "init-mark";
    case AGC_PHASE_MARK: return "mark";
    case AGC_PHASE_FLIP: return "flip";
    case AGC_PHASE_STW: return "stw";
    case AGC_PHASE_VERIFY: return "verify";
    default: return "?";
    }
}

/* --- event logs of the mutators ---------------------------------------- */

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
    agc_event e = {t0, dur, m->id, (uint32_t)kind, (uint32_t)AGC_LOAD(m->heap->gc.cycles_started), phase, 0, 0};
    agc_evlog_add(&m->events, &e);
}

void agc_cycle_push(agc_heap *h, const agc_cycle_stats *c)
{
    pthread_mutex_lock(&h->st.stats_lock);
    if (h->st.ncycles == h->st.cycles_cap) {
        uint64_t nc = h->st.cycles_cap ? h->st.cycles_cap * 2 : 64;
        agc_cycle_stats *n = realloc(h->st.cycles, nc * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&h->st.stats_lock);
            return;
        }
        h->st.cycles = n;
        h->st.cycles_cap = nc;
    }
    h->st.cycles[h->st.ncycles] = *c;
    AGC_STORE(h->st.ncycles, h->st.ncycles + 1);
    pthread_mutex_unlock(&h->st.stats_lock);
}

uint64_t agc_cycle_count(agc_heap *h) { return AGC_LOAD(h->st.ncycles); }

int agc_cycle_get(agc_heap *h, uint64_t i, agc_cycle_stats *out)
{
    pthread_mutex_lock(&h->st.stats_lock);
    if (i >= h->st.ncycles) {
        pthread_mutex_unlock(&h->st.stats_lock);
        return agc_fail(AGC_EINVAL, "no cycle %llu (there are %llu)", (unsigned long long)i,
                        (unsigned long long)h->st.ncycles);
    }
    *out = h->st.cycles[i];
    pthread_mutex_unlock(&h->st.stats_lock);
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
    pthread_mutex_lock(&h->world.mut_lock);
    k = copy_log(&h->world.dead_events, out, n, k);
    for (agc_mutator *m = h->world.mutators; m; m = m->next)
        k = copy_log(&m->events, out, n, k);
    pthread_mutex_unlock(&h->world.mut_lock);
    pthread_mutex_lock(&h->flt.fault_ev_lock);
    k = copy_log(&h->flt.fault_events, out, n, k);
    pthread_mutex_unlock(&h->flt.fault_ev_lock);
    return k;
}

uint64_t agc_event_count(agc_heap *h) { return agc_events(h, NULL, 0); }

uint64_t agc_heap_map(agc_heap *h, int after, uint32_t *out, uint64_t n)
{
    pthread_mutex_lock(&h->st.stats_lock);
    uint32_t *src = after ? h->st.map_after : h->st.map_before;
    uint64_t sn = after ? h->st.map_after_n : h->st.map_before_n;
    if (out && src)
        memcpy(out, src, (n < sn ? n : sn) * sizeof *out);
    pthread_mutex_unlock(&h->st.stats_lock);
    return sn;
}
