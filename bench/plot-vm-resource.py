#!/usr/bin/python3
"""Plot bench/results/vm-resource.csv into bench/results/vm-resource.png:
frames per second of each case at each size, in the TCG guest, and under
each bar the guest's vCPU time per frame (host CPU of QEMU's vCPU threads
over the frames: what one frame costs the guest).

Usage: plot-vm-resource.py RESULTS_DIR
"""
import sys

from plotlib import num, plt, read

COLORS = {"source": "#bbbbbb", "x264enc": "#d8843b", "inline": "#9cc0f0", "resource": "#3b7dd8",
          "drawn": "#6fb36f", "predrawn": "#2e7d32"}


def main():
    rows = read(f"{sys.argv[1]}/vm-resource.csv")
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    cases = list(dict.fromkeys(r["case"] for r in rows))
    labels = {r["case"]: r["label"] for r in rows}
    fig, ax = plt.subplots(figsize=(10, 5.4))
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
            ms = num(r.get("vcpu_ms_per_frame"))
            if ms is not None:
                ax.text(xs[-1], 1, f"{ms:.0f}", ha="center", va="bottom", fontsize=7,
                        color="white" if case in ("resource", "predrawn", "x264enc") else "black")
        ax.bar(xs, ys, width, color=COLORS.get(case, "#888888"), label=labels[case])
    ax.axhline(60, color="#999999", linestyle="--", linewidth=0.8)
    ax.text(-0.45, 60, "target (d): 60 fps at 1920x1080", fontsize=8, ha="left",
            va="bottom", color="#666666")
    top = max(num(r["fps_median"]) or 0 for r in rows)
    ax.set_ylim(0, top * 1.45)
    ax.set_xticks(range(len(sizes)), sizes)
    ax.set_ylabel("frames per second in the guest (median of rounds)")
    ax.set_xlabel("figure in each bar's foot: the guest's vCPU ms per frame")
    ax.set_title("TCG guest, videotestsrc BGRx: encoding in the guest vs through QEMU's chardev")
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(f"{sys.argv[1]}/vm-resource.png", dpi=100)


if __name__ == "__main__":
    main()
