#!/usr/bin/python3
"""desktop-bridge --source x11 end to end: Xvfb with a known picture (the
root window one colour, a mapped window another, drawn by x11-paint.py),
desktop-bridge capturing it with ximagesrc, headless Chromium showing it.

    bridge-x11.py DESKTOP_BRIDGE [--output-dir DIR]

The canvas must show the window's colour inside the window's rectangle and
the root's outside. Exits 77 (skipped) without Xvfb, chromium or
chromedriver."""
import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from hfxtest.bridgeproc import Bridge
from hfxtest.checks import Checks
from hfxtest.webdriver import SKIP, Driver, require_browser

HERE = Path(__file__).resolve().parent

SCREEN = (1280, 720)
ROOT_RGB = (0x20, 0x50, 0xa0)
WINDOW_RGB = (0xd0, 0x20, 0x20)
WINDOW = (160, 120, 480, 320)       # x, y, width, height
TOLERANCE = 24


def free_display():
    for n in range(90, 200):
        if not os.path.exists(f'/tmp/.X11-unix/X{n}') and not os.path.exists(f'/tmp/.X{n}-lock'):
            return n
    raise RuntimeError('no free X display number')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('bridge')
    ap.add_argument('--output-dir', default=None)
    args = ap.parse_args()
    if not shutil.which('Xvfb'):
        print('skipped: Xvfb not found (apt-get install xvfb)', flush=True)
        return SKIP
    require_browser()
    out = Path(args.output_dir or '/tmp/hfx-bridge-x11')
    out.mkdir(parents=True, exist_ok=True)

    n = free_display()
    env = dict(os.environ, DISPLAY=f':{n}')
    # -noreset: the server would clear the screen whenever its last client left.
    xvfb = subprocess.Popen(['Xvfb', f':{n}', '-screen', '0', f'{SCREEN[0]}x{SCREEN[1]}x24',
                             '-nolisten', 'tcp', '-noreset'],
                            stdout=subprocess.DEVNULL, stderr=open(out / 'xvfb.log', 'w'))
    painter = None
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(f'/tmp/.X11-unix/X{n}'):
            if xvfb.poll() is not None or time.monotonic() > deadline:
                print('FAIL: Xvfb did not start; see', out / 'xvfb.log', flush=True)
                return 1
            time.sleep(0.05)
        hexrgb = lambda c: '%02x%02x%02x' % c  # noqa: E731
        painter = subprocess.Popen([sys.executable, str(HERE / 'x11-paint.py'), hexrgb(ROOT_RGB),
                                    hexrgb(WINDOW_RGB), *map(str, WINDOW)],
                                   env=env, stdout=subprocess.PIPE, text=True)
        if painter.stdout.readline().strip() != 'painted':
            print('FAIL: x11-paint did not paint', flush=True)
            return 1
        with Bridge(args.bridge, '--source', 'x11', '--encoder', 'x264enc', env=env) as b, \
                Driver(output_dir=out) as drv:
            s = drv.session()
            s.navigate(b.url('/'))
            s.wait_for('window.hfxViewer && window.hfxViewer.framesDrawn >= 30', timeout=30)
            x, y, w, h = WINDOW
            points = [(x + w // 2, y + h // 2), (x + 10, y + 10), (x + w - 10, y + h - 10),
                      (40, 40), (SCREEN[0] - 40, SCREEN[1] - 40), (x + w + 40, y + h // 2)]
            want = [WINDOW_RGB] * 3 + [ROOT_RGB] * 3
            got = s.canvas_pixels('#screen', points)
            size = s.execute('const c = document.getElementById("screen");'
                             'return [c.width, c.height];')
            s.screenshot(out / 'x11.png')
            c = Checks()
            c.check(f'canvas {size}, screen {SCREEN}', size == list(SCREEN))
            for p, wnt, g in zip(points, want, got):
                err = max(abs(a - b) for a, b in zip(wnt, g[:3]))
                c.check(f'pixel {p}: rgba{tuple(g)}, want rgb{wnt}', err <= TOLERANCE)
            return c.verdict()
    finally:
        if painter:
            painter.terminate()
            painter.wait()
        xvfb.terminate()
        xvfb.wait()


if __name__ == '__main__':
    sys.exit(main())
