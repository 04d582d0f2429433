/* The heap as Python (and the workload runner) sees it. This file is also
 * the cffi declaration (artgc/_build.py reads it with the preprocessor
 * lines left out), so it holds only what cffi can parse. */
#ifndef ARTGC_HEAP_API_H
#define ARTGC_HEAP_API_H
#include <stddef.h>
#include <stdint.h>

enum { AGC_OK = 0, AGC_EINVAL = 1, AGC_EOOM = 2, AGC_EUNSUPPORTED = 3,
       AGC_ECORRUPT = 4, AGC_ESYS = 5, AGC_ECLOSED = 6, AGC_EINTR = 7 };

enum { AGC_MODE_STW = 0, AGC_MODE_COPY = 1, AGC_MODE_MINOR = 2, AGC_MODE_MOVE = 3 };
enum { AGC_DELIVERY_SIGBUS = 0, AGC_DELIVERY_THREAD = 1 };
enum { AGC_MARKING_STW = 0, AGC_MARKING_CONCURRENT = 1 };
enum { AGC_ORDER_ASCENDING = 0, AGC_ORDER_DESCENDING = 1, AGC_ORDER_RANDOM = 2 };
/* The heap's memory: AUTO picks the mode's default (minor: shmem; stw,
 * copy and move: anon). */
enum { AGC_MEMORY_AUTO = 0, AGC_MEMORY_SHMEM = 1, AGC_MEMORY_ANON = 2 };
/* pretouch_window: scaled with the capacity */
#define AGC_PRETOUCH_AUTO 0xffffffffffffffffull
/* max_free's default: 512 MiB (see collector.c trigger_point) */
#define AGC_MAX_FREE_DEFAULT (512ull << 20)
/* Generational cycles (young and full) or every cycle full. */
/* auto: resolved when the heap's memory exists: on for anonymous memory and
 * for shmem with huge pages, off for shmem of small pages (whose young flips
 * cost more than they save: benchmarks) */
enum { AGC_GEN_OFF = 0, AGC_GEN_ON = 1, AGC_GEN_AUTO = 2 };
enum { AGC_INPLACE_OFF = 0, AGC_INPLACE_ON = 1, AGC_INPLACE_AUTO = 2 };
/* Why a cycle did not compact. */
enum { AGC_SKIP_NONE = 0, AGC_SKIP_DENSE = 1 };
/* Why a cycle ran. */
enum { AGC_REASON_TRIGGER = 0, AGC_REASON_EXPLICIT = 1, AGC_REASON_ALLOC_FAILURE = 2 };
/* What a stop of the world is for (a pause event's phase). */
enum { AGC_PHASE_INIT_MARK = 0, AGC_PHASE_MARK = 1, AGC_PHASE_FLIP = 2, AGC_PHASE_STW = 3,
       AGC_PHASE_VERIFY = -1 };

typedef struct agc_options {
    uint64_t capacity;      /* bytes of live heap (one half of the memfd) */
    int mode;               /* AGC_MODE_* */
    int delivery;           /* AGC_DELIVERY_* */
    int gc_threads;         /* compaction threads, >= 1 */
    int marking;            /* AGC_MARKING_* */
    int gc_install;         /* GC threads install the pages they build */
    int reuse_tospace;      /* keep the old from-space half populated */
    int order;              /* AGC_ORDER_*: order GC threads build pages */
    double trigger;         /* start a cycle when occupancy passes this fraction */
    int verify;             /* verify the heap after every cycle */
    uint64_t seed;          /* for AGC_ORDER_RANDOM */
    int pretouch;           /* after a cycle the GC thread maps the free space in advance */
    int memory;             /* AGC_MEMORY_*: what the heap's memory is */
    int eager_release;      /* give from-space back in chunks as compaction goes */
    uint64_t pretouch_window;   /* with pretouch: map this far ahead of allocation
                                 * (AGC_PRETOUCH_AUTO: a 16th of the capacity, at least 16 MiB;
                                 * (0: all the free space at once) */
    double dense_prefix;    /* leading pages at least this live are not moved (ART: 0.95;
                             * 0: off) */
    int release_gaps;       /* before the flip, give back every dead gap of 64 KiB or more
                             * (less memory during a cycle; the flip waits for it) */
    int huge_pages;         /* anonymous memory: ask for transparent huge pages (MADV_HUGEPAGE);
                             * shmem: the heap's file in a huge tmpfs of its own, else a memfd
                             * with MADV_HUGEPAGE (heap/space/shmemfile.c). 1 here; Python's
                             * default is on for anon, off for shmem (artgc/options.py) */
    int build_ahead;        /* GC threads build the pages around a mutator's last fault first */
    int huge_moves;         /* move: GC threads move whole 2 MiB blocks (one PMD) where no mutator faults */
    int generational;       /* AGC_GEN_*: young cycles between full ones (anonymous memory) */
    int charge_fromspace;   /* while compaction runs, from-space not given back yet counts as used:
                             * mutators allocate only what the heap's budget leaves beside it */
    int recycle_fromspace;  /* shmem: from-space above the allocation pointer is kept and becomes
                             * the free space at the cycle's end (no fresh memfd pages to
                             * allocate into), instead of punched */
    int keep_tospace;       /* shmem, modes that build in place (minor, stw): from-space below a
                             * little above the cycle's live end is not punched, so the next
                             * cycle builds into memfd pages that exist (memory beyond the
                             * budget between cycles, for a faster compaction) */
    int release_pacing;     /* concurrent modes with eager_release: while nothing is urgent, GC
                             * threads give from-space back only as long as they have built
                             * (agc_release_ready), so building goes on right after the flip
                             * (0 by default: from-space is held longer) */
    int mutator_recycle;    /* anon, concurrent modes: while compaction runs, a mutator that needs
                             * fresh memory gets 2 MiB of a from-space chunk compaction is done
                             * with (moved into place by mremap, zeroed by the allocator) instead
                             * of new kernel pages */
    int inplace_prefix;     /* AGC_INPLACE_*, shmem, modes that build in place: a full cycle
                             * updates its dense prefix's pages where they are instead of
                             * copying them to the memfd's other half (auto: only the part
                             * below a 1 GiB boundary, where the flip's moves stay whole
                             * top-level page-table entries) */
    uint64_t max_free;      /* the free space allocation may use between two cycles, at most
                             * (ART's heapmaxfree): a cycle starts by then even in a heap with
                             * more room; 0: no cap (the trigger's fraction of all of it) */
    double young_flip_max_ms;   /* generational, concurrent modes: no young cycle whose flip would
                                 * forward the old generation's dirty cards for longer than this
                                 * (estimated; heap/gen.c); 0: no limit (ART's rule alone) */
} agc_options;

typedef struct agc_cycle_stats {
    uint64_t index;
    uint64_t t_start_ns, t_mark_start_ns, t_mark_end_ns, t_flip_start_ns,
             t_flip_end_ns, t_compact_end_ns, t_end_ns;
    uint64_t pause_ns;        /* every pause of the cycle, end to end, summed */
    uint64_t init_pause_ns;   /* concurrent marking's initial pause */
    uint64_t mark_pause_ns;   /* the marking pause (all of marking under stw marking) */
    uint64_t flip_pause_ns;   /* the flip (in stw mode: the compaction pause) */
    uint64_t mark_ns, prepare_ns, compact_ns, release_ns;
    uint64_t used_before, live_bytes, moved_bytes, used_after;
    uint64_t pages, pages_by_gc, pages_by_mutator;
    uint64_t faults, faults_minor, faults_missing, fault_waits;
    uint64_t satb_entries, black_bytes;
    int mode;
    int reason;               /* AGC_REASON_* */
    uint64_t ttsp_max_ns;     /* longest time-to-safepoint of the cycle's pauses */
    uint64_t flip_plan_ns;    /* in the flip: planning what was allocated since marking */
    uint64_t flip_remap_ns;   /* in the flip: mremap + map + userfaultfd registration */
    uint64_t memfd_bytes;     /* memory the heap's memfd holds after the cycle (both halves;
                               * 0 for anonymous memory) */
    int memory;               /* AGC_MEMORY_* the heap runs on */
    int kind;                 /* 0 full, 1 young (generational: marks and moves only the young) */
    uint64_t dense_prefix_bytes;  /* leading bytes not moved (updated in place) */
    uint64_t promoted_bytes;  /* bytes that became old in this cycle (survived a second one) */
    uint64_t cards_scanned;   /* young cycle: dirty cards of the old generation traced from */
    uint64_t cards_forwarded; /* young cycle: dirty cards whose references the flip forwarded */
    uint64_t old_copied_bytes; /* young cycle on shmem: old pages copied as they are to the
                                * other memfd half (above the prefix it keeps mapped) */
    uint64_t recycled_free_bytes; /* from-space that became the free space above the allocation
                               * pointer instead of fresh memory: shmem (recycle_fromspace) at the
                               * cycle's end, not punched; anon (mutator_recycle) moved in by
                               * mutators while compaction ran */
    uint64_t inplace_bytes;   /* full cycle on shmem (inplace_prefix): dense prefix bytes updated
                               * where they are, in the memfd half they were in, not copied */
    uint64_t old_bytes;       /* the old generation after the cycle (generational) */
    uint64_t marked_bytes;    /* bytes the cycle's tracing marked (a young cycle: only young ones) */
    char kind_reason[48];     /* why the cycle is young or full */
    int skipped;              /* AGC_SKIP_*: 0, or why compaction was skipped */
    uint64_t released_bytes;  /* from-space given back during compaction */
    uint64_t compact_cpu_ns;  /* CPU time the GC threads spent compacting (compact_ns is wall time) */
    uint64_t gc_installs;     /* install calls (ioctls) by GC threads: one per run of built pages */
    uint64_t install_ns;      /* time the GC threads spent in those calls (part of compact_cpu_ns) */
    uint64_t recycled_pages;  /* move: pages built into recycled from-space pages */
    uint64_t fresh_pages;     /* move: pages built into a GC thread's own buffer (nothing recycled yet; with
                               * huge_moves every page outside a whole block, copied in) */
    uint64_t huge_blocks;     /* move, huge_moves: 2 MiB blocks moved whole (one ioctl, one PMD) */
    uint64_t broken_blocks;   /* move, huge_moves: blocks a mutator's fault broke into runs */
    uint64_t charged_bytes;   /* charge_fromspace: from-space counted as used at the flip */
    uint64_t charge_waits;    /* allocations that waited for from-space to be given back */
    uint64_t held_bytes;      /* memory the heap's memory holds after the cycle (shmem: the
                               * memfd; anon: resident pages of the heap's mappings) */
    uint64_t mutator_maps;    /* pretouch: times mutators mapped the fresh memory they were about to
                               * allocate into (out of the world's way), since the previous cycle's end */
    uint64_t mutator_map_ns;  /* the time they spent in it (mutator time, not a pause) */
    uint64_t black_moved_bytes; /* of moved_bytes: the objects allocated during the cycle (black),
                               * which slide down behind the compacted live data, as in ART */
    uint64_t old_back_ns;     /* anon young cycle: the old generation's pages moved back into the heap
                               * right after the flip's pause, outside it (0: none moved) */
    /* the pages faulting mutators built (pages_by_mutator), where their time went: */
    uint64_t fault_touch_ns;  /* taking the page: its first write (a build in place: a memfd page
                               * made, or the alias's page-table entry for it; else a thread buffer) */
    uint64_t fault_build_ns;  /* building it: sliding the objects, rewriting their references */
    uint64_t fault_install_ns; /* installing it: UFFDIO_CONTINUE, COPY or MOVE */
} agc_cycle_stats;

/* One pause or stall seen by a mutator. */
enum { AGC_EV_PAUSE = 0, AGC_EV_FAULT = 1, AGC_EV_ALLOC_WAIT = 2, AGC_EV_VERIFY = 3 };
typedef struct agc_event {
    uint64_t t_start_ns;
    uint64_t dur_ns;
    uint32_t thread;          /* mutator id */
    uint32_t kind;            /* AGC_EV_* */
    uint32_t cycle;
    uint32_t phase;           /* for pauses: AGC_PHASE_*; for faults: 1 if the handler thread took it */
    uint32_t page;            /* faults: the to-space page (index from the heap's start) */
    uint32_t claimed;         /* faults: pages GC threads had claimed by then, in their order
                               * (ascending: the pages below it; descending: the pages above
                               * npages - claimed; random: how many) */
} agc_event;

typedef struct agc_heap agc_heap;

const char *agc_last_error(void);          /* message of the last failure, this thread */
/* One name each, everywhere: mode, memory kind, cycle reason, stop phase. */
const char *agc_mode_name(int mode);
const char *agc_memory_name(int memory);
const char *agc_reason_name(int reason);
const char *agc_phase_name(int phase);
const char *agc_skip_name(int skipped);
/* Bytes of artgc's own metadata for the heap (bitmaps, plan, page states,
 * event logs), and of memory the heap's memory holds now. */
uint64_t agc_heap_meta_bytes(agc_heap *h);
uint64_t agc_heap_held_bytes(agc_heap *h);
int agc_heap_memory(agc_heap *h);
/* shmem: how the heap file's pages are huge ("tmpfs": a private tmpfs
 * mounted huge=always; "madvise": a memfd with MADV_HUGEPAGE that the
 * kernel's shmem_enabled honours; "none": small pages, or anon memory). */
const char *agc_heap_shmem_huge(agc_heap *h);
int agc_heap_generational(agc_heap *h);   /* AGC_GEN_OFF or _ON (auto resolved) */
void agc_options_default(agc_options *o);

int agc_heap_create(const agc_options *o, agc_heap **out);
void agc_heap_destroy(agc_heap *h);
/* Refuse new calls, wake every waiter, wait for the calls inside to return
 * (agc_heap_destroy does it first too). */
int agc_heap_close_begin(agc_heap *h);
uint64_t agc_heap_used(agc_heap *h);      /* the bump pointer plus the charge */
uint64_t agc_heap_charged(agc_heap *h);   /* from-space charged as used now (charge_fromspace) */
uint64_t agc_heap_capacity(agc_heap *h);
uintptr_t agc_heap_primary(agc_heap *h);
uintptr_t agc_heap_alias(agc_heap *h);
int agc_heap_memfd(agc_heap *h);
int agc_heap_live_half(agc_heap *h);

/* Python object API. Handles are indices > 0 into the heap's root table. */
int agc_define_class(agc_heap *h, const char *name, uint32_t nrefs, uint32_t data_bytes, int *cls_out);
int agc_class_count(agc_heap *h);
int agc_new(agc_heap *h, int cls, uint64_t length, uint32_t *handle_out);
int agc_handle_free(agc_heap *h, uint32_t handle);
int agc_handle_dup(agc_heap *h, uint32_t handle, uint32_t *out);
int agc_get_ref(agc_heap *h, uint32_t handle, uint64_t slot, uint32_t *out);
int agc_set_ref(agc_heap *h, uint32_t handle, uint64_t slot, uint32_t value);
int agc_same_object(agc_heap *h, uint32_t a, uint32_t b, int *out);
int agc_obj_info(agc_heap *h, uint32_t handle, int *cls, uint64_t *nrefs, uint64_t *data_len, uintptr_t *addr);
int agc_read_data(agc_heap *h, uint32_t handle, uint64_t offset, uint8_t *buf, uint64_t len);
int agc_write_data(agc_heap *h, uint32_t handle, uint64_t offset, const uint8_t *buf, uint64_t len);

int agc_collect(agc_heap *h, agc_cycle_stats *out);   /* a full cycle */
/* An explicit cycle of a kind: full, young (a generational heap; full while
 * nothing is old yet) or auto (young or full as the heuristic chooses). */
enum { AGC_COLLECT_FULL = 0, AGC_COLLECT_YOUNG = 1, AGC_COLLECT_AUTO = 2 };
int agc_collect_kind(agc_heap *h, int kind, agc_cycle_stats *out);
/* Wait for a running or requested cycle to end. */
int agc_heap_quiesce(agc_heap *h);
/* Run a cycle up to the end of the flip and stop there: pages are then built
 * only by mutator faults (or agc_collect_finish). For demonstration. */
int agc_collect_begin(agc_heap *h);
int agc_collect_finish(agc_heap *h, agc_cycle_stats *out);
int agc_page_states(agc_heap *h, uint8_t *out, uint64_t n, uint64_t *npages);

int agc_verify(agc_heap *h, char *digest_hex /* 33 bytes */);

uint64_t agc_cycle_count(agc_heap *h);
int agc_cycle_get(agc_heap *h, uint64_t i, agc_cycle_stats *out);
uint64_t agc_event_count(agc_heap *h);
uint64_t agc_events(agc_heap *h, agc_event *out, uint64_t n);
/* Live bytes per page of the heap, before (from-space) and after (to-space)
 * the last compaction. */
uint64_t agc_heap_map(agc_heap *h, int after, uint32_t *out, uint64_t n);
/* The used heap with references as offsets (+1): comparable across heaps. */
uint64_t agc_heap_snapshot(agc_heap *h, uint64_t *out, uint64_t n);
#endif
