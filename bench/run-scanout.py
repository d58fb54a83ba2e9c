#!/usr/bin/python3
"""Input-to-photon through QEMU's helix-frame-export chardev: a key pressed in
a browser, a guest program that repaints on that key, the browser seeing the
new picture, all on the host's clock.

    bench/run-scanout [QEMU] [--samples N] [--runs scanout,x264enc] [--results DIR]
                      [--log-dir DIR] [--no-plot]

A TCG guest (tests/vm/run-in-vm, the patched QEMU, virtio-gpu-pci at
1280x720, a virtio keyboard and tablet) runs tests/qemu/guest-draw --on-key:
at every key press it draws the next picture of tests/scanout/scanout-images.h
(a new background colour) into its DRM framebuffer. Paths, each a
desktop-bridge to its own headless Chromium:

  host-side          desktop-bridge --source scanout:unix:PATH --input on the
                     host, through the chardev's listen= (no guest network in
                     the path)
  in-guest-scanout   desktop-bridge --source scanout in the guest, through its
                     port; Chromium reaches it through QEMU's user network
                     (--hostfwd)
  in-guest-x264enc   desktop-bridge --source x11 --encoder x264enc in the
                     guest, capturing an Xvfb display (1280x720) on which
                     bench/guest-x11-keys.py repaints on the same key presses

Two runs, each its own guest: "scanout" measures host-side and
in-guest-scanout side by side; "x264enc" measures in-guest-x264enc with
host-side beside it again (the guest then also runs Xvfb, the X client and
the capture and encoder: host-side in that run says what that load costs
the other paths).

The key is pressed (WebDriver actions) in the host-side viewer, the only way
in: the chardev takes no input from the guest's own port. So all paths
share the key's way into the guest (browser, host-side bridge, chardev INPUT,
QEMU's input layer, the guest's evdev) and differ in the picture's way out.

Per sample: the time of the keydown event in the host-side page, then, in
each page, the time of the first canvas draw (drawImage or putImageData,
wrapped by an init script) after it whose pixel at (640, 40) has the new
picture's background colour (within 32 per channel). Times are
performance.timeOrigin + performance.now(), one clock for both pages. Keys
are 150..450 ms apart (random, so that they do not fall in step with the
encoder's or the guest's timing).

Writes RESULTS/scanout.csv (one row per sample and path) and, unless --no-plot,
RESULTS/scanout.png (bench/plot-scanout.py); prints p50 and p99 per path.
Needs ./build (desktop-bridge, guest-draw), chromium + chromedriver, the
guest image (HFX_VM_DIR, default build/vm) and the patched QEMU
(scripts/build-qemu: build/qemu/bin/qemu-system-x86_64).
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hfxtest.bridgeproc import Bridge
from hfxtest import scanoutimages
from hfxtest.guestbridge import GuestBridge
from hfxtest.webdriver import Driver, require_browser

import inputphoton

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1280, 720
PROBE = (WIDTH // 2, 40)
TOKEN = 'scanout-bench'
DISPLAY = ':91'  # the guest's Xvfb; its lock is in its own /tmp

def boot(args, logs, run, sock):
    """The guest of one run, its in-guest bridge serving."""
    build = ROOT / 'build'
    bridge = build / 'bridge' / 'desktop-bridge'
    draw = f'{build / "tests" / "qemu" / "guest-draw"} --on-key > {{results}}/draw.log 2>&1'
    vm_args = ['--qemu', args.qemu,
               '--frame-export', f'gpu=gpu0,encoder=libx264,listen=unix:{sock}',
               '--qemu-arg=-device',
               f'--qemu-arg=virtio-gpu-pci,id=gpu0,xres={WIDTH},yres={HEIGHT}',
               '--qemu-arg=-device', '--qemu-arg=virtio-keyboard-pci',
               '--qemu-arg=-device', '--qemu-arg=virtio-tablet-pci']
    if run == 'scanout':
        return GuestBridge(str(ROOT / 'tests' / 'vm' / 'run-in-vm'), str(bridge),
                           '--source', 'scanout', '--fps', '60', token=TOKEN,
                           log_path=logs / f'run-in-vm-{run}.log', vm_timeout=900,
                           vm_args=vm_args, before=draw)
    # X first (the bridge's capture needs it), then its painter and the DRM
    # painter, both on every key.
    x11 = inputphoton.x11_painter(ROOT, DISPLAY, WIDTH, HEIGHT, draw)
    return GuestBridge(str(ROOT / 'tests' / 'vm' / 'run-in-vm'), str(bridge),
                       '--source', 'x11', '--encoder', 'x264enc', '--fps', '30', token=TOKEN,
                       log_path=logs / f'run-in-vm-{run}.log', vm_timeout=900,
                       vm_args=vm_args, before=x11, guest_env={'DISPLAY': DISPLAY},
                       start_timeout=180)


def one_run(args, logs, run, backgrounds):
    work = Path(tempfile.mkdtemp(prefix='hfx-bench-scanout-'))
    sock = work / 'scanout.sock'
    guest = boot(args, logs, run, sock)
    host = None
    try:
        host = Bridge(str(ROOT / 'build' / 'bridge' / 'desktop-bridge'),
                      '--source', f'scanout:unix:{sock}', '--fps', '60', '--input')
        with Driver(output_dir=logs) as drv:
            hs, gs = drv.sessions(2)
            for s in (hs, gs):
                s.add_init_script(inputphoton.hook(PROBE))
            hs.navigate(host.url('/'))
            gs.navigate(guest.url(f'/?token={TOKEN}'))
            for s in (hs, gs):
                s.wait_for('window.hfxViewer.framesDrawn > 0', timeout=90)
            hs.wait_for('window.hfxViewer.inputAllowed === true', timeout=10)
            rows = inputphoton.measure(run, args.samples, hs,
                           [('host-side', hs), (f'in-guest-{run}', gs)], backgrounds)
            hst, gst = host.stats(''), guest.stats()
        print(f'run-scanout: run {run}: host-side {hst["encoder"]}; in-guest {gst["encoder"]}, '
              f'load average {os.getloadavg()[0]:.2f} at the end', flush=True)
        return rows
    finally:
        if host:
            host.stop()
            (logs / f'host-bridge-{run}.log').write_text('\n'.join(host.lines))
        guest.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('qemu', nargs='?', default=str(ROOT / 'build' / 'qemu' / 'bin' /
                                                  'qemu-system-x86_64'))
    ap.add_argument('--samples', type=int, default=100)
    ap.add_argument('--runs', default='scanout,x264enc')
    ap.add_argument('--results', default=str(ROOT / 'bench' / 'results'))
    ap.add_argument('--log-dir', default=None)
    ap.add_argument('--no-plot', action='store_true')
    args = ap.parse_args()
    build = ROOT / 'build'
    for p in (Path(args.qemu), build / 'bridge' / 'desktop-bridge',
              build / 'tests' / 'qemu' / 'guest-draw'):
        if not os.access(p, os.X_OK):
            print(f'run-scanout: {p} is missing (build it: ninja -C build, scripts/build-qemu)',
                  file=sys.stderr)
            return 2
    require_browser()
    os.environ.setdefault('HFX_VM_DIR', str(build / 'vm'))
    os.environ['LD_LIBRARY_PATH'] = f'{build / "host"}:{build / "lib"}'
    backgrounds = scanoutimages.backgrounds()
    logs = Path(args.log_dir or tempfile.mkdtemp(prefix='hfx-bench-scanout-'))
    logs.mkdir(parents=True, exist_ok=True)
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    rows = []
    for run in args.runs.split(','):
        rows += one_run(args, logs, run, backgrounds)
    with open(results / 'scanout.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=['run', 'sample', 'picture', 'path', 'ms'])
        w.writeheader()
        w.writerows(rows)
    print(f'run-scanout: {WIDTH}x{HEIGHT}, {args.samples} key presses per run; logs in {logs}')
    for run in args.runs.split(','):
        for path in sorted({r['path'] for r in rows if r['run'] == run}):
            print(f'  run {run}, {path}: {inputphoton.summary(rows, run, path)}')
    if not args.no_plot:
        subprocess.run([sys.executable, str(ROOT / 'bench' / 'plot-scanout.py'), str(results)],
                       check=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
