/* Generations: the card table, young cycles, promotion and the choice
 * between young and full cycles (gen.h has the layout).
 *
 * The write barrier dirties the card of every reference slot it stores to
 * (always on: one byte store). The invariant young cycles rely on: every
 * slot in the old generation that refers to a younger object lies on a
 * dirty card. It holds because
 *  - mutators dirty a card with every store;
 *  - the page builder dirties the card of every slot it writes below the
 *    next old end whose forwarded value lies at or above it (what becomes
 *    old this cycle and still refers to young objects);
 *  - a young cycle cleans a card only when it finds no young reference on
 *    it: concurrently (card cleaned first, then scanned, re-dirtied if a
 *    young reference was there; a store meanwhile dirties it again), and in
 *    the flip pause (world stopped) after forwarding.
 * Young marking traces from the roots and the dirty cards; with the SATB
 * barrier on, what the cards held at the snapshot is covered: a slot
 * overwritten since had its old value logged. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include "internal.h"

_Static_assert(AGC_CARD_SHIFT == AGC_CARD_SHIFT_PUB, "the barrier's card size is the card table's");

static void *zeroed(size_t len)
{
    void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static size_t page_obj_len(const agc_heap *h) { return (h->mem.cap / AGC_PAGE + 1) * 8; }

int agc_gen_alloc(agc_heap *h)
{
    h->gen.ncards = h->mem.cap / AGC_CARD + 1;
    h->gen.cards = zeroed(h->gen.ncards);
    h->gen.page_obj = zeroed(page_obj_len(h));
    return h->gen.cards && h->gen.page_obj ? 0 : -1;
}

void agc_gen_free(agc_heap *h)
{
    if (h->gen.cards)
        munmap(h->gen.cards, h->gen.ncards);
    if (h->gen.page_obj)
        munmap(h->gen.page_obj, page_obj_len(h));
    h->gen.cards = NULL;
    h->gen.page_obj = NULL;
}

uint64_t agc_gen_meta_bytes(const agc_heap *h) { return h->gen.ncards + page_obj_len(h); }

const char *agc_gen_reason_name(int why)
{
    static const char *const names[AGC_GEN_WHY_N] = {
        "generational off", "no old generation yet", "explicit: full", "allocation failure: full",
        "young throughput under twice the full cycles'", "heap pressure: under a quarter free",
        "young", "young: asked for", "dirty cards: young flip over young_flip_max"};
    return why >= 0 && why < AGC_GEN_WHY_N ? names[why] : "?";
}

/* The old generation's dirty cards now (mutators store cards meanwhile:
 * every read atomic; the table is page aligned, so are its 8-byte words). */
static uint64_t dirty_cards(const agc_heap *h)
{
    uint64_t ncards = (h->gen.old_end + AGC_CARD - 1) / AGC_CARD, n = 0;
    for (uint64_t c = 0; c < ncards; c++) {
        if ((c & 7) == 0 && c + 8 <= ncards) {
            uint64_t w = __atomic_load_n((const uint64_t *)(const void *)&h->gen.cards[c], __ATOMIC_RELAXED);
            if (!w) {
                c += 7;
                continue;
            }
        }
        n += __atomic_load_n(&h->gen.cards[c], __ATOMIC_RELAXED) != 0;
    }
    return n;
}

/* ART's rule (heap.cc, sticky and non-sticky cycles): after a full cycle a
 * young one; after a young one, young again while half its throughput
 * (bytes freed per second of cycle) is at least the full cycles' mean. A
 * full one when the last cycle left less than a quarter of the heap free
 * (young cycles would follow each other without end), on an explicit
 * request or an allocation failure, and while nothing is old yet. And one
 * rule of artgc's own: a concurrent young cycle keeps the old generation
 * mapped and forwards the references its dirty cards hold in the flip
 * pause (ART rebuilds those pages after the flip instead), so a full cycle
 * when that would take over young_flip_max_ms (lru: ~2,500 dirty
 * cards, young flips of 3-6 ms against 0.2 ms for full ones). */
void agc_gen_choose(agc_heap *h, int cycle_reason)
{
    agc_gen *g = &h->gen;
    int why;
    int asked = atomic_exchange(&g->requested, 0) - 1;   /* an explicit cycle's kind, or -1 */
    if (cycle_reason != AGC_REASON_EXPLICIT)
        asked = -1;
    if (h->opt.generational != AGC_GEN_ON)
        why = AGC_GEN_WHY_OFF;
    else if (cycle_reason == AGC_REASON_EXPLICIT && asked != AGC_COLLECT_YOUNG && asked != AGC_COLLECT_AUTO)
        why = AGC_GEN_WHY_EXPLICIT;
    else if (cycle_reason == AGC_REASON_ALLOC_FAILURE)
        why = AGC_GEN_WHY_ALLOC_FAILURE;
    else if (g->nfull == 0 || g->old_end == 0)
        why = AGC_GEN_WHY_FIRST;     /* nothing has survived two cycles yet */
    else if (asked == AGC_COLLECT_YOUNG)
        why = AGC_GEN_WHY_ASKED;
    else if (h->mem.cap - AGC_LOAD(h->gc.gc_baseline) < h->mem.cap / 4)
        why = AGC_GEN_WHY_PRESSURE;
    else if (g->last_young && 0.5 * g->young_tp < g->full_tp_sum / (double)g->nfull)
        why = AGC_GEN_WHY_THROUGHPUT;
    else if (h->mode->faults && h->opt.young_flip_max_ms > 0.0 &&
             (double)dirty_cards(h) * (g->fwd_ns_per_card > 0.0 ? g->fwd_ns_per_card : AGC_FWD_NS_PER_CARD_PRIOR) >
                 h->opt.young_flip_max_ms * 1e6)
        why = AGC_GEN_WHY_CARDS;
    else
        why = AGC_GEN_WHY_YOUNG;
    g->reason = why;
    g->young = why == AGC_GEN_WHY_YOUNG || why == AGC_GEN_WHY_ASKED;
    g->young_start = g->young ? g->old_end : 0;
    /* the memory may keep less than the whole old pages (shmem: the old
     * pages above K are copied as they are, heap/space/halves.c) */
    h->plan.keep_end = g->young ? h->space->keep(h, g->old_end & ~(AGC_PAGE - 1)) : 0;
    g->next_old = 0;
    g->old_survived = 0;
    g->cards_scanned = g->cards_forwarded = 0;
}

static void bad_object(agc_heap *h, uint64_t off, const char *what)
{
    if (h->corrupt)
        return;
    h->corrupt = 1;
    snprintf(h->corrupt_msg, sizeof h->corrupt_msg,
             "generations: %s at offset %#llx in the old generation", what, (unsigned long long)off);
}

/* Call fn on every reference slot on card c (offsets in the primary),
 * walking objects from *x (the start of an object at or before the card;
 * AGC_NONE: from the page's first object). Returns the object start to go
 * on from for a later card on the same page. */
typedef int (*slot_fn)(agc_heap *h, agc_word *slot, uint64_t slot_off);

static uint64_t walk_card(agc_heap *h, uint64_t c, uint64_t x, slot_fn fn, int *young)
{
    uint64_t lo = c * AGC_CARD, O = h->gen.old_end;
    uint64_t hi = lo + AGC_CARD < O ? lo + AGC_CARD : O;     /* the card O falls in: its old part */
    if (x == AGC_NONE || x > lo)
        x = h->gen.page_obj[lo / AGC_PAGE];
    int ncls = atomic_load(&h->types.nclasses);
    while (x < hi) {
        const agc_header *o = (const agc_header *)agc_obj_at(h, x);
        uint64_t size = (uint64_t)o->nwords * 8;
        if (size == 0 || o->cls >= (uint32_t)ncls || x + size > O) {
            bad_object(h, x, "a bad header");
            return AGC_NONE;
        }
        if (x + size > lo) {
            uint64_t fw, n = agc_obj_refs(h, o, &fw);
            uint64_t r0 = x + fw * 8, r1 = r0 + n * 8;
            r0 = r0 < lo ? lo : r0;
            r1 = r1 > hi ? hi : r1;
            for (uint64_t s = r0; s < r1; s += 8)
                *young |= fn(h, (agc_word *)agc_obj_at(h, s), s);
        }
        if (x + size > hi)
            return x;          /* it goes on onto the next card */
        x += size;
    }
    return x;
}

/* The first card at or after c that is not clean, or ncards: clean
 * cards are skipped 64 at a time (one cache line of the table), then 8.
 * The world is stopped: plain loads. In a young flip this scan is most of
 * the pause's card work (96 MiB of old generation: 196,608 cards, mostly
 * clean: 34-65 us eight at a time, 10-15 us 64 at a time). */
static uint64_t next_unclean_card(const uint8_t *cards, uint64_t c, uint64_t ncards)
{
    while (c < ncards && (c & 63) != 0) {
        if ((c & 7) == 0 && c + 8 <= ncards) {
            uint64_t w;
            memcpy(&w, cards + c, 8);
            if (w)
                return c;
            c += 8;
        } else if (cards[c]) {
            return c;
        } else {
            c++;
        }
    }
    while (c + 64 <= ncards) {
        uint64_t w[8], any = 0;
        memcpy(w, cards + c, 64);
        for (int i = 0; i < 8; i++)
            any |= w[i];
        if (any)
            break;
        c += 64;
    }
    while (c + 8 <= ncards) {
        uint64_t w;
        memcpy(&w, cards + c, 8);
        if (w)
            break;
        c += 8;
    }
    while (c < ncards && !cards[c])
        c++;
    return c;
}

/* The dirty cards of the old generation, in order: fn on each slot on
 * them; a card stays dirty if fn saw a young reference on it, else it is
 * cleaned. clean_first (mutators running): the card is cleaned before it
 * is read, so that a store meanwhile leaves it dirty. Without (the world
 * stopped) clean cards are skipped many at a time (next_unclean_card). */
static uint64_t for_dirty_cards(agc_heap *h, slot_fn fn, int clean_first, uint64_t *n_out)
{
    uint64_t ncards = (h->gen.old_end + AGC_CARD - 1) / AGC_CARD, n = 0;
    uint64_t x = AGC_NONE, xpage = AGC_NONE;
    for (uint64_t c = 0; c < ncards && !h->corrupt; c++) {
        if (!clean_first) {
            c = next_unclean_card(h->gen.cards, c, ncards);
            if (c >= ncards)
                break;
        }
        if (!__atomic_load_n(&h->gen.cards[c], __ATOMIC_RELAXED))
            continue;
        if (clean_first)   /* then read: a store after this dirties it again (the barrier
                            * stores the slot, then the card) */
            (void)__atomic_exchange_n(&h->gen.cards[c], 0, __ATOMIC_SEQ_CST);
        uint64_t page = c * AGC_CARD / AGC_PAGE;
        if (page != xpage) {
            x = AGC_NONE;
            xpage = page;
        }
        int young = 0;
        x = walk_card(h, c, x, fn, &young);
        if (young)
            __atomic_store_n(&h->gen.cards[c], 1, __ATOMIC_RELAXED);
        else if (!clean_first)
            __atomic_store_n(&h->gen.cards[c], 0, __ATOMIC_RELAXED);
        n++;
    }
    *n_out = n;
    return n;
}

static int mark_slot(agc_heap *h, agc_word *slot, uint64_t slot_off)
{
    agc_word v = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (!v)
        return 0;
    uint64_t off = v - (agc_word)h->mem.primary;
    if (v < (agc_word)h->mem.primary || off >= h->mem.cap)
        return agc_mark_value(h, v, slot_off), 0;   /* reported as a wild reference */
    if (off < h->gen.old_end)
        return 0;
    agc_mark_value(h, v, slot_off);
    return 1;
}

void agc_gen_mark_cards(agc_heap *h)
{
    if (!h->gen.young)
        return;
    uint64_t n;
    for_dirty_cards(h, mark_slot, 1, &n);
    h->gen.cards_scanned += n;
    agc_mark_drain(h);
}

static void clear_cards(agc_heap *h, uint64_t from, uint64_t to)
{
    uint64_t c1 = (to + AGC_CARD - 1) / AGC_CARD;
    if (c1 > h->gen.ncards)
        c1 = h->gen.ncards;
    for (uint64_t c = from / AGC_CARD; c < c1; c++) {
        /* eight clean cards at a time (a young generation of 500 MiB is a
         * million cards, cleared before the flip while mutators allocate) */
        if ((c & 7) == 0 && c + 8 <= c1 &&
            !__atomic_load_n((const uint64_t *)(const void *)&h->gen.cards[c], __ATOMIC_RELAXED)) {
            c += 7;
            continue;
        }
        if (__atomic_load_n(&h->gen.cards[c], __ATOMIC_RELAXED))
            __atomic_store_n(&h->gen.cards[c], 0, __ATOMIC_RELAXED);
    }
}

void agc_gen_plan(agc_heap *h)
{
    agc_gen *g = &h->gen;
    if (h->opt.generational != AGC_GEN_ON) {
        g->next_old = 0;
        return;
    }
    /* survived twice: below mid_end before the cycle; an object boundary
     * in to-space (mid_end is one in from-space) */
    uint64_t x = agc_forward_off(h, g->mid_end);
    if (g->young && x < g->old_end)
        x = g->old_end;
    /* a full cycle's dense prefix does not move: all of it is old (a
     * boundary inside it may fall in its dead bytes) */
    if (!g->young && x < h->plan.dense_end)
        x = h->plan.dense_end;
    g->old_survived = g->young ? g->old_end : agc_forward_off(h, g->old_end);
    g->next_old = x;
    /* the cards of what moves: the builder sets those of the new old
     * generation from what it writes (mutators' stores until the flip land
     * in from-space, which the builder reads) */
    clear_cards(h, g->young ? (g->old_end + AGC_CARD - 1) & ~(AGC_CARD - 1) : 0, AGC_LOAD(h->alloc.top));
}

/* The flip: the old generation stays mapped, so its references to what
 * moves are forwarded now, before any mutator reads them. */
static int forward_slot(agc_heap *h, agc_word *slot, uint64_t slot_off)
{
    agc_word v = *slot;
    if (!v)
        return 0;
    uint64_t off = v - (agc_word)h->mem.primary;
    if (v < (agc_word)h->mem.primary || off >= h->plan.plan_top) {
        bad_object(h, slot_off, "a reference outside the heap's objects");
        return 0;
    }
    if (off < h->gen.old_end)
        return 0;
    if (off < h->mk.mark_start_top && !bm_get(h->mk.mark_bits, off >> 3)) {
        bad_object(h, slot_off, "a reference to an unmarked young object");
        return 0;
    }
    uint64_t f = agc_forward_off(h, off);
    *slot = (agc_word)h->mem.primary + f;
    return f >= h->gen.next_old;
}

void agc_gen_forward_cards(agc_heap *h)
{
    if (!h->gen.young)
        return;
    uint64_t n, t0 = agc_now_ns();
    for_dirty_cards(h, forward_slot, 0, &n);
    h->gen.cards_forwarded = n;
    if (n >= 64)     /* enough to time */
        h->gen.fwd_ns_per_card = (double)(agc_now_ns() - t0) / (double)n;
}

void agc_gen_mark_pages(agc_heap *h)
{
    uint64_t k = h->plan.keep_end / AGC_PAGE;
    for (uint64_t p = 0; p < k && p < h->plan.npages; p++)
        atomic_store_explicit(&h->plan.page_state[p], PG_MAPPED, memory_order_relaxed);
}

void agc_gen_cycle_done(agc_heap *h, const agc_cycle_stats *c)
{
    agc_gen *g = &h->gen;
    int young = g->young;
    g->young = 0;
    g->young_start = 0;
    h->plan.keep_end = 0;
    if (h->opt.generational != AGC_GEN_ON || c->skipped)
        return;
    double dur = (double)(agc_now_ns() - c->t_start_ns) / 1e9;
    /* freed: what was used at the start and allocated during the cycle,
     * less what is used after it */
    uint64_t in = c->used_before + c->black_bytes;
    double freed = in > c->used_after ? (double)(in - c->used_after) : 0.0;
    double tp = dur > 0.0 ? freed / dur : 0.0;
    g->last_young = young;
    if (young) {
        g->young_tp = tp;
    } else {
        g->full_tp_sum += tp;
        g->nfull++;
    }
    g->old_end = g->next_old;
    g->mid_end = h->mk.black_new_start;
    if (g->mid_end < g->old_end)
        g->mid_end = g->old_end;
}
