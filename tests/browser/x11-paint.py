#!/usr/bin/python3
"""Paint an X display with known colours for the X11 capture test: the root
window in one colour and a mapped top-level window in another, then stay
until killed (the window lives as long as its client's connection).

    x11-paint.py ROOT_RGB WINDOW_RGB X Y WIDTH HEIGHT      (colours as rrggbb)

Uses libX11 through ctypes (hfxtest.xlib): no toolkit needed. Prints "painted" once the
window is mapped and drawn."""
import signal
import sys
import time

from hfxtest.xlib import xlib


def main():
    root_rgb, win_rgb = int(sys.argv[1], 16), int(sys.argv[2], 16)
    x, y, w, h = (int(v) for v in sys.argv[3:7])
    X = xlib()
    if not X:
        print("x11-paint: libX11 not found", file=sys.stderr)
        return 1

    dpy = X.XOpenDisplay(None)
    if not dpy:
        print("x11-paint: cannot open the display ($DISPLAY)", file=sys.stderr)
        return 1
    root = X.XRootWindow(dpy, X.XDefaultScreen(dpy))
    # A 24-bit TrueColor visual (Xvfb's default): the pixel value is the RGB.
    X.XSetWindowBackground(dpy, root, root_rgb)
    X.XClearWindow(dpy, root)
    win = X.XCreateSimpleWindow(dpy, root, x, y, w, h, 0, 0, win_rgb)
    X.XMapRaised(dpy, win)
    X.XMoveWindow(dpy, win, x, y)  # without a window manager the position holds
    X.XSync(dpy, 0)
    print("painted", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
