"""The pictures of tests/scanout/scanout-images.h, which tests/qemu/guest-draw
draws and the scanout tests and bench/run-scanout look for, read from that
header so that there is one table of them."""
import re
from pathlib import Path

HEADER = Path(__file__).resolve().parents[2] / 'scanout' / 'scanout-images.h'


def _read():
    text = HEADER.read_text()
    triple = r'\{(0x\w+), (0x\w+), (0x\w+)\}'
    # B, G, R in the header; RGB here.
    pairs = [tuple(tuple(int(v, 16) for v in reversed(m.group(i, i + 1, i + 2)))
                   for i in (1, 4))
             for m in re.finditer(r'\{' + triple + ', ' + triple + r'\}', text)]
    count = int(re.search(r'#define SCANOUT_IMAGES (\d+)', text).group(1))
    square = int(re.search(r'#define SCANOUT_SQUARE (\d+)', text).group(1))
    if len(pairs) != count:
        raise ValueError(f'{HEADER}: {len(pairs)} colour pairs read, SCANOUT_IMAGES is {count}')
    return pairs, square


# [((R, G, B) of the background, (R, G, B) of the square)] per picture, and
# the square's side in pixels.
COLOURS, SQUARE = _read()


def backgrounds():
    """The pictures' background colours, (R, G, B)."""
    return [bg for bg, _ in COLOURS]


def square_at(k, width, height):
    """Where picture k's square is (top left), as scanout_square_at()."""
    return (((width - SQUARE) * k // (len(COLOURS) - 1)) & ~1,
            ((height - SQUARE) // 2 + (60 if k % 2 else 0)) & ~1)


def samples(k, width, height):
    """[(x, y, (R, G, B))] that show picture k in a width x height picture:
    its square's centre and two background points no square of any picture
    covers."""
    sx, sy = square_at(k, width, height)
    bg, sq = COLOURS[k]
    return [(sx + SQUARE // 2, sy + SQUARE // 2, sq), (width // 2, 40, bg),
            (width // 4, height - 40, bg)]


def canvas_shows(session, k, width, height, tolerance):
    """(True, samples) when the viewer's canvas (#screen, a
    hfxtest.webdriver session) shows picture k, each sample within
    tolerance; (False, what was read) otherwise, also when there is no
    canvas yet."""
    pts = samples(k, width, height)
    try:
        got = session.canvas_pixels('#screen', [(x, y) for x, y, _ in pts])
    except Exception as e:  # noqa: BLE001 - no canvas yet is "not yet"
        return False, str(e)
    errs = [max(abs(a - b) for a, b in zip(want, px[:3])) for (_, _, want), px in zip(pts, got)]
    return all(e <= tolerance for e in errs), [(x, y, want, tuple(px[:3]))
                                               for (x, y, want), px in zip(pts, got)]
