/* Address-space helpers shared by the memory kinds. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include "internal.h"
#include "space/space.h"

/* Reserve len bytes aligned to AGC_ALIGN_RESERVE; returns the aligned start. */
uint8_t *agc_reserve_aligned(uint64_t len, void **res, uint64_t *res_len)
{
    size_t total = len + AGC_ALIGN_RESERVE;
    void *p = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    *res = p;
    *res_len = total;
    uintptr_t a = ((uintptr_t)p + AGC_ALIGN_RESERVE - 1) & ~(uintptr_t)(AGC_ALIGN_RESERVE - 1);
    return (uint8_t *)a;
}

/* The page-table entries go first, with MADV_DONTNEED, under the mm's lock
 * held for reading, so mutator faults go on meanwhile; the mmap over the
 * range, which holds it for writing, then has none left to drop. Dropped
 * inside the mmap they held every mutator fault up: with keep_tospace the
 * from-space mapping still maps the kept pages at the cycle's end (about
 * 40,000 entries on lru --live 128MiB / 512 MiB), and the mmap over it
 * stopped the mutator for 10-17 ms at every cycle's end, in no stall's
 * record (perf: the mutator's samples stop, then resume in
 * rwsem_down_read_slowpath). */
void agc_reserve_again(uint8_t *at, uint64_t len)
{
    madvise(at, len, MADV_DONTNEED);
    mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

/* Move a mapping onto `to` without ever leaving a hole in artgc's address
 * ranges: with MREMAP_DONTUNMAP (shared mappings since Linux 5.13) the source
 * keeps an empty mapping, and MREMAP_FIXED replaces the target in one step,
 * so no mmap of another thread can land in between and be overwritten.
 * Kernels without it get the plain move (and a tiny window). */
static int dontunmap_ok = 1;
void *agc_move_mapping(uint8_t *from, uint8_t *to, uint64_t len)
{
    if (__atomic_load_n(&dontunmap_ok, __ATOMIC_RELAXED)) {
        void *r = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to);
        if (r != MAP_FAILED || errno != EINVAL)
            return r;
        __atomic_store_n(&dontunmap_ok, 0, __ATOMIC_RELAXED);
    }
    return mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
}

const agc_space_ops *agc_space_lookup(int memory)
{
    switch (memory) {
    case AGC_MEMORY_SHMEM: return &agc_space_shmem;
    case AGC_MEMORY_ANON: return &agc_space_anon;
    default: return NULL;
    }
}

const char *agc_memory_name(int memory)
{
    const agc_space_ops *s = agc_space_lookup(memory);
    return s ? s->name : "auto";
}
