/* The native mutator interface: what workloads (and the Python API) use to
 * allocate, hold roots, read and write objects on the GC'd heap.
 *
 * RULES (the collector moves objects at safepoints):
 *  - A raw object pointer is valid only until the next safepoint of this
 *    thread: agc_alloc*, agc_poll, agc_block, agc_root_* do not move objects
 *    themselves, but agc_alloc* and agc_poll may stop the thread for a cycle,
 *    after which every object has a new address.
 *  - So keep anything that must survive an allocation in a shadow-stack slot
 *    (agc_push) and re-read it (agc_root) after each allocation or poll.
 *  - Store references with agc_store_ref (it has the write barrier); a fresh
 *    object may be initialised with agc_init_ref before the next safepoint.
 *  - Call agc_poll in long loops that do not allocate.
 *  - Around anything that blocks (pthread_barrier_wait, join, sleep), call
 *    agc_block / agc_unblock: a blocked thread does not hold up a pause, and
 *    it must not touch the heap in between.
 */
#ifndef ARTGC_MUTATOR_H
#define ARTGC_MUTATOR_H
#include <stdint.h>
#include <stddef.h>
#include "heap_api.h"

typedef struct agc_mutator agc_mutator;
typedef uint64_t agc_word;

/* Object layout: header word, then (arrays) a length word, then reference
 * slots, then raw data; 8-byte aligned. */
typedef struct agc_header {
    uint32_t cls;
    uint32_t nwords;   /* total size of the object in 8-byte words */
} agc_header;

enum { AGC_CLS_FILLER = 0, AGC_CLS_REFARRAY = 1, AGC_CLS_BYTEARRAY = 2, AGC_FIRST_USER_CLASS = 3 };
enum { AGC_MAX_CLASSES_PUB = 1024 };

/* The hot part of a mutator, first in its struct, for the inline fast paths
 * below (allocation from the TLAB, the shadow stack). Not for workloads to
 * touch directly. */
typedef struct agc_mutator_hot {
    uint8_t *base;                 /* the heap's primary mapping (fixed) */
    uint64_t tlab_cur, tlab_end;   /* offsets; empty when equal */
    const uint32_t *class_words;   /* size in words of each fixed-size class, 0 otherwise */
    uint64_t *mark_bits;           /* for black allocation during a cycle */
    const int *alloc_black;
    agc_word *roots;               /* the shadow stack */
    size_t nroots, roots_cap;
    uintptr_t card_bias;           /* the card table (a byte per 512 heap bytes) less the
                                    * primary's address >> 9: a slot's card is
                                    * card_bias + (address >> 9), as ART's biased table */
    uint64_t own_lo, own_n;        /* the mark-bitmap words [own_lo, own_lo + own_n) that
                                    * cover only this TLAB: no other thread writes them
                                    * while it is this thread's, so black allocation sets
                                    * their bits without a locked instruction */
} agc_mutator_hot;
#define AGC_CARD_SHIFT_PUB 9       /* heap/gen.h: AGC_CARD_SHIFT */

extern volatile int agc_any_stop_requested;  /* process-wide fast-path hint */

/* Attach the calling thread as a mutator (running state). Returns NULL and
 * sets agc_last_error on failure. */
agc_mutator *agc_attach(agc_heap *h);
void agc_detach(agc_mutator *m);
uint32_t agc_mutator_id(agc_mutator *m);
agc_heap *agc_mutator_heap(agc_mutator *m);

/* Allocation. Returns NULL when the heap is full even after a collection
 * (agc_last_error says why). New objects are zeroed. */
static inline void *agc_alloc(agc_mutator *m, int cls);
void *agc_alloc_refarray(agc_mutator *m, uint64_t length);
void *agc_alloc_bytearray(agc_mutator *m, uint64_t length);
/* Generic form (length ignored for non-array classes). */
void *agc_alloc_obj(agc_mutator *m, int cls, uint64_t length);

/* Safepoint poll and blocking transitions. */
void agc_poll_slow(agc_mutator *m);
static inline void agc_poll(agc_mutator *m)
{
    if (__builtin_expect(__atomic_load_n(&agc_any_stop_requested, __ATOMIC_RELAXED), 0))
        agc_poll_slow(m);
}
void agc_block(agc_mutator *m);
void agc_unblock(agc_mutator *m);

/* Shadow stack of roots. agc_push returns the slot index. */
size_t agc_push_slow(agc_mutator *m, void *obj);
static inline size_t agc_push(agc_mutator *m, void *obj)
{
    agc_mutator_hot *t = (agc_mutator_hot *)m;
    if (__builtin_expect(t->nroots == t->roots_cap, 0))
        return agc_push_slow(m, obj);
    t->roots[t->nroots] = (agc_word)obj;
    return t->nroots++;
}
static inline void *agc_root(agc_mutator *m, size_t idx) { return (void *)((agc_mutator_hot *)m)->roots[idx]; }
static inline void agc_set_root(agc_mutator *m, size_t idx, void *obj) { ((agc_mutator_hot *)m)->roots[idx] = (agc_word)obj; }
static inline void agc_pop(agc_mutator *m, size_t n)          /* pop n slots */
{
    agc_mutator_hot *t = (agc_mutator_hot *)m;
    t->nroots = n > t->nroots ? 0 : t->nroots - n;
}
static inline size_t agc_depth(agc_mutator *m) { return ((agc_mutator_hot *)m)->nroots; }
/* The slots from idx up as an array, for a loop that reserved them with
 * agc_push: valid until the next agc_push (which may move the stack); a
 * safepoint updates what they hold, so read them again after one. */
static inline agc_word *agc_root_slots(agc_mutator *m, size_t idx) { return &((agc_mutator_hot *)m)->roots[idx]; }
static inline void agc_truncate(agc_mutator *m, size_t depth) /* pop back to depth */
{
    agc_mutator_hot *t = (agc_mutator_hot *)m;
    if (depth < t->nroots)
        t->nroots = depth;
}

/* Field access. slot indexes the object's reference slots (for a ref array,
 * its elements). */
static inline agc_header *agc_hdr(void *obj) { return (agc_header *)obj; }
uint64_t agc_nrefs(agc_mutator *m, void *obj);
uint64_t agc_array_length(void *obj);
static inline agc_word *agc_ref_slots(agc_mutator *m, void *obj)
{
    (void)m;
    return (agc_word *)obj + (((agc_header *)obj)->cls == AGC_CLS_REFARRAY ? 2 : 1);
}
uint8_t *agc_data(agc_mutator *m, void *obj);    /* raw data (byte array: its bytes) */
uint64_t agc_data_len(agc_mutator *m, void *obj);

static inline void *agc_load_ref(agc_mutator *m, void *obj, uint64_t slot)
{
    return (void *)__atomic_load_n(&agc_ref_slots(m, obj)[slot], __ATOMIC_RELAXED);
}
void agc_store_ref_slow(agc_mutator *m, agc_word *slot, void *val);
extern volatile int agc_any_marking;             /* process-wide fast-path hint */
/* The write barrier: the SATB deletion barrier while marking (slow path),
 * and always the card of the slot dirtied after the store (generations:
 * a young cycle finds old-to-young references by the dirty cards). */
static inline void agc_store_ref(agc_mutator *m, void *obj, uint64_t slot, void *val)
{
    agc_mutator_hot *t = (agc_mutator_hot *)m;
    agc_word *p = &agc_ref_slots(m, obj)[slot];
    if (__builtin_expect(__atomic_load_n(&agc_any_marking, __ATOMIC_RELAXED), 0)) {
        agc_store_ref_slow(m, p, val);
        return;
    }
    __atomic_store_n(p, (agc_word)val, __ATOMIC_RELAXED);
    __atomic_store_n((uint8_t *)(t->card_bias + ((uintptr_t)p >> AGC_CARD_SHIFT_PUB)), 1, __ATOMIC_RELAXED);
}
/* Only for an object allocated since this thread's last safepoint whose slot
 * is still null: no barrier needed. */
static inline void agc_init_ref(agc_mutator *m, void *obj, uint64_t slot, void *val)
{
    __atomic_store_n(&agc_ref_slots(m, obj)[slot], (agc_word)val, __ATOMIC_RELAXED);
}

/* Fields of an object of a fixed-size class (not an array): reference slot
 * i is word 1 + i, so no header is read to find it. For callers that know
 * the class (a workload's node class); arrays need agc_ref_slots. Same
 * rules as agc_load_ref / agc_store_ref / agc_init_ref. */
static inline agc_word *agc_fields(void *obj) { return (agc_word *)obj + 1; }
static inline void *agc_load_field(void *obj, uint64_t slot)
{
    return (void *)__atomic_load_n(&agc_fields(obj)[slot], __ATOMIC_RELAXED);
}
static inline void agc_init_field(void *obj, uint64_t slot, void *val)
{
    __atomic_store_n(&agc_fields(obj)[slot], (agc_word)val, __ATOMIC_RELAXED);
}
static inline void agc_store_field(agc_mutator *m, void *obj, uint64_t slot, void *val)
{
    agc_mutator_hot *t = (agc_mutator_hot *)m;
    agc_word *p = &agc_fields(obj)[slot];
    if (__builtin_expect(__atomic_load_n(&agc_any_marking, __ATOMIC_RELAXED), 0)) {
        agc_store_ref_slow(m, p, val);
        return;
    }
    __atomic_store_n(p, (agc_word)val, __ATOMIC_RELAXED);
    __atomic_store_n((uint8_t *)(t->card_bias + ((uintptr_t)p >> AGC_CARD_SHIFT_PUB)), 1, __ATOMIC_RELAXED);
}

/* Allocation fast path: bump in the TLAB (pre-zeroed); everything else
 * (refill, a cycle to wait for, arrays, errors) in agc_alloc_obj. */
static inline void *agc_alloc(agc_mutator *m, int cls)
{
    agc_mutator_hot *t = (agc_mutator_hot *)m;
    if (__builtin_expect((unsigned)cls < AGC_MAX_CLASSES_PUB, 1)) {
        uint64_t w = t->class_words[cls];
        uint64_t b = w * 8;
        if (__builtin_expect(w != 0 && t->tlab_cur + b <= t->tlab_end &&
                             !__atomic_load_n(&agc_any_stop_requested, __ATOMIC_RELAXED), 1)) {
            uint64_t off = t->tlab_cur;
            t->tlab_cur = off + b;
            agc_header *o = (agc_header *)(t->base + off);
            o->cls = (uint32_t)cls;
            o->nwords = (uint32_t)w;
            if (__builtin_expect(__atomic_load_n(t->alloc_black, __ATOMIC_RELAXED), 0)) {
                uint64_t *word = &t->mark_bits[off >> 9], bit = 1ull << ((off >> 3) & 63);
                if ((off >> 9) - t->own_lo < t->own_n)
                    __atomic_store_n(word, __atomic_load_n(word, __ATOMIC_RELAXED) | bit, __ATOMIC_RELAXED);
                else
                    __atomic_fetch_or(word, bit, __ATOMIC_RELAXED);
            }
            return o;
        }
    }
    return agc_alloc_obj(m, cls, 0);
}

/* Address-independent digest of everything reachable from obj (the verifier's
 * digest function); the thread must be stopped-safe: call it when the other
 * mutators are blocked. Returns 0 and writes 32 hex chars + NUL. */
int agc_digest_from(agc_mutator *m, void *obj, char *hex33);

/* Shared roots for workloads (slots visible to every thread, GC-updated). */
int agc_global_root_new(agc_mutator *m, void *obj, uint32_t *idx_out);
void *agc_global_root(agc_mutator *m, uint32_t idx);
void agc_global_root_set(agc_mutator *m, uint32_t idx, void *obj);
void agc_global_root_free(agc_mutator *m, uint32_t idx);
#endif
