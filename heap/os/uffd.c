/* The userfaultfd layer: open, negotiate, register, resolve.
 *
 * The resolution calls (continue/copy/zeropage/move/wake) run on the hot fault
 * path and inside the SIGBUS handler: they make only ioctl/sched_yield system
 * calls, touch no heap memory of their own, take no locks and never set the
 * error message (vsnprintf is not async-signal-safe). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd.h"
#include "uffd_sys.h"
#include "error.h"
#include "heap_api.h"

#define PAGE AGC_UFFD_PAGE

static __thread int last_code;

int agc_uffd_errcode(void)
{
    return last_code;
}

#define FAIL(code, ...) (last_code = (code), agc_fail((code), __VA_ARGS__))

int agc_uffd_disabled_by_env(void)
{
    const char *v = getenv("ARTGC_DISABLE_UFFD");
    return v && *v && strcmp(v, "0") != 0;
}

/* ---- opening ---------------------------------------------------------- */

typedef struct open_result {
    int fd;
    int via;
    int user_mode_only;
    int err_syscall;   /* errno of userfaultfd(2), 0 if it worked / not tried */
    int err_dev;       /* errno of /dev/userfaultfd, 0 if it worked / not tried */
} open_result;

static void open_raw(open_result *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    int flags = O_CLOEXEC | O_NONBLOCK;
#ifdef SYS_userfaultfd
    int fd = (int)syscall(SYS_userfaultfd, flags);
    if (fd < 0 && errno == EPERM) {
        /* vm.unprivileged_userfaultfd=0 still lets anyone handle user-mode
         * faults (Linux >= 5.11), which is all a heap needs. */
        int fd2 = (int)syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
        if (fd2 >= 0) {
            r->fd = fd2;
            r->via = AGC_UFFD_VIA_SYSCALL;
            r->user_mode_only = 1;
            return;
        }
        errno = EPERM;
    }
    if (fd >= 0) {
        r->fd = fd;
        r->via = AGC_UFFD_VIA_SYSCALL;
        return;
    }
    r->err_syscall = errno;
#else
    r->err_syscall = ENOSYS;
#endif
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev < 0) {
        r->err_dev = errno;
        return;
    }
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
    if (fd < 0)
        r->err_dev = errno;
    close(dev);
    if (fd >= 0) {
        r->fd = fd;
        r->via = AGC_UFFD_VIA_DEV;
    }
}

static void explain_unavailable(const open_result *r, char *buf, size_t n)
{
    int es = r->err_syscall, ed = r->err_dev;
    char dev[96];
    if (ed == ENOENT)
        snprintf(dev, sizeof dev, "/dev/userfaultfd does not exist");
    else
        snprintf(dev, sizeof dev, "/dev/userfaultfd: %.60s (errno %d)", strerror(ed), ed);
    if (es == ENOSYS && (ed == ENOENT || ed == ENODEV || ed == ENOTTY)) {
        snprintf(buf, n,
                 "userfaultfd not available: userfaultfd(2): ENOSYS (%.40s); %s. The kernel "
                 "lacks CONFIG_USERFAULTFD or is too old: artgc's minor mode needs Linux >= 5.14 "
                 "(UFFD_FEATURE_MINOR_SHMEM), move mode >= 6.8 (UFFDIO_MOVE). "
                 "Only --mode stw works here.",
                 strerror(es), dev);
    } else if (es == EPERM || es == EACCES) {
        snprintf(buf, n,
                 "userfaultfd not permitted: userfaultfd(2): %.40s (also with "
                 "UFFD_USER_MODE_ONLY); %s. Fix one: `sysctl -w vm.unprivileged_userfaultfd=1`; "
                 "or read/write access to /dev/userfaultfd for this user (a group, or `setfacl -m "
                 "u:$USER:rw /dev/userfaultfd`); or CAP_SYS_PTRACE; in a container, allow "
                 "userfaultfd in seccomp. Until then only --mode stw works.",
                 strerror(es), dev);
    } else {
        snprintf(buf, n,
                 "userfaultfd could not be opened: userfaultfd(2): %.60s (errno %d); %s. "
                 "Only --mode stw works until this is fixed.",
                 strerror(es), es, dev);
    }
}

/* UFFDIO_API handshake on a fresh fd. Returns 0 or -errno. */
static int api_handshake(int fd, uint64_t features, uint64_t *got_features, uint64_t *ioctls)
{
    struct uffdio_api api;
    memset(&api, 0, sizeof api);
    api.api = UFFD_API;
    api.features = features;
    if (ioctl(fd, UFFDIO_API, &api) != 0)
        return -errno;
    if (got_features)
        *got_features = api.features;
    if (ioctls)
        *ioctls = api.ioctls;
    return 0;
}

static agc_uffd_caps cached;
static pthread_once_t cached_once = PTHREAD_ONCE_INIT;

static void caps_compute(void)
{
    agc_uffd_caps *c = &cached;
    memset(c, 0, sizeof *c);
    open_result r;
    open_raw(&r);
    if (r.fd < 0) {
        explain_unavailable(&r, c->reason, sizeof c->reason);
        return;
    }
    /* features = 0: the kernel answers with every feature it offers. */
    uint64_t feat = 0, ioctls = 0;
    int rc = api_handshake(r.fd, 0, &feat, &ioctls);
    close(r.fd);
    if (rc != 0) {
        snprintf(c->reason, sizeof c->reason,
                 "userfaultfd opened but the UFFDIO_API handshake failed: %s (errno %d). "
                 "Only --mode stw works on this kernel.",
                 strerror(-rc), -rc);
        return;
    }
    c->available = 1;
    c->via = r.via;
    c->features = feat;
    c->ioctls = ioctls;
    c->minor_shmem = !!(feat & UFFD_FEATURE_MINOR_SHMEM);
    c->missing_shmem = !!(feat & UFFD_FEATURE_MISSING_SHMEM);
    c->sigbus = !!(feat & UFFD_FEATURE_SIGBUS);
    c->move = !!(feat & UFFD_FEATURE_MOVE);
    c->wp = !!(feat & UFFD_FEATURE_PAGEFAULT_FLAG_WP);
    c->thread_id = !!(feat & UFFD_FEATURE_THREAD_ID);
    /* Confirm the kernel really accepts everything artgc may ask for at once. */
    uint64_t want = feat & (UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MISSING_SHMEM |
                            UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MOVE | UFFD_FEATURE_THREAD_ID);
    open_raw(&r);
    if (r.fd >= 0) {
        rc = api_handshake(r.fd, want, NULL, NULL);
        close(r.fd);
        if (rc != 0)
            snprintf(c->reason, sizeof c->reason,
                     "note: the kernel offered features 0x%llx but refused them together (%s)",
                     (unsigned long long)want, strerror(-rc));
    }
}

/* For the tests: ARTGC_UFFD_HIDE=move,minor_shmem,... makes artgc behave as
 * on a kernel without those features (the probe reports them missing and the
 * modes that need them are refused with the usual message). */
static void hide_by_env(agc_uffd_caps *c)
{
    const char *v = getenv("ARTGC_UFFD_HIDE");
    if (!v || !*v)
        return;
    static const struct { const char *name; uint64_t bit; size_t field; } hide[] = {
        {"minor_shmem", UFFD_FEATURE_MINOR_SHMEM, offsetof(agc_uffd_caps, minor_shmem)},
        {"missing_shmem", UFFD_FEATURE_MISSING_SHMEM, offsetof(agc_uffd_caps, missing_shmem)},
        {"sigbus", UFFD_FEATURE_SIGBUS, offsetof(agc_uffd_caps, sigbus)},
        {"move", UFFD_FEATURE_MOVE, offsetof(agc_uffd_caps, move)},
    };
    for (size_t i = 0; i < sizeof hide / sizeof hide[0]; i++) {
        const char *p = strstr(v, hide[i].name);
        size_t n = strlen(hide[i].name);
        if (p && (p == v || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) {
            c->features &= ~hide[i].bit;
            *(int *)((char *)c + hide[i].field) = 0;
        }
    }
}

int agc_uffd_caps_get(agc_uffd_caps *caps)
{
    if (agc_uffd_disabled_by_env()) {
        memset(caps, 0, sizeof *caps);
        caps->disabled_by_env = 1;
        snprintf(caps->reason, sizeof caps->reason,
                 "userfaultfd is disabled by ARTGC_DISABLE_UFFD=1 in the environment (artgc "
                 "behaves as on a kernel without it); unset ARTGC_DISABLE_UFFD to use the "
                 "copy, minor and move modes. --mode stw always works.");
        return 0;
    }
    pthread_once(&cached_once, caps_compute);
    *caps = cached;
    hide_by_env(caps);
    return 0;
}

static const struct {
    unsigned want;
    uint64_t feature;
    const char *what;
} feature_names[] = {
    {AGC_UFFD_WANT_SIGBUS, UFFD_FEATURE_SIGBUS,
     "UFFD_FEATURE_SIGBUS (fault delivery by SIGBUS in the faulting thread, Linux >= 4.14; "
     "needed by --delivery sigbus, --delivery thread works without it)"},
    {AGC_UFFD_WANT_MINOR_SHMEM, UFFD_FEATURE_MINOR_SHMEM,
     "UFFD_FEATURE_MINOR_SHMEM (minor faults on shared memory + UFFDIO_CONTINUE, Linux >= 5.14; "
     "needed by --mode minor)"},
    {AGC_UFFD_WANT_MISSING_SHMEM, UFFD_FEATURE_MISSING_SHMEM,
     "UFFD_FEATURE_MISSING_SHMEM (missing faults on shared memory, Linux >= 4.11; "
     "needed by --mode copy)"},
    {AGC_UFFD_WANT_MOVE, UFFD_FEATURE_MOVE,
     "UFFD_FEATURE_MOVE (UFFDIO_MOVE, Linux >= 6.8; needed by --mode move)"},
    {AGC_UFFD_WANT_THREAD_ID, UFFD_FEATURE_THREAD_ID,
     "UFFD_FEATURE_THREAD_ID (faulting thread id in fault messages, Linux >= 4.14)"},
};

int agc_uffd_open(unsigned want)
{
    agc_uffd_caps caps;
    agc_uffd_caps_get(&caps);
    if (!caps.available) {
        FAIL(AGC_EUNSUPPORTED, "%s (see `artgc probe`)", caps.reason);
        return -1;
    }
    uint64_t features = 0;
    for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++) {
        if (!(want & feature_names[i].want))
            continue;
        if (!(caps.features & feature_names[i].feature)) {
            FAIL(AGC_EUNSUPPORTED,
                 "this kernel's userfaultfd does not offer %s; see the features line of "
                 "`artgc probe`",
                 feature_names[i].what);
            return -1;
        }
        features |= feature_names[i].feature;
    }
    open_result r;
    open_raw(&r);
    if (r.fd < 0) {
        char buf[512];
        explain_unavailable(&r, buf, sizeof buf);
        FAIL(AGC_ESYS, "%s", buf);
        return -1;
    }
    uint64_t got = 0;
    int rc = api_handshake(r.fd, features, &got, NULL);
    if (rc != 0 || (got & features) != features) {
        close(r.fd);
        char buf[96];
        snprintf(buf, sizeof buf, "0x%llx: %s", (unsigned long long)features,
                 rc ? strerror(-rc) : "not granted");
        FAIL(AGC_EUNSUPPORTED, "the kernel refused the userfaultfd features %s; see `artgc probe`",
             buf);
        return -1;
    }
    last_code = AGC_OK;
    return r.fd;
}

/* ---- registration ----------------------------------------------------- */

int agc_uffd_register(int fd, void *addr, size_t len, int modes)
{
    struct uffdio_register reg;
    memset(&reg, 0, sizeof reg);
    reg.range.start = (uint64_t)(uintptr_t)addr;
    reg.range.len = len;
    if (modes & AGC_UFFD_REG_MISSING)
        reg.mode |= UFFDIO_REGISTER_MODE_MISSING;
    if (modes & AGC_UFFD_REG_MINOR)
        reg.mode |= UFFDIO_REGISTER_MODE_MINOR;
    if (!reg.mode) {
        last_code = AGC_EINVAL;
        agc_fail(AGC_EINVAL, "agc_uffd_register: no mode given (modes=%d)", modes);
        return -EINVAL;
    }
    if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0) {
        int e = errno;
        const char *hint = "";
        if (e == EINVAL)
            hint = " (the range must be page aligned and lie inside mappings of one kind: MINOR "
                   "needs a shared memfd/shmem mapping and UFFD_FEATURE_MINOR_SHMEM, MISSING on "
                   "a memfd needs UFFD_FEATURE_MISSING_SHMEM)";
        else if (e == EBUSY)
            hint = " (the range is already registered with another userfaultfd)";
        else if (e == EPERM)
            hint = " (the mapping must be writable)";
        else if (e == ENOMEM)
            hint = " (the range is not fully mapped)";
        last_code = AGC_ESYS;
        agc_fail(AGC_ESYS, "UFFDIO_REGISTER of %zu bytes at %p (%s%s) failed: %s%s", len, addr,
                 (modes & AGC_UFFD_REG_MISSING) ? "MISSING " : "",
                 (modes & AGC_UFFD_REG_MINOR) ? "MINOR" : "", strerror(e), hint);
        return -e;
    }
    uint64_t need = 0;
    if (modes & AGC_UFFD_REG_MINOR)
        need |= (uint64_t)1 << AGC_UFFDIO_CONTINUE_NR;
    if (modes & AGC_UFFD_REG_MISSING)
        need |= (uint64_t)1 << _UFFDIO_COPY;
    if ((reg.ioctls & need) != need) {
        agc_uffd_unregister(fd, addr, len);
        last_code = AGC_EUNSUPPORTED;
        agc_fail(AGC_EUNSUPPORTED,
                 "the kernel registered %zu bytes at %p but does not offer %s on it (ioctls 0x%llx); "
                 "see `artgc probe`",
                 len, addr, (modes & AGC_UFFD_REG_MINOR) ? "UFFDIO_CONTINUE" : "UFFDIO_COPY",
                 (unsigned long long)reg.ioctls);
        return -EOPNOTSUPP;
    }
    return 0;
}

int agc_uffd_unregister(int fd, void *addr, size_t len)
{
    struct uffdio_range r = {.start = (uint64_t)(uintptr_t)addr, .len = len};
    if (ioctl(fd, UFFDIO_UNREGISTER, &r) != 0) {
        int e = errno;
        last_code = AGC_ESYS;
        agc_fail(AGC_ESYS, "UFFDIO_UNREGISTER of %zu bytes at %p failed: %s", len, addr,
                 strerror(e));
        return -e;
    }
    return 0;
}

/* ---- resolution (async-signal-safe) ------------------------------------ */

/* Progress reported in a struct's result field: bytes done if > 0. */
static inline uint64_t progress(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

int agc_uffd_wake(int fd, void *addr, size_t len)
{
    struct uffdio_range r = {.start = (uint64_t)(uintptr_t)addr, .len = len};
    for (;;) {
        if (ioctl(fd, UFFDIO_WAKE, &r) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* A page found already mapped: nobody may be left waiting on it. The ioctl
 * that mapped it woke its waiters unless it was DONTWAKE; waking again is
 * cheap and harmless. */
static inline void wake_existing(int fd, uint64_t at, int dontwake)
{
    if (!dontwake)
        agc_uffd_wake(fd, (void *)(uintptr_t)at, PAGE);
}

/* The four resolving ioctls, one step each: try [d, d + len) (source s
 * where there is one); return 0 or -1 with errno, and the bytes done. */
enum { RES_CONTINUE, RES_COPY, RES_ZEROPAGE, RES_MOVE };

static int resolve_step(int fd, int op, uint64_t d, uint64_t s, uint64_t len, int dontwake,
                        uint64_t *done)
{
    int rc;
    switch (op) {
    case RES_CONTINUE: {
        struct agc_uffdio_continue c = {.range = {d, len},
                                        .mode = dontwake ? AGC_UFFDIO_CONTINUE_MODE_DONTWAKE : 0};
        rc = ioctl(fd, AGC_UFFDIO_CONTINUE, &c);
        *done = progress(c.mapped);
        break;
    }
    case RES_COPY: {
        struct uffdio_copy c = {.dst = d, .src = s, .len = len,
                                .mode = dontwake ? UFFDIO_COPY_MODE_DONTWAKE : 0};
        rc = ioctl(fd, UFFDIO_COPY, &c);
        *done = progress(c.copy);
        break;
    }
    case RES_ZEROPAGE: {
        struct uffdio_zeropage z = {.range = {d, len},
                                    .mode = dontwake ? UFFDIO_ZEROPAGE_MODE_DONTWAKE : 0};
        rc = ioctl(fd, UFFDIO_ZEROPAGE, &z);
        *done = progress(z.zeropage);
        break;
    }
    default: {
        struct agc_uffdio_move m = {.dst = d, .src = s, .len = len,
                                    .mode = dontwake ? AGC_UFFDIO_MOVE_MODE_DONTWAKE : 0};
        rc = ioctl(fd, AGC_UFFDIO_MOVE, &m);
        *done = progress(m.move);
        break;
    }
    }
    return rc;
}

/* Resolve the whole range: retry on EAGAIN/EINTR from where the kernel got
 * to; a page already there (EEXIST) is stepped over (for MOVE its source
 * page stays with the caller). Returns 0, 1 if some page existed, -errno. */
static int resolve_range(int fd, int op, uint64_t d, uint64_t s, uint64_t len, int dontwake)
{
    uint64_t end = d + len;
    int existed = 0;
    while (d < end) {
        uint64_t done = 0;
        if (resolve_step(fd, op, d, s, end - d, dontwake, &done) == 0)
            break;
        int e = errno;
        d += done;
        s += done;
        if (e == EAGAIN || e == EINTR) {
            if (!done)
                sched_yield();
            continue;
        }
        if (e == EEXIST) {
            existed = 1;
            wake_existing(fd, d, dontwake);
            d += PAGE;
            s += PAGE;
            continue;
        }
        return -e;
    }
    return existed;
}

int agc_uffd_continue(int fd, void *addr, size_t len, int dontwake)
{
    return resolve_range(fd, RES_CONTINUE, (uint64_t)(uintptr_t)addr, 0, len, dontwake);
}

int agc_uffd_copy(int fd, void *dst, const void *src, size_t len, int dontwake)
{
    return resolve_range(fd, RES_COPY, (uint64_t)(uintptr_t)dst, (uint64_t)(uintptr_t)src, len, dontwake);
}

int agc_uffd_zeropage(int fd, void *dst, size_t len, int dontwake)
{
    return resolve_range(fd, RES_ZEROPAGE, (uint64_t)(uintptr_t)dst, 0, len, dontwake);
}

int agc_uffd_move(int fd, void *dst, void *src, size_t len, int dontwake)
{
    return resolve_range(fd, RES_MOVE, (uint64_t)(uintptr_t)dst, (uint64_t)(uintptr_t)src, len, dontwake);
}
