/* SPDX-License-Identifier: MIT */
/*
 * Preloaded (LD_PRELOAD) into every process that `meson test --setup
 * valgrind` runs, never linked into anything.
 *
 * libavcodec pulls in libjxl, and libjxl libhwy, whose constructor calls
 * hwy::platform::TimerResolution(). That function executes RDTSCP when CPUID
 * says the CPU has it. Under valgrind the CPUID it sees is valgrind's own,
 * which claims RDTSCP, but valgrind 3.19 decodes RDTSCP only where the real
 * CPU advertises it. Where CPUID hides it (the 2-core development machines:
 * AMD EPYC, no rdtscp in /proc/cpuinfo) every process linked with libavcodec
 * died of SIGILL in libhwy's constructor, before main. libhwy calls the
 * function through its PLT, so this definition replaces it. Its result only
 * calibrates Highway's benchmark timers, which nothing here uses.
 */
#include <stdint.h>

uint64_t hfx_hwy_timer_resolution(void) __asm__("_ZN3hwy8platform15TimerResolutionEv");

uint64_t hfx_hwy_timer_resolution(void)
{
    return 1;
}
