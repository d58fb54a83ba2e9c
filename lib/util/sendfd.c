/* SPDX-License-Identifier: MIT */
#include "util/sendfd.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

ssize_t hfx_send_with_fd(int sock, const struct iovec *iov, int n, int pass_fd, int flags)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg;
    ssize_t r;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = n;
    if (pass_fd >= 0) {
        struct cmsghdr *cmsg;
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
    }
    do
        r = sendmsg(sock, &msg, flags);
    while (r < 0 && errno == EINTR);
    return r;
}
