/* How long this machine takes the CPU away from a thread that never
 * blocks: a loop reading the monotonic clock for 10 s counts the gaps
 * between consecutive reads over 1 ms and 5 ms and the longest. On a VM
 * these are the host descheduling the vCPU (steal); any pause or
 * time-to-safepoint can contain one.
 *
 *     cc -O2 -Wall -Wextra benchmarks/vcpu_gaps.c -o /tmp/vcpu_gaps && /tmp/vcpu_gaps */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int main(void)
{
    const uint64_t span = 10ull * 1000000000ull;
    uint64_t t0 = now_ns(), last = t0, over1 = 0, over5 = 0, worst = 0;
    while (last - t0 < span) {
        uint64_t t = now_ns(), gap = t - last;
        over1 += gap > 1000000;
        over5 += gap > 5000000;
        worst = gap > worst ? gap : worst;
        last = t;
    }
    printf("10 s of a spinning thread: gaps over 1 ms %llu, over 5 ms %llu, longest %.2f ms\n",
           (unsigned long long)over1, (unsigned long long)over5, (double)worst / 1e6);
    return 0;
}
