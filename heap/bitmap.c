/* Bitmap helpers for the mark and live-words bitmaps. */
#include "internal.h"

void bm_set_range(uint64_t *bm, uint64_t from, uint64_t n)
{
    uint64_t end = from + n;
    while (from < end && (from & 63)) {
        bm_set(bm, from);
        from++;
    }
    while (from + 64 <= end) {
        bm[from >> 6] = ~0ull;
        from += 64;
    }
    while (from < end) {
        bm_set(bm, from);
        from++;
    }
}

/* The first set bit in [from, end) of the bitmap xor flip (flip 0: set
 * bits; ~0: clear bits). */
static uint64_t scan_next(const uint64_t *bm, uint64_t from, uint64_t end, uint64_t flip)
{
    if (from >= end)
        return AGC_NONE;
    uint64_t i = from >> 6;
    uint64_t w = (bm[i] ^ flip) & (~0ull << (from & 63));
    uint64_t last = (end - 1) >> 6;
    for (;;) {
        if (w) {
            uint64_t r = (i << 6) + (uint64_t)__builtin_ctzll(w);
            return r < end ? r : AGC_NONE;
        }
        if (++i > last)
            return AGC_NONE;
        w = bm[i] ^ flip;
    }
}

uint64_t bm_next(const uint64_t *bm, uint64_t from, uint64_t end) { return scan_next(bm, from, end, 0); }
uint64_t bm_next_zero(const uint64_t *bm, uint64_t from, uint64_t end) { return scan_next(bm, from, end, ~0ull); }

uint64_t bm_prev(const uint64_t *bm, uint64_t at) { return bm_prev_floor(bm, at, 0); }

uint64_t bm_prev_floor(const uint64_t *bm, uint64_t at, uint64_t floor)
{
    if (floor > at)
        return AGC_NONE;
    uint64_t i = at >> 6, i0 = floor >> 6;
    uint64_t sh = 63 - (at & 63);
    uint64_t w = (bm[i] << sh) >> sh;
    for (;;) {
        if (i == i0)
            w &= ~0ull << (floor & 63);
        if (w)
            return (i << 6) + 63 - (uint64_t)__builtin_clzll(w);
        if (i == i0)
            return AGC_NONE;
        w = bm[--i];
    }
}
