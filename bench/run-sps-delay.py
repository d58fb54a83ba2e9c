#!/usr/bin/python3
"""Decode delay in headless Chromium's WebCodecs by what the SPS says about
reordering (docs/architecture.md, "SPS rewrite").

    bench/run-sps-delay [--size WxH] [--frames N] [--runs N] [--results DIR]

build/tests/browser/sps-streams encodes the same moving test pattern three ways
(libx264 through libhfx-host, ultrafast/zerolatency, 30 fps, 4000 kbit/s):
x264 (as hfxd sends libx264's stream: its SPS already says
max_num_reorder_frames 0), bare (the SPS without VUI, as VideoToolbox
writes it, and as hfxd would send it without its rewrite) and restored
(the same encoder's stream through libhfx-host's rewrite: what hfxd sends).
bench/sps-delay.html decodes each in Chromium with WebCodecs, one access
unit every 33 ms, with optimizeForLatency off and on, and reports how many
access units were submitted when the first frame came out and each frame's
time from decode() to output. Writes RESULTS/sps-delay.csv (one row per
run, stream and mode) and RESULTS/sps-delay.png; prints the medians.
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from hfxtest.staticsite import serve
from hfxtest.webdriver import Driver, require_browser

ROOT = Path(__file__).resolve().parent.parent
STREAMS = ('x264', 'bare', 'restored')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--size', default='1280x720')
    ap.add_argument('--frames', type=int, default=90)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--results', default=str(ROOT / 'bench' / 'results'))
    ap.add_argument('--no-plot', action='store_true')
    args = ap.parse_args()
    tool = ROOT / 'build' / 'tests' / 'browser' / 'sps-streams'
    if not os.access(tool, os.X_OK):
        print(f'run-sps-delay: {tool} is missing (ninja -C build)', file=sys.stderr)
        return 2
    require_browser()
    width, height = args.size.split('x')
    work = Path(tempfile.mkdtemp(prefix='hfx-sps-delay-'))
    rows = []
    try:
        subprocess.run([str(tool), str(work), width, height, str(args.frames)], check=True)
        shutil.copy(ROOT / 'bench' / 'sps-delay.html', work / 'index.html')
        httpd = serve(work)
        base = f'http://127.0.0.1:{httpd.server_address[1]}/'
        with Driver(output_dir=work / 'logs') as drv:
            s = drv.session()
            s.navigate(base)
            for run in range(args.runs):
                for name in STREAMS:
                    for latency in (False, True):
                        r = s.execute('return window.decodeDelay(arguments[0], arguments[1]);',
                                      f'{name}.h264', latency, timeout=300)
                        lat = sorted(r['latencies'])
                        rows.append({'run': run, 'stream': name,
                                     'optimize_for_latency': int(latency),
                                     'access_units': r['accessUnits'], 'frames': r['frames'],
                                     'first_output_after': r['firstAfter'],
                                     'out_before_flush': r['beforeFlush'],
                                     'p50_ms': f'{lat[len(lat) // 2]:.2f}' if lat else '',
                                     'max_ms': f'{lat[-1]:.2f}' if lat else '',
                                     'errors': ' | '.join(r['errors'])})
        httpd.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    with open(results / 'sps-delay.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f'run-sps-delay: {args.size}, {args.frames} access units, {args.runs} runs, '
          f'Chromium {s.capabilities.get("browserVersion", "?")}')
    for name in STREAMS:
        for latency in (0, 1):
            sel = [r for r in rows if r['stream'] == name and r['optimize_for_latency'] == latency]
            first = [r['first_output_after'] for r in sel]
            p50 = statistics.median(float(r['p50_ms']) for r in sel if r['p50_ms'])
            print(f'  {name:9s} optimizeForLatency={bool(latency)!s:5s}: first frame out after '
                  f'{first} access units, decode() to output p50 {p50:.1f} ms, frames '
                  f'{[r["frames"] for r in sel]}, errors {sum(bool(r["errors"]) for r in sel)}')
    if not args.no_plot:
        subprocess.run([sys.executable, str(ROOT / 'bench' / 'plot-sps-delay.py'), str(results)],
                       check=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
