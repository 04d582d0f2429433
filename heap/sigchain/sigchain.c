/* artgc's signal chain, as ART's libsigchain: a tiny library to preload
 * (LD_PRELOAD) that interposes sigaction() and signal(). Once artgc claims
 * SIGBUS (artgc_sigchain_claim), its handler stays in the kernel whatever
 * the program installs later, from Python or from C: the program's
 * sigaction(SIGBUS, ...) calls change only the action this library keeps
 * for it (and report it back as the old action), and artgc chains the
 * SIGBUS faults that are not its own to that action.
 *
 * Without it, artgc (a library Python loads with dlopen, whose symbols
 * cannot interpose libc's) keeps its handler first at its API calls, at
 * every cycle and after Python's own signal.signal / faulthandler calls;
 * a handler installed by C code while a compaction runs would take the
 * next fault until then. With it there is no such window.
 *
 * Every entry point is async-signal-safe: the kept actions are guarded by a
 * spin lock taken with SIGBUS's own handler never holding it across a call
 * out. Not part of artgc._native: built as artgc/_sigchain*.so. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#define NSIG_CHAIN 65

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static _Atomic(sigaction_fn) real_fn;
static _Atomic int claimed[NSIG_CHAIN];
static struct sigaction kept[NSIG_CHAIN];     /* what the program installed */
static atomic_flag lock = ATOMIC_FLAG_INIT;

static sigaction_fn real(void)
{
    sigaction_fn f = atomic_load(&real_fn);
    if (!f) {
        f = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
        atomic_store(&real_fn, f);
    }
    return f;
}

static void take(void)
{
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
        ;
}

static void give(void)
{
    atomic_flag_clear_explicit(&lock, memory_order_release);
}

/* The real sigaction, for artgc's own installs. */
int artgc_sigchain_real_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    sigaction_fn f = real();
    if (!f) {
        errno = ENOSYS;
        return -1;
    }
    return f(sig, act, old);
}

/* artgc's handler into the kernel for good; the action it displaces is kept
 * as the program's. Claiming again only puts `ours` back in the kernel. */
int artgc_sigchain_claim(int sig, const struct sigaction *ours)
{
    if (sig <= 0 || sig >= NSIG_CHAIN || !ours) {
        errno = EINVAL;
        return -1;
    }
    take();
    struct sigaction old;
    int rc = artgc_sigchain_real_sigaction(sig, ours, &old);
    if (rc == 0 && !atomic_load(&claimed[sig])) {
        kept[sig] = old;
        atomic_store(&claimed[sig], 1);
    }
    give();
    return rc;
}

/* The action the program believes is installed for sig. */
int artgc_sigchain_program_action(int sig, struct sigaction *out)
{
    if (sig <= 0 || sig >= NSIG_CHAIN || !out || !atomic_load(&claimed[sig])) {
        errno = EINVAL;
        return -1;
    }
    take();
    *out = kept[sig];
    give();
    return 0;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig > 0 && sig < NSIG_CHAIN && atomic_load(&claimed[sig])) {
        take();
        if (old)
            *old = kept[sig];
        if (act)
            kept[sig] = *act;
        give();
        return 0;
    }
    return artgc_sigchain_real_sigaction(sig, act, old);
}

/* glibc's signal(): BSD semantics (SA_RESTART, the signal blocked in its
 * handler). */
sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (handler != SIG_DFL && handler != SIG_IGN && sig > 0 && sig < NSIG_CHAIN)
        sigaddset(&sa.sa_mask, sig);
    if (sigaction(sig, &sa, &old) != 0)
        return SIG_ERR;
    return (old.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)old.sa_sigaction : old.sa_handler;
}
