/* Phases the two cycle drivers share (heap/modes/driver.c). */
#ifndef ARTGC_DRIVER_H
#define ARTGC_DRIVER_H
#include "internal.h"

/* Stop the world for `phase` (announced to the listener). */
void agc_halt_world(agc_heap *h, int phase);
/* Restart it; returns the pause, from the stop request. */
uint64_t agc_resume_world(agc_heap *h, int phase);
/* Marking, stop-the-world or concurrent. Ends with S (mark_start_top) and B
 * (black_top) set and everything below S traced; with world_stays_stopped
 * (the stw driver) marking is stop-the-world and the world stays stopped. */
void agc_do_marking(agc_heap *h, int world_stays_stopped);
/* A root slot forwarded to its post-compaction address (world stopped). */
void agc_forward_root(agc_heap *h, agc_word *slot, void *ctx);
#endif
