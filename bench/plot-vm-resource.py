#!/usr/bin/python3
"""Plot bench/results/vm-resource.csv into bench/results/vm-resource.png:
frames per second of each case at each size, in the TCG guest.

Usage: plot-vm-resource.py RESULTS_DIR
"""
import sys

from plotlib import num, plt, read

COLORS = {"source": "#bbbbbb", "x264enc": "#d8843b", "inline": "#9cc0f0", "resource": "#3b7dd8"}


def main():
    rows = read(f"{sys.argv[1]}/vm-resource.csv")
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    cases = list(dict.fromkeys(r["case"] for r in rows))
    labels = {r["case"]: r["label"] for r in rows}
    fig, ax = plt.subplots(figsize=(9, 4.8))
    width = 0.8 / len(cases)
    for i, case in enumerate(cases):
        xs, ys = [], []
        for j, size in enumerate(sizes):
            r = next(r for r in rows if r["size"] == size and r["case"] == case)
            v = num(r["fps_median"])
            if v is None:
                continue
            xs.append(j + (i - (len(cases) - 1) / 2) * width)
            ys.append(v)
            ratio = num(r["ratio_to_x264enc"])
            ax.text(xs[-1], v, f"{v:.0f}" + (f"\n{ratio:.1f}x" if ratio and case != "x264enc"
                                              else ""), ha="center", va="bottom", fontsize=8)
        ax.bar(xs, ys, width, color=COLORS.get(case, "#888888"), label=labels[case])
    ax.axhline(60, color="#999999", linestyle="--", linewidth=0.8)
    ax.text(-0.45, 60, "target (d): 60 fps at 1920x1080", fontsize=8, ha="left",
            va="bottom", color="#666666")
    ax.set_ylim(0, 80)
    ax.set_xticks(range(len(sizes)), sizes)
    ax.set_ylabel("frames per second in the guest (median of rounds)")
    ax.set_title("TCG guest, videotestsrc BGRx: encoding in the guest vs through QEMU's chardev")
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(f"{sys.argv[1]}/vm-resource.png", dpi=100)


if __name__ == "__main__":
    main()
