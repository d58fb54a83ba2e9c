/* SPDX-License-Identifier: MIT */
/*
 * The `auto` address's candidates (include/hfx/discover.h, docs/protocol.md
 * §1): the virtio-serial port by its udev link or, without udev, by its
 * sysfs name, then vsock to the host.
 */
#include "hfx/discover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport-private.h"
#include "util/text.h"

#define SERIAL_PATH_CAP sizeof(((struct hfx_address *)0)->path)
#define SYSFS_PORTS "/class/virtio-ports"

static bool port_name_valid(const char *name, size_t len)
{
    return len > 0 && len <= HFX_PORT_NAME_MAX && !memchr(name, '/', len) &&
           strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Does the sysfs name file at path hold exactly name (one trailing newline
 * allowed)? Reads at most HFX_PORT_NAME_READ bytes; any failure is "no". */
static bool name_file_matches(const char *path, const char *name, size_t len)
{
    char buf[HFX_PORT_NAME_READ];
    size_t got;

    /* A full buffer is longer than HFX_PORT_NAME_MAX plus its newline. */
    if (!hfx_text_read_file(path, buf, sizeof(buf), &got))
        return false;
    if (got > 0 && buf[got - 1] == '\n')
        got--;
    return got == len && memcmp(buf, name, len) == 0;
}

/* Insert text into out[0..*n), kept in strcmp order, holding at most cap
 * entries: one that would sort past the end is dropped, and a full list
 * drops its last entry to make room. */
static void insert_sorted(char out[][HFX_ADDRESS_MAX], size_t cap, size_t *n, const char *text)
{
    size_t pos = 0;

    while (pos < *n && strcmp(out[pos], text) <= 0)
        pos++;
    if (pos >= cap)
        return;
    size_t last = *n < cap ? *n : cap - 1;
    for (size_t i = last; i > pos; i--)
        memcpy(out[i], out[i - 1], HFX_ADDRESS_MAX);
    /* text was checked to fit by the caller. */
    snprintf(out[pos], HFX_ADDRESS_MAX, "%s", text);
    if (*n < cap)
        (*n)++;
}

/* Every dir_path/ENT (dir_path = SYS/class/virtio-ports) whose name file holds name, as
 * serial:DEV/ENT, sorted, at most cap. */
static enum hfx_status scan_sysfs(const char *dir_path, const char *dev, const char *name,
                                  size_t len, char out[][HFX_ADDRESS_MAX], size_t cap, size_t *n)
{
    char name_path[PATH_MAX], text[HFX_ADDRESS_MAX];
    struct dirent *ent;
    DIR *dir;

    dir = opendir(dir_path);
    if (!dir)
        return HFX_OK; /* no virtio-serial ports (or no sysfs): nothing to add */
    while ((ent = readdir(dir)) != NULL) {
        if (ent->d_name[0] == '.')
            continue;
        if (!hfx_text_format(name_path, sizeof(name_path), "%s/%s/name", dir_path, ent->d_name)) {
            closedir(dir);
            return HFX_E_TOO_LARGE;
        }
        if (!name_file_matches(name_path, name, len))
            continue;
        /* The device node must fit a serial address's path. */
        if (strlen(dev) + 1 + strlen(ent->d_name) >= SERIAL_PATH_CAP ||
            !hfx_text_format(text, sizeof(text), "serial:%s/%s", dev, ent->d_name)) {
            closedir(dir);
            return HFX_E_TOO_LARGE;
        }
        insert_sorted(out, cap, n, text);
    }
    closedir(dir);
    return HFX_OK;
}

enum hfx_status hfx_discover_candidates(const struct hfx_discover_roots *roots,
                                        const char *port_name, char out[][HFX_ADDRESS_MAX],
                                        size_t max, size_t *n)
{
    const char *sys = roots && roots->sys ? roots->sys : "/sys";
    const char *dev = roots && roots->dev ? roots->dev : "/dev";
    const char *name = port_name ? port_name : HFX_PORT_NAME;
    size_t len = strnlen(name, HFX_PORT_NAME_MAX + 1);
    char link[SERIAL_PATH_CAP], ports[PATH_MAX];
    struct stat st;
    enum hfx_status status;

    if (!n || (max > 0 && !out))
        return HFX_E_INVALID;
    *n = 0;
    if (!port_name_valid(name, len))
        return len > HFX_PORT_NAME_MAX ? HFX_E_TOO_LARGE : HFX_E_ADDRESS;
    /* Both paths are built (and so checked) even when one is not used, so
     * that a root too long fails the same way whatever the tree holds. */
    if (!hfx_text_format(link, sizeof(link), "%s/virtio-ports/%s", dev, name) ||
        !hfx_text_format(ports, sizeof(ports), "%s" SYSFS_PORTS, sys))
        return HFX_E_TOO_LARGE;
    if (stat(link, &st) == 0) {
        if (max > 0) {
            /* link is shorter than SERIAL_PATH_CAP, far below HFX_ADDRESS_MAX. */
            snprintf(out[0], HFX_ADDRESS_MAX, "serial:%s", link);
            *n = 1;
        }
    } else {
        status = scan_sysfs(ports, dev, name, len, out, max, n);
        if (status != HFX_OK) {
            *n = 0;
            return status;
        }
    }
#ifdef HFX_HAVE_VSOCK
    if (*n < max) {
        snprintf(out[*n], HFX_ADDRESS_MAX, "vsock:2:%u", (unsigned)HFX_VSOCK_DEFAULT_PORT);
        (*n)++;
    }
#endif
    return HFX_OK;
}
