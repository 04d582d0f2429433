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
#endif
