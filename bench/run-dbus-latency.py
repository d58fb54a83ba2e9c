#!/usr/bin/python3
"""Input-to-photon with a stock QEMU's D-Bus display: a key pressed in a
browser, a guest program that repaints on that key, the browser seeing the
new picture, all on the host's clock (bench/inputphoton.py).

    bench/run-dbus-latency [QEMU] [--sizes WxH,...] [--samples N] [--fps N]
                           [--guest-idle | --alone] [--results DIR] [--log-dir DIR] [--no-plot]

Per size, one TCG guest (tests/vm/run-in-vm, 2 vCPUs, QEMU default
build/qemu-stock: 10.0 without hfx's series, shared memory; virtio-gpu-pci
at the size, a virtio keyboard and tablet), QEMU's D-Bus display on a
private bus (a dbus-daemon of the bench's: QEMU takes one peer-to-peer
client at a time, and two bridges listen here) and a virtio-serial port to
an hfxd on the host (libx264). In the guest, tests/qemu/guest-draw --on-key
repaints the DRM console in the next picture's background colour at every
key, and bench/guest-x11-keys.py does the same on an Xvfb display. Paths,
each a desktop-bridge at --fps (default 30, 4000 kbit/s, the defaults) to
its own headless Chromium:

  dbus-x264enc      desktop-bridge --source qemu-dbus:BUS --encoder x264enc
                    --input on the host: the key goes in here (QEMU's D-Bus
                    Keyboard), for every path
  dbus-vsockenc     the same source, --encoder vsockenc to the host's hfxd
  in-guest          desktop-bridge --source x11 --encoder vsockenc in the
                    guest (today's in-guest bridge): captures Xvfb, encodes
                    through hfxd over the virtio-serial port; Chromium
                    reaches it through QEMU's user network

--alone (the guest as with --guest-idle) measures one D-Bus path at a time,
each bridge sending the keys itself, with one Chromium: nothing else
encodes or decodes on the machine meanwhile (two cores here); it writes
dbus-latency-alone.csv and dbus-latency-alone-stages.csv.

--guest-idle leaves the in-guest path out: the guest runs guest-draw alone
(no Xvfb, no in-guest bridge), so that the D-Bus paths are measured without
the load the in-guest bridge puts on the guest's vCPUs; it writes
dbus-latency-idle.csv and dbus-latency-idle-stages.csv.

All three share the key's way in (browser, dbus-x264enc's bridge, QEMU's
D-Bus Keyboard, the guest's evdev) and differ in the picture's way out.
Writes RESULTS/dbus-latency.csv (run = size; one row per sample and path)
and, unless --no-plot, RESULTS/dbus-latency.png
(bench/plot-dbus-latency.py); prints p50 and p99 per size and path. Where
the time goes: RESULTS/dbus-latency-stages.csv has each bridge's own /stats
at the end of the size's run (docs/bridge.md): the picture entering the
bridge (QEMU reporting the change; the in-guest bridge: captured) to drawn
in the viewer, of which entering to encoded and the viewer's decode and
draw; and, the same for all paths, from the key sent to QEMU to the next
change QEMU reports (the key's way in, the guest's repaint and QEMU's
update), measured by the bridge that sends the keys.
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hfxtest import scanoutimages
from hfxtest.bridgeproc import Bridge
from hfxtest.dbusbus import PrivateBus, has_owner, wait_for
from hfxtest.guestbridge import GuestBridge
from hfxtest.hfxdproc import Hfxd
from hfxtest.webdriver import Driver, require_browser

import inputphoton

ROOT = Path(__file__).resolve().parent.parent
TOKEN = 'dbus-bench'
PATHS = ('dbus-x264enc', 'dbus-vsockenc', 'in-guest')
DISPLAY = ':92'  # the guest's Xvfb


STAGES = (('glass_to_glass', 'entering_to_drawn'), ('capture_to_encoded', 'entering_to_encoded'),
          ('viewer_decode_draw', 'decode_and_draw'))


def stage_row(size, path, stats):
    row = {'size': size, 'path': path}
    for key, name in STAGES:
        lat = stats['latency'].get(key, {})
        for p in ('p50', 'p99'):
            v = lat.get(f'{p}_ms')
            row[f'{name}_{p}_ms'] = f'{v:.1f}' if v is not None else ''
    return row


def measure_paths(args, logs, size, backgrounds, names, hosts, guest, start):
    """One Chromium session per bridge (hosts, then the in-guest one if
    any), keys through the first, the guest showing picture start; (rows,
    stage rows) for the paths names."""
    width, height = (int(v) for v in size.split('x'))
    probe = (width // 2, 40)
    with Driver(output_dir=logs) as drv:
        sessions = drv.sessions(len(names))
        urls = [h.url('/') for h in hosts]
        if guest:
            urls.append(guest.url(f'/?token={TOKEN}'))
        for s, url in zip(sessions, urls):
            s.add_init_script(inputphoton.hook(probe))
            s.navigate(url)
        for s in sessions:
            s.wait_for('window.hfxViewer.framesDrawn > 0', timeout=120)
        sessions[0].wait_for('window.hfxViewer.inputAllowed === true', timeout=10)
        rows = inputphoton.measure(size, args.samples, sessions[0], list(zip(names, sessions)),
                                   backgrounds, start)
        stats = [h.stats('') for h in hosts] + ([guest.stats()] if guest else [])
    print(f'run-dbus-latency: {size}: {", ".join(names)}: encoders '
          f'{[s["encoder"] for s in stats]}, load average {os.getloadavg()[0]:.2f} at the end',
          flush=True)
    stages = [stage_row(size, path, st) for path, st in zip(names, stats)]
    # The key's way in, the guest's repaint and QEMU's update: measured by
    # the bridge that sends the keys, said when it stops.
    hosts[0].stop()
    time.sleep(0.5)  # its reader takes the last lines
    m = next((re.search(r'key to change p50 ([\d.]+) ms p99 ([\d.]+) ms over (\d+) keys', ln)
              for ln in reversed(hosts[0].lines) if 'key to change' in ln), None)
    for st in stages:
        st['key_to_change_p50_ms'], st['key_to_change_p99_ms'] = \
            (m.group(1), m.group(2)) if m else ('', '')
    return rows, stages


def one_size(args, logs, size, backgrounds):
    width, height = (int(v) for v in size.split('x'))
    build = ROOT / 'build'
    bridge = build / 'bridge' / 'desktop-bridge'
    work = Path(tempfile.mkdtemp(prefix='hfx-bench-dbus-'))
    bus = PrivateBus(work)
    bus_address = bus.address
    # QEMU connects its port to hfxd long before the guest speaks on it.
    hfxd = Hfxd(str(build / 'host' / 'hfxd'), '--encoder', 'libx264',
                log_path=logs / f'hfxd-{size}.log', handshake_timeout_ms=300000)
    draw = f'{build / "tests" / "qemu" / "guest-draw"} --on-key > {{results}}/draw.log 2>&1'
    vm_args = ['--qemu', args.qemu,
               '--qemu-arg=-device', f'--qemu-arg=virtio-gpu-pci,xres={width},yres={height}',
               '--qemu-arg=-device', '--qemu-arg=virtio-keyboard-pci',
               '--qemu-arg=-device', '--qemu-arg=virtio-tablet-pci',
               '--qemu-arg=-display', f'--qemu-arg=dbus,addr={bus_address}']
    run_in_vm = str(ROOT / 'tests' / 'vm' / 'run-in-vm')
    guest = hosts = idle_vm = None
    try:
        if args.guest_idle or args.alone:
            res = work / 'results'
            res.mkdir()
            # Until the bench drops a file named stop into the share (as
            # GuestBridge does): run-in-vm then powers the guest off.
            idle_vm = subprocess.Popen(
                [run_in_vm, '--timeout', '900', '--results', str(res), *vm_args, '--',
                 'sh', '-c', draw.replace('{results}', str(res)) +
                 f' & while [ ! -e {res}/stop ]; do sleep 0.2; done'],
                stdout=open(logs / f'run-in-vm-{size}-idle.log', 'w'), stderr=subprocess.STDOUT)
        else:
            guest = GuestBridge(
                run_in_vm, str(bridge), '--source', 'x11',
                '--encoder', 'vsockenc', '--fps', str(args.fps), token=TOKEN,
                serial_socket=hfxd.socket, plugins=build / 'gst',
                log_path=logs / f'run-in-vm-{size}.log', vm_timeout=900, start_timeout=180,
                guest_env={'DISPLAY': DISPLAY},
                before=inputphoton.x11_painter(ROOT, DISPLAY, width, height, draw),
                vm_args=vm_args)
        if not wait_for(lambda: has_owner(bus_address), 60):
            raise AssertionError('QEMU did not take org.qemu on the bus')
        # A key pressed before guest-draw listens would put the guest one
        # picture behind the count for the rest of the run.
        draw_log = (res if idle_vm else guest.results) / 'draw.log'
        if not wait_for(lambda: draw_log.exists() and 'picture 0' in draw_log.read_text(), 180):
            raise AssertionError(f'guest-draw did not draw its first picture ({draw_log})')
        source = f'qemu-dbus:{bus_address}'
        encoders = {'dbus-x264enc': ['--encoder', 'x264enc'],
                    'dbus-vsockenc': ['--encoder', 'vsockenc', '--address', hfxd.address]}
        # All paths at once (the same key for all), or with --alone one
        # D-Bus path at a time, each then sending the keys itself.
        groups = [[p] for p in encoders] if args.alone else [list(encoders)]
        rows, stages = [], []
        start = 0
        for group in groups:
            hosts = [Bridge(str(bridge), '--source', source, *encoders[p],
                            '--fps', str(args.fps), *(['--input'] if i == 0 else []),
                            start_timeout=30) for i, p in enumerate(group)]
            names = group + (['in-guest'] if guest else [])
            r, st = measure_paths(args, logs, size, backgrounds, names, hosts, guest, start)
            start = (start + args.samples + 1) % len(backgrounds)
            rows += r
            stages += st
            for i, h in enumerate(hosts):
                h.stop()
                (logs / f'host-bridge-{size}-{group[i]}.log').write_text('\n'.join(h.lines))
            hosts = None
        return rows, stages
    finally:
        for h in hosts or []:
            h.stop()
        if guest:
            guest.stop()
        if idle_vm:
            (work / 'results' / 'stop').write_text('')
            try:
                idle_vm.wait(60)
            except subprocess.TimeoutExpired:
                idle_vm.kill()
                idle_vm.wait()
        hfxd.stop()
        bus.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('qemu', nargs='?', default=str(ROOT / 'build' / 'qemu-stock' / 'bin' /
                                                  'qemu-system-x86_64'))
    ap.add_argument('--sizes', default='1280x720,1920x1080')
    ap.add_argument('--samples', type=int, default=100)
    ap.add_argument('--fps', type=int, default=30)
    ap.add_argument('--guest-idle', action='store_true')
    ap.add_argument('--alone', action='store_true')
    ap.add_argument('--results', default=str(ROOT / 'bench' / 'results'))
    ap.add_argument('--log-dir', default=None)
    ap.add_argument('--no-plot', action='store_true')
    args = ap.parse_args()
    build = ROOT / 'build'
    for p in (Path(args.qemu), build / 'bridge' / 'desktop-bridge', build / 'host' / 'hfxd',
              build / 'tests' / 'qemu' / 'guest-draw'):
        if not os.access(p, os.X_OK):
            print(f'run-dbus-latency: {p} is missing (ninja -C build; scripts/build-qemu '
                  f'--stock)', file=sys.stderr)
            return 2
    require_browser()
    os.environ.setdefault('HFX_VM_DIR', str(build / 'vm'))
    os.environ['LD_LIBRARY_PATH'] = f'{build / "host"}:{build / "lib"}'
    os.environ['GST_PLUGIN_PATH'] = str(build / 'gst')
    backgrounds = scanoutimages.backgrounds()
    logs = Path(args.log_dir or tempfile.mkdtemp(prefix='hfx-bench-dbus-'))
    logs.mkdir(parents=True, exist_ok=True)
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    rows, stages = [], []
    sizes = args.sizes.split(',')
    for size in sizes:
        r, st = one_size(args, logs, size, backgrounds)
        rows += r
        stages += st
    stem = ('dbus-latency-alone' if args.alone else
            'dbus-latency-idle' if args.guest_idle else 'dbus-latency')
    with open(results / f'{stem}.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=['run', 'sample', 'picture', 'path', 'ms'])
        w.writeheader()
        w.writerows(rows)
    with open(results / f'{stem}-stages.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(stages[0]))
        w.writeheader()
        w.writerows(stages)
    print(f'run-dbus-latency: {args.samples} key presses per size, {args.fps} fps; '
          f'logs in {logs}')
    for size in sizes:
        for path in [p for p in PATHS if any(s['path'] == p for s in stages)]:
            st = next(s for s in stages if s['size'] == size and s['path'] == path)
            print(f'  {size}, {path}: {inputphoton.summary(rows, size, path)}; in the bridge: '
                  f'entering to drawn p50 {st["entering_to_drawn_p50_ms"]} ms (encoded '
                  f'{st["entering_to_encoded_p50_ms"]}, decode+draw '
                  f'{st["decode_and_draw_p50_ms"]}); key to change p50 '
                  f'{st["key_to_change_p50_ms"]} ms')
    if not args.no_plot:
        subprocess.run([sys.executable, str(ROOT / 'bench' / 'plot-dbus-latency.py'),
                        str(results), stem], check=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
