/* SPDX-License-Identifier: MIT */
/*
 * Authentication tokens (docs/protocol.md §4) kept in files, as hfxd's
 * --token-file and the clients' options name them.
 */
#ifndef HFX_TOKEN_H
#define HFX_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read the token: the first line of the file at path, without the line end
 * and trailing blanks, into out (cap bytes, NUL-terminated). *exposed (may
 * be NULL) tells whether group or others may read the file. HFX_E_IO when
 * the file cannot be read (errno says why), HFX_E_INVALID when the token is
 * empty or longer than HFX_MAX_TOKEN or cap allows. The caller should wipe
 * out when done. */
HFX_MUST_CHECK enum hfx_status hfx_token_read_file(const char *path, char *out, size_t cap,
                                                   bool *exposed);

#ifdef __cplusplus
}
#endif

#endif /* HFX_TOKEN_H */
