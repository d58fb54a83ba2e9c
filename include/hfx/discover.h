/* SPDX-License-Identifier: MIT */
/*
 * Guest-side discovery behind the `auto` address (docs/protocol.md §1):
 * which transports to try, in order. hfx_client_connect("auto") uses this;
 * it is public so that a tool can show what `auto` would try.
 */
#ifndef HFX_DISCOVER_H
#define HFX_DISCOVER_H

#include <stddef.h>

#include "hfx/status.h"
#include "hfx/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The virtio-serial port name an hfx host exports. */
#define HFX_PORT_NAME "org.helix.frame-export"
/* vsock port of an hfx host at CID 2 (the host). */
#define HFX_VSOCK_DEFAULT_PORT 5900
/* Bytes read from a sysfs `name` file. A file that fills all of them is
 * longer than any accepted port name and never matches. */
#define HFX_PORT_NAME_READ 256
/* Longest port name accepted: with its newline it stays under
 * HFX_PORT_NAME_READ. */
#define HFX_PORT_NAME_MAX (HFX_PORT_NAME_READ - 2)
/* Candidates hfx_client_connect tries for `auto` at most. */
#define HFX_DISCOVER_MAX 8

/* Where to look; tests point these at a temporary tree. Borrowed for the
 * call. NULL members (or a NULL struct) mean "/sys" and "/dev". */
struct hfx_discover_roots {
    const char *sys;
    const char *dev;
};

/* Fill out[0..*n) with address texts in the order to try them:
 *
 *   1. serial:DEV/virtio-ports/NAME when that path exists (the udev link;
 *      a dangling link does not count); otherwise
 *      serial:DEV/vportXpY for each directory SYS/class/virtio-ports/vportXpY
 *      whose `name` file holds NAME exactly (one trailing newline stripped;
 *      at most HFX_PORT_NAME_READ bytes read), in strcmp order of the
 *      directory names - guests without udev have no link;
 *   2. vsock:2:5900, only where libhfx has AF_VSOCK.
 *
 * port_name: NULL = HFX_PORT_NAME; else 1..HFX_PORT_NAME_MAX bytes, not
 * "." or "..", no '/' (HFX_E_ADDRESS otherwise). At most max entries are
 * written; candidates beyond them (later in the order) are left out. No
 * allocation. HFX_E_TOO_LARGE when a path would not fit: a root too long,
 * or a device path (the link, or a matching DEV/vportXpY) too long for
 * struct hfx_address.path. A missing SYS/class/virtio-ports is not an
 * error: there are no virtio-serial ports. *n is 0 on failure. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_discover_candidates(const struct hfx_discover_roots *roots, const char *port_name,
                        char out[][HFX_ADDRESS_MAX], size_t max, size_t *n);

#ifdef __cplusplus
}
#endif

#endif /* HFX_DISCOVER_H */
