/* SPDX-License-Identifier: MIT */
/*
 * The libFuzzer entry point every target in tests/fuzz defines. replay.c
 * calls it for each corpus file, so the committed corpus runs as a
 * regression test in builds without libFuzzer.
 */
#ifndef HFX_FUZZ_H
#define HFX_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* HFX_FUZZ_H */
