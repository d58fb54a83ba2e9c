#!/usr/bin/python3
"""Suite dbus: desktop-bridge --source qemu-dbus on a stock QEMU, no guest
software but the program that draws (docs/bridge.md, "QEMU D-Bus display").

    qemu-dbus-bridge.py QEMU RUN_IN_VM BRIDGE GUEST_DRAW GUEST_EVDEV
                        --path copy|map [--bus] [--resize] [--relative]
                        [--output-dir DIR]

QEMU (Debian 12's 7.2: the pixels in Scanout/Update messages, --path copy;
stock 10.0: the surface shared as memory, ScanoutMap/UpdateMap, --path map)
runs the suite's TCG guest (tests/vm/run-in-vm) with a virtio-gpu-pci device
at 1280x720, -display dbus,p2p=yes and a QMP socket. In the guest,
tests/qemu/guest-draw draws the pictures of tests/scanout/scanout-images.h
into its framebuffer as the test tells it (a file in the shared results
directory). On the host, desktop-bridge --source qemu-dbus:qmp:PATH hands
QEMU one end of a socketpair (QMP getfd + add_client); with --bus, QEMU joins
a private bus instead (a dbus-daemon of the test's, -display dbus,addr=)
and the bridge takes --source qemu-dbus:ADDRESS. The bridge listens to console 0
and encodes with x264enc. Headless Chromium opens the viewer; for each
picture the canvas must show the square's colour at its centre and the
background's elsewhere, within the SMPTE tests' tolerance. Then the guest
sets another mode (1024x768) and draws a picture in it: the viewer's canvas
must follow and show it, with no restart. The bridge must
say which path it used, and report its longest reply to QEMU. Input (the
bridge runs with --input; the guest has a virtio keyboard and tablet, and
tests/qemu/guest-evdev logs what they report): "a" pressed and a click in
the viewer must arrive as KEY_A down and up, BTN_LEFT down and up, the
tablet within 2 pixels of the picture pixel clicked (in the new mode).
The guest shows a pointer on its cursor plane (guest-draw --cursor): the
viewer must take it as its CSS cursor, with its size, hot spot and colours.
With --relative the guest has a virtio mouse instead of the tablet (QEMU's
Mouse is then not absolute): a move in the viewer must arrive as relative motion
summing to it, within 2 pixels, then the click.
A second viewer (a raw WebSocket client) that sends a malformed input
message must be closed (1008) while the browser's stream goes on.

With --resize (the bridge's --resize, guest-draw --preferred, which sets
the connector's preferred mode as a desktop would): the guest must first
take the size the browser's window asks for, and every picture is checked
at that size; after the guest's own mode change, the window is resized:
the guest's new mode (read back in the guest's log) and the stream must
follow it. A second viewer's size is ignored (the first decides: /stats).

Then QEMU is killed: the bridge must say that QEMU went away and exit 1
(docs/bridge.md).
Exits 77 (skipped) without chromium or chromedriver, or without QEMU.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hfxtest.bridgeproc import Bridge, child_pid
from hfxtest.checks import Checks
from hfxtest.dbusbus import PrivateBus, has_owner, wait_for
from hfxtest.guestinput import (check_key, check_key_and_click, check_relative_click,
                                evdev_lines)
from hfxtest.scanoutimages import canvas_shows
from hfxtest.smpte import TOLERANCE
from hfxtest.webdriver import Driver, require_browser
from hfxtest.wsclient import ConnectionClosed

WIDTH, HEIGHT = 1280, 720
NEW_MODE = (1024, 768)
# The browser's window after the resize (CSS pixels; device pixel ratio 1).
RESIZED_WINDOW = (1000, 660)
# guest-draw --cursor's pointer (tests/qemu/guest-draw.c)
CURSOR = {'visible': True, 'width': 64, 'height': 64, 'hotX': 3, 'hotY': 5}
CURSOR_RGB = (0x20, 0xc0, 0x40)
PATHS = {'copy': 'copies (Scanout/Update)', 'map': 'shared memory (ScanoutMap)'}


def shows(session, k, size=(WIDTH, HEIGHT)):
    """(True, detail) when the viewer's canvas shows picture k of a picture
    of that size."""
    return canvas_shows(session, k, size[0], size[1], TOLERANCE)


class Stop(Exception):
    """A failed step the rest of the test cannot go on from."""


def wait_shows(c, session, k, size, what):
    t1 = time.monotonic()
    last = None
    while time.monotonic() - t1 < 60:
        ok, last = shows(session, k, size)
        if ok:
            c.check(what, True, f'after {time.monotonic() - t1:.2f} s')
            return
        time.sleep(0.1)
    c.check(what, False, f'not within 60 s; last samples (x, y, want, got): {last}')
    # Later steps build on this one: stop here, with time left for the logs.
    raise Stop(what)


def viewer_state(session):
    """The viewer's canvas size, errors, size asked for and cursor (and the
    CSS cursor, 'css', not for printing: a data URL)."""
    return session.execute('const v = window.hfxViewer, c = document.getElementById("screen");'
                           'return {w: c.width, h: c.height, errors: v.errors, '
                           'sizeSent: v.sizeSent, cursor: v.cursor, css: c.style.cursor};')


def brief(state):
    return {k: v for k, v in state.items() if k != 'css'}


def guest_mode(res, size, timeout=60):
    """Seconds until guest-draw's log says it set a mode of that size, or
    None."""
    t0 = time.monotonic()
    log = res / 'draw.log'
    want = f'guest-draw: mode {size[0]}x{size[1]}'
    if wait_for(lambda: log.exists() and want in log.read_text(errors='replace'), timeout):
        return time.monotonic() - t0
    return None


def check_cursor(c, s):
    """The guest's pointer as the viewer's CSS cursor."""
    try:
        s.wait_for('window.hfxViewer.cursor && window.hfxViewer.cursor.visible', timeout=30)
    except Exception:  # noqa: BLE001 - reported below
        pass
    v = viewer_state(s)
    c.check("the guest's pointer reaches the viewer (size, hot spot)", v['cursor'] == CURSOR,
            v['cursor'])
    c.check('and is the canvas\'s CSS cursor', (v['css'] or '').startswith('url("data:image/png'),
            (v['css'] or '')[:60])
    inside = s.execute('return window.hfxViewer.cursorPixel(8, 8);')
    outside = s.execute('return window.hfxViewer.cursorPixel(40, 40);')
    c.check('its colours: the square opaque, the rest transparent',
            all(abs(a - b) <= 2 for a, b in zip(inside, CURSOR_RGB)) and inside[3] == 255 and
            outside[3] == 0, f'(8, 8) {inside}, (40, 40) {outside}')


def check_second_viewer(c, s, bridge, step, size, resize):
    """A raw client: its size is not the one used (the browser decides);
    its malformed input closes it, and the browser's stream goes on."""
    ws = bridge.ws()
    try:
        if resize:
            ws.send_json({'type': 'size', 'width': 640, 'height': 480})
            time.sleep(1)
            r = bridge.stats('')['resize']
            c.check("a second viewer's size is ignored: the first decides",
                    (r.get('width'), r.get('height')) == size and r.get('size_messages', 0) >= 2,
                    r)
        ws.send_json({'type': 'key', 'code': 0, 'down': True})
        code = None
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < 10:
                ws.recv(timeout=10)
        except ConnectionClosed as e:
            code = e.code
        c.check('a viewer sending a malformed key is closed (1008)', code == 1008,
                f'close code {code}')
    finally:
        ws.close()
    step.write_text('4\n')
    wait_shows(c, s, 4, size, 'and the browser goes on: picture 4 drawn after it')


def main():
    c = Checks()
    ap = argparse.ArgumentParser()
    ap.add_argument('qemu')
    ap.add_argument('run_in_vm')
    ap.add_argument('bridge')
    ap.add_argument('guest_draw')
    ap.add_argument('guest_evdev')
    ap.add_argument('--path', choices=sorted(PATHS), required=True)
    ap.add_argument('--bus', action='store_true')
    ap.add_argument('--resize', action='store_true')
    ap.add_argument('--relative', action='store_true')
    ap.add_argument('--output-dir', default=None)
    args = ap.parse_args()
    if not os.access(args.qemu, os.X_OK):
        print(f'SKIP: no QEMU at {args.qemu} (stock 10.0: scripts/build-qemu --stock; '
              f'Debian 12\'s: apt-get install qemu-system-x86)')
        return 77
    require_browser()
    out = Path(args.output_dir or tempfile.mkdtemp(prefix='hfx-qemu-dbus-'))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix='hfx-qemu-dbus-'))
    qmp = work / 'qmp.sock'
    res = work / 'results'
    res.mkdir()
    step = res / 'step'
    bus = None
    display = 'dbus,p2p=yes'
    if args.bus:
        bus = PrivateBus(work)
        display = f'dbus,addr={bus.address}'
        source = f'qemu-dbus:{bus.address}'
    else:
        source = f'qemu-dbus:qmp:{qmp}'
    vm_log = open(out / 'run-in-vm.log', 'w')
    vm = subprocess.Popen(
        [args.run_in_vm, '--qemu', args.qemu, '--results', str(res), '--timeout', '280',
         '--qemu-arg=-device', f'--qemu-arg=virtio-gpu-pci,xres={WIDTH},yres={HEIGHT}',
         '--qemu-arg=-device', '--qemu-arg=virtio-keyboard-pci',
         '--qemu-arg=-device',
         f'--qemu-arg={"virtio-mouse-pci" if args.relative else "virtio-tablet-pci"}',
         '--qemu-arg=-display', f'--qemu-arg={display}',
         '--qemu-arg=-qmp', f'--qemu-arg=unix:{qmp},server=on,wait=off', '--',
         'sh', '-c', f'{args.guest_evdev} > {res}/evdev.log 2>&1 & '
                     f'{args.guest_draw} --follow {step} --cursor '
                     f'{"--preferred " if args.resize else ""}> {res}/draw.log 2>&1'],
        stdout=vm_log, stderr=subprocess.STDOUT)
    bridge = None
    try:
        c.check('QEMU opens its QMP socket', wait_for(qmp.exists, 60), str(qmp))
        if args.bus:
            c.check('QEMU owns org.qemu on the private bus',
                    wait_for(lambda: has_owner(bus.address), 60))
        t0 = time.monotonic()
        bridge = Bridge(args.bridge, '--source', source, '--encoder', 'x264enc',
                        '--fps', '30', '--input', *(['--resize'] if args.resize else []),
                        start_timeout=30)
        c.check(f'desktop-bridge --source {source} serves', True,
                f'after {time.monotonic() - t0:.1f} s')
        with Driver(output_dir=out) as drv:
            (s,) = drv.sessions(1)
            s.navigate(bridge.url('/'))
            size = (WIDTH, HEIGHT)
            if args.resize:
                # The guest takes the window's size as soon as the viewer is there.
                s.wait_for('window.hfxViewer.sizeSent', timeout=30)
                size = tuple(viewer_state(s)['sizeSent'])
                took = guest_mode(res, size)
                c.check(f'with --resize the guest takes the window\'s size, {size[0]}x{size[1]}',
                        took is not None, f'after {took:.2f} s' if took else 'not within 60 s')
                if took is None:
                    raise Stop('the first size')
            for k in [0, 1, 2, 3, 4, 5, 0]:
                if k or step.exists():
                    step.write_text(f'{k}\n')
                wait_shows(c, s, k, size, f'picture {k} drawn by Chromium')
            s.screenshot(out / 'viewer.png')
            v = viewer_state(s)
            c.check(f'the viewer: {size[0]}x{size[1]}, no errors',
                    (v['w'], v['h']) == size and not v['errors'], brief(v))
            check_cursor(c, s)
            # The guest changes its resolution: the stream follows.
            step.write_text(f'2 {NEW_MODE[0]}x{NEW_MODE[1]}\n')
            wait_shows(c, s, 2, NEW_MODE,
                       f'after a mode change to {NEW_MODE[0]}x{NEW_MODE[1]} in the guest, '
                       f'picture 2 drawn by Chromium at that size')
            v = viewer_state(s)
            c.check(f'the viewer follows: {NEW_MODE[0]}x{NEW_MODE[1]}, no errors',
                    (v['w'], v['h']) == NEW_MODE and not v['errors'], brief(v))
            try:
                s.wait_for('window.hfxViewer.inputAllowed === true', timeout=10)
                allowed = True
            except Exception:  # noqa: BLE001 - reported below
                allowed = False
            c.check('the viewer is told input is on (--input)', allowed)
            if args.relative:
                check_key(c, s, res)
                check_relative_click(c, s, res, NEW_MODE[0], NEW_MODE[1], slack=2)
            else:
                check_key_and_click(c, s, res, NEW_MODE[0], NEW_MODE[1], slack=2)
            size = NEW_MODE
            if args.resize:
                # The browser's window changes: the guest's mode and the stream follow.
                old = viewer_state(s)['sizeSent']
                s.set_window_size(*RESIZED_WINDOW)
                try:
                    s.wait_for(f'JSON.stringify(window.hfxViewer.sizeSent) !== '
                               f'{json.dumps(json.dumps(old, separators=(",", ":")))}',
                               timeout=10)
                except Exception:  # noqa: BLE001 - reported below
                    pass
                size = tuple(viewer_state(s)['sizeSent'])
                c.check('the viewer asks for its new size', list(size) != old,
                        f'{old} -> {list(size)}')
                took = guest_mode(res, size)
                c.check(f'the guest sets {size[0]}x{size[1]} (read back in the guest)',
                        took is not None, f'after {took:.2f} s' if took else 'not within 60 s')
                if took is None:
                    raise Stop('the new size')
                wait_shows(c, s, 2, size, f'the stream follows: picture 2 at {size[0]}x{size[1]}')
                v = viewer_state(s)
                c.check(f'the viewer: {size[0]}x{size[1]}, no errors',
                        (v['w'], v['h']) == size and not v['errors'], brief(v))
            check_second_viewer(c, s, bridge, step, size, args.resize)
            st = bridge.stats('')
        print(f'bridge: {st["encoder"]}, {st["frames_captured"]} pictures, to drawn p50 '
              f'{st["latency"]["glass_to_glass"].get("p50_ms", 0):.1f} ms', flush=True)
        said = [ln for ln in bridge.lines if 'QEMU console 0:' in ln]
        c.check(f'the bridge says it took the {args.path} path ({PATHS[args.path]})',
                said and all(PATHS[args.path] in ln for ln in said), '\n'.join(said))
        # QEMU goes away mid-stream: the bridge says so and exits 1.
        qemu_pid = child_pid(vm.pid, 'qemu-system')
        c.check('QEMU found to kill', qemu_pid is not None)
        if qemu_pid:
            os.kill(qemu_pid, signal.SIGKILL)
        try:
            rc = bridge.proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        time.sleep(0.5)  # the reader thread takes the last lines
        c.check('with QEMU gone the bridge exits 1', rc == 1, f'exit {rc}')
        c.check('and says QEMU went away',
                any('QEMU closed its display connection' in ln for ln in bridge.lines),
                '\n'.join(bridge.lines[-5:]))
        reply = [m for ln in bridge.lines
                 for m in re.findall(r'longest reply ([\d.]+) ms', ln)]
        # QEMU waits for ScanoutMap's answer 1 s at most, its main loop
        # stopped (docs/bridge.md): every answer must come well within that.
        c.check('the bridge reports its longest reply to QEMU, under 1000 ms',
                bool(reply) and float(reply[-1]) < 1000, reply)
    except AssertionError as e:
        c.check('desktop-bridge --source qemu-dbus serves', False, e)
    except Stop as e:
        print(f'stopped after a failed step ({e})', flush=True)
    finally:
        if bridge:
            if bridge.proc.poll() is None:
                try:
                    print('--- bridge /stats\n' + json.dumps(bridge.stats('')), flush=True)
                except Exception as e:  # noqa: BLE001 - diagnostics only
                    print(f'--- bridge /stats: {e}')
            bridge.stop()
            print('--- bridge\n' + '\n'.join(bridge.lines[-60:]))
        if vm.poll() is None:
            vm.send_signal(signal.SIGTERM)
            try:
                vm.wait(20)
            except subprocess.TimeoutExpired:
                vm.kill()
                vm.wait()
        vm_log.close()
        if bus:
            bus.stop()
        print('--- guest-evdev\n' + '\n'.join(evdev_lines(res)[-30:]))
        draw_log = res / 'draw.log'
        if draw_log.exists():
            print('--- guest-draw\n' + draw_log.read_text(errors='replace')[-2000:])
        print('--- guest (run-in-vm.log, tail)\n' +
              (out / 'run-in-vm.log').read_text(errors='replace')[-3000:])
        # The guest's logs stay beside the screenshot for a failure's reader.
        for name in ('draw.log', 'evdev.log'):
            if (res / name).exists():
                shutil.copy(res / name, out / name)
        shutil.rmtree(work, ignore_errors=True)
    return c.verdict()


if __name__ == '__main__':
    sys.exit(main())
