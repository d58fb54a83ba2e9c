#!/usr/bin/python3
"""Suite browser: hfxd's SPS rewrite in Chromium (docs/architecture.md,
"SPS rewrite").

    sps-rewrite.py SPS_STREAMS PAGE [--output-dir DIR]

SPS_STREAMS (tests/browser/sps-streams) encodes the same moving pattern,
640x360, 60 access units, through libhfx-host three ways: x264 (libx264 as
hfxd sends it), bare (an encoder that writes no VUI, as VideoToolbox does,
without the rewrite) and restored (the same through libhfx-host's rewrite:
what hfxd sends). PAGE (bench/sps-delay.html) decodes each in headless
Chromium with WebCodecs, one access unit every 33 ms, optimizeForLatency
on, as desktop-bridge's viewer does. Chromium must decode every frame of
each without an error (its H.264 parser refuses an SPS whose
max_dec_frame_buffering is below max_num_ref_frames, for one), give the
first frame of the restored stream for the first access unit, and no later
than the bare stream's. Exits 77 (skipped) without chromium or
chromedriver.
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hfxtest.checks import Checks
from hfxtest.staticsite import serve
from hfxtest.webdriver import Driver, require_browser

FRAMES = 60


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('sps_streams')
    ap.add_argument('page')
    ap.add_argument('--output-dir', default=None)
    args = ap.parse_args()
    require_browser()
    c = Checks()
    out = Path(args.output_dir or tempfile.mkdtemp(prefix='hfx-sps-rewrite-'))
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix='hfx-sps-rewrite-'))
    try:
        subprocess.run([args.sps_streams, str(work), '640', '360', str(FRAMES)], check=True)
        shutil.copy(args.page, work / 'index.html')
        httpd = serve(work)
        got = {}
        with Driver(output_dir=out) as drv:
            s = drv.session()
            s.navigate(f'http://127.0.0.1:{httpd.server_address[1]}/')
            for name in ('x264', 'bare', 'restored'):
                r = s.execute('return window.decodeDelay(arguments[0], true);', f'{name}.h264',
                              timeout=120)
                r.pop('latencies')
                got[name] = r
                c.check(f'{name}: Chromium decodes all {FRAMES} frames without an error',
                        r['accessUnits'] == FRAMES and r['frames'] == FRAMES and not r['errors'],
                        r)
        httpd.shutdown()
        c.check('restored (hfxd\'s rewrite): the first frame comes for the first access unit',
                got['restored']['firstAfter'] == 1, got['restored'])
        c.check('and no later than without the rewrite',
                got['restored']['firstAfter'] <= got['bare']['firstAfter'],
                f'restored {got["restored"]["firstAfter"]}, bare {got["bare"]["firstAfter"]}')
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return c.verdict()


if __name__ == '__main__':
    sys.exit(main())
