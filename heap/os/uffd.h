/* The userfaultfd layer: open, negotiate, register, resolve. */
#ifndef ARTGC_UFFD_H
#define ARTGC_UFFD_H
#include <stddef.h>
#include <stdint.h>

enum { AGC_UFFD_VIA_NONE = 0, AGC_UFFD_VIA_SYSCALL = 1, AGC_UFFD_VIA_DEV = 2 };

typedef struct agc_uffd_caps {
    int available;            /* a userfaultfd could be opened and negotiated */
    int via;                  /* AGC_UFFD_VIA_* */
    int disabled_by_env;      /* ARTGC_DISABLE_UFFD=1 */
    uint64_t features;        /* raw feature bits the kernel granted */
    uint64_t ioctls;          /* raw ioctl bits of the API handshake */
    int minor_shmem, missing_shmem, sigbus, move, wp, thread_id;
    char reason[512];         /* why not available / how to fix; "" when fine */
} agc_uffd_caps;

/* Fill caps (cached after the first call; ARTGC_DISABLE_UFFD is read each time). */
int agc_uffd_caps_get(agc_uffd_caps *caps);

/* Feature request bits for agc_uffd_open (subset of the kernel's). */
enum {
    AGC_UFFD_WANT_SIGBUS = 1 << 0,
    AGC_UFFD_WANT_MINOR_SHMEM = 1 << 1,
    AGC_UFFD_WANT_MISSING_SHMEM = 1 << 2,
    AGC_UFFD_WANT_MOVE = 1 << 3,
    AGC_UFFD_WANT_THREAD_ID = 1 << 4,
};
/* Open a userfaultfd (syscall, falling back to /dev/userfaultfd), O_CLOEXEC |
 * O_NONBLOCK, and negotiate UFFDIO_API with the wanted features. Returns the
 * fd, or -1 with agc_last_error set (naming the missing feature). */
int agc_uffd_open(unsigned want);

enum { AGC_UFFD_REG_MISSING = 1, AGC_UFFD_REG_MINOR = 2 };
int agc_uffd_register(int fd, void *addr, size_t len, int modes);
int agc_uffd_unregister(int fd, void *addr, size_t len);

/* Resolution ioctls. All handle EAGAIN and partial progress by retrying the
 * rest. Return 0 when the whole range is now mapped, 1 when (part of) it was
 * already mapped (EEXIST) and the rest is done, -errno on failure. */
int agc_uffd_continue(int fd, void *addr, size_t len, int dontwake);
int agc_uffd_copy(int fd, void *dst, const void *src, size_t len, int dontwake);
int agc_uffd_zeropage(int fd, void *dst, size_t len, int dontwake);
int agc_uffd_move(int fd, void *dst, void *src, size_t len, int dontwake);
int agc_uffd_wake(int fd, void *addr, size_t len);

/* Self-test used by the tests: a double-mapped memfd of npages; nthreads
 * threads read every page through the primary; each fault is resolved by
 * filling the page through the alias (pattern from page index and seed) and
 * installing it with method (0 CONTINUE on a MINOR fault, 1 COPY on a MISSING
 * fault, 2 MOVE on anonymous memory), delivered by delivery (0 sigbus,
 * 1 handler thread). Returns 0 if every thread read the expected bytes, else
 * -1 with agc_last_error set; faults_out counts faults resolved. */
int agc_uffd_selftest(int method, int delivery, int nthreads, uint64_t npages,
                      uint64_t seed, uint64_t *faults_out);
/* Added: the AGC_* code of the last failed agc_uffd_open/register/unregister
 * in this thread (AGC_EUNSUPPORTED when the kernel lacks something, AGC_ESYS
 * for other system errors); agc_last_error() has the message. Register and
 * unregister return 0 or -errno. */
int agc_uffd_errcode(void);
/* Added: 1 when ARTGC_DISABLE_UFFD is set (non-empty, not "0") right now. */
int agc_uffd_disabled_by_env(void);
#endif
