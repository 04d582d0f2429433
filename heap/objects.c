/* Object layout and the class table. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

/* Raw data follows the reference slots (agc_obj_refs gives where those end). */
uint64_t agc_obj_data_len(agc_heap *h, const agc_header *o, uint64_t *data_off)
{
    uint64_t fw;
    uint64_t nrefs = agc_obj_refs(h, o, &fw);
    *data_off = 8 * (fw + nrefs);
    if (o->cls == AGC_CLS_BYTEARRAY)
        return ((const uint64_t *)o)[1];
    if (o->cls == AGC_CLS_FILLER || o->cls == AGC_CLS_REFARRAY)
        return 0;
    return h->types.classes[o->cls].data_bytes;
}

uint64_t agc_size_words(agc_heap *h, int cls, uint64_t length, int *err)
{
    *err = 0;
    if (cls == AGC_CLS_REFARRAY) {
        if (length > (h->mem.cap / 8))
            goto big;
        return 2 + length;
    }
    if (cls == AGC_CLS_BYTEARRAY) {
        if (length > h->mem.cap)
            goto big;
        return 2 + (length + 7) / 8;
    }
    if (cls < AGC_FIRST_USER_CLASS || cls >= atomic_load(&h->types.nclasses)) {
        *err = AGC_EINVAL;
        return 0;
    }
    return 1 + h->types.classes[cls].nrefs + (h->types.classes[cls].data_bytes + 7ull) / 8;
big:
    *err = AGC_EOOM;
    return 0;
}

void agc_fill(uint8_t *p, uint64_t bytes)
{
    while (bytes >= 8) {
        uint64_t w = bytes / 8;
        if (w > 0xffffffffull)
            w = 0xffffffffull;
        agc_header hd = {AGC_CLS_FILLER, (uint32_t)w};
        memcpy(p, &hd, 8);
        p += w * 8;
        bytes -= w * 8;
    }
}

/* Only the header of a filler of `bytes` (at most 32 GiB): for a gap whose
 * bytes past the header belong to pages written by others. */
void agc_fill_header(uint8_t *p, uint64_t bytes)
{
    uint64_t w = bytes / 8;
    agc_header hd = {AGC_CLS_FILLER, (uint32_t)(w > 0xffffffffull ? 0xffffffffull : w)};
    memcpy(p, &hd, 8);
}

/* A filler inside the heap: during a cycle's black allocation, its header
 * gets a mark bit like any object, so the region stays walkable by bitmap. */
void agc_heap_fill(agc_heap *h, uint64_t off, uint64_t bytes)
{
    agc_fill(agc_obj_at(h, off), bytes);
    if (!atomic_load_explicit(&h->mk.alloc_black, memory_order_relaxed))
        return;
    for (uint64_t o = off, end = off + (bytes & ~7ull); o < end;) {
        agc_mark_black_alloc(h, o);
        o += (uint64_t)((const agc_header *)agc_obj_at(h, o))->nwords * 8;
    }
}

uint64_t agc_nrefs(agc_mutator *m, void *obj)
{
    uint64_t fw;
    return agc_obj_refs(m->heap, obj, &fw);
}

uint64_t agc_array_length(void *obj) { return ((uint64_t *)obj)[1]; }

uint8_t *agc_data(agc_mutator *m, void *obj)
{
    uint64_t off;
    agc_obj_data_len(m->heap, obj, &off);
    return (uint8_t *)obj + off;
}

uint64_t agc_data_len(agc_mutator *m, void *obj)
{
    uint64_t off;
    return agc_obj_data_len(m->heap, obj, &off);
}

int agc_define_class(agc_heap *h, const char *name, uint32_t nrefs, uint32_t data_bytes, int *cls_out)
{
    if (!h || h->closed)
        return agc_fail(AGC_ECLOSED, "the heap is closed");
    if (!name || !name[0] || strlen(name) >= 64)
        return agc_fail(AGC_EINVAL, "a class name must be 1 to 63 bytes long");
    if (nrefs > (1u << 20) || data_bytes > (1u << 24))
        return agc_fail(AGC_EINVAL, "class '%s': at most %u reference slots and %u data bytes",
                        name, 1u << 20, 1u << 24);
    pthread_mutex_lock(&h->types.class_lock);
    int n = atomic_load(&h->types.nclasses);
    for (int i = AGC_FIRST_USER_CLASS; i < n; i++) {
        if (strcmp(h->types.classes[i].name, name) == 0) {
            int same = h->types.classes[i].nrefs == nrefs && h->types.classes[i].data_bytes == data_bytes;
            pthread_mutex_unlock(&h->types.class_lock);
            if (!same)
                return agc_fail(AGC_EINVAL, "class '%s' is already defined with %u refs and %u data bytes",
                                name, h->types.classes[i].nrefs, h->types.classes[i].data_bytes);
            *cls_out = i;
            return AGC_OK;
        }
    }
    if (n >= AGC_MAX_CLASSES) {
        pthread_mutex_unlock(&h->types.class_lock);
        return agc_fail(AGC_EINVAL, "too many classes (at most %d)", AGC_MAX_CLASSES - AGC_FIRST_USER_CLASS);
    }
    snprintf(h->types.classes[n].name, 64, "%s", name);
    h->types.classes[n].nrefs = nrefs;
    h->types.classes[n].data_bytes = data_bytes;
    h->types.class_words[n] = 1 + nrefs + (data_bytes + 7) / 8;
    atomic_store(&h->types.nclasses, n + 1);
    pthread_mutex_unlock(&h->types.class_lock);
    *cls_out = n;
    return AGC_OK;
}

int agc_class_count(agc_heap *h) { return atomic_load(&h->types.nclasses); }
