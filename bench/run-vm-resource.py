#!/usr/bin/python3
"""bench/vm-offload (d): vsockenc RESOURCE frames through QEMU's
helix-frame-export chardev, against encoding in the guest, same source.

    bench/run-vm-resource [QEMU] [--sizes WxH,...] [--frames N] [--rounds N]
                          [--cases NAME,...] [--solid] [--smp N] [--results DIR]
                          [--csv NAME] [--no-plot]

In one TCG guest (tests/vm/run-in-vm, 2 vCPUs, the patched QEMU, a
virtio-gpu-pci device gpu0 and the chardev with gpu=gpu0, encoder libx264),
the same source at every size: videotestsrc, a moving pattern
(horizontal-speed=8), BGRx, the guest desktop's format, 30 fps nominal,
not live. Cases:

  source      videotestsrc ! fakesink: what the source itself costs
  (a) x264enc videoconvert ! x264enc in the guest (ultrafast, zerolatency,
              8000 kbit/s, GOP 300, its own threads): x264enc takes no BGRx
  (b) inline  vsockenc frame-source=inline through the chardev's port: the
              pixels cross virtio-serial
  (d) resource vsockenc frame-source=resource: videotestsrc draws into the
              element's pool of virtio-gpu resources (DRM dumb buffers),
              TRANSFER_TO_HOST per frame, QEMU reads the resource and
              encodes it; no pixel crosses the port
  queued      (d) with a queue between the source and vsockenc: drawing and
              submitting on two guest threads
  drawn       tests/qemu/guest-resource: the same path without GStreamer,
              4 resources in turn (vsockenc's 4 frames in flight), the
              test pattern (tools/pattern.h) drawn per frame in C
  predrawn    the same with --predrawn: the 4 resources drawn once before
              the clock starts, then only transferred and named in turn
              (moving content, 4 pictures cycled): the path's own rate,
              with no drawing in the guest; only its --predrawn differs
              from drawn

--solid draws a solid colour instead (videotestsrc pattern=solid-color, far
cheaper to draw): the same cases with the source's own cost taken out, to
see what limits (d) when the source does not; it writes
vm-resource-solid.csv.

(b), (d), queued, drawn and predrawn encode with libx264 in QEMU at 8000 kbit/s
(drawn and predrawn: the chardev's GOP, not 300). A case runs
with N0 = 30 and N = 30 + FRAMES buffers; its rate is FRAMES over the
difference of the two runs' wall times (date +%s%N in the guest), which
cancels what does not repeat per frame (process start, plugin load,
connection, encoder open); a run of 5 buffers before them, not counted,
pages the case's plugins in. Each round runs every case at every size; the
figures are medians over rounds, the ratio the median of per-round ratios
to (a).

While each counted run goes the host samples QEMU's threads
(bench/hostcpu.py; QEMU runs with debug-threads=on): the CSV's vcpu_pct,
main_pct, encode_pct and host_pct are per cent of one host core for the
vCPUs, the main loop, libhfx-host's hfx-encode threads and the whole
machine, vcpu_ms_per_frame the vCPUs' time per frame (medians over rounds).

Writes RESULTS/vm-resource.csv and, unless --no-plot,
RESULTS/vm-resource.png (bench/plot-vm-resource.py); prints a line per case
and size. Needs ./build (the GStreamer plugin), the guest image (HFX_VM_DIR,
default build/vm) and the patched QEMU (scripts/build-qemu).
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import hostcpu

ROOT = Path(__file__).resolve().parent.parent
N0 = 30

GUEST_RESOURCE = ROOT / 'build' / 'tests' / 'qemu' / 'guest-resource'

# (name, label, pipeline tail after the source, or None for guest-resource
# with these options)
CASES = [
    ("source", "source alone", "fakesink", None),
    ("x264enc", "(a) x264enc in the guest",
     "videoconvert ! x264enc speed-preset=ultrafast tune=zerolatency bitrate=8000 "
     "key-int-max=300 ! fakesink", None),
    ("inline", "(b) vsockenc INLINE, the chardev's port",
     "vsockenc frame-source=inline encoder=libx264 bitrate=8000 key-int-max=300 ! fakesink",
     None),
    ("resource", "(d) vsockenc RESOURCE, virtio-gpu resources",
     "vsockenc frame-source=resource encoder=libx264 bitrate=8000 key-int-max=300 ! fakesink",
     None),
    ("queued", "(d) with a queue before vsockenc",
     "queue ! vsockenc frame-source=resource encoder=libx264 bitrate=8000 key-int-max=300 ! "
     "fakesink", None),
    ("drawn", "guest-resource, drawn per frame", None, "--buffers 4"),
    ("predrawn", "guest-resource, predrawn (the path alone)", None, "--buffers 4 --predrawn"),
]


def case_command(case, n, w, h, source):
    _, _, tail, options = case
    if tail is None:
        return f'{GUEST_RESOURCE} --size {w}x{h} --frames {n} {options}'
    return (f'gst-launch-1.0 -q videotestsrc num-buffers={n} {source} ! '
            f'video/x-raw,format=BGRx,width={w},height={h},framerate=30/1 ! {tail}')


def phase(rnd, name, size):
    return f'{rnd} {name} {size}'


def guest_script(sizes, frames, rounds, out, cases, source):
    lines = ['set +e', f'OUT={out}']
    for rnd in range(rounds):
        for size in sizes:
            w, h = size.split('x')
            for case in cases:
                name = case[0]
                # n = 5 first, not counted: the first run of a pipeline also
                # pages its plugins in, which the pair below must not see.
                for n in (5, N0, N0 + frames):
                    # The counted run is marked for the host's CPU sampler
                    # (bench/hostcpu.py).
                    mark = n == N0 + frames
                    lines.append(
                        (f'echo "{phase(rnd, name, size)}" > $OUT/running; ' if mark else '') +
                        f't0=$(date +%s%N); {case_command(case, n, w, h, source)} > '
                        f'$OUT/{name}-{size}.log 2>&1; rc=$?; t1=$(date +%s%N); ' +
                        ('rm -f $OUT/running; ' if mark else '') +
                        f'echo "result round={rnd} case={name} size={size} n={n} rc=$rc '
                        f'ns=$((t1 - t0))" >> $OUT/results')
    return '\n'.join(lines) + '\nexit 0\n'


def cpu_columns(cpu, runs):
    """Medians over rounds of the host CPU the counted runs took (per cent
    of one core), and the vCPU time per frame (ms) that the guest spent."""
    seen = [(cpu.percent(phase(rnd, name, size)), fps) for rnd, name, size, fps in runs]
    seen = [(p, fps) for p, fps in seen if p]
    cols = {}
    for g in ('vcpu', 'main', 'encode', 'host'):
        vals = [p[g] for p, _ in seen]
        cols[f'{g}_pct'] = f'{statistics.median(vals):.0f}' if vals else ''
    per_frame = [10 * p['vcpu'] / fps for p, fps in seen if fps]
    cols['vcpu_ms_per_frame'] = f'{statistics.median(per_frame):.1f}' if per_frame else ''
    return cols


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('qemu', nargs='?', default=str(ROOT / 'build' / 'qemu' / 'bin' /
                                                  'qemu-system-x86_64'))
    ap.add_argument('--sizes', default='1280x720,1920x1080')
    ap.add_argument('--frames', type=int, default=300)
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--cases', default=','.join(c[0] for c in CASES))
    ap.add_argument('--csv', help='CSV name in RESULTS (default vm-resource[-solid][-smpN].csv)')
    ap.add_argument('--solid', action='store_true')
    ap.add_argument('--smp', type=int, default=2, help='guest vCPUs (default 2)')
    ap.add_argument('--results', default=str(ROOT / 'bench' / 'results'))
    ap.add_argument('--no-plot', action='store_true')
    args = ap.parse_args()
    build = ROOT / 'build'
    if not os.access(args.qemu, os.X_OK):
        print(f'run-vm-resource: no patched QEMU at {args.qemu} (scripts/build-qemu)',
              file=sys.stderr)
        return 2
    sizes = args.sizes.split(',')
    cases = [c for c in CASES if c[0] in args.cases.split(',')]
    source = 'pattern=solid-color' if args.solid else 'horizontal-speed=8'
    csv_name = args.csv or ('vm-resource-solid' if args.solid else 'vm-resource') + \
        (f'-smp{args.smp}' if args.smp != 2 else '') + '.csv'
    work = Path(tempfile.mkdtemp(prefix='hfx-vm-resource-'))
    res = work / 'results'
    res.mkdir()
    script = res / 'guest.sh'
    script.write_text(guest_script(sizes, args.frames, args.rounds, res, cases, source))
    env = dict(os.environ, GST_PLUGIN_PATH=str(build / 'gst'),
               LD_LIBRARY_PATH=f'{build / "host"}:{build / "lib"}')
    env.setdefault('HFX_VM_DIR', str(build / 'vm'))
    cmd = [str(ROOT / 'tests' / 'vm' / 'run-in-vm'), '--gst-registry', '--timeout', '3000',
           '--smp', str(args.smp),
           '--results', str(res), '--qemu', args.qemu,
           '--frame-export', 'gpu=gpu0,encoder=libx264',
           '--qemu-arg=-device', '--qemu-arg=virtio-gpu-pci,id=gpu0',
           # named threads ("CPU 0/TCG", "hfx-..."), for watching where the host's time goes
           '--qemu-arg=-name', '--qemu-arg=hfx-bench,debug-threads=on', '--', 'sh', str(script)]
    print(f'run-vm-resource: videotestsrc {source}, {len(cases)} cases x {len(sizes)} sizes x {args.rounds} rounds, '
          f'{args.frames} frames counted; the guest runs it all (logs in {res})', flush=True)
    with open(res / 'run-in-vm.log', 'w') as log:
        vm = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        cpu = hostcpu.Sampler(vm.pid, res / 'running')
        cpu.start()
        rc = vm.wait()
        cpu.stop()
    if rc != 0 or not (res / 'results').exists():
        print((res / 'run-in-vm.log').read_text()[-3000:], file=sys.stderr)
        print(f'run-vm-resource: the guest failed (run-in-vm exit {rc})', file=sys.stderr)
        return 1
    runs = {}
    for line in (res / 'results').read_text().splitlines():
        f = dict(kv.split('=', 1) for kv in line.split()[1:])
        runs[(int(f['round']), f['case'], f['size'], int(f['n']))] = (int(f['rc']), int(f['ns']))
    rows = []
    for size in sizes:
        fps = {}
        for name, label, _, _ in cases:
            per_round = []
            for rnd in range(args.rounds):
                a, b = runs.get((rnd, name, size, N0)), runs.get((rnd, name, size, N0 + args.frames))
                if a and b and a[0] == 0 and b[0] == 0 and b[1] > a[1]:
                    per_round.append(args.frames / ((b[1] - a[1]) / 1e9))
                else:
                    per_round.append(None)
            fps[name] = per_round
        for name, label, tail, _ in cases:
            ok = [v for v in fps[name] if v is not None]
            # guest-resource draws another source (or none): no ratio to (a)
            ratios = [v / x for v, x in zip(fps[name], fps.get('x264enc', []))
                      if v and x] if tail is not None else []
            row = {'size': size, 'case': name, 'label': label,
                   'fps_rounds': ' '.join(f'{v:.1f}' if v else 'failed' for v in fps[name]),
                   'fps_median': f'{statistics.median(ok):.1f}' if ok else '',
                   'ratio_to_x264enc': f'{statistics.median(ratios):.2f}' if ratios else ''}
            row.update(cpu_columns(cpu, [(rnd, name, size, v) for rnd, v in
                                         enumerate(fps[name])]))
            rows.append(row)
            print(f'  {size} {label}: {row["fps_median"] or "failed"} fps '
                  f'(rounds {row["fps_rounds"]}), {row["ratio_to_x264enc"] or "-"}x (a); '
                  f'host CPU %: vCPUs {row["vcpu_pct"]}, main loop {row["main_pct"]}, '
                  f'encode {row["encode_pct"]}, machine {row["host_pct"]}; '
                  f'vCPU ms per frame {row["vcpu_ms_per_frame"]}', flush=True)
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / csv_name, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    if not args.no_plot and not args.solid and args.smp == 2:
        subprocess.run([sys.executable, str(ROOT / 'bench' / 'plot-vm-resource.py'), str(out)],
                       check=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
