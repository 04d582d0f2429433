/* artgc probe: capabilities and the physical floor, measured in C. */
#ifndef ARTGC_PROBE_H
#define ARTGC_PROBE_H
#include <stdint.h>
#include "uffd.h"

/* A figure that cannot be measured is < 0 and its reason is in the matching
 * *_reason string. Times are medians over many pages, in microseconds. */
typedef struct agc_probe_limits {
    double memcpy_gbps;
    double minor_continue_sigbus_us, minor_continue_thread_us;
    double missing_copy_sigbus_us, missing_copy_thread_us;
    double continue_per_page_us, continue_range_per_page_us;
    double copy_per_page_us, move_per_page_us;
    double mremap_1g_aligned_ms;
    char minor_reason[160], missing_reason[160], move_reason[160], mremap_reason[160];
} agc_probe_limits;

/* pages: pages per measurement (0 = default); quick: fewer repetitions. */
int agc_probe_limits_measure(agc_probe_limits *out, uint64_t pages, int quick);
/* Added: figures beyond the contract's, same conventions (< 0: not measured). */
typedef struct agc_probe_extras {
    double minor_continue_thread_samecore_us;  /* handler thread on the faulting CPU */
    double missing_copy_thread_samecore_us;
    double copy_anon_per_page_us;              /* UFFDIO_COPY into anonymous memory (ART's case) */
    double copy_anon_busy_per_page_us;         /* the same with another thread of the process running on the other CPU */
    double move_busy_per_page_us;              /* UFFDIO_MOVE, another thread running: a TLB-flush IPI per page */
    double mremap_2m_aligned_ms;               /* the same mremap, only 2 MiB aligned */
    double mremap_populated_mib;               /* populated size the mremap figures move */
    double memcpy_mib;                         /* buffer size of memcpy_gbps */
    uint64_t pages;                            /* samples (pages) per fault/ioctl figure */
    int fault_cpu, handler_cpu;                /* where the faulting / handler threads ran */
    char sigbus_reason[160];                   /* why the *_sigbus_us figures are missing */
    char samecore_reason[160];
    char copy_anon_reason[160];
    char busy_reason[160];                     /* why the *_busy_* figures are missing */
} agc_probe_extras;
/* agc_probe_limits_measure plus the extras (ex may be NULL). */
int agc_probe_measure_ex(agc_probe_limits *out, agc_probe_extras *ex, uint64_t pages, int quick);
#endif
