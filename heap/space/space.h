/* The memory seam: what the heap's memory is and how the flip moves it.
 * shmem (heap/space/shmem.c): one memfd of two halves, the primary mapping
 * shows the live half, the alias maps both for GC writes, the standby keeps
 * the next to-space half's page tables. anon (heap/space/anon.c): private
 * anonymous memory as ART ships it; the flip moves the primary's pages to
 * the from-space reservation with mremap(MREMAP_DONTUNMAP) and leaves the
 * primary range empty. */
#ifndef ARTGC_SPACE_H
#define ARTGC_SPACE_H
#include <stddef.h>
#include <stdint.h>

typedef struct agc_heap agc_heap;

/* shmem: the memfd half of every part of the space (heap/space/halves.c):
 * half0 from offset 0, the other one from each cut on, alternating. */
#define AGC_MAX_CUTS 16
typedef struct agc_halves {
    int half0;
    int ncut;
    uint64_t cut[AGC_MAX_CUTS];     /* ascending page offsets in (0, cap) */
} agc_halves;
int agc_halves_at(const agc_halves *l, uint64_t off);
uint64_t agc_halves_run_end(const agc_halves *l, uint64_t off, uint64_t end);
void agc_halves_toggle(agc_halves *l, uint64_t at);
uint64_t agc_halves_keep(const agc_halves *l, uint64_t want, uint64_t near);

/* The heap's memory and its mappings (heap.c, heap/space). */
typedef struct agc_mem {
    uint64_t cap;               /* bytes in the live space */
    uint64_t span;              /* length of every mapping of a half: cap rounded up to
                                 * AGC_ALIGN_RESERVE, so the flip moves whole 1 GiB
                                 * page-table entries (one TLB flush) */
    uint64_t nwords;            /* cap / 8 */
    int memfd;                  /* shmem: the heap's file (a memfd, or a file of a private
                                 * huge tmpfs: heap/space/shmemfile.c); -1 for anonymous memory */
    int shmem_huge;             /* shmem: AGC_SHMEM_* (how the file's pages are huge) */
    uint8_t *primary;           /* P: mutators' view */
    uint8_t *fromspace;         /* F: where the primary goes at the flip */
    uint8_t *alias;             /* shmem: the whole memfd, for GC writes */
    uint8_t *alias_small;       /* shmem with huge pages: the whole file again, MADV_NOHUGEPAGE,
                                 * for the pages a faulting mutator builds (NULL otherwise) */
    uint8_t *standby;           /* S: the next to-space half, mapped ahead with its page tables */
    int standby_valid;
    agc_halves sb;              /* shmem: what the standby maps, from sb_lo up */
    uint64_t sb_lo;
    void *res_p, *res_f, *res_s;        /* reservations (for munmap) */
    size_t res_p_len, res_f_len, res_s_len;
    agc_halves live;            /* shmem: the memfd halves mapped at P */
    agc_halves to;              /* shmem, during a cycle: to-space's (live's, toggled at keep) */
    uint64_t keep;              /* shmem, during a cycle: the young cycle's kept prefix */
    uint64_t recycled;          /* shmem, the last cycle's end: from-space bytes it mapped as
                                 * free space (recycle_fromspace; some may have been punched) */
    uint64_t inplace;           /* shmem, during a full cycle of a mode that builds in place:
                                 * the dense prefix [0, inplace) stays in its half, its pages
                                 * updated where they are (from-space and to-space the same) */
    int adopted;                /* anon: from-space was moved into the primary since the last
                                 * flip (mutator_recycle; under the allocation lock, read at the
                                 * flip, world stopped) */
    uint64_t bitmaps_ready;     /* heap bytes whose bitmap pages are populated */
    uint64_t zapped_upto;       /* standby bytes without page-table entries */
} agc_mem;

typedef struct agc_space_ops {
    const char *name;
    int id;                                   /* AGC_MEMORY_* */
    int (*map)(agc_heap *h);                  /* create the memory, map the primary */
    /* A young cycle whose old generation ends at page offset `want`: the
     * prefix [0, K) it leaves where it is (K <= want; the old pages in
     * [K, want) are copied as they are). */
    uint64_t (*keep)(agc_heap *h, uint64_t want);
    void (*unmap)(agc_heap *h);
    /* Outside pauses, after planning: get to-space ready. populate: bytes of
     * to-space that must exist (modes that build in place), zap: bytes at its
     * start whose page-table entries must go (pages that will fault). */
    int (*prepare)(agc_heap *h, uint64_t populate, uint64_t zap);
    int (*prepare_late)(agc_heap *h, uint64_t zap_upto);
    /* During compaction, ahead of the page builders: to-space bytes
     * [off, off + len) made to exist (modes that build in place). */
    int (*populate)(agc_heap *h, uint64_t off, uint64_t len);
    /* The flip (world stopped): the primary range shows to-space, where the
     * first must_zap bytes fault; sets from_base / to_base. */
    int (*flip)(agc_heap *h, uint64_t must_zap);
    /* Right after the flip's pause, before compaction (GC thread, mutators
     * running): what the flip left for later (anon: a young cycle's old
     * generation moved back). Also after a failed flip. NULL: nothing. */
    void (*flip_done)(agc_heap *h);
    /* The stw driver: from_base / to_base for building every page in the
     * pause (begin), and the primary switched to the result (end). */
    int (*stw_begin)(agc_heap *h);
    int (*stw_end)(agc_heap *h);
    /* From-space bytes [off, off + len) are needed by no page left to build:
     * give them back now (during compaction, never in a pause); returns the
     * bytes given back (none where from-space is to-space too). */
    uint64_t (*release)(agc_heap *h, uint64_t off, uint64_t len);
    /* Before the flip: live-space bytes [off, off + len) that nothing
     * reachable uses (dead from-space to be) go back now. */
    void (*release_live)(agc_heap *h, uint64_t off, uint64_t len);
    /* After the cycle: from-space is given back or kept for the next cycle. */
    void (*after_cycle)(agc_heap *h);
    /* From-space [from, from + len), which no page left to build reads,
     * becomes live-space [to, to + len), free space above the allocation
     * pointer and above to-space's registered pages: its pages moved there,
     * not copied (their bytes are garbage). 0, or -1 where it cannot be
     * done; NULL for a memory that never can (mutator_recycle). */
    int (*adopt)(agc_heap *h, uint64_t from, uint64_t to, uint64_t len);
    /* Map [off, off + len) of the live space ahead of allocation. */
    int (*pretouch)(agc_heap *h, uint64_t off, uint64_t len);
    /* Bytes of memory the heap's memory holds right now (not mappings). */
    uint64_t (*held_bytes)(agc_heap *h);
    /* After preparing: the flip will move a mapping that does not start on
     * a 1 GiB boundary (the kernel then moves it 2 MiB entry by entry, each
     * with a TLB flush that interrupts any CPU running the process). */
    int (*flip_unaligned)(agc_heap *h);
} agc_space_ops;

extern const agc_space_ops agc_space_shmem, agc_space_anon;
const agc_space_ops *agc_space_lookup(int memory);
const char *agc_memory_name(int memory);

/* The shmem heap's file (heap/space/shmemfile.c): small pages, huge pages
 * from a tmpfs instance of its own, or a memfd advised for huge pages. */
enum { AGC_SHMEM_SMALL = 0, AGC_SHMEM_HUGE_TMPFS = 1, AGC_SHMEM_HUGE_ADVISE = 2 };
int agc_shmem_file(agc_heap *h, uint64_t size);
void agc_shmem_advise(agc_heap *h, void *at, uint64_t len);
const char *agc_shmem_huge_name(int how);

/* Shared helpers (heap/space/common.c). */
uint8_t *agc_reserve_aligned(uint64_t len, void **res, uint64_t *res_len);
void agc_reserve_again(uint8_t *at, uint64_t len);   /* PROT_NONE, no hole */
void *agc_move_mapping(uint8_t *from, uint8_t *to, uint64_t len);
#endif
