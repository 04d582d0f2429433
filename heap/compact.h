/* Concurrent compaction: page building, installing, fault resolving (compact.c). */
#ifndef ARTGC_COMPACT_H
#define ARTGC_COMPACT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "sizes.h"
#include "evlog.h"
#include "fault.h"

/* Concurrent compaction and its workers (compact.c). */
typedef struct agc_compactor {
    _Atomic int phase;
    _Atomic uint64_t next_page; /* work distribution among GC threads */
    _Atomic uint64_t hint_page; /* build_ahead: where GC threads build next (AGC_NONE: nowhere) */
    _Atomic uint64_t want_page; /* huge_moves: a page a mutator waits for (AGC_NONE: none) */
    _Atomic uint64_t huge_blocks; /* huge_moves: blocks moved whole (one ioctl, one PMD) */
    _Atomic uint64_t broken_blocks; /* huge_moves: blocks a mutator's fault broke into runs */
    _Atomic uint64_t pages_by_gc, pages_by_mutator, faults_minor, faults_missing, fault_waits;
    _Atomic uint64_t moved_bytes;
    _Atomic uint64_t cpu_ns;        /* GC threads' CPU time while compacting */
    _Atomic uint64_t gc_installs;   /* install calls by GC threads (one per run of pages) */
    _Atomic uint64_t install_ns;    /* GC threads' time in those calls */
    _Atomic uint64_t fault_touch_ns, fault_build_ns, fault_install_ns; /* pages mutators built: where the time went */
    _Atomic uint64_t fresh_pages;   /* recycling modes: pages built into a thread's buffer (none recycled yet) */
    _Atomic int in_fault;       /* threads inside the fault resolver */
    int manual_compaction;      /* agc_collect_begin: no GC page building */
    uint64_t reg_lo;            /* to-space registered with userfaultfd from here (keep_end) */
    int nworkers;
    pthread_t *workers;
    pthread_barrier_t work_start, work_end;
    int workers_quit;
} agc_compactor;

/* Fault delivery to the resolver (compact.c, heap/os). */
typedef struct agc_faults {
    int uffd;
    int sigbus_slot;
    agc_fault_thread *fault_thread;
    int fault_thread_restarts;
    agc_evlog fault_events;     /* thread delivery: stalls recorded by the handler */
    pthread_mutex_t fault_ev_lock;
    int minor_catch_missing;    /* minor mode registers MISSING too */
} agc_faults;

/* compact.c */
uint64_t agc_build_page(agc_heap *h, uint64_t page, uint8_t *dst);  /* the one page builder; bytes moved */
int agc_resolve_page(agc_heap *h, uint64_t page, int by_gc, int in_signal);
int agc_fault_resolver_fn(void *ctx, void *addr, int kind, uint64_t t_fault_ns, uint32_t tid, int in_signal);
void agc_compact_worker_run(agc_heap *h, int worker);
int agc_compact_setup(agc_heap *h);          /* uffd, registration (in the flip) */
void agc_compact_teardown(agc_heap *h);      /* unregister (after compaction) */
void agc_compact_thread_done(void);          /* free this thread's page buffers */
extern _Atomic long agc_page_buffers_live;   /* page buffers of all threads */
#endif
