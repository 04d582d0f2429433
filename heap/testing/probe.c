/* artgc probe: the physical floor of this machine, measured in C.
 *
 * Every figure is a median over many pages (one sample per page), taken by a
 * worker thread pinned to one CPU; with handler-thread delivery the handler
 * is pinned to another CPU when there are two (the case that matters: a
 * mutator on one core, the GC on the other). Fault figures are round trips
 * as the faulting thread sees them: a timestamp before the access and after
 * it returns. The resolvers do nothing but the one ioctl, so the figures are
 * the kernel's cost plus the delivery (signal frame or poll/read wake-up). */
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

#include "probe.h"
#include "uffd.h"
#include "fault.h"
#include "uffd_sys.h"
#include "clock.h"
#include "error.h"
#include "heap_api.h"

#define PAGE AGC_UFFD_PAGE
#define MiB (1ull << 20)
#define GiB (1ull << 30)

static void set_reason(char *dst, size_t n, const char *fmt, const char *arg)
{
    if (dst[0])
        return;                          /* keep the first reason */
    snprintf(dst, n, fmt, arg);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double median_us(uint64_t *ns, uint64_t n)
{
    if (n == 0)
        return -1;
    qsort(ns, n, sizeof *ns, cmp_u64);
    double m = n % 2 ? (double)ns[n / 2] : 0.5 * ((double)ns[n / 2 - 1] + (double)ns[n / 2]);
    return m / 1000.0;
}

static inline void barrier(void)
{
    __asm__ __volatile__("" ::: "memory");
}

static int pin_self(int cpu)
{
    if (cpu < 0)
        return 0;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

/* Another thread of the process spinning on `cpu` while a figure is
 * measured: a mutator on the other CPU, which UFFDIO_MOVE's TLB flush must
 * reach (an IPI) and UFFDIO_COPY's new entry need not. */
typedef struct busy_thread {
    pthread_t th;
    int cpu, started;
    volatile int stop;
    volatile uint64_t spins;
} busy_thread;

static void *busy_main(void *arg)
{
    busy_thread *b = arg;
    pin_self(b->cpu);
    while (!b->stop)
        b->spins++;
    return NULL;
}

static void busy_start(busy_thread *b, int cpu)
{
    b->cpu = cpu;
    b->stop = 0;
    b->spins = 0;
    b->started = cpu >= 0 && pthread_create(&b->th, NULL, busy_main, b) == 0;
    while (b->started && b->spins == 0)
        sched_yield();              /* running before the first sample */
}

static void busy_stop(busy_thread *b)
{
    b->stop = 1;
    if (b->started)
        pthread_join(b->th, NULL);
    b->started = 0;
}

/* ---- memcpy -------------------------------------------------------------- */

static double measure_memcpy(size_t size, int reps)
{
    uint8_t *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint8_t *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double best = -1;
    if (a != MAP_FAILED && b != MAP_FAILED) {
        memset(a, 0x5a, size);
        memset(b, 0xa5, size);
        for (int r = 0; r < reps; r++) {
            uint64_t t0 = agc_now_ns();
            memcpy(b, a, size);
            barrier();
            uint64_t dt = agc_now_ns() - t0;
            double gbps = (double)size / (double)(dt ? dt : 1);  /* bytes/ns = GB/s */
            if (gbps > best)
                best = gbps;
        }
        if (((volatile uint8_t *)b)[size - 1] != 0x5a)
            best = -1;
    }
    if (a != MAP_FAILED)
        munmap(a, size);
    if (b != MAP_FAILED)
        munmap(b, size);
    return best;
}

/* ---- faults resolved by SIGBUS or by a handler thread -------------------- */

enum { FB_CONTINUE = 0, FB_COPY = 1 };

typedef struct fb_ctx {
    int uffd, method;
    uint8_t *src;                /* COPY source page */
    _Atomic uint64_t resolved;
} fb_ctx;

static int fb_resolve(void *vctx, void *addr, int kind, uint64_t t, uint32_t tid, int in_signal)
{
    fb_ctx *c = vctx;
    void *page = (void *)((uintptr_t)addr & ~(uintptr_t)(PAGE - 1));
    int rc = c->method == FB_CONTINUE ? agc_uffd_continue(c->uffd, page, PAGE, in_signal)
                                      : agc_uffd_copy(c->uffd, page, c->src, PAGE, in_signal);
    if (rc < 0)
        return -1;
    atomic_fetch_add_explicit(&c->resolved, 1, memory_order_relaxed);
    return 0;
}

/* A memfd of npages, mapped at *primary, populated in the page cache if
 * populate, registered with a fresh uffd with the wanted features. */
typedef struct region {
    int memfd, uffd;
    uint8_t *primary;
    size_t size;
} region;

static void region_close(region *r)
{
    if (r->uffd >= 0) {
        if (r->primary)
            agc_uffd_unregister(r->uffd, r->primary, r->size);
        close(r->uffd);
    }
    if (r->primary)
        munmap(r->primary, r->size);
    if (r->memfd >= 0)
        close(r->memfd);
    memset(r, 0, sizeof *r);
    r->memfd = r->uffd = -1;
}

static int region_open(region *r, uint64_t npages, int anon, int populate, unsigned want,
                       int regmode, char *reason, size_t rn)
{
    memset(r, 0, sizeof *r);
    r->memfd = r->uffd = -1;
    r->size = npages * PAGE;
    if (anon) {
        r->primary = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
    } else {
        r->memfd = memfd_create("artgc-probe", MFD_CLOEXEC);
        if (r->memfd < 0 || ftruncate(r->memfd, (off_t)r->size) != 0 ||
            (populate && fallocate(r->memfd, 0, 0, (off_t)r->size) != 0)) {
            set_reason(reason, rn, "memfd setup failed: %s", strerror(errno));
            region_close(r);
            return -1;
        }
        r->primary = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
    }
    if (r->primary == MAP_FAILED) {
        r->primary = NULL;
        set_reason(reason, rn, "mmap failed: %s", strerror(errno));
        region_close(r);
        return -1;
    }
    madvise(r->primary, r->size, MADV_NOHUGEPAGE);
    r->uffd = agc_uffd_open(want);
    if (r->uffd < 0 || agc_uffd_register(r->uffd, r->primary, r->size, regmode) != 0) {
        set_reason(reason, rn, "%s", agc_last_error());
        region_close(r);
        return -1;
    }
    return 0;
}

/* Median fault round trip, or -1 with reason. handler_cpu < 0: no pinning. */
static double measure_fault(int method, int delivery, uint64_t npages, int handler_cpu,
                            char *reason, size_t rn)
{
    unsigned want = method == FB_CONTINUE ? AGC_UFFD_WANT_MINOR_SHMEM : AGC_UFFD_WANT_MISSING_SHMEM;
    if (delivery == 0)
        want |= AGC_UFFD_WANT_SIGBUS;
    region r;
    if (region_open(&r, npages, 0, method == FB_CONTINUE, want,
                    method == FB_CONTINUE ? AGC_UFFD_REG_MINOR : AGC_UFFD_REG_MISSING, reason,
                    rn) != 0)
        return -1;
    fb_ctx c = {.uffd = r.uffd, .method = method, .src = NULL, .resolved = 0};
    uint64_t *ns = malloc(npages * sizeof *ns);
    c.src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double res = -1;
    int slot = -1;
    agc_fault_thread *ft = NULL;
    if (!ns || c.src == MAP_FAILED) {
        set_reason(reason, rn, "%s", "out of memory");
        goto out;
    }
    memset(c.src, 0x3c, PAGE);
    if (delivery == 0) {
        if (agc_sigbus_install() != 0 ||
            (slot = agc_sigbus_add_range(r.primary, r.size, fb_resolve, &c)) < 0) {
            set_reason(reason, rn, "%s", agc_last_error());
            goto out;
        }
    } else {
        ft = agc_fault_thread_start(r.uffd, fb_resolve, &c);
        if (!ft) {
            set_reason(reason, rn, "%s", agc_last_error());
            goto out;
        }
        if (handler_cpu >= 0)
            agc_fault_thread_pin(ft, handler_cpu);
    }
    uint64_t sum = 0;
    for (uint64_t i = 0; i < npages; i++) {
        const volatile uint8_t *p = r.primary + i * PAGE;
        uint64_t t0 = agc_now_ns();
        barrier();
        sum += *p;
        barrier();
        ns[i] = agc_now_ns() - t0;
    }
    uint8_t expect = method == FB_COPY ? 0x3c : 0;
    uint64_t handled = npages;
    if (ft) {
        /* Stop first: the woken faulting thread may run before the handler
         * counts its last fault. */
        agc_fault_thread_stop(ft);
        ft = NULL;
        handled = atomic_load(&c.resolved);
    }
    if (sum != (uint64_t)expect * npages)
        set_reason(reason, rn, "%s", "pages read back wrong after the fault");
    else if (handled < npages)
        set_reason(reason, rn, "%s", "the handler thread resolved fewer faults than pages");
    else
        res = median_us(ns, npages);
out:
    if (ft)
        agc_fault_thread_stop(ft);
    if (slot >= 0)
        agc_sigbus_remove_range(slot);
    if (c.src && c.src != MAP_FAILED)
        munmap(c.src, PAGE);
    free(ns);
    region_close(&r);
    return res;
}

/* ---- ioctls issued by a GC thread (nobody faulting) ----------------------- */

static double measure_continue_pages(uint64_t npages, int reps, double *range_per_page,
                                     char *reason, size_t rn)
{
    *range_per_page = -1;
    region r;
    if (region_open(&r, npages, 0, 1, AGC_UFFD_WANT_MINOR_SHMEM, AGC_UFFD_REG_MINOR, reason,
                    rn) != 0)
        return -1;
    uint64_t *ns = malloc(npages * sizeof *ns);
    uint64_t *rr = malloc((size_t)reps * sizeof *rr);
    double res = -1;
    if (!ns || !rr) {
        set_reason(reason, rn, "%s", "out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < npages; i++) {
        uint64_t t0 = agc_now_ns();
        int rc = agc_uffd_continue(r.uffd, r.primary + i * PAGE, PAGE, 0);
        ns[i] = agc_now_ns() - t0;
        if (rc != 0) {
            set_reason(reason, rn, "UFFDIO_CONTINUE failed: %s", strerror(rc < 0 ? -rc : EEXIST));
            goto out;
        }
    }
    res = median_us(ns, npages);
    for (int k = 0; k < reps; k++) {
        /* Drop the page table entries (the page cache stays): unmapped again. */
        madvise(r.primary, r.size, MADV_DONTNEED);
        uint64_t t0 = agc_now_ns();
        int rc = agc_uffd_continue(r.uffd, r.primary, r.size, 0);
        rr[k] = agc_now_ns() - t0;
        if (rc != 0) {
            set_reason(reason, rn, "UFFDIO_CONTINUE over a range failed: %s",
                       strerror(rc < 0 ? -rc : EEXIST));
            goto out;
        }
    }
    *range_per_page = median_us(rr, (uint64_t)reps) / (double)npages;
out:
    free(ns);
    free(rr);
    region_close(&r);
    return res;
}

static double measure_copy_pages(uint64_t npages, int anon, int busy_cpu, char *reason, size_t rn)
{
    busy_thread bt = {0};
    region r;
    if (region_open(&r, npages, anon, 0, anon ? 0 : AGC_UFFD_WANT_MISSING_SHMEM,
                    AGC_UFFD_REG_MISSING, reason, rn) != 0)
        return -1;
    uint64_t *ns = malloc(npages * sizeof *ns);
    uint8_t *src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double res = -1;
    if (!ns || src == MAP_FAILED) {
        set_reason(reason, rn, "%s", "out of memory");
        goto out;
    }
    memset(src, 0x77, PAGE);
    busy_start(&bt, busy_cpu);
    for (uint64_t i = 0; i < npages; i++) {
        uint64_t t0 = agc_now_ns();
        int rc = agc_uffd_copy(r.uffd, r.primary + i * PAGE, src, PAGE, 0);
        ns[i] = agc_now_ns() - t0;
        if (rc != 0) {
            set_reason(reason, rn, "UFFDIO_COPY failed: %s", strerror(rc < 0 ? -rc : EEXIST));
            goto out;
        }
    }
    res = median_us(ns, npages);
out:
    busy_stop(&bt);
    free(ns);
    if (src != MAP_FAILED)
        munmap(src, PAGE);
    region_close(&r);
    return res;
}

static double measure_move_pages(uint64_t npages, int busy_cpu, char *reason, size_t rn)
{
    busy_thread bt = {0};
    region r;
    if (region_open(&r, npages, 1, 0, AGC_UFFD_WANT_MOVE, AGC_UFFD_REG_MISSING, reason, rn) != 0)
        return -1;
    size_t size = npages * PAGE;
    uint64_t *ns = malloc(npages * sizeof *ns);
    uint8_t *src = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    double res = -1;
    if (!ns || src == MAP_FAILED) {
        set_reason(reason, rn, "%s", "out of memory");
        goto out;
    }
    madvise(src, size, MADV_NOHUGEPAGE);
    for (uint64_t i = 0; i < npages; i++)
        src[i * PAGE] = (uint8_t)(i + 1);
    busy_start(&bt, busy_cpu);
    for (uint64_t i = 0; i < npages; i++) {
        uint64_t t0 = agc_now_ns();
        int rc = agc_uffd_move(r.uffd, r.primary + i * PAGE, src + i * PAGE, PAGE, 0);
        ns[i] = agc_now_ns() - t0;
        if (rc != 0) {
            set_reason(reason, rn, "UFFDIO_MOVE failed: %s", strerror(rc < 0 ? -rc : EEXIST));
            goto out;
        }
    }
    if (r.primary[(npages - 1) * PAGE] != (uint8_t)npages)
        set_reason(reason, rn, "%s", "UFFDIO_MOVE moved the wrong bytes");
    else
        res = median_us(ns, npages);
out:
    busy_stop(&bt);
    free(ns);
    if (src != MAP_FAILED)
        munmap(src, size);
    region_close(&r);
    return res;
}

/* ---- mremap of a populated memfd mapping ---------------------------------- */

/* Moves `size` populated bytes of a memfd mapping back and forth between two
 * addresses aligned to 1 GiB (2*reps moves), then between two addresses only
 * 2 MiB aligned; medians in ms. The population (page tables) moves along, so
 * the memfd is populated only once. */
static double measure_mremap(size_t size, int reps, double *ms_2m, char *reason, size_t rn)
{
    *ms_2m = -1;
    size_t span = (size + 2 * MiB + GiB - 1) / GiB * GiB;
    size_t resv_len = 2 * span + GiB;
    uint8_t *resv = mmap(NULL, resv_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                         -1, 0);
    if (resv == MAP_FAILED) {
        set_reason(reason, rn, "cannot reserve address space: %s", strerror(errno));
        return -1;
    }
    uint8_t *a = (uint8_t *)(((uintptr_t)resv + GiB - 1) & ~(uintptr_t)(GiB - 1));
    uint8_t *b = a + span;
    double res = -1;
    uint64_t *ns = malloc(4 * (size_t)reps * sizeof *ns);
    int fd = memfd_create("artgc-probe-mremap", MFD_CLOEXEC);
    if (!ns || fd < 0 || ftruncate(fd, (off_t)size) != 0 ||
        fallocate(fd, 0, 0, (off_t)size) != 0) {
        set_reason(reason, rn, "memfd setup failed: %s", strerror(errno));
        goto out;
    }
    if (mmap(a, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0) ==
        MAP_FAILED) {
        set_reason(reason, rn, "mmap failed: %s", strerror(errno));
        goto out;
    }
    /* Moves 0..2reps-1: a <-> b. Then a -> b+2M, and b+2M <-> a+2M. */
    uint8_t *from = a;
    for (int k = 0; k < 4 * reps; k++) {
        uint8_t *to;
        if (k < 2 * reps)
            to = from == a ? b : a;
        else
            to = (from == b + 2 * MiB) ? a + 2 * MiB : b + 2 * MiB;
        uint64_t t0 = agc_now_ns();
        void *m = mremap(from, size, size, MREMAP_MAYMOVE | MREMAP_FIXED, to);
        ns[k] = agc_now_ns() - t0;
        if (m == MAP_FAILED) {
            set_reason(reason, rn, "mremap failed: %s", strerror(errno));
            goto out;
        }
        /* Fill the hole with reservation again (not timed). */
        mmap(from, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
             0);
        from = to;
    }
    res = median_us(ns, 2 * (uint64_t)reps) / 1000.0;
    *ms_2m = median_us(ns + 2 * reps, 2 * (uint64_t)reps) / 1000.0;
out:
    free(ns);
    if (fd >= 0)
        close(fd);
    munmap(resv, resv_len);          /* also unmaps the moved mapping inside it */
    return res;
}

static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[128];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024ull;
}

/* ---- driver ----------------------------------------------------------------- */

typedef struct job {
    agc_probe_limits *out;
    agc_probe_extras *ex;
    uint64_t pages;
    int quick;
    int fault_cpu, handler_cpu;
} job;

#define R(field) field, sizeof field

static void *probe_main(void *arg)
{
    job *j = arg;
    agc_probe_limits *o = j->out;
    agc_probe_extras *x = j->ex;
    pin_self(j->fault_cpu);

    size_t mc = j->quick ? 64 * MiB : 256 * MiB;
    x->memcpy_mib = (double)(mc / MiB);
    o->memcpy_gbps = measure_memcpy(mc, j->quick ? 4 : 8);

    agc_uffd_caps caps;
    agc_uffd_caps_get(&caps);
    uint64_t n = j->pages;
    if (!caps.available) {
        const char *why = caps.disabled_by_env
                              ? "userfaultfd is disabled by ARTGC_DISABLE_UFFD=1 (see uffd.reason)"
                              : "userfaultfd is not available on this machine (see uffd.reason)";
        set_reason(R(o->minor_reason), "%s", why);
        set_reason(R(o->missing_reason), "%s", why);
        set_reason(R(o->move_reason), "%s", why);
        set_reason(R(x->sigbus_reason), "%s", why);
    } else {
        if (!caps.minor_shmem)
            set_reason(R(o->minor_reason), "%s",
                       "the kernel does not offer UFFD_FEATURE_MINOR_SHMEM (Linux >= 5.14)");
        if (!caps.missing_shmem)
            set_reason(R(o->missing_reason), "%s",
                       "the kernel does not offer UFFD_FEATURE_MISSING_SHMEM (Linux >= 4.11)");
        if (!caps.move)
            set_reason(R(o->move_reason), "%s",
                       "the kernel does not offer UFFD_FEATURE_MOVE / UFFDIO_MOVE (Linux >= 6.8)");
        if (!caps.sigbus)
            set_reason(R(x->sigbus_reason), "%s",
                       "the kernel does not offer UFFD_FEATURE_SIGBUS (Linux >= 4.14)");
    }
    int sig_ok = !x->sigbus_reason[0];

    if (!o->minor_reason[0]) {
        if (sig_ok)
            o->minor_continue_sigbus_us = measure_fault(FB_CONTINUE, 0, n, -1, R(o->minor_reason));
        if (!o->minor_reason[0])
            o->minor_continue_thread_us =
                measure_fault(FB_CONTINUE, 1, n, j->handler_cpu, R(o->minor_reason));
        if (!o->minor_reason[0] && j->handler_cpu != j->fault_cpu)
            x->minor_continue_thread_samecore_us =
                measure_fault(FB_CONTINUE, 1, n, j->fault_cpu, R(o->minor_reason));
        if (!o->minor_reason[0])
            o->continue_per_page_us = measure_continue_pages(
                n, j->quick ? 3 : 7, &o->continue_range_per_page_us, R(o->minor_reason));
    }
    if (!o->missing_reason[0]) {
        if (sig_ok)
            o->missing_copy_sigbus_us = measure_fault(FB_COPY, 0, n, -1, R(o->missing_reason));
        if (!o->missing_reason[0])
            o->missing_copy_thread_us =
                measure_fault(FB_COPY, 1, n, j->handler_cpu, R(o->missing_reason));
        if (!o->missing_reason[0] && j->handler_cpu != j->fault_cpu)
            x->missing_copy_thread_samecore_us =
                measure_fault(FB_COPY, 1, n, j->fault_cpu, R(o->missing_reason));
        if (!o->missing_reason[0])
            o->copy_per_page_us = measure_copy_pages(n, 0, -1, R(o->missing_reason));
    }
    if (caps.available) {
        char why[160] = "";
        x->copy_anon_per_page_us = measure_copy_pages(n, 1, -1, R(why));
        if (why[0])
            snprintf(x->copy_anon_reason, sizeof x->copy_anon_reason, "%s", why);
        else if (j->handler_cpu != j->fault_cpu)
            x->copy_anon_busy_per_page_us = measure_copy_pages(n, 1, j->handler_cpu, R(x->busy_reason));
    } else {
        snprintf(x->copy_anon_reason, sizeof x->copy_anon_reason, "%s", o->missing_reason);
    }
    if (!o->move_reason[0])
        o->move_per_page_us = measure_move_pages(n, -1, R(o->move_reason));
    if (!o->move_reason[0] && j->handler_cpu != j->fault_cpu && !x->busy_reason[0])
        x->move_busy_per_page_us = measure_move_pages(n, j->handler_cpu, R(x->busy_reason));

    /* mremap needs no userfaultfd. 1 GiB when memory allows (what the
     * architecture's flip moves, and the only size at which whole page-table
     * levels move), less in quick mode or when memory is short. */
    size_t msize = j->quick ? 64 * MiB : mem_available() > 4 * GiB ? GiB : 256 * MiB;
    x->mremap_populated_mib = (double)(msize / MiB);
    o->mremap_1g_aligned_ms =
        measure_mremap(msize, j->quick ? 3 : 5, &x->mremap_2m_aligned_ms, R(o->mremap_reason));
    return NULL;
}

int agc_probe_measure_ex(agc_probe_limits *out, agc_probe_extras *ex, uint64_t pages, int quick)
{
    agc_probe_extras local;
    if (!ex)
        ex = &local;
    memset(out, 0, sizeof *out);
    memset(ex, 0, sizeof *ex);
    double *figs[] = {&out->memcpy_gbps, &out->minor_continue_sigbus_us,
                      &out->minor_continue_thread_us, &out->missing_copy_sigbus_us,
                      &out->missing_copy_thread_us, &out->continue_per_page_us,
                      &out->continue_range_per_page_us, &out->copy_per_page_us,
                      &out->move_per_page_us, &out->mremap_1g_aligned_ms,
                      &ex->minor_continue_thread_samecore_us,
                      &ex->missing_copy_thread_samecore_us, &ex->copy_anon_per_page_us,
                      &ex->copy_anon_busy_per_page_us, &ex->move_busy_per_page_us,
                      &ex->mremap_2m_aligned_ms};
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++)
        *figs[i] = -1;
    if (pages == 0)
        pages = quick ? 256 : 2048;
    if (pages > (1u << 18))
        return agc_fail(AGC_EINVAL, "probe: at most 262144 pages per measurement (got %llu)",
                        (unsigned long long)pages);
    ex->pages = pages;

    /* Two CPUs we may run on: faulting thread on the first, handler on the second. */
    cpu_set_t set;
    int cpus[2] = {-1, -1}, ncpu = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
            if (CPU_ISSET(c, &set))
                cpus[ncpu++] = c;
    job j = {.out = out, .ex = ex, .pages = pages, .quick = quick,
             .fault_cpu = cpus[0], .handler_cpu = ncpu >= 2 ? cpus[1] : cpus[0]};
    ex->fault_cpu = j.fault_cpu;
    ex->handler_cpu = j.handler_cpu;
    if (j.handler_cpu == j.fault_cpu)
        snprintf(ex->samecore_reason, sizeof ex->samecore_reason,
                 "only one CPU available: the thread figures are already same-core");
    if (j.handler_cpu == j.fault_cpu)
        snprintf(ex->busy_reason, sizeof ex->busy_reason,
                 "only one CPU available: no other CPU to run a second thread on");

    pthread_t th;
    int rc = pthread_create(&th, NULL, probe_main, &j);
    if (rc != 0)
        return agc_fail(AGC_ESYS, "probe: cannot start the measuring thread: %s", strerror(rc));
    pthread_join(th, NULL);
    return AGC_OK;
}

int agc_probe_limits_measure(agc_probe_limits *out, uint64_t pages, int quick)
{
    return agc_probe_measure_ex(out, NULL, pages, quick);
}
