#!/usr/bin/python3
"""Plot bench/results/gst-pipeline.csv into bench/results/gst-pipeline.png.

Usage: plot-gst-pipeline.py RESULTS_DIR
"""
import sys

from plotlib import plt, read

COLORS = {"x264-1thread": "#888888", "x264-auto": "#bbbbbb", "vsockenc-4": "#3b7dd8",
          "vsockenc-1": "#9cc0f0", "vsockenc-shm": "#2aa876"}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    rows = read(f"{out}/gst-pipeline.csv")
    sizes = list(dict.fromkeys(r["size"] for r in rows))

    fig, axes = plt.subplots(1, len(sizes), figsize=(7 * len(sizes), 4.8), squeeze=False)
    for ax, size in zip(axes[0], sizes):
        here = [r for r in rows if r["size"] == size and r["case"] != "source"]
        src = next((r for r in rows if r["size"] == size and r["case"] == "source"), None)
        x = range(len(here))
        ratios = [float(r["ratio_to_x264_1thread"]) if r["fps_median"] != "n/a" else 0
                  for r in here]
        bars = ax.bar(x, ratios, color=[COLORS.get(r["case"], "#444444") for r in here])
        for b, r in zip(bars, here):
            if r["fps_median"] == "n/a":
                label = "n/a"
            else:
                label = (f'{float(r["fps_median"]):.0f} fps\n'
                         f'{float(r["ratio_to_x264_1thread"]):.2f}x')
            ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 0.02, label,
                    ha="center", fontsize=8)
        ax.axhline(0.9, color="k", ls="--", lw=1, label="target 0.9x x264enc threads=1")
        ax.set_xticks(list(x))
        ax.set_xticklabels([r["case"] for r in here], fontsize=8)
        top = max(ratios + [1.0])
        ax.set_ylim(0, top * 1.25)
        ax.set_ylabel("fps relative to x264enc threads=1")
        title = f"{size} NV12, ultrafast zerolatency 8000 kbit/s"
        if src and src["fps_median"] != "n/a":
            title += f'\nsource alone (appsrc ! fakesink): {float(src["fps_median"]):.0f} fps'
        ax.set_title(title, fontsize=10)
        ax.legend(loc="upper right", fontsize=8)

    fig.tight_layout()
    fig.savefig(f"{out}/gst-pipeline.png", dpi=100)


if __name__ == "__main__":
    main()
