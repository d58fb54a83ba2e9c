"""videotestsrc pattern=smpte as the tests find it on the viewer's canvas.

Its top two thirds are seven full-intensity bars, left to right
(pattern=smpte75 would be the 75 % ones). Through 4:2:0, limited range and
back they come out within a few steps; a tolerance of 32 is far below the
255 that separates any two bars in some channel."""

BARS = [('white', (255, 255, 255)), ('yellow', (255, 255, 0)), ('cyan', (0, 255, 255)),
        ('green', (0, 255, 0)), ('magenta', (255, 0, 255)), ('red', (255, 0, 0)),
        ('blue', (0, 0, 255))]
TOLERANCE = 32


def bar_samples(session, width, y=40, selector='#screen'):
    """[(bar, want rgb, x, rgba, error)] for the pixel at the centre of each
    seventh of the canvas at row y; error: the largest channel difference."""
    points = [(int((i + 0.5) * width / 7), y) for i in range(7)]
    pixels = session.canvas_pixels(selector, points)
    return [(bar, want, x, got, max(abs(p - q) for p, q in zip(want, got[:3])))
            for (bar, want), (x, _), got in zip(BARS, points, pixels)]
