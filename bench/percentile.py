"""The percentile rule of bench/run-scanout and its plot, in one place: the
sorted values' element nearest to p per cent of the way from the first to
the last (no interpolation: every figure is a measured value)."""


def percentile(values, p):
    """values' p-th percentile (0 <= p <= 100); NaN when there are none."""
    v = sorted(values)
    if not v:
        return float('nan')
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
