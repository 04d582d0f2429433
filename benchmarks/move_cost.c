/* What installing a page costs on this machine: UFFDIO_COPY against
 * UFFDIO_MOVE, one page at a time from a scratch page, in runs out of huge
 * pages, and whole 2 MiB huge pages (one PMD), each alone and with another
 * thread of the process running on the other CPU (a 4 KiB MOVE flushes the
 * source page's TLB entry on every CPU running the process: an IPI).
 *
 *     cc -O2 -Wall -Wextra -pthread benchmarks/move_cost.c -o /tmp/move_cost && /tmp/move_cost
 *
 * The figures in docs/modes.md ("Whole-block moves") come from it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "../heap/os/uffd_sys.h"

#define PAGE 4096ul
#define HUGE (2ul << 20)
#define SPAN (128ul << 20)

static volatile int stop;

static void *spinner(void *arg)
{
    volatile char *p = arg;
    while (!stop)
        p[0]++;
    return NULL;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* n bytes of private anonymous memory, 1 GiB-aligned (huge pages line up) */
static char *aligned_map(size_t n)
{
    char *p = mmap(NULL, n + (1ul << 30), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return (char *)(((uintptr_t)p + (1ul << 30) - 1) & ~((1ul << 30) - 1));
}

static int open_uffd(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_MOVE};
    if (fd < 0 || ioctl(fd, UFFDIO_API, &api) != 0) {
        perror("userfaultfd (needs UFFD_FEATURE_MOVE)");
        exit(1);
    }
    return fd;
}

static void reg_missing(int fd, char *p, size_t n)
{
    struct uffdio_register r = {.range = {(uintptr_t)p, n}, .mode = UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl(fd, UFFDIO_REGISTER, &r) != 0) {
        perror("UFFDIO_REGISTER");
        exit(1);
    }
}

static void install(int fd, int move, char *dst, char *src, size_t len)
{
    int rc;
    if (move) {
        struct agc_uffdio_move m = {.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len};
        rc = ioctl(fd, AGC_UFFDIO_MOVE, &m);
    } else {
        struct uffdio_copy c = {.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len};
        rc = ioctl(fd, UFFDIO_COPY, &c);
    }
    if (rc != 0) {
        perror(move ? "UFFDIO_MOVE" : "UFFDIO_COPY");
        exit(1);
    }
}

/* us per page of installing SPAN into a registered range, `run` bytes an
 * ioctl, from a refilled scratch page (run == PAGE, scratch) or out of
 * populated (huge where the kernel gives them) source memory */
static double measure(int move, size_t run, int scratch, int busy)
{
    int fd = open_uffd();
    char *dst = aligned_map(SPAN), *src = NULL, *buf = NULL;
    madvise(dst, SPAN, scratch ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
    if (scratch) {
        buf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    } else {
        src = aligned_map(SPAN);
        madvise(src, SPAN, MADV_HUGEPAGE);
        memset(src, 1, SPAN);
    }
    reg_missing(fd, dst, SPAN);
    pthread_t t;
    char *other = calloc(1, PAGE);
    stop = 0;
    if (busy)
        pthread_create(&t, NULL, spinner, other);
    usleep(10000);
    double t0 = now();
    for (size_t o = 0; o < SPAN; o += run) {
        if (scratch) {
            memset(buf, (int)(o / PAGE), PAGE);   /* a built page; after a MOVE this write refills it */
            install(fd, move, dst + o, buf, PAGE);
        } else {
            install(fd, move, dst + o, src + o, run);
        }
    }
    double t1 = now();
    stop = 1;
    if (busy)
        pthread_join(t, NULL);
    free(other);
    close(fd);
    munmap(dst, SPAN);      /* the rest of each reservation was never touched */
    if (src)
        munmap(src, SPAN);
    if (buf)
        munmap(buf, PAGE);
    return (t1 - t0) * 1e6 / (double)(SPAN / PAGE);
}

int main(void)
{
    struct { const char *what; int move; size_t run; int scratch; } cases[] = {
        {"one page, COPY from a scratch page", 0, PAGE, 1},
        {"one page, MOVE from a scratch page (refilled by the next write)", 1, PAGE, 1},
        {"16 pages a call, COPY", 0, 16 * PAGE, 0},
        {"16 pages a call, MOVE out of huge pages", 1, 16 * PAGE, 0},
        {"2 MiB a call, MOVE of a huge page (one PMD)", 1, HUGE, 0},
    };
    printf("%-66s %10s %14s\n", "install (us per page)", "alone", "thread busy");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        printf("%-66s %10.3f %14.3f\n", cases[i].what,
               measure(cases[i].move, cases[i].run, cases[i].scratch, 0),
               measure(cases[i].move, cases[i].run, cases[i].scratch, 1));
    return 0;
}
