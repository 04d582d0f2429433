/* The mutator's fast paths, measured (fastpath.h).
 *
 * One thread, a stw heap big enough that no cycle runs while measuring,
 * pretouch off (so "fresh" means fresh: no GC thread maps pages ahead).
 * Each figure is a loop of `ops` operations timed as a whole, divided by
 * `ops`; the median over `reps` repetitions, each on a heap of its own.
 * The reference is what the same operation costs without a collector: a
 * bump allocator that zeroes in TLAB-sized chunks as artgc's does and writes
 * the same header, and plain loads and stores. The marking barrier is timed
 * with this heap's marking flag raised by hand (no marker runs), so it is
 * the mutator's side alone: the check and the logged old value; black
 * allocation (agc_alloc while marking) the same way. The workloads' own
 * inner loops are timed per node on a heap of their own: wl_make_tree (the
 * bottom-up build of binarytrees and gcbench, shadow stack included) and
 * wl_tree_count, next to the same build and count over plain pointers with
 * the plain bump allocator and the C stack only. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "internal.h"
#include "fastpath.h"
#include "../workloads/wl.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define OBJ_BYTES 32u              /* header, two references, 8 bytes of data */
#define SLOTS 1024u                /* reference slots stored into / loaded from */
#define NV 15                      /* figures per repetition */

static volatile uintptr_t sink;    /* keeps every loop's result alive */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, uint64_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void fail(agc_fastpath_result *out, const char *what)
{
    if (!out->reason[0])
        snprintf(out->reason, sizeof out->reason, "%s: %s", what, agc_last_error());
}

/* A plain bump allocator over [buf, buf+len): zero a TLAB-sized chunk when
 * the bump reaches it, write the header, return the object. */
static __attribute__((noinline)) double bump_loop(uint8_t *buf, uint64_t len, uint64_t ops)
{
    uint64_t cur = 0, end = 0;
    uintptr_t acc = 0;
    uint64_t t0 = agc_now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        if (__builtin_expect(cur + OBJ_BYTES > end, 0)) {
            uint64_t chunk = len - end < AGC_TLAB ? len - end : AGC_TLAB;
            if (chunk < OBJ_BYTES)
                break;
            cur = end;
            memset(buf + end, 0, chunk);
            end += chunk;
        }
        agc_header *o = (agc_header *)(buf + cur);
        cur += OBJ_BYTES;
        o->cls = AGC_FIRST_USER_CLASS;
        o->nwords = OBJ_BYTES / 8;
        acc ^= (uintptr_t)o;
    }
    uint64_t t1 = agc_now_ns();
    sink ^= acc;
    return (double)(t1 - t0) / (double)ops;
}

/* huge: the buffer gets the same page-size advice as an anon heap with
 * huge_pages (the reference of the anon columns) */
static double bump_once(uint64_t ops, int populate, int huge)
{
    uint64_t len = (ops * OBJ_BYTES + AGC_TLAB + AGC_PAGE - 1) & ~(uint64_t)(AGC_PAGE - 1);
    uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return -1;
    if (huge)
        madvise(buf, len, MADV_HUGEPAGE);
    if (populate && madvise(buf, len, MADV_POPULATE_WRITE) != 0)
        memset(buf, 0, len);
    double ns = bump_loop(buf, len, ops);
    munmap(buf, len);
    return ns;
}

static __attribute__((noinline)) double alloc_loop(agc_mutator *m, int cls, uint64_t ops)
{
    uintptr_t acc = 0;
    uint64_t t0 = agc_now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        void *o = agc_alloc(m, cls);
        if (__builtin_expect(!o, 0))
            return -1;
        acc ^= (uintptr_t)o;
    }
    uint64_t t1 = agc_now_ns();
    sink ^= acc;
    return (double)(t1 - t0) / (double)ops;
}

static __attribute__((noinline)) double store_loop(agc_mutator *m, void *arr, void *val, uint64_t ops)
{
    uint64_t t0 = agc_now_ns();
    for (uint64_t i = 0; i < ops; i++)
        agc_store_ref(m, arr, i & (SLOTS - 1), val);
    uint64_t t1 = agc_now_ns();
    return (double)(t1 - t0) / (double)ops;
}

static __attribute__((noinline)) double plain_store_loop(agc_word *slots, void *val, uint64_t ops)
{
    uint64_t t0 = agc_now_ns();
    for (uint64_t i = 0; i < ops; i++)
        __atomic_store_n(&slots[i & (SLOTS - 1)], (agc_word)val, __ATOMIC_RELAXED);
    uint64_t t1 = agc_now_ns();
    return (double)(t1 - t0) / (double)ops;
}

static __attribute__((noinline)) double load_loop(agc_mutator *m, void *arr, uint64_t ops)
{
    uintptr_t acc = 0;
    uint64_t t0 = agc_now_ns();
    for (uint64_t i = 0; i < ops; i++)
        acc += (uintptr_t)agc_load_ref(m, arr, i & (SLOTS - 1));
    uint64_t t1 = agc_now_ns();
    sink ^= acc;
    return (double)(t1 - t0) / (double)ops;
}

static __attribute__((noinline)) double push_pop_loop(agc_mutator *m, void *obj, uint64_t ops)
{
    uintptr_t acc = 0;
    uint64_t t0 = agc_now_ns();
    for (uint64_t i = 0; i < ops; i++) {
        acc += agc_push(m, obj);
        agc_pop(m, 1);
    }
    uint64_t t1 = agc_now_ns();
    sink ^= acc;
    return (double)(t1 - t0) / (double)ops;
}

static __attribute__((noinline)) double poll_loop(agc_mutator *m, uint64_t ops)
{
    uint64_t t0 = agc_now_ns();
    for (uint64_t i = 0; i < ops; i++)
        agc_poll(m);
    uint64_t t1 = agc_now_ns();
    return (double)(t1 - t0) / (double)ops;
}

/* A stw heap of `cap` bytes (rounded up to a MiB) that runs no cycle while
 * measuring; pretouch off, so nothing maps pages ahead but the caller */
static agc_heap *measuring_heap(agc_fastpath_result *out, int memory, int huge, uint64_t cap)
{
    agc_options o;
    agc_options_default(&o);
    o.capacity = (cap + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    o.mode = AGC_MODE_STW;
    o.memory = memory;
    o.trigger = 0.95;
    o.pretouch = 0;
    o.huge_pages = huge;
    agc_heap *h;
    if (agc_heap_create(&o, &h) != AGC_OK) {
        fail(out, "creating the heap");
        return NULL;
    }
    return h;
}

/* The calling thread attached to h, and the measured class (a header, two
 * references, the rest data: OBJ_BYTES) defined; NULL after a failure (the
 * thread is detached again) */
static agc_mutator *attach_with_class(agc_fastpath_result *out, agc_heap *h, const char *name, int *cls)
{
    agc_mutator *m = agc_attach(h);
    if (!m) {
        fail(out, "attaching");
        return NULL;
    }
    if (agc_define_class(h, name, 2, OBJ_BYTES - 24, cls) != AGC_OK) {
        fail(out, "defining the class");
        agc_detach(m);
        return NULL;
    }
    return m;
}

/* The plain bump allocator of bump_loop, for the plain tree */
typedef struct pbump {
    uint8_t *buf;
    uint64_t len, cur, end;
} pbump;

static agc_word *pbump_node(pbump *b)
{
    if (__builtin_expect(b->cur + OBJ_BYTES > b->end, 0)) {
        uint64_t chunk = b->len - b->end < AGC_TLAB ? b->len - b->end : AGC_TLAB;
        if (chunk < OBJ_BYTES)
            return NULL;
        b->cur = b->end;
        memset(b->buf + b->end, 0, chunk);
        b->end += chunk;
    }
    agc_header *o = (agc_header *)(b->buf + b->cur);
    b->cur += OBJ_BYTES;
    o->cls = AGC_FIRST_USER_CLASS;
    o->nwords = OBJ_BYTES / 8;
    return (agc_word *)o;
}

static __attribute__((noinline)) agc_word *plain_make(pbump *b, int depth)
{
    agc_word *l = NULL, *r = NULL;
    if (depth > 0) {
        l = plain_make(b, depth - 1);
        r = plain_make(b, depth - 1);
        if (!l || !r)
            return NULL;
    }
    agc_word *o = pbump_node(b);
    if (o) {
        o[1] = (agc_word)l;
        o[2] = (agc_word)r;
    }
    return o;
}

static __attribute__((noinline)) uint64_t plain_count(agc_word *t, agc_word **st)
{
    uint64_t n = 0, count = 0;
    st[n++] = t;
    while (n) {
        agc_word *o = st[--n];
        count++;
        agc_word *l = (agc_word *)o[1], *r = (agc_word *)o[2];
        if (!l || !r)
            continue;
        st[n++] = r;
        st[n++] = l;
    }
    return count;
}

/* The workloads' tree loops per node, and the plain ones, in v[0..3]: the
 * biggest full tree of at most `ops` nodes, on a stw heap twice its size
 * whose pages are mapped ahead (no cycle, no first touch). */
static int tree_rep(agc_fastpath_result *out, int memory, int huge, uint64_t ops, double v[4])
{
    int depth = 1;
    while ((4ull << depth) - 1 <= ops)
        depth++;
    uint64_t nodes = (2ull << depth) - 1, bytes = nodes * OBJ_BYTES;
    uint64_t cap = 2 * (bytes + 4 * AGC_TLAB + (2u << 20));
    agc_heap *h = measuring_heap(out, memory, huge, cap);
    if (!h)
        return -1;
    int rc = -1;
    wl_ctx c;
    memset(&c, 0, sizeof c);
    c.h = h;
    c.d = &wl_binarytrees;
    pthread_mutex_init(&c.err_mu, NULL);
    pthread_mutex_init(&c.bar.mu, NULL);
    pthread_cond_init(&c.bar.cv, NULL);
    int cls;
    agc_mutator *m = attach_with_class(out, h, "Node", &cls);
    if (!m)
        goto done;
    if (madvise(h->mem.primary, h->mem.cap, MADV_POPULATE_WRITE) != 0) {
        snprintf(out->reason, sizeof out->reason, "MADV_POPULATE_WRITE on the heap failed (Linux >= 5.14)");
        goto detach;
    }
    uint64_t t0 = agc_now_ns();
    void *t = wl_make_tree(&c, m, cls, depth);
    uint64_t t1 = agc_now_ns();
    if (!t) {
        snprintf(out->reason, sizeof out->reason, "building the tree: %.120s", c.err);
        goto detach;
    }
    size_t slot = agc_push(m, t);
    int bad = 0;
    uint64_t t2 = agc_now_ns();
    uint64_t n = wl_tree_count(m, agc_root(m, slot), &bad);
    uint64_t t3 = agc_now_ns();
    agc_pop(m, 1);
    if (bad || n != nodes) {
        snprintf(out->reason, sizeof out->reason, "the tree has %llu nodes, expected %llu",
                 (unsigned long long)n, (unsigned long long)nodes);
        goto detach;
    }
    v[0] = (double)(t1 - t0) / (double)nodes;
    v[1] = (double)(t3 - t2) / (double)nodes;

    pbump b = {0};
    b.len = (bytes + AGC_TLAB + AGC_PAGE - 1) & ~(uint64_t)(AGC_PAGE - 1);
    b.buf = mmap(NULL, b.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    agc_word **st = malloc(((size_t)depth + 2) * 2 * sizeof *st);
    if (b.buf == MAP_FAILED || !st) {
        if (b.buf != MAP_FAILED)
            munmap(b.buf, b.len);
        free(st);
        snprintf(out->reason, sizeof out->reason, "out of memory for the plain tree");
        goto detach;
    }
    if (huge && memory == AGC_MEMORY_ANON)
        madvise(b.buf, b.len, MADV_HUGEPAGE);
    if (madvise(b.buf, b.len, MADV_POPULATE_WRITE) != 0)
        memset(b.buf, 0, b.len);
    t0 = agc_now_ns();
    agc_word *pt = plain_make(&b, depth);
    t1 = agc_now_ns();
    n = pt ? plain_count(pt, st) : 0;
    t2 = agc_now_ns();
    munmap(b.buf, b.len);
    free(st);
    if (n != nodes) {
        snprintf(out->reason, sizeof out->reason, "the plain tree has %llu nodes, expected %llu",
                 (unsigned long long)n, (unsigned long long)nodes);
        goto detach;
    }
    v[2] = (double)(t1 - t0) / (double)nodes;
    v[3] = (double)(t2 - t1) / (double)nodes;
    rc = 0;
detach:
    agc_detach(m);
done:
    agc_heap_destroy(h);
    pthread_mutex_destroy(&c.err_mu);
    pthread_mutex_destroy(&c.bar.mu);
    pthread_cond_destroy(&c.bar.cv);
    return rc;
}

/* One repetition on a heap of its own: the figures of one_rep, in v[0..10]. */
static int one_rep(agc_fastpath_result *out, int memory, int huge, uint64_t ops, double v[NV])
{
    uint64_t need = 3 * ops * OBJ_BYTES + 8 * AGC_TLAB + (1u << 20);   /* three passes */
    agc_heap *h = measuring_heap(out, memory, huge, need * 2);          /* under half full */
    if (!h)
        return -1;
    int rc = -1;
    int cls;
    agc_mutator *m = attach_with_class(out, h, "P", &cls);
    if (!m)
        goto done;
    /* the first `ops` objects' pages are mapped ahead; the next ones are fresh */
    uint64_t mapped = (ops * OBJ_BYTES + 2 * AGC_TLAB + AGC_PAGE - 1) & ~(uint64_t)(AGC_PAGE - 1);
    if (madvise(h->mem.primary, mapped, MADV_POPULATE_WRITE) != 0) {
        snprintf(out->reason, sizeof out->reason, "MADV_POPULATE_WRITE on the heap failed (Linux >= 5.14)");
        goto detach;
    }
    v[0] = alloc_loop(m, cls, ops);
    /* start the fresh pass on a page boundary beyond the mapped part */
    while (m->hot.tlab_cur < mapped)
        if (!agc_alloc(m, cls))
            break;
    v[1] = alloc_loop(m, cls, ops);
    if (v[0] < 0 || v[1] < 0) {
        fail(out, "allocating");
        goto detach;
    }
    int bump_huge = huge && memory == AGC_MEMORY_ANON;
    v[2] = bump_once(ops, 1, bump_huge);
    v[3] = bump_once(ops, 0, bump_huge);

    void *arr = agc_alloc_refarray(m, SLOTS);
    if (!arr) {
        fail(out, "allocating the array");
        goto detach;
    }
    size_t slot = agc_push(m, arr);
    v[4] = store_loop(m, agc_root(m, slot), agc_root(m, slot), ops);
    /* the marking barrier: this heap's flag raised (the process-wide hint
     * is a count: other heaps' marking is not disturbed) */
    atomic_store(&h->mk.marking, 1);
    __atomic_add_fetch(&agc_any_marking, 1, __ATOMIC_SEQ_CST);
    v[5] = store_loop(m, agc_root(m, slot), agc_root(m, slot), ops);
    __atomic_sub_fetch(&agc_any_marking, 1, __ATOMIC_SEQ_CST);
    atomic_store(&h->mk.marking, 0);
    m->nsatb = 0;                         /* nothing marks: the logged values go */
    v[6] = plain_store_loop(agc_ref_slots(m, agc_root(m, slot)), agc_root(m, slot), ops);
    v[7] = load_loop(m, agc_root(m, slot), ops);
    v[8] = push_pop_loop(m, agc_root(m, slot), ops);
    v[9] = poll_loop(m, ops);
    agc_pop(m, 1);
    /* black allocation: this heap's flag raised by hand, onto pages (and
     * mark-bitmap pages) mapped ahead */
    {
        uint64_t a = m->hot.tlab_cur & ~(uint64_t)(AGC_PAGE - 1);
        uint64_t e = (a + ops * OBJ_BYTES + 2 * AGC_TLAB + AGC_PAGE - 1) & ~(uint64_t)(AGC_PAGE - 1);
        if (e > h->mem.cap)
            e = h->mem.cap;
        uint64_t ba = (a >> 9) * 8 & ~(uint64_t)(AGC_PAGE - 1), be = ((e >> 9) * 8 + AGC_PAGE) & ~(uint64_t)(AGC_PAGE - 1);
        if (madvise(h->mem.primary + a, e - a, MADV_POPULATE_WRITE) != 0 ||
            madvise((uint8_t *)h->mk.mark_bits + ba, be - ba, MADV_POPULATE_WRITE) != 0) {
            snprintf(out->reason, sizeof out->reason, "MADV_POPULATE_WRITE before black allocation failed");
            goto detach;
        }
        atomic_store(&h->mk.alloc_black, 1);
        v[10] = alloc_loop(m, cls, ops);
        atomic_store(&h->mk.alloc_black, 0);
        if (v[10] < 0) {
            fail(out, "allocating black");
            goto detach;
        }
    }
    rc = 0;
detach:
    agc_detach(m);
done:
    agc_heap_destroy(h);
    return rc;
}

int agc_fastpath_measure(agc_fastpath_result *out, int memory, int huge_pages, uint64_t ops, uint64_t reps)
{
    if (!out)
        return agc_fail(AGC_EINVAL, "fastpath: no result buffer");
    memset(out, 0, sizeof *out);
    if (memory != AGC_MEMORY_SHMEM && memory != AGC_MEMORY_ANON)
        return agc_fail(AGC_EINVAL, "fastpath: memory must be shmem (%d) or anon (%d), got %d",
                        AGC_MEMORY_SHMEM, AGC_MEMORY_ANON, memory);
    if (huge_pages != 0 && huge_pages != 1)
        return agc_fail(AGC_EINVAL, "fastpath: huge_pages must be 0 or 1, got %d", huge_pages);
    if (!ops)
        ops = 2000000;
    if (!reps)
        reps = 5;
    if (ops < 1000 || ops > 100000000)
        return agc_fail(AGC_EINVAL, "fastpath: ops must be 1,000 to 100,000,000, got %llu",
                        (unsigned long long)ops);
    if (reps > 101)
        return agc_fail(AGC_EINVAL, "fastpath: reps must be 1 to 101, got %llu", (unsigned long long)reps);
    out->ops = ops;
    out->reps = reps;
    out->memory = memory;
    out->huge_pages = huge_pages;
    double *all = calloc(NV * reps, sizeof *all);
    if (!all)
        return agc_fail(AGC_EOOM, "fastpath: out of memory");
    for (uint64_t r = 0; r < reps; r++) {
        double v[NV];
        if (one_rep(out, memory, huge_pages, ops, v) != 0 || tree_rep(out, memory, huge_pages, ops, v + 11) != 0) {
            free(all);
            return agc_fail(AGC_ESYS, "fastpath: %s", out->reason);
        }
        for (int k = 0; k < NV; k++)
            all[(uint64_t)k * reps + r] = v[k];
    }
    double *f[NV] = {&out->alloc_ns, &out->alloc_fresh_ns, &out->bump_ns, &out->bump_fresh_ns,
                     &out->store_ns, &out->store_marking_ns, &out->plain_store_ns, &out->load_ns,
                     &out->push_pop_ns, &out->poll_ns, &out->alloc_marking_ns, &out->tree_build_ns,
                     &out->tree_count_ns, &out->plain_build_ns, &out->plain_count_ns};
    for (int k = 0; k < NV; k++)
        *f[k] = median(all + (uint64_t)k * reps, reps);
    free(all);
    return AGC_OK;
}
