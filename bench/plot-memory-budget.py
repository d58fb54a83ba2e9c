#!/usr/bin/python3
"""Plot bench/results/memory-budget.csv: measured memory per stream against
the --max-memory estimate."""
import os
import sys

import plotlib
from plotlib import plt


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    rows = plotlib.read(os.path.join(out, "memory-budget.csv"))
    labels = [f"{r['size']}\n{r['format']}" for r in rows]
    measured = [plotlib.num(r["stream_mib"]) for r in rows]
    estimate = [plotlib.num(r["estimate_mib"]) for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar([i - 0.2 for i in x], measured, 0.4, label="hfxd peak RSS above idle (measured)")
    ax.bar([i + 0.2 for i in x], estimate, 0.4, label="estimate checked against --max-memory")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("MiB per stream")
    ax.set_title("One libx264 stream in hfxd (INLINE, window 4, test pattern)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "memory-budget.png"), dpi=100)


if __name__ == "__main__":
    main()
