/* SPDX-License-Identifier: MIT */
/*
 * sendmsg () with at most one descriptor passed (SCM_RIGHTS), for every
 * part of hfx that hands a descriptor over a unix socket: libhfx's socket
 * transport and desktop-bridge's QMP client. Internal toolkit
 * (docs/architecture.md, "The internal toolkit").
 */
#ifndef HFX_UTIL_SENDFD_H
#define HFX_UTIL_SENDFD_H

#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sends iov[0..n) on sock with sendmsg (flags as sendmsg's), with pass_fd
 * attached when it is >= 0 (the descriptor stays the caller's: the peer
 * gets a copy). Retries EINTR. Returns sendmsg's result: the bytes sent (the
 * descriptor goes with the first of them), or -1 with errno set. */
ssize_t hfx_send_with_fd(int sock, const struct iovec *iov, int n, int pass_fd, int flags);

#ifdef __cplusplus
}
#endif

#endif /* HFX_UTIL_SENDFD_H */
