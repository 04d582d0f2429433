/* agc_uffd_selftest (uffd.h): userfaultfd end to end, without the heap.
 *
 * A registered range ("primary") that nthreads threads read page by page;
 * every fault is resolved by building the page's pattern somewhere else and
 * installing it: CONTINUE (memfd registered MINOR, pattern written through an
 * alias mapping of the same memfd), COPY (memfd registered MISSING, pattern
 * built in a scratch page and copied), MOVE (anonymous private memory
 * registered MISSING, pattern built in a scratch page that is moved in).
 *
 * UFFDIO_MOVE and shmem: the kernel's move_pages() accepts only private
 * anonymous VMAs on both sides (validate_move_areas: !VM_SHARED and
 * vma_is_anonymous for source and destination). On this kernel (6.18) a MOVE
 * whose destination is a MISSING-registered memfd (MAP_SHARED) mapping fails
 * with EINVAL, and so does a memfd source; tests/test_uffd.py checks this.
 * So artgc's move mode needs an anonymous primary, not the memfd halves. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uffd.h"
#include "fault.h"
#include "uffd_sys.h"
#include "error.h"
#include "heap_api.h"

#define PAGE AGC_UFFD_PAGE
#define WORDS (PAGE / 8)

enum { M_CONTINUE = 0, M_COPY = 1, M_MOVE = 2 };

typedef struct st_ctx {
    int method, delivery, uffd;
    uint8_t *primary;          /* registered */
    uint8_t *other;            /* CONTINUE: the alias; COPY/MOVE: scratch pages */
    uint64_t npages, seed;
    _Atomic uint8_t *state;    /* 0 unbuilt, 1 building, 2 installed */
    _Atomic uint64_t faults;
    _Atomic int err;           /* first errno of a failed install */
    _Atomic int wrong_kind;
} st_ctx;

static inline uint64_t pattern(uint64_t seed, uint64_t page, uint64_t word)
{
    uint64_t z = seed + page * 0x9E3779B97F4A7C15ull + word * 0xBF58476D1CE4E5B9ull + 1;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill(uint64_t *w, uint64_t seed, uint64_t page)
{
    for (uint64_t i = 0; i < WORDS; i++)
        w[i] = pattern(seed, page, i);
}

static int install(st_ctx *c, uint64_t p, int dontwake)
{
    uint8_t *dst = c->primary + p * PAGE, *src = c->other + p * PAGE;
    fill((uint64_t *)src, c->seed, p);
    switch (c->method) {
    case M_CONTINUE: return agc_uffd_continue(c->uffd, dst, PAGE, dontwake);
    case M_COPY: return agc_uffd_copy(c->uffd, dst, src, PAGE, dontwake);
    default: return agc_uffd_move(c->uffd, dst, src, PAGE, dontwake);
    }
}

/* Async-signal-safe when in_signal: atomics, ioctls and sched_yield only. */
static int st_resolve(void *vctx, void *addr, int kind, uint64_t t_fault_ns, uint32_t tid,
                      int in_signal)
{
    st_ctx *c = vctx;
    uintptr_t a = (uintptr_t)addr, lo = (uintptr_t)c->primary;
    if (a < lo || a >= lo + c->npages * PAGE)
        return -1;
    uint64_t p = (a - lo) / PAGE;
    if (!in_signal) {
        int want = c->method == M_CONTINUE ? AGC_FAULT_MINOR : AGC_FAULT_MISSING;
        if (kind != want)
            atomic_store(&c->wrong_kind, 1);
    }
    int dontwake = in_signal;            /* nobody waits on a SIGBUS fault */
    uint8_t expect = 0;
    if (atomic_compare_exchange_strong(&c->state[p], &expect, 1)) {
        int rc = install(c, p, dontwake);
        if (rc < 0) {
            int zero = 0;
            atomic_compare_exchange_strong(&c->err, &zero, -rc);
            /* Keep the reader going (it will see wrong bytes and report);
             * a failed resolution would otherwise kill the process. */
            if (c->method == M_CONTINUE)
                rc = agc_uffd_continue(c->uffd, c->primary + p * PAGE, PAGE, dontwake);
            else
                rc = agc_uffd_zeropage(c->uffd, c->primary + p * PAGE, PAGE, dontwake);
            if (rc < 0) {
                atomic_store(&c->state[p], 0);
                return -1;
            }
        }
        atomic_store_explicit(&c->state[p], 2, memory_order_release);
    } else {
        for (unsigned spins = 0;
             atomic_load_explicit(&c->state[p], memory_order_acquire) != 2; spins++)
            if (spins > 100)
                sched_yield();
        if (!in_signal)
            agc_uffd_wake(c->uffd, c->primary + p * PAGE, PAGE);
    }
    atomic_fetch_add(&c->faults, 1);
    return 0;
}

typedef struct reader {
    pthread_t th;
    st_ctx *c;
    int index, nthreads;
    uint64_t bad_page, bad_word, got, want;
    int bad;
} reader;

static void *reader_main(void *arg)
{
    reader *r = arg;
    st_ctx *c = r->c;
    uint64_t start = c->npages * (uint64_t)r->index / (uint64_t)r->nthreads;
    for (uint64_t k = 0; k < c->npages && !r->bad; k++) {
        uint64_t p = (start + k) % c->npages;
        const volatile uint64_t *w = (const volatile uint64_t *)(c->primary + p * PAGE);
        for (uint64_t i = 0; i < WORDS; i++) {
            uint64_t v = w[i], e = pattern(c->seed, p, i);
            if (v != e) {
                r->bad = 1;
                r->bad_page = p;
                r->bad_word = i;
                r->got = v;
                r->want = e;
                break;
            }
        }
    }
    return NULL;
}

static const char *method_name(int m)
{
    return m == M_CONTINUE ? "CONTINUE" : m == M_COPY ? "COPY" : "MOVE";
}

int agc_uffd_selftest(int method, int delivery, int nthreads, uint64_t npages, uint64_t seed,
                      uint64_t *faults_out)
{
    if (faults_out)
        *faults_out = 0;
    if (method < 0 || method > 2 || delivery < 0 || delivery > 1)
        return agc_fail(-1, "selftest: method must be 0 (CONTINUE), 1 (COPY) or 2 (MOVE) and "
                        "delivery 0 (sigbus) or 1 (thread); got %d, %d", method, delivery);
    if (nthreads < 1 || nthreads > 64 || npages < 1 || npages > (1u << 18))
        return agc_fail(-1, "selftest: need 1..64 threads and 1..262144 pages; got %d, %llu",
                        nthreads, (unsigned long long)npages);

    agc_uffd_caps caps;
    agc_uffd_caps_get(&caps);
    unsigned want = method == M_CONTINUE ? AGC_UFFD_WANT_MINOR_SHMEM
                    : method == M_COPY   ? AGC_UFFD_WANT_MISSING_SHMEM
                                         : AGC_UFFD_WANT_MOVE;
    if (delivery == 0)
        want |= AGC_UFFD_WANT_SIGBUS;
    else if (caps.thread_id)
        want |= AGC_UFFD_WANT_THREAD_ID;

    st_ctx c;
    memset(&c, 0, sizeof c);
    c.method = method;
    c.delivery = delivery;
    c.npages = npages;
    c.seed = seed;
    c.uffd = -1;
    size_t size = npages * PAGE;
    int memfd = -1, slot = -1, rc = -1;
    agc_fault_thread *ft = NULL;
    reader *readers = NULL;
    c.primary = c.other = MAP_FAILED;

    c.uffd = agc_uffd_open(want);
    if (c.uffd < 0)
        return -1;                      /* message set, names the feature */
    c.state = calloc(npages, 1);
    readers = calloc((size_t)nthreads, sizeof *readers);
    if (!c.state || !readers) {
        agc_fail(-1, "selftest: out of memory");
        goto out;
    }
    if (method == M_MOVE) {
        c.primary = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    } else {
        memfd = memfd_create("artgc-selftest", MFD_CLOEXEC);
        if (memfd < 0 || ftruncate(memfd, (off_t)size) != 0) {
            agc_fail(-1, "selftest: memfd of %zu bytes: %s", size, strerror(errno));
            goto out;
        }
        /* Minor faults need the pages in the page cache first. */
        if (method == M_CONTINUE && fallocate(memfd, 0, 0, (off_t)size) != 0) {
            agc_fail(-1, "selftest: fallocate of the memfd: %s", strerror(errno));
            goto out;
        }
        c.primary = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    }
    if (method == M_CONTINUE)
        c.other = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    else
        c.other = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c.primary == MAP_FAILED || c.other == MAP_FAILED) {
        agc_fail(-1, "selftest: mmap of %zu bytes: %s", size, strerror(errno));
        goto out;
    }
    if (method == M_MOVE) {
        /* 4 KiB pages on both sides: a MOVE of part of a THP splits it. */
        madvise(c.primary, size, MADV_NOHUGEPAGE);
        madvise(c.other, size, MADV_NOHUGEPAGE);
    }
    if (agc_uffd_register(c.uffd, c.primary, size,
                          method == M_CONTINUE ? AGC_UFFD_REG_MINOR : AGC_UFFD_REG_MISSING) != 0)
        goto out;                       /* message set */

    if (delivery == 0) {
        if (agc_sigbus_install() != 0)
            goto out_unreg;
        slot = agc_sigbus_add_range(c.primary, size, st_resolve, &c);
        if (slot < 0)
            goto out_unreg;
        agc_sigbus_set_kind(slot, method == M_CONTINUE ? AGC_FAULT_MINOR : AGC_FAULT_MISSING);
    } else {
        ft = agc_fault_thread_start(c.uffd, st_resolve, &c);
        if (!ft)
            goto out_unreg;
    }

    int started = 0;
    for (int i = 0; i < nthreads; i++) {
        readers[i].c = &c;
        readers[i].index = i;
        readers[i].nthreads = nthreads;
        if (pthread_create(&readers[i].th, NULL, reader_main, &readers[i]) != 0)
            break;
        started++;
    }
    for (int i = 0; i < started; i++)
        pthread_join(readers[i].th, NULL);

    if (started < nthreads) {
        agc_fail(-1, "selftest: could only start %d of %d threads", started, nthreads);
    } else if (atomic_load(&c.err)) {
        agc_fail(-1, "selftest: UFFDIO_%s failed: %s", method_name(method),
                 strerror(atomic_load(&c.err)));
    } else if (atomic_load(&c.wrong_kind)) {
        agc_fail(-1, "selftest: the handler thread got a %s fault message, expected %s",
                 method == M_CONTINUE ? "missing" : "minor",
                 method == M_CONTINUE ? "minor" : "missing");
    } else if (ft && !agc_fault_thread_alive(ft)) {
        agc_fail(-1, "selftest: the handler thread died");
    } else {
        rc = 0;
        for (int i = 0; i < nthreads; i++) {
            if (readers[i].bad) {
                agc_fail(-1, "selftest (%s, %s): thread %d read 0x%016llx at page %llu word "
                         "%llu, expected 0x%016llx",
                         method_name(method), delivery ? "thread" : "sigbus", i,
                         (unsigned long long)readers[i].got,
                         (unsigned long long)readers[i].bad_page,
                         (unsigned long long)readers[i].bad_word,
                         (unsigned long long)readers[i].want);
                rc = -1;
                break;
            }
        }
        if (rc == 0 && atomic_load(&c.faults) < npages) {
            agc_fail(-1, "selftest: only %llu faults for %llu pages: pages were mapped without "
                     "a fault",
                     (unsigned long long)atomic_load(&c.faults), (unsigned long long)npages);
            rc = -1;
        }
    }
    if (faults_out)
        *faults_out = atomic_load(&c.faults);

    if (ft)
        agc_fault_thread_stop(ft);
    if (slot >= 0)
        agc_sigbus_remove_range(slot);
out_unreg:
    agc_uffd_unregister(c.uffd, c.primary, size);
out:
    if (c.primary != MAP_FAILED)
        munmap(c.primary, size);
    if (c.other != MAP_FAILED)
        munmap(c.other, size);
    if (memfd >= 0)
        close(memfd);
    if (c.uffd >= 0)
        close(c.uffd);
    free((void *)c.state);
    free(readers);
    return rc;
}
