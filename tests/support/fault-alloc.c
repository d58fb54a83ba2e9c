/* SPDX-License-Identifier: MIT */
/*
 * The allocation counter behind -Wl,--wrap (fault-alloc.h).
 */
#include "fault-alloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static atomic_bool armed;
static atomic_bool every;
static atomic_ullong target;
static atomic_ullong counted;
static atomic_ullong failures;
static atomic_uintptr_t failed_site;
static _Thread_local bool exempt;

void fault_alloc_exempt_thread(void)
{
    exempt = true;
}

void fault_alloc_arm(uint64_t n, bool all_after)
{
    atomic_store(&counted, 0);
    atomic_store(&failures, 0);
    atomic_store(&failed_site, 0);
    atomic_store(&target, n);
    atomic_store(&every, all_after);
    atomic_store(&armed, true);
}

uint64_t fault_alloc_disarm(void)
{
    atomic_store(&armed, false);
    return atomic_load(&counted);
}

uint64_t fault_alloc_failures(void)
{
    return atomic_load(&failures);
}

uintptr_t fault_alloc_failed_site(void)
{
    return atomic_load(&failed_site);
}

/* Whether this allocation, called from `site`, fails. */
static bool fail_now(void *site)
{
    if (exempt || !atomic_load(&armed))
        return false;
    uint64_t k = atomic_fetch_add(&counted, 1) + 1;
    uint64_t n = atomic_load(&target);
    if (k != n && !(atomic_load(&every) && k > n))
        return false;
    if (atomic_fetch_add(&failures, 1) == 0) {
        Dl_info info;
        uintptr_t off = (uintptr_t)site;
        if (dladdr(site, &info) && info.dli_fbase)
            off -= (uintptr_t)info.dli_fbase;
        /* The call instruction, not the one after it. */
        atomic_store(&failed_site, off - 1);
    }
    errno = ENOMEM;
    return true;
}

void *__wrap_malloc(size_t size)
{
    if (fail_now(__builtin_return_address(0)))
        return NULL;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (fail_now(__builtin_return_address(0)))
        return NULL;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    /* realloc(p, 0) frees on glibc; hfx never calls it so, and failing it
     * would not be a failed allocation. */
    if (size && fail_now(__builtin_return_address(0)))
        return NULL;
    return __real_realloc(p, size);
}

bool fault_alloc_works(void)
{
    bool was_exempt = exempt;
    void *volatile p;

    exempt = false;
    fault_alloc_arm(1, false);
    p = malloc(1);
    fault_alloc_disarm();
    exempt = was_exempt;
    free(p);
    return p == NULL;
}
