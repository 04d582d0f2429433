/* What a small memfd page costs the heap on this machine, per 4 KiB page:
 * MADV_POPULATE_WRITE of fresh pages in 128 KiB steps (what a mutator's
 * map of its next memory does on shmem), punching them again
 * (FALLOC_FL_PUNCH_HOLE, what giving from-space back does), fallocate
 * first and then the populate, and a plain touch of each page; then pages
 * that exist and were written, their page-table entries dropped
 * (MADV_DONTNEED), mapped again by MADV_POPULATE_WRITE and by a read of
 * each (a read fault maps up to 16 written pages at once: fault-around;
 * never where userfaultfd MINOR is registered). 256 MiB, four rounds in
 * one process. On the 2-core VM (2026-12-07, two runs): populate 2.3-3.2
 * us, punch 0.73-1.0, fallocate 0.87-1.1 + populate of the allocated pages
 * 1.0-1.5, touch 2.4-2.8. After a reboot (2026-12-07 14:47 UTC, one run,
 * four rounds, the host busier): populate 3.07-3.98, punch 1.16-1.50,
 * fallocate 1.19-1.62 + populate 1.41-1.82, touch 3.53-4.55; written pages
 * mapped again 1.20-1.64 by populate, 0.33-0.42 by reads.
 *
 *     cc -O2 -Wall -Wextra benchmarks/shmem_fresh_pages.c -o /tmp/shmem_fresh_pages
 *     /tmp/shmem_fresh_pages
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void punch(int fd, size_t size)
{
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)size) != 0)
        perror("fallocate(PUNCH_HOLE)");
}

/* MADV_POPULATE_WRITE of [0, size) in steps, as a mutator maps its next
 * memory on shmem; the time it took. */
static double populate(volatile char *p, size_t size, size_t step)
{
    double t0 = now();
    for (size_t o = 0; o < size; o += step)
        madvise((char *)p + o, step, MADV_POPULATE_WRITE);
    return now() - t0;
}

/* The file's pages of [0, size) allocated in steps, mapped nowhere. */
static double allocate(int fd, size_t size, size_t step)
{
    double t0 = now();
    for (size_t o = 0; o < size; o += step)
        if (fallocate(fd, 0, (off_t)o, (off_t)step) != 0)
            perror("fallocate");
    return now() - t0;
}

int main(void)
{
    const size_t size = 256ul << 20, step = 128ul << 10;
    int fd = memfd_create("shmem_fresh_pages", 0);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
        perror("memfd");
        return 1;
    }
    volatile char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    const double pages = (double)size / 4096.0;
    for (int round = 0; round < 4; round++) {
        double fresh = populate(p, size, step);
        double t0 = now();
        punch(fd, size);
        double punched = now() - t0;
        double alloc = allocate(fd, size, step);
        double mapped = populate(p, size, step);
        punch(fd, size);
        t0 = now();
        for (size_t o = 0; o < size; o += 4096)
            p[o] = 1;
        double touched = now() - t0;
        /* the pages exist and were written: map them again */
        madvise((char *)p, size, MADV_DONTNEED);
        double again = populate(p, size, step);
        madvise((char *)p, size, MADV_DONTNEED);
        t0 = now();
        for (size_t o = 0; o < size; o += 4096)
            (void)p[o];
        double read = now() - t0;
        punch(fd, size);
        printf("us per page: populate %.2f | punch %.2f | fallocate %.2f + populate %.2f | touch %.2f | "
               "written pages mapped again: populate %.2f, read %.2f\n",
               fresh / pages * 1e6, punched / pages * 1e6, alloc / pages * 1e6, mapped / pages * 1e6,
               touched / pages * 1e6, again / pages * 1e6, read / pages * 1e6);
    }
    return 0;
}
