#!/usr/bin/env python3
"""viewer-selftest: the viewer (bridge/web) and the browser harness, without desktop-bridge.

A python stand-in for the bridge (hfxtest/fixture.py) serves bridge/web and
streams a 1280x720 videotestsrc recording (SMPTE bars) at 30 fps with the
docs/bridge.md header to headless Chromium driven over WebDriver
(hfxtest/webdriver.py). It checks, in order:

  1. two viewers at once, each in its own browser, with ?token= passed on to
     /ws: >= 90 frames drawn, a 1280x720 canvas, the seven top bars in their
     colours (drawn by the path the viewer picks, and by copyTo; drawImage in
     3), one "drawn" report per drawn frame with increasing seq and the
     capture_us that was sent, the bridge's latency_p50_ms in the overlay;
  2. a stream that starts mid-GOP and is then closed by the server: the viewer
     skips to the keyframe, asks for one, reconnects after the first backoff
     step (250 ms) and draws the new connection's frames;
  3. a decode() that throws: the viewer asks for a keyframe and resumes at the
     next one;
  4. the picture size changing from 640x360 to 1280x720 mid-stream;
  5. no WebCodecs (VideoDecoder deleted before the page's scripts run, through
     a DevTools init script: the page has no test hook), no secure context
     (http://insecure.test, mapped to 127.0.0.1 inside the browser), and a
     VideoDecoder whose isConfigSupported says no: the page shows the "cannot
     decode" message and does not (re)connect;
  6. hfxtest/wsclient.py against the same server (403 without the token).

Screenshots and result.json go to --output-dir. Exit 0: all passed; 1: a check
failed; 77: skipped (no chromium, chromedriver, gst-launch-1.0 or x264enc).
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hfxtest.bridgewire import parse_message, split_access_units
from hfxtest.checks import Checks
from hfxtest.fixture import Plan, StreamServer
from hfxtest.smpte import TOLERANCE, bar_samples
from hfxtest.webdriver import SKIP, Driver, require_browser
from hfxtest.wsclient import HandshakeError, WebSocketClient

HERE = Path(__file__).resolve().parent

WIDTH, HEIGHT, FPS, FRAMES, GOP = 1280, 720, 30, 120, 30
TOKEN = 'selftest-token'
INSECURE_HOST = 'insecure.test'



def make_stream(path, width=WIDTH, height=HEIGHT, frames=FRAMES):
    """Record a test stream; exit 77 when GStreamer or x264enc is missing."""
    gst = shutil.which('gst-launch-1.0')
    if not gst or subprocess.run(['gst-inspect-1.0', '--exists', 'x264enc']).returncode != 0:
        print('skipped: gst-launch-1.0 with x264enc not found '
              '(apt-get install gstreamer1.0-tools gstreamer1.0-plugins-ugly)', flush=True)
        sys.exit(SKIP)
    pipeline = (f'videotestsrc num-buffers={frames} ! '
                f'video/x-raw,width={width},height={height},framerate={FPS}/1 ! '
                f'x264enc tune=zerolatency speed-preset=ultrafast key-int-max={GOP} ! '
                'video/x-h264,stream-format=byte-stream,alignment=au,profile=baseline ! '
                f'filesink location={path}')
    subprocess.run([gst, '-q'] + pipeline.split(), check=True, timeout=60)


def viewer_state(session):
    return session.execute('''
        const v = window.hfxViewer, c = document.getElementById('screen');
        return v ? {framesDrawn: v.framesDrawn, lastSeq: v.lastSeq,
                    keyframesSeen: v.keyframesSeen, errors: v.errors, state: v.state,
                    width: v.width, height: v.height, codec: v.codec,
                    framesSkipped: v.framesSkipped, connections: v.connections,
                    keyframeRequests: v.keyframeRequests,
                    canvas: [c.width, c.height],
                    overlay: document.getElementById('overlay').textContent,
                    message: document.getElementById('message').innerText} : null;''')


def wait_drawn(session, n, timeout):
    """Wait until n frames are drawn or the count stops moving for 2 s."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        drawn = session.evaluate('window.hfxViewer ? window.hfxViewer.framesDrawn : 0')
        if drawn >= n:
            return drawn
        if drawn != last:
            last, since = drawn, time.monotonic()
        elif drawn > 0 and time.monotonic() - since > 2:
            return drawn
        time.sleep(0.1)
    return last


def check_bars(c, name, session):
    """The seven bars near the top, at the centre of each seventh of the width."""
    samples = bar_samples(session, WIDTH)
    path = session.evaluate('window.hfxViewer.drawPath')
    c.results.setdefault(name, {})['bars'] = [got for _, _, _, got, _ in samples]
    c.results[name]['drawPath'] = path
    for bar, want, x, got, err in samples:
        c.check(f'{name}: {bar} bar at x={x} (drawn by {path})',
                err <= TOLERANCE and got[3] == 255,
                f'rgba{tuple(got)}, want rgb{want}')


def check_viewer(c, name, session, conn, out):
    st = viewer_state(session)
    # The last reports may still be on their way to the server.
    wait_until(lambda: len(conn.drawn) >= st['framesDrawn'], 2)
    c.results[name] = {k: st[k] for k in ('framesDrawn', 'lastSeq', 'keyframesSeen', 'errors',
                                          'state', 'codec', 'canvas')}
    c.check(f'{name}: >= 90 frames drawn', st['framesDrawn'] >= 90, st['framesDrawn'])
    c.check(f'{name}: canvas {WIDTH}x{HEIGHT}', st['canvas'] == [WIDTH, HEIGHT] and
            (st['width'], st['height']) == (WIDTH, HEIGHT), st['canvas'])
    c.check(f'{name}: codec from the SPS', st['codec'] == 'avc1.42c01f', st['codec'])
    c.check(f'{name}: state streaming, no errors', st['state'] == 'streaming' and
            not st['errors'], f"{st['state']} {st['errors']}")
    c.check(f'{name}: 4 keyframes seen', st['keyframesSeen'] == FRAMES // GOP,
            st['keyframesSeen'])
    c.check(f'{name}: /ws got the page\'s token', conn.query.get('token') == TOKEN,
            conn.query)

    check_bars(c, name, session)

    sent = {seq: cap for seq, cap, _, _ in conn.sent}
    drawn = conn.drawn
    seqs = [m.get('seq') for m in drawn]
    c.check(f'{name}: a drawn report per frame drawn', len(drawn) == st['framesDrawn'],
            f'{len(drawn)} reports, {st["framesDrawn"]} drawn')
    c.check(f'{name}: drawn seq increasing', all(b > a for a, b in zip(seqs, seqs[1:])),
            f'{seqs[:3]}...{seqs[-3:]}')
    c.check(f'{name}: drawn capture_us echoed', all(
        m.get('capture_us') == sent.get(m.get('seq')) for m in drawn))
    decode = [m.get('decode_ms') for m in drawn]
    c.check(f'{name}: decode_ms numbers >= 0', all(
        isinstance(d, (int, float)) and d >= 0 for d in decode))
    if decode:
        decode.sort()
        c.results[name]['decode_ms_p50'] = decode[len(decode) // 2]
        c.results[name]['decode_ms_max'] = decode[-1]
    c.check(f'{name}: overlay shows fps, kbit/s, the bridge\'s p50',
            all(s in st['overlay'] for s in ('fps', 'kbit/s', 'latency p50')), st['overlay'])
    c.results[name]['overlay'] = st['overlay']
    session.screenshot(out / f'{name}.png')


T0 = time.monotonic()


def log(what):
    print(f'{time.monotonic() - T0:7.2f} s  {what}', flush=True)


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def two_viewers(c, srv, drv, page, out):
    """1. Two browsers at once, each with the whole recording."""
    a, b = drv.sessions(2)
    log('two browsers started')
    a.navigate(page)
    # B only once A's socket is up, so connection 0 is A's.
    wait_until(lambda: len(srv.connections) >= 1, 10)
    # A picks its draw path by timing; B is told to copy.
    b.navigate(page + '&render=copy')
    log('both viewers loaded')
    wait_drawn(a, FRAMES, 20)
    wait_drawn(b, FRAMES, 20)
    log('both viewers drew the stream')
    if not c.check('two /ws connections', len(srv.connections) == 2, len(srv.connections)):
        return None
    check_viewer(c, 'viewer-a', a, srv.connections[0], out)
    check_viewer(c, 'viewer-b', b, srv.connections[1], out)
    return a, b


def reconnect(c, srv, a, page):
    """2. Mid-GOP start, the server closes, the viewer comes back."""
    first_index = len(srv.connections)
    a.navigate(page)
    wait_until(lambda: len(srv.connections) > first_index + 1 and
               len(srv.connections[first_index + 1].drawn) >= 60, 25)
    st = viewer_state(a)
    c.results['reconnect'] = {k: st[k] for k in ('framesDrawn', 'framesSkipped', 'connections',
                                                 'keyframeRequests', 'errors', 'state')}
    if not c.check('reconnect: a second connection came',
                   len(srv.connections) == first_index + 2, len(srv.connections) - first_index):
        return
    first, second = srv.connections[first_index:first_index + 2]
    c.check('reconnect: 20 deltas skipped before the keyframe', st['framesSkipped'] == 20,
            st['framesSkipped'])
    c.check('reconnect: a keyframe was asked for', len(first.messages('keyframe')) == 1,
            len(first.messages('keyframe')))
    # Frames still in the decoder when the socket closes are drawn but cannot
    # be reported, so the reports may stop before seq 39.
    seqs = [m['seq'] for m in first.drawn]
    c.check('reconnect: the first connection drew from the keyframe (seq 20) on',
            seqs and seqs == list(range(20, 20 + len(seqs))) and seqs[-1] <= 39,
            f'{seqs[:2]}...{seqs[-2:]}' if seqs else 'none')
    gap = second.opened - first.closed if first.closed else None
    c.results['reconnect']['gap_s'] = gap and round(gap, 3)
    c.check('reconnect: after the first backoff step (250 ms)',
            gap is not None and 0.2 <= gap <= 1.5, gap)
    c.check('reconnect: the second connection\'s frames drawn', len(second.drawn) == 60,
            len(second.drawn))
    c.check('reconnect: viewer connected twice, streaming',
            st['connections'] == 2 and st['state'] == 'streaming',
            f"{st['connections']} {st['state']}")
    c.check('reconnect: no errors but the close',
            all(e.startswith('socket: closed with code') for e in st['errors']), st['errors'])


# The 45th decode() throws, as a decoder that chokes on a frame would.
FAIL_DECODE = """
    const decode = VideoDecoder.prototype.decode;
    let calls = 0;
    VideoDecoder.prototype.decode = function (chunk) {
        if (++calls === 45)
            throw new DOMException('injected by viewer-selftest', 'EncodingError');
        return decode.call(this, chunk);
    };"""


def decoder_error(c, srv, a, page):
    """3. A decoder error: the viewer asks for a keyframe and resumes at the next one."""
    index = len(srv.connections)
    a.new_tab()
    a.add_init_script(FAIL_DECODE)
    # Here drawImage is forced, so its pixels are checked too.
    a.navigate(page + '&render=drawimage')
    # The last frame's report, or 25 s.
    wait_until(lambda: len(srv.connections) > index and
               any(m.get('seq') == 89 for m in srv.connections[index].drawn), 25)
    st = viewer_state(a)
    c.results['decoder_error'] = {k: st[k] for k in ('framesDrawn', 'framesSkipped', 'errors',
                                                     'keyframeRequests', 'state')}
    if not c.check('decoder error: connection', len(srv.connections) > index):
        return
    conn = srv.connections[index]
    seqs = [m['seq'] for m in conn.drawn]
    # seq 44 fails; 45..59 wait for the keyframe at 60; 60..89 draw. Frames
    # still queued in the failed decoder are dropped with it, so the first run
    # may end before 43.
    cut = seqs.index(60) if 60 in seqs else len(seqs)
    c.check('decoder error: drawn up to the failure, again from the next keyframe',
            seqs[:cut] == list(range(cut)) and cut <= 44 and seqs[cut:] == list(range(60, 90)),
            f'{len(seqs)} reports: ...{seqs[max(0, cut - 2):cut + 2]}...')
    c.check('decoder error: recorded', any('injected by viewer-selftest' in e
                                           for e in st['errors']), st['errors'])
    c.check('decoder error: a keyframe was asked for', len(conn.messages('keyframe')) == 1,
            len(conn.messages('keyframe')))
    c.check('decoder error: streaming again', st['state'] == 'streaming', st['state'])
    check_bars(c, 'decoder error', a)


def size_change(c, srv, a, page, small):
    """4. The picture size changes mid-stream (a guest changing its resolution)."""
    index = len(srv.connections)
    a.new_tab()
    a.navigate(page)
    wait_until(lambda: len(srv.connections) > index and
               any(m.get('seq') == 59 for m in srv.connections[index].drawn), 20)
    st = viewer_state(a)
    c.results['size_change'] = {k: st[k] for k in ('framesDrawn', 'errors', 'state', 'canvas')}
    if not c.check('size change: connection', len(srv.connections) > index):
        return
    seqs = [m['seq'] for m in srv.connections[index].drawn]
    c.check(f'size change: {small[0]}x{small[1]} then {WIDTH}x{HEIGHT}, every frame drawn',
            seqs == list(range(60)), f'{len(seqs)} reports')
    c.check('size change: canvas follows', st['canvas'] == [WIDTH, HEIGHT] and
            (st['width'], st['height']) == (WIDTH, HEIGHT), st['canvas'])
    c.check('size change: no errors', not st['errors'], st['errors'])
    check_bars(c, 'size change', a)


def cannot_decode(c, srv, a, b, page, out):
    """5. No WebCodecs; WebCodecs that says no to the stream."""
    n = len(srv.connections)
    b.new_tab()
    b.add_init_script('delete window.VideoDecoder; delete window.EncodedVideoChunk;')
    b.navigate(page)
    b.wait_for("window.hfxViewer && window.hfxViewer.state === 'unsupported'", 5)
    time.sleep(1)
    msg = b.text('#message')
    c.check('no WebCodecs: message shown',
            msg.startswith('This browser cannot decode H.264 with WebCodecs: '), msg)
    c.check('no WebCodecs: no connection', len(srv.connections) == n, len(srv.connections) - n)
    b.screenshot(out / 'no-webcodecs.png')

    # The usual way to get here: the bridge opened over plain http from another
    # machine. Browsers expose WebCodecs only in secure contexts, and an http
    # origin other than localhost is not one (the name maps to 127.0.0.1 only
    # inside the browser, see main()).
    b.new_tab()
    b.navigate(page.replace('127.0.0.1', INSECURE_HOST))
    b.wait_for("window.hfxViewer && window.hfxViewer.state === 'unsupported'", 5)
    msg = b.text('#message')
    c.check('insecure context: message names the cause',
            msg.startswith('This browser cannot decode H.264 with WebCodecs: ') and
            'secure context' in msg, msg)
    c.check('insecure context: no connection', len(srv.connections) == n,
            len(srv.connections) - n)

    a.new_tab()
    a.add_init_script('''VideoDecoder.isConfigSupported =
        (config) => Promise.resolve({supported: false, config});''')
    a.navigate(page)
    a.wait_for("window.hfxViewer && window.hfxViewer.state === 'unsupported'", 5)
    time.sleep(1)
    msg = a.text('#message')
    c.check('unsupported config: message shown',
            msg.startswith('This browser cannot decode H.264 with WebCodecs: ') and
            'avc1.42c01f' in msg, msg)
    c.check('unsupported config: one connection, closed, no reconnect',
            len(srv.connections) == n + 1 and srv.connections[n].closed is not None,
            len(srv.connections) - n)
    a.screenshot(out / 'unsupported-config.png')


def raw_client(c, srv):
    """6. The raw client of hfxtest/wsclient.py against the same server."""
    ws = srv.url.replace('http://', 'ws://') + 'ws'
    try:
        WebSocketClient(ws, timeout=5).close()
        c.check('raw client: no token, refused', False, 'handshake accepted')
    except HandshakeError as e:
        c.check('raw client: no token, refused', e.status == 403, e.status)
    index = len(srv.connections)
    with WebSocketClient(f'{ws}?token={TOKEN}', timeout=5) as ws:
        frames = [parse_message(ws.recv_binary()) for _ in range(3)]
        ws.send_json({'type': 'drawn', 'seq': frames[0].seq,
                      'capture_us': frames[0].capture_us, 'decode_ms': 0.5})
        wait_until(lambda: srv.connections[index].drawn, 5)
    c.check('raw client: keyframe first, seq 0 1 2, 1280x720',
            frames[0].key and [f.seq for f in frames] == [0, 1, 2] and
            all((f.width, f.height) == (WIDTH, HEIGHT) for f in frames) and
            frames[0].au == srv.aus[0][0])
    c.check('raw client: its drawn report arrived',
            srv.connections[index].drawn[:1] == [{'type': 'drawn', 'seq': 0,
                                                  'capture_us': frames[0].capture_us,
                                                  'decode_ms': 0.5}])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--web-dir', type=Path, default=HERE.parent.parent / 'bridge' / 'web')
    ap.add_argument('--output-dir', type=Path)
    ap.add_argument('--h264', type=Path, help='use this recording instead of making one')
    args = ap.parse_args()

    require_browser()
    out = args.output_dir or Path(tempfile.mkdtemp(prefix='viewer-selftest-'))
    out.mkdir(parents=True, exist_ok=True)
    print(f'output: {out}', flush=True)
    t_start = time.monotonic()

    stream = args.h264
    if stream is None:
        stream = out / 'stream.h264'
        make_stream(stream)
    aus = split_access_units(stream.read_bytes())
    small = (640, 360)
    make_stream(out / 'small.h264', *small, frames=GOP)
    small_aus = split_access_units((out / 'small.h264').read_bytes())
    c = Checks()
    c.results = {}
    keys = [i for i, (_, k) in enumerate(aus) if k]
    if not c.check('recording splits into 120 AUs, keyframes every 30',
                   len(aus) == FRAMES and keys == list(range(0, FRAMES, GOP)),
                   f'{len(aus)} AUs, keyframes at {keys}'):
        return 1

    with StreamServer(args.web_dir, aus, WIDTH, HEIGHT, FPS, token=TOKEN) as srv, \
            Driver(output_dir=out,
                   extra_args=[f'--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1']) as drv:
        page = f'{srv.url}?token={TOKEN}'
        # One plan per /ws connection, in the order the phases make them.
        srv.plans = [Plan(stats=True), Plan(stats=True),                # 1. viewers A, B
                     Plan(start=10, close_after=40), Plan(count=60),    # 2. A, A again
                     Plan(count=90),                                    # 3. A's 2nd tab
                     Plan(frames=[(au, k, *small) for au, k in small_aus] +
                          [(au, k, WIDTH, HEIGHT) for au, k in aus[:GOP]]),  # 4. 3rd tab
                     Plan(),                                            # 5. A's 4th tab
                     Plan(count=3)]                                     # 6. raw client
        t = time.monotonic()

        def lap(name):
            nonlocal t
            c.results.setdefault('phase_s', {})[name] = round(time.monotonic() - t, 2)
            t = time.monotonic()

        viewers = two_viewers(c, srv, drv, page, out)
        lap('two_viewers')
        if viewers:
            a, b = viewers
            reconnect(c, srv, a, page)
            lap('reconnect')
            decoder_error(c, srv, a, page)
            lap('decoder_error')
            size_change(c, srv, a, page, small)
            lap('size_change')
            cannot_decode(c, srv, a, b, page, out)
            lap('cannot_decode')
            raw_client(c, srv)
            lap('raw_client')
        t_close = time.monotonic()
    c.results['teardown_s'] = round(time.monotonic() - t_close, 2)
    c.results['total_s'] = round(time.monotonic() - t_start, 2)
    c.results['failed'] = c.failed
    (out / 'result.json').write_text(json.dumps(c.results, indent=2) + '\n')
    print(f'{len(c.failed)} failed; {c.results["total_s"]} s; results in {out}', flush=True)
    return 1 if c.failed else 0


if __name__ == '__main__':
    sys.exit(main())
