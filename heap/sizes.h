/* The core's sizes and limits, and the page and phase states. */
#ifndef ARTGC_SIZES_H
#define ARTGC_SIZES_H
#include <pthread.h>

#define AGC_PAGE 4096ull
#define AGC_CHUNK 512ull                     /* bytes per live-words bitmap word */
#define AGC_TLAB 32768ull
#define AGC_LARGE (AGC_TLAB / 4)             /* larger objects bypass TLABs */
#define AGC_MAX_CLASSES 1024
#define AGC_ALIGN_RESERVE (1ull << 30)       /* primary / from-space alignment */
#define AGC_ANCHOR (2ull << 20)              /* reserved past the primary's span (anon: heap/space/anon.c) */
#define AGC_NONE UINT64_MAX
#define AGC_HCHUNK 4096                      /* handles per chunk */
#define AGC_HCHUNKS 4096
#define AGC_MAX_GC_THREADS 64                /* compaction threads per heap */
#define AGC_BLOCK_PAGES 512ull              /* huge_moves: pages per 2 MiB block (one PMD) */
#define AGC_RELEASE_CHUNK (8ull << 20)       /* from-space given back in these (ART: 8 MiB) */

/* Page states during concurrent compaction (compared as integers). */
enum { PG_UNPROCESSED = 0, PG_PROCESSING = 1, PG_PROCESSED = 2, PG_MAPPED = 3 };

/* Cycle phases, as the heap is during them. */
enum { PH_IDLE = 0, PH_MARKING = 1, PH_PREPARE = 2, PH_COMPACTING = 3, PH_RELEASE = 4 };

/* Fields written under a lock but read without one use these. */
#define AGC_LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define AGC_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* Waits inside artgc are not cancellation points for the caller's thread. */
#define AGC_NOCANCEL_BEGIN int agc_cs_; pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &agc_cs_)
#define AGC_NOCANCEL_END pthread_setcancelstate(agc_cs_, NULL)
#endif
