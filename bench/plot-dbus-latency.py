#!/usr/bin/python3
"""Plot bench/results/dbus-latency.csv into bench/results/dbus-latency.png:
the input-to-photon latency of each picture path, sorted (a CDF), one panel
per size.

Usage: plot-dbus-latency.py RESULTS_DIR [STEM]

STEM: dbus-latency (the default), dbus-latency-idle (--guest-idle) or
dbus-latency-alone (--alone).
"""
import sys

from plotlib import latency_cdf, plt, read

COLOURS = {"dbus-x264enc": "#d8843b", "dbus-vsockenc": "#3b7dd8", "in-guest": "#2aa876"}


def main():
    stem = sys.argv[2] if len(sys.argv) > 2 else "dbus-latency"
    rows = read(f"{sys.argv[1]}/{stem}.csv")
    sizes = list(dict.fromkeys(r["run"] for r in rows))
    fig, axes = plt.subplots(1, len(sizes), figsize=(7 * len(sizes), 5), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        latency_cdf(ax, [r for r in rows if r["run"] == size],
                    {(size, path): (c, "-") for path, c in COLOURS.items()})
        ax.set_xlabel("key pressed in Chromium to the new picture drawn (ms, log scale)")
        ax.set_title(f"{size}: QEMU D-Bus display" + {
            "dbus-latency": " vs the in-guest bridge (TCG)",
            "dbus-latency-alone": ", one path at a time, guest idle (TCG)",
        }.get(stem, ", guest idle (TCG)"))
    fig.tight_layout()
    fig.savefig(f"{sys.argv[1]}/{stem}.png", dpi=100)


if __name__ == "__main__":
    main()
