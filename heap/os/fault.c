/* Fault delivery: SIGBUS in the faulting thread, or a handler thread.
 *
 * SIGBUS: one process-wide handler and a fixed table of owned ranges that the
 * handler reads without locks. A fault in an owned range goes to the range's
 * resolver; anything else is passed on ("chained") to the handler that was
 * installed before ours, as if we were not there.
 *
 * Flags: SA_SIGINFO | SA_RESTART. No SA_NODEFER: the resolver never touches
 * an owned range through the faulting mapping (it writes through the alias or
 * a buffer), so a nested SIGBUS would be a bug, and with SIGBUS blocked the
 * kernel turns it into a plain crash instead of a recursion. No SA_ONSTACK:
 * a resolver builds a page and may need more stack than the small alternate
 * stacks threads set up for SIGSEGV (Python's faulthandler gives ~16 KiB);
 * a SIGBUS is never caused by stack overflow, so the thread's own stack is
 * the right one. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fault.h"
#include "uffd.h"
#include "uffd_sys.h"
#include "clock.h"
#include "error.h"
#include "heap_api.h"

/* ---- SIGBUS ranges ------------------------------------------------------ */

#define NSLOTS 64
enum { SLOT_FREE = 0, SLOT_BUSY = 1, SLOT_ACTIVE = 2 };

typedef struct slot {
    _Atomic int state;
    _Atomic int inflight;        /* handlers currently using this slot */
    _Atomic unsigned seq;        /* odd while lo/hi change */
    _Atomic uintptr_t lo, hi;
    _Atomic int kind;
    agc_fault_resolver _Atomic fn;
    void *_Atomic ctx;
} slot;

static slot slots[NSLOTS];
static _Atomic int slots_hi;                 /* 1 + highest slot ever used */
static _Atomic uint64_t chained_count;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- chain of displaced handlers --------------------------------------- */

#define MAXPREV 8
static struct sigaction prev[MAXPREV];       /* prev[0]: before our first install */
static _Atomic int nprev;
static _Atomic pid_t chaining_tid;           /* thread currently calling prev[chaining_level] */
static _Atomic int chaining_level = -1;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_sigbus(int sig, siginfo_t *si, void *uc);

/* ---- artgc's signal chain (heap/sigchain), when preloaded --------------- */
/* With artgc/_sigchain*.so in LD_PRELOAD, sigaction() is the chain's: a
 * program's SIGBUS installs never reach the kernel once artgc has claimed
 * it, and artgc chains to the action the program believes it installed.
 * Without it, the stack of displaced handlers below does the chaining and
 * artgc's handler is put back in front at API calls and cycles. */
typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static sigaction_fn chain_real;                                  /* the kernel's */
static int (*chain_claim)(int, const struct sigaction *);
static int (*chain_program)(int, struct sigaction *);
static pthread_once_t chain_once = PTHREAD_ONCE_INIT;

static void find_sigchain(void)
{
    chain_real = (sigaction_fn)dlsym(RTLD_DEFAULT, "artgc_sigchain_real_sigaction");
    chain_claim = (int (*)(int, const struct sigaction *))dlsym(RTLD_DEFAULT, "artgc_sigchain_claim");
    chain_program = (int (*)(int, struct sigaction *))dlsym(RTLD_DEFAULT, "artgc_sigchain_program_action");
    if (!chain_real || !chain_claim || !chain_program)
        chain_real = NULL, chain_claim = NULL, chain_program = NULL;
}

/* sigaction() on the kernel's disposition, past the chain when there is one. */
static int sys_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return chain_real ? chain_real(sig, act, old) : sigaction(sig, act, old);
}

int agc_sigchain_active(void)
{
    pthread_once(&chain_once, find_sigchain);
    return chain_claim != NULL;
}

static int is_ours(const struct sigaction *a)
{
    return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == on_sigbus;
}

static int same_action(const struct sigaction *a, const struct sigaction *b)
{
    return ((a->sa_flags ^ b->sa_flags) & SA_SIGINFO) == 0 &&
           (void *)a->sa_sigaction == (void *)b->sa_sigaction;
}

static pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static void default_action(const siginfo_t *si)
{
    struct sigaction d;
    memset(&d, 0, sizeof d);
    d.sa_handler = SIG_DFL;
    sigemptyset(&d.sa_mask);
    sys_sigaction(SIGBUS, &d, NULL);
    /* Pending until our handler returns (SIGBUS is blocked in it), then the
     * default action: the process dies by SIGBUS, as without us. */
    raise(SIGBUS);
    (void)si;
}

/* SIG_DFL and SIG_IGN as the kernel applies them; 1 when p was one of them. */
static int apply_trivial(const struct sigaction *p, siginfo_t *si)
{
    if (p->sa_flags & SA_SIGINFO)
        return 0;
    if (p->sa_handler == SIG_DFL) {
        default_action(si);
        return 1;
    }
    if (p->sa_handler == SIG_IGN) {
        if (si->si_code > 0)       /* a real fault cannot be ignored */
            default_action(si);
        return 1;
    }
    return 0;
}

/* Call p's handler as the kernel would: its sa_mask blocked, SIGBUS too
 * unless SA_NODEFER. */
static void call_handler(const struct sigaction *p, int sig, siginfo_t *si, void *uc)
{
    sigset_t mask, old;
    mask = p->sa_mask;
    sigaddset(&mask, SIGBUS);
    pthread_sigmask(SIG_BLOCK, &mask, &old);
    if (p->sa_flags & SA_NODEFER) {
        sigset_t bus;
        sigemptyset(&bus);
        sigaddset(&bus, SIGBUS);
        pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
    }
    if (p->sa_flags & SA_SIGINFO)
        p->sa_sigaction(sig, si, uc);
    else
        p->sa_handler(sig);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* With the signal chain: call the action the program installed. A handler
 * that changes SIGBUS's action and re-raises reaches us again and then the
 * action it set. */
static void chain_to_program(int sig, siginfo_t *si, void *uc)
{
    struct sigaction p;
    if (chain_program(SIGBUS, &p) != 0) {
        default_action(si);
        return;
    }
    if (apply_trivial(&p, si))
        return;
    if (p.sa_flags & SA_RESETHAND) {
        struct sigaction d;
        memset(&d, 0, sizeof d);
        d.sa_handler = SIG_DFL;
        sigemptyset(&d.sa_mask);
        sigaction(SIGBUS, &d, NULL);     /* the chain's: the program's action */
    }
    call_handler(&p, sig, si, uc);
}

/* Pass a SIGBUS we do not own to the handler installed before ours, emulating
 * the kernel's delivery: that handler is the disposition while it runs and
 * its sa_mask/SA_NODEFER apply. Handlers that uninstall themselves and
 * re-raise (faulthandler restores "its previous" handler, which may be us)
 * are recognised, so a fatal signal is reported once and then kills. */
static void chain(int sig, siginfo_t *si, void *uc)
{
    if (chain_program) {
        chain_to_program(sig, si, uc);
        return;
    }
    pid_t tid = my_tid();
    int level = atomic_load(&nprev) - 1;
    if (atomic_load(&chaining_tid) == tid) {
        /* Re-raised from inside the handler we are calling: it wants the
         * handler before it. */
        level = atomic_load(&chaining_level) - 1;
    }
    if (level < 0) {
        default_action(si);
        return;
    }
    struct sigaction p = prev[level];
    if (apply_trivial(&p, si))
        return;
    struct sigaction during = p, mine;
    if (p.sa_flags & SA_RESETHAND) {
        memset(&during, 0, sizeof during);
        during.sa_handler = SIG_DFL;
    }
    sigaction(SIGBUS, &during, &mine);
    pid_t saved_tid = atomic_load(&chaining_tid);
    int saved_level = atomic_load(&chaining_level);
    atomic_store(&chaining_level, level);
    atomic_store(&chaining_tid, tid);
    call_handler(&p, sig, si, uc);
    atomic_store(&chaining_tid, saved_tid);
    atomic_store(&chaining_level, saved_level);

    struct sigaction after;
    sigaction(SIGBUS, NULL, &after);
    if (same_action(&after, &during)) {
        sigaction(SIGBUS, &mine, NULL);          /* it left things alone: back in front */
    } else if (is_ours(&after)) {
        /* It uninstalled itself, restoring us: drop it (and anything above). */
        int expect = level + 1;
        atomic_compare_exchange_strong(&nprev, &expect, level);
    }
    /* else: it installed something else; respect that until the next
     * agc_sigbus_install(). */
}

/* Returns 0 if a resolver handled addr. */
static int dispatch(void *addr, uint64_t t)
{
    uintptr_t a = (uintptr_t)addr;
    int hi = atomic_load_explicit(&slots_hi, memory_order_acquire);
    for (int i = 0; i < hi; i++) {
        slot *s = &slots[i];
        if (atomic_load_explicit(&s->state, memory_order_relaxed) != SLOT_ACTIVE)
            continue;
        atomic_fetch_add(&s->inflight, 1);
        if (atomic_load(&s->state) != SLOT_ACTIVE) {
            atomic_fetch_sub(&s->inflight, 1);
            continue;
        }
        uintptr_t lo, hi_a;
        for (unsigned spins = 0;; spins++) {
            unsigned q1 = atomic_load_explicit(&s->seq, memory_order_acquire);
            /* acquire: the re-read of seq below cannot move above these */
            lo = atomic_load_explicit(&s->lo, memory_order_acquire);
            hi_a = atomic_load_explicit(&s->hi, memory_order_acquire);
            unsigned q2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
            if (q1 == q2 && !(q1 & 1))
                break;
            if (spins > 64)
                sched_yield();
        }
        if (a >= lo && a < hi_a) {
            agc_fault_resolver fn = atomic_load(&s->fn);
            void *ctx = atomic_load(&s->ctx);
            int kind = atomic_load(&s->kind);
            int r = fn(ctx, addr, kind, t, (uint32_t)my_tid(), 1);
            atomic_fetch_sub(&s->inflight, 1);
            return r == 0 ? 0 : -1;
        }
        atomic_fetch_sub(&s->inflight, 1);
    }
    return -1;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    int saved_errno = errno;
    uint64_t t = agc_now_ns();
    /* userfaultfd's SIGBUS (UFFD_FEATURE_SIGBUS) is BUS_ADRERR from the kernel. */
    if (si && si->si_code == BUS_ADRERR && dispatch(si->si_addr, t) == 0) {
        errno = saved_errno;
        return;
    }
    atomic_fetch_add(&chained_count, 1);
    chain(sig, si, uc);
    errno = saved_errno;
}

static _Atomic int installed_once;

int agc_sigbus_install(void)
{
    pthread_once(&chain_once, find_sigchain);
    pthread_mutex_lock(&install_lock);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (chain_claim) {
        /* in the kernel for good; what it displaces is the program's action */
        int rc = chain_claim(SIGBUS, &sa);
        int e = errno;
        if (rc == 0)
            atomic_store(&installed_once, 1);
        pthread_mutex_unlock(&install_lock);
        return rc == 0 ? 0 : agc_fail(AGC_ESYS, "sigaction(SIGBUS) failed: %s", strerror(e));
    }
    int n = atomic_load(&nprev);
    /* Record the displaced handler before ours becomes visible. */
    if (sigaction(SIGBUS, NULL, &old) != 0) {
        int e = errno;
        pthread_mutex_unlock(&install_lock);
        return agc_fail(AGC_ESYS, "sigaction(SIGBUS) failed: %s", strerror(e));
    }
    if (is_ours(&old)) {
        pthread_mutex_unlock(&install_lock);
        return 0;
    }
    if (n >= MAXPREV) {
        /* A pathological number of displacements: keep the oldest ones and
         * the newest. */
        n = MAXPREV - 1;
    }
    prev[n] = old;
    atomic_store(&nprev, n + 1);
    if (sigaction(SIGBUS, &sa, NULL) != 0) {
        int e = errno;
        atomic_store(&nprev, n);
        pthread_mutex_unlock(&install_lock);
        return agc_fail(AGC_ESYS, "sigaction(SIGBUS) failed: %s", strerror(e));
    }
    atomic_store(&installed_once, 1);
    pthread_mutex_unlock(&install_lock);
    return 0;
}

/* After the program changed SIGBUS's disposition (signal.signal,
 * faulthandler.enable/disable: artgc's Python layer calls this right after
 * them, as ART's sigchain intercepts sigaction): put ours back in front and
 * chain to the new one. Nothing to do before artgc installed its handler. */
int agc_sigbus_reassert(void)
{
    return atomic_load(&installed_once) ? agc_sigbus_install() : 0;
}

int agc_sigbus_add_range(void *lo, size_t len, agc_fault_resolver fn, void *ctx)
{
    if (!fn || !len) {
        agc_fail(AGC_EINVAL, "agc_sigbus_add_range: empty range or no resolver");
        return -1;
    }
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < NSLOTS; i++) {
        slot *s = &slots[i];
        int expect = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&s->state, &expect, SLOT_BUSY))
            continue;
        atomic_store(&s->lo, (uintptr_t)lo);
        atomic_store(&s->hi, (uintptr_t)lo + len);
        atomic_store(&s->fn, fn);
        atomic_store(&s->ctx, ctx);
        atomic_store(&s->kind, AGC_FAULT_MISSING);
        if (atomic_load(&slots_hi) < i + 1)
            atomic_store(&slots_hi, i + 1);
        atomic_store(&s->state, SLOT_ACTIVE);
        pthread_mutex_unlock(&table_lock);
        return i;
    }
    pthread_mutex_unlock(&table_lock);
    agc_fail(AGC_EOOM, "the SIGBUS range table is full (%d ranges); close some heaps", NSLOTS);
    return -1;
}

void agc_sigbus_update_range(int slot_i, void *lo, size_t len)
{
    if (slot_i < 0 || slot_i >= NSLOTS)
        return;
    slot *s = &slots[slot_i];
    pthread_mutex_lock(&table_lock);
    atomic_fetch_add(&s->seq, 1);               /* odd */
    atomic_store_explicit(&s->lo, (uintptr_t)lo, memory_order_relaxed);
    atomic_store_explicit(&s->hi, (uintptr_t)lo + len, memory_order_relaxed);
    atomic_fetch_add(&s->seq, 1);               /* even: release */
    pthread_mutex_unlock(&table_lock);
}

void agc_sigbus_set_kind(int slot_i, int kind)
{
    if (slot_i >= 0 && slot_i < NSLOTS)
        atomic_store(&slots[slot_i].kind, kind);
}

void agc_sigbus_remove_range(int slot_i)
{
    if (slot_i < 0 || slot_i >= NSLOTS)
        return;
    slot *s = &slots[slot_i];
    pthread_mutex_lock(&table_lock);
    int expect = SLOT_ACTIVE;
    if (atomic_compare_exchange_strong(&s->state, &expect, SLOT_BUSY)) {
        /* Wait out handlers still inside this slot's resolver. */
        while (atomic_load(&s->inflight) != 0)
            sched_yield();
        atomic_store(&s->fn, NULL);
        atomic_store(&s->ctx, NULL);
        atomic_store(&s->state, SLOT_FREE);
    }
    pthread_mutex_unlock(&table_lock);
}

uint64_t agc_sigbus_chained_count(void)
{
    return atomic_load(&chained_count);
}

/* ---- handler thread ----------------------------------------------------- */

void (*agc_fault_thread_exit_hook)(void);

struct agc_fault_thread {
    int uffd;
    int stopfd;
    pthread_t th;
    agc_fault_resolver fn;
    void *ctx;
    _Atomic int alive;
    _Atomic uint64_t handled;
    _Atomic uint64_t failed;
    int joined;
};

static void log_stderr(const char *msg)
{
    size_t n = strlen(msg);
    while (n > 0) {
        ssize_t w = write(2, msg, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        msg += w;
        n -= (size_t)w;
    }
}

#define MSG_BATCH 32

static void *fault_thread_main(void *arg)
{
    agc_fault_thread *t = arg;
    struct uffd_msg msgs[MSG_BATCH];
    char line[256];
    for (;;) {
        struct pollfd p[2] = {{.fd = t->uffd, .events = POLLIN},
                              {.fd = t->stopfd, .events = POLLIN}};
        int n = poll(p, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(line, sizeof line, "artgc: userfaultfd handler thread: poll failed: %s; "
                     "the thread stops\n", strerror(errno));
            log_stderr(line);
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & (POLLERR | POLLNVAL)) {
            snprintf(line, sizeof line, "artgc: userfaultfd handler thread: the userfaultfd "
                     "(fd %d) reports %s; the thread stops\n", t->uffd,
                     (p[0].revents & POLLNVAL) ? "it was closed" : "an error");
            log_stderr(line);
            break;
        }
        if (!(p[0].revents & POLLIN))
            continue;
        ssize_t r = read(t->uffd, msgs, sizeof msgs);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            snprintf(line, sizeof line, "artgc: userfaultfd handler thread: read failed: %s; "
                     "the thread stops\n", strerror(errno));
            log_stderr(line);
            break;
        }
        size_t count = (size_t)r / sizeof msgs[0];
        for (size_t i = 0; i < count; i++) {
            if (msgs[i].event != UFFD_EVENT_PAGEFAULT)
                continue;
            uint64_t now = agc_now_ns();
            uint64_t flags = msgs[i].arg.pagefault.flags;
            uintptr_t addr = (uintptr_t)msgs[i].arg.pagefault.address;
            int kind = (flags & UFFD_PAGEFAULT_FLAG_WP) ? AGC_FAULT_WP
                       : (flags & UFFD_PAGEFAULT_FLAG_MINOR) ? AGC_FAULT_MINOR
                                                             : AGC_FAULT_MISSING;
            uint32_t tid = msgs[i].arg.pagefault.feat.ptid;   /* 0 without THREAD_ID */
            int rc = t->fn(t->ctx, (void *)addr, kind, now, tid, 0);
            if (rc == 0) {
                atomic_fetch_add(&t->handled, 1);
                continue;
            }
            uint64_t nf = atomic_fetch_add(&t->failed, 1) + 1;
            if (nf <= 8 || (nf & (nf - 1)) == 0) {
                snprintf(line, sizeof line,
                         "artgc: userfaultfd handler thread: the resolver could not resolve a "
                         "%s fault at %p (tid %u; %llu such failures); waking the thread so "
                         "it retries instead of hanging\n",
                         kind == AGC_FAULT_MINOR ? "minor" : kind == AGC_FAULT_WP ? "wp" : "missing",
                         (void *)addr, tid, (unsigned long long)nf);
                log_stderr(line);
            }
            agc_uffd_wake(t->uffd, (void *)(addr & ~(uintptr_t)(AGC_UFFD_PAGE - 1)),
                          AGC_UFFD_PAGE);
        }
    }
    atomic_store(&t->alive, 0);
    void (*hook)(void) = __atomic_load_n(&agc_fault_thread_exit_hook, __ATOMIC_ACQUIRE);
    if (hook)
        hook();   /* e.g. the collector frees this thread's page buffers */
    return NULL;
}

agc_fault_thread *agc_fault_thread_start(int uffd, agc_fault_resolver fn, void *ctx)
{
    if (uffd < 0 || !fn) {
        agc_fail(AGC_EINVAL, "agc_fault_thread_start: bad userfaultfd or no resolver");
        return NULL;
    }
    agc_fault_thread *t = calloc(1, sizeof *t);
    if (!t) {
        agc_fail(AGC_EOOM, "out of memory starting the userfaultfd handler thread");
        return NULL;
    }
    t->uffd = uffd;
    t->fn = fn;
    t->ctx = ctx;
    t->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->stopfd < 0) {
        int e = errno;
        free(t);
        agc_fail(AGC_ESYS, "eventfd for the userfaultfd handler thread failed: %s", strerror(e));
        return NULL;
    }
    atomic_store(&t->alive, 1);
    /* The thread takes no asynchronous signals (SIGINT goes elsewhere). */
    sigset_t all, old;
    sigfillset(&all);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t->th, NULL, fault_thread_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(t->stopfd);
        free(t);
        agc_fail(AGC_ESYS, "cannot start the userfaultfd handler thread: %s", strerror(rc));
        return NULL;
    }
    pthread_setname_np(t->th, "artgc-uffd");
    return t;
}

void agc_fault_thread_stop(agc_fault_thread *t)
{
    if (!t)
        return;
    uint64_t one = 1;
    while (write(t->stopfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    if (!t->joined)
        pthread_join(t->th, NULL);
    close(t->stopfd);
    free(t);
}

/* For the tests: the handler thread dies as if it had crashed: it leaves
 * its loop at once, whatever faults are pending (pthread_cancel would do the
 * same, but cancellation unwinding does not mix with sanitizer runtimes). */
void agc_fault_thread_kill(agc_fault_thread *t)
{
    if (!t || t->joined)
        return;
    uint64_t one = 1;
    while (write(t->stopfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    pthread_join(t->th, NULL);
    t->joined = 1;
    atomic_store(&t->alive, 0);
}

int agc_fault_thread_alive(agc_fault_thread *t)
{
    return t ? atomic_load(&t->alive) : 0;
}

uint64_t agc_fault_thread_handled(agc_fault_thread *t)
{
    return t ? atomic_load(&t->handled) : 0;
}

uint64_t agc_fault_thread_failed(agc_fault_thread *t)
{
    return t ? atomic_load(&t->failed) : 0;
}

int agc_fault_thread_pin(agc_fault_thread *t, int cpu)
{
    if (!t || cpu < 0 || cpu >= CPU_SETSIZE)
        return agc_fail(AGC_EINVAL, "agc_fault_thread_pin: bad thread or cpu %d", cpu);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(t->th, sizeof set, &set);
    if (rc != 0)
        return agc_fail(AGC_ESYS, "cannot pin the userfaultfd handler thread to cpu %d: %s", cpu,
                        strerror(rc));
    return 0;
}
