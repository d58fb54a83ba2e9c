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
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / 'browser' / 'support'))

from webdriver import Driver, free_port, require_browser    # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 15
TOKEN = 'vm-test'
BARS = [('white', (255, 255, 255)), ('yellow', (255, 255, 0)), ('cyan', (0, 255, 255)),
        ('green', (0, 255, 0)), ('magenta', (255, 0, 255)), ('red', (255, 0, 0)),
        ('blue', (0, 0, 255))]
failed = []


def check(name, ok, detail=''):
    print(f'{"ok  " if ok else "FAIL"} {name}{": " + str(detail) if detail else ""}', flush=True)
    if not ok:
        failed.append(name)


def stats(port):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/stats?token={TOKEN}', timeout=5) as r:
        return json.loads(r.read())


def main():
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
    work = Path(tempfile.mkdtemp(prefix='hfx-bridge-vm-'))
    res = work / 'results'
    res.mkdir()
    sock = work / 'hfx.sock'
    port = free_port()

    hfxd = subprocess.Popen([args.hfxd, '--handshake-timeout', '300000', '--listen',
                             f'unix:{sock}'], stderr=open(out / 'hfxd.log', 'w'))
    vm = None
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if hfxd.poll() is not None or time.monotonic() > deadline:
                print('FAIL: hfxd did not start', flush=True)
                return 1
            time.sleep(0.05)
        # The guest serves until the host drops a file named stop into the
        # results share.
        guest = (f'{args.bridge} --listen 0.0.0.0:8080 --source test --size {WIDTH}x{HEIGHT} '
                 f'--fps {FPS} --encoder vsockenc --token {TOKEN} --stats-interval 5 & '
                 f'pid=$!; while [ ! -e {res}/stop ] && kill -0 $pid 2>/dev/null; do sleep 0.2; '
                 'done; kill $pid; wait $pid')
        env = dict(os.environ, GST_PLUGIN_PATH=args.plugins)
        vm = subprocess.Popen([args.run_in_vm, '--gst-registry', '--timeout', '240',
                               '--serial-socket', str(sock), '--hostfwd', f'{port}:8080',
                               '--results', str(res), '--', 'sh', '-c', guest],
                              env=env, stdout=open(out / 'run-in-vm.log', 'w'),
                              stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        up = False
        while time.monotonic() - t0 < 120 and vm.poll() is None:
            try:
                stats(port)
                up = True
                break
            except OSError:
                time.sleep(0.5)
        check('desktop-bridge answers from the guest', up,
              f'after {time.monotonic() - t0:.1f} s')
        if not up:
            return 1
        with Driver(output_dir=out) as drv:
            s = drv.session()
            s.navigate(f'http://127.0.0.1:{port}/?token={TOKEN}')
            s.wait_for('window.hfxViewer && window.hfxViewer.framesDrawn >= 60', timeout=60)
            n0, t1 = s.evaluate('window.hfxViewer.framesDrawn'), time.monotonic()
            time.sleep(3)
            rate = (s.evaluate('window.hfxViewer.framesDrawn') - n0) / (time.monotonic() - t1)
            v = s.execute('const v = window.hfxViewer, c = document.getElementById("screen");'
                          'return {w: c.width, h: c.height, errors: v.errors, state: v.state};')
            check('>= 60 frames drawn, 1280x720, no errors',
                  (v['w'], v['h']) == (WIDTH, HEIGHT) and not v['errors'], v)
            points = [(int((i + 0.5) * WIDTH / 7), 40) for i in range(7)]
            for (bar, want), (x, _), got in zip(BARS, points,
                                                s.canvas_pixels('#screen', points)):
                err = max(abs(p - q) for p, q in zip(want, got[:3]))
                check(f'{bar} bar at x={x}', err <= 32, f'rgba{tuple(got)}, want {want}')
            s.screenshot(out / 'bridge-vm.png')
            st = stats(port)
            g2g = st['latency']['glass_to_glass']
            check('encoded by the host', st['encoder'].startswith('vsockenc (host'),
                  st['encoder'])
            print(f'guest: {st["fps"]:.0f} fps captured and encoded, browser drew {rate:.1f} fps, '
                  f'glass-to-glass p50 {g2g.get("p50_ms", 0):.1f} ms p99 '
                  f'{g2g.get("p99_ms", 0):.1f} ms, capture-to-encoded p50 '
                  f'{st["latency"]["capture_to_encoded"].get("p50_ms", 0):.1f} ms', flush=True)
        (res / 'stop').touch()
        try:
            rc = vm.wait(60)
        except subprocess.TimeoutExpired:
            rc = None
        check('the guest stopped cleanly', rc == 0, f'run-in-vm exit {rc}')
    finally:
        if vm and vm.poll() is None:
            vm.terminate()
            vm.wait()
        hfxd.terminate()
        hfxd.wait()
        sys.stdout.write((out / 'run-in-vm.log').read_text(errors='replace')[-3000:]
                         if (out / 'run-in-vm.log').exists() else '')
    print(f'{"FAIL" if failed else "PASS"}: {len(failed)} checks failed', flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
