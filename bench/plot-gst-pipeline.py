#!/usr/bin/python3
"""Plot bench/results/gst-pipeline.csv into bench/results/gst-pipeline.png.

One panel per frame size; each bar is a case's fps relative to its baseline,
the x264enc with the same encoder threads (column `baseline`): the left group
runs x264enc threads=1 and an hfxd with --encoder-threads 1, the right group
x264enc's and hfxd's defaults.

Usage: plot-gst-pipeline.py RESULTS_DIR
"""
import sys

from plotlib import num, plt, read

COLORS = {"x264": "#999999", "vsockenc-4": "#3b7dd8", "vsockenc-1": "#9cc0f0",
          "vsockenc-shm": "#2aa876"}


def color(case):
    for prefix, c in COLORS.items():
        if case == prefix or case.startswith(prefix + "-"):
            return c
    return "#444444"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    rows = read(f"{out}/gst-pipeline.csv")
    sizes = list(dict.fromkeys(r["size"] for r in rows))

    fig, axes = plt.subplots(1, len(sizes), figsize=(8 * len(sizes), 5), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        here = [r for r in rows if r["size"] == size and r["case"] != "source"]
        src = next((r for r in rows if r["size"] == size and r["case"] == "source"), None)
        # A gap between the two thread groups.
        x, prev = [], None
        for r in here:
            step = 1.6 if prev is not None and r["encoder_threads"] != prev else 1.0
            x.append((x[-1] + step) if x else 0.0)
            prev = r["encoder_threads"]
        ratios = [num(r["ratio_to_baseline"]) or 0.0 for r in here]
        bars = ax.bar(x, ratios, color=[color(r["case"]) for r in here])
        for b, r in zip(bars, here):
            fps = num(r["fps_median"])
            label = "n/a" if fps is None else f'{fps:.0f} fps\n{float(r["ratio_to_baseline"]):.2f}x'
            ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 0.02, label,
                    ha="center", fontsize=8)
        ax.axhline(0.9, color="k", ls="--", lw=1, label="target 0.9x the matching x264enc")
        ax.set_xticks(x)
        ax.set_xticklabels([f'{r["case"]}\n({r["encoder_threads"]} thr)' for r in here],
                           fontsize=7)
        ax.set_ylim(0, max(ratios + [1.0]) * 1.3)
        ax.set_ylabel("fps relative to x264enc with the same threads")
        title = f"{size} NV12, ultrafast zerolatency 8000 kbit/s"
        if src and num(src["fps_median"]) is not None:
            title += f'\nsource alone (appsrc ! fakesink): {float(src["fps_median"]):.0f} fps'
        ax.set_title(title, fontsize=10)
        ax.legend(loc="upper right", fontsize=8)

    fig.tight_layout()
    fig.savefig(f"{out}/gst-pipeline.png", dpi=100)


if __name__ == "__main__":
    main()
