/* The workload runner: validates parameters, starts the workload's mutator
 * threads on the heap, collects their output, times the run and reports
 * failures (out of memory, failed checks) and interruptions. Also the helpers
 * the workloads share (output, failure, abortable barrier, trees). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "wl.h"
#include "../clock.h"
#include "../error.h"

static const wl_desc *const workloads[] = {&wl_binarytrees, &wl_gcbench, &wl_lru, &wl_graph};
#define NWORKLOADS (sizeof workloads / sizeof workloads[0])
#define MAX_MUTATORS 256

/* Set from any thread or a signal handler; cleared when a run starts. */
static atomic_int interrupt_flag;

void agc_workload_interrupt(void)
{
    atomic_store(&interrupt_flag, 1);
}

const char *agc_workload_names(void)
{
    return "binarytrees,gcbench,lru,graph";
}

static const wl_desc *find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < NWORKLOADS; i++)
        if (strcmp(workloads[i]->name, name) == 0)
            return workloads[i];
    return NULL;
}

int64_t agc_workload_default_size(const char *name)
{
    const wl_desc *d = find(name);
    return d ? d->def_size : -1;
}

/* Output ------------------------------------------------------------------ */

static void out_append(wl_ctx *c, const char *s, size_t n)
{
    if (c->out_nomem)
        return;
    if (c->out_len + n + 1 > c->out_cap) {
        size_t nc = c->out_cap ? c->out_cap : 4096;
        while (nc < c->out_len + n + 1)
            nc *= 2;
        char *p = realloc(c->out, nc);
        if (!p) {
            c->out_nomem = 1;
            return;
        }
        c->out = p;
        c->out_cap = nc;
    }
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
    c->out[c->out_len] = 0;
}

void wl_printf(wl_ctx *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    pthread_mutex_lock(&c->out_mu);
    if ((size_t)n < sizeof buf) {
        out_append(c, buf, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (big) {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            out_append(c, big, (size_t)n);
            free(big);
        } else {
            c->out_nomem = 1;
        }
    }
    pthread_mutex_unlock(&c->out_mu);
}

/* Failure and stopping ---------------------------------------------------- */

static void barrier_abort(wl_barrier *b)
{
    pthread_mutex_lock(&b->mu);
    b->aborted = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void wl_fail(wl_ctx *c, int code, const char *fmt, ...)
{
    pthread_mutex_lock(&c->err_mu);
    if (!c->err_code) {
        c->err_code = code ? code : AGC_ECORRUPT;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, sizeof c->err, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&c->err_mu);
    atomic_store(&c->stop, 1);
    barrier_abort(&c->bar);
}

void wl_fail_heap(wl_ctx *c, int code, const char *what)
{
    const char *msg = agc_last_error();
    if (!code)
        code = AGC_EOOM;
    wl_fail(c, code, "%s: %s: %s", c->d->name, what, msg && msg[0] ? msg : "allocation failed");
}

int wl_should_stop(wl_ctx *c)
{
    if (__builtin_expect(atomic_load_explicit(&c->stop, memory_order_relaxed), 0))
        return 1;
    if (__builtin_expect(atomic_load_explicit(&interrupt_flag, memory_order_relaxed), 0)) {
        atomic_store(&c->interrupted, 1);
        atomic_store(&c->stop, 1);
        barrier_abort(&c->bar);
        return 1;
    }
    return 0;
}

/* Barrier ----------------------------------------------------------------- */

static int barrier_init(wl_barrier *b, int n)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    if (pthread_mutex_init(&b->mu, NULL))
        return -1;
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&b->cv, &a);
    pthread_condattr_destroy(&a);
    if (rc) {
        pthread_mutex_destroy(&b->mu);
        return -1;
    }
    return 0;
}

static void barrier_destroy(wl_barrier *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

int wl_barrier_wait(wl_ctx *c, agc_mutator *m)
{
    wl_barrier *b = &c->bar;
    if (wl_should_stop(c))
        return -1;
    int ret = 0;
    agc_block(m);
    pthread_mutex_lock(&b->mu);
    if (b->aborted) {
        ret = -1;
    } else if (++b->count == b->n) {
        b->count = 0;
        b->gen++;
        pthread_cond_broadcast(&b->cv);
        ret = 1;
    } else {
        uint64_t gen = b->gen;
        while (gen == b->gen && !b->aborted) {
            /* wake now and then to notice agc_workload_interrupt(), which may
             * come from a signal handler that cannot signal the condition */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
            if (gen == b->gen && !b->aborted && atomic_load(&interrupt_flag)) {
                atomic_store(&c->interrupted, 1);
                atomic_store(&c->stop, 1);
                b->aborted = 1;
                pthread_cond_broadcast(&b->cv);
            }
        }
        if (gen == b->gen)
            ret = -1;
    }
    pthread_mutex_unlock(&b->mu);
    agc_unblock(m);
    return ret;
}

/* Trees --------------------------------------------------------------------- */

/* Level k of the recursion keeps its two subtrees in shadow-stack slots
 * base + 2k and base + 2k + 1, reserved once for the whole tree: no push
 * or pop per node (and no push at all below, so the stack's array stays
 * where it is: `slots` is read once). A slot left behind holds a node of
 * the tree being built, reachable from its parent anyway. A safepoint (in
 * agc_alloc's slow path, a call) updates the slots: they are read again
 * after each allocation. */
static void *make_subtree(wl_ctx *c, agc_mutator *m, int cls, int depth, agc_word *slots)
{
    if (depth <= 0) {
        void *n = agc_alloc(m, cls);
        if (!n)
            wl_fail_heap(c, AGC_EOOM, "allocating a tree node");
        return n;
    }
    if (depth >= 12 && wl_should_stop(c))
        return NULL;   /* interrupted, or failed elsewhere: unwind */
    void *l = make_subtree(c, m, cls, depth - 1, slots + 2);
    if (!l)
        return NULL;
    slots[0] = (agc_word)l;
    void *r = make_subtree(c, m, cls, depth - 1, slots + 2);
    if (!r)
        return NULL;
    slots[1] = (agc_word)r;
    void *n = agc_alloc(m, cls);
    if (!n) {
        wl_fail_heap(c, AGC_EOOM, "allocating a tree node");
        return NULL;
    }
    /* n is fresh (no safepoint since): its null slots need no barrier */
    agc_init_field(n, 0, (void *)slots[0]);
    agc_init_field(n, 1, (void *)slots[1]);
    return n;
}

void *wl_make_tree(wl_ctx *c, agc_mutator *m, int cls, int depth)
{
    size_t base = agc_depth(m);
    for (int k = 0; k < 2 * depth; k++)
        agc_push(m, NULL);
    void *n = make_subtree(c, m, cls, depth, agc_root_slots(m, base));
    agc_truncate(m, base);
    return n;
}

uint64_t wl_tree_count(agc_mutator *m, void *tree, int *bad)
{
    /* Depth-first with a C stack of raw pointers; before each safepoint
     * poll the stack is spilled to shadow-stack slots and reloaded after. */
    void *local[128];
    void **st = local;
    size_t n = 0, cap = 128;
    uint64_t count = 0;
    if (!tree)
        return 0;
    st[n++] = tree;
    while (n) {
        /* a safepoint every 512 nodes (a few microseconds apart even when
         * they miss the cache), spilling the stack only when a stop is asked */
        if ((count & 511) == 511 && __atomic_load_n(&agc_any_stop_requested, __ATOMIC_RELAXED)) {
            size_t base = agc_depth(m);
            for (size_t i = 0; i < n; i++)
                agc_push(m, st[i]);
            agc_poll(m);
            for (size_t i = 0; i < n; i++)
                st[i] = agc_root(m, base + i);
            agc_truncate(m, base);
        }
        void *o = st[--n];
        count++;
        void *l = agc_load_field(o, 0);
        void *r = agc_load_field(o, 1);
        if (!l != !r)
            *bad = 1;
        if (!l || !r)
            continue;
        if (n + 2 > cap) {
            size_t nc = cap * 2;
            void **ns = malloc(nc * sizeof *ns);
            if (!ns) {
                *bad = 1;
                break;
            }
            memcpy(ns, st, n * sizeof *ns);
            if (st != local)
                free(st);
            st = ns;
            cap = nc;
        }
        st[n++] = r;
        st[n++] = l;
    }
    if (st != local)
        free(st);
    return count;
}

/* The run ------------------------------------------------------------------- */

typedef struct thr_arg {
    wl_ctx *c;
    int tid;
} thr_arg;

static void solo_leave(wl_ctx *c)
{
    pthread_mutex_lock(&c->solo_mu);
    if (--c->solo_left == 0)
        pthread_cond_broadcast(&c->solo_cv);
    pthread_mutex_unlock(&c->solo_mu);
}

static void *thread_main(void *p)
{
    thr_arg *a = p;
    wl_ctx *c = a->c;
    agc_mutator *m = agc_attach(c->h);
    if (!m) {
        const char *e = agc_last_error();
        wl_fail(c, AGC_ESYS, "%s: mutator thread %d could not attach to the heap: %s",
                c->d->name, a->tid, e && e[0] ? e : "unknown error");
        if (a->tid != 0)
            solo_leave(c);
        return NULL;
    }
    c->d->thread(c, m, a->tid);
    if (a->tid != 0) {
        agc_truncate(m, 0);
        agc_detach(m);
        solo_leave(c);
        return NULL;
    }
    if (c->d->solo) {
        /* wait, blocked, until every other thread has left the heap */
        agc_block(m);
        pthread_mutex_lock(&c->solo_mu);
        while (c->solo_left > 0)
            pthread_cond_wait(&c->solo_cv, &c->solo_mu);
        pthread_mutex_unlock(&c->solo_mu);
        agc_unblock(m);
        c->d->solo(c, m);
    }
    agc_truncate(m, 0);
    agc_detach(m);
    return NULL;
}

void agc_wl_result_free(agc_wl_result *r)
{
    if (!r)
        return;
    free(r->output);
    free(r->latency_ns);
    free(r->start_ns);
    r->output = NULL;
    r->latency_ns = r->start_ns = NULL;
    r->output_len = 0;
    r->nlatency = 0;
}

static int refuse(agc_wl_result *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(agc_wl_result *r, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r) {
        r->failed = 1;
        snprintf(r->error, sizeof r->error, "%s", msg);
    }
    return agc_fail(code, "%s", msg);
}

int agc_workload_run(agc_heap *h, const agc_wl_params *p, agc_wl_result *r)
{
    if (r)
        memset(r, 0, sizeof *r);
    if (!h || !p || !r)
        return refuse(r, AGC_EINVAL, "agc_workload_run: heap, params and result must not be NULL");
    const wl_desc *d = find(p->name);
    if (!d)
        return refuse(r, AGC_EINVAL, "unknown workload '%s'; valid workloads: %s",
                      p->name ? p->name : "(null)", agc_workload_names());
    if (p->mutators < 1 || p->mutators > MAX_MUTATORS)
        return refuse(r, AGC_EINVAL, "%s: --mutators must be between 1 and %d, not %d",
                      d->name, MAX_MUTATORS, p->mutators);
    int64_t size = p->size <= 0 ? d->def_size : p->size;
    if (size < d->min_size || size > d->max_size)
        return refuse(r, AGC_EINVAL, "%s: --size must be between %lld and %lld (%s), not %lld",
                      d->name, (long long)d->min_size, (long long)d->max_size, d->size_doc,
                      (long long)size);
    if (p->live && strcmp(d->name, "lru") != 0)
        return refuse(r, AGC_EINVAL, "%s: --live applies to lru only (the cache's live data)", d->name);

    wl_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return refuse(r, AGC_ESYS, "%s: out of process memory", d->name);
    c->h = h;
    c->d = d;
    c->size = size;
    c->nthreads = p->mutators;
    c->seed = p->seed;
    c->live = p->live;
    c->r = r;
    pthread_mutex_init(&c->out_mu, NULL);
    pthread_mutex_init(&c->err_mu, NULL);
    pthread_mutex_init(&c->solo_mu, NULL);
    pthread_cond_init(&c->solo_cv, NULL);
    c->solo_left = c->nthreads - 1;
    if (barrier_init(&c->bar, c->nthreads)) {
        pthread_mutex_destroy(&c->out_mu);
        pthread_mutex_destroy(&c->err_mu);
        pthread_mutex_destroy(&c->solo_mu);
        pthread_cond_destroy(&c->solo_cv);
        free(c);
        return refuse(r, AGC_ESYS, "%s: cannot create a barrier", d->name);
    }
    atomic_store(&interrupt_flag, 0);

    int rc = d->setup ? d->setup(c) : AGC_OK;
    if (rc) {
        const char *e = agc_last_error();
        wl_fail(c, rc, "%s: %s", d->name, e && e[0] ? e : "setup failed");
    }

    pthread_t *tids = calloc((size_t)c->nthreads, sizeof *tids);
    thr_arg *args = calloc((size_t)c->nthreads, sizeof *args);
    int started = 0;
    uint64_t t0 = agc_now_ns();
    if (!rc && (!tids || !args)) {
        wl_fail(c, AGC_ESYS, "%s: out of process memory", d->name);
    } else if (!rc) {
        for (int i = 0; i < c->nthreads; i++) {
            args[i].c = c;
            args[i].tid = i;
            int e = pthread_create(&tids[i], NULL, thread_main, &args[i]);
            if (e) {
                wl_fail(c, AGC_ESYS, "%s: cannot start mutator thread %d of %d: %s",
                        d->name, i, c->nthreads, strerror(e));
                /* threads that will never start cannot leave: count them out */
                for (int k = i > 0 ? i : 1; k < c->nthreads; k++)
                    solo_leave(c);
                break;
            }
            started++;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    r->wall_ns = agc_now_ns() - t0;
    free(tids);
    free(args);

    if (started == c->nthreads && d->finish)
        d->finish(c);
    if (d->cleanup)
        d->cleanup(c);

    if (c->out_nomem)
        wl_fail(c, AGC_ESYS, "%s: out of process memory for the output", d->name);
    r->output = c->out ? c->out : calloc(1, 1);
    r->output_len = c->out_len;
    r->interrupted = (uint64_t)atomic_load(&c->interrupted);
    if (c->err_code) {
        r->failed = 1;
        snprintf(r->error, sizeof r->error, "%s", c->err);
        rc = c->err_code;
    } else if (r->interrupted) {
        snprintf(r->error, sizeof r->error, "%s: interrupted", d->name);
        rc = AGC_EINTR;
    } else {
        rc = AGC_OK;
    }
    if (rc)
        agc_fail(rc, "%s", r->error);

    barrier_destroy(&c->bar);
    pthread_mutex_destroy(&c->out_mu);
    pthread_mutex_destroy(&c->err_mu);
    pthread_mutex_destroy(&c->solo_mu);
    pthread_cond_destroy(&c->solo_cv);
    free(c);
    return rc;
}
