#!/usr/bin/python3
"""The X11 side of bench/run-scanout's x264enc case, run in the guest: a window
covering the X display ($DISPLAY) in the background colour of picture 0 of
tests/scanout/scanout-images.h, repainted in the next picture's colour at
once on every key press any /dev/input/event* device reports (buttons do not
count), as tests/qemu/guest-draw --on-key does on the DRM display.

    DISPLAY=:1 PYTHONPATH=tests/support guest-x11-keys.py WIDTH HEIGHT

Uses libX11 through ctypes (hfxtest.xlib, no toolkit). Prints "painted K" after each
repaint; runs until killed."""
import os
import select
import struct
import sys
import time

from hfxtest import scanoutimages
from hfxtest.xlib import xlib

EV_KEY = 1
BTN_MISC = 0x100
# struct input_event on 64-bit Linux: struct timeval, u16 type, u16 code, s32 value.
EVENT = struct.Struct('llHHi')


def main():
    w, h = int(sys.argv[1]), int(sys.argv[2])
    # X wants 0xRRGGBB on a TrueColor visual.
    colours = [r << 16 | g << 8 | b for r, g, b in scanoutimages.backgrounds()]
    X = xlib()
    if not X:
        print('guest-x11-keys: libX11 not found', file=sys.stderr)
        return 1
    # Started with the X server: it may take a while under TCG.
    dpy = None
    for _ in range(600):
        dpy = X.XOpenDisplay(None)
        if dpy:
            break
        time.sleep(0.1)
    if not dpy:
        print('guest-x11-keys: cannot open the X display in 60 s', file=sys.stderr)
        return 1
    root = X.XRootWindow(dpy, X.XDefaultScreen(dpy))
    win = X.XCreateSimpleWindow(dpy, root, 0, 0, w, h, 0, 0, colours[0])
    X.XMapRaised(dpy, win)
    X.XSync(dpy, 0)
    fds = []
    for i in range(32):
        try:
            fds.append(os.open(f'/dev/input/event{i}', os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass
    if not fds:
        print('guest-x11-keys: no /dev/input/event* device', file=sys.stderr)
        return 1
    k = 0
    print(f'painted {k}', flush=True)
    while True:
        ready, _, _ = select.select(fds, [], [])
        pressed = False
        for fd in ready:
            try:
                data = os.read(fd, EVENT.size * 64)
            except BlockingIOError:
                continue
            for off in range(0, len(data) - EVENT.size + 1, EVENT.size):
                _, _, typ, code, value = EVENT.unpack_from(data, off)
                if typ == EV_KEY and value == 1 and code < BTN_MISC:
                    pressed = True
        if pressed:
            k = (k + 1) % len(colours)
            X.XSetWindowBackground(dpy, win, colours[k])
            X.XClearWindow(dpy, win)
            X.XSync(dpy, 0)
            print(f'painted {k}', flush=True)


if __name__ == '__main__':
    sys.exit(main())
