#!/usr/bin/python3
"""Plot bench/results/scanout.csv into bench/results/scanout.png: the
input-to-photon latency of each run and picture path, sorted (a CDF).

Usage: plot-scanout.py RESULTS_DIR
"""
import sys

from percentile import percentile
from plotlib import num, plt, read

STYLE = {("scanout", "host-side"): ("#3b7dd8", "-"),
         ("scanout", "in-guest-scanout"): ("#d8843b", "-"),
         ("x264enc", "host-side"): ("#3b7dd8", ":"),
         ("x264enc", "in-guest-x264enc"): ("#2aa876", "-")}


def main():
    rows = read(f"{sys.argv[1]}/scanout.csv")
    fig, ax = plt.subplots(figsize=(9, 5))
    for key in sorted({(r["run"], r["path"]) for r in rows}):
        v = sorted(x for x in (num(r["ms"]) for r in rows if (r["run"], r["path"]) == key)
                   if x is not None)
        if not v:
            continue
        color, ls = STYLE.get(key, ("#888888", "-"))
        ax.step(v, [(i + 1) / len(v) for i in range(len(v))], where="post", color=color,
                linestyle=ls, label=f"run {key[0]}: {key[1]} (p50 {percentile(v, 50):.0f} ms, "
                f"p99 {percentile(v, 99):.0f} ms)")
    ax.axvline(40, color="#999999", linestyle=":", linewidth=0.8)
    ax.axvline(80, color="#999999", linestyle="--", linewidth=0.8)
    ax.text(40, 0.02, " target p50", fontsize=8, color="#666666")
    ax.text(80, 0.02, " target p99", fontsize=8, color="#666666")
    ax.set_xscale("log")
    ax.set_xlabel("key pressed in Chromium to the new picture drawn (ms, host clock, log scale)")
    ax.set_ylabel("fraction of key presses")
    ax.set_title("Input-to-photon, TCG guest at 1280x720 (bench/run-scanout)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(f"{sys.argv[1]}/scanout.png", dpi=100)


if __name__ == "__main__":
    main()
