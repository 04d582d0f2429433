/* lru: a request-driven cache of objects of mixed sizes, with evictions, so
 * the heap fragments and compaction has real work.
 *
 * --size N (1..20000, default 500): N thousand requests in all, split evenly
 * across the mutators. Each mutator owns a shard: a cache of 8192 / M entries
 * (at least 64) over a key space four times as large; keys are drawn with a
 * skew towards small keys (key = K * u^2), from the thread's own xoshiro256**
 * seeded by (seed, thread), so the hit and miss counts depend only on the
 * seed, the size and the mutator count, never on the GC mode.
 *
 * live (agc_wl_params.live, `--live SIZE`): the cache's live data instead:
 * the shards hold live / LRU_ENTRY_BYTES entries in all (at least 64 each),
 * LRU_ENTRY_BYTES being an entry's mean footprint on this heap: its 32-byte
 * LruEntry, its byte array (16-byte header, 16..4095 bytes, mean 765) and
 * its 8-byte slot. live = 0 keeps the 8192 entries (and every output).
 *
 * An entry is a heap object (class LruEntry: one reference to its payload,
 * data: key and length) whose payload is a byte array of 16..4095 bytes
 * (log-uniform; the length and every byte derive from the key and the seed).
 * The shard's entries sit in a heap ref array (its slots are the cache's
 * slots), held in a shadow-stack slot; the LRU list, the key -> slot index and
 * the free slots are plain C arrays of indexes, which reference no heap object.
 *
 * A request: a hit verifies the entry's key, length and every payload byte
 * (a mismatch is heap corruption: the run fails) and moves it to the front;
 * 1 hit in 32 then invalidates the entry (a random eviction). A miss builds
 * the entry and inserts it, evicting the least recently used entry when the
 * shard is full. Each request's start and latency are recorded; its metered
 * latency is computed from them in Python (artgc.metrics.metered_latency, as
 * DaCapo's harness does, the same for the JVM's Lru.java).
 * counters: 0 hits, 1 misses, 2 LRU evictions, 3 invalidations, 4 requests. */
#include <stdlib.h>
#include <string.h>
#include "wl.h"
#include "../clock.h"
#include "../error.h"

#define LRU_CAPACITY 8192
#define LRU_MIN_SHARD 64
#define LRU_KEYS_PER_SLOT 4
#define LRU_ENTRY_BYTES 824
#define LRU_MAX_SHARD (1u << 28)

typedef struct lru_shard {
    uint64_t nreq, done;
    uint64_t *t_start, *t_end;
    uint64_t hits, misses, evictions, invalidations;
} lru_shard;

typedef struct lru_state {
    int cls;
    uint32_t cap;               /* entries per shard */
    uint32_t nkeys;             /* keys per shard */
    lru_shard *shards;
} lru_state;

static int lru_setup(wl_ctx *c)
{
    lru_state *s = calloc(1, sizeof *s);
    if (!s)
        return agc_fail(AGC_ESYS, "out of process memory");
    c->priv = s;
    uint64_t entries = c->live ? c->live / LRU_ENTRY_BYTES : LRU_CAPACITY;
    if (entries / (uint64_t)c->nthreads > LRU_MAX_SHARD)
        return agc_fail(AGC_EINVAL, "lru: --live %llu bytes is too large (at most %llu entries per mutator)",
                        (unsigned long long)c->live, (unsigned long long)LRU_MAX_SHARD);
    s->cap = (uint32_t)(entries / (uint64_t)c->nthreads);
    if (s->cap < LRU_MIN_SHARD)
        s->cap = LRU_MIN_SHARD;
    s->nkeys = s->cap * LRU_KEYS_PER_SLOT;
    s->shards = calloc((size_t)c->nthreads, sizeof *s->shards);
    if (!s->shards)
        return agc_fail(AGC_ESYS, "out of process memory");
    uint64_t total = (uint64_t)c->size * 1000;
    for (int t = 0; t < c->nthreads; t++) {
        lru_shard *sh = &s->shards[t];
        sh->nreq = total * (uint64_t)(t + 1) / (uint64_t)c->nthreads - total * (uint64_t)t / (uint64_t)c->nthreads;
        sh->t_start = malloc((sh->nreq ? sh->nreq : 1) * sizeof(uint64_t));
        sh->t_end = malloc((sh->nreq ? sh->nreq : 1) * sizeof(uint64_t));
        if (!sh->t_start || !sh->t_end)
            return agc_fail(AGC_ESYS, "out of process memory for %llu request latencies",
                            (unsigned long long)total);
    }
    return agc_define_class(c->h, "LruEntry", 1, 16, &s->cls);
}

/* The payload of a key: its length and its bytes. */
static uint64_t key_id(uint64_t seed, int tid, uint32_t key)
{
    return wl_mix64(seed ^ wl_mix64(((uint64_t)(uint32_t)tid << 32) | key));
}
static uint64_t payload_len(uint64_t id)
{
    uint64_t h = wl_mix64(id ^ 0x6c72756c656e6774ull);
    uint64_t lo = 16ull << (h % 8);            /* 16 .. 2048 */
    return lo + (h >> 8) % lo;                 /* 16 .. 4095 */
}
static uint64_t payload_word(uint64_t id, uint64_t w)
{
    return wl_mix64(id + w * 0x9e3779b97f4a7c15ull);
}
static void fill_payload(uint8_t *d, uint64_t len, uint64_t id)
{
    uint64_t w = 0;
    for (; 8 * w + 8 <= len; w++) {
        uint64_t v = payload_word(id, w);
        memcpy(d + 8 * w, &v, 8);
    }
    if (8 * w < len) {
        uint64_t v = payload_word(id, w);
        memcpy(d + 8 * w, &v, len - 8 * w);
    }
}
/* Returns the first bad byte's index, or len when all match. */
static uint64_t check_payload(const uint8_t *d, uint64_t len, uint64_t id)
{
    uint64_t w = 0;
    for (; 8 * w < len; w++) {
        uint64_t v = payload_word(id, w);
        uint64_t n = len - 8 * w < 8 ? len - 8 * w : 8;
        if (memcmp(d + 8 * w, &v, n) != 0) {
            for (uint64_t j = 0; j < n; j++)
                if (d[8 * w + j] != ((const uint8_t *)&v)[j])
                    return 8 * w + j;
        }
    }
    return len;
}

typedef struct lru_list {
    int32_t *where;      /* key -> slot, -1 when absent */
    uint32_t *key_of;    /* slot -> key */
    int32_t *prev, *next;
    int32_t head, tail;  /* most / least recently used */
    int32_t *free_slots;
    uint32_t nfree, count;
} lru_list;

static void list_unlink(lru_list *l, int32_t i)
{
    if (l->prev[i] >= 0) l->next[l->prev[i]] = l->next[i]; else l->head = l->next[i];
    if (l->next[i] >= 0) l->prev[l->next[i]] = l->prev[i]; else l->tail = l->prev[i];
}
static void list_push_front(lru_list *l, int32_t i)
{
    l->prev[i] = -1;
    l->next[i] = l->head;
    if (l->head >= 0) l->prev[l->head] = i; else l->tail = i;
    l->head = i;
}

/* Verify entry e (raw; no safepoint in here) for key. 0 or -1 (failed). */
static int verify_entry(wl_ctx *c, agc_mutator *m, void *e, uint32_t key, uint64_t id, int tid)
{
    uint64_t kd[2];
    const char *why = NULL;
    uint64_t len = payload_len(id), bad = len;
    if (!e) {
        why = "the cache slot is empty";
    } else {
        memcpy(kd, agc_data(m, e), 16);
        void *p = agc_load_ref(m, e, 0);
        if (kd[0] != key || kd[1] != len)
            why = "the entry's key or length field changed";
        else if (!p || agc_hdr(p)->cls != AGC_CLS_BYTEARRAY || agc_data_len(m, p) != len)
            why = "the entry's payload is not a byte array of its length";
        else if ((bad = check_payload(agc_data(m, p), len, id)) != len)
            why = "a payload byte changed";
    }
    if (!why)
        return 0;
    if (bad != len)
        wl_fail(c, AGC_ECORRUPT, "lru: thread %d, key %u: %s (byte %llu of %llu): the heap is corrupt",
                tid, key, why, (unsigned long long)bad, (unsigned long long)len);
    else
        wl_fail(c, AGC_ECORRUPT, "lru: thread %d, key %u: %s: the heap is corrupt", tid, key, why);
    return -1;
}

static void lru_thread(wl_ctx *c, agc_mutator *m, int tid)
{
    lru_state *s = c->priv;
    lru_shard *sh = &s->shards[tid];
    uint32_t cap = s->cap, nkeys = s->nkeys;
    lru_list l = {0};
    l.where = malloc(nkeys * sizeof *l.where);
    l.key_of = malloc(cap * sizeof *l.key_of);
    l.prev = malloc(cap * sizeof *l.prev);
    l.next = malloc(cap * sizeof *l.next);
    l.free_slots = malloc(cap * sizeof *l.free_slots);
    if (!l.where || !l.key_of || !l.prev || !l.next || !l.free_slots) {
        wl_fail(c, AGC_ESYS, "lru: out of process memory");
        goto out;
    }
    memset(l.where, 0xff, nkeys * sizeof *l.where);
    l.head = l.tail = -1;
    for (uint32_t i = 0; i < cap; i++)
        l.free_slots[i] = (int32_t)(cap - 1 - i);
    l.nfree = cap;

    wl_rng rng;
    wl_rng_seed(&rng, c->seed, 0x6c7275ull + (uint64_t)tid);

    void *vals = agc_alloc_refarray(m, cap);
    if (!vals) {
        wl_fail_heap(c, AGC_EOOM, "allocating the cache's slot array");
        goto out;
    }
    size_t vs = agc_push(m, vals);
    size_t ps = agc_push(m, NULL);

    for (uint64_t r = 0; r < sh->nreq; r++) {
        if (wl_should_stop(c))
            break;
        uint64_t t0 = agc_now_ns();
        uint64_t u = wl_next(&rng) >> 32;
        uint32_t key = (uint32_t)((((u * u) >> 32) * nkeys) >> 32);
        uint64_t id = key_id(c->seed, tid, key);
        int32_t slot = l.where[key];
        if (slot >= 0) {
            sh->hits++;
            void *e = agc_load_ref(m, agc_root(m, vs), (uint64_t)slot);
            if (verify_entry(c, m, e, key, id, tid))
                break;
            list_unlink(&l, slot);
            if (wl_below(&rng, 32) == 0) {
                agc_store_ref(m, agc_root(m, vs), (uint64_t)slot, NULL);
                l.where[key] = -1;
                l.free_slots[l.nfree++] = slot;
                l.count--;
                sh->invalidations++;
            } else {
                list_push_front(&l, slot);
            }
            agc_poll(m);
        } else {
            sh->misses++;
            uint64_t len = payload_len(id);
            void *p = agc_alloc_bytearray(m, len);
            if (!p) {
                wl_fail_heap(c, AGC_EOOM, "allocating a cache entry's payload");
                break;
            }
            fill_payload(agc_data(m, p), len, id);
            agc_set_root(m, ps, p);
            void *e = agc_alloc(m, s->cls);
            if (!e) {
                wl_fail_heap(c, AGC_EOOM, "allocating a cache entry");
                break;
            }
            agc_init_field(e, 0, agc_root(m, ps));
            agc_set_root(m, ps, NULL);
            uint64_t kd[2] = {key, len};
            memcpy(agc_data(m, e), kd, 16);
            if (l.nfree) {
                slot = l.free_slots[--l.nfree];
                l.count++;
            } else {
                slot = l.tail;
                list_unlink(&l, slot);
                l.where[l.key_of[slot]] = -1;
                sh->evictions++;
            }
            agc_store_ref(m, agc_root(m, vs), (uint64_t)slot, e);
            l.where[key] = slot;
            l.key_of[slot] = key;
            list_push_front(&l, slot);
        }
        sh->t_start[r] = t0;
        sh->t_end[r] = agc_now_ns();
        sh->done = r + 1;
    }
out:
    free(l.where);
    free(l.key_of);
    free(l.prev);
    free(l.next);
    free(l.free_slots);
}

static void lru_finish(wl_ctx *c)
{
    lru_state *s = c->priv;
    agc_wl_result *r = c->r;
    uint64_t n = 0, hits = 0, misses = 0, ev = 0, inv = 0;
    for (int t = 0; t < c->nthreads; t++) {
        lru_shard *sh = &s->shards[t];
        n += sh->done;
        hits += sh->hits;
        misses += sh->misses;
        ev += sh->evictions;
        inv += sh->invalidations;
    }
    r->counters[0] = hits;
    r->counters[1] = misses;
    r->counters[2] = ev;
    r->counters[3] = inv;
    r->counters[4] = n;
    r->latency_ns = malloc((n ? n : 1) * sizeof(uint64_t));
    r->start_ns = malloc((n ? n : 1) * sizeof(uint64_t));
    if (!r->latency_ns || !r->start_ns) {
        free(r->latency_ns);
        free(r->start_ns);
        r->latency_ns = r->start_ns = NULL;
        wl_fail(c, AGC_ESYS, "lru: out of process memory for %llu latencies", (unsigned long long)n);
        return;
    }
    uint64_t k = 0;
    for (int t = 0; t < c->nthreads; t++) {
        lru_shard *sh = &s->shards[t];
        if (!sh->done)
            continue;
        for (uint64_t i = 0; i < sh->done; i++, k++) {
            r->latency_ns[k] = sh->t_end[i] - sh->t_start[i];
            r->start_ns[k] = sh->t_start[i];
        }
    }
    r->nlatency = n;
    wl_printf(c, "lru: requests %llu hits %llu misses %llu\n", (unsigned long long)n,
              (unsigned long long)hits, (unsigned long long)misses);
}

static void lru_cleanup(wl_ctx *c)
{
    lru_state *s = c->priv;
    if (s && s->shards)
        for (int t = 0; t < c->nthreads; t++) {
            free(s->shards[t].t_start);
            free(s->shards[t].t_end);
        }
    if (s)
        free(s->shards);
    free(s);
    c->priv = NULL;
}

const wl_desc wl_lru = {
    .name = "lru",
    .def_size = 500,
    .min_size = 1,
    .max_size = 20000,
    .size_doc = "thousands of requests",
    .setup = lru_setup,
    .thread = lru_thread,
    .finish = lru_finish,
    .cleanup = lru_cleanup,
};
