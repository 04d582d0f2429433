/* The mode seam. A mode says where a to-space page is built and how a run
 * of built pages is installed where mutators see it; the heap's memory kind
 * (heap/space/space.h) says what the memory is and how the flip moves it.
 * A cycle driver (stw or concurrent) runs the phases. Outside heap/modes and
 * heap/space no code asks which mode or memory kind it is in: it calls
 * through h->mode and h->space. */
#ifndef ARTGC_MODE_H
#define ARTGC_MODE_H
#include <stdint.h>
#include "heap_api.h"
#include "uffd.h"

typedef struct agc_heap agc_heap;

/* Which memory kinds a mode can run on. */
enum { AGC_MEM_OK_SHMEM = 1, AGC_MEM_OK_ANON = 2 };

typedef struct agc_mode_ops {
    const char *name;
    int id;                         /* AGC_MODE_* */
    int memories;                   /* AGC_MEM_OK_* bits */
    int default_memory;             /* AGC_MEMORY_SHMEM / AGC_MEMORY_ANON */
    const char *memory_refusal;     /* why the other memory kind is refused */
    int faults;                     /* mutators can fault (a delivery matters) */
    int fault_kind;                 /* AGC_FAULT_*: the kind a SIGBUS fault is */
    /* Kernel features the mode needs on memory `memory`; AGC_OK or a refusal
     * naming the missing feature and the probe line that shows it. */
    int (*check)(const agc_options *o, int memory, const agc_uffd_caps *c);
    /* userfaultfd features to ask for, and registration modes of to-space */
    unsigned (*uffd_want)(agc_heap *h, const agc_uffd_caps *c);
    int (*reg_modes)(agc_heap *h);
    /* to-space pages must exist before the flip (minor: CONTINUE maps
     * only pages that exist) */
    int populate_tospace;
    /* a page is built where it will live (through the alias) rather than in
     * a buffer: then `install` maps it, a faulting mutator may map a page a
     * GC thread built, and GC threads may leave the install to faults */
    int build_in_place;
    /* GC threads build runs into from-space pages nothing reads any more
     * (recycled: no fresh kernel page per built page) */
    int recycles;
    /* Install the run of pages [p, p + k) built at buf (NULL when built in
     * place). Returns 0, 1 (part already mapped) or -errno. */
    int (*install)(agc_heap *h, uint64_t p, uint64_t k, uint8_t *buf);
    /* The cycle driver: marking to release. */
    int (*cycle)(agc_heap *h, agc_cycle_stats *c);
} agc_mode_ops;

extern const agc_mode_ops agc_mode_stw, agc_mode_minor, agc_mode_copy, agc_mode_move;
const agc_mode_ops *agc_mode_lookup(int mode);   /* NULL for an unknown mode */
const char *agc_mode_name(int mode);

/* The two cycle drivers (heap/modes/stw.c, heap/modes/concurrent.c). */
int agc_cycle_stw(agc_heap *h, agc_cycle_stats *c);
int agc_cycle_concurrent(agc_heap *h, agc_cycle_stats *c);
/* The rest of a concurrent cycle after the flip (also agc_collect_finish). */
void agc_compact_concurrently(agc_heap *h);
#endif
