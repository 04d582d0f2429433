/* The heap's internals, shared by the core's C files (not by workloads). */
#ifndef ARTGC_INTERNAL_H
#define ARTGC_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"
#include "mutator.h"
#include "fault.h"
#include "clock.h"
#include "error.h"
#include "events.h"
#include "modes/mode.h"
#include "space/space.h"

#define AGC_PAGE 4096ull
#define AGC_CHUNK 512ull                     /* bytes per live-words bitmap word */
#define AGC_TLAB 32768ull
#define AGC_LARGE (AGC_TLAB / 4)             /* larger objects bypass TLABs */
#define AGC_MAX_CLASSES 1024
#define AGC_ALIGN_RESERVE (1ull << 30)       /* primary / from-space alignment */
#define AGC_NONE UINT64_MAX
#define AGC_HCHUNK 4096                      /* handles per chunk */
#define AGC_HCHUNKS 4096
#define AGC_MAX_GC_THREADS 64                /* compaction threads per heap */
#define AGC_RELEASE_CHUNK (8ull << 20)       /* from-space given back in these (ART: 8 MiB) */

/* Page states during concurrent compaction (compared as integers). */
enum { PG_UNPROCESSED = 0, PG_PROCESSING = 1, PG_PROCESSED = 2, PG_MAPPED = 3 };

/* Cycle phases, as the heap is during them. */
enum { PH_IDLE = 0, PH_MARKING = 1, PH_PREPARE = 2, PH_COMPACTING = 3, PH_RELEASE = 4 };

typedef struct agc_class {
    char name[64];
    uint32_t nrefs;
    uint32_t data_bytes;
} agc_class;

/* Append-only, chunked, signal-safe (mmap'd chunks) event log of one thread. */
#define AGC_EVCHUNK 8192
typedef struct agc_evchunk {
    struct agc_evchunk *next;
    uint64_t n;
    agc_event ev[AGC_EVCHUNK];
} agc_evchunk;
typedef struct agc_evlog {
    agc_evchunk *head, *tail;
    uint64_t count;
} agc_evlog;
void agc_evlog_add(agc_evlog *log, const agc_event *e);   /* async-signal-safe */
void agc_evlog_free(agc_evlog *log);

enum { MS_RUNNING = 0, MS_SAFE = 1 };

struct agc_mutator {
    agc_mutator_hot hot;        /* first: the inline fast paths use it */
    agc_heap *heap;
    uint32_t id;
    _Atomic int state;          /* MS_RUNNING / MS_SAFE */
    int attached;
    int in_api;                 /* the Python API's mutator */
    /* SATB buffer */
    agc_word *satb;
    size_t nsatb, satb_cap;
    /* stats */
    agc_evlog events;
    uint64_t bytes_allocated;
    uint32_t tid;               /* kernel thread id */
    struct agc_mutator *next;
};

typedef struct agc_markstack {
    uint64_t *v;                /* word offsets of objects */
    size_t n, cap;
} agc_markstack;

typedef struct agc_satb_block {
    struct agc_satb_block *next;
    size_t n;
    agc_word v[];
} agc_satb_block;

struct agc_heap {
    agc_options opt;
    const agc_mode_ops *mode;   /* where pages are built, how installed, the cycle driver */
    const agc_space_ops *space; /* what the memory is, how the flip moves it */
    const agc_listener *listener;   /* the GC's events go here (statistics) */
    uint64_t cap;               /* bytes in the live space */
    uint64_t span;              /* length of every mapping of a half: cap rounded up to
                                 * AGC_ALIGN_RESERVE, so the flip moves whole 1 GiB
                                 * page-table entries (one TLB flush) */
    uint64_t nwords;            /* cap / 8 */
    int memfd;                  /* shmem: the heap's memfd; -1 for anonymous memory */
    uint8_t *primary;           /* P: mutators' view */
    uint8_t *fromspace;         /* F: where the primary goes at the flip */
    uint8_t *alias;             /* shmem: the whole memfd, for GC writes */
    uint8_t *standby;           /* S: the next to-space half, mapped ahead with its page tables */
    int standby_valid, standby_half;
    void *res_p, *res_f, *res_s;        /* reservations (for munmap) */
    size_t res_p_len, res_f_len, res_s_len;
    int live_half;              /* memfd half mapped at P */
    int closed;
    _Atomic int closing;        /* api.c: closing, API calls refused, waiters woken */
    _Atomic int inflight;       /* api.c: API calls inside the heap */
    int manual_state;           /* api.c: where a collect_begin() cycle is (gc_lock) */
    int pid;                    /* the process that created the heap (fork) */

    /* allocation */
    pthread_mutex_t alloc_lock;
    uint64_t top;               /* bump pointer (offset) */
    uint64_t limit;             /* allocation limit (cap) */

    /* classes */
    pthread_mutex_t class_lock;
    agc_class classes[AGC_MAX_CLASSES];
    uint32_t class_words[AGC_MAX_CLASSES];   /* size of fixed-size classes, for the fast path */
    int nmutators;
    uint32_t tid_map[1024][2];  /* kernel tid -> mutator id, for handler-thread faults */
    uint32_t ntid_map;
    _Atomic int nclasses;

    /* mutators and safepoints */
    pthread_mutex_t mut_lock;   /* guards the mutator list and the safepoint handshake */
    pthread_cond_t mut_cond;    /* mutators park here */
    pthread_cond_t gc_cond;     /* the GC waits here for mutators to stop */
    agc_mutator *mutators;
    uint32_t next_mutator_id;
    _Atomic int stop_requested;
    uint64_t stop_epoch;
    uint64_t stop_t0;
    uint64_t stop_ttsp_ns;      /* time-to-safepoint of the last stop */
    uint64_t start_t;           /* when the last stop ended */
    int stop_phase;
    agc_evlog dead_events;      /* events of detached mutators */

    /* handles: Python handles and workloads' global roots */
    pthread_mutex_t handle_lock;
    agc_word *hchunks[AGC_HCHUNKS];   /* handle slots, in chunks that never move */
    uint8_t *hused[AGC_HCHUNKS];
    uint32_t *handle_free;
    uint32_t nhandles, nfree, free_cap;

    /* the Python API's mutator, guarded by api_lock */
    pthread_mutex_t api_lock;
    agc_mutator *api;

    /* marking */
    uint64_t *mark_bits;        /* 1 bit per word: object starts */
    uint64_t *live_bits;        /* 1 bit per word: every word of live objects */
    uint64_t nbitwords;
    agc_markstack mstack;
    _Atomic int marking;        /* SATB barrier on */
    uint64_t mark_start_top;    /* S: objects at or above are allocated black */
    uint64_t black_top;         /* B: top at the end of the marking pause */
    _Atomic int alloc_black;    /* objects allocated now get a mark bit (S..flip) */
    uint64_t black_new_start;   /* to-space offset where the black region [S, T) lands */
    pthread_mutex_t satb_lock;
    agc_satb_block *satb_full;
    uint64_t satb_total;

    /* planning */
    uint32_t *chunk_live;       /* live bytes per 512 B chunk */
    uint64_t *chunk_prefix;     /* exclusive prefix sums */
    uint64_t nchunks;
    uint64_t *page_first;       /* from-space word offset of the object covering to-page start */
    uint64_t plan_top;          /* from-space end covered by the plan */
    uint64_t dense_end;         /* the black-dense prefix [0, dense_end) does not move */
    uint64_t dense_live;        /* live bytes in it (the rest of it is fillers now) */
    int cycle_skipped;          /* AGC_SKIP_*: this cycle does not compact */
    uint64_t new_end;           /* end of compacted data in to-space */
    uint64_t npages;            /* to-space pages to build */
    _Atomic uint8_t *page_state;
    uint8_t *from_base;         /* where the GC reads from-space */
    uint8_t *to_base;           /* where the GC writes to-space (memfd modes) */
    int to_half;

    /* from-space released as compaction goes (release.c) */
    uint64_t rel_chunk, rel_n, rel_early;
    _Atomic int rel_active;
    uint64_t *rel_lo, *rel_hi;  /* per chunk: the to-space pages that read from it */
    uint64_t *rel_hmax;         /* running maximum of rel_hi (for the search) */
    _Atomic uint32_t *rel_pending;
    _Atomic uint8_t *rel_state; /* 0 pending, 1 ready, 2 released, 3 recycled */
    _Atomic uint64_t rec_scan;  /* where to look for a ready chunk to recycle */
    uint64_t rec_gen;           /* this cycle's recycling number (release.c) */
    _Atomic uint64_t recycled_pages;
    int released_during;        /* this cycle gave from-space back early */
    int populate_lazy;          /* to-space made to exist ahead of the builders, not before the flip */
    _Atomic uint64_t pop_done;  /* claim indices below it are populated */
    _Atomic int pop_busy;
    _Atomic uint64_t released_bytes;

    /* the statistics listener's state (stats.c) */
    uint64_t st_stop_t0, st_stopped_t, st_roots_t;
    int st_phase;

    /* concurrent compaction */
    _Atomic int phase;
    _Atomic uint64_t next_page; /* work distribution among GC threads */
    uint64_t *page_order;       /* for AGC_ORDER_RANDOM */
    _Atomic uint64_t pages_by_gc, pages_by_mutator, faults_minor, faults_missing, fault_waits;
    _Atomic uint64_t moved_bytes;
    _Atomic int in_fault;       /* threads inside the fault resolver */
    int uffd;
    int sigbus_slot;
    agc_fault_thread *fault_thread;
    int fault_thread_restarts;
    agc_evlog fault_events;     /* thread delivery: stalls recorded by the handler */
    pthread_mutex_t fault_ev_lock;
    int manual_compaction;      /* agc_collect_begin: no GC page building */
    uint64_t gc_baseline;       /* used bytes after the last cycle (trigger base) */
    uint64_t trigger_reserve;   /* adaptive trigger: free space to keep for a cycle */
    uint64_t prev_cycle_end_ns, prev_used_after;
    uint64_t last_traced_live;  /* live bytes marked by the last cycle (not allocated black) */
    int minor_catch_missing;    /* minor mode registers MISSING too */
    uint64_t bitmaps_ready;     /* heap bytes whose bitmap pages are populated */
    uint64_t zapped_upto;       /* standby bytes without page-table entries */

    /* the GC thread and its requests */
    pthread_t gc_thread;
    int gc_thread_started;
    pthread_mutex_t gc_lock;
    pthread_cond_t gc_req_cond, gc_done_cond;
    int gc_request;             /* a cycle is wanted */
    int gc_request_reason;
    int gc_stop_after_flip;
    int gc_busy;                /* a cycle is running */
    int gc_shutdown;
    int pretouch_wanted;        /* allocation came near the end of what is mapped ahead */
    uint64_t pretouched_upto;   /* live-space bytes mapped ahead of allocation */
    int pretouch_unsupported;   /* the memory or the kernel cannot map ahead */
    uint64_t cycles_done;
    uint64_t cycles_started;
    int last_cycle_error;
    char last_cycle_msg[512];
    /* compaction workers */
    int nworkers;
    pthread_t *workers;
    pthread_barrier_t work_start, work_end;
    int workers_quit;

    /* stats */
    pthread_mutex_t stats_lock;
    agc_cycle_stats *cycles;
    uint64_t ncycles, cycles_cap;
    agc_cycle_stats cur;
    uint32_t *map_before, *map_after;
    uint64_t map_before_n, map_after_n;
    int corrupt;
    char corrupt_msg[512];
};

/* Fields written under a lock but read without one use these. */
#define AGC_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define AGC_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* heap.c */
static inline uint8_t *agc_obj_at(agc_heap *h, uint64_t off) { return h->primary + off; }
static inline uint64_t agc_off_of(agc_heap *h, const void *p) { return (uint64_t)((const uint8_t *)p - h->primary); }

/* release.c: from-space given back as compaction goes */
void agc_release_plan_early(agc_heap *h);     /* after planning, outside the pause */
void agc_compact_plan_release(agc_heap *h);   /* in the flip, after the remap */
void agc_release_page_built(agc_heap *h, uint64_t p);   /* async-signal-safe */
void agc_release_ready(agc_heap *h);          /* GC threads */
void agc_compact_release_rest(agc_heap *h);
uint8_t *agc_recycled_run(agc_heap *h, uint64_t k);   /* k dead from-space pages, or NULL */
void agc_heap_release_memory(agc_heap *h);  /* unmap and close the heap's memory */

/* object layout helpers (objects.c) */
/* How many reference slots an object has, and the word they start at
 * (inline: the page builder and the marker call it for every object). */
static inline uint64_t agc_obj_refs(const agc_heap *h, const agc_header *o, uint64_t *first_word)
{
    switch (o->cls) {
    case AGC_CLS_FILLER:
    case AGC_CLS_BYTEARRAY:
        *first_word = o->cls == AGC_CLS_FILLER ? 1 : 2;
        return 0;
    case AGC_CLS_REFARRAY:
        *first_word = 2;
        return ((const uint64_t *)o)[1];
    default:
        *first_word = 1;
        return h->classes[o->cls].nrefs;
    }
}
uint64_t agc_obj_data_len(agc_heap *h, const agc_header *o, uint64_t *data_off);
uint64_t agc_size_words(agc_heap *h, int cls, uint64_t length, int *err);
void agc_fill(uint8_t *p, uint64_t bytes);      /* write a filler object */
void agc_fill_header(uint8_t *p, uint64_t bytes);   /* only its (first) header */
void agc_heap_fill(agc_heap *h, uint64_t off, uint64_t bytes);  /* filler in the heap (black-aware) */
static inline void agc_mark_black_alloc(agc_heap *h, uint64_t off)
{
    if (atomic_load_explicit(&h->alloc_black, memory_order_relaxed))
        __atomic_fetch_or(&h->mark_bits[off >> 9], 1ull << ((off >> 3) & 63), __ATOMIC_RELAXED);
}

/* alloc.c */
void *agc_alloc_slow(agc_mutator *m, uint64_t words, int cls, uint64_t length);
uint64_t agc_align_top(agc_heap *h, uint64_t align); /* world stopped: fill to alignment */

/* Waits inside artgc are not cancellation points for the caller's thread. */
#define AGC_NOCANCEL_BEGIN int agc_cs_; pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &agc_cs_)
#define AGC_NOCANCEL_END pthread_setcancelstate(agc_cs_, NULL)

/* safepoint.c */
void agc_heap_registry_add(agc_heap *h);
void agc_heap_registry_remove(agc_heap *h);
void agc_stop_world(agc_heap *h, int phase);
void agc_start_world(agc_heap *h);
agc_mutator *agc_mutator_new(agc_heap *h, int in_api);
void agc_mutator_free_all(agc_heap *h);
extern __thread agc_mutator *agc_self;
void agc_thread_uses_heap(void);   /* free this thread's fault buffers when it exits */

/* api.c */
int agc_heap_foreign(const agc_heap *h);

/* roots.c */
typedef void (*agc_root_fn)(agc_heap *h, agc_word *slot, void *ctx);
void agc_for_each_root(agc_heap *h, agc_root_fn fn, void *ctx);   /* world stopped */
int agc_handle_alloc(agc_heap *h, agc_word obj, uint32_t *out);
#define AGC_HSLOT(h, i) ((h)->hchunks[(i) / AGC_HCHUNK][(i) % AGC_HCHUNK])
#define AGC_HUSED(h, i) ((h)->hused[(i) / AGC_HCHUNK][(i) % AGC_HCHUNK])
int agc_handle_check(agc_heap *h, uint32_t idx);
int agc_handle_release(agc_heap *h, uint32_t idx);
void agc_handles_free(agc_heap *h);

/* bitmap helpers (bitmap.c) */
static inline void bm_set(uint64_t *bm, uint64_t i) { bm[i >> 6] |= 1ull << (i & 63); }
static inline int bm_get(const uint64_t *bm, uint64_t i) { return (bm[i >> 6] >> (i & 63)) & 1; }
void bm_set_range(uint64_t *bm, uint64_t from, uint64_t n);
uint64_t bm_next(const uint64_t *bm, uint64_t from, uint64_t end);   /* AGC_NONE if none */
uint64_t bm_prev(const uint64_t *bm, uint64_t at);                   /* last set <= at */

/* mark.c */
void agc_mark_roots(agc_heap *h);               /* world stopped: grey the roots */
void agc_mark_drain(agc_heap *h);               /* trace until the stack is empty */
void agc_mark_flush_satb(agc_heap *h);          /* world stopped: grey SATB entries */
void agc_mark_object(agc_heap *h, uint64_t woff);
void agc_mark_reset(agc_heap *h);
uint64_t agc_mark_concurrent_step(agc_heap *h);

/* plan.c */
void agc_plan_chunks(agc_heap *h, uint64_t from, uint64_t to);  /* chunk_live for [from,to) */
void agc_plan_range(agc_heap *h, uint64_t from, uint64_t to);   /* prefix, first objects */
void agc_plan_heap_maps(agc_heap *h);
void agc_plan_black(agc_heap *h, uint64_t top);   /* [S, top) slides as one block */
/* The black-dense prefix below S and the plan of the rest of [0, S): sets
 * dense_end; returns 1 when nothing would move. */
int agc_plan_below_s(agc_heap *h, uint64_t S);
uint64_t agc_page_first(agc_heap *h, uint64_t p);
static inline uint64_t agc_forward_off(agc_heap *h, uint64_t off)
{
    if (off < h->dense_end)          /* the black-dense prefix stays where it is */
        return off;
    /* the region allocated during the cycle, [S, T), is live as a whole and
     * slides by one distance: no bitmap needed */
    if (off >= h->mark_start_top)
        return h->black_new_start + (off - h->mark_start_top);
    uint64_t w = off >> 3;
    uint64_t c = w >> 6;
    uint64_t mask = (1ull << (w & 63)) - 1;
    return h->chunk_prefix[c] + 8ull * (uint64_t)__builtin_popcountll(h->live_bits[c] & mask);
}

/* compact.c */
uint64_t agc_build_page(agc_heap *h, uint64_t page, uint8_t *dst);  /* the one page builder; bytes moved */
int agc_resolve_page(agc_heap *h, uint64_t page, int by_gc, int in_signal);
int agc_fault_resolver_fn(void *ctx, void *addr, int kind, uint64_t t_fault_ns, uint32_t tid, int in_signal);
void agc_compact_worker_run(agc_heap *h, int worker);
int agc_compact_setup(agc_heap *h);          /* uffd, registration (in the flip) */
void agc_compact_teardown(agc_heap *h);      /* unregister (after compaction) */
void agc_compact_thread_done(void);          /* free this thread's page buffers */
extern _Atomic long agc_page_buffers_live;   /* page buffers of all threads */

/* collector.c */
int agc_gc_start(agc_heap *h);
void agc_gc_shutdown(agc_heap *h);
int agc_request_cycle(agc_heap *h, int reason, int wait, int stop_after_flip);
void agc_maybe_trigger(agc_heap *h);
int agc_collect_finish_cycle(agc_heap *h);

/* verify.c */
int agc_verify_heap(agc_heap *h, char *hex33, int only_check);   /* world stopped */
int agc_digest_obj(agc_heap *h, uint64_t off, char *hex33);

/* stats.c */
void agc_record_event(agc_mutator *m, int kind, uint64_t t0, uint64_t dur, uint32_t phase);
void agc_cycle_push(agc_heap *h, const agc_cycle_stats *c);
#endif
