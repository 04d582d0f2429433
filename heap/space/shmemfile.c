/* The file behind a shmem heap, and whether its pages are huge.
 *
 * A memfd lives in the kernel's internal tmpfs, whose huge pages follow
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled (`never` on most
 * distributions, this machine's too): then every fresh page of the heap is
 * a 4 KiB allocation, clear and page-cache insert (~5 us), and giving one
 * back a page-cache removal. With huge_pages the heap's file is instead
 * made in a tmpfs instance of its own, mounted with huge=always but never
 * attached to any directory (fsopen/fsconfig/fsmount, Linux 5.2; needs
 * CAP_SYS_ADMIN): a fresh 2 MiB of it is one allocation and clear, a punch
 * of 2 MiB one removal. The instance goes away with its last file
 * reference, so nothing is left behind. Where that is refused the heap is
 * a memfd with MADV_HUGEPAGE on its mappings, which the kernel honours when
 * shmem_enabled is advise, always or within_size (else: small pages).
 * Minor faults and UFFDIO_CONTINUE work on either: CONTINUE maps the 4 KiB
 * of a huge folio that was asked for. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "internal.h"
#include "space/space.h"

#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#define AGC_FSOPEN_CLOEXEC 0x1
#define AGC_FSCONFIG_SET_STRING 1
#define AGC_FSCONFIG_CMD_CREATE 6
#define AGC_FSMOUNT_CLOEXEC 0x1

/* A file of `size` bytes in a detached tmpfs with huge=always; -1 with
 * errno (EPERM without CAP_SYS_ADMIN, ENOSYS on an old kernel). */
static int huge_tmpfs_file(uint64_t size)
{
    int fs = (int)syscall(SYS_fsopen, "tmpfs", AGC_FSOPEN_CLOEXEC);
    if (fs < 0)
        return -1;
    int mnt = -1, fd = -1, err = 0;
    if (syscall(SYS_fsconfig, fs, AGC_FSCONFIG_SET_STRING, "huge", "always", 0) != 0 ||
        syscall(SYS_fsconfig, fs, AGC_FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0 ||
        (mnt = (int)syscall(SYS_fsmount, fs, AGC_FSMOUNT_CLOEXEC, 0)) < 0) {
        err = errno;
        goto out;
    }
    /* named, then unlinked: /proc/<pid>/fd shows "/artgc-heap (deleted)",
     * which the memory sampler recognises as the heap's file */
    fd = openat(mnt, "artgc-heap", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno;
        goto out;
    }
    unlinkat(mnt, "artgc-heap", 0);
    if (ftruncate(fd, (off_t)size) != 0) {
        err = errno;
        close(fd);
        fd = -1;
    }
out:
    if (mnt >= 0)
        close(mnt);
    close(fs);
    errno = err;
    return fd;
}

/* Whether the kernel gives a memfd mapping with MADV_HUGEPAGE huge pages. */
static int shmem_enabled_allows_advise(void)
{
    char buf[128];
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, "[advise]") || strstr(buf, "[always]") || strstr(buf, "[within_size]") ||
           strstr(buf, "[force]");
}

/* The heap's file of `size` bytes into h->mem.memfd, and how its pages
 * are huge into h->mem.shmem_huge. */
int agc_shmem_file(agc_heap *h, uint64_t size)
{
    h->mem.shmem_huge = AGC_SHMEM_SMALL;
    if (h->opt.huge_pages) {
        int fd = huge_tmpfs_file(size);
        if (fd >= 0) {
            h->mem.shmem_huge = AGC_SHMEM_HUGE_TMPFS;
            h->mem.memfd = fd;
            return AGC_OK;
        }
    }
    int fd = memfd_create("artgc-heap", MFD_CLOEXEC);
    if (fd < 0)
        return agc_fail(AGC_ESYS, "memfd_create failed: %s", strerror(errno));
    if (ftruncate(fd, (off_t)size) != 0) {
        int e = errno;
        close(fd);
        return agc_fail(AGC_ESYS, "cannot size the heap memfd to %llu bytes: %s",
                        (unsigned long long)size, strerror(e));
    }
    if (h->opt.huge_pages && shmem_enabled_allows_advise())
        h->mem.shmem_huge = AGC_SHMEM_HUGE_ADVISE;
    h->mem.memfd = fd;
    return AGC_OK;
}

/* A mapping of the heap's file: advised for huge pages when the file is a
 * memfd that the kernel may give them to. */
void agc_shmem_advise(agc_heap *h, void *at, uint64_t len)
{
    if (h->mem.shmem_huge == AGC_SHMEM_HUGE_ADVISE)
        madvise(at, len, MADV_HUGEPAGE);
}

const char *agc_shmem_huge_name(int how)
{
    switch (how) {
    case AGC_SHMEM_HUGE_TMPFS: return "tmpfs";
    case AGC_SHMEM_HUGE_ADVISE: return "madvise";
    default: return "none";
    }
}
