/* Kernel userfaultfd ABI pieces that older <linux/userfaultfd.h> lack.
 * Private to uffd.c, fault.c, probe.c and uffd_selftest.c. The values are the
 * kernel's uapi ones; the structs are our own copies so the code compiles
 * against headers from before the feature existed. */
#ifndef ARTGC_UFFD_SYS_H
#define ARTGC_UFFD_SYS_H
#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/userfaultfd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC
#define USERFAULTFD_IOC 0xAA
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif

#ifndef UFFD_FEATURE_SIGBUS
#define UFFD_FEATURE_SIGBUS (1 << 7)
#endif
#ifndef UFFD_FEATURE_THREAD_ID
#define UFFD_FEATURE_THREAD_ID (1 << 8)
#endif
#ifndef UFFD_FEATURE_MINOR_SHMEM
#define UFFD_FEATURE_MINOR_SHMEM (1 << 10)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

#ifndef UFFD_PAGEFAULT_FLAG_WRITE
#define UFFD_PAGEFAULT_FLAG_WRITE (1 << 0)
#endif
#ifndef UFFD_PAGEFAULT_FLAG_WP
#define UFFD_PAGEFAULT_FLAG_WP (1 << 1)
#endif
#ifndef UFFD_PAGEFAULT_FLAG_MINOR
#define UFFD_PAGEFAULT_FLAG_MINOR (1 << 2)
#endif

#ifndef UFFDIO_REGISTER_MODE_MINOR
#define UFFDIO_REGISTER_MODE_MINOR ((uint64_t)1 << 2)
#endif

/* UFFDIO_CONTINUE (Linux 5.13) and UFFDIO_MOVE (6.8), with our own structs. */
struct agc_uffdio_continue {
    struct uffdio_range range;
    uint64_t mode;
    int64_t mapped;
};
struct agc_uffdio_move {
    uint64_t dst;
    uint64_t src;
    uint64_t len;
    uint64_t mode;
    int64_t move;
};
#define AGC_UFFDIO_CONTINUE_NR 0x07
#define AGC_UFFDIO_MOVE_NR 0x05
#define AGC_UFFDIO_CONTINUE _IOWR(0xAA, AGC_UFFDIO_CONTINUE_NR, struct agc_uffdio_continue)
#define AGC_UFFDIO_MOVE _IOWR(0xAA, AGC_UFFDIO_MOVE_NR, struct agc_uffdio_move)
#define AGC_UFFDIO_CONTINUE_MODE_DONTWAKE ((uint64_t)1 << 0)
#define AGC_UFFDIO_MOVE_MODE_DONTWAKE ((uint64_t)1 << 0)
#define AGC_UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((uint64_t)1 << 1)

#define AGC_UFFD_PAGE 4096ul
#endif
