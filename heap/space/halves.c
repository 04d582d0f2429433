/* Which memfd half each part of a shmem heap lives in. A full cycle moves
 * every page to the other half; a young cycle leaves the old generation
 * [0, K) where it is and moves only [K, cap). After young cycles the live
 * space is a few runs alternating between the halves: a list of the
 * offsets where the half changes (cuts). Each young cycle toggles at its K:
 * it takes an existing cut as its K when one lies a little below the old
 * generation's end (the old pages between are then copied as they are:
 * what one cycle promoted), so the list stays short. */
#include "internal.h"
#include "space/space.h"

int agc_halves_at(const agc_halves *l, uint64_t off)
{
    int h = l->half0;
    for (int i = 0; i < l->ncut && l->cut[i] <= off; i++)
        h ^= 1;
    return h;
}

uint64_t agc_halves_run_end(const agc_halves *l, uint64_t off, uint64_t end)
{
    for (int i = 0; i < l->ncut; i++)
        if (l->cut[i] > off)
            return l->cut[i] < end ? l->cut[i] : end;
    return end;
}

void agc_halves_toggle(agc_halves *l, uint64_t at)
{
    if (at == 0) {
        l->half0 ^= 1;
        return;
    }
    int i = 0;
    while (i < l->ncut && l->cut[i] < at)
        i++;
    if (i < l->ncut && l->cut[i] == at) {       /* the half no longer changes there */
        for (int j = i; j + 1 < l->ncut; j++)
            l->cut[j] = l->cut[j + 1];
        l->ncut--;
        return;
    }
    if (l->ncut >= AGC_MAX_CUTS)
        return;          /* agc_halves_keep never asks for this */
    for (int j = l->ncut; j > i; j--)
        l->cut[j] = l->cut[j - 1];
    l->cut[i] = at;
    l->ncut++;
}

/* A young cycle's K for an old generation ending at page boundary `want`:
 * the highest cut at most `near` below it (no new cut; the pages between
 * are copied), else `want` itself (a new cut), else, with the list full,
 * the highest cut below `want` or 0 (the old generation copied whole:
 * correct, rare, and never leaves more cuts). */
uint64_t agc_halves_keep(const agc_halves *l, uint64_t want, uint64_t near)
{
    uint64_t below = 0;
    int have = 0;
    for (int i = 0; i < l->ncut && l->cut[i] <= want; i++) {
        below = l->cut[i];
        have = 1;
    }
    if (have && want - below <= near)
        return below;
    if (l->ncut < AGC_MAX_CUTS)
        return want;
    return have ? below : 0;
}
