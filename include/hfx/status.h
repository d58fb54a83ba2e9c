/* SPDX-License-Identifier: MIT */
/*
 * hfx status codes: one enum for the library's results and for the codes
 * carried in the protocol's ERROR message (docs/protocol.md, section
 * "Error codes"). Append only: values are on the wire and never renumbered.
 */
#ifndef HFX_STATUS_H
#define HFX_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HFX_MUST_CHECK __attribute__((warn_unused_result))
#else
#define HFX_MUST_CHECK
#endif

/* Marks what libhfx and libhfx-host export: they are built with
 * -fvisibility=hidden, so that only the functions of include/hfx are
 * visible to their users (docs/architecture.md, "Libraries"). */
#if defined(__GNUC__) || defined(__clang__)
#define HFX_EXPORT __attribute__((visibility("default")))
#else
#define HFX_EXPORT
#endif

enum hfx_status {
    HFX_OK = 0,
    /* Not an error: a parser needs more bytes, or a non-blocking call
     * would block. */
    HFX_INCOMPLETE = 1,
    HFX_E_BAD_MAGIC = 2,
    HFX_E_VERSION = 3,
    HFX_E_UNKNOWN_TYPE = 4,
    HFX_E_BAD_FLAGS = 5,
    HFX_E_TRUNCATED = 6,
    HFX_E_TOO_LARGE = 7,
    HFX_E_BAD_DIMENSIONS = 8,
    HFX_E_BAD_STRIDE = 9,
    HFX_E_BAD_FORMAT = 10,
    HFX_E_NOT_CONFIGURED = 11,
    HFX_E_SHM_RANGE = 12,
    HFX_E_AUTH = 13,
    HFX_E_STATE = 14,
    HFX_E_MALFORMED = 15,
    HFX_E_UNKNOWN_STREAM = 16,
    HFX_E_TOO_MANY_STREAMS = 17,
    HFX_E_BUSY = 18,
    HFX_E_NO_ENCODER = 19,
    HFX_E_ENCODER = 20,
    HFX_E_SLOW_CONSUMER = 21,
    HFX_E_NOMEM = 22,
    HFX_E_IO = 23,
    HFX_E_CLOSED = 24,
    HFX_E_ADDRESS = 25,
    HFX_E_UNSUPPORTED = 26,
    HFX_E_TIMEOUT = 27,
    HFX_E_INVALID = 28,
    HFX_E_INTERNAL = 29,
    HFX_E_REMOTE = 30,
    /* SUBSCRIBE names a scanout the host does not have. */
    HFX_E_NO_SOURCE = 31,
    HFX_STATUS_COUNT_ /* not a status; keep last */
};

/* Static English text for a status; never NULL (unknown values give
 * "unknown status"). */
HFX_EXPORT const char *hfx_strerror(enum hfx_status status);

/* Symbolic name, e.g. "HFX_E_BAD_MAGIC"; never NULL. */
HFX_EXPORT const char *hfx_status_name(enum hfx_status status);

/* Log levels for the diagnostics callback. The library never prints: it
 * reports through this callback when one is set and is silent otherwise. */
enum hfx_log_level {
    HFX_LOG_ERROR = 0,
    HFX_LOG_WARN = 1,
    HFX_LOG_INFO = 2,
    HFX_LOG_DEBUG = 3,
};

/* msg is a complete line without the trailing newline, valid for the call
 * only. */
typedef void (*hfx_log_fn)(void *user, enum hfx_log_level level, const char *msg);

#ifdef __cplusplus
}
#endif

#endif /* HFX_STATUS_H */
