#!/usr/bin/python3
"""Plot bench/results/host-throughput.csv and host-sessions.csv into one PNG.

Usage: plot-host-throughput.py RESULTS_DIR
"""
import sys

from plotlib import plt, read


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench/results"
    thr = read(f"{out}/host-throughput.csv")
    ses = read(f"{out}/host-sessions.csv")

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))

    ax = axes[0]
    names = [r["case"] for r in thr]
    ratios = [float(r["ratio_to_direct"]) for r in thr]
    bars = ax.bar(names, ratios, color=["#888888", "#3b7dd8", "#2aa876"])
    ax.axhline(0.95, color="#2aa876", ls="--", lw=1, label="SHM target 0.95")
    ax.axhline(0.90, color="#3b7dd8", ls=":", lw=1, label="INLINE target 0.90")
    for b, r in zip(bars, thr):
        ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 0.01,
                f'{float(r["fps"]):.0f} fps', ha="center", fontsize=9)
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("fps relative to libavcodec direct")
    ax.set_title("1920x1080 NV12, libx264 ultrafast zerolatency,\n"
                 f'encoder threads {thr[0].get("encoder_threads", "?")} in every case')
    ax.legend(loc="lower right", fontsize=8)

    ax = axes[1]
    hfx = [r for r in thr if r["case"] != "direct"]
    x = range(len(hfx))
    p50 = [float(r["beyond_encode_p50_ms"]) for r in hfx]
    p99 = [float(r["beyond_encode_p99_ms"]) for r in hfx]
    ax.bar([i - 0.2 for i in x], p50, width=0.4, label="p50")
    ax.bar([i + 0.2 for i in x], p99, width=0.4, label="p99")
    ax.axhline(1.0, color="k", ls="--", lw=1, label="target p50 <= 1 ms (SHM)")
    ax.set_xticks(list(x))
    ax.set_xticklabels([r["case"] for r in hfx])
    ax.set_ylabel("round trip beyond encode time (ms)")
    ax.set_title("Per-frame cost of going through hfxd")
    ax.legend(fontsize=8)

    ax = axes[2]
    s720 = [r for r in ses if r["size"] == "1280x720"]
    ax.plot([int(r["sessions"]) for r in s720], [float(r["aggregate_fps"]) for r in s720],
            marker="o")
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 2, 4, 8])
    ax.set_xticklabels(["1", "2", "4", "8"])
    ax.set_xlabel("concurrent sessions")
    ax.set_ylabel("aggregate fps")
    rss = [r for r in ses if r["hfxd_peak_rss_mb"]]
    title = "1280x720 sessions on 2 cores"
    if rss:
        title += f'\nhfxd peak RSS, 4x1080p: {float(rss[0]["hfxd_peak_rss_mb"]):.0f} MB'
    ax.set_title(title)

    fig.tight_layout()
    fig.savefig(f"{out}/host-throughput.png", dpi=100)


if __name__ == "__main__":
    main()
