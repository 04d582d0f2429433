/* Heap memory: one memfd of two halves, the primary mapping (1 GiB aligned),
 * the alias of the whole memfd, the from-space reservation; create/destroy. */
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
    o->mode = AGC_MODE_MINOR;
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
}

static const char *mode_name(int m)
{
    static const char *n[] = {"stw", "copy", "minor", "move"};
    return (m >= 0 && m < 4) ? n[m] : "?";
}

static uint64_t mem_total(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    return pages > 0 ? (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Refuse a mode the kernel cannot do, naming the missing feature. */
static int check_mode(const agc_options *o)
{
    if (o->mode == AGC_MODE_STW)
        return AGC_OK;
    agc_uffd_caps c;
    agc_uffd_caps_get(&c);
    const char *mn = mode_name(o->mode);
    if (!c.available)
        return agc_fail(AGC_EUNSUPPORTED,
                        "mode '%s' needs userfaultfd, which is not available here: %s "
                        "(see `artgc probe`: uffd.available); mode 'stw' works without it",
                        mn, c.reason);
    if (o->delivery == AGC_DELIVERY_SIGBUS && !c.sigbus)
        return agc_fail(AGC_EUNSUPPORTED,
                        "delivery 'sigbus' needs UFFD_FEATURE_SIGBUS, which this kernel does not "
                        "grant (see `artgc probe`: features.sigbus); use --delivery thread");
    if (o->mode == AGC_MODE_MINOR && !c.minor_shmem)
        return agc_fail(AGC_EUNSUPPORTED,
                        "mode 'minor' needs UFFD_FEATURE_MINOR_SHMEM (Linux 5.14+), which this kernel "
                        "does not grant (see `artgc probe`: features.minor_shmem)");
    if (o->mode == AGC_MODE_COPY && !c.missing_shmem)
        return agc_fail(AGC_EUNSUPPORTED,
                        "mode 'copy' needs UFFD_FEATURE_MISSING_SHMEM, which this kernel does not "
                        "grant (see `artgc probe`: features.missing_shmem)");
    if (o->mode == AGC_MODE_MOVE && !c.move)
        return agc_fail(AGC_EUNSUPPORTED,
                        "mode 'move' needs UFFDIO_MOVE (UFFD_FEATURE_MOVE, Linux 6.8+), which this "
                        "kernel does not grant (see `artgc probe`: features.move)");
    return AGC_OK;
}

static int check_options(const agc_options *o)
{
    if (o->mode < AGC_MODE_STW || o->mode > AGC_MODE_MOVE)
        return agc_fail(AGC_EINVAL, "unknown mode %d; valid modes: stw, copy, minor, move", o->mode);
    if (o->delivery != AGC_DELIVERY_SIGBUS && o->delivery != AGC_DELIVERY_THREAD)
        return agc_fail(AGC_EINVAL, "unknown delivery %d; valid deliveries: sigbus, thread", o->delivery);
    if (o->marking != AGC_MARKING_STW && o->marking != AGC_MARKING_CONCURRENT)
        return agc_fail(AGC_EINVAL, "unknown marking %d; valid: concurrent, stw", o->marking);
    if (o->order < AGC_ORDER_ASCENDING || o->order > AGC_ORDER_RANDOM)
        return agc_fail(AGC_EINVAL, "unknown compaction order %d; valid: ascending, descending, random", o->order);
    if (o->gc_threads < 1 || o->gc_threads > 64)
        return agc_fail(AGC_EINVAL, "gc_threads must be between 1 and 64, got %d", o->gc_threads);
    if (!(o->trigger > 0.0 && o->trigger <= 1.0))
        return agc_fail(AGC_EINVAL, "trigger must be a fraction in (0, 1], got %g", o->trigger);
    if (!o->gc_install && o->mode != AGC_MODE_MINOR && o->mode != AGC_MODE_STW)
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

/* Reserve len bytes aligned to AGC_ALIGN_RESERVE; returns the aligned start. */
static uint8_t *reserve_aligned(size_t len, void **res, size_t *res_len)
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

static size_t bm_bytes(agc_heap *h) { return h->nbitwords * 8; }

static void free_side_tables(agc_heap *h)
{
    anon_free(h->mark_bits, bm_bytes(h));
    anon_free(h->live_bits, bm_bytes(h));
    anon_free(h->chunk_live, h->nchunks * 4);
    anon_free(h->chunk_prefix, (h->nchunks + 1) * 8);
    anon_free(h->page_first, (h->cap / AGC_PAGE + 1) * 8);
    anon_free((void *)h->page_state, h->cap / AGC_PAGE + 1);
    anon_free(h->page_order, (h->cap / AGC_PAGE + 1) * 8);
}

static void release_memory(agc_heap *h)
{
    if (h->res_p)
        munmap(h->res_p, h->res_p_len);
    if (h->res_f)
        munmap(h->res_f, h->res_f_len);
    if (h->res_s)
        munmap(h->res_s, h->res_s_len);
    if (h->alias)
        munmap(h->alias, 2 * h->cap);
    if (h->memfd >= 0)
        close(h->memfd);
    h->res_p = h->res_f = h->res_s = NULL;
    h->alias = NULL;
    h->memfd = -1;
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
    h->cap = (o->capacity + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    h->nwords = h->cap / 8;
    h->memfd = -1;
    h->uffd = -1;
    h->sigbus_slot = -1;
    h->pid = (int)getpid();
    h->anon = (o->mode == AGC_MODE_MOVE);
    h->limit = h->cap;
    h->nclasses = AGC_FIRST_USER_CLASS;
    snprintf(h->classes[AGC_CLS_FILLER].name, 64, "<filler>");
    snprintf(h->classes[AGC_CLS_REFARRAY].name, 64, "RefArray");
    snprintf(h->classes[AGC_CLS_BYTEARRAY].name, 64, "ByteArray");
    pthread_mutex_init(&h->alloc_lock, NULL);
    pthread_mutex_init(&h->class_lock, NULL);
    pthread_mutex_init(&h->mut_lock, NULL);
    pthread_cond_init(&h->mut_cond, NULL);
    pthread_cond_init(&h->gc_cond, NULL);
    pthread_mutex_init(&h->handle_lock, NULL);
    pthread_mutex_init(&h->api_lock, NULL);
    pthread_mutex_init(&h->satb_lock, NULL);
    pthread_mutex_init(&h->gc_lock, NULL);
    pthread_cond_init(&h->gc_req_cond, NULL);
    pthread_cond_init(&h->gc_done_cond, NULL);
    pthread_mutex_init(&h->stats_lock, NULL);
    pthread_mutex_init(&h->fault_ev_lock, NULL);

    h->span = (h->cap + AGC_ALIGN_RESERVE - 1) & ~(AGC_ALIGN_RESERVE - 1);
    h->primary = reserve_aligned(h->span, &h->res_p, &h->res_p_len);
    h->fromspace = reserve_aligned(h->span, &h->res_f, &h->res_f_len);
    h->standby = reserve_aligned(h->span, &h->res_s, &h->res_s_len);
    if (!h->primary || !h->fromspace || !h->standby) {
        rc = agc_fail(AGC_ESYS, "cannot reserve %llu MiB of address space: %s",
                      (unsigned long long)(h->cap >> 20), strerror(errno));
        goto fail;
    }
    if (h->anon) {
        if (mmap(h->primary, h->cap, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
            rc = agc_fail(AGC_ESYS, "cannot map the heap: %s", strerror(errno));
            goto fail;
        }
        madvise(h->primary, h->cap, MADV_DONTFORK);   /* a child gets no copy (fork) */
    } else {
        h->memfd = memfd_create("artgc-heap", MFD_CLOEXEC);
        if (h->memfd < 0) {
            rc = agc_fail(AGC_ESYS, "memfd_create failed: %s", strerror(errno));
            goto fail;
        }
        if (ftruncate(h->memfd, (off_t)(2 * h->cap)) != 0) {
            rc = agc_fail(AGC_ESYS, "cannot size the heap memfd to %llu bytes: %s",
                          (unsigned long long)(2 * h->cap), strerror(errno));
            goto fail;
        }
        h->alias = mmap(NULL, 2 * h->cap, PROT_READ | PROT_WRITE, MAP_SHARED, h->memfd, 0);
        if (h->alias == MAP_FAILED) {
            h->alias = NULL;
            rc = agc_fail(AGC_ESYS, "cannot map the heap alias: %s", strerror(errno));
            goto fail;
        }
        if (mmap(h->primary, h->span, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                 h->memfd, 0) == MAP_FAILED) {
            rc = agc_fail(AGC_ESYS, "cannot map the heap: %s", strerror(errno));
            goto fail;
        }
    }
    h->live_half = 0;
    h->nbitwords = (h->nwords + 63) / 64;
    h->nchunks = h->nbitwords;
    uint64_t maxpages = h->cap / AGC_PAGE + 1;
    h->mark_bits = anon_zeroed(bm_bytes(h));
    h->live_bits = anon_zeroed(bm_bytes(h));
    h->chunk_live = anon_zeroed(h->nchunks * 4);
    h->chunk_prefix = anon_zeroed((h->nchunks + 1) * 8);
    h->page_first = anon_zeroed(maxpages * 8);
    h->page_state = anon_zeroed(maxpages);
    h->page_order = anon_zeroed(maxpages * 8);
    if (!h->mark_bits || !h->live_bits || !h->chunk_live || !h->chunk_prefix ||
        !h->page_first || !h->page_state || !h->page_order) {
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
    pthread_mutex_lock(&h->handle_lock);
    agc_handles_free(h);
    pthread_mutex_unlock(&h->handle_lock);
    free(h->mstack.v);
    while (h->satb_full) {
        agc_satb_block *b = h->satb_full;
        h->satb_full = b->next;
        free(b);
    }
    free(h->cycles);
    free(h->map_before);
    free(h->map_after);
    agc_evlog_free(&h->dead_events);
    agc_evlog_free(&h->fault_events);
    free(h);
}

/* Move a mapping onto `to` without ever leaving a hole in artgc's address
 * ranges: with MREMAP_DONTUNMAP (shared mappings since Linux 5.13) the source
 * keeps an empty mapping, and MREMAP_FIXED replaces the target in one step,
 * so no mmap of another thread can land in between and be overwritten.
 * Kernels without it get the plain move (and a tiny window). */
static int dontunmap_ok = 1;
static void *move_mapping(uint8_t *from, uint8_t *to, uint64_t len)
{
    if (__atomic_load_n(&dontunmap_ok, __ATOMIC_RELAXED)) {
        void *r = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to);
        if (r != MAP_FAILED || errno != EINVAL)
            return r;
        __atomic_store_n(&dontunmap_ok, 0, __ATOMIC_RELAXED);
    }
    return mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
}

static void reserve_again(uint8_t *at, uint64_t len)
{
    mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

/* Outside any pause: make the standby S map the to-space half, and drop the
 * page-table entries of its first zap_len bytes (the pages compaction will
 * build, which must fault). The rest keeps its entries from the cycle
 * before, so mutators allocating there after the flip take no page fault. */
int agc_standby_prepare(agc_heap *h, uint64_t zap_len)
{
    if (h->anon)
        return AGC_OK;
    if (!h->standby_valid || h->standby_half != h->to_half) {
        if (mmap(h->standby, h->span, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, h->memfd,
                 (off_t)((uint64_t)h->to_half * h->cap)) == MAP_FAILED)
            return agc_fail(AGC_ESYS, "mapping the next to-space failed: %s", strerror(errno));
        h->standby_valid = 1;
        h->standby_half = h->to_half;
        h->zapped_upto = h->cap;     /* a fresh mapping has no entries at all */
        return AGC_OK;
    }
    if (zap_len && madvise(h->standby, zap_len, MADV_DONTNEED) != 0)
        return agc_fail(AGC_ESYS, "dropping to-space page tables failed: %s", strerror(errno));
    h->zapped_upto = zap_len;
    return AGC_OK;
}

/* Right before the flip's stop (outside pauses): drop the standby's entries
 * up to `upto` too, so that what was allocated since the preparation is not
 * left for the flip to drop. */
int agc_standby_zap_to(agc_heap *h, uint64_t upto)
{
    if (h->anon || !h->standby_valid || h->standby_half != h->to_half)
        return AGC_OK;
    upto = upto > h->cap ? h->cap : (upto + AGC_PAGE - 1) & ~(AGC_PAGE - 1);
    if (upto <= h->zapped_upto)
        return AGC_OK;
    if (madvise(h->standby + h->zapped_upto, upto - h->zapped_upto, MADV_DONTNEED) != 0)
        return agc_fail(AGC_ESYS, "dropping to-space page tables failed: %s", strerror(errno));
    h->zapped_upto = upto;
    return AGC_OK;
}

/* The flip's remap (world stopped): the primary range now shows to-space.
 * Page tables move with mremap (cheap at 1 GiB alignment); must_zap bytes at
 * the start of to-space lose their entries so that touching them faults. */
int agc_map_tospace(agc_heap *h, uint64_t must_zap)
{
    /* must_zap: to-space bytes that need faults; the standby lacks entries
     * below zapped_upto already */
    if (h->anon) {
        void *r = mremap(h->primary, h->cap, h->cap,
                         MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, h->fromspace);
        if (r == MAP_FAILED)
            return agc_fail(AGC_ESYS, "flip: mremap(DONTUNMAP) of the heap failed: %s", strerror(errno));
        return AGC_OK;
    }
    void *r = move_mapping(h->primary, h->fromspace, h->span);
    if (r == MAP_FAILED)
        return agc_fail(AGC_ESYS, "flip: mremap of the heap failed: %s", strerror(errno));
    if (h->standby_valid && h->standby_half == h->to_half) {
        r = move_mapping(h->standby, h->primary, h->span);
        if (r == MAP_FAILED)
            return agc_fail(AGC_ESYS, "flip: mremap of to-space failed: %s", strerror(errno));
        h->standby_valid = 0;
        reserve_again(h->standby, h->span);
        if (must_zap > h->zapped_upto &&
            madvise(h->primary + h->zapped_upto, must_zap - h->zapped_upto, MADV_DONTNEED) != 0)
            return agc_fail(AGC_ESYS, "flip: dropping to-space page tables failed: %s", strerror(errno));
        return AGC_OK;
    }
    if (mmap(h->primary, h->span, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, h->memfd,
             (off_t)((uint64_t)h->to_half * h->cap)) == MAP_FAILED)
        return agc_fail(AGC_ESYS, "flip: mapping to-space failed: %s", strerror(errno));
    return AGC_OK;
}

/* After compaction (outside any pause): the old primary, now at F, either
 * becomes the standby of the next cycle (its half is the next to-space; its
 * page tables are kept) or is dropped. */
void agc_release_fromspace(agc_heap *h, int keep)
{
    if (keep && !h->anon) {
        void *r = move_mapping(h->fromspace, h->standby, h->span);
        if (r != MAP_FAILED) {
            h->standby_valid = 1;
            h->standby_half = 1 - h->live_half;
            reserve_again(h->fromspace, h->span);
            return;
        }
    }
    reserve_again(h->fromspace, h->span);
}

uint64_t agc_heap_used(agc_heap *h) { return __atomic_load_n(&h->top, __ATOMIC_RELAXED); }
uint64_t agc_heap_capacity(agc_heap *h) { return h->cap; }
uintptr_t agc_heap_primary(agc_heap *h) { return (uintptr_t)h->primary; }
uintptr_t agc_heap_alias(agc_heap *h) { return (uintptr_t)h->alias; }
int agc_heap_memfd(agc_heap *h) { return h->memfd; }
int agc_heap_live_half(agc_heap *h) { return h->live_half; }
