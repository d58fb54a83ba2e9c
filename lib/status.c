/* SPDX-License-Identifier: MIT */
#include "hfx/status.h"

#include <stddef.h>

struct status_info {
    const char *name;
    const char *text;
};

/* Indexed by enum hfx_status; the static assert keeps it in step. */
static const struct status_info status_table[] = {
    [HFX_OK] = {"HFX_OK", "success"},
    [HFX_INCOMPLETE] = {"HFX_INCOMPLETE", "more data needed"},
    [HFX_E_BAD_MAGIC] = {"HFX_E_BAD_MAGIC", "bad magic number"},
    [HFX_E_VERSION] = {"HFX_E_VERSION", "unsupported protocol version"},
    [HFX_E_UNKNOWN_TYPE] = {"HFX_E_UNKNOWN_TYPE", "unknown message type"},
    [HFX_E_BAD_FLAGS] = {"HFX_E_BAD_FLAGS", "unknown or reserved flag bits set"},
    [HFX_E_TRUNCATED] = {"HFX_E_TRUNCATED", "message or plane data truncated"},
    [HFX_E_TOO_LARGE] = {"HFX_E_TOO_LARGE", "size over the allowed maximum"},
    [HFX_E_BAD_DIMENSIONS] = {"HFX_E_BAD_DIMENSIONS", "width or height zero, odd or too large"},
    [HFX_E_BAD_STRIDE] = {"HFX_E_BAD_STRIDE", "stride smaller than a row"},
    [HFX_E_BAD_FORMAT] = {"HFX_E_BAD_FORMAT", "unknown pixel format or codec"},
    [HFX_E_NOT_CONFIGURED] = {"HFX_E_NOT_CONFIGURED", "stream not configured"},
    [HFX_E_SHM_RANGE] = {"HFX_E_SHM_RANGE", "shared memory region or range invalid"},
    [HFX_E_AUTH] = {"HFX_E_AUTH", "authentication failed"},
    [HFX_E_STATE] = {"HFX_E_STATE", "message not valid in this state"},
    [HFX_E_MALFORMED] = {"HFX_E_MALFORMED", "malformed message field"},
    [HFX_E_UNKNOWN_STREAM] = {"HFX_E_UNKNOWN_STREAM", "unknown stream"},
    [HFX_E_TOO_MANY_STREAMS] = {"HFX_E_TOO_MANY_STREAMS", "too many streams"},
    [HFX_E_BUSY] = {"HFX_E_BUSY", "host busy: session limit reached"},
    [HFX_E_NO_ENCODER] = {"HFX_E_NO_ENCODER", "no usable encoder"},
    [HFX_E_ENCODER] = {"HFX_E_ENCODER", "encoder failure"},
    [HFX_E_SLOW_CONSUMER] = {"HFX_E_SLOW_CONSUMER", "peer does not read fast enough"},
    [HFX_E_NOMEM] = {"HFX_E_NOMEM", "out of memory"},
    [HFX_E_IO] = {"HFX_E_IO", "input/output error"},
    [HFX_E_CLOSED] = {"HFX_E_CLOSED", "connection closed"},
    [HFX_E_ADDRESS] = {"HFX_E_ADDRESS", "malformed address"},
    [HFX_E_UNSUPPORTED] = {"HFX_E_UNSUPPORTED", "not supported"},
    [HFX_E_TIMEOUT] = {"HFX_E_TIMEOUT", "timed out"},
    [HFX_E_INVALID] = {"HFX_E_INVALID", "invalid argument"},
    [HFX_E_INTERNAL] = {"HFX_E_INTERNAL", "internal error"},
    [HFX_E_REMOTE] = {"HFX_E_REMOTE", "peer reported an error"},
    [HFX_E_NO_SOURCE] = {"HFX_E_NO_SOURCE", "no such picture source"},
};

_Static_assert(sizeof(status_table) / sizeof(status_table[0]) == HFX_STATUS_COUNT_,
               "status_table must cover every enum hfx_status value");

static const struct status_info *lookup(enum hfx_status status)
{
    if ((unsigned)status >= HFX_STATUS_COUNT_ || status_table[status].name == NULL)
        return NULL;
    return &status_table[status];
}

const char *hfx_strerror(enum hfx_status status)
{
    const struct status_info *info = lookup(status);
    return info ? info->text : "unknown status";
}

const char *hfx_status_name(enum hfx_status status)
{
    const struct status_info *info = lookup(status);
    return info ? info->name : "HFX_E_UNKNOWN";
}
