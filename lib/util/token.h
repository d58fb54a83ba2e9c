/* SPDX-License-Identifier: MIT */
/*
 * Authentication tokens (docs/protocol.md §4) kept in files, as hfxd's
 * --token-file and the clients' options name them. Internal toolkit
 * (docs/architecture.md, "The internal toolkit").
 */
#ifndef HFX_UTIL_TOKEN_H
#define HFX_UTIL_TOKEN_H

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

/* Whether two tokens are equal, in time that depends on neither's bytes
 * (a guess must not learn how much of it was right). Tokens are at most
 * HFX_MAX_TOKEN bytes; a longer one is never equal. */
bool hfx_token_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Overwrite n bytes at p with zeros where a token was, in a way the
 * compiler keeps (a plain memset right before free() or the end of the
 * buffer's life may be dropped as a dead store). NULL-safe when n is 0. */
void hfx_wipe(void *p, size_t n);

/* hfx_wipe of a NUL-terminated token's bytes (not the terminator);
 * NULL-safe. The caller still frees it. */
void hfx_token_wipe(char *token);

#ifdef __cplusplus
}
#endif

#endif /* HFX_UTIL_TOKEN_H */
