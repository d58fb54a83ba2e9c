#!/usr/bin/python3
"""Plot bench/results/sps-delay.csv into bench/results/sps-delay.png: per
stream and optimizeForLatency, the median of the runs' p50 time from
decode() to output in Chromium's WebCodecs, labelled with how many access
units went in before the first frame came out.

Usage: plot-sps-delay.py RESULTS_DIR
"""
import statistics
import sys

from plotlib import plt, read

STREAMS = ("x264", "bare", "restored")
LABELS = {"x264": "libx264 as hfxd sends it", "bare": "SPS without VUI\n(no rewrite)",
          "restored": "SPS without VUI,\nhfxd's rewrite"}


def main():
    rows = read(f"{sys.argv[1]}/sps-delay.csv")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.38
    for k, (latency, colour) in enumerate(((0, "#d8843b"), (1, "#3b7dd8"))):
        xs, ys, firsts = [], [], []
        for i, name in enumerate(STREAMS):
            sel = [r for r in rows if r["stream"] == name and int(r["optimize_for_latency"]) == latency]
            xs.append(i + (k - 0.5) * width)
            ys.append(statistics.median(float(r["p50_ms"]) for r in sel))
            firsts.append("/".join(sorted({r["first_output_after"] for r in sel})))
        bars = ax.bar(xs, ys, width, color=colour,
                      label=f"optimizeForLatency {'on' if latency else 'off'}")
        for b, first in zip(bars, firsts):
            ax.annotate(f"first out after {first}", (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.35)
    ax.set_xticks(range(len(STREAMS)))
    ax.set_xticklabels([LABELS[s] for s in STREAMS])
    ax.set_ylabel("decode() to output, p50 (ms)")
    ax.set_title("Headless Chromium (Linux, software H.264): decode delay by SPS")
    ax.legend(loc="upper center", ncol=2)
    fig.tight_layout()
    fig.savefig(f"{sys.argv[1]}/sps-delay.png", dpi=100)


if __name__ == "__main__":
    main()
