"""What a guest's input devices reported, as tests/qemu/guest-evdev logs it
(RESULTS/evdev.log in a run-in-vm results directory), and the checks that a
key and a click made in a viewer arrive there (with a tablet, or a mouse
that moves relatively)."""
import re
import time


def evdev_lines(results):
    p = results / 'evdev.log'
    return p.read_text(errors='replace').splitlines() if p.exists() else []


def wait_lines(results, want, timeout=15):
    """(True, lines) once every line of want is in evdev.log, in order."""
    t0 = time.monotonic()
    while True:
        lines = evdev_lines(results)
        at = 0
        for w in want:
            try:
                at = lines.index(w, at) + 1
            except ValueError:
                at = -1
                break
        if at >= 0 or time.monotonic() - t0 > timeout:
            return at >= 0, lines
        time.sleep(0.1)


def page_point(session, px, py):
    """Where picture pixel (px, py) is in the viewer's page (the canvas is
    scaled to fit, with bars): (page x, page y, the picture pixel that page
    point falls in, as the viewer computes it, scale)."""
    left, top, rw, rh, w, h = session.execute(
        'const c = document.getElementById("screen"), r = c.getBoundingClientRect();'
        'return [r.left, r.top, r.width, r.height, c.width, c.height];')
    scale = min(rw / w, rh / h)
    ox, oy = left + (rw - w * scale) / 2, top + (rh - h * scale) / 2
    cx, cy = int(ox + (px + 0.5) * scale), int(oy + (py + 0.5) * scale)
    return cx, cy, (int((cx - ox) / scale), int((cy - oy) / scale)), scale


def check_key(c, session, results):
    """"a" pressed in the viewer must reach the guest as KEY_A down, up."""
    t0 = time.monotonic()
    session.press_key('a')
    ok, lines = wait_lines(results, ['key 30 1', 'key 30 0'])
    c.check('a key pressed in the viewer arrives in the guest as KEY_A down, up', ok,
            f'after {time.monotonic() - t0:.2f} s' if ok else '\n'.join(lines[-10:]))


def check_relative_click(c, session, results, width, height, slack=2):
    """With no absolute device in the guest (a PS/2 mouse alone): the
    pointer moved in the viewer from one picture pixel to another of a
    width x height picture must arrive as relative motion summing to the
    move (within slack pixels: the console is the picture's size), then a
    click as BTN_LEFT down and up."""
    ok, lines = wait_lines(results, [], timeout=0)
    devices = [ln for ln in lines if ln.startswith('device ')]
    c.check('the guest has no absolute device (relative motion only)',
            devices and not any('abs_x' in ln for ln in devices), '\n'.join(devices))
    ax, ay, a, _ = page_point(session, width // 4, height // 3)
    bx, by, b, _ = page_point(session, width // 2, height // 2)
    session.move_to(ax, ay)
    time.sleep(1)  # the move to the start lands before the count begins
    before = len(evdev_lines(results))
    t0 = time.monotonic()
    session.click_at(bx, by)
    ok, lines = wait_lines(results, ['key 272 1', 'key 272 0'])
    c.check('a click in the viewer arrives in the guest as BTN_LEFT down, up', ok,
            f'after {time.monotonic() - t0:.2f} s' if ok else '\n'.join(lines[-10:]))
    dx = sum(int(ln.split()[2]) for ln in lines[before:] if ln.startswith('rel x '))
    dy = sum(int(ln.split()[2]) for ln in lines[before:] if ln.startswith('rel y '))
    want = (b[0] - a[0], b[1] - a[1])
    c.check(f'the move before it arrives as relative motion (within {slack} px)',
            abs(dx - want[0]) <= slack and abs(dy - want[1]) <= slack,
            f'guest moved ({dx}, {dy}) for a move of {want} picture pixels')


def check_key_and_click(c, session, results, width, height, slack=1):
    """"a" pressed and a picture pixel clicked in the viewer (a
    hfxtest.webdriver session showing a width x height picture) must reach
    the guest as KEY_A down and up, BTN_LEFT down and up, and the tablet
    within slack pixels of the pixel clicked. c: a hfxtest.checks.Checks."""
    ok, lines = wait_lines(results, [], timeout=0)
    tablet = [ln for ln in lines if ln.startswith('device ') and 'abs_x' in ln]
    c.check('the guest has evdev devices, one of them absolute', bool(tablet),
            '\n'.join(lines[:8]))
    if not tablet:
        return
    m = re.search(r'abs_x (-?\d+)\.\.(\d+) abs_y (-?\d+)\.\.(\d+)', tablet[0])
    x_min, x_max, y_min, y_max = (int(v) for v in m.groups())

    check_key(c, session, results)
    px, py = width // 4, height // 3
    cx, cy, (want_x, want_y), scale = page_point(session, px, py)
    before = len(evdev_lines(results))
    t0 = time.monotonic()
    session.click_at(cx, cy)
    ok, lines = wait_lines(results, ['key 272 1', 'key 272 0'])
    c.check('a click in the viewer arrives in the guest as BTN_LEFT down, up', ok,
            f'after {time.monotonic() - t0:.2f} s' if ok else '\n'.join(lines[-10:]))
    xs = [int(ln.split()[2]) for ln in lines[before:] if ln.startswith('abs x ')]
    ys = [int(ln.split()[2]) for ln in lines[before:] if ln.startswith('abs y ')]
    if xs and ys:
        gx = (xs[-1] - x_min) * (width - 1) / (x_max - x_min)
        gy = (ys[-1] - y_min) * (height - 1) / (y_max - y_min)
        c.check(f'the guest\'s tablet is at the picture pixel clicked (within {slack} px)',
                abs(gx - want_x) <= slack and abs(gy - want_y) <= slack,
                f'({gx:.1f}, {gy:.1f}) for ({want_x}, {want_y}); page point ({cx}, {cy}) '
                f'at scale {scale:.3f}')
    else:
        c.check('the guest\'s tablet is at the picture pixel clicked', False,
                'no absolute position in the guest: ' + '\n'.join(lines[-10:]))
