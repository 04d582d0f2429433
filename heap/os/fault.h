/* Fault delivery: resolve a userfaultfd fault either in the faulting thread
 * (SIGBUS, UFFD_FEATURE_SIGBUS) or in a handler thread that reads messages. */
#ifndef ARTGC_FAULT_H
#define ARTGC_FAULT_H
#include <stddef.h>
#include <stdint.h>

enum { AGC_FAULT_MISSING = 0, AGC_FAULT_MINOR = 1, AGC_FAULT_WP = 2 };

/* A resolver makes the page at addr present (and wakes the faulting thread
 * for handler-thread delivery, which the install ioctls do by default).
 * t_fault_ns is when the delivery layer saw the fault; tid the faulting
 * thread's kernel tid (0 if unknown); in_signal is 1 when called from the
 * SIGBUS handler of the faulting thread. Must be async-signal-safe when
 * in_signal (no malloc, no locks a mutator can hold). Returns 0 if resolved,
 * -1 if the address is not one this resolver owns after all. */
typedef int (*agc_fault_resolver)(void *ctx, void *addr, int kind,
                                  uint64_t t_fault_ns, uint32_t tid, int in_signal);

/* SIGBUS delivery: a process-wide handler with a table of owned ranges.
 * Installing is idempotent; if another handler displaced ours since, ours is
 * put back in front and the displacing one becomes the chained handler.
 * Faults at addresses outside every range chain to the previous handler
 * (Python's faulthandler, pytest's), or get the default action. */
int agc_sigbus_install(void);
/* agc_sigbus_install() if artgc's handler was ever installed, else nothing. */
int agc_sigbus_reassert(void);
/* Returns a slot >= 0, or -1 if the table is full. */
int agc_sigbus_add_range(void *lo, size_t len, agc_fault_resolver fn, void *ctx);
/* Change the range of a slot (e.g. after the heap moved). */
void agc_sigbus_update_range(int slot, void *lo, size_t len);
void agc_sigbus_remove_range(int slot);
uint64_t agc_sigbus_chained_count(void);   /* faults passed on to the previous handler */
/* 1 when artgc's signal chain (heap/sigchain) is preloaded */
int agc_sigchain_active(void);

/* Handler-thread delivery. */
/* Called by every handler thread as it ends (set once, by the collector). */
extern void (*agc_fault_thread_exit_hook)(void);
typedef struct agc_fault_thread agc_fault_thread;
/* Starts a thread polling uffd; each page fault message goes to fn. */
agc_fault_thread *agc_fault_thread_start(int uffd, agc_fault_resolver fn, void *ctx);
/* Stops and joins it (returns within milliseconds even if no fault comes). */
void agc_fault_thread_stop(agc_fault_thread *t);
int agc_fault_thread_alive(agc_fault_thread *t);
/* For the tests: make the handler thread die as if it had crashed. */
void agc_fault_thread_kill(agc_fault_thread *t);
uint64_t agc_fault_thread_handled(agc_fault_thread *t);
/* The kind passed to the slot's resolver for SIGBUS faults (SIGBUS
 * does not say whether a fault is minor or missing; the default is
 * AGC_FAULT_MISSING). */
void agc_sigbus_set_kind(int slot, int kind);
/* Faults the resolver could not resolve (the thread was woken). */
uint64_t agc_fault_thread_failed(agc_fault_thread *t);
/* Pin the handler thread to one CPU. Returns AGC_OK or an AGC_E* code. */
int agc_fault_thread_pin(agc_fault_thread *t, int cpu);
#endif
