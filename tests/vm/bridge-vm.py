#!/usr/bin/python3
"""desktop-bridge in a TCG guest, Chromium on the host: the whole product.

    bridge-vm.py HFXD DESKTOP_BRIDGE RUN_IN_VM GST_PLUGIN_DIR [--output-dir DIR]

hfxd on the host behind the virtio-serial port; in the guest desktop-bridge
(--source test, 1280x720, vsockenc address=auto) listening on the guest's
port 8080, which QEMU's user network forwards to a free port on the host's
127.0.0.1 (a secure context for WebCodecs). Chromium on the host must draw
>= 60 frames with the SMPTE colours in place, and /stats must say the host
encoded them. Exits 77 (skipped) without chromium or chromedriver."""
import argparse
import sys
import tempfile
import time
from pathlib import Path

from hfxtest.checks import Checks
from hfxtest.guestbridge import GuestBridge
from hfxtest.hfxdproc import Hfxd
from hfxtest.smpte import TOLERANCE, bar_samples
from hfxtest.webdriver import Driver, require_browser

WIDTH, HEIGHT, FPS = 1280, 720, 15
TOKEN = 'vm-test'


def main():
    c = Checks()
    ap = argparse.ArgumentParser()
    ap.add_argument('hfxd')
    ap.add_argument('bridge')
    ap.add_argument('run_in_vm')
    ap.add_argument('plugins')
    ap.add_argument('--output-dir', default=None)
    args = ap.parse_args()
    require_browser()
    out = Path(args.output_dir or tempfile.mkdtemp(prefix='hfx-bridge-vm-'))
    out.mkdir(parents=True, exist_ok=True)
    log = out / 'run-in-vm.log'

    with Hfxd(args.hfxd, log_path=out / 'hfxd.log', handshake_timeout_ms=300000) as hfxd:
        t0 = time.monotonic()
        try:
            guest = GuestBridge(args.run_in_vm, args.bridge, '--source', 'test', '--size',
                                f'{WIDTH}x{HEIGHT}', '--fps', str(FPS), '--encoder', 'vsockenc',
                                stats_interval=5, token=TOKEN, serial_socket=hfxd.socket,
                                plugins=args.plugins, log_path=log, vm_timeout=240)
        except AssertionError as e:
            c.check('desktop-bridge answers from the guest', False, e)
            return 1
        with guest:
            c.check('desktop-bridge answers from the guest', True,
                    f'after {time.monotonic() - t0:.1f} s')
            with Driver(output_dir=out) as drv:
                s = drv.session()
                s.navigate(guest.url(f'/?token={TOKEN}'))
                s.wait_for('window.hfxViewer && window.hfxViewer.framesDrawn >= 60', timeout=60)
                n0, t1 = s.evaluate('window.hfxViewer.framesDrawn'), time.monotonic()
                time.sleep(3)
                rate = (s.evaluate('window.hfxViewer.framesDrawn') - n0) / (time.monotonic() - t1)
                v = s.execute('const v = window.hfxViewer, c = document.getElementById("screen");'
                              'return {w: c.width, h: c.height, errors: v.errors, state: v.state};')
                c.check('>= 60 frames drawn, 1280x720, no errors',
                        (v['w'], v['h']) == (WIDTH, HEIGHT) and not v['errors'], v)
                for bar, want, x, got, err in bar_samples(s, WIDTH):
                    c.check(f'{bar} bar at x={x}', err <= TOLERANCE,
                            f'rgba{tuple(got)}, want {want}')
                s.screenshot(out / 'bridge-vm.png')
                st = guest.stats()
                g2g = st['latency']['glass_to_glass']
                c.check('encoded by the host', st['encoder'].startswith('vsockenc (host'),
                        st['encoder'])
                print(f'guest: {st["fps"]:.0f} fps captured and encoded, browser drew '
                      f'{rate:.1f} fps, glass-to-glass p50 {g2g.get("p50_ms", 0):.1f} ms p99 '
                      f'{g2g.get("p99_ms", 0):.1f} ms, capture-to-encoded p50 '
                      f'{st["latency"]["capture_to_encoded"].get("p50_ms", 0):.1f} ms',
                      flush=True)
            rc = guest.stop()
            c.check('the guest stopped cleanly', rc == 0, f'run-in-vm exit {rc}')
    sys.stdout.write(log.read_text(errors='replace')[-3000:] if log.exists() else '')
    return c.verdict()


if __name__ == '__main__':
    sys.exit(main())
