"""Input-to-photon on the host's clock, shared by bench/run-scanout and
bench/run-dbus-latency: a key pressed (WebDriver actions) in one viewer
page, a guest program that repaints in the next picture's background colour
on that key, and in every page the first canvas draw after the keydown that
shows that colour.

Times are performance.timeOrigin + performance.now() in the pages: one
clock for all pages of a Chromium. Keys are 150..450 ms apart (random, so
that they do not fall in step with an encoder's or the guest's timing);
press 0 is a warm-up (the first repaint also pages the guest's programs and
the encoders' paths in) and not counted.
"""
import random
import statistics
import time

from hfxtest.smpte import TOLERANCE
from percentile import percentile

# Each draw of the viewer's canvas, with the probe pixel after it; each
# keydown, before the viewer's own listener sees it.
_HOOK = '''
(() => {
  const probe = %s;
  const now = () => performance.timeOrigin + performance.now();
  window.__draws = [];
  window.__keys = [];
  window.addEventListener('keydown', () => window.__keys.push(now()), true);
  for (const name of ['drawImage', 'putImageData']) {
    const orig = CanvasRenderingContext2D.prototype[name];
    CanvasRenderingContext2D.prototype[name] = function (...args) {
      const r = orig.apply(this, args);
      const t = now();
      if (this.canvas.id === 'screen' && this.canvas.width > probe[0]) {
        const p = this.getImageData(probe[0], probe[1], 1, 1).data;
        window.__draws.push([t, p[0], p[1], p[2]]);
        if (window.__draws.length > 4000) window.__draws.splice(0, 2000);
      }
      return r;
    };
  }
})();
'''


def hook(probe):
    """The init script for every viewer page: probe is the (x, y) picture
    pixel whose colour tells the pictures apart (a background point)."""
    return _HOOK % list(probe)


def first_draw(session, after, rgb):
    """Time of the first draw after `after` showing rgb at the probe, or None."""
    return session.execute('''
        const [after, rgb, tol] = arguments;
        for (const d of window.__draws)
            if (d[0] > after && Math.abs(d[1] - rgb[0]) <= tol &&
                Math.abs(d[2] - rgb[1]) <= tol && Math.abs(d[3] - rgb[2]) <= tol)
                return d[0];
        return null;''', after, list(rgb), TOLERANCE)


def measure(run, samples, key_session, viewers, backgrounds, start=0):
    """samples key presses in key_session; per press and viewer (name,
    session), a row with the key-to-drawn time in ms ('' when the picture
    was not seen within 5 s). start: the picture the guest shows now (the
    presses before this call, modulo the pictures)."""
    rows = []
    k = start
    for i in range(samples + 1):
        time.sleep(random.uniform(0.15, 0.45))
        n_keys = key_session.evaluate('window.__keys.length')
        key_session.press_key('a')
        k = (k + 1) % len(backgrounds)
        t_key = key_session.wait_for(
            f'window.__keys.length > {n_keys} && window.__keys[{n_keys}]', timeout=5)
        got = {}
        deadline = time.monotonic() + 5
        while len(got) < len(viewers) and time.monotonic() < deadline:
            for name, s in viewers:
                if name not in got:
                    t = first_draw(s, t_key, backgrounds[k])
                    if t is not None:
                        got[name] = t - t_key
            time.sleep(0.02)
        if i == 0:
            continue
        for name, _ in viewers:
            rows.append({'run': run, 'sample': i, 'picture': k, 'path': name,
                         'ms': f'{got[name]:.1f}' if name in got else ''})
        if len(got) < len(viewers):
            print(f'{run} sample {i}: picture {k} not seen within 5 s by '
                  f'{", ".join(n for n, _ in viewers if n not in got)}', flush=True)
    return rows


def summary(rows, run, path):
    """'p50 X ms, p99 Y ms, mean Z ms over N samples[, M not seen]'."""
    v = [float(r['ms']) for r in rows if r['run'] == run and r['path'] == path and r['ms']]
    lost = sum(1 for r in rows if r['run'] == run and r['path'] == path and not r['ms'])
    return (f'p50 {percentile(v, 50):.1f} ms, p99 {percentile(v, 99):.1f} ms, '
            f'mean {statistics.fmean(v) if v else float("nan"):.1f} ms over {len(v)} '
            f'samples{f", {lost} not seen within 5 s" if lost else ""}')


def x11_painter(root, display, width, height, then):
    """A guest shell command: Xvfb on display at width x height (in a tmpfs
    /tmp of its own: the guest's /tmp is the host's, over 9p, where Xvfb can
    make neither its lock nor its socket; clients reach it by its abstract
    socket), bench/guest-x11-keys.py repainting it on every key, and once it
    painted, the command then. {results} is run-in-vm's results directory."""
    return (f'unshare -m sh -c "mount -t tmpfs x11 /tmp && exec Xvfb {display} -screen 0 '
            f'{width}x{height}x24 -nolisten tcp" > {{results}}/xvfb.log 2>&1 & '
            f'DISPLAY={display} PYTHONPATH={root / "tests" / "support"} '
            f'/usr/bin/python3 {root / "bench" / "guest-x11-keys.py"} '
            f'{width} {height} > {{results}}/x11.log 2>&1 & '
            'n=0; while ! grep -q painted {results}/x11.log 2>/dev/null && [ $n -lt 600 ]; '
            'do sleep 0.1; n=$((n+1)); done; ' + then)
