/* SPDX-License-Identifier: MIT */
/*
 * Allocation failure on purpose, for tests only (docs/testing.md, "Fault
 * injection"). A test binary linked with
 *
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc
 *
 * sends every malloc, calloc and realloc of the objects linked statically
 * into it (libhfx, libhfx-host, the test itself) through the counter here;
 * shared libraries (libavcodec, glibc) keep the real allocator. Once armed,
 * the n-th counted allocation returns NULL with errno ENOMEM. Under ASan the
 * real calls still reach ASan's allocator (__real_malloc is malloc).
 *
 * Allocations by a thread that called fault_alloc_exempt_thread() (the test's
 * own client) are neither counted nor failed.
 */
#ifndef HFX_TEST_FAULT_ALLOC_H
#define HFX_TEST_FAULT_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The calling thread's allocations never fail and are not counted. */
void fault_alloc_exempt_thread(void);

/* Count from now; the n-th counted allocation (n >= 1) fails, and with
 * `every` each one after it too. */
void fault_alloc_arm(uint64_t n, bool every);

/* Stop failing; returns how many allocations were counted since arm. */
uint64_t fault_alloc_disarm(void);

/* Allocations failed since arm. */
uint64_t fault_alloc_failures(void);

/* Where the first failed allocation was called from: an offset into the
 * executable (for addr2line -f -e EXE), or 0. */
uintptr_t fault_alloc_failed_site(void);

/* True when the wrapping is in effect (an armed malloc(1) fails). */
bool fault_alloc_works(void);

#endif /* HFX_TEST_FAULT_ALLOC_H */
