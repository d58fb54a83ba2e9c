"""What every bench/plot-*.py needs: matplotlib without a display, the CSV
rows, numbers that may be missing."""
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402,F401 - re-exported for the plot scripts


def read(path):
    """The CSV at path as a list of dicts, one per row."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def num(text):
    """float(text), or None for an empty or non-numeric cell ('n/a')."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def latency_cdf(ax, rows, style, targets=(40, 80)):
    """Input-to-photon rows (run, path, ms; bench/inputphoton.py) drawn as
    one sorted step line per (run, path) on ax, labelled with p50 and p99;
    style maps (run, path) to (colour, line style); dotted and dashed lines
    at the p50 and p99 targets (ms)."""
    from percentile import percentile

    for key in sorted({(r["run"], r["path"]) for r in rows}):
        v = sorted(x for x in (num(r["ms"]) for r in rows if (r["run"], r["path"]) == key)
                   if x is not None)
        if not v:
            continue
        color, ls = style.get(key, ("#888888", "-"))
        ax.step(v, [(i + 1) / len(v) for i in range(len(v))], where="post", color=color,
                linestyle=ls, label=f"{key[0]}: {key[1]} (p50 {percentile(v, 50):.0f} ms, "
                f"p99 {percentile(v, 99):.0f} ms)")
    ax.axvline(targets[0], color="#999999", linestyle=":", linewidth=0.8)
    ax.axvline(targets[1], color="#999999", linestyle="--", linewidth=0.8)
    ax.text(targets[0], 0.02, " target p50", fontsize=8, color="#666666")
    ax.text(targets[1], 0.02, " target p99", fontsize=8, color="#666666")
    ax.set_xscale("log")
    ax.set_ylabel("fraction of key presses")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3, which="both")
