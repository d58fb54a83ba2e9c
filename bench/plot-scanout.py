#!/usr/bin/python3
"""Plot bench/results/scanout.csv into bench/results/scanout.png: the
input-to-photon latency of each run and picture path, sorted (a CDF).

Usage: plot-scanout.py RESULTS_DIR
"""
import sys

from plotlib import latency_cdf, plt, read

STYLE = {("scanout", "host-side"): ("#3b7dd8", "-"),
         ("scanout", "in-guest-scanout"): ("#d8843b", "-"),
         ("x264enc", "host-side"): ("#3b7dd8", ":"),
         ("x264enc", "in-guest-x264enc"): ("#2aa876", "-")}


def main():
    rows = read(f"{sys.argv[1]}/scanout.csv")
    for r in rows:
        r["run"] = f"run {r['run']}"
    fig, ax = plt.subplots(figsize=(9, 5))
    latency_cdf(ax, rows, {(f"run {run}", path): st for (run, path), st in STYLE.items()})
    ax.set_xlabel("key pressed in Chromium to the new picture drawn (ms, host clock, log scale)")
    ax.set_title("Input-to-photon, TCG guest at 1280x720 (bench/run-scanout)")
    fig.tight_layout()
    fig.savefig(f"{sys.argv[1]}/scanout.png", dpi=100)


if __name__ == "__main__":
    main()
