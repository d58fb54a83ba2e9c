#!/usr/bin/python3
"""desktop-bridge's scanout source on both sides of a VM, drawn by Chromium.

    frame-export-bridge.py QEMU RUN_IN_VM DESKTOP_BRIDGE GUEST_DRAW GUEST_EVDEV
                           [--output-dir DIR]

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
colour elsewhere, within the SMPTE tests' tolerance.

Input (docs/protocol.md §5.18): the host-side bridge runs with --input; a
key pressed and a click made in its Chromium viewer must reach the guest's
evdev devices (virtio keyboard and tablet, read by tests/qemu/guest-evdev)
as KEY_A down and up, BTN_LEFT down and up, and the tablet at the picture
pixel clicked. In the guest, desktop-bridge --source scanout --input must
refuse to start: the chardev takes no input from the guest's own port.
Exits 77 (skipped) without chromium or chromedriver, or without the patched
QEMU."""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from hfxtest.bridgeproc import Bridge
from hfxtest.checks import Checks
from hfxtest.guestbridge import GuestBridge
from hfxtest.guestinput import check_key_and_click, evdev_lines
from hfxtest.scanoutimages import canvas_shows
from hfxtest.smpte import TOLERANCE
from hfxtest.webdriver import Driver, require_browser

WIDTH, HEIGHT = 1280, 720
TOKEN = 'scanout-test'


def shows(session, k):
    """(True, detail) when the viewer's canvas shows picture k."""
    return canvas_shows(session, k, WIDTH, HEIGHT, TOLERANCE)


def check_input(c, gs, hs, results):
    """A key and a click in the host-side viewer reach the guest's evdev."""
    c.check('the in-guest viewer is told input is off',
            gs.evaluate('window.hfxViewer.inputAllowed') is False)
    try:
        hs.wait_for('window.hfxViewer.inputAllowed === true', timeout=10)
        allowed = True
    except Exception:  # noqa: BLE001 - reported below
        allowed = False
    c.check('the host-side viewer is told input is on (--input)', allowed)
    check_key_and_click(c, hs, results, WIDTH, HEIGHT)


def main():
    c = Checks()
    ap = argparse.ArgumentParser()
    ap.add_argument('qemu')
    ap.add_argument('run_in_vm')
    ap.add_argument('bridge')
    ap.add_argument('guest_draw')
    ap.add_argument('guest_evdev')
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
                     f'yres={HEIGHT}',
                     '--qemu-arg=-device', '--qemu-arg=virtio-keyboard-pci',
                     '--qemu-arg=-device', '--qemu-arg=virtio-tablet-pci'],
            # In order: the refused --input attempt (it must let the port go
            # before the bridge takes it), then the evdev reader and the
            # drawing in the background.
            before=f'{args.bridge} --source scanout --input --listen 127.0.0.1:0 '
                   f'--stats-interval 0 > {{results}}/guest-input.log 2>&1; '
                   f'echo "exit $?" >> {{results}}/guest-input.log; '
                   f'{args.guest_evdev} > {{results}}/evdev.log 2>&1 & '
                   f'{args.guest_draw} --follow {{results}}/step > {{results}}/draw.log 2>&1')
    except AssertionError as e:
        c.check('desktop-bridge --source scanout answers from the guest', False, e)
        shutil.rmtree(work, ignore_errors=True)
        return 1
    host = None
    try:
        c.check('desktop-bridge --source scanout answers from the guest', True,
                f'after {time.monotonic() - t0:.1f} s')
        step = guest.results / 'step'
        host = Bridge(args.bridge, '--source', f'scanout:unix:{sock}', '--fps', '30', '--input')
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
            check_input(c, gs, hs, guest.results)
            # While the viewers are there: latency is over their acks.
            gst, hst = guest.stats(), host.stats('')
        c.check('the host-side bridge passed the viewer\'s input on', hst['inputs'] >= 4,
                f'{hst["inputs"]} key and pointer messages')
        refused = (guest.results / 'guest-input.log').read_text(errors='replace')
        c.check('in the guest, desktop-bridge --input is refused (the port takes no input)',
                'takes no input' in refused and 'exit 1' in refused, refused[-600:])
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
        print('--- guest-evdev\n' + '\n'.join(evdev_lines(guest.results)[-30:]))
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
