#!/usr/bin/python3
"""desktop-bridge's scanout source on both sides of a VM, drawn by Chromium.

    frame-export-bridge.py QEMU RUN_IN_VM DESKTOP_BRIDGE GUEST_DRAW [--output-dir DIR]

The patched QEMU's helix-frame-export chardev serves its GPU's console
(virtio-gpu-pci, 1280x720) as scanout 0, to the guest's port and on
listen=unix:. In the guest, tests/qemu/guest-draw shows the pictures of
tests/scanout/scanout-images.h on its display as the test tells it (a file
in the shared results directory), and desktop-bridge --source scanout
(address auto: the port) serves them with no capture and no encoder of its
own; its port is forwarded to the host. On the host, desktop-bridge
--source scanout:unix:PATH serves the same console with no guest network
in the path. Chromium opens both viewers; for each picture, both canvases
must show it: the square's colour at its centre and the background's
colour elsewhere, within the SMPTE tests' tolerance. Exits 77 (skipped)
without chromium or chromedriver, or without the patched QEMU."""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from hfxtest.bridgeproc import Bridge
from hfxtest.checks import Checks
from hfxtest.guestbridge import GuestBridge
from hfxtest.smpte import TOLERANCE
from hfxtest.webdriver import Driver, require_browser

WIDTH, HEIGHT = 1280, 720
TOKEN = 'scanout-test'


def read_images():
    """From tests/scanout/scanout-images.h, the pictures guest-draw draws:
    [((B, G, R) of the background, (B, G, R) of the square)] and the
    square's size."""
    text = (Path(__file__).resolve().parent.parent / 'scanout' /
            'scanout-images.h').read_text()
    colours = [tuple(tuple(int(v, 16) for v in m.group(i, i + 1, i + 2)) for i in (1, 4))
               for m in re.finditer(r'\{\{(0x\w+), (0x\w+), (0x\w+)\}, '
                                    r'\{(0x\w+), (0x\w+), (0x\w+)\}\}', text)]
    count = int(re.search(r'#define SCANOUT_IMAGES (\d+)', text).group(1))
    square = int(re.search(r'#define SCANOUT_SQUARE (\d+)', text).group(1))
    if len(colours) != count:
        raise AssertionError(f'scanout-images.h: {len(colours)} colour pairs read, '
                             f'SCANOUT_IMAGES is {count}')
    return colours, square


COLOURS, SQUARE = read_images()


def square_at(k, w, h):
    return ((w - SQUARE) * k // (len(COLOURS) - 1)) & ~1, ((h - SQUARE) // 2 + (60 if k % 2 else 0)) & ~1


def samples(k):
    """[(x, y, want rgb)]: the square's centre and two background points no
    square of any picture covers."""
    sx, sy = square_at(k, WIDTH, HEIGHT)
    bg, sq = (tuple(reversed(c)) for c in COLOURS[k])
    return [(sx + SQUARE // 2, sy + SQUARE // 2, sq), (WIDTH // 2, 40, bg),
            (WIDTH // 4, HEIGHT - 40, bg)]


def shows(session, k):
    """(True, detail) when the viewer's canvas shows picture k."""
    pts = samples(k)
    try:
        got = session.canvas_pixels('#screen', [(x, y) for x, y, _ in pts])
    except Exception as e:  # noqa: BLE001 - no canvas yet is "not yet"
        return False, str(e)
    errs = [max(abs(a - b) for a, b in zip(want, px[:3])) for (_, _, want), px in zip(pts, got)]
    return all(e <= TOLERANCE for e in errs), [(x, y, want, tuple(px[:3]))
                                               for (x, y, want), px in zip(pts, got)]


def main():
    c = Checks()
    ap = argparse.ArgumentParser()
    ap.add_argument('qemu')
    ap.add_argument('run_in_vm')
    ap.add_argument('bridge')
    ap.add_argument('guest_draw')
    ap.add_argument('--output-dir', default=None)
    args = ap.parse_args()
    if not os.access(args.qemu, os.X_OK):
        print(f'SKIP: no patched QEMU at {args.qemu} (scripts/build-qemu builds it)')
        return 77
    require_browser()
    out = Path(args.output_dir or tempfile.mkdtemp(prefix='hfx-scanout-bridge-'))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix='hfx-scanout-bridge-'))
    sock = work / 'scanout.sock'
    t0 = time.monotonic()
    try:
        guest = GuestBridge(
            args.run_in_vm, args.bridge, '--source', 'scanout', '--fps', '30',
            token=TOKEN, log_path=out / 'run-in-vm.log', vm_timeout=280, stats_interval=5,
            vm_args=['--qemu', args.qemu,
                     '--frame-export', f'gpu=gpu0,encoder=libx264,listen=unix:{sock}',
                     '--qemu-arg=-device', f'--qemu-arg=virtio-gpu-pci,id=gpu0,xres={WIDTH},'
                     f'yres={HEIGHT}'],
            before=f'{args.guest_draw} --follow {{results}}/step > {{results}}/draw.log 2>&1')
    except AssertionError as e:
        c.check('desktop-bridge --source scanout answers from the guest', False, e)
        shutil.rmtree(work, ignore_errors=True)
        return 1
    host = None
    try:
        c.check('desktop-bridge --source scanout answers from the guest', True,
                f'after {time.monotonic() - t0:.1f} s')
        step = guest.results / 'step'
        host = Bridge(args.bridge, '--source', f'scanout:unix:{sock}', '--fps', '30')
        with Driver(output_dir=out) as drv:
            gs, hs = drv.sessions(2)
            gs.navigate(guest.url(f'/?token={TOKEN}'))
            hs.navigate(host.url('/'))
            for k in [0, 1, 2, 3, 4, 5, 0]:
                if k or step.exists():
                    step.write_text(f'{k}\n')
                t1 = time.monotonic()
                seen = {}
                last = {}
                while len(seen) < 2 and time.monotonic() - t1 < 30:
                    for name, sess in (('in-guest bridge', gs), ('host-side bridge', hs)):
                        if name in seen:
                            continue
                        ok, last[name] = shows(sess, k)
                        if ok:
                            seen[name] = time.monotonic() - t1
                    time.sleep(0.1)
                for name in ('in-guest bridge', 'host-side bridge'):
                    c.check(f'picture {k} drawn by Chromium through the {name}', name in seen,
                            f'after {seen[name]:.2f} s' if name in seen
                            else f'not within 30 s; last samples (x, y, want, got): '
                                 f'{last.get(name)}')
            gs.screenshot(out / 'in-guest.png')
            hs.screenshot(out / 'host-side.png')
            for name, sess in (('in-guest bridge', gs), ('host-side bridge', hs)):
                v = sess.execute('const v = window.hfxViewer, c = document.getElementById("screen");'
                                 'return {w: c.width, h: c.height, errors: v.errors};')
                c.check(f'the {name}\'s viewer: {WIDTH}x{HEIGHT}, no errors',
                        (v['w'], v['h']) == (WIDTH, HEIGHT) and not v['errors'], v)
            # While the viewers are there: latency is over their acks.
            gst, hst = guest.stats(), host.stats('')
        c.check('the in-guest bridge serves the scanout through the port',
                gst['encoder'].startswith('scanout 0 of serial:'), gst['encoder'])
        c.check('the host-side bridge serves the scanout through listen=',
                hst['encoder'].startswith(f'scanout 0 of unix:{sock}'), hst['encoder'])
        for name, st in (('in-guest', gst), ('host-side', hst)):
            g2g = st['latency']['glass_to_glass']
            # Host-side: from the host taking the picture (the same clock);
            # in-guest: from the bridge receiving it.
            print(f'{name}: {st["encoder"]}, {st["frames_captured"]} pictures received, '
                  f'to drawn p50 {g2g.get("p50_ms", 0):.1f} ms '
                  f'p99 {g2g.get("p99_ms", 0):.1f} ms', flush=True)
        step.write_text('quit\n')
    finally:
        if host:
            host.stop()
            print('--- host-side bridge\n' + '\n'.join(host.lines[-20:]))
        draw_log = guest.results / 'draw.log'
        if draw_log.exists():
            print('--- guest-draw\n' + draw_log.read_text(errors='replace')[-2000:])
        rc = guest.stop()
        c.check('the guest stopped cleanly', rc == 0, f'run-in-vm exit {rc}')
        shutil.rmtree(work, ignore_errors=True)
        vm_log = out / 'run-in-vm.log'
        print('--- guest (run-in-vm.log, tail)\n' + vm_log.read_text(errors='replace')[-3000:])
    return c.verdict()


if __name__ == '__main__':
    sys.exit(main())
